package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/infra/policy"
	"github.com/cantondex/platform/infra/program"
	"github.com/cantondex/platform/services/catalog"
)

type planJSON struct {
	Stack     string `json:"stack"`
	Resources []struct {
		Type     string         `json:"type"`
		Name     string         `json:"name"`
		Parent   string         `json:"parent"`
		Provider string         `json:"provider"`
		Inputs   map[string]any `json:"inputs"`
	} `json:"resources"`
	Violations []struct {
		Rule, Resource, Message string
	} `json:"violations"`
}

func plan(t *testing.T, args ...string) (int, planJSON, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--format", "json"), &stdout, &stderr)
	var p planJSON
	if code == 0 || code == 1 {
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &p), "plan %v: output is not JSON:\n%s", args, stdout.String())
	}
	return code, p, stderr.String()
}

func TestStacksPlanCleanWithTheAcceptanceCounts(t *testing.T) {
	for _, tc := range []struct {
		stack string
		nats  int
	}{{"prod", 3}, {"staging", 1}} {
		t.Run(tc.stack, func(t *testing.T) {
			code, p, stderr := plan(t, "--stack", tc.stack)
			require.Equal(t, 0, code, "exit code; stderr %s", stderr)
			require.Empty(t, p.Violations, "violations")
			primary := "cantondex:network:Network::cantondex-" + tc.stack
			count := map[string]int{}
			groups := map[string]string{}
			var addons, charts, namespaces []string
			for _, r := range p.Resources {
				res := mocks.Resource{Inputs: r.Inputs}
				switch {
				case r.Type == "aws:ec2/subnet:Subnet" && strings.HasSuffix(r.Parent, primary):
					count["subnets"]++
				case r.Type == "aws:ec2/natGateway:NatGateway":
					count["nats"]++
				case r.Type == "aws:eks/nodeGroup:NodeGroup":
					groups[res.String("capacityType")] = strings.Join([]string{
						ftoa(res.Number("scalingConfig.minSize")), ftoa(res.Number("scalingConfig.maxSize"))}, "-")
				case r.Type == "aws:eks/addon:Addon":
					addons = append(addons, res.String("addonName"))
				case r.Type == "kubernetes:helm.sh/v3:Release":
					charts = append(charts, res.String("chart")+"@"+res.String("version"))
				case r.Type == "kubernetes:core/v1:Namespace":
					labels, _ := res.Input("metadata.labels")
					namespaces = append(namespaces, res.String("metadata.name")+"="+fmt.Sprint(asMap(labels)["pod-security.kubernetes.io/enforce"]))
				case r.Type == "aws:ecr/repository:Repository", r.Type == "aws:wafv2/webAcl:WebAcl":
					count[r.Type]++
				}
			}
			assert.Equal(t, 9, count["subnets"], "subnets")
			assert.Equal(t, tc.nats, count["nats"], "NAT gateways")
			assert.Equal(t, map[string]string{"ON_DEMAND": "3-20", "SPOT": "0-10"}, groups, "node groups")
			assert.Equal(t, []string{"aws-ebs-csi-driver", "coredns", "kube-proxy", "vpc-cni", "metrics-server"}, addons, "add-ons")
			assert.ElementsMatch(t, []string{"aws-load-balancer-controller@1.14.0", "external-secrets@1.3.2",
				"cluster-autoscaler@9.59.0", "fluent-bit@0.58.2", "kube-prometheus-stack@77.0.0", "opentelemetry-collector@0.158.3"}, charts, "Helm releases")
			// Fluent Bit's hostPath mounts need the one exception (program.NamespaceLabels).
			assert.ElementsMatch(t, []string{"cantondex=restricted", "cantondex-monitoring=restricted", "cantondex-security=restricted",
				"cantondex-logging=privileged"}, namespaces, "namespaces and the Pod Security level they enforce")
			assert.Equal(t, len(catalog.All()), count["aws:ecr/repository:Repository"], "one ECR repository per catalog service")
			assert.Equal(t, 1, count["aws:wafv2/webAcl:WebAcl"], "web ACLs")
			// The DR network is built in the DR region, through the DR provider.
			drProvider := "pulumi:providers:aws::cantondex-" + tc.stack + "-dr::"
			drSubnets := 0
			for _, r := range p.Resources {
				if !strings.Contains(r.Parent, "cantondex:network:Network::cantondex-"+tc.stack+"-dr") {
					continue
				}
				assert.Contains(t, r.Provider, drProvider, "DR resource %s %s uses another provider", r.Type, r.Name)
				if r.Type == "aws:ec2/subnet:Subnet" {
					drSubnets++
					az, _ := r.Inputs["availabilityZone"].(string)
					assert.True(t, strings.HasPrefix(az, "eu-west-1"), "DR subnet %s in %q", r.Name, az)
				}
			}
			assert.Equal(t, 3, drSubnets, "DR database subnets")
		})
	}
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestEveryChildHasItsComponentAsParent runs the whole program of each stack and checks its
// structure: top-level resources are this project's components, every cloud resource sits
// under a component and is named from it, and no two resources share a URN.
func TestEveryChildHasItsComponentAsParent(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			root, err := projectDir("")
			require.NoError(t, err)
			cfg, err := readStackFile(filepath.Join(root, "Pulumi."+stack+".yaml"))
			require.NoError(t, err)
			rec, err := mocks.Run(stack, cfg, program.Run)
			require.NoError(t, err)
			byURN := map[string]mocks.Resource{}
			for _, r := range rec.Resources() {
				assert.NotContains(t, byURN, r.URN, "two resources share the URN")
				byURN[r.URN] = r
			}
			for _, r := range rec.Resources() {
				if r.Parent == "" {
					assert.False(t, r.Custom, "%s %s sits at the top of the stack, outside any component", r.Type, r.Name)
					assert.True(t, strings.HasPrefix(r.Type, "cantondex:"), "%s %s sits at the top of the stack, outside any component", r.Type, r.Name)
					continue
				}
				parent, ok := byURN[r.Parent]
				if !assert.True(t, ok, "%s %s: parent %s was never registered", r.Type, r.Name, r.Parent) ||
					!assert.False(t, parent.Custom, "%s %s: parent %s %s is not a component", r.Type, r.Name, parent.Type, parent.Name) {
					continue
				}
				assert.True(t, strings.HasPrefix(r.Name, parent.Name), "%s %s: name not derived from its component %s", r.Type, r.Name, parent.Name)
			}
		})
	}
}

