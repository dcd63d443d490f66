package observability

import (
	"errors"
	"fmt"
	"strings"
)

// RuleSpec is the spec of a PrometheusRule (monitoring.coreos.com/v1) holding groups, in the
// shape the API server receives.
func RuleSpec(groups []Group) map[string]any {
	gs := make([]any, 0, len(groups))
	for _, g := range groups {
		rs := make([]any, 0, len(g.Rules))
		for _, r := range g.Rules {
			rule := map[string]any{
				"alert":  r.Alert,
				"expr":   r.Expr,
				"labels": map[string]any{"severity": r.Severity},
				"annotations": map[string]any{
					"summary": r.Summary,
				},
			}
			if r.Description != "" {
				rule["annotations"].(map[string]any)["description"] = r.Description
			}
			if r.For > 0 {
				rule["for"] = promDuration(r.For)
			}
			rs = append(rs, rule)
		}
		gs = append(gs, map[string]any{"name": g.Name, "interval": promDuration(g.Interval), "rules": rs})
	}
	return map[string]any{"groups": gs}
}

// Check reports rules a Prometheus would refuse or an operator could not act on: names that
// repeat, a severity Alertmanager does not route, an empty expression or summary.
func Check(groups []Group) error {
	var errs []error
	seen := map[string]bool{}
	for _, g := range groups {
		if g.Name == "" || g.Interval <= 0 {
			errs = append(errs, fmt.Errorf("group %q: needs a name and a positive interval", g.Name))
		}
		for _, r := range g.Rules {
			switch {
			case r.Alert == "" || strings.ContainsAny(r.Alert, " {}"):
				errs = append(errs, fmt.Errorf("group %s: alert name %q", g.Name, r.Alert))
			case seen[r.Alert]:
				errs = append(errs, fmt.Errorf("alert %s: defined twice", r.Alert))
			}
			seen[r.Alert] = true
			if r.Severity != Critical && r.Severity != Warning {
				errs = append(errs, fmt.Errorf("alert %s: severity %q: want %s or %s", r.Alert, r.Severity, Critical, Warning))
			}
			if strings.TrimSpace(r.Expr) == "" || r.Summary == "" {
				errs = append(errs, fmt.Errorf("alert %s: needs an expression and a summary", r.Alert))
			}
		}
	}
	return errors.Join(errs...)
}
