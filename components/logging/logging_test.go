package logging

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const (
	releaseType  = "kubernetes:helm.sh/v3:Release"
	logGroupType = "aws:cloudwatch/logGroup:LogGroup"
	issuer       = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
	keyARN       = "arn:aws:kms:us-east-1:123456789012:key/logs"
)

func testArgs() LoggingArgs {
	return LoggingArgs{
		Namespace: "cantondex-logging", ApplicationNamespace: "cantondex", LogGroupPrefix: "/cantondex/test",
		RetentionDays: 90, KMSKeyARN: pulumi.String(keyARN), Region: "us-east-1",
		OIDCProviderARN: pulumi.String("arn:aws:iam::123456789012:oidc-provider/" + issuer), OIDCProviderURL: pulumi.String(issuer),
	}
}

// run builds the component with a Kubernetes provider and a namespace to depend on.
func run(t *testing.T, mutate func(*LoggingArgs)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *LoggingArgs, ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String("{}")})
		if err != nil {
			return err
		}
		ns, err := corev1.NewNamespace(ctx, "logging-ns", &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(a.Namespace)},
		}, pulumi.Provider(k8s))
		if err != nil {
			return err
		}
		a.Kubernetes, a.DependsOn = k8s, []pulumi.Resource{ns}
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a LoggingArgs) error {
		_, err := NewLogging(ctx, "logging", a)
		return err
	})
}

func release(t *testing.T, rec *mocks.Recorder) mocks.Resource {
	t.Helper()
	releases := rec.OfType(releaseType)
	require.Len(t, releases, 1, "releases")
	return releases[0]
}

func TestReleaseIsPinnedInTheLoggingNamespaceAfterItAndTheGroups(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r := release(t, rec)
	comp, ok := rec.Named("cantondex:logging:Logging", "logging")
	require.True(t, ok, "component registered")
	assert.Equal(t, comp.URN, r.Parent, "parent")
	assert.Empty(t, r.Differences(map[string]any{
		"chart": "fluent-bit", "version": "0.58.2", "repositoryOpts.repo": "https://fluent.github.io/helm-charts",
		"namespace": "cantondex-logging", "name": "fluent-bit", "atomic": true,
	}))
	assert.Contains(t, r.Provider, "::k8s::", "the release goes through the cluster's provider")
	ns, _ := rec.Named("kubernetes:core/v1:Namespace", "logging-ns")
	app, _ := rec.Named(logGroupType, "logging-application")
	cluster, _ := rec.Named(logGroupType, "logging-cluster")
	assert.Subset(t, r.DependsOn, []string{ns.URN, app.URN, cluster.URN}, "the release waits for its namespace and both groups")
}

func TestLogGroupsAreEncryptedWithRetention(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	groups := rec.OfType(logGroupType)
	require.Len(t, groups, 2, "log groups")
	names := map[string]mocks.Resource{}
	for _, g := range groups {
		names[g.String("name")] = g
		assert.Equal(t, keyARN, g.String("kmsKeyId"), "group %s encrypted", g.Name)
		assert.Equal(t, 90.0, g.Number("retentionInDays"), "group %s retention", g.Name)
	}
	assert.Contains(t, names, "/cantondex/test/application")
	assert.Contains(t, names, "/cantondex/test/cluster")
}

func TestRoleWritesOnlyItsOwnGroups(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "logging-role-policy")
	require.True(t, ok, "inline policy recorded")
	app := mocks.ARN(logGroupType, "logging-application")
	cluster := mocks.ARN(logGroupType, "logging-cluster")
	statements, err := pol.Policy("policy")
	require.NoError(t, err)
	assert.Equal(t, []mocks.Statement{{
		Sid: "WriteOwnLogGroups", Effect: "Allow",
		Action:   []any{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"},
		Resource: []any{app, app + ":*", cluster, cluster + ":*"},
	}}, statements, "Fluent Bit policy")

	role, ok := rec.Named("aws:iam/role:Role", "logging-role")
	require.True(t, ok, "role recorded")
	trust, err := role.Policy("assumeRolePolicy")
	require.NoError(t, err)
	require.Len(t, trust, 1, "trust statements")
	assert.Equal(t, "system:serviceaccount:cantondex-logging:fluent-bit", trust[0].Condition["StringEquals"][issuer+":sub"], "only Fluent Bit's service account")

	r := release(t, rec)
	annotations, _ := r.Input("values.serviceAccount.annotations")
	assert.Equal(t, map[string]any{"eks.amazonaws.com/role-arn": mocks.ARN("aws:iam/role:Role", "logging-role")}, annotations, "IRSA annotation")
	assert.Equal(t, "fluent-bit", r.String("values.serviceAccount.name"), "service account name")
}

