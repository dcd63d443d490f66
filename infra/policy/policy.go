// Package policy checks a recorded plan against the platform's security and reliability rules.
// Each rule names the checkov or trivy check it mirrors, so a reviewer can look up the intent.
// Rules run on the resources the mock monitor recorded, so they check what `pulumi up` would
// actually request, not what a settings file claims.
package policy

import (
	"fmt"
	"sort"

	"github.com/cantondex/platform/components/mocks"
)

// Plan is what rules inspect.
type Plan struct {
	Stack       string
	Environment string // prod | staging
	Resources   []mocks.Resource
}

// OfType returns the plan's resources of one type token.
func (p *Plan) OfType(typ string) []mocks.Resource {
	var out []mocks.Resource
	for _, r := range p.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ByURN returns the resource with a URN.
func (p *Plan) ByURN(urn string) (mocks.Resource, bool) {
	for _, r := range p.Resources {
		if r.URN == urn {
			return r, true
		}
	}
	return mocks.Resource{}, false
}

// Prod reports whether the plan is of a production stack.
func (p *Plan) Prod() bool { return p.Environment == "prod" }

// Rule is one check.
type Rule struct {
	ID      string // our id, e.g. "vpc-flow-logs"
	Mirrors string // the checkov/trivy id it mirrors, e.g. "CKV2_AWS_11"
	Summary string
	Check   func(p *Plan) []Finding
}

// Finding is one failure of a rule on a resource.
type Finding struct {
	Resource string // URN, or the name of what is missing
	Message  string
}

// Violation is a Finding attributed to its rule.
type Violation struct {
	Rule     string `json:"rule"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

// Result is one rule's outcome.
type Result struct {
	Rule       Rule
	Violations []Violation
}

// Rules returns every rule of the engine, sorted by id.
func Rules() []Rule {
	var all []Rule
	all = append(all, foundationRules()...)
	all = append(all, dataRules()...)
	all = append(all, mskRules()...)
	all = append(all, accountSecurityRules()...)
	all = append(all, platformRules()...)
	all = append(all, workloadRules()...)
	all = append(all, screeningRules()...)
	all = append(all, netpolRules()...)
	all = append(all, observabilityRules()...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// Evaluate runs rules over a plan and returns each rule's result, in rule order.
func Evaluate(p *Plan, rules []Rule) []Result {
	out := make([]Result, 0, len(rules))
	for _, r := range rules {
		res := Result{Rule: r}
		for _, f := range r.Check(p) {
			res.Violations = append(res.Violations, Violation{
				Rule: fmt.Sprintf("%s (%s)", r.ID, r.Mirrors), Resource: f.Resource, Message: f.Message,
			})
		}
		out = append(out, res)
	}
	return out
}

// Violations flattens results.
func Violations(results []Result) []Violation {
	out := []Violation{}
	for _, r := range results {
		out = append(out, r.Violations...)
	}
	return out
}
