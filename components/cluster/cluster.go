// Package cluster is the EKS component: the control plane (pulumi-eks Cluster) with private
// endpoint, every control-plane log type, KMS-encrypted secrets, OIDC for IRSA and API access
// entries; managed node groups with IMDSv2 and encrypted volumes; the EKS managed add-ons; and a
// Kubernetes provider built from the cluster's own kubeconfig.
package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// logTypes are the control-plane logs; all of them are always on, so no caller chooses.
var logTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// NodeGroup is one managed node group.
type NodeGroup struct {
	Name          string
	CapacityType  string // ON_DEMAND or SPOT
	InstanceTypes []string
	MinSize       int
	DesiredSize   int // initial size; the cluster autoscaler owns it afterwards
	MaxSize       int
	DiskSizeGiB   int
	Labels        map[string]string
	Taints        []Taint
}

// Taint is a Kubernetes taint on a node group's nodes.
type Taint struct {
	Key, Value, Effect string // Effect: NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE
}

// ClusterArgs configures the cluster.
type ClusterArgs struct {
	// Name is the EKS cluster's name (also used in subnet discovery and autoscaler tags).
	Name    string
	Version string
	VpcID   pulumi.StringInput
	// PrivateSubnetIDs hold the nodes and the control-plane ENIs; PublicSubnetIDs are for
	// internet-facing load balancers.
	PrivateSubnetIDs pulumi.StringArrayInput
	PublicSubnetIDs  pulumi.StringArrayInput
	// PublicEndpoint opens the API server endpoint to PublicAccessCIDRs; the private endpoint
	// is always on.
	PublicEndpoint    bool
	PublicAccessCIDRs []string
	// ControlPlaneSecurityGroup is added to the control plane's ENIs; NodeSecurityGroupID is
	// the nodes' group (see components/security).
	ControlPlaneSecurityGroup *ec2.SecurityGroup
	NodeSecurityGroupID       pulumi.StringInput
	ClusterRole               *iam.Role
	NodeRole                  *iam.Role
	// SecretsKeyARN encrypts Kubernetes secrets; StorageKeyARN the nodes' volumes; LogKeyARN
	// the control-plane log group, kept LogRetentionDays.
	SecretsKeyARN    pulumi.StringInput
	StorageKeyARN    pulumi.StringInput
	LogKeyARN        pulumi.StringInput
	LogRetentionDays int
	// AdminRoleARNs get cluster-admin through access entries (e.g. the deploy role, SRE role).
	AdminRoleARNs []string
	NodeGroups    []NodeGroup
	Tags          map[string]string
}

