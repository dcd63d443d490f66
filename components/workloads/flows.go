package workloads

import (
	"fmt"
	"slices"

	"github.com/cantondex/platform/services/catalog"
)

// Flow endpoints that are not catalog services (CONTRACTS C3).
const (
	DNS        = "dns"        // kube-system's kube-dns pods, 53 UDP and TCP
	ALB        = "alb"        // the load balancer's nodes, in the VPC's public subnets
	Prometheus = "prometheus" // pods app.kubernetes.io/name=prometheus in the monitoring namespace
	Postgres   = "postgres"   // the RDS Proxy, in the database subnets
	Redis      = "redis"      // ElastiCache, in the private subnets
	Kafka      = "kafka"      // MSK with IAM authentication, in the private subnets
	AWSAPI     = "aws-api"    // the VPC's interface endpoints (STS for IRSA), in the private subnets
)

// Ports of the data tier and the AWS APIs.
const (
	PostgresPort = 5432
	RedisPort    = 6379
	KafkaIAMPort = 9098
	HTTPSPort    = 443
	DNSPort      = 53
)

// Flow is one connection the platform needs: from, to, port and protocol. Endpoints are
// catalog service names or one of the constants above.
type Flow struct {
	From, To string
	Port     int
	Protocol string // TCP or UDP
}

func (f Flow) String() string { return fmt.Sprintf("%s -> %s %d/%s", f.From, f.To, f.Port, f.Protocol) }

// Flows returns every connection the services need, derived from their catalog entries, in a
// fixed order: DNS for every pod; PostgreSQL, Redis and Kafka as the entry uses them; the AWS
// APIs (STS, to exchange the IRSA token) for every pod that authenticates with IAM (to RDS or
// MSK); the ALB to a public port and, for its health check, to the operations port of the
// service behind it; Prometheus to every operations port. NetworkPolicies are generated from
// this list and allow nothing else.
func Flows(services []catalog.Service) []Flow {
	var out []Flow
	for _, s := range services {
		out = append(out, Flow{s.Name, DNS, DNSPort, "UDP"}, Flow{s.Name, DNS, DNSPort, "TCP"})
		if s.Database != "" {
			out = append(out, Flow{s.Name, Postgres, PostgresPort, "TCP"})
		}
		if s.Redis {
			out = append(out, Flow{s.Name, Redis, RedisPort, "TCP"})
		}
		if s.Kafka() {
			out = append(out, Flow{s.Name, Kafka, KafkaIAMPort, "TCP"})
		}
		if usesIAM(s) {
			out = append(out, Flow{s.Name, AWSAPI, HTTPSPort, "TCP"})
		}
		if s.PublicPort != 0 {
			out = append(out, Flow{ALB, s.Name, s.PublicPort, "TCP"})
			if s.OpsPort != 0 {
				out = append(out, Flow{ALB, s.Name, s.OpsPort, "TCP"})
			}
		}
		if s.OpsPort != 0 {
			out = append(out, Flow{Prometheus, s.Name, s.OpsPort, "TCP"})
		}
	}
	return out
}

// usesIAM reports whether s signs requests with its IRSA role (IAM auth to RDS or MSK).
func usesIAM(s catalog.Service) bool { return s.Database != "" || s.Kafka() }

// flowsOf returns the flows from (egress) or to (ingress) one service.
func flowsOf(all []Flow, name string, egress bool) []Flow {
	return slices.DeleteFunc(slices.Clone(all), func(f Flow) bool {
		if egress {
			return f.From != name
		}
		return f.To != name
	})
}
