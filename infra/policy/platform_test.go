package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func goodRepo(name string) map[string]any {
	return m{"name": name, "imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": m{"scanOnPush": true},
		"encryptionConfigurations": []any{m{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:1:key/k"}}}
}

func TestECRRules(t *testing.T) {
	for id, bad := range map[string]func(m){
		"ecr-immutable-tags": func(in m) { in["imageTagMutability"] = "MUTABLE" },
		"ecr-scan-on-push":   func(in m) { in["imageScanningConfiguration"] = m{"scanOnPush": false} },
		"ecr-kms-encryption": func(in m) { in["encryptionConfigurations"] = []any{m{"encryptionType": "AES256"}} },
	} {
		t.Run(id, func(t *testing.T) {
			ru := rule(t, id)
			ok := r(tokECRRepository, "images-api", goodRepo("cdx/api"))
			assert.Empty(t, ru.Check(&Plan{Resources: []mocks.Resource{ok}}), "a compliant repository passes")
			in := goodRepo("cdx/risk")
			bad(in)
			broken := r(tokECRRepository, "images-risk", in)
			got := ru.Check(&Plan{Resources: []mocks.Resource{ok, broken}})
			require.Len(t, got, 1)
			assert.Equal(t, broken.URN, got[0].Resource)
		})
	}
	// No encryption configuration at all is AES256 by default: a violation.
	in := goodRepo("cdx/x")
	delete(in, "encryptionConfigurations")
	assert.Len(t, rule(t, "ecr-kms-encryption").Check(&Plan{Resources: []mocks.Resource{r(tokECRRepository, "x", in)}}), 1)
}

func wafRule(name string, priority float64, group string, counting bool) map[string]any {
	rule := m{"name": name, "priority": priority, "statement": m{"managedRuleGroupStatement": m{"name": group, "vendorName": "AWS"}}}
	if counting {
		rule["overrideAction"] = m{"count": m{}}
	} else {
		rule["overrideAction"] = m{"none": m{}}
	}
	return rule
}

func acl(rules ...any) mocks.Resource {
	return r(tokWebACL, "api-waf", m{"scope": "REGIONAL", "rules": rules})
}

func TestWebACLNeedsTheManagedRuleGroupsAndARateRule(t *testing.T) {
	rate := m{"name": "rate", "priority": 40.0, "action": m{"block": m{}}, "statement": m{"rateBasedStatement": m{"limit": 2000.0, "aggregateKeyType": "IP"}}}
	groups := RequiredRuleGroups()
	all := []any{wafRule("a", 10, groups[0], false), wafRule("b", 20, groups[1], false), wafRule("c", 30, groups[2], false), rate}
	assert.Empty(t, checkWebACLRules(&Plan{Resources: []mocks.Resource{acl(all...)}}))

	got := checkWebACLRules(&Plan{Resources: []mocks.Resource{acl(all[0], all[2], rate)}})
	require.Len(t, got, 1, "known bad inputs missing")
	assert.Contains(t, got[0].Message, "AWSManagedRulesKnownBadInputsRuleSet")

	got = checkWebACLRules(&Plan{Resources: []mocks.Resource{acl(all[0], all[1], wafRule("c", 30, groups[2], true), rate)}})
	require.Len(t, got, 1, "IP reputation only counting")
	assert.Contains(t, got[0].Message, "AWSManagedRulesAmazonIpReputationList is missing or only counts")

	got = checkWebACLRules(&Plan{Resources: []mocks.Resource{acl(all[:3]...)}})
	require.Len(t, got, 1, "no rate rule")
	assert.Contains(t, got[0].Message, "rate-based")
}

func TestWebACLNeedsLogging(t *testing.T) {
	a := acl()
	logging := r(tokWebACLLogging, "api-waf-logs", m{"resourceArn": mocks.ARN(tokWebACL, "api-waf"), "logDestinationConfigs": []any{"arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-x"}})
	assert.Empty(t, checkWebACLLogging(&Plan{Resources: []mocks.Resource{a, logging}}))
	other := r(tokWebACLLogging, "other", m{"resourceArn": mocks.ARN(tokWebACL, "other"), "logDestinationConfigs": []any{"x"}})
	got := checkWebACLLogging(&Plan{Resources: []mocks.Resource{a, other}})
	require.Len(t, got, 1)
	assert.Equal(t, a.URN, got[0].Resource)
}

func irsaRole(name, trust string) mocks.Resource {
	return r(tokRole, name, m{"assumeRolePolicy": trust})
}

func trust(test, sub string) string {
	cond := `"` + test + `":{"oidc.eks/id/X:sub":` + sub + `},"StringEquals":{"oidc.eks/id/X:aud":"sts.amazonaws.com"}`
	if test == "StringEquals" {
		cond = `"StringEquals":{"oidc.eks/id/X:sub":` + sub + `,"oidc.eks/id/X:aud":"sts.amazonaws.com"}`
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/oidc.eks/id/X"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{` + cond + `}}]}`
}

func TestIRSARolesTrustOneServiceAccountEach(t *testing.T) {
	api := irsaRole("api", trust("StringEquals", `"system:serviceaccount:cantondex:api-gateway"`))
	risk := irsaRole("risk", trust("StringEquals", `"system:serviceaccount:cantondex:risk-management"`))
	node := irsaRole("node", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	assert.Empty(t, checkIRSATrust(&Plan{Resources: []mocks.Resource{api, risk, node}}))

	for name, bad := range map[string]mocks.Resource{
		"wildcard":            irsaRole("wild", trust("StringLike", `"system:serviceaccount:cantondex:*"`)),
		"two accounts":        irsaRole("two", trust("StringEquals", `["system:serviceaccount:cantondex:a","system:serviceaccount:cantondex:b"]`)),
		"star in equals":      irsaRole("star", trust("StringEquals", `"system:serviceaccount:cantondex:*"`)),
		"shares api's":        irsaRole("again", trust("StringEquals", `"system:serviceaccount:cantondex:api-gateway"`)),
		"no sub":              irsaRole("nosub", `{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/o"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`),
		"aud missing (array)": irsaRole("noaud", `{"Statement":[{"Principal":{"Federated":["arn:aws:iam::1:oidc-provider/o"]},"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"o:sub":"system:serviceaccount:x:y"}}}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			got := checkIRSATrust(&Plan{Resources: []mocks.Resource{api, risk, node, bad}})
			require.NotEmpty(t, got)
			assert.Equal(t, bad.URN, got[0].Resource)
		})
	}
}

func TestPlatformRulesAreRegistered(t *testing.T) {
	ids := map[string]string{}
	for _, ru := range Rules() {
		ids[ru.ID] = ru.Mirrors
	}
	for id, mirrors := range map[string]string{"ecr-immutable-tags": "CKV_AWS_51", "ecr-scan-on-push": "CKV_AWS_163", "ecr-kms-encryption": "CKV_AWS_136",
		"waf-managed-rule-sets": "CKV_AWS_192", "waf-logging": "CKV2_AWS_31", "irsa-own-service-account": "platform rule"} {
		assert.Equal(t, mirrors, ids[id], id)
	}
}
