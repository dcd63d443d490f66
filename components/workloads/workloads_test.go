package workloads

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/services/catalog"
)

const (
	auditKeyARN   = "arn:aws:kms:us-east-1:123456789012:key/6c1e0d7a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
	digest        = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	proxyHost     = "cdx-test-trading-proxy.proxy-abc.us-east-1.rds.amazonaws.com"
	redisHost     = "clustercfg.cdx-test-cache.abc.use1.cache.amazonaws.com"
	brokers       = "b-1.kafka:9098,b-2.kafka:9098"
	instanceHost  = "cdx-test-trading.abc.us-east-1.rds.amazonaws.com"
	masterARN     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-cdx-test-trading"
	riskSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cdx-test-trading-cdx_risk"
	authARN       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cantondex-auth-keys-AbCdEf"
)

func testSettings(replicas int) map[string]Settings {
	out := map[string]Settings{}
	for _, s := range catalog.All() {
		st := Settings{Resources: s.Resources, LogLevel: "info"}
		if s.Kind == catalog.Deployment {
			st.Replicas, st.MinReplicas, st.MaxReplicas = replicas, replicas, 4*replicas
			st.CPUTargetPercent, st.MemoryTargetPercent = 70, 80
		}
		out[s.Name] = st
	}
	return out
}

func testArgs() WorkloadsArgs {
	images, roles := map[string]pulumi.StringInput{}, map[string]pulumi.StringInput{}
	for _, s := range catalog.All() {
		images[s.Name] = pulumi.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/cantondex/" + s.Name + "@" + digest)
		roles[s.Name] = pulumi.String("arn:aws:iam::123456789012:role/cdx-test-" + s.Name)
	}
	return WorkloadsArgs{
		Settings:    testSettings(3),
		Images:      images,
		Roles:       roles,
		SecretStore: "cantondex-aws",
		SecretKeys:  map[string]pulumi.StringInput{"cantondex-auth-keys": pulumi.String(authARN)},
		Ingress: IngressArgs{
			CertificateARN: pulumi.String("arn:aws:acm:us-east-1:123456789012:certificate/abc"),
			WebACLARN:      pulumi.String("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/cdx/abc"),
		},
		Endpoints: Endpoints{
			DatabaseProxies:     map[string]pulumi.StringInput{catalog.Trading: pulumi.String(proxyHost)},
			DatabaseAddresses:   map[string]pulumi.StringInput{catalog.Trading: pulumi.String(instanceHost)},
			DatabaseSecrets:     map[string]pulumi.StringInput{catalog.Trading: pulumi.String(masterARN)},
			DatabaseUserSecrets: map[string]pulumi.StringMapInput{catalog.Trading: pulumi.StringMap{"cdx_risk": pulumi.String(riskSecretARN)}},
			RedisHost:           pulumi.String(redisHost), RedisPort: pulumi.Int(6379),
			KafkaBrokers: pulumi.String(brokers), TopicsJSON: `[{"Name":"orders"}]`, Region: "us-east-1",
			AuditSigningKeyARN: pulumi.String(auditKeyARN),
		},
		Subnets: Subnets{
			VPC:      "10.0.0.0/16",
			Public:   []string{"10.0.0.0/20", "10.0.16.0/20"},
			Private:  []string{"10.0.32.0/20", "10.0.48.0/20"},
			Database: []string{"10.0.64.0/20", "10.0.80.0/20"},
		},
		RDSCABundle: pulumi.String("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
	}
}

func run(t *testing.T, mutate func(*WorkloadsArgs)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *WorkloadsArgs, ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String("{}")})
		if err != nil {
			return err
		}
		a.Provider = p
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a WorkloadsArgs) error {
		_, err := NewWorkloads(ctx, "wl", a)
		return err
	})
}

// dig walks maps (string keys) and lists (int indexes) of recorded inputs.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// object finds the recorded Kubernetes object of a kind (type token suffix) by namespace and name.
func object(t *testing.T, rec *mocks.Recorder, kind, namespace, name string) mocks.Resource {
	t.Helper()
	for _, r := range rec.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") && strings.HasSuffix(r.Type, ":"+kind) &&
			r.String("metadata.name") == name && r.String("metadata.namespace") == namespace {
			return r
		}
	}
	require.Failf(t, "object not recorded", "%s %s/%s", kind, namespace, name)
	return mocks.Resource{}
}

