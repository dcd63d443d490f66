// Package autoscaling is the cluster-autoscaler component: the upstream chart as a pinned Helm
// release in kube-system, discovering the cluster's managed node groups by their tags, with its
// own IRSA role that may resize and shrink only the Auto Scaling groups tagged as owned by this
// cluster.
//
// Why cluster-autoscaler rather than Karpenter: the program already runs EKS managed node
// groups (components/cluster) with their launch templates, capacity types and min/max bounds as
// stack settings; cluster-autoscaler works within exactly those groups and bounds, so capacity
// stays described in one place. It needs no CRDs, no extra controller with its own node
// lifecycle, no interruption queue and no instance-profile management (Karpenter would need all
// of these and an IAM role that may launch instances). Its permissions are the narrowest an
// autoscaler can have: change the desired capacity of, and terminate instances in, the groups
// tagged k8s.io/cluster-autoscaler/<cluster>=owned, and read-only describes elsewhere.
//
// EKS tags the Auto Scaling group of every managed node group with
// k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/<cluster>; the node groups'
// own labels and taints, which EKS does not copy to the group, cluster-autoscaler reads with
// eks:DescribeNodegroup, so that scale-from-zero (the spot group's minimum is 0) works.
package autoscaling

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/helmrelease"
	"github.com/cantondex/platform/components/identity"
)

// The chart, pinned. Chart 9.59.0 ships cluster-autoscaler 1.35.0; the image tag is set per
// Kubernetes minor (see images), as cluster-autoscaler is released in lockstep with Kubernetes
// and must match the control plane's minor.
const (
	ChartName       = "cluster-autoscaler"
	ChartRepository = "https://kubernetes.github.io/autoscaler"
	ChartVersion    = "9.59.0"
	// Namespace is where AWS and the chart document the autoscaler; ServiceAccount its account.
	Namespace      = "kube-system"
	ServiceAccount = "cluster-autoscaler"
)

// images maps a Kubernetes minor to the cluster-autoscaler release built for it.
func images() map[string]string {
	return map[string]string{
		"1.32": "v1.32.5",
		"1.33": "v1.33.3",
		"1.34": "v1.34.2",
		"1.35": "v1.35.0",
	}
}

// Autoscaling is the cluster-autoscaler release and its IAM role.
type Autoscaling struct {
	pulumi.ResourceState

	RoleARN pulumi.StringOutput `pulumi:"roleArn"`
	// Release is the Helm release's name; ImageTag the autoscaler version it runs.
	Release  pulumi.StringOutput `pulumi:"release"`
	ImageTag string
}

// AutoscalingArgs configures the autoscaler.
type AutoscalingArgs struct {
	// ClusterName is the EKS cluster's name: the node groups' tag key and auto-discovery.
	ClusterName pulumi.StringInput
	// KubernetesVersion is the cluster's minor ("1.35"); it picks the autoscaler release.
	KubernetesVersion string
	Region            string
	// OIDCProviderARN and OIDCProviderURL (without https://) are the cluster's IRSA issuer.
	OIDCProviderARN pulumi.StringInput
	OIDCProviderURL pulumi.StringInput
	// Kubernetes is the provider of the cluster the release goes into.
	Kubernetes pulumi.ProviderResource

	// ScaleDownUnneededTime is how long a node stays unneeded before it goes (0: 10m);
	// ScaleDownDelayAfterAdd how long after a scale-up scale-down resumes (0: 10m);
	// ScaleDownUtilizationThreshold the requested/allocatable ratio below which a node is
	// unneeded (0: 0.5).
	ScaleDownUnneededTime         time.Duration
	ScaleDownDelayAfterAdd        time.Duration
	ScaleDownUtilizationThreshold float64
	Tags                          map[string]string
}

var region = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

func (a AutoscalingArgs) validate() error {
	var errs []error
	if a.ClusterName == nil {
		errs = append(errs, errors.New("clusterName: required"))
	} else if s, ok := a.ClusterName.(pulumi.String); ok && s == "" {
		errs = append(errs, errors.New("clusterName: must not be empty"))
	}
	if _, ok := images()[a.KubernetesVersion]; !ok {
		errs = append(errs, fmt.Errorf("kubernetesVersion: no cluster-autoscaler release is pinned for %q (have 1.32 to 1.35)", a.KubernetesVersion))
	}
	if !region.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not an AWS region", a.Region))
	}
	if a.OIDCProviderARN == nil || a.OIDCProviderURL == nil {
		errs = append(errs, errors.New("oidcProviderArn, oidcProviderUrl: required for the IRSA role"))
	}
	if a.Kubernetes == nil {
		errs = append(errs, errors.New("kubernetes: a provider for the cluster is required (never the ambient kubeconfig)"))
	}
	if a.ScaleDownUnneededTime < 0 || a.ScaleDownDelayAfterAdd < 0 {
		errs = append(errs, errors.New("scaleDownUnneededTime, scaleDownDelayAfterAdd: must not be negative"))
	}
	if t := a.ScaleDownUtilizationThreshold; t < 0 || t >= 1 {
		errs = append(errs, fmt.Errorf("scaleDownUtilizationThreshold: %v is outside [0, 1)", t))
	}
	return errors.Join(errs...)
}

