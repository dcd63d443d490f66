package catalog

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlowsOfTheCatalog(t *testing.T) {
	dns := func(s string) []Flow {
		return []Flow{{s, "dns", 53, "TCP"}, {s, "dns", 53, "UDP"}}
	}
	var want []Flow
	want = append(want, Flow{"alb", "api-gateway", 8080, "TCP"}, Flow{"alb", "api-gateway", 9090, "TCP"})
	// The migrations Job connects as the owner with the credentials it reads from Secrets Manager.
	want = append(want, Flow{"database-migrations", "aws-api", 443, "TCP"}, Flow{"database-migrations", "postgres", 5432, "TCP"})
	want = append(want, dns("database-migrations")...)
	for _, s := range []string{"api-gateway", "matching-engine", "risk-management", "settlement-coordinator", "notification-service", "compliance-service"} {
		want = append(want, Flow{"prometheus", s, 9090, "TCP"})
	}
	want = append(want, Flow{"api-gateway", "aws-api", 443, "TCP"})
	want = append(want, dns("api-gateway")...)
	want = append(want,
		Flow{"api-gateway", "kafka", 9098, "TCP"}, Flow{"api-gateway", "postgres", 5432, "TCP"}, Flow{"api-gateway", "redis", 6379, "TCP"},
		Flow{"kafka-topics", "aws-api", 443, "TCP"})
	want = append(want, dns("kafka-topics")...)
	want = append(want, Flow{"kafka-topics", "kafka", 9098, "TCP"}, Flow{"matching-engine", "aws-api", 443, "TCP"})
	want = append(want, dns("matching-engine")...)
	want = append(want,
		Flow{"matching-engine", "kafka", 9098, "TCP"}, Flow{"matching-engine", "postgres", 5432, "TCP"}, Flow{"matching-engine", "redis", 6379, "TCP"},
		Flow{"risk-management", "aws-api", 443, "TCP"})
	want = append(want, dns("risk-management")...)
	want = append(want,
		Flow{"risk-management", "kafka", 9098, "TCP"}, Flow{"risk-management", "postgres", 5432, "TCP"},
		Flow{"settlement-coordinator", "aws-api", 443, "TCP"})
	want = append(want, dns("settlement-coordinator")...)
	want = append(want, Flow{"settlement-coordinator", "kafka", 9098, "TCP"}, Flow{"settlement-coordinator", "postgres", 5432, "TCP"})
	// The notification service: public port behind the ALB, Kafka, the auth tables and
	// balances in PostgreSQL, signature replay claims in Redis.
	want = append(want, Flow{"alb", "notification-service", 8080, "TCP"}, Flow{"alb", "notification-service", 9090, "TCP"},
		Flow{"notification-service", "aws-api", 443, "TCP"},
		Flow{"notification-service", "kafka", 9098, "TCP"}, Flow{"notification-service", "postgres", 5432, "TCP"},
		Flow{"notification-service", "redis", 6379, "TCP"})
	want = append(want, dns("notification-service")...)
	want = append(want, Flow{"compliance-service", "aws-api", 443, "TCP"}, Flow{"compliance-service", "kafka", 9098, "TCP"}, Flow{"compliance-service", "postgres", 5432, "TCP"})
	want = append(want, dns("compliance-service")...)
	// The lists' sync downloads OFAC's files over HTTPS and patches one ConfigMap; nothing else.
	want = append(want, Flow{"screening-sync", "internet", 443, "TCP"}, Flow{"screening-sync", "kube-api", 443, "TCP"})
	want = append(want, dns("screening-sync")...)
	// Every long-running service sends its spans to the collector; the Jobs do not trace.
	for _, s := range []string{"api-gateway", "matching-engine", "risk-management", "settlement-coordinator", "notification-service", "compliance-service"} {
		want = append(want, Flow{s, "otel-collector", 4318, "TCP"})
	}

	got := Flows()
	assert.ElementsMatch(t, want, got)
	assert.True(t, slices.IsSortedFunc(got, compareFlows), "sorted")
	assert.Equal(t, len(got), len(slices.Compact(slices.Clone(got))), "no flow listed twice")
}

func TestFlowsFollowTheEntryFields(t *testing.T) {
	tests := []struct {
		name string
		svc  Service
		want []string
	}{
		{"a pod only resolves names", Service{Name: "x"}, []string{"x -> dns 53/TCP", "x -> dns 53/UDP"}},
		{"Redis uses a token, not IAM", Service{Name: "x", Redis: true}, []string{"x -> dns 53/TCP", "x -> dns 53/UDP", "x -> redis 6379/TCP"}},
		{"a database user authenticates with IAM", Service{Name: "x", Database: Trading, DBUser: "u"},
			[]string{"x -> aws-api 443/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP", "x -> postgres 5432/TCP"}},
		{"the database owner reads its credentials from Secrets Manager", Service{Name: "x", Database: Trading, DBAdmin: true},
			[]string{"x -> aws-api 443/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP", "x -> postgres 5432/TCP"}},
		{"a topic admin reaches MSK over IAM", Service{Name: "x", TopicAdmin: true},
			[]string{"x -> aws-api 443/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP", "x -> kafka 9098/TCP"}},
		{"a consumer reaches MSK over IAM", Service{Name: "x", Consumes: []Consume{{Topic: "t", Group: "x"}}},
			[]string{"x -> aws-api 443/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP", "x -> kafka 9098/TCP"}},
		{"public and operations ports are reached from the ALB and Prometheus", Service{Name: "x", PublicPort: 8081, OpsPort: 9091},
			[]string{"alb -> x 8081/TCP", "alb -> x 9091/TCP", "prometheus -> x 9091/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP"}},
		{"a long-running service sends spans to the collector", Service{Name: "x", Kind: Deployment},
			[]string{"x -> dns 53/TCP", "x -> dns 53/UDP", "x -> otel-collector 4318/TCP"}},
		{"the screening lists' writer reaches the Internet over HTTPS and the Kubernetes API", Service{Name: "x", Kind: Job, WritesScreeningLists: true},
			[]string{"x -> dns 53/TCP", "x -> dns 53/UDP", "x -> internet 443/TCP", "x -> kube-api 443/TCP"}},
		{"screening against the mounted lists needs no flow", Service{Name: "x", Kind: Job, ScreeningLists: true},
			[]string{"x -> dns 53/TCP", "x -> dns 53/UDP"}},
		{"a Job sends none", Service{Name: "x", Kind: Job}, []string{"x -> dns 53/TCP", "x -> dns 53/UDP"}},
		{"a public port without an operations port has no health check flow", Service{Name: "x", PublicPort: 8081},
			[]string{"alb -> x 8081/TCP", "x -> dns 53/TCP", "x -> dns 53/UDP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range tt.svc.Flows() {
				got = append(got, f.String())
			}
			require.Equal(t, tt.want, got)
		})
	}
}
