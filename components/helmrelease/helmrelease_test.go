package helmrelease

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

var chart = Chart{Name: "fluent-bit", Repo: "https://fluent.github.io/helm-charts", Version: "0.58.2"}

func register(t *testing.T, a Args) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(a, nil, func(ctx *pulumi.Context, a Args) error {
		_, err := New(ctx, "logs", a)
		return err
	})
}

// The release reaches the provider with the inputs helm/v3.NewRelease sends: the type token,
// the pinned chart, its repository, the namespace, the release options and the values.
func TestReleaseRegistersThePinnedChartAsTheSDKWould(t *testing.T) {
	rec, err := register(t, Args{Chart: chart, Namespace: "cantondex-logging",
		Values: pulumi.Map{"resources": pulumi.Map{"limits": pulumi.StringMap{"cpu": pulumi.String("500m")}}}})
	require.NoError(t, err)
	releases := rec.OfType(Type)
	require.Len(t, releases, 1)
	r := releases[0]
	assert.Empty(t, r.Differences(map[string]any{
		"name": "fluent-bit", "chart": "fluent-bit", "version": "0.58.2",
		"repositoryOpts.repo": "https://fluent.github.io/helm-charts",
		"namespace":           "cantondex-logging", "createNamespace": false,
		"atomic": true, "cleanupOnFail": true, "maxHistory": 10.0, "compat": "true",
		"values.resources.limits.cpu": "500m",
	}))
}

func TestReleaseNameDefaultsToTheChartAndCanBeSet(t *testing.T) {
	rec, err := register(t, Args{Name: "cluster-autoscaler-aws", Chart: chart, Namespace: "kube-system"})
	require.NoError(t, err)
	r := rec.OfType(Type)[0]
	assert.Equal(t, "cluster-autoscaler-aws", r.String("name"))
	_, hasValues := r.Input("values")
	assert.True(t, hasValues, "a release without values still sends an empty map")
}

func TestUnpinnedChartOrMissingNamespaceIsRefused(t *testing.T) {
	for name, a := range map[string]Args{
		"no version":    {Chart: Chart{Name: chart.Name, Repo: chart.Repo}, Namespace: "ns"},
		"no repository": {Chart: Chart{Name: chart.Name, Version: chart.Version}, Namespace: "ns"},
		"no chart":      {Chart: Chart{Repo: chart.Repo, Version: chart.Version}, Namespace: "ns"},
		"no namespace":  {Chart: chart},
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := register(t, a)
			require.Error(t, err)
			if rec != nil {
				assert.Empty(t, rec.OfType(Type), "nothing registered")
			}
		})
	}
}
