// Package security holds the platform's security groups: one per role (ALB, EKS nodes, EKS
// control plane, RDS, RDS Proxy, Redis, MSK), with rules as separate resources that reference
// other groups rather than CIDR blocks, each with a description. Only the ALB accepts traffic
// from the internet, and only on 80 and 443.
package security

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Group names a security group of the platform.
type Group string

const (
	ALB          Group = "alb"
	Nodes        Group = "nodes"
	ControlPlane Group = "control-plane"
	RDS          Group = "rds"
	RDSProxy     Group = "rds-proxy"
	Redis        Group = "redis"
	MSK          Group = "msk"
)

// MSKIAMPort is the port MSK brokers serve SASL/IAM clients on, over TLS: the only one the MSK
// group opens, the cluster accepting no other client authentication.
const MSKIAMPort = 9098

// RoleTag is the tag naming a group's role ("alb", "rds", ...), which policy checks read.
const RoleTag = "cantondex.io/security-group"

// DefaultGroups lists every group, in creation order: SecurityArgs.Groups when nil.
func DefaultGroups() []Group { return []Group{ALB, Nodes, ControlPlane, RDS, RDSProxy, Redis, MSK} }

var groupDescriptions = map[Group]string{
	ALB:          "Application load balancer: HTTP and HTTPS from the internet",
	Nodes:        "EKS worker nodes and pods",
	ControlPlane: "EKS control plane (additional cluster security group)",
	RDS:          "RDS PostgreSQL: 5432 from nodes and RDS Proxy only",
	RDSProxy:     "RDS Proxy: 5432 from nodes",
	Redis:        "ElastiCache Redis: 6379 from nodes",
	MSK:          "MSK brokers: Kafka SASL/IAM (9098) from nodes; ZooKeeper is not exposed",
}

// Rule is one ingress or egress rule of a group. Exactly one of Peer and CIDR is set.
type Rule struct {
	Name        string
	Group       Group
	Egress      bool
	Protocol    string // "tcp", "udp" or "-1" (all)
	FromPort    int
	ToPort      int
	Peer        Group
	Self        bool // Peer is the group itself
	CIDR        string
	Description string
}

