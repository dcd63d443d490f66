package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "plan output")
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
			require.Equal(t, 2, code, "exit code; stderr %q", stderr)
			require.Contains(t, stderr, tt.want, "stderr does not name the setting")
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
			require.Equal(t, 0, code, "exit code: %s violations %v", stderr, out.Violations)
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
						assert.Contains(t, r.Provider, "pulumi:providers:aws", "DR replica provider")
					default:
						replicas++
					}
				case "aws:msk/cluster:Cluster":
					assert.Equal(t, tc.brokers, r.Inputs["numberOfBrokerNodes"], "brokers")
				case "aws:elasticache/replicationGroup:ReplicationGroup":
					nodes := r.Inputs["numNodeGroups"].(float64) * (1 + r.Inputs["replicasPerNodeGroup"].(float64))
					assert.Equal(t, float64(3), nodes, "Redis nodes")
				}
			}
			assert.Equal(t, 3, primaries, "PostgreSQL primaries")
			assert.Equal(t, 1, replicas, "PostgreSQL read replicas")
			assert.Equal(t, 1, dr, "PostgreSQL DR replicas")
			for typ, want := range map[string]int{
				"aws:rds/proxy:Proxy": 1, "aws:elasticache/replicationGroup:ReplicationGroup": 1, "aws:msk/cluster:Cluster": 1, "kubernetes:batch/v1:Job": 3, // the migrations, topic and screening-list Jobs
			} {
				assert.Equal(t, want, count[typ], typ)
			}
		})
	}
}

func TestPlanTableHighlightsTheDataTier(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--stack", "prod"}, &stdout, &stderr)
	require.Equal(t, 0, code, "exit code; stderr %s", stderr.String())
	out := stdout.String()
	for _, want := range []string{
		"postgres cdx-prod-trading-dr: DR replica of arn:aws:rds:us-east-1:123456789012:db:cdx-prod-trading, db.r6g.xlarge, multi-AZ false, provider cantondex-prod-dr",
		"postgres cdx-prod-trading-replica-1: read replica of cdx-prod-trading",
		"rds proxy cdx-prod-trading-proxy: TLS required true",
		"redis cdx-prod-cache: 1 shard(s) × 2 replica(s) = 3 nodes, failover true",
		"kafka cdx-prod-kafka: 6 brokers",
		"5 topics reconciled by kafka-topics (cdx-prod-kafka-topics-role): alerts, compliance-events, orders, settlements, trades",
	} {
		assert.True(t, strings.Contains(out, want), "plan table lacks %q", want)
	}
}

// TestPlanPlacesTheDataTierBehindItsSecurityGroups checks the wiring to the foundation: each
// data resource uses only its own security group (the mock monitor gives a resource the id
// "<name>-id").
func TestPlanPlacesTheDataTierBehindItsSecurityGroups(t *testing.T) {
	code, out, stderr := planData(t, "--stack", "prod")
	require.Equal(t, 0, code, "exit code; stderr %s", stderr)
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
		assert.Equal(t, want, got, "%s %s security group", r.Type, r.Name)
	}
	assert.Equal(t, 8, checked, "data resources checked")
}

// A Kafka version past MSK's standard support is accepted as a floor, and the plan says so on
// stderr and in its JSON; the default version draws no warning.
func TestPlanWarnsOfAKafkaVersionPastSupport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--stack", "staging", "--format", "json", "--set", `cantondex:data={"streaming":{"kafkaVersion":"3.5.1"}}`}, &stdout, &stderr)
	var out struct {
		Warnings []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "plan with Kafka 3.5.1:\n%s", stderr.String())
	require.Equal(t, 0, code, "plan with Kafka 3.5.1: exit code\n%s", stderr.String())
	require.Len(t, out.Warnings, 1, "warnings %q", out.Warnings)
	require.Contains(t, out.Warnings[0], "cantondex:data.streaming.kafkaVersion", "warnings")
	require.Contains(t, stderr.String(), "warning: cantondex:data.streaming.kafkaVersion", "stderr")
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"--stack", "staging", "--format", "json"}, &stdout, &stderr)
	require.Equal(t, 0, code, "default settings: exit code; stderr %q", stderr.String())
	require.NotContains(t, stderr.String(), "warning", "default settings")
	require.True(t, strings.Contains(stdout.String(), `"warnings": []`), "default settings: the JSON plan lacks an empty warnings list")
}
