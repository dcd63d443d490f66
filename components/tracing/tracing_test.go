package tracing

import (
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	issuer      = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
)

func testArgs() TracingArgs {
	return TracingArgs{
		Namespace: "cantondex-monitoring", Region: "us-east-1", ClientNamespaces: []string{"cantondex"}, AWSAPICIDRs: []string{"10.0.0.0/16"},
		OIDCProviderARN: pulumi.String("arn:aws:iam::123456789012:oidc-provider/" + issuer), OIDCProviderURL: pulumi.String(issuer),
	}
}

func run(t *testing.T, mutate func(*TracingArgs)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *TracingArgs, ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String("{}")})
		if err != nil {
			return err
		}
		ns, err := corev1.NewNamespace(ctx, "monitoring-ns", &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(a.Namespace)},
		}, pulumi.Provider(k8s))
		if err != nil {
			return err
		}
		a.Kubernetes, a.DependsOn = k8s, []pulumi.Resource{ns}
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a TracingArgs) error {
		_, err := NewTracing(ctx, "tracing", a)
		return err
	})
}

func release(t *testing.T, rec *mocks.Recorder) mocks.Resource {
	t.Helper()
	releases := rec.OfType(releaseType)
	require.Len(t, releases, 1, "releases")
	return releases[0]
}

func TestReleaseIsPinnedInTheMonitoringNamespace(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r := release(t, rec)
	comp, ok := rec.Named("cantondex:tracing:Tracing", "tracing")
	require.True(t, ok, "component registered")
	assert.Equal(t, comp.URN, r.Parent, "parent")
	assert.Empty(t, r.Differences(map[string]any{
		"chart": "opentelemetry-collector", "version": "0.158.3",
		"repositoryOpts.repo": "https://open-telemetry.github.io/opentelemetry-helm-charts",
		"namespace":           "cantondex-monitoring", "name": "opentelemetry-collector", "atomic": true,
		"values.mode": "deployment", "values.replicaCount": 2.0, "values.image.repository": "otel/opentelemetry-collector-contrib",
	}))
	assert.Contains(t, r.Provider, "::k8s::", "the release goes through the cluster's provider")
	ns, _ := rec.Named("kubernetes:core/v1:Namespace", "monitoring-ns")
	assert.Contains(t, r.DependsOn, ns.URN, "the release waits for its namespace")
	assert.Equal(t, "http://opentelemetry-collector.cantondex-monitoring.svc.cluster.local:4318", Endpoint("cantondex-monitoring"))
}

func TestOnePipelineFromOTLPToXRay(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r := release(t, rec)
	pipelines, ok := r.Input("values.alternateConfig.service.pipelines")
	require.True(t, ok, "the whole configuration is given (alternateConfig), not merged with the chart's")
	assert.Equal(t, map[string]any{"traces": map[string]any{
		"receivers": []any{"otlp"}, "processors": []any{"memory_limiter", "batch"}, "exporters": []any{"awsxray"},
	}}, pipelines)
	assert.Empty(t, r.Differences(map[string]any{
		"values.alternateConfig.exporters.awsxray.region":                   "us-east-1",
		"values.alternateConfig.receivers.otlp.protocols.http.endpoint":     "${env:MY_POD_IP}:4318",
		"values.alternateConfig.receivers.otlp.protocols.grpc.endpoint":     "${env:MY_POD_IP}:4317",
		"values.alternateConfig.processors.memory_limiter.limit_percentage": 80.0,
		"values.ports.otlp-http.enabled":                                    true,
		"values.ports.jaeger-compact.enabled":                               false,
		"values.ports.jaeger-thrift.enabled":                                false,
		"values.ports.jaeger-grpc.enabled":                                  false,
		"values.ports.zipkin.enabled":                                       false,
		"values.service.type":                                               "ClusterIP",
	}))
	_, hasConfig := r.Input("values.config")
	assert.False(t, hasConfig, "the chart's default config is not merged in")
	receivers, _ := r.Input("values.alternateConfig.receivers")
	assert.Len(t, receivers, 1, "OTLP only")
}

func TestRoleOnlyPutsTraceSegments(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "tracing-role-policy")
	require.True(t, ok, "inline policy recorded")
	statements, err := pol.Policy("policy")
	require.NoError(t, err)
	assert.Equal(t, []mocks.Statement{{Sid: "PutTraceSegments", Effect: "Allow", Action: "xray:PutTraceSegments", Resource: "*"}}, statements)

	role, ok := rec.Named("aws:iam/role:Role", "tracing-role")
	require.True(t, ok, "role recorded")
	trust, err := role.Policy("assumeRolePolicy")
	require.NoError(t, err)
	require.Len(t, trust, 1, "trust statements")
	assert.Equal(t, "system:serviceaccount:cantondex-monitoring:opentelemetry-collector", trust[0].Condition["StringEquals"][issuer+":sub"],
		"only the collector's service account")
	assert.Empty(t, rec.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment"), "no managed policy (AWSXRayDaemonWriteAccess grants more)")

	r := release(t, rec)
	annotations, _ := r.Input("values.serviceAccount.annotations")
	assert.Equal(t, map[string]any{"eks.amazonaws.com/role-arn": mocks.ARN("aws:iam/role:Role", "tracing-role")}, annotations, "IRSA annotation")
	assert.Equal(t, "opentelemetry-collector", r.String("values.serviceAccount.name"))
}

