// Package tracing is the trace pipeline's component: the OpenTelemetry collector (the upstream
// chart as a pinned Helm release, a Deployment in the monitoring namespace) receives the
// services' spans over OTLP and exports them to AWS X-Ray through its own IRSA role.
//
// The services export OTLP/HTTP (port 4318) when OTEL_EXPORTER_OTLP_ENDPOINT names the
// collector (Endpoint); OTLP/gRPC (4317) is served too for other clients. The collector's
// configuration is given whole (the chart's alternateConfig, not merged with the chart's
// defaults), so that it runs exactly one pipeline: otlp -> memory_limiter -> batch -> awsxray.
// The Jaeger, Zipkin and Prometheus receivers of the chart's default are neither configured nor
// exposed.
//
// Why the OpenTelemetry collector rather than ADOT: the same contrib distribution (which holds
// the awsxray exporter) from its own chart, without the ADOT EKS add-on and its operator; it
// is one Deployment behind a ClusterIP Service.
//
// The role may only put trace segments (xray:PutTraceSegments; X-Ray has no resource-level
// permissions for it, hence Resource "*"), and only the collector's service account in its
// namespace may assume it. The collector samples nothing itself: the services' SDKs sample
// (parent-based, OTEL_TRACES_SAMPLER), so a trace is whole or absent.
//
// Network: a NetworkPolicy of its own admits OTLP from the client namespaces only, and lets the
// collector reach DNS and, on 443, the CIDRs where X-Ray and STS answer.
//
// Pod Security: restricted. Non-root, no privilege escalation, every capability dropped,
// read-only root filesystem, RuntimeDefault seccomp; no hostPath, no host port, no host network.
package tracing

import (
	"errors"
	"fmt"
	"net"
	"regexp"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/helmrelease"
	"github.com/cantondex/platform/components/identity"
)

// The chart, pinned (its appVersion pins the collector image, from the contrib distribution
// that carries the awsxray exporter).
const (
	ChartName       = "opentelemetry-collector"
	ChartRepository = "https://open-telemetry.github.io/opentelemetry-helm-charts"
	ChartVersion    = "0.158.3"
	Image           = "otel/opentelemetry-collector-contrib"
	ServiceAccount  = "opentelemetry-collector"
	// ReleaseName is the release's and so the Service's name (the chart's fullname is the
	// release name when it contains the chart's).
	ReleaseName = "opentelemetry-collector"
	// OTLPHTTPPort and OTLPGRPCPort are the Service's OTLP ports.
	OTLPHTTPPort = 4318
	OTLPGRPCPort = 4317
)

// Tracing is the collector, its role and its release.
type Tracing struct {
	pulumi.ResourceState

	RoleARN pulumi.StringOutput `pulumi:"roleArn"`
	Release pulumi.StringOutput `pulumi:"release"`
	// Endpoint is the OTLP/HTTP base URL for the services' OTEL_EXPORTER_OTLP_ENDPOINT.
	Endpoint pulumi.StringOutput `pulumi:"endpoint"`
}

// TracingArgs configures the trace pipeline.
type TracingArgs struct {
	// Namespace is the collector's namespace (created by the caller; DependsOn holds it).
	Namespace string
	DependsOn []pulumi.Resource
	// Region is the X-Ray region the segments go to (the cluster's).
	Region string
	// OIDCProviderARN and OIDCProviderURL (without https://) are the cluster's IRSA issuer.
	OIDCProviderARN pulumi.StringInput
	OIDCProviderURL pulumi.StringInput
	// Kubernetes is the provider of the cluster the release goes into.
	Kubernetes pulumi.ProviderResource
	// Replicas of the collector (0: 2, so that a node drain loses no span).
	Replicas int
	// ClientNamespaces are the namespaces whose pods may send spans (the services'): the
	// collector's NetworkPolicy admits OTLP from them only.
	ClientNamespaces []string
	// AWSAPICIDRs are where the collector reaches X-Ray and STS (IRSA) over HTTPS: the VPC's
	// CIDR when it has interface endpoints for them, 0.0.0.0/0 through a NAT otherwise.
	AWSAPICIDRs []string
	// MemoryLimitMiB is the collector container's memory limit (0: 512); its memory_limiter
	// refuses data (the SDKs retry) at 80% of it instead of being OOM-killed.
	MemoryLimitMiB int
	Tags           map[string]string
}