func (a ClusterArgs) validate() error {
	var errs []error
	if a.Name == "" || len(a.Name) > 100 {
		errs = append(errs, errors.New("name: must be 1 to 100 characters"))
	}
	if maj, min, ok := strings.Cut(a.Version, "."); !ok || maj != "1" || min == "" {
		errs = append(errs, fmt.Errorf("version: %q is not a Kubernetes minor version like 1.34", a.Version))
	} else if n, err := strconv.Atoi(min); err != nil || n < 28 {
		errs = append(errs, fmt.Errorf("version: %s is below 1.28", a.Version))
	}
	if a.VpcID == nil || a.PrivateSubnetIDs == nil || a.PublicSubnetIDs == nil {
		errs = append(errs, errors.New("VpcID, PrivateSubnetIDs and PublicSubnetIDs are required"))
	}
	if a.PublicEndpoint && len(a.PublicAccessCIDRs) == 0 {
		errs = append(errs, errors.New("PublicEndpoint needs PublicAccessCIDRs"))
	}
	for _, c := range a.PublicAccessCIDRs {
		// A world-open endpoint is the settings' and the policy gate's call (refused in prod).
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("PublicAccessCIDRs: %q is not a CIDR block", c))
		}
	}
	if a.ControlPlaneSecurityGroup == nil || a.NodeSecurityGroupID == nil {
		errs = append(errs, errors.New("ControlPlaneSecurityGroup and NodeSecurityGroupID are required"))
	}
	if a.ClusterRole == nil || a.NodeRole == nil {
		errs = append(errs, errors.New("ClusterRole and NodeRole are required"))
	}
	if a.SecretsKeyARN == nil || a.StorageKeyARN == nil || a.LogKeyARN == nil {
		errs = append(errs, errors.New("SecretsKeyARN, StorageKeyARN and LogKeyARN are required: everything is encrypted"))
	}
	if a.LogRetentionDays <= 0 {
		errs = append(errs, errors.New("LogRetentionDays must be positive"))
	}
	if len(a.NodeGroups) == 0 {
		errs = append(errs, errors.New("at least one node group is needed"))
	}
	seen := map[string]bool{}
	for _, g := range a.NodeGroups {
		switch {
		case g.Name == "" || seen[g.Name]:
			errs = append(errs, fmt.Errorf("node group name %q must be non-empty and unique", g.Name))
		case g.CapacityType != "ON_DEMAND" && g.CapacityType != "SPOT":
			errs = append(errs, fmt.Errorf("node group %s: capacity type %q", g.Name, g.CapacityType))
		case len(g.InstanceTypes) == 0:
			errs = append(errs, fmt.Errorf("node group %s: no instance types", g.Name))
		case g.MinSize < 0 || g.MinSize > g.DesiredSize || g.DesiredSize > g.MaxSize || g.MaxSize < 1:
			errs = append(errs, fmt.Errorf("node group %s: need 0 ≤ min %d ≤ desired %d ≤ max %d, max ≥ 1", g.Name, g.MinSize, g.DesiredSize, g.MaxSize))
		case g.DiskSizeGiB < 20:
			errs = append(errs, fmt.Errorf("node group %s: disk %d GiB is below 20", g.Name, g.DiskSizeGiB))
		}
		seen[g.Name] = true
	}
	return errors.Join(errs...)
}

// Cluster is the EKS cluster and what workloads need to use it.
type Cluster struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	Endpoint    pulumi.StringOutput `pulumi:"endpoint"`
	// OIDCProviderURL is the issuer without https://, as IRSA trust conditions need it.
	OIDCProviderARN pulumi.StringOutput `pulumi:"oidcProviderArn"`
	OIDCProviderURL pulumi.StringOutput `pulumi:"oidcProviderUrl"`
	// Kubeconfig is secret: it names the cluster's endpoint and CA.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// Kubernetes is the provider for everything deployed into the cluster.
	Kubernetes *kubernetes.Provider
}