func objects(rec *mocks.Recorder) map[string][]string {
	out := map[string][]string{}
	for _, r := range rec.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			kind := r.Type[strings.LastIndex(r.Type, ":")+1:]
			out[kind] = append(out[kind], r.String("metadata.namespace")+"/"+r.String("metadata.name"))
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func TestEveryCatalogServiceGetsItsObjects(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	got := objects(rec)
	ns := func(names ...string) []string {
		out := []string{}
		for _, n := range names {
			out = append(out, Namespace+"/"+n)
		}
		sort.Strings(out)
		return out
	}
	all := []string{catalog.APIGateway, catalog.MatchingEngine, catalog.SettlementCoordinator, catalog.RiskManagement, catalog.NotificationService, catalog.ComplianceService, catalog.KafkaTopics, catalog.DatabaseMigrations, catalog.ScreeningSync}
	long := []string{catalog.APIGateway, catalog.MatchingEngine, catalog.SettlementCoordinator, catalog.RiskManagement, catalog.NotificationService, catalog.ComplianceService}
	assert.Equal(t, ns(catalog.APIGateway, catalog.NotificationService), got["Deployment"], "Deployments: the services in no consumer group")
	assert.Equal(t, ns(catalog.MatchingEngine, catalog.SettlementCoordinator, catalog.RiskManagement, catalog.ComplianceService), got["StatefulSet"], "StatefulSets: the consumer-group members")
	assert.Equal(t, ns(catalog.KafkaTopics, catalog.DatabaseMigrations, catalog.ScreeningSync), got["Job"], "Jobs")
	assert.Equal(t, ns(catalog.ScreeningSync), got["CronJob"], "the lists' daily sync")
	assert.Equal(t, ns(catalog.ScreeningSync), got["Role"], "the one Role: the lists' writer")
	assert.Equal(t, ns(catalog.ScreeningSync), got["RoleBinding"])
	assert.Equal(t, ns(all...), got["ServiceAccount"])
	assert.Equal(t, ns(long...), got["Service"])
	assert.Equal(t, ns(long...), got["PodDisruptionBudget"])
	assert.Equal(t, ns(long...), got["HorizontalPodAutoscaler"])
	assert.Equal(t, ns(catalog.APIGateway, catalog.NotificationService), got["Ingress"])
	assert.Equal(t, ns("api-gateway-env", "compliance-service-env", "database-migrations-env", "kafka-topics-env", "matching-engine-env", "notification-service-env", "risk-management-env", "screening-sync-env", "settlement-coordinator-env", RDSCAConfigMap, catalog.ScreeningListsConfigMap), got["ConfigMap"])
	assert.Equal(t, ns("cantondex-auth-keys", "cantondex-redis-auth-token", "database-trading-admin"), got["ExternalSecret"])
	assert.Empty(t, got["Secret"], "no Secret is written by the program: External Secrets syncs them")
	wantPolicies := append(ns(append(slices.Clone(all), DefaultDenyPolicy)...),
		MonitoringNamespace+"/"+DefaultDenyPolicy, MonitoringNamespace+"/prometheus-scrape-cantondex",
		SecurityNamespace+"/"+DefaultDenyPolicy, LoggingNamespace+"/"+DefaultDenyPolicy)
	sort.Strings(wantPolicies)
	assert.Equal(t, wantPolicies, got["NetworkPolicy"])

	comp, ok := rec.Named("cantondex:workloads:Workloads", "wl")
	require.True(t, ok)
	provider, ok := rec.Named("pulumi:providers:kubernetes", "k8s")
	require.True(t, ok)
	for _, r := range rec.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			assert.Equal(t, comp.URN, r.Parent, "%s %s parent", r.Type, r.Name)
			assert.Equal(t, provider.URN+"::"+provider.ID, r.Provider, "%s %s provider", r.Type, r.Name)
		}
	}
}

// podSpec returns the recorded pod template of a service's workload.
func podTemplate(t *testing.T, rec *mocks.Recorder, s catalog.Service) map[string]any {
	t.Helper()
	w := object(t, rec, WorkloadKind(s), Namespace, s.Name)
	tmpl, ok := dig(w.Inputs, "spec", "template").(map[string]any)
	require.True(t, ok, "%s: no pod template", s.Name)
	return tmpl
}

