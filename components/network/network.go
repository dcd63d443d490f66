// Package network is the VPC component: subnets in three tiers (public, private, database) over
// several availability zones, internet and NAT gateways, route tables, the DB subnet group, VPC
// Flow Logs to an encrypted CloudWatch log group, VPC endpoints and the locked-down default
// security group.
package network

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// NATMode chooses how private subnets reach the internet.
type NATMode string

const (
	NATPerAZ  NATMode = "per-az" // one NAT gateway per AZ: an AZ failure cuts no other AZ's egress
	NATSingle NATMode = "single" // one shared NAT gateway (staging)
	NATNone   NATMode = "none"   // no egress at all (a prepared DR network with database subnets only)
)

// DefaultInterfaceEndpoints are the AWS services reached through interface endpoints when
// NetworkArgs.InterfaceEndpoints is nil, so that nodes pull images, ship logs and get IRSA
// credentials, the pods allowed the AWS APIs (the migrations Job's user secrets) reach
// Secrets Manager, the compliance service signs audit checkpoints in KMS, and the trace
// collector puts segments into X-Ray, without leaving the VPC: their NetworkPolicies allow 443
// to these endpoints' subnets only.
func DefaultInterfaceEndpoints() []string {
	return []string{"ecr.api", "ecr.dkr", "logs", "sts", "secretsmanager", "kms", "xray"}
}

