package monitoring

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/components/observability"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	smType      = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
	ruleType    = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
	cmType      = "kubernetes:core/v1:ConfigMap"
)

func testArgs() MonitoringArgs {
	return MonitoringArgs{
		Services:      []string{"api-gateway", "matching-engine", "settlement-coordinator", "risk-management"},
		RetentionDays: 15, StorageGiB: 100, Region: "eu-central-1",
		AlarmTopicARN:       pulumi.String("arn:aws:sns:eu-central-1:123456789012:cdx-alarms"),
		AlertmanagerRoleARN: pulumi.String("arn:aws:iam::123456789012:role/cdx-alertmanager"),
	}
}

func run(t *testing.T, mutate func(*MonitoringArgs)) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(testArgs(), func(a *MonitoringArgs, _ *pulumi.Context) error {
		if mutate != nil {
			mutate(a)
		}
		return nil
	}, func(ctx *pulumi.Context, a MonitoringArgs) error {
		_, err := NewMonitoring(ctx, "monitoring", a)
		return err
	})
}

// at is the string at keys below v, through maps and (by index) lists; "" when absent.
func at(v any, keys ...string) string {
	for _, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return ""
			}
			v = c[i]
		default:
			return ""
		}
	}
	s, _ := v.(string)
	return s
}

func TestReleaseIsPinnedEncryptedAndRoutesAlerts(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	rels := rec.OfType(releaseType)
	require.Len(t, rels, 1)
	r := rels[0]
	assert.Equal(t, ChartVersion, r.String("version"))
	assert.Equal(t, Namespace, r.String("namespace"))
	assert.Equal(t, "15d", r.String("values.prometheus.prometheusSpec.retention"))
	assert.Equal(t, StorageClass, r.String("values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName"))
	assert.Equal(t, "100Gi", r.String("values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage"))
	config, _ := r.Input("values.alertmanager.config")
	assert.Equal(t, "arn:aws:sns:eu-central-1:123456789012:cdx-alarms", at(config, "receivers", "1", "sns_configs", "0", "topic_arn"))
	assert.Equal(t, observability.PagerURLFile(), at(config, "receivers", "2", "webhook_configs", "0", "url_file"))
	sa, _ := r.Input("values.alertmanager.serviceAccount")
	assert.Equal(t, "arn:aws:iam::123456789012:role/cdx-alertmanager", at(sa, "annotations", "eks.amazonaws.com/role-arn"))
	assert.Equal(t, GrafanaAdminSecret, r.String("values.grafana.admin.existingSecret"))
	assert.True(t, r.Bool("values.grafana.sidecar.dashboards.enabled"))

	scs := rec.OfType("kubernetes:storage.k8s.io/v1:StorageClass")
	require.Len(t, scs, 1)
	assert.Equal(t, "true", scs[0].String("parameters.encrypted"))
	assert.Equal(t, "gp3", scs[0].String("parameters.type"))
}

func TestAServiceMonitorPerServiceOnItsOpsPort(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	sms := rec.OfType(smType)
	require.Len(t, sms, 4)
	for _, sm := range sms {
		name := sm.String("metadata.name")
		assert.Equal(t, ServicesNamespace, sm.String("metadata.namespace"))
		assert.Equal(t, ChartName, sm.String("metadata.labels.release"), "selected by the release's Prometheus")
		spec, _ := sm.Input("spec")
		assert.Equal(t, name, at(spec, "selector", "matchLabels", "app.kubernetes.io/name"))
		assert.Equal(t, "ops", at(spec, "endpoints", "0", "port"), "the operations port's name (C2)")
	}
}

func TestRulesAndDashboardsAreDeployed(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	rules := rec.OfType(ruleType)
	require.Len(t, rules, 1)
	spec, ok := rules[0].Input("spec")
	require.True(t, ok)
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	for _, g := range observability.Rules(observability.DefaultObjectives()) {
		for _, r := range g.Rules {
			assert.Contains(t, string(b), `"alert":"`+r.Alert+`"`)
		}
	}
	cms := rec.OfType(cmType)
	require.Len(t, cms, 5)
	for _, cm := range cms {
		assert.Equal(t, "1", cm.String("metadata.labels."+DashboardLabel))
		assert.Equal(t, Namespace, cm.String("metadata.namespace"))
	}
}

func TestInvalidArgsNameTheField(t *testing.T) {
	bad := observability.DefaultObjectives()
	bad.ConsumerLag = 0
	_, err := run(t, func(a *MonitoringArgs) {
		a.Services = []string{"api-gateway", "api-gateway", "Bad_Name"}
		a.RetentionDays, a.StorageGiB, a.Region = 0, 5, ""
		a.AlarmTopicARN, a.AlertmanagerRoleARN = nil, nil
		a.Objectives = &bad
	})
	require.Error(t, err)
	for _, want := range []string{`services: "api-gateway" is not a distinct`, `services: "Bad_Name"`, "retentionDays:", "storageGiB:",
		"alarmTopicArn: required", "region: required", "alertmanagerRoleArn: required", "objectives: consumerLag:"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Contains(t, err.Error(), "monitoring monitoring: ")
}
