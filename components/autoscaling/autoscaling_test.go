package autoscaling

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	issuer      = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
)

func testArgs() AutoscalingArgs {
	return AutoscalingArgs{
		ClusterName: pulumi.String("cantondex-test"), KubernetesVersion: "1.35", Region: "us-east-1",
		OIDCProviderARN: pulumi.String("arn:aws:iam::123456789012:oidc-provider/" + issuer), OIDCProviderURL: pulumi.String(issuer),
		ScaleDownUnneededTime: 15 * time.Minute,
	}
}

// run builds the component with a Kubernetes provider of its own (unless mutate removes it).
func run(t *testing.T, mutate func(*AutoscalingArgs)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *AutoscalingArgs, ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String("{}")})
		if err != nil {
			return err
		}
		a.Kubernetes = k8s
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a AutoscalingArgs) error {
		_, err := NewAutoscaling(ctx, "autoscaler", a)
		return err
	})
}

func TestReleaseIsPinnedInKubeSystemThroughTheClustersProvider(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	releases := rec.OfType(releaseType)
	require.Len(t, releases, 1, "releases")
	r := releases[0]
	comp, ok := rec.Named("cantondex:autoscaling:Autoscaling", "autoscaler")
	require.True(t, ok, "component registered")
	assert.Equal(t, comp.URN, r.Parent, "parent")
	assert.Empty(t, r.Differences(map[string]any{
		"chart": "cluster-autoscaler", "version": "9.59.0", "repositoryOpts.repo": "https://kubernetes.github.io/autoscaler",
		"namespace": "kube-system", "name": "cluster-autoscaler", "atomic": true,
	}))
	assert.Contains(t, r.Provider, "::k8s::", "the release goes through the cluster's provider, not the ambient kubeconfig")
}

func TestValuesDiscoverTheClusterAndUseTheRole(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r := rec.OfType(releaseType)[0]
	roleARN := mocks.ARN("aws:iam/role:Role", "autoscaler-role")
	assert.Empty(t, r.Differences(map[string]any{
		"values.cloudProvider":                                     "aws",
		"values.awsRegion":                                         "us-east-1",
		"values.autoDiscovery.clusterName":                         "cantondex-test",
		"values.image.tag":                                         "v1.35.0",
		"values.rbac.serviceAccount.name":                          "cluster-autoscaler",
		"values.priorityClassName":                                 "system-cluster-critical",
		"values.podDisruptionBudget.maxUnavailable":                1.0,
		"values.extraArgs.balance-similar-node-groups":             true,
		"values.extraArgs.skip-nodes-with-system-pods":             false,
		"values.extraArgs.expander":                                "least-waste",
		"values.extraArgs.scale-down-unneeded-time":                "15m0s",
		"values.extraArgs.scale-down-delay-after-add":              "10m0s",
		"values.extraArgs.scale-down-utilization-threshold":        "0.5",
		"values.securityContext.runAsNonRoot":                      true,
		"values.securityContext.seccompProfile.type":               "RuntimeDefault",
		"values.containerSecurityContext.allowPrivilegeEscalation": false,
		"values.containerSecurityContext.readOnlyRootFilesystem":   true,
		"values.resources.requests.memory":                         "300Mi",
		"values.resources.limits.memory":                           "600Mi",
	}))
	assert.Equal(t, []string{"ALL"}, r.Strings("values.containerSecurityContext.capabilities.drop"), "capabilities dropped")
	annotations, _ := r.Input("values.rbac.serviceAccount.annotations")
	assert.Equal(t, map[string]any{"eks.amazonaws.com/role-arn": roleARN}, annotations, "IRSA annotation")
}

func TestRoleMayScaleOnlyTheClustersOwnedGroups(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "autoscaler-role-policy")
	require.True(t, ok, "inline policy recorded")
	statements, err := pol.Policy("policy")
	require.NoError(t, err)
	assert.Equal(t, []mocks.Statement{
		{
			Sid: "ScaleOwnedGroups", Effect: "Allow",
			Action:   []any{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
			Resource: "*",
			Condition: map[string]map[string]any{"StringEquals": {
				"aws:ResourceTag/k8s.io/cluster-autoscaler/cantondex-test": "owned",
			}},
		},
		{
			Sid: "Discover", Effect: "Allow",
			Action: []any{
				"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
				"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeTags",
				"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
				"ec2:GetInstanceTypesFromInstanceRequirements", "eks:DescribeNodegroup",
			},
			Resource: "*",
		},
	}, statements, "autoscaler policy")

	role, ok := rec.Named("aws:iam/role:Role", "autoscaler-role")
	require.True(t, ok, "role recorded")
	trust, err := role.Policy("assumeRolePolicy")
	require.NoError(t, err)
	require.Len(t, trust, 1, "trust statements")
	assert.Equal(t, "system:serviceaccount:kube-system:cluster-autoscaler", trust[0].Condition["StringEquals"][issuer+":sub"], "only the autoscaler's service account")
}

func TestImageFollowsTheKubernetesMinor(t *testing.T) {
	rec, err := run(t, func(a *AutoscalingArgs) { a.KubernetesVersion = "1.34" })
	require.NoError(t, err)
	assert.Equal(t, "v1.34.2", rec.OfType(releaseType)[0].String("values.image.tag"), "image for 1.34")
}

func TestInvalidArgsAreRefusedByField(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*AutoscalingArgs)
		want   string
	}{
		"unknown minor":   {func(a *AutoscalingArgs) { a.KubernetesVersion = "1.36" }, `kubernetesVersion: no cluster-autoscaler release is pinned for "1.36"`},
		"no cluster name": {func(a *AutoscalingArgs) { a.ClusterName = pulumi.String("") }, "clusterName: must not be empty"},
		"bad region":      {func(a *AutoscalingArgs) { a.Region = "useast1" }, `region: "useast1" is not an AWS region`},
		"no issuer":       {func(a *AutoscalingArgs) { a.OIDCProviderURL = nil }, "oidcProviderArn, oidcProviderUrl: required"},
		"no provider":     {func(a *AutoscalingArgs) { a.Kubernetes = nil }, "kubernetes: a provider for the cluster is required"},
		"threshold":       {func(a *AutoscalingArgs) { a.ScaleDownUtilizationThreshold = 1.5 }, "scaleDownUtilizationThreshold: 1.5 is outside [0, 1)"},
		"negative time":   {func(a *AutoscalingArgs) { a.ScaleDownDelayAfterAdd = -time.Minute }, "scaleDownDelayAfterAdd: must not be negative"},
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := run(t, tc.mutate)
			require.Error(t, err)
			assert.ErrorContains(t, err, "autoscaling autoscaler: ")
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, rec.OfType(releaseType), "nothing is created")
			assert.Empty(t, rec.OfType("aws:iam/role:Role"), "nothing is created")
		})
	}
}