// endpointService is the shape of an interface endpoint's service ("ecr.api", "secretsmanager").
var endpointService = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*$`)

// Network is the VPC and everything that hangs off it.
type Network struct {
	pulumi.ResourceState

	VpcID                   pulumi.StringOutput      `pulumi:"vpcId"`
	PublicSubnetIDs         pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	PrivateSubnetIDs        pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	DatabaseSubnetIDs       pulumi.StringArrayOutput `pulumi:"databaseSubnetIds"`
	DBSubnetGroupName       pulumi.StringOutput      `pulumi:"dbSubnetGroupName"`
	PrivateRouteTableIDs    pulumi.StringArrayOutput `pulumi:"privateRouteTableIds"`
	NATPublicIPs            pulumi.StringArrayOutput `pulumi:"natPublicIps"`
	EndpointSecurityGroupID pulumi.StringOutput      `pulumi:"endpointSecurityGroupId"`
	FlowLogGroupName        pulumi.StringOutput      `pulumi:"flowLogGroupName"`
}

// NetworkArgs: plain Go values for structure, inputs for values from other resources.
type NetworkArgs struct {
	CIDR string
	// AZs are the availability zones, one subnet of each tier per AZ.
	AZs []string
	// PublicCIDRs, PrivateCIDRs and DatabaseCIDRs hold one block per AZ, inside CIDR. Public and
	// private tiers may be left empty together (a database-only network, NAT mode none).
	PublicCIDRs   []string
	PrivateCIDRs  []string
	DatabaseCIDRs []string
	NATMode       NATMode
	// Region is the VPC's region, for endpoint service names.
	Region string
	// FlowLogRetentionDays and FlowLogKeyARN configure the flow log group; the key must be in
	// the same region and let CloudWatch Logs use it.
	FlowLogRetentionDays int
	FlowLogKeyARN        pulumi.StringInput
	// ClusterName tags subnets for EKS load-balancer discovery ("" for none).
	ClusterName string
	// Endpoints adds the S3 gateway endpoint and the interface endpoints.
	Endpoints bool
	// InterfaceEndpoints are the services ("ecr.api", "secretsmanager") given an interface
	// endpoint when Endpoints is on (nil: DefaultInterfaceEndpoints).
	InterfaceEndpoints []string
	Tags               map[string]string
}

// interfaceEndpoints are a.InterfaceEndpoints, or the defaults when nil.
func (a NetworkArgs) interfaceEndpoints() []string {
	if a.InterfaceEndpoints == nil {
		return DefaultInterfaceEndpoints()
	}
	return a.InterfaceEndpoints
}

func (a NetworkArgs) validate() error {
	var errs []error
	vpcPrefix, err := netip.ParsePrefix(a.CIDR)
	if err != nil || !vpcPrefix.Addr().Is4() {
		errs = append(errs, fmt.Errorf("CIDR %q is not an IPv4 block", a.CIDR))
	}
	if len(a.AZs) < 2 || len(a.AZs) > 6 {
		errs = append(errs, fmt.Errorf("%d AZs; need 2 to 6", len(a.AZs)))
	}
	tiers := []struct {
		name  string
		cidrs []string
	}{{"PublicCIDRs", a.PublicCIDRs}, {"PrivateCIDRs", a.PrivateCIDRs}, {"DatabaseCIDRs", a.DatabaseCIDRs}}
	var all []netip.Prefix
	for _, t := range tiers {
		if len(t.cidrs) == 0 && t.name != "DatabaseCIDRs" {
			continue
		}
		if len(t.cidrs) != len(a.AZs) {
			errs = append(errs, fmt.Errorf("%s has %d blocks for %d AZs", t.name, len(t.cidrs), len(a.AZs)))
		}
		for _, c := range t.cidrs {
			p, err := netip.ParsePrefix(c)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %q is not a CIDR block", t.name, c))
				continue
			case vpcPrefix.IsValid() && (!vpcPrefix.Contains(p.Addr()) || p.Bits() < vpcPrefix.Bits()):
				errs = append(errs, fmt.Errorf("%s: %s is outside the VPC %s", t.name, c, a.CIDR))
			}
			for _, q := range all {
				if q.Overlaps(p) {
					errs = append(errs, fmt.Errorf("%s: %s overlaps %s", t.name, c, q))
				}
			}
			all = append(all, p)
		}
	}
	if (len(a.PublicCIDRs) == 0) != (len(a.PrivateCIDRs) == 0) {
		errs = append(errs, errors.New("PublicCIDRs and PrivateCIDRs go together"))
	}
	switch a.NATMode {
	case NATPerAZ, NATSingle:
		if len(a.PublicCIDRs) == 0 {
			errs = append(errs, fmt.Errorf("NAT mode %s needs public subnets", a.NATMode))
		}
	case NATNone:
	default:
		errs = append(errs, fmt.Errorf("NATMode %q is not per-az, single or none", a.NATMode))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required"))
	}
	if a.FlowLogRetentionDays <= 0 {
		errs = append(errs, errors.New("FlowLogRetentionDays must be positive: flow logs are kept for a bounded time"))
	}
	if a.FlowLogKeyARN == nil {
		errs = append(errs, errors.New("FlowLogKeyARN is required: flow logs are encrypted"))
	}
	if a.Endpoints && len(a.PrivateCIDRs) == 0 {
		errs = append(errs, errors.New("endpoints: need private subnets"))
	}
	seen := map[string]bool{}
	for _, svc := range a.interfaceEndpoints() {
		switch {
		case !endpointService.MatchString(svc):
			errs = append(errs, fmt.Errorf("InterfaceEndpoints: %q is not a service name like ecr.api", svc))
		case seen[svc]:
			errs = append(errs, fmt.Errorf("InterfaceEndpoints: %s is listed twice", svc))
		}
		seen[svc] = true
	}
	return errors.Join(errs...)
}

// NewNetwork builds the VPC.
func NewNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource("cantondex:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	tags := func(extra map[string]string) pulumi.StringMap {
		m := pulumi.StringMap{}
		for k, v := range args.Tags {
			m[k] = pulumi.String(v)
		}
		for k, v := range extra {
			m[k] = pulumi.String(v)
		}
		return m
	}

	v, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(args.CIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               tags(map[string]string{"Name": name}),
	}, parent)
	if err != nil {
		return nil, err
	}
	// The default security group keeps no rules, so nothing that lands in it can talk.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: v.ID(), Tags: tags(map[string]string{"Name": name + "-default (no rules)"}),
	}, parent); err != nil {
		return nil, err
	}

	subnets := func(tier string, cidrs []string, extra map[string]string) ([]*ec2.Subnet, pulumi.StringArray, error) {
		var out []*ec2.Subnet
		var ids pulumi.StringArray
		for i, cidr := range cidrs {
			t := map[string]string{"Name": fmt.Sprintf("%s-%s-%s", name, tier, args.AZs[i]), "tier": tier}
			for k, v := range extra {
				t[k] = v
			}
			s, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-%s-%d", name, tier, i), &ec2.SubnetArgs{
				VpcId: v.ID(), CidrBlock: pulumi.String(cidr), AvailabilityZone: pulumi.String(args.AZs[i]),
				// No subnet hands out public IPs: NAT gateways and load balancers get theirs explicitly.
				MapPublicIpOnLaunch: pulumi.Bool(false),
				Tags:                tags(t),
			}, parent)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, s)
			ids = append(ids, s.ID().ToStringOutput())
		}
		return out, ids, nil
	}
	clusterTag := func(role string) map[string]string {
		t := map[string]string{role: "1"}
		if args.ClusterName != "" {
			t["kubernetes.io/cluster/"+args.ClusterName] = "shared"
		}
		return t
	}
	public, publicIDs, err := subnets("public", args.PublicCIDRs, clusterTag("kubernetes.io/role/elb"))
	if err != nil {
		return nil, err
	}
	private, privateIDs, err := subnets("private", args.PrivateCIDRs, clusterTag("kubernetes.io/role/internal-elb"))
	if err != nil {
		return nil, err
	}
	database, databaseIDs, err := subnets("database", args.DatabaseCIDRs, nil)
	if err != nil {
		return nil, err
	}

	// Public tier: an internet gateway and one route table.
	var natIDs []pulumi.StringInput
	var natIPs pulumi.StringArray
	if len(public) > 0 {
		igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{VpcId: v.ID(), Tags: tags(map[string]string{"Name": name})}, parent)
		if err != nil {
			return nil, err
		}
		rt, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{VpcId: v.ID(), Tags: tags(map[string]string{"Name": name + "-public"})}, parent)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRoute(ctx, name+"-public-internet", &ec2.RouteArgs{
			RouteTableId: rt.ID(), DestinationCidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID(),
		}, parent); err != nil {
			return nil, err
		}
		for i, s := range public {
			if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
				RouteTableId: rt.ID(), SubnetId: s.ID(),
			}, parent); err != nil {
				return nil, err
			}
		}
		nats := 0
		switch args.NATMode {
		case NATPerAZ:
			nats = len(public)
		case NATSingle:
			nats = 1
		}
		for i := 0; i < nats; i++ {
			// Elastic IPs are named by AZ index, so they survive updates: partners can allowlist them.
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.EipArgs{
				Domain: pulumi.String("vpc"), Tags: tags(map[string]string{"Name": fmt.Sprintf("%s-nat-%s", name, args.AZs[i])}),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.NatGatewayArgs{
				AllocationId: eip.ID(), SubnetId: public[i].ID(),
				Tags: tags(map[string]string{"Name": fmt.Sprintf("%s-nat-%s", name, args.AZs[i])}),
			}, parent)
			if err != nil {
				return nil, err
			}
			natIDs = append(natIDs, nat.ID().ToStringOutput())
			natIPs = append(natIPs, eip.PublicIp)
		}
	}

	// Private tier: one route table per AZ, egress through that AZ's NAT gateway (or the one).
	var privateRTs pulumi.StringArray
	var endpointRTs pulumi.StringArray
	for i, s := range private {
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableArgs{
			VpcId: v.ID(), Tags: tags(map[string]string{"Name": fmt.Sprintf("%s-private-%s", name, args.AZs[i])}),
		}, parent)
		if err != nil {
			return nil, err
		}
		if len(natIDs) > 0 {
			if _, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-private-%d-nat", name, i), &ec2.RouteArgs{
				RouteTableId: rt.ID(), DestinationCidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: natIDs[i%len(natIDs)],
			}, parent); err != nil {
				return nil, err
			}
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableAssociationArgs{
			RouteTableId: rt.ID(), SubnetId: s.ID(),
		}, parent); err != nil {
			return nil, err
		}
		privateRTs = append(privateRTs, rt.ID().ToStringOutput())
		endpointRTs = append(endpointRTs, rt.ID().ToStringOutput())
	}

	// Database tier: a route table with only the VPC-local route, so no path to the internet.
	dbRT, err := ec2.NewRouteTable(ctx, name+"-database", &ec2.RouteTableArgs{
		VpcId: v.ID(), Tags: tags(map[string]string{"Name": name + "-database (no internet route)"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	for i, s := range database {
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-database-%d", name, i), &ec2.RouteTableAssociationArgs{
			RouteTableId: dbRT.ID(), SubnetId: s.ID(),
		}, parent); err != nil {
			return nil, err
		}
	}
	endpointRTs = append(endpointRTs, dbRT.ID().ToStringOutput())
	subnetGroup, err := rds.NewSubnetGroup(ctx, name+"-db", &rds.SubnetGroupArgs{
		Description: pulumi.String("CantonDEX database subnets (" + name + ")"),
		SubnetIds:   databaseIDs, Tags: tags(nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	if err := flowLogs(ctx, name, v, args, tags(nil), parent); err != nil {
		return nil, err
	}

	endpointSGID := pulumi.String("").ToStringOutput()
	if args.Endpoints {
		endpointSGID, err = endpoints(ctx, name, v, args, privateIDs, endpointRTs, tags, parent)
		if err != nil {
			return nil, err
		}
	}

	n.VpcID = v.ID().ToStringOutput()
	n.PublicSubnetIDs = publicIDs.ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	n.DatabaseSubnetIDs = databaseIDs.ToStringArrayOutput()
	n.DBSubnetGroupName = subnetGroup.Name
	n.PrivateRouteTableIDs = privateRTs.ToStringArrayOutput()
	n.NATPublicIPs = natIPs.ToStringArrayOutput()
	n.EndpointSecurityGroupID = endpointSGID
	n.FlowLogGroupName = pulumi.Sprintf("/cantondex/%s/vpc-flow-logs", name)
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId": n.VpcID, "publicSubnetIds": n.PublicSubnetIDs, "privateSubnetIds": n.PrivateSubnetIDs,
		"databaseSubnetIds": n.DatabaseSubnetIDs, "dbSubnetGroupName": n.DBSubnetGroupName,
		"privateRouteTableIds": n.PrivateRouteTableIDs, "natPublicIps": n.NATPublicIPs,
		"endpointSecurityGroupId": n.EndpointSecurityGroupID, "flowLogGroupName": n.FlowLogGroupName,
	})
}

// flowLogs sends every accepted and rejected flow to an encrypted log group with retention.
func flowLogs(ctx *pulumi.Context, name string, v *ec2.Vpc, args NetworkArgs, tags pulumi.StringMap, parent pulumi.ResourceOption) error {
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.Sprintf("/cantondex/%s/vpc-flow-logs", name),
		RetentionInDays: pulumi.Int(args.FlowLogRetentionDays),
		KmsKeyId:        args.FlowLogKeyARN,
		Tags:            tags,
	}, parent)
	if err != nil {
		return err
	}
	role, err := identity.NewRole(ctx, name+"-flow-logs", identity.RoleArgs{
		Description: "VPC Flow Logs delivery to CloudWatch Logs",
		Trust: identity.Document{Statements: []identity.Statement{{
			Principals: []identity.Principal{identity.ServicePrincipal("vpc-flow-logs.amazonaws.com")},
			Actions:    []string{"sts:AssumeRole"},
		}}},
		Policy: &identity.Document{Statements: []identity.Statement{{
			Sid:       "DeliverToOneLogGroup",
			Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"},
			Resources: []pulumi.StringInput{group.Arn, pulumi.Sprintf("%s:*", group.Arn)},
		}}},
	}, parent)
	if err != nil {
		return err
	}
	_, err = ec2.NewFlowLog(ctx, name+"-flow-log", &ec2.FlowLogArgs{
		VpcId: v.ID(), TrafficType: pulumi.String("ALL"),
		LogDestinationType: pulumi.String("cloud-watch-logs"), LogDestination: group.Arn,
		IamRoleArn: role.Arn, MaxAggregationInterval: pulumi.Int(60), Tags: tags,
	}, parent)
	return err
}

// endpoints adds the S3 gateway endpoint on the private and database route tables and the
// interface endpoints in the private subnets, reachable on 443 from inside the VPC only.
func endpoints(ctx *pulumi.Context, name string, v *ec2.Vpc, args NetworkArgs, subnets pulumi.StringArray, routeTables pulumi.StringArray,
	tags func(map[string]string) pulumi.StringMap, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	none := pulumi.String("").ToStringOutput()
	if _, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
		VpcId: v.ID(), ServiceName: pulumi.String("com.amazonaws." + args.Region + ".s3"),
		VpcEndpointType: pulumi.String("Gateway"), RouteTableIds: routeTables, Tags: tags(map[string]string{"Name": name + "-s3"}),
	}, parent); err != nil {
		return none, err
	}
	sg, err := ec2.NewSecurityGroup(ctx, name+"-endpoints", &ec2.SecurityGroupArgs{
		VpcId: v.ID(), Description: pulumi.String("VPC interface endpoints: HTTPS from inside the VPC"),
		Tags: tags(map[string]string{"Name": name + "-endpoints"}),
	}, parent)
	if err != nil {
		return none, err
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-endpoints-https", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: sg.ID(), Description: pulumi.String("HTTPS to AWS APIs from workloads in the VPC"),
		IpProtocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443), CidrIpv4: pulumi.String(args.CIDR),
	}, parent); err != nil {
		return none, err
	}
	for _, svc := range args.interfaceEndpoints() {
		if _, err := ec2.NewVpcEndpoint(ctx, name+"-"+strings.ReplaceAll(svc, ".", "-"), &ec2.VpcEndpointArgs{
			VpcId: v.ID(), ServiceName: pulumi.String("com.amazonaws." + args.Region + "." + svc),
			VpcEndpointType: pulumi.String("Interface"), PrivateDnsEnabled: pulumi.Bool(true),
			SubnetIds: subnets, SecurityGroupIds: pulumi.StringArray{sg.ID()},
			Tags: tags(map[string]string{"Name": name + "-" + svc}),
		}, parent); err != nil {
			return none, err
		}
	}
	return sg.ID().ToStringOutput(), nil
}
