package program

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/cluster"
	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/network"
	"github.com/cantondex/platform/components/security"
	"github.com/cantondex/platform/stacks"
)

// Foundation is what the foundation (network, security groups, identity, cluster) hands to the
// tiers built on it. Every field is set by foundation(); the data tier and the workloads read
// them and never look resources up by name.
type Foundation struct {
	Tags map[string]string

	VpcID             pulumi.StringOutput
	PublicSubnetIDs   pulumi.StringArrayOutput
	PrivateSubnetIDs  pulumi.StringArrayOutput
	DatabaseSubnetIDs pulumi.StringArrayOutput
	DBSubnetGroupName pulumi.StringOutput

	// Security group ids (see components/security).
	ALBSecurityGroupID          pulumi.StringOutput
	NodeSecurityGroupID         pulumi.StringOutput
	ControlPlaneSecurityGroupID pulumi.StringOutput
	RDSSecurityGroupID          pulumi.StringOutput
	RDSProxySecurityGroupID     pulumi.StringOutput
	RedisSecurityGroupID        pulumi.StringOutput
	MSKSecurityGroupID          pulumi.StringOutput

	// Identity.
	ClusterName     pulumi.StringOutput
	OIDCProviderARN pulumi.StringOutput
	OIDCProviderURL pulumi.StringOutput // without https://, as IRSA trust conditions need it
	NodeRoleARN     pulumi.StringOutput

	// AccountID and Region of the primary stack, and the KMS key CloudWatch log groups in the
	// primary region use (the data tier's log groups can share it).
	AccountID  string
	Region     string
	LogsKeyARN pulumi.StringOutput

	// Providers: the Kubernetes provider built from the cluster's kubeconfig (never the ambient
	// one), and the AWS provider of the disaster-recovery region.
	Kubernetes pulumi.ProviderResource
	DR         DRFoundation
}

// DRFoundation is what the disaster-recovery region has prepared for replicas.
type DRFoundation struct {
	Region             string
	Provider           pulumi.ProviderResource
	VpcID              pulumi.StringOutput
	DatabaseSubnetIDs  pulumi.StringArrayOutput
	DBSubnetGroupName  pulumi.StringOutput
	RDSSecurityGroupID pulumi.StringOutput
}