// NewCluster creates the cluster.
func NewCluster(ctx *pulumi.Context, name string, args ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cantondex:cluster:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	tags := pulumi.ToStringMap(args.Tags)

	// EKS writes control-plane logs to this group; creating it first gives it a key and a
	// retention instead of the unencrypted, never-expiring group EKS would make.
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-control-plane", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/eks/" + args.Name + "/cluster"),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.LogKeyARN,
		Tags:            tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	access := map[string]eks.AccessEntryArgs{}
	for i, arn := range args.AdminRoleARNs {
		access[fmt.Sprintf("admin-%d", i)] = eks.AccessEntryArgs{
			PrincipalArn: pulumi.String(arn),
			AccessPolicies: eks.AccessPolicyAssociationMap{"cluster-admin": eks.AccessPolicyAssociationArgs{
				PolicyArn:   pulumi.String("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
				AccessScope: awseks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
			}},
		}
	}
	mode := eks.AuthenticationModeApi
	skip, noPublicIP, defaultCNI := true, false, true
	ekc, err := eks.NewCluster(ctx, name+"-eks", &eks.ClusterArgs{
		Name:                         pulumi.String(args.Name),
		Version:                      pulumi.String(args.Version),
		VpcId:                        args.VpcID.ToStringOutput().ToStringPtrOutput(),
		PrivateSubnetIds:             args.PrivateSubnetIDs,
		PublicSubnetIds:              args.PublicSubnetIDs,
		EndpointPrivateAccess:        pulumi.Bool(true),
		EndpointPublicAccess:         pulumi.Bool(args.PublicEndpoint),
		PublicAccessCidrs:            pulumi.ToStringArray(args.PublicAccessCIDRs),
		EnabledClusterLogTypes:       pulumi.ToStringArray(logTypes),
		EncryptionConfigKeyArn:       args.SecretsKeyARN.ToStringOutput().ToStringPtrOutput(),
		CreateOidcProvider:           pulumi.Bool(true),
		AuthenticationMode:           &mode,
		AccessEntries:                access,
		SkipDefaultNodeGroup:         &skip,
		NodeAssociatePublicIpAddress: &noPublicIP,
		// The vpc-cni add-on below owns the CNI (with network-policy enforcement).
		UseDefaultVpcCni:     &defaultCNI,
		ServiceRole:          args.ClusterRole,
		InstanceRoles:        iam.RoleArray{args.NodeRole},
		ClusterSecurityGroup: args.ControlPlaneSecurityGroup,
		Tags:                 tags,
	}, parent, pulumi.DependsOn([]pulumi.Resource{logs}))
	if err != nil {
		return nil, err
	}

	clusterName := ekc.EksCluster.Name()
	oidcARN := ekc.Core.OidcProvider().Arn()
	oidcURL := ekc.Core.OidcProvider().Url().ApplyT(func(u string) string { return strings.TrimPrefix(u, "https://") }).(pulumi.StringOutput)

	var groups []pulumi.Resource
	for _, g := range args.NodeGroups {
		ng, err := nodeGroup(ctx, name, g, clusterName, args, parent)
		if err != nil {
			return nil, err
		}
		groups = append(groups, ng)
	}

	irsa := func(addon, namespace, sa string, managed []string, policy *identity.Document) (pulumi.StringOutput, error) {
		r, err := identity.NewServiceAccountRole(ctx, name+"-"+addon, identity.ServiceAccountRoleArgs{
			OIDCProviderARN: oidcARN, OIDCProviderURL: oidcURL, Namespace: namespace, ServiceAccount: sa,
			Managed: managed, Policy: policy, Tags: args.Tags,
		}, parent)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return r.RoleARN, nil
	}
	cniRole, err := irsa("vpc-cni", "kube-system", "aws-node", []string{"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}, nil)
	if err != nil {
		return nil, err
	}
	ebsRole, err := irsa("ebs-csi", "kube-system", "ebs-csi-controller-sa", []string{"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"},
		&identity.Document{Statements: []identity.Statement{{
			Sid:       "EncryptedVolumes",
			Actions:   []string{"kms:CreateGrant", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
			Resources: []pulumi.StringInput{args.StorageKeyARN},
		}}})
	if err != nil {
		return nil, err
	}
	cniConfig, _ := json.Marshal(map[string]any{"enableNetworkPolicy": "true"})
	addons := []struct {
		name   string
		role   pulumi.StringPtrInput
		config string
		after  []pulumi.Resource // coredns and the CSI driver need nodes to schedule on
	}{
		{name: "vpc-cni", role: cniRole, config: string(cniConfig)},
		{name: "kube-proxy"},
		{name: "coredns", after: groups},
		{name: "aws-ebs-csi-driver", role: ebsRole, after: groups},
	}
	for _, a := range addons {
		addonArgs := &awseks.AddonArgs{
			ClusterName: clusterName, AddonName: pulumi.String(a.name),
			ResolveConflictsOnCreate: pulumi.String("OVERWRITE"), ResolveConflictsOnUpdate: pulumi.String("PRESERVE"),
			ServiceAccountRoleArn: a.role, Tags: tags,
		}
		if a.config != "" {
			addonArgs.ConfigurationValues = pulumi.String(a.config)
		}
		if _, err := awseks.NewAddon(ctx, name+"-"+a.name, addonArgs, parent, pulumi.DependsOn(a.after)); err != nil {
			return nil, err
		}
	}

	kubeconfig := pulumi.ToSecret(ekc.KubeconfigJson).(pulumi.StringOutput)
	// An explicit kubeconfig: the provider never falls back to the operator's ambient one.
	k8s, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{Kubeconfig: kubeconfig}, parent)
	if err != nil {
		return nil, err
	}

	c.ClusterName, c.Endpoint = clusterName, ekc.Core.Endpoint()
	c.OIDCProviderARN, c.OIDCProviderURL = oidcARN, oidcURL
	c.Kubeconfig, c.Kubernetes = kubeconfig, k8s
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName": c.ClusterName, "endpoint": c.Endpoint, "oidcProviderArn": c.OIDCProviderARN,
		"oidcProviderUrl": c.OIDCProviderURL, "kubeconfig": c.Kubeconfig,
	})
}