// section returns the [OUTPUT]/[INPUT]/[FILTER] block of a config text with the given alias, as
// key -> value.
func section(t *testing.T, text, alias string) map[string]string {
	t.Helper()
	for _, block := range strings.Split(text, "\n\n") {
		kv := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(block), "\n")[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			kv[k] = v
		}
		if kv["Alias"] == alias {
			return kv
		}
	}
	require.Failf(t, "no section", "alias %s in\n%s", alias, text)
	return nil
}

func TestPipelineShipsToTheGroupsWithoutDroppingSilently(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r := release(t, rec)

	for alias, group := range map[string]string{"application": "/cantondex/test/application", "cluster": "/cantondex/test/cluster"} {
		out := section(t, r.String("values.config.outputs"), alias)
		for k, want := range map[string]string{
			"Name": "cloudwatch_logs", "region": "us-east-1", "log_group_name": group, "auto_create_group": "Off",
			"Retry_Limit": "no_limits", "storage.total_limit_size": "512M",
		} {
			assert.Equal(t, want, out[k], "output %s: %s", alias, k)
		}
		f := section(t, r.String("values.config.filters"), alias)
		for k, want := range map[string]string{"Name": "kubernetes", "Merge_Log": "On", "K8S-Logging.Exclude": "Off"} {
			assert.Equal(t, want, f[k], "filter %s: %s", alias, k)
		}
		in := section(t, r.String("values.config.inputs"), alias)
		assert.Equal(t, "filesystem", in["storage.type"], "input %s buffers on disk", alias)
		assert.Equal(t, in["Tag"], f["Match"], "filter %s sees its input", alias)
		assert.Equal(t, in["Tag"], out["Match"], "output %s ships its input", alias)
	}
	app := section(t, r.String("values.config.inputs"), "application")
	assert.Equal(t, "/var/log/containers/*_cantondex_*.log", app["Path"], "application input")
	cluster := section(t, r.String("values.config.inputs"), "cluster")
	assert.Equal(t, "/var/log/containers/*_cantondex_*.log,/var/log/containers/*_cantondex-logging_*.log", cluster["Exclude_Path"],
		"the cluster input leaves the application (shipped once) and Fluent Bit's own logs out")
	assert.Contains(t, r.String("values.config.service"), "storage.path /var/fluent-bit/state/buffer/", "filesystem buffer")

	mounts, _ := r.Input("values.daemonSetVolumeMounts")
	assert.Contains(t, mounts, map[string]any{"name": "varlog", "mountPath": "/var/log", "readOnly": true}, "node logs read-only")
	assert.Empty(t, r.Differences(map[string]any{
		"values.securityContext.allowPrivilegeEscalation": false,
		"values.securityContext.readOnlyRootFilesystem":   true,
		"values.securityContext.privileged":               false,
		"values.podSecurityContext.seccompProfile.type":   "RuntimeDefault",
		"values.hostNetwork":                              false,
	}))
	assert.Equal(t, []string{"ALL"}, r.Strings("values.securityContext.capabilities.drop"), "capabilities dropped")
}

func TestBufferLimitIsConfigurable(t *testing.T) {
	rec, err := run(t, func(a *LoggingArgs) { a.BufferLimitMiB = 2048 })
	require.NoError(t, err)
	out := section(t, release(t, rec).String("values.config.outputs"), "application")
	assert.Equal(t, "2048M", out["storage.total_limit_size"])
}

func TestInvalidArgsAreRefusedByField(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*LoggingArgs)
		want   string
	}{
		"retention":      {func(a *LoggingArgs) { a.RetentionDays = 45 }, "retentionDays: 45 is not a CloudWatch Logs retention"},
		"no key":         {func(a *LoggingArgs) { a.KMSKeyARN = nil }, "kmsKeyArn: required"},
		"namespace":      {func(a *LoggingArgs) { a.Namespace = "Logging" }, `namespace: "Logging" is not a Kubernetes namespace name`},
		"same namespace": {func(a *LoggingArgs) { a.ApplicationNamespace = a.Namespace }, "applicationNamespace: must differ from namespace"},
		"prefix":         {func(a *LoggingArgs) { a.LogGroupPrefix = "cantondex/" }, `logGroupPrefix: "cantondex/" is not a log group path`},
		"region":         {func(a *LoggingArgs) { a.Region = "" }, `region: "" is not an AWS region`},
		"no issuer":      {func(a *LoggingArgs) { a.OIDCProviderARN = nil }, "oidcProviderArn, oidcProviderUrl: required"},
		"no provider":    {func(a *LoggingArgs) { a.Kubernetes = nil }, "kubernetes: a provider for the cluster is required"},
		"buffer":         {func(a *LoggingArgs) { a.BufferLimitMiB = -1 }, "bufferLimitMiB: -1 is outside 0 to 10240"},
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := run(t, tc.mutate)
			require.Error(t, err)
			assert.ErrorContains(t, err, "logging logging: ")
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, rec.OfType(releaseType), "nothing is created")
			assert.Empty(t, rec.OfType(logGroupType), "nothing is created")
		})
	}
}
