package catalog

import (
	"cmp"
	"fmt"
	"slices"
)

// Flow endpoints that are not catalog services: the names the NetworkPolicies' reachability is
// expressed in (a service is named by its catalog name).
const (
	EndpointDNS        = "dns"            // kube-system's kube-dns pods
	EndpointALB        = "alb"            // the internet-facing ALB in the VPC's public subnets
	EndpointPrometheus = "prometheus"     // Prometheus in the monitoring namespace
	EndpointPostgres   = "postgres"       // the RDS Proxy
	EndpointRedis      = "redis"          // ElastiCache
	EndpointKafka      = "kafka"          // MSK's SASL/IAM listener
	EndpointAWSAPI     = "aws-api"        // the VPC's interface endpoints (STS for IRSA and the other AWS APIs)
	EndpointTracing    = "otel-collector" // the OpenTelemetry collector (OTLP/HTTP) in the monitoring namespace
	EndpointKubeAPI    = "kube-api"       // the Kubernetes API server (the EKS control plane's network interfaces in the cluster's subnets)
	EndpointInternet   = "internet"       // any address outside the VPC (through the NAT gateways)
)

// The destination ports of those endpoints.
const (
	DNSPort      = 53
	PostgresPort = 5432
	RedisPort    = 6379
	KafkaIAMPort = 9098
	AWSAPIPort   = 443
	TracingPort  = 4318 // OTLP/HTTP
	KubeAPIPort  = 443
	HTTPSPort    = 443
)

// TracingEndpoint is the collector's OTLP/HTTP base URL, the long-running services'
// OTEL_EXPORTER_OTLP_ENDPOINT: the Service of components/tracing's release in the monitoring
// namespace (tracing.Endpoint; infra/program's tests keep the two equal).
const TracingEndpoint = "http://opentelemetry-collector.cantondex-monitoring.svc.cluster.local:4318"

// Protocols of a flow.
const (
	TCP = "TCP"
	UDP = "UDP"
)

// Flow is one network path a service needs: From reaches To on Port/Protocol (the destination's
// port). Endpoints are catalog service names or the Endpoint constants.
type Flow struct {
	From, To string
	Port     int
	Protocol string
}

func (f Flow) String() string {
	return fmt.Sprintf("%s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol)
}

// Flows returns every flow the catalog's services need and nothing else, sorted: each pod
// resolves names (DNS over UDP and TCP); a service with a database reaches the RDS Proxy, with
// Redis ElastiCache, with Kafka MSK's IAM listener; a service that authenticates with IAM (its
// database user, MSK, Secrets Manager) reaches the AWS APIs (STS for its IRSA credentials and
// the API it calls); a long-running service (not a Job) sends its spans to the collector; the
// screening lists' writer reaches the Internet over HTTPS (OFAC's site) and the Kubernetes
// API; a public port is reached from the ALB, and an operations port from
// Prometheus and, behind the ALB, from its health check.
func Flows() []Flow {
	var out []Flow
	for _, s := range All() {
		out = append(out, s.Flows()...)
	}
	return sortFlows(out)
}

// Flows returns the flows s needs, sorted.
func (s Service) Flows() []Flow {
	out := []Flow{
		{From: s.Name, To: EndpointDNS, Port: DNSPort, Protocol: UDP},
		{From: s.Name, To: EndpointDNS, Port: DNSPort, Protocol: TCP},
	}
	to := func(endpoint string, port int) {
		out = append(out, Flow{From: s.Name, To: endpoint, Port: port, Protocol: TCP})
	}
	if s.Database != "" {
		to(EndpointPostgres, PostgresPort)
	}
	if s.Redis {
		to(EndpointRedis, RedisPort)
	}
	if s.Kafka() {
		to(EndpointKafka, KafkaIAMPort)
	}
	if s.IAMAuth() {
		to(EndpointAWSAPI, AWSAPIPort)
	}
	if s.Kind == Deployment {
		to(EndpointTracing, TracingPort)
	}
	if s.WritesScreeningLists {
		to(EndpointInternet, HTTPSPort)
		to(EndpointKubeAPI, KubeAPIPort)
	}
	if s.PublicPort != 0 {
		out = append(out, Flow{From: EndpointALB, To: s.Name, Port: s.PublicPort, Protocol: TCP})
		// The ALB's target health check asks the readiness probe, which only the operations
		// port serves.
		if s.OpsPort != 0 {
			out = append(out, Flow{From: EndpointALB, To: s.Name, Port: s.OpsPort, Protocol: TCP})
		}
	}
	if s.OpsPort != 0 {
		out = append(out, Flow{From: EndpointPrometheus, To: s.Name, Port: s.OpsPort, Protocol: TCP})
	}
	return sortFlows(out)
}

// IAMAuth reports whether s authenticates with IAM (its IRSA role): as its database user
// through the RDS Proxy, to MSK, or to Secrets Manager for the database owner's credentials
// (DBAdmin), or to KMS for the audit checkpoints (SignsAudit). Redis uses an auth token.
func (s Service) IAMAuth() bool {
	return (s.Database != "" && s.DBUser != "") || s.Kafka() || (s.Database != "" && s.DBAdmin) || s.SignsAudit
}

func sortFlows(fs []Flow) []Flow {
	slices.SortFunc(fs, compareFlows)
	return slices.Compact(fs)
}

// compareFlows orders flows by source, destination, protocol and port.
func compareFlows(a, b Flow) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
}
