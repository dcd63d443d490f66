package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

// Resource type tokens the foundation rules inspect.
const (
	tokVpc               = "aws:ec2/vpc:Vpc"
	tokFlowLog           = "aws:ec2/flowLog:FlowLog"
	tokDefaultSG         = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
	tokSubnet            = "aws:ec2/subnet:Subnet"
	tokSecurityGroup     = "aws:ec2/securityGroup:SecurityGroup"
	tokSecurityGroupRule = "aws:ec2/securityGroupRule:SecurityGroupRule"
	tokIngressRule       = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tokEgressRule        = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	tokEKSComponent      = "eks:index:Cluster"
	tokEKSCluster        = "aws:eks/cluster:Cluster"
	tokLaunchTemplate    = "aws:ec2/launchTemplate:LaunchTemplate"
	tokNodeGroup         = "aws:eks/nodeGroup:NodeGroup"
	tokManagedNodeGroup  = "eks:index:ManagedNodeGroup"
	tokInstance          = "aws:ec2/instance:Instance"
	tokKMSKey            = "aws:kms/key:Key"
	tokLogGroup          = "aws:cloudwatch/logGroup:LogGroup"
	securityGroupRoleTag = "cantondex.io/security-group"
	albRole              = "alb"
	world4, world6       = "0.0.0.0/0", "::/0"
)

// controlPlaneLogTypes are the EKS control-plane log types that must all be on.
var controlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// foundationRules are the network, security group, identity and cluster rules.
func foundationRules() []Rule {
	return []Rule{
		{ID: "vpc-flow-logs", Mirrors: "CKV2_AWS_11", Summary: "every VPC has flow logs", Check: checkFlowLogs},
		{ID: "vpc-default-sg-restricted", Mirrors: "CKV2_AWS_12", Summary: "every VPC's default security group has no rules", Check: checkDefaultSG},
		{ID: "subnet-no-public-ip", Mirrors: "CKV_AWS_130", Summary: "private and database subnets assign no public IPs", Check: checkSubnetPublicIP},
		{ID: "sg-ingress-world-only-alb-web", Mirrors: "CKV_AWS_260", Summary: "0.0.0.0/0 ingress only on the ALB's 80 and 443", Check: checkWorldIngress},
		{ID: "sg-rule-description", Mirrors: "CKV_AWS_23", Summary: "every security group rule has a description", Check: checkRuleDescriptions},
		{ID: "eks-secrets-encryption", Mirrors: "CKV_AWS_58", Summary: "EKS secrets are encrypted with a KMS key", Check: checkEKSSecrets},
		{ID: "eks-control-plane-logging", Mirrors: "CKV_AWS_37", Summary: "EKS logs every control-plane log type", Check: checkEKSLogging},
		{ID: "eks-endpoint-access", Mirrors: "CKV_AWS_39", Summary: "EKS private endpoint on; public endpoint off or not open to the world", Check: checkEKSEndpoint},
		{ID: "imdsv2-required", Mirrors: "CKV_AWS_79", Summary: "nodes require IMDSv2 tokens", Check: checkIMDSv2},
		{ID: "kms-key-rotation", Mirrors: "CKV_AWS_7", Summary: "KMS keys rotate", Check: checkKeyRotation},
		{ID: "log-group-encrypted", Mirrors: "CKV_AWS_158", Summary: "CloudWatch log groups are KMS-encrypted", Check: checkLogGroupKMS},
		{ID: "log-group-retention", Mirrors: "CKV_AWS_66", Summary: "CloudWatch log groups have a retention period", Check: checkLogGroupRetention},
		{ID: "iam-no-star-star", Mirrors: "CKV_AWS_62", Summary: `no IAM policy allows "*" actions on "*" resources`, Check: checkIAMStar},
	}
}

func checkFlowLogs(p *Plan) []Finding {
	logged := map[string]bool{}
	for _, f := range p.OfType(tokFlowLog) {
		logged[f.String("vpcId")] = true
	}
	var out []Finding
	for _, v := range p.OfType(tokVpc) {
		if !logged[v.ID] {
			out = append(out, Finding{v.URN, "no aws:ec2/flowLog:FlowLog for this VPC"})
		}
	}
	return out
}

func checkDefaultSG(p *Plan) []Finding {
	restricted := map[string]bool{}
	var out []Finding
	for _, d := range p.OfType(tokDefaultSG) {
		if hasRules(d, "ingress") || hasRules(d, "egress") {
			out = append(out, Finding{d.URN, "the default security group keeps rules; it must have none"})
			continue
		}
		restricted[d.String("vpcId")] = true
	}
	for _, v := range p.OfType(tokVpc) {
		if !restricted[v.ID] {
			out = append(out, Finding{v.URN, "the VPC's default security group is not taken over and emptied (aws:ec2/defaultSecurityGroup)"})
		}
	}
	return out
}

func hasRules(r mocks.Resource, path string) bool {
	v, ok := r.Input(path)
	if !ok {
		return false
	}
	list, isList := v.([]any)
	return !isList || len(list) > 0
}