var (
	namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	awsRegion     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

func (a TracingArgs) validate() error {
	var errs []error
	if !namespaceName.MatchString(a.Namespace) || len(a.Namespace) > 63 {
		errs = append(errs, fmt.Errorf("namespace: %q is not a Kubernetes namespace name", a.Namespace))
	}
	if len(a.ClientNamespaces) == 0 {
		errs = append(errs, errors.New("clientNamespaces: at least one namespace must be able to send spans"))
	}
	for _, ns := range a.ClientNamespaces {
		if !namespaceName.MatchString(ns) || len(ns) > 63 {
			errs = append(errs, fmt.Errorf("clientNamespaces: %q is not a Kubernetes namespace name", ns))
		}
	}
	if len(a.AWSAPICIDRs) == 0 {
		errs = append(errs, errors.New("awsApiCidrs: required: where the collector reaches X-Ray and STS"))
	}
	for _, c := range a.AWSAPICIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, fmt.Errorf("awsApiCidrs: %q is not a CIDR", c))
		}
	}
	if !awsRegion.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not an AWS region", a.Region))
	}
	if a.OIDCProviderARN == nil || a.OIDCProviderURL == nil {
		errs = append(errs, errors.New("oidcProviderArn, oidcProviderUrl: required for the IRSA role"))
	}
	if a.Kubernetes == nil {
		errs = append(errs, errors.New("kubernetes: a provider for the cluster is required (never the ambient kubeconfig)"))
	}
	if a.Replicas < 0 || a.Replicas > 20 {
		errs = append(errs, fmt.Errorf("replicas: %d is outside 0 to 20", a.Replicas))
	}
	if a.MemoryLimitMiB != 0 && (a.MemoryLimitMiB < 128 || a.MemoryLimitMiB > 16384) {
		errs = append(errs, fmt.Errorf("memoryLimitMiB: %d is outside 128 to 16384", a.MemoryLimitMiB))
	}
	return errors.Join(errs...)
}

func (a TracingArgs) replicas() int {
	if a.Replicas == 0 {
		return 2
	}
	return a.Replicas
}

func (a TracingArgs) memoryLimit() int {
	if a.MemoryLimitMiB == 0 {
		return 512
	}
	return a.MemoryLimitMiB
}

// Policy lets the collector put trace segments into X-Ray, and nothing else.
func Policy() identity.Document {
	return identity.Document{Statements: []identity.Statement{{
		Sid:       "PutTraceSegments",
		Actions:   []string{"xray:PutTraceSegments"},
		Resources: identity.Strings("*"), // X-Ray has no resource-level permissions for it
	}}}
}

// Endpoint is the OTLP/HTTP base URL of the collector's Service in namespace.
func Endpoint(namespace string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", ReleaseName, namespace, OTLPHTTPPort)
}

// NewTracing creates the collector's IRSA role and its release.
func NewTracing(ctx *pulumi.Context, name string, args TracingArgs, opts ...pulumi.ResourceOption) (*Tracing, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("tracing %s: %w", name, err)
	}
	c := &Tracing{}
	if err := ctx.RegisterComponentResource("cantondex:tracing:Tracing", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	policy := Policy()
	role, err := identity.NewServiceAccountRole(ctx, name, identity.ServiceAccountRoleArgs{
		OIDCProviderARN: args.OIDCProviderARN, OIDCProviderURL: args.OIDCProviderURL,
		Namespace: args.Namespace, ServiceAccount: ServiceAccount, Policy: &policy, Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	release, err := helmrelease.New(ctx, name, helmrelease.Args{
		Name:      ReleaseName,
		Chart:     helmrelease.Chart{Name: ChartName, Repo: ChartRepository, Version: ChartVersion},
		Namespace: args.Namespace,
		Values:    values(args, role.RoleARN),
	}, parent, pulumi.Provider(args.Kubernetes), pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}

	if _, err := networkPolicy(ctx, name, args, parent); err != nil {
		return nil, err
	}

	c.RoleARN, c.Release = role.RoleARN, release.Name.Elem()
	c.Endpoint = pulumi.String(Endpoint(args.Namespace)).ToStringOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": c.RoleARN, "release": c.Release, "endpoint": c.Endpoint})
}

// podLabels select the collector's pods (the chart's labels).
func podLabels() pulumi.StringMap {
	return pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(ChartName), "app.kubernetes.io/instance": pulumi.String(ReleaseName)}
}

// networkPolicy admits OTLP from the client namespaces only and lets the collector reach
// DNS and, over HTTPS, X-Ray and STS: the monitoring namespace denies everything else.
func networkPolicy(ctx *pulumi.Context, name string, args TracingArgs, parent pulumi.ResourceOption) (*networkingv1.NetworkPolicy, error) {
	tcp, udp := pulumi.String("TCP"), pulumi.String("UDP")
	var clients networkingv1.NetworkPolicyPeerArray
	for _, ns := range args.ClientNamespaces {
		clients = append(clients, networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: metav1.LabelSelectorArgs{
			MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)}}})
	}
	var aws networkingv1.NetworkPolicyPeerArray
	for _, c := range args.AWSAPICIDRs {
		aws = append(aws, networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String(c)}})
	}
	return networkingv1.NewNetworkPolicy(ctx, name+"-collector", &networkingv1.NetworkPolicyArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(ReleaseName), Namespace: pulumi.String(args.Namespace)},
		Spec: networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: podLabels()},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: clients,
				Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(OTLPHTTPPort), Protocol: tcp},
					networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(OTLPGRPCPort), Protocol: tcp},
				},
			}},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{
				networkingv1.NetworkPolicyEgressRuleArgs{
					To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
						NamespaceSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String("kube-system")}},
						PodSelector:       metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}},
					}},
					Ports: networkingv1.NetworkPolicyPortArray{
						networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(53), Protocol: udp},
						networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(53), Protocol: tcp},
					},
				},
				networkingv1.NetworkPolicyEgressRuleArgs{
					To:    aws,
					Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(443), Protocol: tcp}},
				},
			},
		},
	}, parent, pulumi.Provider(args.Kubernetes), pulumi.DependsOn(args.DependsOn))
}

