package security

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func run(t *testing.T, a SecurityArgs) *mocks.Recorder {
	t.Helper()
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewSecurity(ctx, "sec", a)
		return err
	})
	require.NoError(t, err)
	return rec
}

// flow is a recorded rule as "direction group proto from-to peer".
func flows(rec *mocks.Recorder) (map[string][]string, []mocks.Resource) {
	roleOf := map[string]string{}
	for _, sg := range rec.OfType("aws:ec2/securityGroup:SecurityGroup") {
		roleOf[sg.ID] = sg.Tag(RoleTag)
	}
	out := map[string][]string{}
	var rules []mocks.Resource
	for _, typ := range []string{"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"} {
		dir := "in"
		if strings.Contains(typ, "Egress") {
			dir = "out"
		}
		for _, r := range rec.OfType(typ) {
			rules = append(rules, r)
			peer := roleOf[r.String("referencedSecurityGroupId")]
			if peer == "" {
				peer = r.String("cidrIpv4")
			}
			group := roleOf[r.String("securityGroupId")]
			out[group] = append(out[group], fmt.Sprintf("%s %s %v-%v %s", dir, r.String("ipProtocol"), r.Number("fromPort"), r.Number("toPort"), peer))
		}
	}
	for _, f := range out {
		sort.Strings(f)
	}
	return out, rules
}

func TestGroupsAndFlows(t *testing.T) {
	rec := run(t, SecurityArgs{VpcID: pulumi.String("vpc-1"), Tags: map[string]string{"project": "cantondex"}})
	comp, _ := rec.Named("cantondex:security:Security", "sec")
	groups := rec.OfType("aws:ec2/securityGroup:SecurityGroup")
	require.Len(t, groups, 7, "groups")
	for _, g := range groups {
		assert.Equal(t, comp.URN, g.Parent, "group %s parent", g.Name)
		assert.Equal(t, "vpc-1", g.String("vpcId"), "group %s vpc", g.Name)
		assert.NotEmpty(t, g.String("description"), "group %s description", g.Name)
		_, inline := g.Input("ingress")
		assert.False(t, inline, "group %s has inline rules", g.Name)
	}
	got, rules := flows(rec)
	for _, r := range rules {
		assert.Equal(t, comp.URN, r.Parent, "rule %s parent", r.Name)
		assert.NotEmpty(t, r.String("description"), "rule %s description", r.Name)
		if r.String("cidrIpv4") == "0.0.0.0/0" && strings.Contains(r.Type, "Ingress") {
			assert.True(t, strings.HasPrefix(r.Name, "sec-alb-http"), "rule %s opens ingress to the world", r.Name)
		}
	}
	want := map[string][]string{
		"alb":           {"in tcp 443-443 0.0.0.0/0", "in tcp 80-80 0.0.0.0/0", "out tcp 1024-65535 nodes"},
		"rds":           {"in tcp 5432-5432 nodes", "in tcp 5432-5432 rds-proxy"},
		"rds-proxy":     {"in tcp 5432-5432 nodes", "out tcp 5432-5432 rds"},
		"redis":         {"in tcp 6379-6379 nodes"},
		"msk":           {"in tcp 9098-9098 nodes"},
		"control-plane": {"in tcp 443-443 nodes", "out tcp 443-65535 nodes"},
		"nodes": {"in -1 0-0 nodes", "in tcp 1024-65535 alb", "in tcp 1025-65535 control-plane", "in tcp 10250-10250 control-plane",
			"in tcp 443-443 control-plane", "out -1 0-0 0.0.0.0/0"},
	}
	for g, w := range want {
		assert.Equal(t, w, got[g], "%s flows", g)
	}
}

func TestOnlyRequestedGroups(t *testing.T) {
	rec := run(t, SecurityArgs{VpcID: pulumi.String("vpc-dr"), Groups: []Group{RDS}})
	require.Len(t, rec.OfType("aws:ec2/securityGroup:SecurityGroup"), 1, "groups, want only RDS")
	_, rules := flows(rec)
	assert.Empty(t, rules, "rules towards groups that do not exist")
}

func TestRuleValidation(t *testing.T) {
	base := SecurityArgs{VpcID: pulumi.String("vpc-1")}
	require.NoError(t, base.validate(), "the platform's rules are invalid")
	for name, bad := range map[string]Rule{
		"opens rds":      {Name: "rds-world", Group: RDS, Protocol: "tcp", FromPort: 5432, ToPort: 5432, CIDR: "0.0.0.0/0", Description: "x"},
		"opens alb 22":   {Name: "alb-ssh", Group: ALB, Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0", Description: "x"},
		"no description": {Name: "redis-x", Group: Redis, Protocol: "tcp", FromPort: 1, ToPort: 1, Peer: Nodes},
		"peer and cidr":  {Name: "redis-y", Group: Redis, Protocol: "tcp", FromPort: 1, ToPort: 1, Peer: Nodes, CIDR: "10.0.0.0/8", Description: "x"},
		"unknown peer":   {Name: "redis-z", Group: Redis, Protocol: "tcp", FromPort: 1, ToPort: 1, Peer: "bastion", Description: "x"},
		"msk plaintext":  {Name: "msk-plaintext", Group: MSK, Protocol: "tcp", FromPort: 9092, ToPort: 9092, Peer: Nodes, Description: "x"},
		"msk tls":        {Name: "msk-tls", Group: MSK, Protocol: "tcp", FromPort: 9094, ToPort: 9098, Peer: Nodes, Description: "x"},
		"msk all":        {Name: "msk-all", Group: MSK, Protocol: "-1", Peer: Nodes, Description: "x"},
		"listed twice":   {Name: "msk-iam", Group: MSK, Protocol: "tcp", FromPort: MSKIAMPort, ToPort: MSKIAMPort, Peer: Nodes, Description: "x"},
	} {
		a := base
		a.Rules = append(DefaultRules(), bad)
		assert.ErrorContains(t, a.validate(), bad.Name, "%s: validate()", name)
	}
	// A caller's rules replace the defaults, and DefaultRules hands out a fresh copy each time.
	own := DefaultRules()[:1]
	own[0].Description = "changed by a caller"
	assert.NotEqual(t, own[0].Description, DefaultRules()[0].Description, "DefaultRules shares its slice with callers")
	rec := run(t, SecurityArgs{VpcID: pulumi.String("vpc-1"), Groups: []Group{ALB, Nodes}, Rules: own})
	_, rules := flows(rec)
	if assert.Len(t, rules, 1, "rules, want only the caller's") {
		assert.Equal(t, "changed by a caller", rules[0].String("description"), "rule %+v", rules[0].Inputs)
	}

	for want, a := range map[string]SecurityArgs{
		"VpcID":                     {},
		"unknown group \"bastion\"": {VpcID: pulumi.String("vpc-1"), Groups: []Group{"bastion"}},
		"groups: empty":             {VpcID: pulumi.String("vpc-1"), Groups: []Group{}},
	} {
		_, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
			_, err := NewSecurity(ctx, "sec", a)
			return err
		})
		assert.ErrorContains(t, err, want, "%s: NewSecurity", want)
	}
}
