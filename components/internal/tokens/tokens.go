// Package tokens keeps deployed stacks stable across component type renames: a component whose
// type token changed carries an alias to its old token, so the engine (and, through parent
// aliases, every child) finds the existing state instead of replacing the resources.
package tokens

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Renamed returns opts with an alias to the component's former type token.
func Renamed(former string, opts []pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(opts, pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String(former)}}))
}
