package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

const (
	tokECRRepository  = "aws:ecr/repository:Repository"
	tokWebACL         = "aws:wafv2/webAcl:WebAcl"
	tokWebACLLogging  = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
	tokRole           = "aws:iam/role:Role"
	irsaAssumeAction  = "sts:AssumeRoleWithWebIdentity"
	serviceAccountSub = "system:serviceaccount:"
)

// RequiredRuleGroups are the AWS managed rule groups every web ACL must run (not in count mode).
func RequiredRuleGroups() []string {
	return []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"}
}

// platformRules are the rules on the registry, the edge and the service accounts' roles.
func platformRules() []Rule {
	return []Rule{
		{ID: "ecr-immutable-tags", Mirrors: "CKV_AWS_51", Summary: "ECR repositories have immutable tags", Check: checkECR(func(r mocks.Resource) string {
			if r.String("imageTagMutability") != "IMMUTABLE" {
				return fmt.Sprintf("imageTagMutability is %q, want IMMUTABLE", r.String("imageTagMutability"))
			}
			return ""
		})},
		{ID: "ecr-scan-on-push", Mirrors: "CKV_AWS_163", Summary: "ECR repositories scan images on push", Check: checkECR(func(r mocks.Resource) string {
			if !r.Bool("imageScanningConfiguration.scanOnPush") {
				return "imageScanningConfiguration.scanOnPush is off"
			}
			return ""
		})},
		{ID: "ecr-kms-encryption", Mirrors: "CKV_AWS_136", Summary: "ECR repositories are encrypted with a KMS key", Check: checkECR(func(r mocks.Resource) string {
			v, _ := r.Input("encryptionConfigurations")
			list, _ := v.([]any)
			for _, e := range list {
				c, _ := e.(map[string]any)
				if key, _ := c["kmsKey"].(string); c["encryptionType"] == "KMS" && key != "" {
					return ""
				}
			}
			return "no encryptionConfigurations entry with encryptionType KMS and a kmsKey"
		})},
		{ID: "waf-managed-rule-sets", Mirrors: "CKV_AWS_192", Summary: "web ACLs run the AWS common, known-bad-inputs (Log4j) and IP reputation rule groups, blocking, and a rate-based rule",
			Check: checkWebACLRules},
		{ID: "waf-logging", Mirrors: "CKV2_AWS_31", Summary: "web ACLs have a logging configuration", Check: checkWebACLLogging},
		{ID: "irsa-own-service-account", Mirrors: "platform rule", Summary: "a role assumable through the cluster's OIDC provider trusts exactly one service account (StringEquals on sub and aud), and no two roles trust the same one",
			Check: checkIRSATrust},
	}
}

// checkECR applies one check to every repository; problem returns "" when it passes.
func checkECR(problem func(mocks.Resource) string) func(p *Plan) []Finding {
	return func(p *Plan) []Finding {
		var out []Finding
		for _, r := range p.OfType(tokECRRepository) {
			if msg := problem(r); msg != "" {
				out = append(out, Finding{Resource: r.URN, Message: msg})
			}
		}
		return out
	}
}

func checkWebACLRules(p *Plan) []Finding {
	var out []Finding
	for _, acl := range p.OfType(tokWebACL) {
		v, _ := acl.Input("rules")
		rules, _ := v.([]any)
		blocking, rate := map[string]bool{}, false
		for _, e := range rules {
			rule := mocks.Resource{Inputs: asMap(e)}
			if g := rule.String("statement.managedRuleGroupStatement.name"); g != "" && rule.String("statement.managedRuleGroupStatement.vendorName") == "AWS" {
				_, counting := rule.Input("overrideAction.count")
				blocking[g] = blocking[g] || !counting
			}
			if rule.Number("statement.rateBasedStatement.limit") > 0 {
				_, blocks := rule.Input("action.block")
				rate = rate || blocks
			}
		}
		for _, g := range RequiredRuleGroups() {
			if !blocking[g] {
				out = append(out, Finding{Resource: acl.URN, Message: "the managed rule group " + g + " is missing or only counts"})
			}
		}
		if !rate {
			out = append(out, Finding{Resource: acl.URN, Message: "no blocking rate-based rule"})
		}
	}
	return out
}

func checkWebACLLogging(p *Plan) []Finding {
	logged := map[string]bool{}
	for _, l := range p.OfType(tokWebACLLogging) {
		if len(l.Strings("logDestinationConfigs")) > 0 {
			logged[l.String("resourceArn")] = true
		}
	}
	var out []Finding
	for _, acl := range p.OfType(tokWebACL) {
		if !logged[mocks.ARN(acl.Type, acl.Name)] {
			out = append(out, Finding{Resource: acl.URN, Message: "no logging configuration names this web ACL"})
		}
	}
	return out
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// trustStatement is the part of a trust policy statement the IRSA rule reads.
type trustStatement struct {
	Effect    string
	Principal map[string]any
	Action    any
	Condition map[string]map[string]any
}

func checkIRSATrust(p *Plan) []Finding {
	var out []Finding
	owner := map[string]string{} // service account -> the role trusting it
	for _, role := range p.OfType(tokRole) {
		var doc struct{ Statement []trustStatement }
		if err := json.Unmarshal([]byte(role.String("assumeRolePolicy")), &doc); err != nil {
			continue // not rendered (unknown under the plan): nothing to judge
		}
		for _, st := range doc.Statement {
			federated := jsonStrings(st.Principal["Federated"])
			if !slices.Contains(jsonStrings(st.Action), irsaAssumeAction) || !slices.ContainsFunc(federated, func(a string) bool { return strings.Contains(a, ":oidc-provider/") }) {
				continue
			}
			var subs, auds []string
			for test, vars := range st.Condition {
				for variable, values := range vars {
					switch {
					case strings.HasSuffix(variable, ":sub") && test == "StringEquals":
						subs = append(subs, jsonStrings(values)...)
					case strings.HasSuffix(variable, ":sub"):
						out = append(out, Finding{Resource: role.URN, Message: fmt.Sprintf("the sub condition uses %s; only StringEquals names one service account", test)})
					case strings.HasSuffix(variable, ":aud") && test == "StringEquals":
						auds = append(auds, jsonStrings(values)...)
					}
				}
			}
			switch {
			case len(subs) != 1 || !strings.HasPrefix(subs[0], serviceAccountSub) || strings.ContainsAny(subs[0], "*?"):
				out = append(out, Finding{Resource: role.URN, Message: fmt.Sprintf("trusts %v: want exactly one system:serviceaccount:<namespace>:<name>", subs)})
			case !slices.Equal(auds, []string{"sts.amazonaws.com"}):
				out = append(out, Finding{Resource: role.URN, Message: fmt.Sprintf("aud condition %v: want StringEquals sts.amazonaws.com", auds)})
			case owner[subs[0]] != "":
				out = append(out, Finding{Resource: role.URN, Message: subs[0] + " is already trusted by " + owner[subs[0]] + ": one role per service account"})
			default:
				owner[subs[0]] = role.URN
			}
		}
	}
	return out
}
