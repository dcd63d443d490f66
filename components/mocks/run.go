package mocks

import (
	"errors"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Config is stack configuration as the Pulumi engine hands it to a program: fully qualified
// keys ("cantondex:network") to values (structured values as JSON), and which keys are secret.
type Config struct {
	Values  map[string]string
	Secrets []string
}

// Run runs program for stack under a fresh Recorder and returns what it recorded, with the
// program's error. Resources registered before an error are still recorded.
func Run(stack string, cfg Config, program pulumi.RunFunc) (*Recorder, error) {
	rec := NewRecorder(stack)
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		rec.mu.Lock()
		rec.ctx = ctx
		rec.mu.Unlock()
		return program(ctx)
	},
		pulumi.WithMocks(Project, stack, rec),
		func(info *pulumi.RunInfo) {
			info.Config = cfg.Values
			info.ConfigSecretKeys = cfg.Secrets
		},
	)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec, errors.Join(append([]error{err}, rec.errs...)...)
}

// RunComponent runs, under mocks on the stack "test", a program that builds one component
// with build from args, after mutate (nil: none) changed them: the shape of a component test.
func RunComponent[A any](args A, mutate func(*A, *pulumi.Context) error, build func(*pulumi.Context, A) error) (*Recorder, error) {
	return Run("test", Config{}, func(ctx *pulumi.Context) error {
		if mutate != nil {
			if err := mutate(&args, ctx); err != nil {
				return err
			}
		}
		return build(ctx, args)
	})
}
