package program

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/components/workloads"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// fakePlatform stands in for platform() (CONTRACTS C4): namespaces, images by digest, a role
// per service, the secret store and the edge.
func fakePlatform(ctx *pulumi.Context, f *Foundation) (*Platform, error) {
	p := &Platform{
		Namespaces: map[string]pulumi.Resource{}, Images: map[string]pulumi.StringOutput{}, ServiceRoles: map[string]pulumi.StringOutput{},
		SecretStore: "cantondex-secrets", WebACLARN: str("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/cdx/1"),
		CertificateARN: "arn:aws:acm:us-east-1:123456789012:certificate/1",
		SecretKeys:     map[string]pulumi.StringOutput{"cantondex-auth-keys": str("arn:aws:secretsmanager:us-east-1:123456789012:secret:auth")},
	}
	for _, ns := range workloads.DefaultNamespaces() {
		created, err := corev1.NewNamespace(ctx, "ns-"+ns, &corev1.NamespaceArgs{Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(ns)}}, pulumi.Provider(f.Kubernetes))
		if err != nil {
			return nil, err
		}
		p.Namespaces[ns] = created
	}
	for _, s := range catalog.All() {
		p.Images[s.Name] = str("123456789012.dkr.ecr.us-east-1.amazonaws.com/cantondex/" + s.Name + "@sha256:" + strings.Repeat("0", 64))
		p.ServiceRoles[s.Name] = str("arn:aws:iam::123456789012:role/" + s.Name)
	}
	p.AuditSigningKeyARN = str("arn:aws:kms:us-east-1:123456789012:key/audit-signing")
	return p, nil
}

func runWorkloads(t *testing.T, stack string, src mapSource) *mocks.Recorder {
	t.Helper()
	s, err := stacks.Load(stack, "", src)
	require.NoError(t, err)
	rec, err := mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		d, err := dataTier(ctx, s, f)
		if err != nil {
			return err
		}
		p, err := fakePlatform(ctx, f)
		if err != nil {
			return err
		}
		_, err = deployWorkloads(ctx, s, f, d, p)
		return err
	})
	require.NoError(t, err)
	return rec
}

