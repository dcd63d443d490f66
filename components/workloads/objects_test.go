package workloads

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/services/catalog"
)

func TestReplicasBudgetsAndAutoscalers(t *testing.T) {
	settings := testSettings(5)
	risk := settings[catalog.RiskManagement]
	risk.Replicas, risk.MinReplicas, risk.MaxReplicas = 1, 1, 2
	settings[catalog.RiskManagement] = risk
	rec, err := run(t, func(a *WorkloadsArgs) { a.Settings = settings })
	require.NoError(t, err)
	for _, s := range catalog.Production() {
		st := settings[s.Name]
		w := object(t, rec, WorkloadKind(s), Namespace, s.Name)
		assert.Equal(t, float64(st.Replicas), w.Number("spec.replicas"), "%s replicas", s.Name)
		assert.Contains(t, w.IgnoreChanges, "spec.replicas", "%s: the HPA owns the replica count", s.Name)
		hpa := object(t, rec, "HorizontalPodAutoscaler", Namespace, s.Name)
		assert.Equal(t, map[string]any{"apiVersion": "apps/v1", "kind": WorkloadKind(s), "name": s.Name}, dig(hpa.Inputs, "spec", "scaleTargetRef"), s.Name)
		assert.Equal(t, float64(st.MinReplicas), hpa.Number("spec.minReplicas"), s.Name)
		assert.Equal(t, float64(st.MaxReplicas), hpa.Number("spec.maxReplicas"), s.Name)
		var metrics []string
		for _, m := range hpa.Inputs["spec"].(map[string]any)["metrics"].([]any) {
			metrics = append(metrics, fmt.Sprintf("%v=%v", dig(m, "resource", "name"), dig(m, "resource", "target", "averageUtilization")))
		}
		assert.Equal(t, []string{"cpu=70", "memory=80"}, metrics, s.Name)

		if StatefulSet(s) {
			assert.Equal(t, s.Name, w.String("spec.serviceName"), s.Name)
			assert.Equal(t, "RollingUpdate", w.String("spec.updateStrategy.type"), s.Name)
			svc := object(t, rec, "Service", Namespace, s.Name)
			assert.Equal(t, "None", svc.String("spec.clusterIP"), "%s: headless", s.Name)
		} else {
			assert.Equal(t, 0.0, w.Number("spec.strategy.rollingUpdate.maxUnavailable"), "%s: a rollout never goes below the budget", s.Name)
			svc := object(t, rec, "Service", Namespace, s.Name)
			assert.Equal(t, "ClusterIP", svc.String("spec.type"), s.Name)
			assert.Empty(t, svc.String("spec.clusterIP"), s.Name)
		}

		pdb := object(t, rec, "PodDisruptionBudget", Namespace, s.Name)
		if st.MinReplicas == 1 {
			assert.Equal(t, 1.0, pdb.Number("spec.maxUnavailable"), "%s: down to one pod, the budget lets it be evicted", s.Name)
			assert.Nil(t, dig(pdb.Inputs, "spec", "minAvailable"), s.Name)
			continue
		}
		min := pdb.Number("spec.minAvailable")
		assert.Equal(t, float64(st.MinReplicas-1), min, s.Name)
		assert.Nil(t, dig(pdb.Inputs, "spec", "maxUnavailable"), s.Name)
		assert.GreaterOrEqual(t, hpa.Number("spec.minReplicas"), min, "%s: the HPA never scales below the budget", s.Name)
		assert.Equal(t, map[string]any{LabelName: s.Name, LabelPartOf: "cantondex"}, dig(pdb.Inputs, "spec", "selector", "matchLabels"), s.Name)
	}
}

