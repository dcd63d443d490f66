package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/components/workloads"
	"github.com/cantondex/platform/infra/program"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// recordWorkloads runs the workloads component with a stack file's settings under mocks
// (the data tier's and the platform's outputs are stand-ins), as the program does.
func recordWorkloads(t *testing.T, stack string) *mocks.Recorder {
	t.Helper()
	root, err := projectDir("")
	require.NoError(t, err)
	cfg, err := readStackFile(filepath.Join(root, "Pulumi."+stack+".yaml"))
	require.NoError(t, err)
	s, err := stacks.Load(stack, "", valuesSource(cfg.Values))
	require.NoError(t, err)
	cidrs, err := s.Network.Subnets()
	require.NoError(t, err)
	n := s.Network.AZCount
	topics, err := program.TopicsJSON(s.Data.Streaming)
	require.NoError(t, err)
	rec, err := mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		images, roles := map[string]pulumi.StringInput{}, map[string]pulumi.StringInput{}
		for _, svc := range catalog.All() {
			images[svc.Name] = pulumi.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/cantondex/" + svc.Name + "@sha256:" + strings.Repeat("ab", 32))
			roles[svc.Name] = pulumi.String("arn:aws:iam::123456789012:role/" + svc.Name)
		}
		_, err = workloads.NewWorkloads(ctx, "wl", workloads.WorkloadsArgs{
			Provider: k8s, Settings: program.WorkloadSettings(s.Workloads), Images: images, Roles: roles, SecretStore: "cantondex-secrets",
			Ingress: workloads.IngressArgs{CertificateARN: pulumi.String("arn:aws:acm:us-east-1:123456789012:certificate/1"), WebACLARN: pulumi.String("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x/1")},
			Endpoints: workloads.Endpoints{
				DatabaseProxies:     map[string]pulumi.StringInput{catalog.Trading: pulumi.String("proxy.example")},
				DatabaseAddresses:   map[string]pulumi.StringInput{catalog.Trading: pulumi.String("db.example")},
				DatabaseSecrets:     map[string]pulumi.StringInput{catalog.Trading: pulumi.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:master")},
				DatabaseUserSecrets: map[string]pulumi.StringMapInput{catalog.Trading: pulumi.StringMap{"cdx_risk": pulumi.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:risk")}},
				RedisHost:           pulumi.String("redis.example"), RedisPort: pulumi.Int(6379),
				KafkaBrokers: pulumi.String("b-1.example:9098"), TopicsJSON: topics, Region: s.Region,
				AuditSigningKeyARN: pulumi.String("arn:aws:kms:us-east-1:123456789012:key/audit-signing"),
			},
			Subnets:     workloads.Subnets{VPC: s.Network.CIDR, Public: cidrs[:n], Private: cidrs[n : 2*n], Database: cidrs[2*n:]},
			RDSCABundle: pulumi.String(program.RDSCAPlaceholder),
		})
		return err
	})
	require.NoError(t, err)
	return rec
}

// typed are the kinds the workloads create, decoded strictly into k8s.io/api types.
var typed = map[string]func() any{
	"Deployment": func() any { return &appsv1.Deployment{} }, "StatefulSet": func() any { return &appsv1.StatefulSet{} },
	"Job": func() any { return &batchv1.Job{} }, "Service": func() any { return &corev1.Service{} },
	"ServiceAccount": func() any { return &corev1.ServiceAccount{} }, "ConfigMap": func() any { return &corev1.ConfigMap{} },
	"Namespace": func() any { return &corev1.Namespace{} }, "Secret": func() any { return &corev1.Secret{} },
	"PodDisruptionBudget":     func() any { return &policyv1.PodDisruptionBudget{} },
	"HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"NetworkPolicy":           func() any { return &networkingv1.NetworkPolicy{} }, "Ingress": func() any { return &networkingv1.Ingress{} },
	"StorageClass": func() any { return &storagev1.StorageClass{} },
	"CronJob":      func() any { return &batchv1.CronJob{} }, "Role": func() any { return &rbacv1.Role{} },
	"RoleBinding": func() any { return &rbacv1.RoleBinding{} },
}

// decodeDir decodes every manifest under dir strictly (unknown or duplicate fields fail),
// returning the objects by kind.
func decodeDir(t *testing.T, dir string) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var head struct{ APIVersion, Kind string }
		require.NoError(t, yaml.Unmarshal(raw, &head), path)
		// prometheus-operator's kinds: tests/kubeapi checks them against their CRDs.
		if strings.HasPrefix(head.APIVersion, "monitoring.coreos.com/") {
			var cr map[string]any
			require.NoError(t, yaml.Unmarshal(raw, &cr), path)
			out[head.Kind] = append(out[head.Kind], cr)
			return nil
		}
		if head.Kind == "ClusterSecretStore" {
			var css struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
				Spec       struct {
					Provider struct {
						AWS struct {
							Service string `json:"service"`
							Region  string `json:"region"`
							Auth    struct {
								JWT struct {
									ServiceAccountRef struct{ Name, Namespace string } `json:"serviceAccountRef"`
								} `json:"jwt"`
							} `json:"auth"`
						} `json:"aws"`
					} `json:"provider"`
					Conditions []struct {
						Namespaces []string `json:"namespaces"`
					} `json:"conditions"`
				} `json:"spec"`
			}
			require.NoError(t, yaml.UnmarshalStrict(raw, &css), path)
			assert.Equal(t, "external-secrets.io/v1", css.APIVersion, path)
			assert.Equal(t, "SecretsManager", css.Spec.Provider.AWS.Service, path)
			out[head.Kind] = append(out[head.Kind], css)
			return nil
		}
		if head.Kind == "ExternalSecret" {
			var es struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
				Spec       struct {
					RefreshInterval string                                                `json:"refreshInterval"`
					SecretStoreRef  struct{ Kind, Name string }                           `json:"secretStoreRef"`
					Target          struct{ Name, CreationPolicy, DeletionPolicy string } `json:"target"`
					Data            []struct {
						SecretKey string                         `json:"secretKey"`
						RemoteRef struct{ Key, Property string } `json:"remoteRef"`
					} `json:"data"`
				} `json:"spec"`
			}
			require.NoError(t, yaml.UnmarshalStrict(raw, &es), path)
			assert.Equal(t, "external-secrets.io/v1", es.APIVersion, path)
			assert.Equal(t, "ClusterSecretStore", es.Spec.SecretStoreRef.Kind, path)
			require.NotEmpty(t, es.Spec.Data, path)
			for _, d := range es.Spec.Data {
				assert.NotEmpty(t, d.RemoteRef.Key, path)
			}
			out[head.Kind] = append(out[head.Kind], es)
			return nil
		}
		mk, ok := typed[head.Kind]
		require.True(t, ok, "%s: kind %q has no typed decoding here", path, head.Kind)
		obj := mk()
		require.NoError(t, yaml.UnmarshalStrict(raw, obj), path)
		out[head.Kind] = append(out[head.Kind], obj)
		return nil
	}))
	return out
}

