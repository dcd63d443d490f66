package mocks

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
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
	if err != nil {
		t.Fatal(err)
	}
	comp, ok := rec.Named("cantondex:test:Thing", "thing")
	if !ok || comp.Custom || comp.Parent != "" {
		t.Fatalf("component not recorded as a root component: %+v", comp)
	}
	ref, ok := rec.Named("cantondex:test:Part", "thing-part")
	if !ok {
		t.Fatalf("child not recorded; got %+v", rec.Resources())
	}
	if ref.Parent != comp.URN {
		t.Errorf("child parent = %q, want %q", ref.Parent, comp.URN)
	}
	if !strings.Contains(ref.URN, "cantondex:test:Thing$cantondex:test:Part::thing-part") {
		t.Errorf("child URN %q does not carry its parent type", ref.URN)
	}
}

func TestUnknownInvokeIsAnError(t *testing.T) {
	rec := NewRecorder("dev")
	if _, err := rec.Call(pulumi.MockCallArgs{Token: "aws:ec2/getAmi:getAmi"}); err == nil {
		t.Fatal("unknown invoke answered silently")
	}
}

func TestResourceInputPaths(t *testing.T) {
	r := Resource{Inputs: map[string]any{
		"tags":      map[string]any{"Name": "x"},
		"encrypted": true,
		"size":      float64(3),
		"list":      []any{"a", "b"},
		"password":  "[secret]",
	}}
	if r.String("tags.Name") != "x" || !r.Bool("encrypted") || r.Number("size") != 3 || len(r.Strings("list")) != 2 {
		t.Fatalf("path accessors wrong on %+v", r.Inputs)
	}
	if _, ok := r.Input("tags.Missing"); ok {
		t.Fatal("missing path reported present")
	}
}

func TestZonesFollowTheInvokeProvidersRegion(t *testing.T) {
	rec := NewRecorder("dev")
	if _, _, err := rec.NewResource(pulumi.MockResourceArgs{
		TypeToken: "pulumi:providers:aws", Name: "dr", Custom: true,
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"region": "eu-west-1"}),
	}); err != nil {
		t.Fatal(err)
	}
	ref := rec.URN("", "pulumi:providers:aws", "dr") + "::dr-id"
	for provider, want := range map[string]string{ref: "eu-west-1a", "": Region + "a"} {
		out, err := rec.Call(pulumi.MockCallArgs{Token: "aws:index/getAvailabilityZones:getAvailabilityZones", Provider: provider})
		if err != nil {
			t.Fatal(err)
		}
		if got := out["names"].ArrayValue()[0].StringValue(); got != want {
			t.Errorf("provider %q: first zone %q, want %q", provider, got, want)
		}
	}
}

func TestTagReadsKeysWithDots(t *testing.T) {
	r := Resource{Inputs: map[string]any{"tags": map[string]any{"kubernetes.io/role/elb": "1"}}}
	if r.Tag("kubernetes.io/role/elb") != "1" || r.Tag("missing") != "" {
		t.Fatalf("Tag on %v", r.Inputs)
	}
}
