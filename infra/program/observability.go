package program

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/autoscaling"
	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/logging"
	"github.com/cantondex/platform/components/monitoring"
	"github.com/cantondex/platform/components/observability"
	"github.com/cantondex/platform/components/tracing"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// The Secrets Manager secrets the monitoring namespace reads through the secret store (their
// values are put out of band, like the catalog's): Grafana's admin login, JSON with the
// properties user and password, and the pager/chat webhook's URL, a plain string.
const (
	GrafanaAdminSecretName = "cantondex-grafana-admin"
	PagerURLSecretName     = "cantondex-alertmanager-pager-url"
)

// monitoringSecrets are those secrets' names, sorted.
func monitoringSecrets() []string { return []string{PagerURLSecretName, GrafanaAdminSecretName} }

// FluentBitName is the app.kubernetes.io/name of the Fluent Bit chart's pods: the only pods the
// privileged logging namespace runs (policy logging-namespace-fluent-bit-only).
const FluentBitName = "fluent-bit"

// Observability is what watches the platform.
type Observability struct {
	Monitoring  *monitoring.Monitoring
	Logging     *logging.Logging
	Autoscaling *autoscaling.Autoscaling
	Tracing     *tracing.Tracing
}

// observabilityResource is the component holding the metrics stack, log shipping, the trace
// collector, the cluster autoscaler and what they need from the program (the Alertmanager's role, the
// monitoring namespace's ExternalSecrets and the NetworkPolicies of the monitoring and logging namespaces).
type observabilityResource struct {
	pulumi.ResourceState
}

// ScrapedServices are the catalog services Prometheus scrapes: those with an operations port.
func ScrapedServices() []string {
	var out []string
	for _, svc := range catalog.All() {
		if svc.OpsPort != 0 {
			out = append(out, svc.Name)
		}
	}
	return out
}

