// Package program is the CantonDEX Pulumi program: it loads the stack's settings, composes the
// components and exports the outputs later stacks and operators need. infra/main.go runs it
// under the Pulumi engine; infra/cmd/plan runs it offline under the mock monitor.
package program

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/stacks"
)

// Run is the program.
func Run(ctx *pulumi.Context) error {
	s, err := stacks.FromPulumi(ctx)
	if err != nil {
		return err
	}
	// `pulumi up` without the images' digests or the certificate fails before anything changes.
	if !offline(ctx) {
		if err := deployable(s); err != nil {
			return err
		}
	}
	f, err := foundation(ctx, s)
	if err != nil {
		return fmt.Errorf("foundation: %w", err)
	}
	d, err := dataTier(ctx, s, f)
	if err != nil {
		return fmt.Errorf("data tier: %w", err)
	}
	if _, err := accountSecurity(ctx, s); err != nil {
		return fmt.Errorf("account security: %w", err)
	}
	p, err := platform(ctx, s, f, d)
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	// Metrics, alerts, dashboards, container logs and the cluster autoscaler (and, once
	// components/tracing is on main, the trace collector: see observe).
	if _, err := observe(ctx, s, f, d, p); err != nil {
		return fmt.Errorf("observability: %w", err)
	}
	if _, err := deployWorkloads(ctx, s, f, d, p); err != nil {
		return fmt.Errorf("workloads: %w", err)
	}
	return nil
}
