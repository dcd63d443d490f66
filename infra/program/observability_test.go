package program

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/components/monitoring"
	"github.com/cantondex/platform/components/network"
	"github.com/cantondex/platform/components/observability"
	"github.com/cantondex/platform/components/tracing"
	"github.com/cantondex/platform/components/workloads"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

func runObserve(t *testing.T, stack string, src mapSource) (*mocks.Recorder, error) {
	t.Helper()
	s, err := stacks.Load(stack, "", src)
	require.NoError(t, err)
	return mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		f.LogsKeyARN = str("arn:aws:kms:us-east-1:123456789012:key/logs")
		d, err := dataTier(ctx, s, f)
		if err != nil {
			return err
		}
		p, err := fakePlatform(ctx, f)
		if err != nil {
			return err
		}
		for _, name := range monitoringSecrets() {
			p.SecretKeys[name] = str("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name)
		}
		_, err = observe(ctx, s, f, d, p)
		return err
	})
}

func TestObserveDeploysThePinnedChartsWithTheStacksSettings(t *testing.T) {
	for _, tc := range []struct {
		stack                       string
		retention, storage, logDays string
		unneeded                    string
	}{
		{"prod", "30d", "200Gi", "90", "10m0s"},
		{"staging", "7d", "50Gi", "14", "5m0s"},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			rec, err := runObserve(t, tc.stack, mapSource{})
			require.NoError(t, err)
			charts := map[string]mocks.Resource{}
			for _, r := range rec.OfType("kubernetes:helm.sh/v3:Release") {
				charts[r.String("chart")+"@"+r.String("version")] = r
				assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::eks", "%s uses the cluster's provider", r.Name)
			}
			require.Len(t, charts, 4)
			prom, ok := charts["kube-prometheus-stack@77.0.0"]
			require.True(t, ok, "kube-prometheus-stack pinned")
			assert.Equal(t, MonitoringNamespace, prom.String("namespace"))
			assert.Equal(t, tc.retention, prom.String("values.prometheus.prometheusSpec.retention"))
			assert.Equal(t, tc.storage, prom.String("values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage"))
			fb, ok := charts["fluent-bit@0.58.2"]
			require.True(t, ok, "fluent-bit pinned")
			assert.Equal(t, LoggingNamespace, fb.String("namespace"))
			ca, ok := charts["cluster-autoscaler@9.59.0"]
			require.True(t, ok, "cluster-autoscaler pinned")
			assert.Equal(t, "cdx", ca.String("values.autoDiscovery.clusterName"))
			assert.Equal(t, tc.unneeded, ca.String("values.extraArgs.scale-down-unneeded-time"))
			otel, ok := charts["opentelemetry-collector@0.158.3"]
			require.True(t, ok, "opentelemetry-collector pinned")
			assert.Equal(t, MonitoringNamespace, otel.String("namespace"))
			assert.Equal(t, "us-east-1", otel.String("values.alternateConfig.exporters.awsxray.region"))
			ann, _ := otel.Input("values.serviceAccount.annotations")
			annotations, _ := ann.(map[string]any)
			assert.Equal(t, mocks.ARN("aws:iam/role:Role", "cdx-"+tc.stack+"-observability-tracing-role"), annotations["eks.amazonaws.com/role-arn"])

			for _, g := range rec.OfType("aws:cloudwatch/logGroup:LogGroup") {
				if strings.HasPrefix(g.String("name"), "/cantondex/"+tc.stack+"/") {
					assert.Equal(t, tc.logDays, ftoa(g.Number("retentionInDays")), g.String("name"))
					assert.Equal(t, "arn:aws:kms:us-east-1:123456789012:key/logs", g.String("kmsKeyId"), g.String("name"))
				}
			}

			// A ServiceMonitor per scraped catalog service, on its operations port, labelled
			// for the release's selector.
			var monitored []string
			for _, sm := range rec.OfType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") {
				monitored = append(monitored, sm.String("metadata.name"))
				assert.Equal(t, AppNamespace, sm.String("metadata.namespace"))
				labels, _ := sm.Input("metadata.labels")
				assert.Equal(t, monitoring.ChartName, labels.(map[string]any)[monitoring.SelectorLabel], sm.Name)
				eps, _ := sm.Input("spec.endpoints")
				assert.Equal(t, monitoring.OpsPort, eps.([]any)[0].(map[string]any)["port"], sm.Name)
			}
			assert.ElementsMatch(t, ScrapedServices(), monitored)
			assert.NotEmpty(t, rec.OfType("kubernetes:monitoring.coreos.com/v1:PrometheusRule"))
		})
	}
}

