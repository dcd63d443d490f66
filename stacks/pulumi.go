package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// configSource reads the `cantondex` namespace of a Pulumi program's config.
type configSource struct{ cfg *config.Config }

func (c configSource) Get(key string) (string, bool) {
	v, err := c.cfg.Try(key)
	return v, err == nil
}

// FromPulumi loads the settings of the running stack from its Pulumi config and logs warnings.
func FromPulumi(ctx *pulumi.Context) (Settings, error) {
	region := config.Get(ctx, "aws:region")
	s, err := Load(ctx.Stack(), region, configSource{config.New(ctx, Namespace)})
	if err != nil {
		return Settings{}, err
	}
	for _, w := range s.Warnings {
		_ = ctx.Log.Warn(w, nil)
	}
	return s, nil
}
