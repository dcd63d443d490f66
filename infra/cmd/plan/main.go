// Command plan runs the CantonDEX Pulumi program offline, under the recording mock monitor,
// with the settings of a stack file, prints every resource it would create and the policy
// results, and exits non-zero when the settings are invalid or a policy rule fails.
//
//	go run ./infra/cmd/plan --stack prod [--format table|json] [--set cantondex:key=value] [--manifests DIR]
//
// --manifests DIR writes every Kubernetes object the program would create as YAML, one file
// per object: DIR/<namespace or "cluster">/<kind>-<name>.yaml (Secret values redacted).
//
// Exit codes: 0 no violations, 1 policy violations, 2 invalid settings or program error,
// 3 usage errors.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/infra/policy"
	"github.com/cantondex/platform/infra/program"
	"github.com/cantondex/platform/stacks"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stack := fs.String("stack", "", "stack to plan: prod or staging (reads Pulumi.<stack>.yaml)")
	format := fs.String("format", "table", "output format: table or json")
	dir := fs.String("dir", "", "directory holding Pulumi.yaml (default: found from the working directory upwards)")
	file := fs.String("file", "", "stack file to read instead of Pulumi.<stack>.yaml")
	manifestDir := fs.String("manifests", "", "write every Kubernetes object as YAML under this directory")
	var sets setFlags
	fs.Var(&sets, "set", "override a config value, key=value (repeatable), e.g. --set 'cantondex:network={\"azCount\":1}'")
	if err := fs.Parse(args); err != nil {
		return 3
	}
	if *stack == "" || (*format != "table" && *format != "json") {
		fmt.Fprintln(stderr, "plan: --stack is required and --format must be table or json")
		return 3
	}
	path := *file
	if path == "" {
		root, err := projectDir(*dir)
		if err != nil {
			fmt.Fprintln(stderr, "plan:", err)
			return 3
		}
		path = filepath.Join(root, "Pulumi."+*stack+".yaml")
	}
	cfg, err := readStackFile(path)
	if err != nil {
		fmt.Fprintln(stderr, "plan:", err)
		return 2
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.Contains(k, ":") {
			fmt.Fprintf(stderr, "plan: --set %q: want namespace:key=value\n", kv)
			return 3
		}
		cfg.Values[k] = v
	}

	rec, err := mocks.Run(*stack, cfg, program.Run)
	if err != nil {
		fmt.Fprintf(stderr, "plan: stack %s: %v\n", *stack, err)
		return 2
	}
	// The program logs the settings' warnings to the engine, which the mocks discard: the
	// plan reads the same settings again to show them.
	settings, err := stacks.Load(*stack, cfg.Values["aws:region"], valuesSource(cfg.Values))
	if err != nil {
		fmt.Fprintf(stderr, "plan: stack %s: %v\n", *stack, err)
		return 2
	}
	for _, w := range settings.Warnings {
		fmt.Fprintln(stderr, "plan: warning:", w)
	}
	env := cfg.Values["cantondex:environment"]
	if env == "" {
		env = *stack
	}
	p := &policy.Plan{Stack: *stack, Environment: env, Resources: rec.Resources()}
	manifests, err := Manifests(p.Resources)
	if err == nil && *manifestDir != "" {
		err = writeManifests(*manifestDir, manifests)
	}
	if err != nil {
		fmt.Fprintf(stderr, "plan: stack %s: manifests: %v\n", *stack, err)
		return 2
	}
	results := policy.Evaluate(p, policy.Rules())
	violations := policy.Violations(results)

	if *format == "json" {
		err = writeJSON(stdout, p, violations, settings.Warnings, manifests)
	} else {
		err = writeTable(stdout, p, results)
	}
	if err != nil {
		fmt.Fprintln(stderr, "plan:", err)
		return 2
	}
	if len(violations) > 0 {
		return 1
	}
	return 0
}

// valuesSource reads the cantondex namespace of a stack's config values, as the program's
// Pulumi config does.
type valuesSource map[string]string

func (v valuesSource) Get(key string) (string, bool) {
	s, ok := v[stacks.Namespace+":"+key]
	return s, ok
}

// projectDir finds the directory holding Pulumi.yaml.
func projectDir(start string) (string, error) {
	dir := start
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		dir = wd
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Pulumi.yaml here or above; run from the repository or pass --dir")
		}
		dir = parent
	}
}

// readStackFile turns a Pulumi.<stack>.yaml into the config the engine would pass: scalar
// values as strings, structured values as JSON, `secure:` values as secrets whose plaintext
// the offline plan never has.
func readStackFile(path string) (mocks.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return mocks.Config{}, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return mocks.Config{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	cfg := mocks.Config{Values: map[string]string{}}
	for k, v := range doc.Config {
		if m, ok := v.(map[string]any); ok {
			if _, secure := m["secure"]; secure && len(m) == 1 {
				cfg.Values[k] = "[secret]"
				cfg.Secrets = append(cfg.Secrets, k)
				continue
			}
		}
		switch v := v.(type) {
		case string:
			cfg.Values[k] = v
		case nil:
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return mocks.Config{}, fmt.Errorf("%s: %s: %w", filepath.Base(path), k, err)
			}
			cfg.Values[k] = string(b)
		}
	}
	sort.Strings(cfg.Secrets)
	return cfg, nil
}

