package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

// r makes a recorded resource; its id is name+"-id" as under the mock monitor.
func r(typ, name string, inputs map[string]any) mocks.Resource {
	return mocks.Resource{URN: "urn:" + typ + "::" + name, Type: typ, Name: name, ID: name + "-id", Custom: true, Inputs: inputs}
}

func rule(t *testing.T, id string) Rule {
	t.Helper()
	for _, ru := range Rules() {
		if ru.ID == id {
			return ru
		}
	}
	require.FailNowf(t, "no such rule", "no rule %s", id)
	return Rule{}
}

type m = map[string]any

// ruleCase is a plan that must pass and a change that must make it fail, naming the resource.
type ruleCase struct {
	rule     string
	pass     []mocks.Resource
	fail     []mocks.Resource
	failsOn  string // resource name the finding names
	contains string // text in the finding
}

func TestFoundationRules(t *testing.T) {
	vpc := r(tokVpc, "vpc", m{"cidrBlock": "10.0.0.0/16"})
	eksOK := m{"encryptionConfigKeyArn": "arn:kms", "enabledClusterLogTypes": []any{"api", "audit", "authenticator", "controllerManager", "scheduler"},
		"endpointPrivateAccess": true, "endpointPublicAccess": false}
	with := func(base m, k string, v any) m {
		out := m{}
		for kk, vv := range base {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	sgs := []mocks.Resource{
		r(tokSecurityGroup, "alb", m{"tags": m{securityGroupRoleTag: "alb"}}),
		r(tokSecurityGroup, "rds", m{"tags": m{securityGroupRoleTag: "rds"}}),
	}
	world := func(name, sg string, port float64) mocks.Resource {
		return r(tokIngressRule, name, m{"securityGroupId": sg + "-id", "cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": port, "toPort": port, "description": "x"})
	}
	lt := r(tokLaunchTemplate, "lt", m{"metadataOptions": m{"httpTokens": "required"}})

	cases := []ruleCase{
		{rule: "vpc-flow-logs",
			pass: []mocks.Resource{vpc, r(tokFlowLog, "fl", m{"vpcId": "vpc-id"})},
			fail: []mocks.Resource{vpc, r(tokFlowLog, "fl", m{"vpcId": "other-vpc-id"})}, failsOn: "vpc"},
		{rule: "vpc-default-sg-restricted",
			pass: []mocks.Resource{vpc, r(tokDefaultSG, "d", m{"vpcId": "vpc-id"})},
			fail: []mocks.Resource{vpc, r(tokDefaultSG, "d", m{"vpcId": "vpc-id", "ingress": []any{m{"protocol": "-1", "self": true}}})}, failsOn: "d"},
		{rule: "vpc-default-sg-restricted",
			pass: []mocks.Resource{vpc, r(tokDefaultSG, "d", m{"vpcId": "vpc-id"})},
			fail: []mocks.Resource{vpc}, failsOn: "vpc", contains: "not taken over"},
		{rule: "subnet-no-public-ip",
			pass: []mocks.Resource{r(tokSubnet, "pub", m{"tags": m{"tier": "public"}, "mapPublicIpOnLaunch": true}), r(tokSubnet, "priv", m{"tags": m{"tier": "private"}, "mapPublicIpOnLaunch": false})},
			fail: []mocks.Resource{r(tokSubnet, "db", m{"tags": m{"tier": "database"}, "mapPublicIpOnLaunch": true})}, failsOn: "db", contains: "database"},
		{rule: "sg-ingress-world-only-alb-web",
			pass: append(append([]mocks.Resource{}, sgs...), world("alb-https", "alb", 443), world("alb-http", "alb", 80)),
			fail: append(append([]mocks.Resource{}, sgs...), world("rds-world", "rds", 5432)), failsOn: "rds-world"},
		{rule: "sg-ingress-world-only-alb-web",
			pass: append(append([]mocks.Resource{}, sgs...), world("alb-https", "alb", 443)),
			fail: append(append([]mocks.Resource{}, sgs...), world("alb-ssh", "alb", 22)), failsOn: "alb-ssh"},
		{rule: "sg-ingress-world-only-alb-web",
			pass: []mocks.Resource{r(tokSecurityGroup, "inline", m{"ingress": []any{m{"cidrBlocks": []any{"10.0.0.0/16"}, "fromPort": 22.0, "toPort": 22.0, "protocol": "tcp"}}})},
			fail: []mocks.Resource{r(tokSecurityGroup, "inline", m{"ingress": []any{m{"cidrBlocks": []any{"0.0.0.0/0"}, "fromPort": 22.0, "toPort": 22.0, "protocol": "tcp"}}})}, failsOn: "inline"},
		{rule: "sg-rule-description",
			pass: []mocks.Resource{r(tokEgressRule, "e", m{"description": "to nodes"})},
			fail: []mocks.Resource{r(tokEgressRule, "e", m{})}, failsOn: "e"},
		{rule: "eks-secrets-encryption",
			pass: []mocks.Resource{r(tokEKSComponent, "eks", eksOK)},
			fail: []mocks.Resource{r(tokEKSComponent, "eks", with(eksOK, "encryptionConfigKeyArn", nil))}, failsOn: "eks"},
		{rule: "eks-secrets-encryption",
			pass: []mocks.Resource{r(tokEKSCluster, "raw", m{"encryptionConfig": m{"provider": m{"keyArn": "arn:kms"}, "resources": []any{"secrets"}}})},
			fail: []mocks.Resource{r(tokEKSCluster, "raw", m{})}, failsOn: "raw"},
		{rule: "eks-control-plane-logging",
			pass: []mocks.Resource{r(tokEKSComponent, "eks", eksOK)},
			fail: []mocks.Resource{r(tokEKSComponent, "eks", with(eksOK, "enabledClusterLogTypes", []any{"api", "audit"}))}, failsOn: "eks", contains: "authenticator, controllerManager, scheduler"},
		{rule: "eks-endpoint-access",
			pass: []mocks.Resource{r(tokEKSComponent, "eks", with(with(eksOK, "endpointPublicAccess", true), "publicAccessCidrs", []any{"203.0.113.0/24"}))},
			fail: []mocks.Resource{r(tokEKSComponent, "eks", with(with(eksOK, "endpointPublicAccess", true), "publicAccessCidrs", []any{"0.0.0.0/0"}))}, failsOn: "eks", contains: "0.0.0.0/0"},
		{rule: "eks-endpoint-access",
			pass: []mocks.Resource{r(tokEKSComponent, "eks", eksOK)},
			// pulumi-eks opens the public endpoint by default: leaving it unset is a failure.
			fail: []mocks.Resource{r(tokEKSComponent, "eks", with(eksOK, "endpointPublicAccess", nil))}, failsOn: "eks", contains: "no CIDR restriction"},
		{rule: "eks-endpoint-access",
			pass: []mocks.Resource{r(tokEKSComponent, "eks", eksOK)},
			fail: []mocks.Resource{r(tokEKSComponent, "eks", with(eksOK, "endpointPrivateAccess", false))}, failsOn: "eks", contains: "private"},
		{rule: "imdsv2-required",
			pass: []mocks.Resource{lt, r(tokNodeGroup, "ng", m{"launchTemplate": m{"id": "lt-id"}})},
			fail: []mocks.Resource{r(tokLaunchTemplate, "lt", m{"metadataOptions": m{"httpTokens": "optional"}})}, failsOn: "lt"},
		{rule: "imdsv2-required",
			pass: []mocks.Resource{lt, r(tokNodeGroup, "ng", m{"launchTemplate": m{"id": "lt-id"}})},
			fail: []mocks.Resource{lt, r(tokNodeGroup, "ng", m{})}, failsOn: "ng"},
		{rule: "imdsv2-required",
			pass: []mocks.Resource{r(tokManagedNodeGroup, "mng", m{"enableIMDSv2": true})},
			fail: []mocks.Resource{r(tokManagedNodeGroup, "mng", m{})}, failsOn: "mng"},
		{rule: "kms-key-rotation",
			pass: []mocks.Resource{r(tokKMSKey, "k", m{"enableKeyRotation": true}), r(tokKMSKey, "signing", m{"customerMasterKeySpec": "RSA_2048"})},
			fail: []mocks.Resource{r(tokKMSKey, "k", m{"enableKeyRotation": false})}, failsOn: "k"},
		{rule: "log-group-encrypted",
			pass: []mocks.Resource{r(tokLogGroup, "lg", m{"kmsKeyId": "arn:kms", "retentionInDays": 30.0})},
			fail: []mocks.Resource{r(tokLogGroup, "lg", m{"retentionInDays": 30.0})}, failsOn: "lg"},
		{rule: "log-group-retention",
			pass: []mocks.Resource{r(tokLogGroup, "lg", m{"kmsKeyId": "arn:kms", "retentionInDays": 30.0})},
			fail: []mocks.Resource{r(tokLogGroup, "lg", m{"kmsKeyId": "arn:kms"})}, failsOn: "lg"},
		{rule: "iam-no-star-star",
			pass: []mocks.Resource{r("aws:iam/rolePolicy:RolePolicy", "p", m{"policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`})},
			fail: []mocks.Resource{r("aws:iam/policy:Policy", "p", m{"policy": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","*"],"Resource":["*"]}}`})}, failsOn: "p"},
	}
	tested := map[string]bool{}
	for _, c := range cases {
		tested[c.rule] = true
	}
	for _, ru := range foundationRules() {
		assert.True(t, tested[ru.ID], "rule %s has no case", ru.ID)
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.failsOn, func(t *testing.T) {
			ru := rule(t, c.rule)
			assert.Empty(t, ru.Check(&Plan{Environment: "prod", Resources: c.pass}), "passing plan fails")
			got := ru.Check(&Plan{Environment: "prod", Resources: c.fail})
			require.NotEmpty(t, got, "violating plan passes")
			assert.True(t, strings.HasSuffix(got[0].Resource, "::"+c.failsOn), "finding %+v; want it on %s", got[0], c.failsOn)
			assert.Contains(t, got[0].Message, c.contains, "finding %+v", got[0])
		})
	}
}

func TestEveryFoundationRuleMirrorsACheck(t *testing.T) {
	for _, ru := range foundationRules() {
		assert.NotEmpty(t, ru.Mirrors, "rule %s lacks its mirrored id", ru.ID)
		assert.NotEmpty(t, ru.Summary, "rule %s lacks its summary", ru.ID)
		assert.NotNil(t, ru.Check, "rule %s lacks its check", ru.ID)
	}
}

func TestAdoptedEKSClustersAreJudgedThroughTheirComponent(t *testing.T) {
	comp := r(tokEKSComponent, "eks", m{"encryptionConfigKeyArn": "arn:kms"})
	child := r(tokEKSCluster, "eks-eksCluster", m{})
	child.Parent = comp.URN
	assert.Empty(t, rule(t, "eks-secrets-encryption").Check(&Plan{Resources: []mocks.Resource{comp, child}}),
		"the cluster pulumi-eks creates was judged on its own")
}