// observe deploys the cluster autoscaler, Fluent Bit, the metrics stack (kube-prometheus-stack
// with a ServiceMonitor per scraped catalog service, the rules and dashboards of
// components/observability, Alertmanager routed by severity to the data tier's SNS topic and
// the pager) and the trace collector (OTLP from the services to X-Ray) on the foundation, the
// data tier and the platform.
func observe(ctx *pulumi.Context, s stacks.Settings, f *Foundation, d *Data, p *Platform) (*Observability, error) {
	switch {
	case d == nil || p == nil:
		return nil, ctx.Log.Warn("observability skipped: no data tier or platform (the alarm topic, the namespaces)", nil)
	case !set(f.OIDCProviderARN) || !set(f.OIDCProviderURL):
		return nil, ctx.Log.Warn("observability skipped: no OIDC provider (the autoscaler, Fluent Bit and Alertmanager need IRSA)", nil)
	case p.SecretStore == "":
		return nil, ctx.Log.Warn("observability skipped: no secret store for Grafana's and the pager's secrets", nil)
	}
	base := "cdx-" + string(s.Environment) + "-observability" // every child's name starts with its component's
	comp := &observabilityResource{}
	if err := ctx.RegisterComponentResource("cantondex:platform:Observability", base, comp); err != nil {
		return nil, err
	}
	in := pulumi.Parent(comp)
	k8s := pulumi.Provider(f.Kubernetes)
	o := &Observability{}
	var err error

	unneeded, afterAdd := s.Autoscaling.Durations()
	if o.Autoscaling, err = autoscaling.NewAutoscaling(ctx, base+"-autoscaler", autoscaling.AutoscalingArgs{
		ClusterName: f.ClusterName, KubernetesVersion: s.Cluster.Version, Region: s.Region,
		OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL, Kubernetes: f.Kubernetes,
		ScaleDownUnneededTime: unneeded, ScaleDownDelayAfterAdd: afterAdd,
		ScaleDownUtilizationThreshold: s.Autoscaling.ScaleDownUtilizationThreshold, Tags: s.Tags,
	}, in); err != nil {
		return nil, err
	}

	if o.Logging, err = logging.NewLogging(ctx, base+"-logging", logging.LoggingArgs{
		Namespace: LoggingNamespace, DependsOn: []pulumi.Resource{p.Namespaces[LoggingNamespace]},
		ApplicationNamespace: AppNamespace, LogGroupPrefix: "/cantondex/" + string(s.Environment),
		RetentionDays: s.Logging.RetentionDays, KMSKeyARN: f.LogsKeyARN, Region: s.Region,
		OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL, Kubernetes: f.Kubernetes,
		BufferLimitMiB: s.Logging.BufferLimitMiB, Tags: s.Tags,
	}, in); err != nil {
		return nil, err
	}
	if err := loggingNetworkPolicies(ctx, base, k8s, in); err != nil {
		return nil, err
	}

	// Alertmanager publishes to the (KMS-encrypted) alarm topic through its own role.
	amPolicy := identity.Document{Statements: []identity.Statement{
		{Sid: "PublishAlerts", Actions: []string{"sns:Publish"}, Resources: []pulumi.StringInput{d.AlarmTopic.ARN}},
		{Sid: "AlarmTopicKey", Actions: []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resources: []pulumi.StringInput{d.AlarmTopic.KeyARN}},
	}}
	amRole, err := identity.NewServiceAccountRole(ctx, base+"-alertmanager", identity.ServiceAccountRoleArgs{
		OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL,
		Namespace: MonitoringNamespace, ServiceAccount: monitoring.AlertmanagerServiceAccount, Policy: &amPolicy, Tags: s.Tags,
	}, in)
	if err != nil {
		return nil, err
	}
	secrets, err := monitoringExternalSecrets(ctx, base, p, k8s, in)
	if err != nil {
		return nil, err
	}
	objectives := observability.DefaultObjectives()
	objectives.Availability, objectives.LatencyObjective = s.Observability.Availability, s.Observability.LatencyObjective
	objectives.ConsumerLag = s.Observability.ConsumerLag
	after := append([]pulumi.Resource{p.Namespaces[MonitoringNamespace], p.Namespaces[AppNamespace]}, secrets...)
	if o.Monitoring, err = monitoring.NewMonitoring(ctx, base+"-monitoring", monitoring.MonitoringArgs{
		Services:      ScrapedServices(),
		RetentionDays: s.Observability.RetentionDays, StorageGiB: s.Observability.StorageGiB,
		AlarmTopicARN: d.AlarmTopic.ARN, Region: s.Region, AlertmanagerRoleARN: amRole.RoleARN,
		Objectives: &objectives, DependsOn: after,
	}, in, k8s); err != nil {
		return nil, err
	}

	if err := monitoringNetworkPolicies(ctx, base, s, k8s, in); err != nil {
		return nil, err
	}

	// Traces: the OpenTelemetry collector receives the services' OTLP (their
	// OTEL_EXPORTER_OTLP_ENDPOINT, catalog.TracingEndpoint; their egress to it is the catalog's
	// flow to EndpointTracing) and puts the segments into X-Ray through its IRSA role. X-Ray
	// and STS answer at the VPC's interface endpoints (network.DefaultInterfaceEndpoints has
	// xray and sts), in the private subnets: the collector's HTTPS egress goes there only.
	cidrs, err := s.Network.Subnets()
	if err != nil {
		return nil, fmt.Errorf("%s:network.cidr: %w", stacks.Namespace, err)
	}
	n := s.Network.AZCount
	if o.Tracing, err = tracing.NewTracing(ctx, base+"-tracing", tracing.TracingArgs{
		Namespace: MonitoringNamespace, DependsOn: []pulumi.Resource{p.Namespaces[MonitoringNamespace]},
		Region: s.Region, OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL, Kubernetes: f.Kubernetes,
		ClientNamespaces: []string{AppNamespace}, AWSAPICIDRs: cidrs[n : 2*n], Tags: s.Tags,
	}, in); err != nil {
		return nil, err
	}

	ctx.Export("observability.autoscalerRoleArn", o.Autoscaling.RoleARN)
	ctx.Export("observability.fluentBitRoleArn", o.Logging.RoleARN)
	ctx.Export("observability.logGroups", pulumi.StringArray{o.Logging.ApplicationLogGroup, o.Logging.ClusterLogGroup})
	ctx.Export("observability.alertmanagerRoleArn", amRole.RoleARN)
	ctx.Export("observability.tracingRoleArn", o.Tracing.RoleARN)
	return o, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"autoscalerRoleArn": o.Autoscaling.RoleARN, "fluentBitRoleArn": o.Logging.RoleARN, "alertmanagerRoleArn": amRole.RoleARN,
		"tracingRoleArn": o.Tracing.RoleARN,
	})
}

