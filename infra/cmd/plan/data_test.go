package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// planData runs the offline plan of a stack file from the repository and decodes its JSON.
func planData(t *testing.T, args ...string) (code int, out struct {
	Resources []struct {
		Type     string         `json:"type"`
		Name     string         `json:"name"`
		Provider string         `json:"provider"`
		Inputs   map[string]any `json:"inputs"`
	} `json:"resources"`
	Violations []map[string]string `json:"violations"`
}, stderr string) {
	t.Helper()
	var stdout, errb bytes.Buffer
	code = run(append([]string{"--format", "json"}, args...), &stdout, &errb)
	if code == 0 || code == 1 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("plan output: %v", err)
		}
	}
	return code, out, errb.String()
}

func TestPlanRejectsInvalidDataSettings(t *testing.T) {
	tests := []struct {
		name, stack, data, want string
	}{
		{"5 brokers over 3 subnets", "prod", `{"streaming":{"brokerCount":5}}`, "cantondex:data.streaming.brokerCount"},
		{"backup retention 0 in prod", "prod", `{"databases":{"trading":{"backupRetentionDays":0}}}`, "cantondex:data.databases.trading.backupRetentionDays"},
		{"a Redis shard without replicas while failover is on", "staging", `{"cache":{"replicasPerShard":0,"automaticFailover":true}}`, "cantondex:data.cache.replicasPerShard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := planData(t, "--stack", tt.stack, "--set", "cantondex:data="+tt.data)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr, tt.want)
			}
		})
	}
}

// TestPlanShowsTheDataTier checks the acceptance counts on the composed program, foundation
// included; it is skipped while the program composes no foundation (no VPC).
func TestPlanShowsTheDataTier(t *testing.T) {
	for _, tc := range []struct {
		stack   string
		brokers float64
	}{{"prod", 6}, {"staging", 3}} {
		t.Run(tc.stack, func(t *testing.T) {
			code, out, stderr := planData(t, "--stack", tc.stack)
			if code != 0 {
				t.Fatalf("exit %d: %s violations %v", code, stderr, out.Violations)
			}
			count := map[string]int{}
			for _, r := range out.Resources {
				count[r.Type]++
			}
			if count["aws:ec2/vpc:Vpc"] == 0 {
				t.Skip("the foundation is not composed yet: no VPC to place the data tier in")
			}
			var primaries, replicas, dr int
			for _, r := range out.Resources {
				switch r.Type {
				case "aws:rds/instance:Instance":
					src, _ := r.Inputs["replicateSourceDb"].(string)
					switch {
					case src == "":
						primaries++
					case strings.HasPrefix(src, "arn:"):
						dr++
						if !strings.Contains(r.Provider, "pulumi:providers:aws") {
							t.Errorf("DR replica on provider %q", r.Provider)
						}
					default:
						replicas++
					}
				case "aws:msk/cluster:Cluster":
					if r.Inputs["numberOfBrokerNodes"] != tc.brokers {
						t.Errorf("%v brokers, want %v", r.Inputs["numberOfBrokerNodes"], tc.brokers)
					}
				case "aws:elasticache/replicationGroup:ReplicationGroup":
					nodes := r.Inputs["numNodeGroups"].(float64) * (1 + r.Inputs["replicasPerNodeGroup"].(float64))
					if nodes != 3 {
						t.Errorf("%v Redis nodes", nodes)
					}
				}
			}
			if primaries != 3 || replicas != 1 || dr != 1 {
				t.Errorf("PostgreSQL: %d primaries, %d read replicas, %d DR replicas; want 3, 1, 1", primaries, replicas, dr)
			}
			for typ, want := range map[string]int{
				"aws:rds/proxy:Proxy": 1, "aws:elasticache/replicationGroup:ReplicationGroup": 1, "aws:msk/cluster:Cluster": 1, "kubernetes:batch/v1:Job": 0,
			} {
				if count[typ] != want {
					t.Errorf("%d %s, want %d", count[typ], typ, want)
				}
			}
		})
	}
}