// DefaultRules are the platform's flows: SecurityArgs.Rules when nil.
func DefaultRules() []Rule {
	return []Rule{
		{Name: "alb-http", Group: ALB, Protocol: "tcp", FromPort: 80, ToPort: 80, CIDR: "0.0.0.0/0", Description: "HTTP from the internet (redirected to HTTPS)"},
		{Name: "alb-https", Group: ALB, Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0", Description: "HTTPS from the internet"},
		{Name: "alb-to-nodes", Group: ALB, Egress: true, Protocol: "tcp", FromPort: 1024, ToPort: 65535, Peer: Nodes, Description: "ALB to pod and NodePort targets"},

		{Name: "nodes-self", Group: Nodes, Protocol: "-1", Self: true, Description: "Node to node: pod networking, CoreDNS, Prometheus scrape"},
		{Name: "nodes-from-alb", Group: Nodes, Protocol: "tcp", FromPort: 1024, ToPort: 65535, Peer: ALB, Description: "Targets of the ALB"},
		{Name: "nodes-kubelet", Group: Nodes, Protocol: "tcp", FromPort: 10250, ToPort: 10250, Peer: ControlPlane, Description: "Kubelet API from the control plane"},
		{Name: "nodes-webhooks", Group: Nodes, Protocol: "tcp", FromPort: 443, ToPort: 443, Peer: ControlPlane, Description: "Admission webhooks from the control plane"},
		{Name: "nodes-extensions", Group: Nodes, Protocol: "tcp", FromPort: 1025, ToPort: 65535, Peer: ControlPlane, Description: "Extension API servers and metrics-server from the control plane"},
		{Name: "nodes-egress", Group: Nodes, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0", Description: "Egress through the NAT gateways and VPC endpoints"},

		{Name: "control-plane-api", Group: ControlPlane, Protocol: "tcp", FromPort: 443, ToPort: 443, Peer: Nodes, Description: "Kubernetes API from nodes"},
		{Name: "control-plane-to-nodes", Group: ControlPlane, Egress: true, Protocol: "tcp", FromPort: 443, ToPort: 65535, Peer: Nodes, Description: "Control plane to kubelets, webhooks and extension API servers"},

		{Name: "rds-from-nodes", Group: RDS, Protocol: "tcp", FromPort: 5432, ToPort: 5432, Peer: Nodes, Description: "PostgreSQL from workloads"},
		{Name: "rds-from-proxy", Group: RDS, Protocol: "tcp", FromPort: 5432, ToPort: 5432, Peer: RDSProxy, Description: "PostgreSQL from RDS Proxy"},

		{Name: "rds-proxy-from-nodes", Group: RDSProxy, Protocol: "tcp", FromPort: 5432, ToPort: 5432, Peer: Nodes, Description: "PostgreSQL from workloads through the proxy"},
		{Name: "rds-proxy-to-rds", Group: RDSProxy, Egress: true, Protocol: "tcp", FromPort: 5432, ToPort: 5432, Peer: RDS, Description: "Proxy to the database"},

		{Name: "redis-from-nodes", Group: Redis, Protocol: "tcp", FromPort: 6379, ToPort: 6379, Peer: Nodes, Description: "Redis (TLS) from workloads"},

		// The brokers listen for clients only with SASL/IAM over TLS (9098): no 9092 (plaintext),
		// 9094 (mutual TLS) or 9096 (SCRAM) listener exists, so none is opened.
		{Name: "msk-iam", Group: MSK, Protocol: "tcp", FromPort: MSKIAMPort, ToPort: MSKIAMPort, Peer: Nodes, Description: "Kafka SASL/IAM over TLS from workloads"},
	}
}

// Security is the platform's security groups.
type Security struct {
	pulumi.ResourceState

	// ControlPlane is handed to the EKS cluster as its additional security group.
	ControlPlaneGroup *ec2.SecurityGroup

	ALBID          pulumi.StringOutput `pulumi:"albSecurityGroupId"`
	NodesID        pulumi.StringOutput `pulumi:"nodeSecurityGroupId"`
	ControlPlaneID pulumi.StringOutput `pulumi:"controlPlaneSecurityGroupId"`
	RDSID          pulumi.StringOutput `pulumi:"rdsSecurityGroupId"`
	RDSProxyID     pulumi.StringOutput `pulumi:"rdsProxySecurityGroupId"`
	RedisID        pulumi.StringOutput `pulumi:"redisSecurityGroupId"`
	MSKID          pulumi.StringOutput `pulumi:"mskSecurityGroupId"`
}

// SecurityArgs configures Security.
type SecurityArgs struct {
	VpcID pulumi.StringInput
	// Groups to create (nil: DefaultGroups); a prepared DR network needs only RDS.
	Groups []Group
	// Rules between the groups (nil: DefaultRules). Rules of a group, or towards a peer, that
	// is not created are left out.
	Rules []Rule
	Tags  map[string]string
}

// groups are a.Groups, or the defaults when nil.
func (a SecurityArgs) groups() []Group {
	if a.Groups == nil {
		return DefaultGroups()
	}
	return a.Groups
}

// rules are a.Rules, or the defaults when nil.
func (a SecurityArgs) rules() []Rule {
	if a.Rules == nil {
		return DefaultRules()
	}
	return a.Rules
}

func (a SecurityArgs) validate() error {
	var errs []error
	if a.VpcID == nil {
		errs = append(errs, errors.New("VpcID is required"))
	}
	if a.Groups != nil && len(a.Groups) == 0 {
		errs = append(errs, errors.New("groups: empty; leave it nil for every group"))
	}
	created := map[Group]bool{}
	for _, g := range a.groups() {
		if groupDescriptions[g] == "" {
			errs = append(errs, fmt.Errorf("groups: unknown group %q", g))
		}
		created[g] = true
	}
	names := map[string]bool{}
	for _, r := range a.rules() {
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("rules: rule %s is listed twice", r.Name))
		}
		names[r.Name] = true
		if !created[r.Group] {
			continue
		}
		switch {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("rules: a rule of %s has no name", r.Group))
		case r.Description == "":
			errs = append(errs, fmt.Errorf("rules: rule %s has no description", r.Name))
		case r.Peer != "" && groupDescriptions[r.Peer] == "":
			errs = append(errs, fmt.Errorf("rules: rule %s names unknown peer group %q", r.Name, r.Peer))
		case (r.CIDR != "") == (r.Peer != "" || r.Self):
			errs = append(errs, fmt.Errorf("rules: rule %s needs exactly one of a peer group or a CIDR", r.Name))
		case r.CIDR == "0.0.0.0/0" && !r.Egress && !(r.Group == ALB && (r.FromPort == 80 || r.FromPort == 443) && r.FromPort == r.ToPort):
			errs = append(errs, fmt.Errorf("rules: rule %s opens %s to the internet; only the ALB's 80 and 443 may", r.Name, r.Group))
		case r.Group == MSK && !r.Egress && (r.Protocol != "tcp" || r.FromPort != MSKIAMPort || r.ToPort != MSKIAMPort):
			errs = append(errs, fmt.Errorf("rules: rule %s opens MSK on %s %d-%d; the brokers take clients only on tcp %d (SASL/IAM)", r.Name, r.Protocol, r.FromPort, r.ToPort, MSKIAMPort))
		}
	}
	return errors.Join(errs...)
}