func checkSubnetPublicIP(p *Plan) []Finding {
	var out []Finding
	for _, s := range p.OfType(tokSubnet) {
		if s.String("tags.tier") != "public" && s.Bool("mapPublicIpOnLaunch") {
			out = append(out, Finding{s.URN, fmt.Sprintf("%s subnet maps public IPs on launch", tierOf(s))})
		}
	}
	return out
}

func tierOf(s mocks.Resource) string {
	if t := s.String("tags.tier"); t != "" {
		return t
	}
	return "untiered"
}

// ingressRule is an ingress rule in any of the three shapes AWS resources give it.
type ingressRule struct {
	urn         string
	groupID     string
	cidrs       []string
	from, to    float64
	protocol    string
	description string
}

func ingressRules(p *Plan) []ingressRule {
	var out []ingressRule
	for _, r := range p.OfType(tokIngressRule) {
		var cidrs []string
		for _, k := range []string{"cidrIpv4", "cidrIpv6"} {
			if c := r.String(k); c != "" {
				cidrs = append(cidrs, c)
			}
		}
		out = append(out, ingressRule{r.URN, r.String("securityGroupId"), cidrs, r.Number("fromPort"), r.Number("toPort"), r.String("ipProtocol"), r.String("description")})
	}
	for _, r := range p.OfType(tokSecurityGroupRule) {
		if r.String("type") != "ingress" {
			continue
		}
		out = append(out, ingressRule{r.URN, r.String("securityGroupId"), append(r.Strings("cidrBlocks"), r.Strings("ipv6CidrBlocks")...),
			r.Number("fromPort"), r.Number("toPort"), r.String("protocol"), r.String("description")})
	}
	for _, sg := range p.OfType(tokSecurityGroup) {
		list, _ := sg.Input("ingress")
		rules, _ := list.([]any)
		for _, x := range rules {
			m, _ := x.(map[string]any)
			rr := mocks.Resource{Inputs: m}
			out = append(out, ingressRule{sg.URN, sg.ID, append(rr.Strings("cidrBlocks"), rr.Strings("ipv6CidrBlocks")...),
				rr.Number("fromPort"), rr.Number("toPort"), rr.String("protocol"), rr.String("description")})
		}
	}
	return out
}

func checkWorldIngress(p *Plan) []Finding {
	roles := map[string]string{}
	for _, sg := range p.OfType(tokSecurityGroup) {
		roles[sg.ID] = sg.Tag(securityGroupRoleTag)
	}
	var out []Finding
	for _, r := range ingressRules(p) {
		for _, c := range r.cidrs {
			if c != world4 && c != world6 {
				continue
			}
			web := r.from == r.to && (r.from == 80 || r.from == 443) && r.protocol == "tcp"
			if roles[r.groupID] != albRole || !web {
				out = append(out, Finding{r.urn, fmt.Sprintf("ingress from %s on %s %v-%v to a %q group; only the ALB's 80 and 443 may be open to the world",
					c, r.protocol, r.from, r.to, roles[r.groupID])})
			}
		}
	}
	return out
}

func checkRuleDescriptions(p *Plan) []Finding {
	var out []Finding
	for _, r := range ingressRules(p) {
		if strings.TrimSpace(r.description) == "" {
			out = append(out, Finding{r.urn, "ingress rule without a description"})
		}
	}
	for _, r := range p.OfType(tokEgressRule) {
		if strings.TrimSpace(r.String("description")) == "" {
			out = append(out, Finding{r.URN, "egress rule without a description"})
		}
	}
	return out
}

// eksClusters returns pulumi-eks clusters and directly declared aws eks clusters (not the ones
// pulumi-eks creates, which the mock registers under its component).
func eksClusters(p *Plan) (components, direct []mocks.Resource) {
	for _, r := range p.Resources {
		switch r.Type {
		case tokEKSComponent:
			components = append(components, r)
		case tokEKSCluster:
			if parent, ok := p.ByURN(r.Parent); ok && parent.Type == tokEKSComponent {
				continue
			}
			direct = append(direct, r)
		}
	}
	return components, direct
}

func checkEKSSecrets(p *Plan) []Finding {
	var out []Finding
	comps, direct := eksClusters(p)
	for _, c := range comps {
		if c.String("encryptionConfigKeyArn") == "" {
			out = append(out, Finding{c.URN, "encryptionConfigKeyArn is not set: Kubernetes secrets are not envelope-encrypted"})
		}
	}
	for _, c := range direct {
		if c.String("encryptionConfig.provider.keyArn") == "" || !listHas(c.Strings("encryptionConfig.resources"), "secrets") {
			out = append(out, Finding{c.URN, "encryptionConfig does not encrypt secrets with a KMS key"})
		}
	}
	return out
}

func checkEKSLogging(p *Plan) []Finding {
	var out []Finding
	comps, direct := eksClusters(p)
	check := func(r mocks.Resource, key string) {
		got := r.Strings(key)
		var missing []string
		for _, t := range controlPlaneLogTypes {
			if !listHas(got, t) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			out = append(out, Finding{r.URN, "control-plane logs off: " + strings.Join(missing, ", ")})
		}
	}
	for _, c := range comps {
		check(c, "enabledClusterLogTypes")
	}
	for _, c := range direct {
		check(c, "enabledClusterLogTypes")
	}
	return out
}