func TestPlanTableHighlightsTheDataTier(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--stack", "prod"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"postgres cdx-prod-trading-dr: DR replica of arn:aws:rds:us-east-1:123456789012:db:cdx-prod-trading, db.r6g.xlarge, multi-AZ false, provider cantondex-prod-dr",
		"postgres cdx-prod-trading-replica-1: read replica of cdx-prod-trading",
		"rds proxy cdx-prod-trading-proxy: TLS required true",
		"redis cdx-prod-cache: 1 shard(s) × 2 replica(s) = 3 nodes, failover true",
		"kafka cdx-prod-kafka: 6 brokers",
		"5 topics reconciled by kafka-topics (cdx-prod-kafka-topics-role): alerts, compliance-events, orders, settlements, trades",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan table lacks %q", want)
		}
	}
}

// TestPlanPlacesTheDataTierBehindItsSecurityGroups checks the wiring to the foundation: each
// data resource uses only its own security group (the mock monitor gives a resource the id
// "<name>-id").
func TestPlanPlacesTheDataTierBehindItsSecurityGroups(t *testing.T) {
	code, out, stderr := planData(t, "--stack", "prod")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	groups := map[string]string{} // id -> name
	for _, r := range out.Resources {
		if r.Type == "aws:ec2/securityGroup:SecurityGroup" {
			groups[r.Name+"-id"] = r.Name
		}
	}
	sgOf := func(inputs map[string]any, path ...string) string {
		var cur any = inputs
		for _, p := range path {
			cur, _ = cur.(map[string]any)[p]
		}
		list, _ := cur.([]any)
		if len(list) != 1 {
			return fmt.Sprintf("%v", cur)
		}
		return groups[list[0].(string)]
	}
	checked := 0
	for _, r := range out.Resources {
		var got, want string
		switch r.Type {
		case "aws:rds/instance:Instance":
			got, want = sgOf(r.Inputs, "vpcSecurityGroupIds"), "cantondex-prod-rds"
			if strings.HasSuffix(r.Name, "-dr") {
				want = "cantondex-prod-dr-rds"
			}
		case "aws:rds/proxy:Proxy":
			got, want = sgOf(r.Inputs, "vpcSecurityGroupIds"), "cantondex-prod-rds-proxy"
		case "aws:elasticache/replicationGroup:ReplicationGroup":
			got, want = sgOf(r.Inputs, "securityGroupIds"), "cantondex-prod-redis"
		case "aws:msk/cluster:Cluster":
			got, want = sgOf(r.Inputs, "brokerNodeGroupInfo", "securityGroups"), "cantondex-prod-msk"
		default:
			continue
		}
		checked++
		if got != want {
			t.Errorf("%s %s uses security group %q, want %q", r.Type, r.Name, got, want)
		}
	}
	if checked != 8 {
		t.Errorf("checked %d data resources, want 8", checked)
	}
}

// A Kafka version past MSK's standard support is accepted as a floor, and the plan says so on
// stderr and in its JSON; the default version draws no warning.
func TestPlanWarnsOfAKafkaVersionPastSupport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--stack", "staging", "--format", "json", "--set", `cantondex:data={"streaming":{"kafkaVersion":"3.5.1"}}`}, &stdout, &stderr)
	var out struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || code != 0 {
		t.Fatalf("plan with Kafka 3.5.1: exit %d, %v\n%s", code, err, stderr.String())
	}
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "cantondex:data.streaming.kafkaVersion") ||
		!strings.Contains(stderr.String(), "warning: cantondex:data.streaming.kafkaVersion") {
		t.Fatalf("warnings %q, stderr %q", out.Warnings, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"--stack", "staging", "--format", "json"}, &stdout, &stderr); code != 0 || strings.Contains(stderr.String(), "warning") ||
		!strings.Contains(stdout.String(), `"warnings": []`) {
		t.Fatalf("default settings: exit %d, stderr %q", code, stderr.String())
	}
}