// NewSecurity creates the groups and the rules between them. Rules whose peer group is not
// created are left out.
func NewSecurity(ctx *pulumi.Context, name string, args SecurityArgs, opts ...pulumi.ResourceOption) (*Security, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("security %s: %w", name, err)
	}
	s := &Security{}
	if err := ctx.RegisterComponentResource("cantondex:security:Security", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	groups := map[Group]*ec2.SecurityGroup{}
	for _, g := range args.groups() {
		tags := pulumi.StringMap{"Name": pulumi.String(name + "-" + string(g)), RoleTag: pulumi.String(string(g))}
		for k, v := range args.Tags {
			tags[k] = pulumi.String(v)
		}
		sg, err := ec2.NewSecurityGroup(ctx, name+"-"+string(g), &ec2.SecurityGroupArgs{
			VpcId: args.VpcID, Description: pulumi.String(groupDescriptions[g]), Tags: tags,
			RevokeRulesOnDelete: pulumi.Bool(true),
		}, parent)
		if err != nil {
			return nil, err
		}
		groups[g] = sg
	}
	for _, r := range args.rules() {
		sg := groups[r.Group]
		if sg == nil || (r.Peer != "" && groups[r.Peer] == nil) {
			continue
		}
		var peer pulumi.StringPtrInput
		switch {
		case r.Self:
			peer = sg.ID()
		case r.Peer != "":
			peer = groups[r.Peer].ID()
		}
		var cidr pulumi.StringPtrInput
		if r.CIDR != "" {
			cidr = pulumi.String(r.CIDR)
		}
		var from, to pulumi.IntPtrInput
		if r.Protocol != "-1" {
			from, to = pulumi.Int(r.FromPort), pulumi.Int(r.ToPort)
		}
		var err error
		if r.Egress {
			_, err = vpc.NewSecurityGroupEgressRule(ctx, name+"-"+r.Name, &vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId: sg.ID(), Description: pulumi.String(r.Description), IpProtocol: pulumi.String(r.Protocol),
				FromPort: from, ToPort: to, ReferencedSecurityGroupId: peer, CidrIpv4: cidr,
			}, parent)
		} else {
			_, err = vpc.NewSecurityGroupIngressRule(ctx, name+"-"+r.Name, &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId: sg.ID(), Description: pulumi.String(r.Description), IpProtocol: pulumi.String(r.Protocol),
				FromPort: from, ToPort: to, ReferencedSecurityGroupId: peer, CidrIpv4: cidr,
			}, parent)
		}
		if err != nil {
			return nil, err
		}
	}
	id := func(g Group) pulumi.StringOutput {
		if sg := groups[g]; sg != nil {
			return sg.ID().ToStringOutput()
		}
		return pulumi.String("").ToStringOutput()
	}
	s.ControlPlaneGroup = groups[ControlPlane]
	s.ALBID, s.NodesID, s.ControlPlaneID = id(ALB), id(Nodes), id(ControlPlane)
	s.RDSID, s.RDSProxyID, s.RedisID, s.MSKID = id(RDS), id(RDSProxy), id(Redis), id(MSK)
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"albSecurityGroupId": s.ALBID, "nodeSecurityGroupId": s.NodesID, "controlPlaneSecurityGroupId": s.ControlPlaneID,
		"rdsSecurityGroupId": s.RDSID, "rdsProxySecurityGroupId": s.RDSProxyID, "redisSecurityGroupId": s.RedisID,
		"mskSecurityGroupId": s.MSKID,
	})
}
