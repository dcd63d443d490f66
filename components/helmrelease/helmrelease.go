// Package helmrelease registers a Helm release (the Kubernetes provider's
// `kubernetes:helm.sh/v3:Release`) of a pinned chart, with the options every release of the
// platform uses: atomic, cleaned up on failure, ten revisions of history, the namespace made
// elsewhere.
//
// It stands in for the SDK's helm/v3 package, whose Chart component imports the SDK's yaml
// package and with it every API group and version of pulumi-kubernetes: some sixty generated
// packages the program never uses, which a cold build compiled, vetted and analysed with
// staticcheck. The resource, its type token and its inputs on the wire are the same as
// helm/v3.NewRelease's (Compat "true" included), so the provider, a preview and the mocks see
// no difference.
package helmrelease

import (
	"errors"
	"reflect"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the resource's type token.
const Type = "kubernetes:helm.sh/v3:Release"

// Chart is a chart pinned to a version in a repository.
type Chart struct {
	Name, Repo, Version string
}

// Args are a release's inputs.
type Args struct {
	// Name is the release's name in the cluster (the chart's name when empty).
	Name      string
	Chart     Chart
	Namespace string
	Values    pulumi.MapInput
}

// Release is the registered release; Name resolves when the provider has installed it.
type Release struct {
	pulumi.CustomResourceState

	Name pulumi.StringPtrOutput `pulumi:"name"`
}

// releaseInputs is the wire form of the inputs, as the provider's schema names them.
type releaseInputs struct {
	Name            *string                `pulumi:"name"`
	Chart           string                 `pulumi:"chart"`
	Version         *string                `pulumi:"version"`
	RepositoryOpts  map[string]interface{} `pulumi:"repositoryOpts"`
	Namespace       *string                `pulumi:"namespace"`
	CreateNamespace *bool                  `pulumi:"createNamespace"`
	Atomic          *bool                  `pulumi:"atomic"`
	CleanupOnFail   *bool                  `pulumi:"cleanupOnFail"`
	MaxHistory      *int                   `pulumi:"maxHistory"`
	Values          map[string]interface{} `pulumi:"values"`
	Compat          *string                `pulumi:"compat"`
}

type releaseArgs struct {
	Name            pulumi.StringPtrInput
	Chart           pulumi.StringInput
	Version         pulumi.StringPtrInput
	RepositoryOpts  pulumi.MapInput
	Namespace       pulumi.StringPtrInput
	CreateNamespace pulumi.BoolPtrInput
	Atomic          pulumi.BoolPtrInput
	CleanupOnFail   pulumi.BoolPtrInput
	MaxHistory      pulumi.IntPtrInput
	Values          pulumi.MapInput
	Compat          pulumi.StringPtrInput
}

func (releaseArgs) ElementType() reflect.Type { return reflect.TypeOf((*releaseInputs)(nil)).Elem() }

// New registers the release. A chart without a name, version or repository is refused: every
// chart of the platform is pinned (policy helm-release-pinned checks the plan too).
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*Release, error) {
	c := a.Chart
	if c.Name == "" || c.Version == "" || c.Repo == "" {
		return nil, errors.New("helmrelease: a chart needs a name, a version and a repository")
	}
	if a.Namespace == "" {
		return nil, errors.New("helmrelease: a release needs a namespace")
	}
	release := a.Name
	if release == "" {
		release = c.Name
	}
	values := a.Values
	if values == nil {
		values = pulumi.Map{}
	}
	var r Release
	err := ctx.RegisterResource(Type, name, releaseArgs{
		Name:            pulumi.String(release),
		Chart:           pulumi.String(c.Name),
		Version:         pulumi.String(c.Version),
		RepositoryOpts:  pulumi.Map{"repo": pulumi.String(c.Repo)},
		Namespace:       pulumi.String(a.Namespace),
		CreateNamespace: pulumi.Bool(false),
		Atomic:          pulumi.Bool(true),
		CleanupOnFail:   pulumi.Bool(true),
		MaxHistory:      pulumi.Int(10),
		Values:          values,
		Compat:          pulumi.String("true"),
	}, &r, utilities.PkgResourceDefaultOpts(opts)...)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