// monitoringExternalSecrets syncs Grafana's admin login and the pager's URL from Secrets
// Manager into the Kubernetes Secrets the chart reads (monitoring.GrafanaAdminSecret with keys
// user and password, observability.PagerSecret with key url).
func monitoringExternalSecrets(ctx *pulumi.Context, base string, p *Platform, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	type key struct{ secretKey, property string }
	specs := []struct {
		name, remote string
		keys         []key
	}{
		{monitoring.GrafanaAdminSecret, GrafanaAdminSecretName, []key{{"user", "user"}, {"password", "password"}}},
		{observability.PagerSecret, PagerURLSecretName, []key{{observability.PagerSecretKey, ""}}},
	}
	after := pulumi.DependsOn(append([]pulumi.Resource{p.Namespaces[MonitoringNamespace]}, p.Releases...))
	var out []pulumi.Resource
	for _, sp := range specs {
		remote, ok := p.SecretKeys[sp.remote]
		if !ok {
			return nil, fmt.Errorf("the platform has no Secrets Manager secret %s for %s/%s", sp.remote, MonitoringNamespace, sp.name)
		}
		var data pulumi.MapArray
		for _, k := range sp.keys {
			ref := pulumi.Map{"key": remote}
			if k.property != "" {
				ref["property"] = pulumi.String(k.property)
			}
			data = append(data, pulumi.Map{"secretKey": pulumi.String(k.secretKey), "remoteRef": ref})
		}
		es, err := apiextensions.NewCustomResource(ctx, base+"-secret-"+sp.name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("external-secrets.io/v1"), Kind: pulumi.String("ExternalSecret"),
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(sp.name), Namespace: pulumi.String(MonitoringNamespace),
				Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cantondex")}},
			OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
				"refreshInterval": pulumi.String("1h"),
				"secretStoreRef":  pulumi.Map{"kind": pulumi.String("ClusterSecretStore"), "name": pulumi.String(p.SecretStore)},
				"target": pulumi.Map{
					"name": pulumi.String(sp.name), "creationPolicy": pulumi.String("Owner"), "deletionPolicy": pulumi.String("Retain"),
				},
				"data": data,
			}},
		}, append(opts, after)...)
		if err != nil {
			return nil, err
		}
		out = append(out, es)
	}
	return out, nil
}

// loggingNetworkPolicies let Fluent Bit, under the logging namespace's default deny (written
// with the workloads), resolve names and reach HTTPS: CloudWatch Logs, STS for IRSA, and the
// Kubernetes API its kubernetes filter reads pod metadata from. Nothing may connect to it.
func loggingNetworkPolicies(ctx *pulumi.Context, base string, opts ...pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, base+"-netpol-logging-fluent-bit-egress", &networkingv1.NetworkPolicyArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String("fluent-bit-egress"), Namespace: pulumi.String(LoggingNamespace),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cantondex")}},
		Spec: networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(FluentBitName)}},
			PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress:      dnsAndHTTPSEgress(),
		},
	}, opts...)
	return err
}

// monitoringNetworkPolicies open, under the monitoring namespace's default deny (written with
// the workloads), what the metrics stack needs beyond Prometheus's scrape of the services (the
// workloads write that one, from the catalog's flows): its pods with each other (Grafana and
// Prometheus, Prometheus and the Alertmanager, the exporters); DNS and HTTPS out (the
// Kubernetes API for discovery, SNS, STS and the pager's webhook); Prometheus to the nodes'
// kubelet (cAdvisor) and node-exporter in the VPC; and the control plane to the operator's
// admission webhook.
func monitoringNetworkPolicies(ctx *pulumi.Context, base string, s stacks.Settings, opts ...pulumi.ResourceOption) error {
	tcp := pulumi.String("TCP")
	port := func(proto pulumi.String, n int) networkingv1.NetworkPolicyPortArgs {
		return networkingv1.NetworkPolicyPortArgs{Protocol: proto, Port: pulumi.Int(n)}
	}
	vpc := networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String(s.Network.CIDR)}}}
	sameNamespace := networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: metav1.LabelSelectorArgs{}}}
	all := metav1.LabelSelectorArgs{}
	policies := []struct {
		name string
		spec networkingv1.NetworkPolicySpecArgs
	}{
		{"within-namespace", networkingv1.NetworkPolicySpecArgs{
			PodSelector: all, PolicyTypes: pulumi.ToStringArray([]string{"Ingress", "Egress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{From: sameNamespace}},
			Egress:  networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{To: sameNamespace}},
		}},
		{"egress-dns-and-https", networkingv1.NetworkPolicySpecArgs{
			PodSelector: all, PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress: dnsAndHTTPSEgress(),
		}},
		{"prometheus-scrape-nodes", networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("prometheus")}},
			PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: vpc, Ports: networkingv1.NetworkPolicyPortArray{port(tcp, 10250), port(tcp, 9100)},
			}},
		}},
		{"ingress-operator-webhook-from-vpc", networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String("kube-prometheus-stack-operator")}},
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: vpc, Ports: networkingv1.NetworkPolicyPortArray{port(tcp, 10250)},
			}},
		}},
	}
	for _, np := range policies {
		if _, err := networkingv1.NewNetworkPolicy(ctx, base+"-netpol-monitoring-"+np.name, &networkingv1.NetworkPolicyArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(np.name), Namespace: pulumi.String(MonitoringNamespace),
				Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cantondex")}},
			Spec: np.spec,
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}