func TestPodIsRestricted(t *testing.T) {
	rec, err := run(t, func(a *TracingArgs) { a.MemoryLimitMiB = 1024; a.Replicas = 3 })
	require.NoError(t, err)
	r := release(t, rec)
	assert.Empty(t, r.Differences(map[string]any{
		"values.securityContext.allowPrivilegeEscalation": false,
		"values.securityContext.readOnlyRootFilesystem":   true,
		"values.securityContext.privileged":               false,
		"values.podSecurityContext.runAsNonRoot":          true,
		"values.podSecurityContext.seccompProfile.type":   "RuntimeDefault",
		"values.resources.limits.memory":                  "1024Mi",
		"values.replicaCount":                             3.0,
		"values.podDisruptionBudget.enabled":              true,
	}))
	assert.Equal(t, []string{"ALL"}, r.Strings("values.securityContext.capabilities.drop"), "capabilities dropped")
}

func TestInvalidArgsAreRefusedByField(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*TracingArgs)
		want   string
	}{
		"namespace":   {func(a *TracingArgs) { a.Namespace = "Monitoring" }, `namespace: "Monitoring" is not a Kubernetes namespace name`},
		"region":      {func(a *TracingArgs) { a.Region = "" }, `region: "" is not an AWS region`},
		"no issuer":   {func(a *TracingArgs) { a.OIDCProviderURL = nil }, "oidcProviderArn, oidcProviderUrl: required"},
		"no provider": {func(a *TracingArgs) { a.Kubernetes = nil }, "kubernetes: a provider for the cluster is required"},
		"replicas":    {func(a *TracingArgs) { a.Replicas = -1 }, "replicas: -1 is outside 0 to 20"},
		"memory":      {func(a *TracingArgs) { a.MemoryLimitMiB = 64 }, "memoryLimitMiB: 64 is outside 128 to 16384"},
		"no clients":  {func(a *TracingArgs) { a.ClientNamespaces = nil }, "clientNamespaces: at least one"},
		"client":      {func(a *TracingArgs) { a.ClientNamespaces = []string{"Apps"} }, `clientNamespaces: "Apps" is not`},
		"no cidrs":    {func(a *TracingArgs) { a.AWSAPICIDRs = nil }, "awsApiCidrs: required"},
		"cidr":        {func(a *TracingArgs) { a.AWSAPICIDRs = []string{"10.0.0.0"} }, `awsApiCidrs: "10.0.0.0" is not a CIDR`},
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := run(t, tc.mutate)
			require.Error(t, err)
			assert.ErrorContains(t, err, "tracing tracing: ")
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, rec.OfType(releaseType), "nothing is created")
			assert.Empty(t, rec.OfType("aws:iam/role:Role"), "nothing is created")
		})
	}
}

func TestCollectorAdmitsOTLPFromTheClientsOnly(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	np, ok := rec.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "tracing-collector")
	require.True(t, ok, "network policy recorded")
	assert.Empty(t, np.Differences(map[string]any{
		"metadata.namespace": "cantondex-monitoring",
		"spec.podSelector.matchLabels": map[string]any{
			"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "opentelemetry-collector"},
	}))
	ingress, _ := np.Input("spec.ingress")
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "cantondex"}}}},
		"ports": []any{map[string]any{"port": 4318.0, "protocol": "TCP"}, map[string]any{"port": 4317.0, "protocol": "TCP"}},
	}}, ingress)
	egress, _ := np.Input("spec.egress")
	require.Len(t, egress, 2, "DNS and HTTPS to AWS")
	assert.Equal(t, map[string]any{
		"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/16"}}},
		"ports": []any{map[string]any{"port": 443.0, "protocol": "TCP"}},
	}, egress.([]any)[1])
	r := release(t, rec)
	spread, _ := r.Input("values.topologySpreadConstraints")
	assert.Equal(t, np.Inputs["spec"].(map[string]any)["podSelector"].(map[string]any)["matchLabels"],
		spread.([]any)[0].(map[string]any)["labelSelector"].(map[string]any)["matchLabels"], "the policy selects the chart's pods")
}