// The acceptance counts per stack: one workload per catalog service with the stack's
// replicas, an HPA each, a PDB for each multi-replica one, the Jobs, the gateway's Ingress.
func TestWorkloadCountsPerStack(t *testing.T) {
	for _, tc := range []struct {
		stack    string
		replicas map[string]float64
		pdbs     int
	}{
		{"prod", map[string]float64{catalog.APIGateway: 5, catalog.MatchingEngine: 5, catalog.SettlementCoordinator: 3, catalog.RiskManagement: 3, catalog.NotificationService: 3, catalog.ComplianceService: 3}, 6},
		{"staging", map[string]float64{catalog.APIGateway: 2, catalog.MatchingEngine: 2, catalog.SettlementCoordinator: 2, catalog.RiskManagement: 1, catalog.NotificationService: 2, catalog.ComplianceService: 1}, 6},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			src := mapSource{}
			if tc.stack == "staging" {
				src["data"] = `{"streaming":{"topics":{"orders":{"partitions":6}}}}`
			}
			rec := runWorkloads(t, tc.stack, src)
			count := map[string]int{}
			got := map[string]float64{}
			for _, r := range rec.Resources() {
				if !strings.HasPrefix(r.Type, "kubernetes:") {
					continue
				}
				kind := r.Type[strings.LastIndex(r.Type, ":")+1:]
				count[kind]++
				if kind == "Deployment" || kind == "StatefulSet" {
					got[r.String("metadata.name")] = r.Number("spec.replicas")
				}
			}
			assert.Equal(t, tc.replicas, got, "replicas")
			assert.Equal(t, 2, count["Deployment"], "Deployments")
			assert.Equal(t, 4, count["StatefulSet"], "StatefulSets")
			assert.Equal(t, 3, count["Job"], "Jobs: migrations, topics, the screening lists")
			assert.Equal(t, 1, count["CronJob"], "CronJobs: the screening lists, daily")
			assert.Equal(t, 1, count["Role"], "Roles: the screening lists' writer")
			assert.Equal(t, 6, count["HorizontalPodAutoscaler"], "HPAs")
			assert.Equal(t, tc.pdbs, count["PodDisruptionBudget"], "PDBs")
			assert.Equal(t, 2, count["Ingress"], "Ingresses: the gateway and the streams, in one ALB group")
			assert.Equal(t, 3+len(catalog.All())+1, count["NetworkPolicy"], "NetworkPolicies: default deny ×3 (the platform writes cantondex-security's), one per service, Prometheus's egress")
			for _, ns := range []string{workloads.Namespace, workloads.MonitoringNamespace, workloads.LoggingNamespace} {
				assert.True(t, slices.ContainsFunc(rec.OfType("kubernetes:networking.k8s.io/v1:NetworkPolicy"), func(r mocks.Resource) bool {
					return r.String("metadata.namespace") == ns && r.String("metadata.name") == workloads.DefaultDenyPolicy
				}), "default deny in %s", ns)
			}
			assert.Equal(t, 3, count["ExternalSecret"], "ExternalSecrets: the auth keys, the Redis auth token, the migrations Job's master secret (the audit key is in KMS, not a secret)")

			level := "info"
			if tc.stack == "staging" {
				level = "debug"
			}
			cm, ok := rec.Named("kubernetes:core/v1:ConfigMap", fmt.Sprintf("cdx-%s-workloads-%s-env", tc.stack, catalog.APIGateway))
			require.True(t, ok)
			assert.Equal(t, level, cm.String("data.LOG_LEVEL"))
			assert.Equal(t, "10.0.0.0/16", cm.String("data.TRUSTED_PROXIES"))
			assert.Equal(t, "postgres://cdx_api_gateway@cdx-"+tc.stack+"-trading-proxy.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com:5432/trading", cm.String("data.DATABASE_URL"))
			assert.Contains(t, cm.String("data.KAFKA_BROKERS"), ":9098")
			redis := object(t, rec, "ExternalSecret", "cantondex-redis-auth-token")
			assert.Contains(t, fmt.Sprint(redis.Inputs["spec"]), "cdx-"+tc.stack+"-cache-auth-token", "the Redis token's secret is the cache's")
			ca, ok := rec.Named("kubernetes:core/v1:ConfigMap", "cdx-"+tc.stack+"-workloads-"+workloads.RDSCAConfigMap)
			require.True(t, ok)
			assert.Equal(t, map[string]any{"rds-ca.pem": RDSCAPlaceholder}, ca.Inputs["data"], "offline without the bundle's file: the placeholder")

			// The sanctions lists: mounted into the gateway and the compliance service from the
			// one ConfigMap that screening-sync alone may write.
			for _, name := range []string{catalog.APIGateway, catalog.ComplianceService} {
				env, ok := rec.Named("kubernetes:core/v1:ConfigMap", fmt.Sprintf("cdx-%s-workloads-%s-env", tc.stack, name))
				require.True(t, ok)
				assert.Equal(t, "/etc/cantondex-screening/sdn.csv.gz", env.String("data.SCREENING_LIST"), name)
				assert.Equal(t, "/etc/cantondex-screening/alt.csv.gz", env.String("data.SCREENING_ALT"), name)
				assert.Equal(t, "/etc/cantondex-screening/add.csv.gz", env.String("data.SCREENING_ADD"), name)
				kind := "Deployment"
				if name == catalog.ComplianceService {
					kind = "StatefulSet"
				}
				w := object(t, rec, kind, name)
				assert.Contains(t, fmt.Sprint(w.Inputs["spec"]), "map[configMap:map[defaultMode:292 name:screening-lists] name:screening-lists]", name)
				assert.Contains(t, fmt.Sprint(w.Inputs["spec"]), "map[mountPath:/etc/cantondex-screening name:screening-lists readOnly:true]", name)
			}
			role := object(t, rec, "Role", catalog.ScreeningSync)
			assert.Equal(t, "[map[apiGroups:[] resourceNames:[screening-lists] resources:[configmaps] verbs:[get update patch]]]", fmt.Sprint(role.Inputs["rules"]))
			cron := object(t, rec, "CronJob", catalog.ScreeningSync)
			assert.Equal(t, catalog.ScreeningSyncSchedule, cron.String("spec.schedule"))
		})
	}
}

func object(t *testing.T, rec *mocks.Recorder, kind, name string) mocks.Resource {
	t.Helper()
	for _, r := range rec.Resources() {
		if strings.HasSuffix(r.Type, ":"+kind) && r.String("metadata.name") == name {
			return r
		}
	}
	require.Failf(t, "not recorded", "%s %s", kind, name)
	return mocks.Resource{}
}