// foundation builds the network, security groups, identity, cluster and the prepared
// disaster-recovery network, and exports what operators need.
func foundation(ctx *pulumi.Context, s stacks.Settings) (*Foundation, error) {
	base := "cantondex-" + string(s.Environment)
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	azs, err := availabilityZones(ctx, s.Network.AZCount, "network.azCount", s.Region)
	if err != nil {
		return nil, err
	}
	cidrs, err := s.Network.Subnets()
	if err != nil {
		return nil, fmt.Errorf("cantondex:network.cidr: %w", err)
	}
	n := s.Network.AZCount

	id, err := identity.NewIdentity(ctx, base, identity.IdentityArgs{
		AccountID: pulumi.String(caller.AccountId), Region: s.Region, Tags: s.Tags,
	})
	if err != nil {
		return nil, err
	}
	net, err := network.NewNetwork(ctx, base, network.NetworkArgs{
		CIDR: s.Network.CIDR, AZs: azs, Region: s.Region,
		PublicCIDRs: cidrs[:n], PrivateCIDRs: cidrs[n : 2*n], DatabaseCIDRs: cidrs[2*n:],
		NATMode:              network.NATMode(s.Network.NATMode),
		FlowLogRetentionDays: s.Network.FlowLogRetentionDays, FlowLogKeyARN: id.LogsKeyARN,
		ClusterName: base, Endpoints: true, Tags: s.Tags,
	})
	if err != nil {
		return nil, err
	}
	sec, err := security.NewSecurity(ctx, base, security.SecurityArgs{VpcID: net.VpcID, Tags: s.Tags})
	if err != nil {
		return nil, err
	}
	var groups []cluster.NodeGroup
	for _, g := range s.NodeGroups {
		var taints []cluster.Taint
		for _, t := range g.Taints {
			taints = append(taints, cluster.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
		groups = append(groups, cluster.NodeGroup{
			Name: g.Name, CapacityType: string(g.CapacityType), InstanceTypes: g.InstanceTypes,
			MinSize: g.MinSize, DesiredSize: g.DesiredSize, MaxSize: g.MaxSize, DiskSizeGiB: g.DiskSizeGiB,
			Labels: g.Labels, Taints: taints,
		})
	}
	cl, err := cluster.NewCluster(ctx, base, cluster.ClusterArgs{
		Name: base, Version: s.Cluster.Version, VpcID: net.VpcID,
		PrivateSubnetIDs: net.PrivateSubnetIDs, PublicSubnetIDs: net.PublicSubnetIDs,
		PublicEndpoint: s.Cluster.PublicEndpoint, PublicAccessCIDRs: s.Cluster.PublicAccessCIDRs,
		ControlPlaneSecurityGroup: sec.ControlPlaneGroup, NodeSecurityGroupID: sec.NodesID,
		ClusterRole: id.ClusterRole, NodeRole: id.NodeRole,
		SecretsKeyARN: id.SecretsKeyARN, StorageKeyARN: id.StorageKeyARN,
		LogKeyARN: id.LogsKeyARN, LogRetentionDays: s.Cluster.LogRetentionDays,
		AdminRoleARNs: s.Cluster.AdminRoleARNs, NodeGroups: groups, Tags: s.Tags,
	})
	if err != nil {
		return nil, err
	}
	dr, err := disasterRecovery(ctx, base+"-dr", s, caller.AccountId)
	if err != nil {
		return nil, err
	}

	f := &Foundation{
		Tags:  s.Tags,
		VpcID: net.VpcID, PublicSubnetIDs: net.PublicSubnetIDs, PrivateSubnetIDs: net.PrivateSubnetIDs,
		DatabaseSubnetIDs: net.DatabaseSubnetIDs, DBSubnetGroupName: net.DBSubnetGroupName,
		ALBSecurityGroupID: sec.ALBID, NodeSecurityGroupID: sec.NodesID, ControlPlaneSecurityGroupID: sec.ControlPlaneID,
		RDSSecurityGroupID: sec.RDSID, RDSProxySecurityGroupID: sec.RDSProxyID, RedisSecurityGroupID: sec.RedisID,
		MSKSecurityGroupID: sec.MSKID,
		ClusterName:        cl.ClusterName, OIDCProviderARN: cl.OIDCProviderARN, OIDCProviderURL: cl.OIDCProviderURL,
		NodeRoleARN: id.NodeRoleARN, AccountID: caller.AccountId, Region: s.Region, LogsKeyARN: id.LogsKeyARN,
		Kubernetes: cl.Kubernetes, DR: dr,
	}
	if err := f.complete(); err != nil {
		return nil, err
	}
	ctx.Export("vpcId", f.VpcID)
	ctx.Export("publicSubnetIds", f.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", f.PrivateSubnetIDs)
	ctx.Export("databaseSubnetIds", f.DatabaseSubnetIDs)
	ctx.Export("dbSubnetGroupName", f.DBSubnetGroupName)
	ctx.Export("natPublicIps", net.NATPublicIPs)
	ctx.Export("securityGroupIds", pulumi.StringMap{
		"alb": sec.ALBID, "nodes": sec.NodesID, "controlPlane": sec.ControlPlaneID, "rds": sec.RDSID,
		"rdsProxy": sec.RDSProxyID, "redis": sec.RedisID, "msk": sec.MSKID,
	})
	ctx.Export("clusterName", f.ClusterName)
	ctx.Export("clusterEndpoint", cl.Endpoint)
	ctx.Export("oidcProviderArn", f.OIDCProviderARN)
	ctx.Export("oidcProviderUrl", f.OIDCProviderURL)
	ctx.Export("kubeconfig", pulumi.ToSecret(cl.Kubeconfig))
	ctx.Export("nodeRoleArn", f.NodeRoleARN)
	ctx.Export("drRegion", pulumi.String(dr.Region))
	ctx.Export("drVpcId", dr.VpcID)
	ctx.Export("drDbSubnetGroupName", dr.DBSubnetGroupName)
	return f, nil
}

// availabilityZones returns the first count available zones of the provider's region.
func availabilityZones(ctx *pulumi.Context, count int, setting, region string, opts ...pulumi.InvokeOption) ([]string, error) {
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, opts...)
	if err != nil {
		return nil, fmt.Errorf("availability zones of %s: %w", region, err)
	}
	if len(zones.Names) < count {
		return nil, fmt.Errorf("%s:%s: %d but %s has only %d available zones", stacks.Namespace, setting, count, region, len(zones.Names))
	}
	return zones.Names[:count], nil
}

// drRegion is the component holding what the disaster-recovery region prepares: its provider,
// a VPC with database subnets and a DB subnet group, and an RDS security group.
type drRegion struct {
	pulumi.ResourceState
}

func disasterRecovery(ctx *pulumi.Context, name string, s stacks.Settings, account string) (DRFoundation, error) {
	comp := &drRegion{}
	if err := ctx.RegisterComponentResource("cantondex:dr:Region", name, comp); err != nil {
		return DRFoundation{}, err
	}
	provider, err := aws.NewProvider(ctx, name, &aws.ProviderArgs{
		Region:      pulumi.String(s.DRRegion),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(s.Tags)},
	}, pulumi.Parent(comp))
	if err != nil {
		return DRFoundation{}, err
	}
	in := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.Provider(provider)}
	azs, err := availabilityZones(ctx, s.Network.AZCount, "network.azCount", s.DRRegion, pulumi.Provider(provider))
	if err != nil {
		return DRFoundation{}, err
	}
	drNet := s.Network
	drNet.CIDR = s.Network.DRCIDR
	cidrs, err := drNet.Subnets()
	if err != nil {
		return DRFoundation{}, fmt.Errorf("%s:network.drCidr: %w", stacks.Namespace, err)
	}
	logsKey, err := identity.NewKey(ctx, name+"-logs", identity.KeyArgs{
		Description: "CloudWatch Logs encryption (disaster-recovery region)",
		AccountRoot: pulumi.Sprintf("arn:aws:iam::%s:root", account), Tags: s.Tags,
		Statements: []identity.Statement{identity.CloudWatchLogsKeyStatement("aws", s.DRRegion, pulumi.String(account))},
	}, in...)
	if err != nil {
		return DRFoundation{}, err
	}
	n := s.Network.AZCount
	net, err := network.NewNetwork(ctx, name, network.NetworkArgs{
		CIDR: drNet.CIDR, AZs: azs, Region: s.DRRegion, DatabaseCIDRs: cidrs[2*n:], NATMode: network.NATNone,
		FlowLogRetentionDays: s.Network.FlowLogRetentionDays, FlowLogKeyARN: logsKey.Arn, Tags: s.Tags,
	}, in...)
	if err != nil {
		return DRFoundation{}, err
	}
	sec, err := security.NewSecurity(ctx, name, security.SecurityArgs{
		VpcID: net.VpcID, Groups: []security.Group{security.RDS}, Tags: s.Tags,
	}, in...)
	if err != nil {
		return DRFoundation{}, err
	}
	dr := DRFoundation{
		Region: s.DRRegion, Provider: provider, VpcID: net.VpcID, DatabaseSubnetIDs: net.DatabaseSubnetIDs,
		DBSubnetGroupName: net.DBSubnetGroupName, RDSSecurityGroupID: sec.RDSID,
	}
	return dr, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"vpcId": dr.VpcID, "dbSubnetGroupName": dr.DBSubnetGroupName, "rdsSecurityGroupId": dr.RDSSecurityGroupID,
	})
}

// complete reports a Foundation field left unset: the tiers built on the foundation rely on
// every one of them.
func (f *Foundation) complete() error {
	var missing []string
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			field, name := v.Field(i), prefix+v.Type().Field(i).Name
			switch {
			case field.Kind() == reflect.Interface || field.Kind() == reflect.Map:
				if field.IsNil() {
					missing = append(missing, name)
				}
			case field.Kind() == reflect.String:
				if field.String() == "" {
					missing = append(missing, name)
				}
			case field.Type() == reflect.TypeOf(DRFoundation{}):
				walk(name+".", field)
			case field.Kind() == reflect.Struct && field.NumField() > 0 && field.Field(0).Kind() == reflect.Pointer:
				if field.Field(0).IsNil() { // an Output never assigned
					missing = append(missing, name)
				}
			}
		}
	}
	walk("", reflect.ValueOf(*f))
	if len(missing) > 0 {
		return fmt.Errorf("the Foundation contract has unset fields: %s", strings.Join(missing, ", "))
	}
	return nil
}