// The Alertmanager publishes to the data tier's topic through a role only its service account
// assumes; Grafana's login and the pager's URL come from Secrets Manager through the store.
func TestAlertmanagerRoutesToTheTopicAndThePagerFromSecretsManager(t *testing.T) {
	rec, err := runObserve(t, "prod", mapSource{})
	require.NoError(t, err)
	trust, ok := rec.Named("aws:iam/role:Role", "cdx-prod-observability-alertmanager-role")
	require.True(t, ok)
	assert.Contains(t, trust.String("assumeRolePolicy"), `"system:serviceaccount:`+MonitoringNamespace+`:`+monitoring.AlertmanagerServiceAccount+`"`)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-prod-observability-alertmanager-role-policy")
	require.True(t, ok)
	topic := mocks.ARN("aws:sns/topic:Topic", "cdx-prod-data-alarms")
	var actions []string
	for _, st := range statements(t, pol.String("policy")) {
		actions = append(actions, list(st.Action)...)
		if st.Sid == "PublishAlerts" {
			assert.Equal(t, []string{topic}, list(st.Resource))
		}
	}
	assert.ElementsMatch(t, []string{"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}, actions)

	prom, ok := rec.Named("kubernetes:helm.sh/v3:Release", "cdx-prod-observability-monitoring")
	require.True(t, ok)
	config, _ := prom.Input("values.alertmanager.config")
	b, _ := json.Marshal(config)
	assert.Contains(t, string(b), topic, "the SNS receiver is the data tier's topic")
	assert.Contains(t, string(b), observability.PagerURLFile(), "the pager's URL is read from the synced secret")
	assert.Equal(t, monitoring.AlertmanagerServiceAccount, prom.String("values.alertmanager.serviceAccount.name"))

	secrets := map[string]mocks.Resource{}
	for _, es := range rec.OfType("kubernetes:external-secrets.io/v1:ExternalSecret") {
		if es.String("metadata.namespace") == MonitoringNamespace {
			secrets[es.String("metadata.name")] = es
		}
	}
	require.Len(t, secrets, 2)
	for name, remote := range map[string]string{monitoring.GrafanaAdminSecret: GrafanaAdminSecretName, observability.PagerSecret: PagerURLSecretName} {
		es, ok := secrets[name]
		require.True(t, ok, name)
		assert.Equal(t, "cantondex-secrets", es.String("spec.secretStoreRef.name"), name)
		b, _ := json.Marshal(es.Inputs["spec"])
		assert.Contains(t, string(b), "secret:"+remote, name)
		assert.Contains(t, prom.DependsOn, es.URN, "the release waits for %s", name)
	}
}

func TestObserveRefusesAMissingMonitoringSecret(t *testing.T) {
	s, err := stacks.Load("prod", "", mapSource{})
	require.NoError(t, err)
	_, err = mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		f.LogsKeyARN = str("arn:aws:kms:us-east-1:123456789012:key/logs")
		d, err := dataTier(ctx, s, f)
		if err != nil {
			return err
		}
		p, err := fakePlatform(ctx, f)
		if err != nil {
			return err
		}
		_, err = observe(ctx, s, f, d, p)
		return err
	})
	assert.ErrorContains(t, err, "no Secrets Manager secret")
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// The collector puts segments into X-Ray through a role only its service account assumes; it
// admits OTLP from the services' namespace and reaches HTTPS only in the private subnets, where
// the VPC's X-Ray and STS interface endpoints are; the services are pointed at its Service.
func TestTracingReachesXRayThroughTheInterfaceEndpoints(t *testing.T) {
	rec, err := runObserve(t, "prod", mapSource{})
	require.NoError(t, err)
	trust, ok := rec.Named("aws:iam/role:Role", "cdx-prod-observability-tracing-role")
	require.True(t, ok)
	assert.Contains(t, trust.String("assumeRolePolicy"), `"system:serviceaccount:`+MonitoringNamespace+`:`+tracing.ServiceAccount+`"`)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-prod-observability-tracing-role-policy")
	require.True(t, ok)
	var actions []string
	for _, st := range statements(t, pol.String("policy")) {
		actions = append(actions, list(st.Action)...)
	}
	assert.Equal(t, []string{"xray:PutTraceSegments"}, actions)

	np, ok := rec.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "cdx-prod-observability-tracing-collector")
	require.True(t, ok)
	assert.Equal(t, MonitoringNamespace, np.String("metadata.namespace"))
	b, _ := json.Marshal(np.Inputs["spec"])
	spec := string(b)
	assert.Contains(t, spec, `"kubernetes.io/metadata.name":"`+AppNamespace+`"`, "OTLP from the services' namespace")
	s, err := stacks.Load("prod", "", mapSource{})
	require.NoError(t, err)
	cidrs, err := s.Network.Subnets()
	require.NoError(t, err)
	n := s.Network.AZCount
	for _, c := range cidrs[n : 2*n] {
		assert.Contains(t, spec, `"cidr":"`+c+`"`, "HTTPS to the private subnet %s", c)
	}
	assert.NotContains(t, spec, "0.0.0.0/0", "no HTTPS to the internet: X-Ray and STS have interface endpoints")
	assert.Contains(t, network.DefaultInterfaceEndpoints(), "xray")
	assert.Contains(t, network.DefaultInterfaceEndpoints(), "sts")

	// The catalog's literal endpoint and collector name are the component's.
	assert.Equal(t, tracing.Endpoint(MonitoringNamespace), catalog.TracingEndpoint)
	assert.Equal(t, tracing.ChartName, workloads.CollectorName)
}
