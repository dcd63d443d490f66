package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// Var is one environment variable of a service running against the managed services the
// program builds (MSK with IAM, ElastiCache in cluster mode, RDS through the proxy).
type Var struct {
	Name  string
	Value string // the value, or what fills it in angle brackets
	From  string // "" (literal), "secret <name>", "output <stack output>", "pod"
}

// ManagedEnv returns the environment s needs on AWS, in a fixed order: the operations and
// public listeners, PostgreSQL, Kafka, Redis, the screening lists, the trace collector, then
// its secrets. The next
// issue's Deployments are generated from it; services/README.md shows it (a test keeps the two equal).
func (s Service) ManagedEnv() []Var {
	var vs []Var
	add := func(name, value, from string) { vs = append(vs, Var{Name: name, Value: value, From: from}) }
	if s.PublicPort != 0 {
		add("HTTP_ADDR", fmt.Sprintf(":%d", s.PublicPort), "")
	}
	if s.OpsPort != 0 {
		add("OPS_ADDR", fmt.Sprintf(":%d", s.OpsPort), "")
	}
	if s.DBAdmin {
		add("DATABASE_URL", fmt.Sprintf("postgres://<instance address>:5432/%s", s.Database), "output database."+s.Database+".address")
		add("DB_SECRET_JSON", "<secret>", "secret output database."+s.Database+".secretArn")
		add("DB_TLS_CA_FILE", "/etc/cantondex/rds-ca.pem", "the RDS CA bundle, mounted")
		add("MIGRATE_USER_SECRETS", "<{user: secret ARN} of the database's IAM users>", "output database."+s.Database+".userSecretArns")
		add("AWS_REGION", "<region>", "pod (IRSA)")
	} else if s.Database != "" {
		add("DATABASE_URL", fmt.Sprintf("postgres://%s@<proxy endpoint>:5432/%s", s.DBUser, s.Database), "output database."+s.Database+".proxyEndpoint")
		add("DB_AUTH", "iam", "")
		add("DB_MIGRATE", "verify", "")
		add("DB_TLS_CA_FILE", "/etc/cantondex/rds-ca.pem", "the RDS CA bundle, mounted")
		add("AWS_REGION", "<region>", "pod (IRSA)")
	}
	if s.Kafka() {
		add("KAFKA_BROKERS", "<bootstrap brokers, port 9098>", "output kafka.bootstrapBrokers")
		add("KAFKA_TLS", "true", "")
		add("KAFKA_SASL_MECHANISM", "AWS_MSK_IAM", "")
		if s.Database == "" || s.DBAdmin {
			add("AWS_REGION", "<region>", "pod (IRSA)")
		}
		if s.GroupMember() {
			add("KAFKA_GROUP_INSTANCE_ID", "<pod name>", "pod")
		}
		if s.TopicAdmin {
			add("KAFKA_TOPICS_JSON", "<the stack's topic list>", "output kafka.topicsJson")
		}
	}
	if s.Redis {
		add("REDIS_URL", "rediss://<configuration endpoint>:6379", "output cache.configurationEndpoint")
		add("REDIS_CLUSTER", "true", "")
		add("REDIS_PREFIX", "cdx", "")
	}
	if s.ScreeningLists {
		add("SCREENING_FORMAT", "ofac-csv", "")
		add("SCREENING_LIST", ScreeningListsDir+"/"+ScreeningSDNFile, "the screening lists, mounted")
		add("SCREENING_ALT", ScreeningListsDir+"/"+ScreeningAltFile, "the screening lists, mounted")
		add("SCREENING_ADD", ScreeningListsDir+"/"+ScreeningAddFile, "the screening lists, mounted")
		add("SCREENING_RELOAD_INTERVAL", "1m", "")
	}
	if s.SignsAudit {
		add("AUDIT_KMS_KEY_ID", "<ARN of the audit-signing key>", "output audit.signingKeyArn")
	}
	if s.WritesScreeningLists {
		add("SYNC_CONFIGMAP", ScreeningListsConfigMap, "")
	}
	if s.Kind == Deployment {
		// platform.NewTracing names the spans' service itself (service.name).
		add("OTEL_EXPORTER_OTLP_ENDPOINT", TracingEndpoint, "")
	}
	for _, sec := range s.Secrets {
		for _, e := range sec.Env {
			add(e, "<secret>", "secret "+sec.Name)
		}
	}
	return vs
}

// EnvTable renders ManagedEnv as a Markdown table.
func (s Service) EnvTable() string {
	var b strings.Builder
	b.WriteString("| variable | value | from |\n|---|---|---|\n")
	for _, v := range s.ManagedEnv() {
		from := v.From
		if from == "" {
			from = "literal"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", v.Name, v.Value, from)
	}
	return b.String()
}

// Production returns the long-running services (Kind Deployment), in catalog order.
func Production() []Service {
	return slices.DeleteFunc(All(), func(s Service) bool { return s.Kind != Deployment })
}
