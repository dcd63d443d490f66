package program

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/stacks"
)

// dataTier builds the databases, cache and streaming on the foundation.
func dataTier(ctx *pulumi.Context, s stacks.Settings, f *Foundation) error {
	return nil
}