func checkEKSEndpoint(p *Plan) []Finding {
	var out []Finding
	check := func(r mocks.Resource, private, public, cidrs string, publicDefault bool) {
		if !r.Bool(private) {
			out = append(out, Finding{r.URN, "the private API endpoint is off"})
		}
		pub := publicDefault
		if _, set := r.Input(public); set {
			pub = r.Bool(public)
		}
		if !pub {
			return
		}
		list := r.Strings(cidrs)
		if len(list) == 0 {
			out = append(out, Finding{r.URN, "the public API endpoint is on with no CIDR restriction (open to the world)"})
		}
		for _, c := range list {
			if c == world4 || c == world6 {
				out = append(out, Finding{r.URN, "the public API endpoint is open to " + c})
			}
		}
	}
	comps, direct := eksClusters(p)
	for _, c := range comps {
		// pulumi-eks turns the public endpoint on unless told otherwise.
		check(c, "endpointPrivateAccess", "endpointPublicAccess", "publicAccessCidrs", true)
	}
	for _, c := range direct {
		check(c, "vpcConfig.endpointPrivateAccess", "vpcConfig.endpointPublicAccess", "vpcConfig.publicAccessCidrs", true)
	}
	return out
}

func checkIMDSv2(p *Plan) []Finding {
	var out []Finding
	templates := map[string]mocks.Resource{}
	for _, lt := range p.OfType(tokLaunchTemplate) {
		templates[lt.ID] = lt
		if lt.String("metadataOptions.httpTokens") != "required" {
			out = append(out, Finding{lt.URN, "metadataOptions.httpTokens is not \"required\""})
		}
	}
	for _, ng := range p.OfType(tokNodeGroup) {
		id := ng.String("launchTemplate.id")
		if _, ok := templates[id]; !ok {
			out = append(out, Finding{ng.URN, "no launch template of this plan: IMDSv2 is not enforced on its nodes"})
		}
	}
	for _, ng := range p.OfType(tokManagedNodeGroup) {
		if !ng.Bool("enableIMDSv2") && ng.String("launchTemplate.id") == "" {
			out = append(out, Finding{ng.URN, "enableIMDSv2 is off and no launch template enforces it"})
		}
	}
	for _, in := range p.OfType(tokInstance) {
		if in.String("metadataOptions.httpTokens") != "required" {
			out = append(out, Finding{in.URN, "metadataOptions.httpTokens is not \"required\""})
		}
	}
	return out
}

func checkKeyRotation(p *Plan) []Finding {
	var out []Finding
	for _, k := range p.OfType(tokKMSKey) {
		spec := k.String("customerMasterKeySpec")
		if spec == "" {
			spec = k.String("keySpec")
		}
		if (spec == "" || spec == "SYMMETRIC_DEFAULT") && !k.Bool("enableKeyRotation") {
			out = append(out, Finding{k.URN, "enableKeyRotation is off"})
		}
	}
	return out
}

func checkLogGroupKMS(p *Plan) []Finding {
	var out []Finding
	for _, g := range p.OfType(tokLogGroup) {
		if g.String("kmsKeyId") == "" {
			out = append(out, Finding{g.URN, "no kmsKeyId"})
		}
	}
	return out
}

func checkLogGroupRetention(p *Plan) []Finding {
	var out []Finding
	for _, g := range p.OfType(tokLogGroup) {
		if g.Number("retentionInDays") <= 0 {
			out = append(out, Finding{g.URN, "no retentionInDays: logs are kept forever"})
		}
	}
	return out
}

// IAM resources whose `policy` input is a permissions policy document.
var policyTypes = []string{
	"aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy",
}

func checkIAMStar(p *Plan) []Finding {
	var out []Finding
	for _, typ := range policyTypes {
		for _, r := range p.OfType(typ) {
			doc := r.String("policy")
			if doc == "" || doc == "[secret]" || doc == "[unknown]" {
				continue
			}
			if msg := starOnStar(doc); msg != "" {
				out = append(out, Finding{r.URN, msg})
			}
		}
	}
	return out
}

// starOnStar reports an Allow statement with Action "*" on Resource "*" in a policy document.
func starOnStar(doc string) string {
	var d struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return "policy is not a JSON document: " + err.Error()
	}
	var stmts []map[string]any
	if err := json.Unmarshal(d.Statement, &stmts); err != nil {
		var one map[string]any
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			return "policy Statement is neither an object nor a list"
		}
		stmts = []map[string]any{one}
	}
	for i, s := range stmts {
		if s["Effect"] != "Allow" {
			continue
		}
		if listHas(jsonStrings(s["Action"]), "*") && listHas(jsonStrings(s["Resource"]), "*") {
			return fmt.Sprintf(`statement %d allows "*" on "*"`, i)
		}
	}
	return ""
}

func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func listHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