type jsonResource struct {
	Type     string         `json:"type"`
	Name     string         `json:"name"`
	Parent   string         `json:"parent"`
	Provider string         `json:"provider,omitempty"`
	Inputs   map[string]any `json:"inputs"`
}

func writeJSON(w io.Writer, p *policy.Plan, violations []policy.Violation, warnings []string, manifests []Manifest) error {
	out := struct {
		Stack      string             `json:"stack"`
		Resources  []jsonResource     `json:"resources"`
		Violations []policy.Violation `json:"violations"`
		Warnings   []string           `json:"warnings"` // accepted but discouraged settings
		// Kubernetes lists the objects --manifests writes (their inputs are in resources).
		Kubernetes []Manifest `json:"kubernetes"`
	}{Stack: p.Stack, Resources: []jsonResource{}, Violations: violations, Warnings: append([]string{}, warnings...),
		Kubernetes: append([]Manifest{}, manifests...)}
	for _, r := range p.Resources {
		out.Resources = append(out.Resources, jsonResource{Type: r.Type, Name: r.Name, Parent: r.Parent, Provider: r.Provider, Inputs: r.Inputs})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeTable prints the resources as a tree under their components, then the policy results.
func writeTable(w io.Writer, p *policy.Plan, results []policy.Result) error {
	children := map[string][]int{}
	for i, r := range p.Resources {
		children[r.Parent] = append(children[r.Parent], i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Stack %s: %d resources\n\n", p.Stack, len(p.Resources))
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, i := range children[parent] {
			r := p.Resources[i]
			fmt.Fprintf(&b, "%s%-*s %s\n", strings.Repeat("  ", depth), 60-2*depth, r.Type, r.Name)
			walk(r.URN, depth+1)
		}
	}
	walk("", 0)

	counts := map[string]int{}
	for _, r := range p.Resources {
		counts[r.Type]++
	}
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintf(&b, "\nResources by type:\n")
	for _, t := range types {
		fmt.Fprintf(&b, "  %4d  %s\n", counts[t], t)
	}

	writeHighlights(&b, p)
	writeDataHighlights(&b, p)
	writeWorkloadHighlights(&b, p.Resources)
	writeAccountSecurityHighlights(&b, p)

	failed := 0
	fmt.Fprintf(&b, "\nPolicies:\n")
	for _, res := range results {
		status := "PASS"
		if len(res.Violations) > 0 {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(&b, "  %s  %-34s %-14s %s\n", status, res.Rule.ID, res.Rule.Mirrors, res.Rule.Summary)
		for _, v := range res.Violations {
			fmt.Fprintf(&b, "        %s: %s\n", v.Resource, v.Message)
		}
	}
	fmt.Fprintf(&b, "\n%d of %d policies passed\n", len(results)-failed, len(results))
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHighlights summarises what reviewers look for first: each network's subnets and NAT
// gateways, the node groups' capacity and sizes, and the cluster add-ons.
func writeHighlights(b *strings.Builder, p *policy.Plan) {
	fmt.Fprintf(b, "\nHighlights:\n")
	for _, n := range p.OfType("cantondex:network:Network") {
		subnets, nats := 0, 0
		for _, r := range p.Resources {
			if r.Parent != n.URN {
				continue
			}
			switch r.Type {
			case "aws:ec2/subnet:Subnet":
				subnets++
			case "aws:ec2/natGateway:NatGateway":
				nats++
			}
		}
		fmt.Fprintf(b, "  network %s: %d subnets, %d NAT gateways\n", n.Name, subnets, nats)
	}
	for _, g := range p.OfType("aws:eks/nodeGroup:NodeGroup") {
		fmt.Fprintf(b, "  node group %s: %s, %v to %v nodes, %s\n", g.Name, g.String("capacityType"),
			g.Number("scalingConfig.minSize"), g.Number("scalingConfig.maxSize"), strings.Join(g.Strings("instanceTypes"), " "))
	}
	var addons []string
	for _, a := range p.OfType("aws:eks/addon:Addon") {
		addons = append(addons, a.String("addonName"))
	}
	if len(addons) > 0 {
		fmt.Fprintf(b, "  %d add-ons: %s\n", len(addons), strings.Join(addons, ", "))
	}
	for _, r := range p.OfType("kubernetes:helm.sh/v3:Release") {
		fmt.Fprintf(b, "  helm release %s: chart %s %s from %s into %s\n", r.Name, r.String("chart"), r.String("version"),
			r.String("repositoryOpts.repo"), r.String("namespace"))
	}
}