func TestWorkloadManifestsDecodeStrictlyIntoTheAPITypes(t *testing.T) {
	for _, tc := range []struct {
		stack    string
		replicas map[string]int32
	}{
		{"prod", map[string]int32{catalog.APIGateway: 5, catalog.MatchingEngine: 5, catalog.SettlementCoordinator: 3, catalog.RiskManagement: 3, catalog.NotificationService: 3, catalog.ComplianceService: 3}},
		{"staging", map[string]int32{catalog.APIGateway: 2, catalog.MatchingEngine: 2, catalog.SettlementCoordinator: 2, catalog.RiskManagement: 1, catalog.NotificationService: 2, catalog.ComplianceService: 1}},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			rec := recordWorkloads(t, tc.stack)
			ms, err := Manifests(rec.Resources())
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, writeManifests(dir, ms))
			objs := decodeDir(t, dir)
			total := 0
			for _, list := range objs {
				total += len(list)
			}
			assert.Equal(t, len(ms), total, "one file per object")

			got := map[string]int32{}
			check := func(name string, spec corev1.PodSpec) {
				c := spec.Containers[0]
				require.NotNil(t, c.SecurityContext, name)
				assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, name)
				assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation, name)
				assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop, name)
				assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type, name)
				assert.Equal(t, int64(1000), *spec.SecurityContext.RunAsUser, name)
				assert.Equal(t, "ops", c.ReadinessProbe.HTTPGet.Port.String(), name)
				assert.False(t, c.Resources.Limits.Memory().IsZero(), name)
			}
			for _, o := range objs["Deployment"] {
				d := o.(*appsv1.Deployment)
				got[d.Name] = *d.Spec.Replicas
				check(d.Name, d.Spec.Template.Spec)
			}
			for _, o := range objs["StatefulSet"] {
				s := o.(*appsv1.StatefulSet)
				got[s.Name] = *s.Spec.Replicas
				check(s.Name, s.Spec.Template.Spec)
			}
			assert.Equal(t, tc.replicas, got, "replicas")
			assert.Len(t, objs["Job"], 3)
			require.Len(t, objs["CronJob"], 1)
			cron := objs["CronJob"][0].(*batchv1.CronJob)
			assert.Equal(t, catalog.ScreeningSync, cron.Name)
			assert.Equal(t, catalog.ScreeningSyncSchedule, cron.Spec.Schedule)
			assert.True(t, *cron.Spec.JobTemplate.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
			for _, o := range objs["HorizontalPodAutoscaler"] {
				h := o.(*autoscalingv2.HorizontalPodAutoscaler)
				assert.GreaterOrEqual(t, h.Spec.MaxReplicas, tc.replicas[h.Name], h.Name)
			}
		})
	}
}