// config is the collector's whole configuration: one traces pipeline from OTLP to X-Ray.
func (a TracingArgs) config() pulumi.Map {
	return pulumi.Map{
		"extensions": pulumi.Map{
			"health_check": pulumi.Map{"endpoint": pulumi.String("${env:MY_POD_IP}:13133")},
		},
		"receivers": pulumi.Map{
			"otlp": pulumi.Map{"protocols": pulumi.Map{
				"http": pulumi.Map{"endpoint": pulumi.Sprintf("${env:MY_POD_IP}:%d", OTLPHTTPPort)},
				"grpc": pulumi.Map{"endpoint": pulumi.Sprintf("${env:MY_POD_IP}:%d", OTLPGRPCPort)},
			}},
		},
		"processors": pulumi.Map{
			"memory_limiter": pulumi.Map{
				"check_interval": pulumi.String("1s"), "limit_percentage": pulumi.Int(80), "spike_limit_percentage": pulumi.Int(25),
			},
			"batch": pulumi.Map{"timeout": pulumi.String("5s"), "send_batch_size": pulumi.Int(512)},
		},
		"exporters": pulumi.Map{
			"awsxray": pulumi.Map{
				"region": pulumi.String(a.Region),
				// Searchable in X-Ray: the route and the topic of a span.
				"indexed_attributes": pulumi.StringArray{
					pulumi.String("http.route"), pulumi.String("messaging.destination.name"), pulumi.String("messaging.consumer.group.name"),
				},
			},
		},
		"service": pulumi.Map{
			"extensions": pulumi.StringArray{pulumi.String("health_check")},
			"pipelines": pulumi.Map{
				"traces": pulumi.Map{
					"receivers":  pulumi.StringArray{pulumi.String("otlp")},
					"processors": pulumi.StringArray{pulumi.String("memory_limiter"), pulumi.String("batch")},
					"exporters":  pulumi.StringArray{pulumi.String("awsxray")},
				},
			},
		},
	}
}

// values are the chart's values: the configuration, IRSA, the OTLP ports only, and a
// restricted pod.
func values(args TracingArgs, roleARN pulumi.StringOutput) pulumi.Map {
	off := pulumi.Map{"enabled": pulumi.Bool(false)}
	return pulumi.Map{
		"mode":            pulumi.String("deployment"),
		"replicaCount":    pulumi.Int(args.replicas()),
		"image":           pulumi.Map{"repository": pulumi.String(Image)},
		"alternateConfig": args.config(),
		"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(ServiceAccount),
			"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": roleARN},
		},
		"ports": pulumi.Map{
			"otlp":           pulumi.Map{"enabled": pulumi.Bool(true)},
			"otlp-http":      pulumi.Map{"enabled": pulumi.Bool(true)},
			"jaeger-compact": off, "jaeger-thrift": off, "jaeger-grpc": off, "zipkin": off,
		},
		"service":             pulumi.Map{"type": pulumi.String("ClusterIP")},
		"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)},
		"podSecurityContext": pulumi.Map{
			"runAsNonRoot": pulumi.Bool(true), "runAsUser": pulumi.Int(10001), "runAsGroup": pulumi.Int(10001),
			"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
		},
		"securityContext": pulumi.Map{
			"allowPrivilegeEscalation": pulumi.Bool(false),
			"readOnlyRootFilesystem":   pulumi.Bool(true),
			"privileged":               pulumi.Bool(false),
			"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
		},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.Sprintf("%dMi", args.memoryLimit()/2)},
			"limits":   pulumi.Map{"memory": pulumi.Sprintf("%dMi", args.memoryLimit())},
		},
		// Spread over nodes and zones, so that one failure loses no span buffer of all replicas.
		"topologySpreadConstraints": pulumi.Array{pulumi.Map{
			"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"),
			"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
			"labelSelector":     pulumi.Map{"matchLabels": podLabels()},
		}},
	}
}
