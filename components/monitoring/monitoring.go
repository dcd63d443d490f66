// Package monitoring deploys the platform's metrics stack in the cluster: kube-prometheus-stack
// (Prometheus on encrypted gp3 storage, Alertmanager, Grafana, kube-state-metrics,
// node-exporter) as a pinned Helm release, a ServiceMonitor per catalog service (its
// operations port), the alerting rules as a PrometheusRule and the dashboards as ConfigMaps the
// Grafana sidecar loads, all from components/observability.
package monitoring

import (
	"errors"
	"fmt"
	"regexp"

	apiextensions "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/helmrelease"
	"github.com/cantondex/platform/components/observability"
)

// The chart, pinned. Its CRDs are those of prometheus-operator v0.85.0.
const (
	ChartName    = "kube-prometheus-stack"
	ChartRepo    = "https://prometheus-community.github.io/helm-charts"
	ChartVersion = "77.0.0"
)

// Names in the cluster (C2).
const (
	Namespace         = "cantondex-monitoring"
	ServicesNamespace = observability.Namespace
	OpsPort           = "ops" // the name of every catalog Service's operations port (9090)
	StorageClass      = "gp3-encrypted"
	DashboardLabel    = "grafana_dashboard" // the Grafana sidecar loads ConfigMaps with this label
	// SelectorLabel is the label the release's Prometheus selects ServiceMonitors and
	// PrometheusRules by (the chart's default: release=<release name>).
	SelectorLabel = "release"
	// GrafanaAdminSecret holds Grafana's admin user and password (keys user, password),
	// synced from Secrets Manager; the chart's default password is never used.
	GrafanaAdminSecret = "grafana-admin"
	// AlertmanagerServiceAccount is the Alertmanager's service account, named in the values
	// so that its IRSA role can trust exactly it.
	AlertmanagerServiceAccount = "kube-prometheus-stack-alertmanager"
)

// Monitoring is the deployed metrics stack.
type Monitoring struct {
	pulumi.ResourceState

	Release pulumi.StringOutput `pulumi:"release"` // the Helm release's status name
}

// MonitoringArgs configures the stack.
type MonitoringArgs struct {
	// Services are the catalog services Prometheus scrapes (one ServiceMonitor each).
	Services []string
	// RetentionDays and StorageGiB size Prometheus's time series database.
	RetentionDays int
	StorageGiB    int
	// AlarmTopicARN is the data tier's SNS topic; Region its region.
	AlarmTopicARN pulumi.StringInput
	Region        string
	// AlertmanagerRoleARN is the IRSA role of the Alertmanager's service account (sns:Publish
	// to the topic, and use of its KMS key).
	AlertmanagerRoleARN pulumi.StringInput
	// Objectives shape the alerting rules (zero value: observability.DefaultObjectives()).
	Objectives *observability.Objectives
	// DependsOn are resources the release must wait for (the namespace, the EBS CSI driver).
	DependsOn []pulumi.Resource
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (a MonitoringArgs) validate() error {
	var errs []error
	if len(a.Services) == 0 {
		errs = append(errs, errors.New("services: at least one catalog service to scrape"))
	}
	seen := map[string]bool{}
	for _, s := range a.Services {
		if !dnsLabel.MatchString(s) || seen[s] {
			errs = append(errs, fmt.Errorf("services: %q is not a distinct DNS label", s))
		}
		seen[s] = true
	}
	if a.RetentionDays < 1 {
		errs = append(errs, fmt.Errorf("retentionDays: must be at least 1, got %d", a.RetentionDays))
	}
	if a.StorageGiB < 10 {
		errs = append(errs, fmt.Errorf("storageGiB: must be at least 10, got %d", a.StorageGiB))
	}
	if a.AlarmTopicARN == nil {
		errs = append(errs, errors.New("alarmTopicArn: required"))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required"))
	}
	if a.AlertmanagerRoleARN == nil {
		errs = append(errs, errors.New("alertmanagerRoleArn: required (IRSA for SNS)"))
	}
	if a.Objectives != nil {
		if err := a.Objectives.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("objectives: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NewMonitoring deploys the metrics stack.
func NewMonitoring(ctx *pulumi.Context, name string, args MonitoringArgs, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("monitoring %s: %w", name, err)
	}
	objectives := observability.DefaultObjectives()
	if args.Objectives != nil {
		objectives = *args.Objectives
	}
	dashboards, err := observability.Dashboards()
	if err != nil {
		return nil, fmt.Errorf("monitoring %s: %w", name, err)
	}
	m := &Monitoring{}
	if err := ctx.RegisterComponentResource("cantondex:monitoring:Monitoring", name, m, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(m)

	sc, err := storagev1.NewStorageClass(ctx, name+"-gp3", &storagev1.StorageClassArgs{
		Metadata:             metav1.ObjectMetaArgs{Name: pulumi.String(StorageClass)},
		Provisioner:          pulumi.String("ebs.csi.aws.com"),
		Parameters:           pulumi.StringMap{"type": pulumi.String("gp3"), "encrypted": pulumi.String("true")},
		ReclaimPolicy:        pulumi.String("Retain"),
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, err
	}

	amConfig := pulumi.All(args.AlarmTopicARN).ApplyT(func(v []any) (map[string]any, error) {
		return observability.AlertmanagerConfig(observability.Receivers{TopicARN: v[0].(string), Region: args.Region})
	})
	release, err := helmrelease.New(ctx, name, helmrelease.Args{
		Chart:     helmrelease.Chart{Name: ChartName, Repo: ChartRepo, Version: ChartVersion},
		Namespace: Namespace,
		Values:    values(args, amConfig),
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{sc}, args.DependsOn...)))
	if err != nil {
		return nil, err
	}
	after := pulumi.DependsOn([]pulumi.Resource{release}) // the CRDs come with the chart
	selected := pulumi.StringMap{SelectorLabel: pulumi.String(ChartName), "app.kubernetes.io/part-of": pulumi.String("cantondex")}

	for _, svc := range args.Services {
		if _, err := apiextensions.NewCustomResource(ctx, name+"-"+svc, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("monitoring.coreos.com/v1"), Kind: pulumi.String("ServiceMonitor"),
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(svc), Namespace: pulumi.String(ServicesNamespace), Labels: selected},
			OtherFields: map[string]any{"spec": map[string]any{
				"selector":          map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": svc}},
				"namespaceSelector": map[string]any{"matchNames": []any{ServicesNamespace}},
				"endpoints":         []any{map[string]any{"port": OpsPort, "path": "/metrics", "interval": "30s", "scheme": "http"}},
			}},
		}, parent, after); err != nil {
			return nil, err
		}
	}

	if err := observability.Check(observability.Rules(objectives)); err != nil {
		return nil, fmt.Errorf("monitoring %s: %w", name, err)
	}
	if _, err := apiextensions.NewCustomResource(ctx, name+"-rules", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"), Kind: pulumi.String("PrometheusRule"),
		Metadata:    metav1.ObjectMetaArgs{Name: pulumi.String("cantondex"), Namespace: pulumi.String(Namespace), Labels: selected},
		OtherFields: map[string]any{"spec": observability.RuleSpec(observability.Rules(objectives))},
	}, parent, after); err != nil {
		return nil, err
	}

	for _, d := range dashboards {
		if _, err := corev1.NewConfigMap(ctx, name+"-"+d.UID, &corev1.ConfigMapArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(d.UID), Namespace: pulumi.String(Namespace),
				Labels: pulumi.StringMap{DashboardLabel: pulumi.String("1"), "app.kubernetes.io/part-of": pulumi.String("cantondex")}},
			Data: pulumi.StringMap{d.File(): pulumi.String(string(d.JSON))},
		}, parent, after); err != nil {
			return nil, err
		}
	}

	m.Release = release.Name.Elem()
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{"release": m.Release})
}