func TestManifestsRedactSecretsAndResolveUnknowns(t *testing.T) {
	res := func(typ, name string, inputs map[string]any) mocks.Resource {
		return mocks.Resource{URN: "urn:" + name, Type: typ, Name: name, Inputs: inputs}
	}
	ms, err := Manifests([]mocks.Resource{
		res("kubernetes:core/v1:Secret", "s", map[string]any{"metadata": map[string]any{"name": "token", "namespace": "cantondex"},
			"data": map[string]any{"TOKEN": "c2VjcmV0"}, "stringData": map[string]any{"PLAIN": "secret"}}),
		res("kubernetes:core/v1:Namespace", "ns", map[string]any{"metadata": map[string]any{"name": "cantondex", "uid": "[unknown]"}}),
		res("kubernetes:apps/v1:Deployment", "d", map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "api", "namespace": "cantondex"}, "spec": map[string]any{"replicas": 5.0}}),
		res("kubernetes:helm.sh/v3:Release", "r", map[string]any{"name": "chart"}),
	})
	require.NoError(t, err)
	require.Len(t, ms, 3, "the Helm release is not an object")
	byFile := map[string]Manifest{}
	for _, m := range ms {
		byFile[m.File] = m
	}
	secret := byFile["cantondex/secret-token.yaml"].Object
	assert.Equal(t, map[string]any{"TOKEN": "cmVkYWN0ZWQ="}, secret["data"])
	assert.Equal(t, map[string]any{"PLAIN": RedactedValue}, secret["stringData"])
	assert.Equal(t, "v1", secret["apiVersion"])
	ns := byFile["cluster/namespace-cantondex.yaml"]
	assert.Equal(t, "", ns.Namespace)
	assert.Equal(t, UnknownPlaceholder, ns.Object["metadata"].(map[string]any)["uid"])
	assert.Equal(t, int64(5), byFile["cantondex/deployment-api.yaml"].Object["spec"].(map[string]any)["replicas"])

	dir := t.TempDir()
	require.NoError(t, writeManifests(dir, ms))
	raw, err := os.ReadFile(filepath.Join(dir, "cantondex", "secret-token.yaml"))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "c2VjcmV0")
	assert.NotContains(t, string(raw), "secret\n")

	_, err = Manifests([]mocks.Resource{res("kubernetes:core/v1:ConfigMap", "a", map[string]any{"metadata": map[string]any{}})})
	assert.ErrorContains(t, err, "no metadata.name")
	twice := res("kubernetes:core/v1:ConfigMap", "a", map[string]any{"metadata": map[string]any{"name": "x", "namespace": "n"}})
	_, err = Manifests([]mocks.Resource{twice, twice})
	assert.ErrorContains(t, err, "are both ConfigMap n/x")
}

