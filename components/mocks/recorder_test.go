package mocks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testComponent struct {
	pulumi.ResourceState
}

func TestRunRecordsTypesParentsInputsAndSecrets(t *testing.T) {
	rec, err := Run("dev", Config{
		Values:  map[string]string{"cantondex:greeting": "hello", "cantondex:token": "s3cr3t"},
		Secrets: []string{"cantondex:token"},
	}, func(ctx *pulumi.Context) error {
		c := &testComponent{}
		if err := ctx.RegisterComponentResource("cantondex:test:Thing", "thing", c); err != nil {
			return err
		}
		cfg := config.New(ctx, "cantondex")
		if err := ctx.RegisterComponentResource("cantondex:test:Part", "thing-part", &testComponent{}, pulumi.Parent(c)); err != nil {
			return err
		}
		tok := cfg.RequireSecret("token")
		return ctx.RegisterResourceOutputs(c, pulumi.Map{"greeting": pulumi.String(cfg.Require("greeting")), "token": tok})
	})
	require.NoError(t, err)
	comp, ok := rec.Named("cantondex:test:Thing", "thing")
	require.True(t, ok, "component not recorded")
	require.False(t, comp.Custom, "component not recorded as a component: %+v", comp)
	require.Empty(t, comp.Parent, "component not recorded as a root component: %+v", comp)
	ref, ok := rec.Named("cantondex:test:Part", "thing-part")
	require.True(t, ok, "child not recorded; got %+v", rec.Resources())
	assert.Equal(t, comp.URN, ref.Parent, "child parent")
	assert.Contains(t, ref.URN, "cantondex:test:Thing$cantondex:test:Part::thing-part", "child URN does not carry its parent type")
}

func TestUnknownInvokeIsAnError(t *testing.T) {
	rec := NewRecorder("dev")
	_, err := rec.Call(pulumi.MockCallArgs{Token: "aws:ec2/getAmi:getAmi"})
	require.Error(t, err, "unknown invoke answered silently")
}

func TestResourceInputPaths(t *testing.T) {
	r := Resource{Inputs: map[string]any{
		"tags":      map[string]any{"Name": "x"},
		"encrypted": true,
		"size":      float64(3),
		"list":      []any{"a", "b"},
		"password":  "[secret]",
	}}
	require.Equal(t, "x", r.String("tags.Name"), "path accessors wrong on %+v", r.Inputs)
	require.True(t, r.Bool("encrypted"), "path accessors wrong on %+v", r.Inputs)
	require.Equal(t, float64(3), r.Number("size"), "path accessors wrong on %+v", r.Inputs)
	require.Len(t, r.Strings("list"), 2, "path accessors wrong on %+v", r.Inputs)
	_, ok := r.Input("tags.Missing")
	require.False(t, ok, "missing path reported present")
}

func TestZonesFollowTheInvokeProvidersRegion(t *testing.T) {
	rec := NewRecorder("dev")
	_, _, err := rec.NewResource(pulumi.MockResourceArgs{
		TypeToken: "pulumi:providers:aws", Name: "dr", Custom: true,
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"region": "eu-west-1"}),
	})
	require.NoError(t, err)
	ref := rec.URN("", "pulumi:providers:aws", "dr") + "::dr-id"
	for provider, want := range map[string]string{ref: "eu-west-1a", "": Region + "a"} {
		out, err := rec.Call(pulumi.MockCallArgs{Token: "aws:index/getAvailabilityZones:getAvailabilityZones", Provider: provider})
		require.NoError(t, err)
		assert.Equal(t, want, out["names"].ArrayValue()[0].StringValue(), "provider %q: first zone", provider)
	}
}

func TestTagReadsKeysWithDots(t *testing.T) {
	r := Resource{Inputs: map[string]any{"tags": map[string]any{"kubernetes.io/role/elb": "1"}}}
	require.Equal(t, "1", r.Tag("kubernetes.io/role/elb"), "Tag on %v", r.Inputs)
	require.Empty(t, r.Tag("missing"), "Tag on %v", r.Inputs)
}
