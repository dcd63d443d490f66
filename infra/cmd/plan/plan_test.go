package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/infra/policy"
	"github.com/cantondex/platform/infra/program"
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
		if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
			t.Fatalf("plan %v: output is not JSON: %v\n%s", args, err, stdout.String())
		}
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
			if code != 0 || len(p.Violations) != 0 {
				t.Fatalf("exit %d, violations %+v, stderr %s", code, p.Violations, stderr)
			}
			primary := "cantondex:network:Network::cantondex-" + tc.stack
			count := map[string]int{}
			groups := map[string]string{}
			var addons []string
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
				}
			}
			if count["subnets"] != 9 || count["nats"] != tc.nats {
				t.Errorf("%d subnets (want 9), %d NAT gateways (want %d)", count["subnets"], count["nats"], tc.nats)
			}
			if len(groups) != 2 || groups["ON_DEMAND"] != "3-20" || groups["SPOT"] != "0-10" {
				t.Errorf("node groups = %v, want ON_DEMAND 3-20 and SPOT 0-10", groups)
			}
			if strings.Join(addons, ",") != "aws-ebs-csi-driver,coredns,kube-proxy,vpc-cni" {
				t.Errorf("add-ons = %v", addons)
			}
			// The DR network is built in the DR region, through the DR provider.
			drProvider := "pulumi:providers:aws::cantondex-" + tc.stack + "-dr::"
			drSubnets := 0
			for _, r := range p.Resources {
				if !strings.Contains(r.Parent, "cantondex:network:Network::cantondex-"+tc.stack+"-dr") {
					continue
				}
				if !strings.Contains(r.Provider, drProvider) {
					t.Errorf("DR resource %s %s uses provider %q", r.Type, r.Name, r.Provider)
				}
				if r.Type == "aws:ec2/subnet:Subnet" {
					drSubnets++
					if az, _ := r.Inputs["availabilityZone"].(string); !strings.HasPrefix(az, "eu-west-1") {
						t.Errorf("DR subnet %s in %q", r.Name, az)
					}
				}
			}
			if drSubnets != 3 {
				t.Errorf("%d DR database subnets, want 3", drSubnets)
			}
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
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := readStackFile(filepath.Join(root, "Pulumi."+stack+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := mocks.Run(stack, cfg, program.Run)
			if err != nil {
				t.Fatal(err)
			}
			byURN := map[string]mocks.Resource{}
			for _, r := range rec.Resources() {
				if _, dup := byURN[r.URN]; dup {
					t.Errorf("two resources share the URN %s", r.URN)
				}
				byURN[r.URN] = r
			}
			for _, r := range rec.Resources() {
				if r.Parent == "" {
					if r.Custom || !strings.HasPrefix(r.Type, "cantondex:") {
						t.Errorf("%s %s sits at the top of the stack, outside any component", r.Type, r.Name)
					}
					continue
				}
				parent, ok := byURN[r.Parent]
				switch {
				case !ok:
					t.Errorf("%s %s: parent %s was never registered", r.Type, r.Name, r.Parent)
				case parent.Custom:
					t.Errorf("%s %s: parent %s %s is not a component", r.Type, r.Name, parent.Type, parent.Name)
				case !strings.HasPrefix(r.Name, parent.Name):
					t.Errorf("%s %s: name not derived from its component %s", r.Type, r.Name, parent.Name)
				}
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
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %s", code, stderr, tt.want)
			}
		})
	}
}

func TestPolicyViolationExitsOne(t *testing.T) {
	// Staging accepts a world-open API endpoint with a warning; the policy gate still fails it.
	code, p, _ := plan(t, "--stack", "staging", "--set", `cantondex:cluster={"publicEndpoint":true,"publicAccessCidrs":["0.0.0.0/0"]}`)
	if code != 1 || len(p.Violations) != 1 || !strings.HasPrefix(p.Violations[0].Rule, "eks-endpoint-access") {
		t.Fatalf("exit %d, violations %+v; want exit 1 with eks-endpoint-access", code, p.Violations)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "Pulumi.staging.yaml")
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "Pulumi.staging.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, []byte("  cantondex:unused:\n    secure: v1:c2VjcmV0Y2lwaGVydGV4dA==\n")...)
	if err := os.WriteFile(stackFile, src, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--stack", "staging", "--file", stackFile, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, "c2VjcmV0Y2lwaGVydGV4dA") || strings.Contains(out, "get-token") {
		t.Error("a secret (config ciphertext or the kubeconfig) leaked into the plan")
	}
	var p planJSON
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Resources {
		if r.Type == "pulumi:providers:kubernetes" && r.Inputs["kubeconfig"] != "[secret]" {
			t.Errorf("kubeconfig input = %v, want [secret]", r.Inputs["kubeconfig"])
		}
	}
}

func TestTableAndUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--stack", "staging"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"cantondex:network:Network", "  aws:ec2/vpc:Vpc", "network cantondex-staging: 9 subnets, 1 NAT gateways", "4 add-ons: aws-ebs-csi-driver, coredns, kube-proxy, vpc-cni"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if n := len(policy.Rules()); !strings.Contains(stdout.String(), fmt.Sprintf("%d of %d policies passed", n, n)) {
		t.Errorf("table does not report all %d policies passed", n)
	}
	for _, args := range [][]string{{}, {"--stack", "prod", "--format", "yaml"}, {"--stack", "prod", "--set", "novalue"}} {
		if code := run(args, &stdout, &stderr); code != 3 {
			t.Errorf("%v: exit %d, want 3", args, code)
		}
	}
}
