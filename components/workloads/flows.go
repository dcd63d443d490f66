package workloads

import (
	"slices"

	"github.com/cantondex/platform/components/tracing"
	"github.com/cantondex/platform/services/catalog"
)

// Flow endpoints that are not catalog services (CONTRACTS C3), as the catalog names them.
const (
	DNS        = catalog.EndpointDNS        // kube-system's kube-dns pods, 53 UDP and TCP
	ALB        = catalog.EndpointALB        // the load balancer's nodes, in the VPC's public subnets
	Prometheus = catalog.EndpointPrometheus // pods app.kubernetes.io/name=prometheus in the monitoring namespace
	Postgres   = catalog.EndpointPostgres   // the RDS Proxy and instances, in the database subnets
	Redis      = catalog.EndpointRedis      // ElastiCache, in the private subnets
	Kafka      = catalog.EndpointKafka      // MSK with IAM authentication, in the private subnets
	AWSAPI     = catalog.EndpointAWSAPI     // the VPC's interface endpoints (STS for IRSA), in the private subnets
	KubeAPI    = catalog.EndpointKubeAPI    // the EKS control plane's network interfaces, in the cluster's subnets (the VPC)
	Internet   = catalog.EndpointInternet   // anything outside the VPC (through the NAT gateways)
	Tracing    = catalog.EndpointTracing    // pods app.kubernetes.io/name=opentelemetry-collector (components/tracing) in the monitoring namespace
)

// CollectorName is the app.kubernetes.io/name of the OpenTelemetry collector's pods (the
// chart's name, tracing.ChartName).
const CollectorName = tracing.ChartName

// Flow is one connection the platform needs (catalog.Flow).
type Flow = catalog.Flow

// Flows returns every connection the services need, from their catalog entries
// (catalog.Service.Flows): NetworkPolicies are generated from this list and allow nothing else.
func Flows(services []catalog.Service) []Flow {
	var out []Flow
	for _, s := range services {
		out = append(out, s.Flows()...)
	}
	return out
}

// usesIAM reports whether s signs requests with its IRSA role (catalog.Service.IAMAuth).
func usesIAM(s catalog.Service) bool { return s.IAMAuth() }

// flowsOf returns the flows from (egress) or to (ingress) one service.
func flowsOf(all []Flow, name string, egress bool) []Flow {
	return slices.DeleteFunc(slices.Clone(all), func(f Flow) bool {
		if egress {
			return f.From != name
		}
		return f.To != name
	})
}