// policyFlows rebuilds the flows a recorded NetworkPolicy of a catalog service allows, with
// peers named as in CONTRACTS C3 (ipBlocks by the subnets they are).
func policyFlows(t *testing.T, p mocks.Resource, sn Subnets) []string {
	t.Helper()
	name, _ := dig(p.Inputs, "spec", "podSelector", "matchLabels", LabelName).(string)
	require.NotEmpty(t, name, p.Name)
	peer := func(peers []any) string {
		var cidrs []string
		for _, pe := range peers {
			if c, ok := dig(pe, "ipBlock", "cidr").(string); ok {
				if except := dig(pe, "ipBlock", "except"); except != nil {
					c += fmt.Sprintf(" except %v", except)
				}
				cidrs = append(cidrs, c)
				continue
			}
			ns := dig(pe, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
			pods := dig(pe, "podSelector", "matchLabels")
			switch {
			case ns == "kube-system" && fmt.Sprint(pods) == "map[k8s-app:kube-dns]":
				return DNS
			case ns == MonitoringNamespace && fmt.Sprint(pods) == "map[app.kubernetes.io/name:prometheus]":
				return Prometheus
			case ns == MonitoringNamespace && fmt.Sprint(pods) == "map[app.kubernetes.io/name:opentelemetry-collector]":
				return Tracing
			default:
				return fmt.Sprintf("pods %v %v", ns, pods)
			}
		}
		switch strings.Join(cidrs, ",") {
		case strings.Join(sn.Public, ","):
			return "public-subnets"
		case strings.Join(sn.Private, ","):
			return "private-subnets"
		case strings.Join(sn.Database, ","):
			return "database-subnets"
		}
		return "cidrs " + strings.Join(cidrs, ",")
	}
	var out []string
	for _, dir := range []struct{ rules, peers string }{{"ingress", "from"}, {"egress", "to"}} {
		rules, _ := dig(p.Inputs, "spec", dir.rules).([]any)
		for _, r := range rules {
			other := peer(dig(r, dir.peers).([]any))
			for _, port := range dig(r, "ports").([]any) {
				f := fmt.Sprintf("%s %v/%v", other, dig(port, "port"), dig(port, "protocol"))
				if dir.rules == "ingress" {
					out = append(out, f+" -> "+name)
				} else {
					out = append(out, name+" -> "+f)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// The policies allow exactly what each service's catalog entry needs, written out here by hand.
func TestNetworkPoliciesAllowExactlyTheCatalogFlows(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	sn := testArgs().Subnets
	common := func(s string) []string {
		return []string{
			s + " -> dns 53/TCP", s + " -> dns 53/UDP",
			s + " -> database-subnets 5432/TCP", s + " -> private-subnets 9098/TCP", s + " -> private-subnets 443/TCP",
			s + " -> otel-collector 4318/TCP",
		}
	}
	scraped := func(s string) string { return "prometheus 9090/TCP -> " + s }
	want := map[string][]string{
		catalog.APIGateway: append(common(catalog.APIGateway), catalog.APIGateway+" -> private-subnets 6379/TCP",
			"public-subnets 8080/TCP -> "+catalog.APIGateway, "public-subnets 9090/TCP -> "+catalog.APIGateway, scraped(catalog.APIGateway)),
		catalog.MatchingEngine:        append(common(catalog.MatchingEngine), catalog.MatchingEngine+" -> private-subnets 6379/TCP", scraped(catalog.MatchingEngine)),
		catalog.SettlementCoordinator: append(common(catalog.SettlementCoordinator), scraped(catalog.SettlementCoordinator)),
		catalog.RiskManagement:        append(common(catalog.RiskManagement), scraped(catalog.RiskManagement)),
		catalog.ComplianceService:     append(common(catalog.ComplianceService), scraped(catalog.ComplianceService)),
		catalog.KafkaTopics: {catalog.KafkaTopics + " -> dns 53/TCP", catalog.KafkaTopics + " -> dns 53/UDP",
			catalog.KafkaTopics + " -> private-subnets 443/TCP", catalog.KafkaTopics + " -> private-subnets 9098/TCP"},
		catalog.DatabaseMigrations: {catalog.DatabaseMigrations + " -> dns 53/TCP", catalog.DatabaseMigrations + " -> dns 53/UDP",
			catalog.DatabaseMigrations + " -> database-subnets 5432/TCP", catalog.DatabaseMigrations + " -> private-subnets 443/TCP"},
		// OFAC's site over HTTPS anywhere outside the VPC, and the Kubernetes API (the control
		// plane's interfaces, in the cluster's subnets); no ingress.
		catalog.ScreeningSync: {catalog.ScreeningSync + " -> dns 53/TCP", catalog.ScreeningSync + " -> dns 53/UDP",
			catalog.ScreeningSync + " -> cidrs 0.0.0.0/0 except [10.0.0.0/16] 443/TCP", catalog.ScreeningSync + " -> cidrs 10.0.0.0/16 443/TCP"},
	}
	for name, flows := range want {
		sort.Strings(flows)
		p := object(t, rec, "NetworkPolicy", Namespace, name)
		assert.Equal(t, flows, policyFlows(t, p, sn), name)
		assert.Equal(t, []any{"Ingress", "Egress"}, dig(p.Inputs, "spec", "policyTypes"), name)
	}
	for _, ns := range DefaultNamespaces() {
		p := object(t, rec, "NetworkPolicy", ns, DefaultDenyPolicy)
		assert.Equal(t, map[string]any{}, dig(p.Inputs, "spec", "podSelector"), ns)
		assert.Equal(t, []any{"Ingress", "Egress"}, dig(p.Inputs, "spec", "policyTypes"), ns)
		assert.Nil(t, dig(p.Inputs, "spec", "ingress"), ns)
		assert.Nil(t, dig(p.Inputs, "spec", "egress"), ns)
	}
	scrape := object(t, rec, "NetworkPolicy", MonitoringNamespace, "prometheus-scrape-cantondex")
	assert.Equal(t, []any{"Egress"}, dig(scrape.Inputs, "spec", "policyTypes"))
	var targets []string
	for _, r := range dig(scrape.Inputs, "spec", "egress").([]any) {
		targets = append(targets, fmt.Sprintf("%v:%v", dig(r, "to", 0, "podSelector", "matchLabels", LabelName), dig(r, "ports", 0, "port")))
		assert.Equal(t, Namespace, dig(r, "to", 0, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
	}
	sort.Strings(targets)
	assert.Equal(t, []string{"api-gateway:9090", "compliance-service:9090", "matching-engine:9090", "notification-service:9090", "risk-management:9090", "settlement-coordinator:9090"}, targets)
}

func TestEnvironmentComesFromTheDataTierAndSecretsFromTheStore(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	for _, s := range catalog.All() {
		cm := object(t, rec, "ConfigMap", Namespace, s.Name+"-env")
		data, _ := cm.Inputs["data"].(map[string]any)
		tmpl := podTemplate(t, rec, s)
		c := dig(tmpl, "spec", "containers", 0)
		assert.Equal(t, s.Name+"-env", dig(c, "envFrom", 0, "configMapRef", "name"), s.Name)
		fromPod := map[string]any{}
		vars, _ := dig(c, "env").([]any)
		for _, e := range vars {
			fromPod[dig(e, "name").(string)] = dig(e, "valueFrom")
			assert.Nil(t, dig(e, "value"), "%s: a literal value in the container", s.Name)
		}
		for _, v := range s.ManagedEnv() {
			switch {
			case strings.HasPrefix(v.From, "secret "):
				assert.NotContains(t, data, v.Name, "%s: secret %s in the ConfigMap", s.Name, v.Name)
				secret := strings.TrimPrefix(v.From, "secret ")
				if s.DBAdmin {
					secret = "database-trading-admin"
				}
				assert.Equal(t, map[string]any{"secretKeyRef": map[string]any{"name": secret, "key": v.Name}}, fromPod[v.Name], "%s %s", s.Name, v.Name)
			case v.From == "pod":
				assert.Equal(t, map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}, fromPod[v.Name], s.Name)
			default:
				assert.Contains(t, data, v.Name, s.Name)
			}
		}
		assert.Equal(t, "info", data[EnvLogLevel], s.Name)
		switch {
		case s.DBAdmin:
			assert.Equal(t, "postgres://"+instanceHost+":5432/trading", data["DATABASE_URL"], s.Name)
			assert.Equal(t, `{"cdx_risk":"`+riskSecretARN+`"}`, data["MIGRATE_USER_SECRETS"], s.Name)
			assert.Equal(t, map[string]any{"secretKeyRef": map[string]any{"name": "database-trading-admin", "key": "DB_SECRET_JSON"}}, fromPod["DB_SECRET_JSON"], s.Name)
		case s.Database != "":
			assert.Equal(t, "postgres://"+s.DBUser+"@"+proxyHost+":5432/trading", data["DATABASE_URL"], s.Name)
			assert.Equal(t, "iam", data["DB_AUTH"], s.Name)
			assert.Equal(t, "verify", data["DB_MIGRATE"], s.Name)
		}
		if s.Database != "" {
			assert.Equal(t, "us-east-1", data["AWS_REGION"], s.Name)
			mounts := fmt.Sprint(dig(c, "volumeMounts"))
			assert.Contains(t, mounts, "mountPath:/etc/cantondex", s.Name)
		}
		if s.Kafka() {
			assert.Equal(t, brokers, data["KAFKA_BROKERS"], s.Name)
			assert.Equal(t, "AWS_MSK_IAM", data["KAFKA_SASL_MECHANISM"], s.Name)
		}
		if s.Redis {
			assert.Equal(t, "rediss://"+redisHost+":6379", data["REDIS_URL"], s.Name)
		}
		if s.PublicPort != 0 {
			assert.Equal(t, "10.0.0.0/16", data[EnvTrustedProxies], s.Name)
		} else {
			assert.NotContains(t, data, EnvTrustedProxies, s.Name)
		}
		if s.TopicAdmin {
			assert.Equal(t, `[{"Name":"orders"}]`, data["KAFKA_TOPICS_JSON"], s.Name)
		}
		if s.SignsAudit {
			assert.Equal(t, auditKeyARN, data["AUDIT_KMS_KEY_ID"], s.Name)
		} else {
			assert.NotContains(t, data, "AUDIT_KMS_KEY_ID", s.Name)
		}
		assert.NotContains(t, data, "AUDIT_SIGNING_KEY", s.Name)
		assert.NotContains(t, fromPod, "AUDIT_SIGNING_KEY", s.Name)
	}
	ca := object(t, rec, "ConfigMap", Namespace, RDSCAConfigMap)
	assert.Equal(t, map[string]any{"rds-ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}, ca.Inputs["data"])

	auth := object(t, rec, "ExternalSecret", Namespace, "cantondex-auth-keys")
	assert.Equal(t, "external-secrets.io/v1", auth.String("apiVersion"))
	assert.Equal(t, map[string]any{"kind": "ClusterSecretStore", "name": "cantondex-aws"}, dig(auth.Inputs, "spec", "secretStoreRef"))
	assert.Equal(t, "cantondex-auth-keys", dig(auth.Inputs, "spec", "target", "name"))
	assert.Equal(t, []any{
		map[string]any{"secretKey": "AUTH_TOKEN_KEY", "remoteRef": map[string]any{"key": authARN, "property": "AUTH_TOKEN_KEY"}},
		map[string]any{"secretKey": "AUTH_SEAL_KEY", "remoteRef": map[string]any{"key": authARN, "property": "AUTH_SEAL_KEY"}},
	}, dig(auth.Inputs, "spec", "data"))
	redis := object(t, rec, "ExternalSecret", Namespace, "cantondex-redis-auth-token")
	assert.Equal(t, []any{map[string]any{"secretKey": "REDIS_AUTH_TOKEN", "remoteRef": map[string]any{"key": "cantondex-redis-auth-token"}}},
		dig(redis.Inputs, "spec", "data"), "a one-variable secret is the whole secret string, under its catalog name by default")
	admin := object(t, rec, "ExternalSecret", Namespace, "database-trading-admin")
	assert.Equal(t, []any{map[string]any{"secretKey": "DB_SECRET_JSON", "remoteRef": map[string]any{"key": masterARN}}}, dig(admin.Inputs, "spec", "data"))

}

func TestGatewayIngress(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	ing := object(t, rec, "Ingress", Namespace, catalog.APIGateway)
	ann := dig(ing.Inputs, "metadata", "annotations").(map[string]any)
	for k, want := range map[string]string{
		"scheme": "internet-facing", "target-type": "ip", "ssl-redirect": "443", "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"certificate-arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc", "wafv2-acl-arn": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/cdx/abc",
		"healthcheck-port": "9090", "healthcheck-path": "/ready",
	} {
		assert.Equal(t, want, ann["alb.ingress.kubernetes.io/"+k], k)
	}
	var listeners []map[string]int
	require.NoError(t, json.Unmarshal([]byte(ann["alb.ingress.kubernetes.io/listen-ports"].(string)), &listeners))
	assert.Equal(t, []map[string]int{{"HTTP": 80}, {"HTTPS": 443}}, listeners, "HTTP only to redirect")
	assert.Equal(t, "alb", ing.String("spec.ingressClassName"))
	assert.Equal(t, map[string]any{"name": catalog.APIGateway, "port": map[string]any{"name": "http"}}, dig(ing.Inputs, "spec", "rules", 0, "http", "paths", 0, "backend", "service"))
	assert.Equal(t, "/", dig(ing.Inputs, "spec", "rules", 0, "http", "paths", 0, "path"))

	// The stream shares the ALB (one IngressGroup) and takes /api/v1/stream, ahead of the
	// gateway's catch-all.
	st := object(t, rec, "Ingress", Namespace, catalog.NotificationService)
	sann := dig(st.Inputs, "metadata", "annotations").(map[string]any)
	assert.Equal(t, IngressGroup, ann["alb.ingress.kubernetes.io/group.name"])
	assert.Equal(t, IngressGroup, sann["alb.ingress.kubernetes.io/group.name"])
	assert.Equal(t, "/api/v1/stream", dig(st.Inputs, "spec", "rules", 0, "http", "paths", 0, "path"))
	assert.Equal(t, map[string]any{"name": catalog.NotificationService, "port": map[string]any{"name": "http"}}, dig(st.Inputs, "spec", "rules", 0, "http", "paths", 0, "backend", "service"))
	assert.Less(t, mustAtoi(t, sann["alb.ingress.kubernetes.io/group.order"]), mustAtoi(t, ann["alb.ingress.kubernetes.io/group.order"]), "the stream's rule is evaluated first")
}

func mustAtoi(t *testing.T, v any) int {
	t.Helper()
	n, err := strconv.Atoi(v.(string))
	require.NoError(t, err)
	return n
}

func TestJobsRunFirstAndServicesWaitForThem(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	for _, name := range []string{catalog.KafkaTopics, catalog.DatabaseMigrations, catalog.ScreeningSync} {
		job := object(t, rec, "Job", Namespace, name)
		policy := object(t, rec, "NetworkPolicy", Namespace, name)
		assert.Contains(t, job.DependsOn, policy.URN, "%s waits for its network policy", name)
		assert.Nil(t, dig(job.Inputs, "metadata", "annotations", "pulumi.com/skipAwait"), "Pulumi waits for %s", name)
		for _, s := range catalog.Production() {
			w := object(t, rec, WorkloadKind(s), Namespace, s.Name)
			assert.Contains(t, w.DependsOn, job.URN, "%s waits for %s", s.Name, name)
			cm := object(t, rec, "ConfigMap", Namespace, s.Name+"-env")
			assert.Contains(t, w.DependsOn, cm.URN, s.Name)
		}
	}
}

func TestInvalidArgsNameTheField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*WorkloadsArgs)
		want   []string
	}{
		{"no provider", func(a *WorkloadsArgs) { a.Provider = nil }, []string{"provider: the cluster's Kubernetes provider is required"}},
		{"missing image and role", func(a *WorkloadsArgs) {
			delete(a.Images, catalog.MatchingEngine)
			delete(a.Roles, catalog.RiskManagement)
		}, []string{"images.matching-engine: missing", "roles.risk-management: missing"}},
		{"settings", func(a *WorkloadsArgs) {
			st := a.Settings[catalog.APIGateway]
			st.MinReplicas = 4
			a.Settings[catalog.APIGateway] = st
			a.Settings["ghost"] = Settings{}
		}, []string{"settings.api-gateway: want 1 <= minReplicas (4) <= replicas (3)", "settings.ghost: not a service to deploy"}},
		{"endpoints", func(a *WorkloadsArgs) {
			a.Endpoints.DatabaseProxies = nil
			a.Endpoints.KafkaBrokers = nil
			a.Endpoints.Region = ""
			a.Endpoints.AuditSigningKeyARN = nil
		}, []string{"endpoints.databaseProxies.trading: missing", "endpoints.kafkaBrokers: required", "endpoints.region: required", "endpoints.auditSigningKeyArn: required (used by compliance-service)"}},
		{"subnets", func(a *WorkloadsArgs) { a.Subnets.Public = []string{"10.0.0.1/20"}; a.Subnets.Database = nil },
			[]string{`subnets.public: "10.0.0.1/20" is not a CIDR block`, "subnets.database: required"}},
		{"edge", func(a *WorkloadsArgs) { a.Ingress.WebACLARN = nil; a.SecretStore = "" },
			[]string{"ingress: certificate and web ACL ARNs are required (api-gateway is public)", "secretStore: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := run(t, tt.mutate)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), "workloads wl: ")
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, rec.OfType("cantondex:workloads:Workloads"), "nothing is created")
		})
	}
}

func TestAnImageNotByDigestFails(t *testing.T) {
	_, err := run(t, func(a *WorkloadsArgs) { a.Images[catalog.APIGateway] = pulumi.String("cantondex/api-gateway:latest") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `images.api-gateway: "cantondex/api-gateway:latest" is not <repository>@sha256:<64 hex digits>`)
}