// The plan's --manifests writes exactly the objects its JSON lists, and they are the stack's
// workloads: one per catalog service with the stack's replicas, an HPA and a PDB each, the
// Jobs, the four namespaces with Pod Security restricted.
func TestPlanWritesTheManifestsItLists(t *testing.T) {
	for _, tc := range []struct {
		stack    string
		replicas map[string]int32
	}{
		{"prod", map[string]int32{catalog.APIGateway: 5, catalog.MatchingEngine: 5, catalog.SettlementCoordinator: 3, catalog.RiskManagement: 3, catalog.NotificationService: 3, catalog.ComplianceService: 3}},
		{"staging", map[string]int32{catalog.APIGateway: 2, catalog.MatchingEngine: 2, catalog.SettlementCoordinator: 2, catalog.RiskManagement: 1, catalog.NotificationService: 2, catalog.ComplianceService: 1}},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run([]string{"--stack", tc.stack, "--format", "json", "--manifests", dir}, &stdout, &stderr)
			require.Equal(t, 0, code, "exit code; stderr %s", stderr.String())
			var out struct {
				Kubernetes []Manifest `json:"kubernetes"`
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &out))
			var listed, written []string
			for _, m := range out.Kubernetes {
				listed = append(listed, m.File)
			}
			require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, path)
					written = append(written, filepath.ToSlash(rel))
				}
				return err
			}))
			sort.Strings(listed)
			sort.Strings(written)
			assert.Equal(t, listed, written)

			objs := decodeDir(t, dir)
			got := map[string]int32{}
			for _, o := range objs["Deployment"] {
				got[o.(*appsv1.Deployment).Name] = *o.(*appsv1.Deployment).Spec.Replicas
			}
			for _, o := range objs["StatefulSet"] {
				got[o.(*appsv1.StatefulSet).Name] = *o.(*appsv1.StatefulSet).Spec.Replicas
			}
			assert.Equal(t, tc.replicas, got, "one workload per long-running catalog service, with the stack's replicas")
			assert.Len(t, objs["HorizontalPodAutoscaler"], len(tc.replicas))
			assert.Len(t, objs["PodDisruptionBudget"], len(tc.replicas))
			assert.Len(t, objs["Job"], 3)
			assert.Len(t, objs["CronJob"], 1)
			assert.Len(t, objs["Role"], 1)
			assert.Len(t, objs["Ingress"], 2)
			var namespaces []string
			for _, o := range objs["Namespace"] {
				ns := o.(*corev1.Namespace)
				namespaces = append(namespaces, ns.Name)
				// program.NamespaceLabels: the one exception is the logging namespace's enforce.
				assert.Equal(t, program.NamespaceLabels(ns.Name), ns.Labels, ns.Name)
			}
			assert.Len(t, objs["ServiceMonitor"], len(program.ScrapedServices()), "a ServiceMonitor per scraped service")
			assert.Len(t, objs["PrometheusRule"], 1)
			sort.Strings(namespaces)
			assert.Equal(t, []string{"cantondex", "cantondex-logging", "cantondex-monitoring", "cantondex-security"}, namespaces)
		})
	}
}