// nodeGroup creates a launch template (IMDSv2 only, encrypted gp3 root volume, the nodes'
// security group) and the managed node group using it. The desired size is set at creation and
// then left to the cluster autoscaler.
func nodeGroup(ctx *pulumi.Context, name string, g NodeGroup, clusterName pulumi.StringOutput, args ClusterArgs, parent pulumi.ResourceOption) (*awseks.NodeGroup, error) {
	base := name + "-" + g.Name
	tags := pulumi.StringMap{}
	for k, v := range args.Tags {
		tags[k] = pulumi.String(v)
	}
	tags["Name"] = pulumi.String(base)
	lt, err := ec2.NewLaunchTemplate(ctx, base, &ec2.LaunchTemplateArgs{
		Description: pulumi.String("EKS managed node group " + g.Name),
		MetadataOptions: ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// One hop: pods cannot reach the node's credentials; they use IRSA.
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize: pulumi.Int(g.DiskSizeGiB), VolumeType: pulumi.String("gp3"),
				Encrypted: pulumi.String("true"), KmsKeyId: args.StorageKeyARN, DeleteOnTermination: pulumi.String("true"),
			},
		}},
		VpcSecurityGroupIds: pulumi.StringArray{args.NodeSecurityGroupID},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: tags},
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: tags},
		},
		UpdateDefaultVersion: pulumi.Bool(true),
		Tags:                 tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	var taints awseks.NodeGroupTaintArray
	for _, t := range g.Taints {
		taints = append(taints, awseks.NodeGroupTaintArgs{Key: pulumi.String(t.Key), Value: pulumi.String(t.Value), Effect: pulumi.String(t.Effect)})
	}
	ngTags := pulumi.StringMap{
		"k8s.io/cluster-autoscaler/enabled":                                     pulumi.String("true"),
		"k8s.io/cluster-autoscaler/" + args.Name:                                pulumi.String("owned"),
		"k8s.io/cluster-autoscaler/node-template/label/cantondex.io/node-group": pulumi.String(g.Name),
	}
	for k, v := range args.Tags {
		ngTags[k] = pulumi.String(v)
	}
	labels := pulumi.StringMap{"cantondex.io/node-group": pulumi.String(g.Name)}
	for k, v := range g.Labels {
		labels[k] = pulumi.String(v)
	}
	return awseks.NewNodeGroup(ctx, base, &awseks.NodeGroupArgs{
		ClusterName:   clusterName,
		NodeRoleArn:   args.NodeRole.Arn,
		SubnetIds:     args.PrivateSubnetIDs,
		CapacityType:  pulumi.String(g.CapacityType),
		InstanceTypes: pulumi.ToStringArray(g.InstanceTypes),
		AmiType:       pulumi.String("AL2023_x86_64_STANDARD"),
		ScalingConfig: awseks.NodeGroupScalingConfigArgs{
			MinSize: pulumi.Int(g.MinSize), DesiredSize: pulumi.Int(g.DesiredSize), MaxSize: pulumi.Int(g.MaxSize),
		},
		UpdateConfig: awseks.NodeGroupUpdateConfigArgs{MaxUnavailablePercentage: pulumi.Int(33)},
		LaunchTemplate: awseks.NodeGroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput),
		},
		Labels: labels,
		Taints: taints,
		Tags:   ngTags,
	}, parent, pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}))
}