// orDefault is d when v is zero.
func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Policy is the autoscaler's permissions as AWS documents them for auto-discovery: it may change
// only the groups tagged k8s.io/cluster-autoscaler/<cluster>=owned; everything else it reads.
func Policy(clusterName pulumi.StringInput) identity.Document {
	return identity.Document{Statements: []identity.Statement{
		{
			Sid:       "ScaleOwnedGroups",
			Actions:   []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
			Resources: identity.Strings("*"),
			Conditions: []identity.Condition{{
				Test:     "StringEquals",
				Variable: pulumi.Sprintf("aws:ResourceTag/k8s.io/cluster-autoscaler/%s", clusterName),
				Values:   identity.Strings("owned"),
			}},
		},
		{
			// Describe calls take no resource-level permissions.
			Sid: "Discover",
			Actions: []string{
				"autoscaling:DescribeAutoScalingGroups",
				"autoscaling:DescribeAutoScalingInstances",
				"autoscaling:DescribeLaunchConfigurations",
				"autoscaling:DescribeScalingActivities",
				"autoscaling:DescribeTags",
				"ec2:DescribeImages",
				"ec2:DescribeInstanceTypes",
				"ec2:DescribeLaunchTemplateVersions",
				"ec2:GetInstanceTypesFromInstanceRequirements",
				"eks:DescribeNodegroup",
			},
			Resources: identity.Strings("*"),
		},
	}}
}

// NewAutoscaling creates the IRSA role and the cluster-autoscaler release.
func NewAutoscaling(ctx *pulumi.Context, name string, args AutoscalingArgs, opts ...pulumi.ResourceOption) (*Autoscaling, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("autoscaling %s: %w", name, err)
	}
	c := &Autoscaling{ImageTag: images()[args.KubernetesVersion]}
	if err := ctx.RegisterComponentResource("cantondex:autoscaling:Autoscaling", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	policy := Policy(args.ClusterName)
	role, err := identity.NewServiceAccountRole(ctx, name, identity.ServiceAccountRoleArgs{
		OIDCProviderARN: args.OIDCProviderARN, OIDCProviderURL: args.OIDCProviderURL,
		Namespace: Namespace, ServiceAccount: ServiceAccount, Policy: &policy, Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	release, err := helmrelease.New(ctx, name, helmrelease.Args{
		Name:      ServiceAccount,
		Chart:     helmrelease.Chart{Name: ChartName, Repo: ChartRepository, Version: ChartVersion},
		Namespace: Namespace,
		Values:    values(args, c.ImageTag, role.RoleARN),
	}, parent, pulumi.Provider(args.Kubernetes))
	if err != nil {
		return nil, err
	}

	c.RoleARN = role.RoleARN
	c.Release = release.Name.Elem()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": c.RoleARN, "release": c.Release})
}

// values are the chart's values: auto-discovery, IRSA, the scaling behaviour, and a pod that
// runs as the restricted Pod Security Standard requires.
func values(args AutoscalingArgs, imageTag string, roleARN pulumi.StringOutput) pulumi.Map {
	unneeded := orDefault(args.ScaleDownUnneededTime, 10*time.Minute)
	afterAdd := orDefault(args.ScaleDownDelayAfterAdd, 10*time.Minute)
	threshold := orDefault(args.ScaleDownUtilizationThreshold, 0.5)
	return pulumi.Map{
		"cloudProvider": pulumi.String("aws"),
		"awsRegion":     pulumi.String(args.Region),
		"autoDiscovery": pulumi.Map{"clusterName": args.ClusterName},
		"image":         pulumi.Map{"tag": pulumi.String(imageTag)},
		"rbac": pulumi.Map{"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(ServiceAccount),
			"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": roleARN},
		}},
		"extraArgs": pulumi.Map{
			"balance-similar-node-groups":      pulumi.Bool(true),
			"skip-nodes-with-system-pods":      pulumi.Bool(false),
			"skip-nodes-with-local-storage":    pulumi.Bool(false),
			"expander":                         pulumi.String("least-waste"),
			"scale-down-unneeded-time":         pulumi.String(unneeded.String()),
			"scale-down-delay-after-add":       pulumi.String(afterAdd.String()),
			"scale-down-utilization-threshold": pulumi.String(strconv.FormatFloat(threshold, 'f', -1, 64)),
			"logtostderr":                      pulumi.Bool(true),
			"stderrthreshold":                  pulumi.String("info"),
			"v":                                pulumi.Int(2),
		},
		// Two replicas with leader election (the chart's default): one scales, the other takes
		// over within seconds; the PDB lets a drain take only one of them at a time.
		"replicaCount":      pulumi.Int(2),
		"priorityClassName": pulumi.String("system-cluster-critical"),
		"podDisruptionBudget": pulumi.Map{
			"maxUnavailable": pulumi.Int(1),
		},
		"securityContext": pulumi.Map{
			"runAsNonRoot": pulumi.Bool(true), "runAsUser": pulumi.Int(65534), "runAsGroup": pulumi.Int(65534),
			"fsGroup":        pulumi.Int(65534),
			"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
		},
		"containerSecurityContext": pulumi.Map{
			"allowPrivilegeEscalation": pulumi.Bool(false),
			"readOnlyRootFilesystem":   pulumi.Bool(true),
			"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
		},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("300Mi")},
			"limits":   pulumi.Map{"memory": pulumi.String("600Mi")},
		},
	}
}