func TestInvalidSettingsExitNonZeroNamingTheSetting(t *testing.T) {
	tests := []struct {
		name, set, want string
	}{
		{"min above max", `cantondex:nodeGroups=[{"name":"a","capacityType":"ON_DEMAND","instanceTypes":["m5.large"],"minSize":5,"desiredSize":5,"maxSize":3,"diskSizeGiB":50}]`, "cantondex:nodeGroups[0].minSize"},
		{"one AZ", `cantondex:network={"azCount":1}`, "cantondex:network.azCount"},
		{"kubernetes 1.27", `cantondex:cluster={"version":"1.27"}`, "cantondex:cluster.version"},
		{"world-open endpoint", `cantondex:cluster={"publicEndpoint":true,"publicAccessCidrs":["0.0.0.0/0"]}`, "cantondex:cluster.publicAccessCidrs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := plan(t, "--stack", "prod", "--set", tt.set)
			require.Equal(t, 2, code, "exit code; stderr %q", stderr)
			require.Contains(t, stderr, tt.want, "stderr does not name the setting")
		})
	}
}

func TestPolicyViolationExitsOne(t *testing.T) {
	// Staging accepts a world-open API endpoint with a warning; the policy gate still fails it.
	code, p, _ := plan(t, "--stack", "staging", "--set", `cantondex:cluster={"publicEndpoint":true,"publicAccessCidrs":["0.0.0.0/0"]}`)
	require.Equal(t, 1, code, "exit code; violations %+v", p.Violations)
	require.Len(t, p.Violations, 1, "violations %+v", p.Violations)
	require.True(t, strings.HasPrefix(p.Violations[0].Rule, "eks-endpoint-access"), "violations %+v; want eks-endpoint-access", p.Violations)
}

func TestSecretsAreMasked(t *testing.T) {
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "Pulumi.staging.yaml")
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "Pulumi.staging.yaml"))
	require.NoError(t, err)
	src = append(src, []byte("  cantondex:unused:\n    secure: v1:c2VjcmV0Y2lwaGVydGV4dA==\n")...)
	require.NoError(t, os.WriteFile(stackFile, src, 0o600))
	var stdout, stderr bytes.Buffer
	code := run([]string{"--stack", "staging", "--file", stackFile, "--format", "json"}, &stdout, &stderr)
	require.Equal(t, 0, code, "exit code; stderr %s", stderr.String())
	out := stdout.String()
	assert.False(t, strings.Contains(out, "c2VjcmV0Y2lwaGVydGV4dA"), "a secret (config ciphertext) leaked into the plan")
	assert.False(t, strings.Contains(out, "get-token"), "a secret (the kubeconfig) leaked into the plan")
	var p planJSON
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &p))
	for _, r := range p.Resources {
		if r.Type == "pulumi:providers:kubernetes" {
			assert.Equal(t, "[secret]", r.Inputs["kubeconfig"], "kubeconfig input")
		}
	}
}

func TestTableAndUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--stack", "staging"}, &stdout, &stderr)
	require.Equal(t, 0, code, "exit code; stderr %s", stderr.String())
	for _, want := range []string{"cantondex:network:Network", "  aws:ec2/vpc:Vpc", "network cantondex-staging: 9 subnets, 1 NAT gateways", "5 add-ons: aws-ebs-csi-driver, coredns, kube-proxy, vpc-cni, metrics-server"} {
		assert.True(t, strings.Contains(stdout.String(), want), "table lacks %q", want)
	}
	n := len(policy.Rules())
	assert.True(t, strings.Contains(stdout.String(), fmt.Sprintf("%d of %d policies passed", n, n)), "table does not report all %d policies passed", n)
	for _, args := range [][]string{{}, {"--stack", "prod", "--format", "yaml"}, {"--stack", "prod", "--set", "novalue"}} {
		assert.Equal(t, 3, run(args, &stdout, &stderr), "%v: exit code", args)
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