// values are the chart's values.
func values(a MonitoringArgs, alertmanager pulumi.Output) pulumi.Map {
	restricted := pulumi.Map{
		"runAsNonRoot": pulumi.Bool(true), "runAsUser": pulumi.Int(65534), "fsGroup": pulumi.Int(65534),
		"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
	}
	return pulumi.Map{
		"prometheus": pulumi.Map{"prometheusSpec": pulumi.Map{
			"retention":       pulumi.Sprintf("%dd", a.RetentionDays),
			"securityContext": restricted,
			"storageSpec": pulumi.Map{"volumeClaimTemplate": pulumi.Map{"spec": pulumi.Map{
				"storageClassName": pulumi.String(StorageClass),
				"accessModes":      pulumi.ToStringArray([]string{"ReadWriteOnce"}),
				"resources":        pulumi.Map{"requests": pulumi.Map{"storage": pulumi.Sprintf("%dGi", a.StorageGiB)}},
			}}},
		}},
		"alertmanager": pulumi.Map{
			"config": alertmanager,
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true), "name": pulumi.String(AlertmanagerServiceAccount), "annotations": pulumi.Map{
				"eks.amazonaws.com/role-arn": a.AlertmanagerRoleARN,
			}},
			"alertmanagerSpec": pulumi.Map{
				"secrets":         pulumi.ToStringArray([]string{observability.PagerSecret}),
				"securityContext": restricted,
			},
		},
		"grafana": pulumi.Map{
			"admin":   pulumi.Map{"existingSecret": pulumi.String(GrafanaAdminSecret), "userKey": pulumi.String("user"), "passwordKey": pulumi.String("password")},
			"sidecar": pulumi.Map{"dashboards": pulumi.Map{"enabled": pulumi.Bool(true), "label": pulumi.String(DashboardLabel), "labelValue": pulumi.String("1"), "searchNamespace": pulumi.String(Namespace)}},
		},
		"kubeStateMetrics": pulumi.Map{"enabled": pulumi.Bool(true)},
		"nodeExporter":     pulumi.Map{"enabled": pulumi.Bool(true)},
		// node-exporter needs the host's network and PID namespaces, which the restricted
		// Pod Security level of the monitoring namespace forbids: it runs in kube-system.
		"prometheus-node-exporter": pulumi.Map{"namespaceOverride": pulumi.String("kube-system")},
	}
}