func TestPodsAreRestrictedAndProbed(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	for _, s := range catalog.All() {
		tmpl := podTemplate(t, rec, s)
		labels := dig(tmpl, "metadata", "labels")
		assert.Equal(t, map[string]any{LabelName: s.Name, LabelPartOf: "cantondex", LabelComponent: strings.ToLower(string(s.Kind))}, labels, "%s labels", s.Name)
		spec := dig(tmpl, "spec")
		assert.Equal(t, s.Name, dig(spec, "serviceAccountName"), s.Name)
		assert.Equal(t, s.WritesScreeningLists, dig(spec, "automountServiceAccountToken"), "%s: only the lists' writer mounts its token", s.Name)
		assert.Equal(t, map[string]any{"runAsNonRoot": true, "runAsUser": 1000.0, "runAsGroup": 1000.0, "fsGroup": 1000.0,
			"seccompProfile": map[string]any{"type": "RuntimeDefault"}}, dig(spec, "securityContext"), "%s pod security context", s.Name)
		containers, _ := dig(spec, "containers").([]any)
		require.Len(t, containers, 1, s.Name)
		c := containers[0]
		assert.Equal(t, map[string]any{"runAsNonRoot": true, "runAsUser": 1000.0, "runAsGroup": 1000.0, "readOnlyRootFilesystem": true,
			"allowPrivilegeEscalation": false, "privileged": false, "capabilities": map[string]any{"drop": []any{"ALL"}},
			"seccompProfile": map[string]any{"type": "RuntimeDefault"}}, dig(c, "securityContext"), "%s container security context", s.Name)
		assert.Equal(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/cantondex/"+s.Name+"@"+digest, dig(c, "image"), s.Name)
		assert.Equal(t, map[string]any{"cpu": s.Resources.CPURequest, "memory": s.Resources.MemoryRequest}, dig(c, "resources", "requests"), s.Name)
		assert.Equal(t, map[string]any{"cpu": s.Resources.CPULimit, "memory": s.Resources.MemoryLimit}, dig(c, "resources", "limits"), s.Name)
		assert.Equal(t, "/tmp", dig(c, "volumeMounts", 0, "mountPath"), s.Name)
		assert.Equal(t, "tmp", dig(spec, "volumes", 0, "name"), s.Name)
		assert.NotNil(t, dig(spec, "volumes", 0, "emptyDir"), s.Name)

		sa := object(t, rec, "ServiceAccount", Namespace, s.Name)
		assert.Equal(t, false, sa.Inputs["automountServiceAccountToken"], s.Name)
		assert.Equal(t, "arn:aws:iam::123456789012:role/cdx-test-"+s.Name, dig(sa.Inputs, "metadata", "annotations", RoleAnnotation), s.Name)

		if s.Kind == catalog.Job {
			assert.Equal(t, "Never", dig(spec, "restartPolicy"), s.Name)
			assert.Nil(t, dig(c, "livenessProbe"), s.Name)
			continue
		}
		for probe, path := range map[string]string{"startupProbe": s.Probes.Liveness, "livenessProbe": s.Probes.Liveness, "readinessProbe": s.Probes.Readiness} {
			assert.Equal(t, map[string]any{"path": path, "port": "ops"}, dig(c, probe, "httpGet"), "%s %s", s.Name, probe)
		}
		assert.Contains(t, dig(c, "ports"), map[string]any{"name": "ops", "containerPort": float64(s.OpsPort), "protocol": "TCP"}, s.Name)
		ann := dig(tmpl, "metadata", "annotations")
		assert.Equal(t, "true", dig(ann, "prometheus.io/scrape"), s.Name)
		assert.Equal(t, "9090", dig(ann, "prometheus.io/port"), s.Name)
		assert.Equal(t, "/metrics", dig(ann, "prometheus.io/path"), s.Name)
		assert.Len(t, dig(ann, ConfigHashAnnotation), 64, s.Name)
		assert.Equal(t, "topology.kubernetes.io/zone", dig(spec, "topologySpreadConstraints", 0, "topologyKey"), s.Name)
		assert.Equal(t, "DoNotSchedule", dig(spec, "topologySpreadConstraints", 0, "whenUnsatisfiable"), s.Name)
		assert.Equal(t, map[string]any{LabelName: s.Name, LabelPartOf: "cantondex"}, dig(spec, "topologySpreadConstraints", 0, "labelSelector", "matchLabels"), s.Name)
		assert.Equal(t, "kubernetes.io/hostname", dig(spec, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "podAffinityTerm", "topologyKey"), s.Name)
		grace := float64(ShutdownSeconds + StopMarginSeconds)
		if s.PublicPort != 0 {
			grace += DrainSeconds
			assert.Equal(t, float64(DrainSeconds), dig(c, "lifecycle", "preStop", "sleep", "seconds"), s.Name)
		}
		assert.Equal(t, grace, dig(spec, "terminationGracePeriodSeconds"), s.Name)

	}
}
