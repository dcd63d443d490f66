package security

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
)

func run(t *testing.T, a SecurityArgs) *mocks.Recorder {
	t.Helper()
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewSecurity(ctx, "sec", a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if len(groups) != 7 {
		t.Fatalf("%d groups, want 7", len(groups))
	}
	for _, g := range groups {
		if g.Parent != comp.URN || g.String("vpcId") != "vpc-1" || g.String("description") == "" {
			t.Errorf("group %s: parent %q vpc %q description %q", g.Name, g.Parent, g.String("vpcId"), g.String("description"))
		}
		if _, inline := g.Input("ingress"); inline {
			t.Errorf("group %s has inline rules", g.Name)
		}
	}
	got, rules := flows(rec)
	for _, r := range rules {
		if r.Parent != comp.URN || r.String("description") == "" {
			t.Errorf("rule %s: parent %q description %q", r.Name, r.Parent, r.String("description"))
		}
		if r.String("cidrIpv4") == "0.0.0.0/0" && strings.Contains(r.Type, "Ingress") && !strings.HasPrefix(r.Name, "sec-alb-http") {
			t.Errorf("rule %s opens ingress to the world", r.Name)
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
		if strings.Join(got[g], "; ") != strings.Join(w, "; ") {
			t.Errorf("%s flows:\n got %v\nwant %v", g, got[g], w)
		}
	}
}

func TestOnlyRequestedGroups(t *testing.T) {
	rec := run(t, SecurityArgs{VpcID: pulumi.String("vpc-dr"), Groups: []Group{RDS}})
	if n := len(rec.OfType("aws:ec2/securityGroup:SecurityGroup")); n != 1 {
		t.Fatalf("%d groups, want only RDS", n)
	}
	if _, rules := flows(rec); len(rules) != 0 {
		t.Errorf("rules towards groups that do not exist: %d", len(rules))
	}
}

func TestRuleValidation(t *testing.T) {
	all := map[Group]bool{}
	for _, g := range Groups {
		all[g] = true
	}
	if err := validateRules(all); err != nil {
		t.Fatalf("the platform's rules are invalid: %v", err)
	}
	saved := Rules
	defer func() { Rules = saved }()
	for name, bad := range map[string]Rule{
		"opens rds":      {Name: "rds-world", Group: RDS, Protocol: "tcp", FromPort: 5432, ToPort: 5432, CIDR: "0.0.0.0/0", Description: "x"},
		"opens alb 22":   {Name: "alb-ssh", Group: ALB, Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0", Description: "x"},
		"no description": {Name: "redis-x", Group: Redis, Protocol: "tcp", FromPort: 1, ToPort: 1, Peer: Nodes},
		"peer and cidr":  {Name: "redis-y", Group: Redis, Protocol: "tcp", FromPort: 1, ToPort: 1, Peer: Nodes, CIDR: "10.0.0.0/8", Description: "x"},
		"msk plaintext":  {Name: "msk-plaintext", Group: MSK, Protocol: "tcp", FromPort: 9092, ToPort: 9092, Peer: Nodes, Description: "x"},
		"msk tls":        {Name: "msk-tls", Group: MSK, Protocol: "tcp", FromPort: 9094, ToPort: 9098, Peer: Nodes, Description: "x"},
		"msk all":        {Name: "msk-all", Group: MSK, Protocol: "-1", Peer: Nodes, Description: "x"},
	} {
		Rules = append(append([]Rule(nil), saved...), bad)
		if err := validateRules(all); err == nil || !strings.Contains(err.Error(), bad.Name) {
			t.Errorf("%s: validateRules() = %v", name, err)
		}
	}
	if _, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewSecurity(ctx, "sec", SecurityArgs{})
		return err
	}); err == nil || !strings.Contains(err.Error(), "VpcID") {
		t.Errorf("missing VpcID: %v", err)
	}
}
