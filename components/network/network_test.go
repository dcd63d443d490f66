package network

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func args(mode NATMode) NetworkArgs {
	return NetworkArgs{
		CIDR: "10.0.0.0/16", AZs: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, Region: "us-east-1",
		PublicCIDRs:   []string{"10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"},
		PrivateCIDRs:  []string{"10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"},
		DatabaseCIDRs: []string{"10.0.96.0/20", "10.0.112.0/20", "10.0.128.0/20"},
		NATMode:       mode, FlowLogRetentionDays: 365, FlowLogKeyARN: pulumi.String("arn:aws:kms:us-east-1:123456789012:key/logs"),
		ClusterName: "cantondex-prod", Endpoints: true, Tags: map[string]string{"project": "cantondex"},
	}
}

func run(t *testing.T, a NetworkArgs) *mocks.Recorder {
	t.Helper()
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewNetwork(ctx, "net", a)
		return err
	})
	require.NoError(t, err)
	return rec
}

func TestPerAZNetwork(t *testing.T) {
	rec := run(t, args(NATPerAZ))
	comp, ok := rec.Named("cantondex:network:Network", "net")
	require.True(t, ok, "component not registered")
	for _, r := range rec.Resources() {
		if r.URN != comp.URN {
			assert.Equal(t, comp.URN, r.Parent, "%s %s is not parented to the network", r.Type, r.Name)
			assert.True(t, strings.HasPrefix(r.Name, "net-"), "%s %s: name not derived from the component's", r.Type, r.Name)
		}
	}

	vpc, _ := rec.Named("aws:ec2/vpc:Vpc", "net-vpc")
	assert.Equal(t, "10.0.0.0/16", vpc.String("cidrBlock"), "vpc inputs = %v", vpc.Inputs)
	assert.True(t, vpc.Bool("enableDnsHostnames"), "vpc inputs = %v", vpc.Inputs)
	subnets := rec.OfType("aws:ec2/subnet:Subnet")
	require.Len(t, subnets, 9, "subnets")
	tiers := map[string]int{}
	for _, s := range subnets {
		tier := s.String("tags.tier")
		tiers[tier]++
		assert.False(t, s.Bool("mapPublicIpOnLaunch"), "subnet %s maps public IPs on launch", s.Name)
		switch tier {
		case "public":
			assert.Equal(t, "1", s.Tag("kubernetes.io/role/elb"), "public subnet %s lacks the ELB discovery tag", s.Name)
		case "private":
			assert.Equal(t, "1", s.Tag("kubernetes.io/role/internal-elb"), "private subnet %s lacks the internal ELB discovery tag", s.Name)
		}
		if tier != "database" {
			assert.Equal(t, "shared", s.Tag("kubernetes.io/cluster/cantondex-prod"), "subnet %s lacks the cluster tag", s.Name)
		}
	}
	assert.Equal(t, map[string]int{"public": 3, "private": 3, "database": 3}, tiers, "tiers")

	nats := rec.OfType("aws:ec2/natGateway:NatGateway")
	require.Len(t, nats, 3, "NAT gateways, want 3 (one per AZ)")
	require.Len(t, rec.OfType("aws:ec2/eip:Eip"), 3, "elastic IPs, want 3 (one per NAT gateway)")
	// Each private route table sends its AZ's traffic through its own AZ's NAT gateway.
	routes := map[string]string{} // route table id -> nat id or gateway id
	for _, r := range rec.OfType("aws:ec2/route:Route") {
		routes[r.String("routeTableId")] = r.String("natGatewayId") + r.String("gatewayId")
	}
	for i := 0; i < 3; i++ {
		rt := "net-private-" + string(rune('0'+i)) + "-id"
		assert.Equal(t, "net-nat-"+string(rune('0'+i))+"-id", routes[rt], "private route table %d egresses through the wrong NAT gateway", i)
	}
	assert.Equal(t, "net-igw-id", routes["net-public-id"], "public route")
	assert.NotContains(t, routes, "net-database-id", "database route table has a route; it must have none")
	assoc := 0
	for _, a := range rec.OfType("aws:ec2/routeTableAssociation:RouteTableAssociation") {
		if a.String("routeTableId") == "net-database-id" {
			assoc++
			assert.Contains(t, a.String("subnetId"), "database", "database route table associated with a subnet of another tier")
		}
	}
	assert.Equal(t, 3, assoc, "database subnets on the database route table")

	group, _ := rec.Named("aws:rds/subnetGroup:SubnetGroup", "net-db")
	ids := group.Strings("subnetIds")
	assert.Len(t, ids, 3, "DB subnet group subnets")
	assert.Contains(t, strings.Join(ids, ","), "net-database-2-id", "DB subnet group subnets")

	logs, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs")
	assert.NotEmpty(t, logs.String("kmsKeyId"), "flow log group inputs = %v", logs.Inputs)
	assert.Equal(t, float64(365), logs.Number("retentionInDays"), "flow log group inputs = %v", logs.Inputs)
	flow, _ := rec.Named("aws:ec2/flowLog:FlowLog", "net-flow-log")
	assert.Equal(t, vpc.ID, flow.String("vpcId"), "flow log inputs = %v", flow.Inputs)
	assert.Equal(t, "ALL", flow.String("trafficType"), "flow log inputs = %v", flow.Inputs)
	assert.Equal(t, mocks.ARN("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs"), flow.String("logDestination"), "flow log inputs = %v", flow.Inputs)

	def, ok := rec.Named("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "net-default-sg")
	require.True(t, ok, "default security group not taken over")
	require.Equal(t, vpc.ID, def.String("vpcId"), "default security group not taken over: %+v", def)
	_, has := def.Input("ingress")
	assert.False(t, has, "default security group keeps ingress rules")

	endpoints := map[string]string{}
	for _, e := range rec.OfType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		endpoints[e.String("serviceName")] = e.String("vpcEndpointType")
		if e.String("vpcEndpointType") == "Interface" {
			assert.True(t, e.Bool("privateDnsEnabled"), "interface endpoint %s inputs = %v", e.Name, e.Inputs)
			assert.Len(t, e.Strings("securityGroupIds"), 1, "interface endpoint %s inputs = %v", e.Name, e.Inputs)
		}
	}
	want := map[string]string{
		"com.amazonaws.us-east-1.s3": "Gateway", "com.amazonaws.us-east-1.ecr.api": "Interface", "com.amazonaws.us-east-1.ecr.dkr": "Interface",
		"com.amazonaws.us-east-1.logs": "Interface", "com.amazonaws.us-east-1.sts": "Interface",
		"com.amazonaws.us-east-1.xray": "Interface", // the trace collector's X-Ray
	}
	for svc, typ := range want {
		assert.Equal(t, typ, endpoints[svc], "endpoint %s", svc)
	}
}

func TestSingleNAT(t *testing.T) {
	rec := run(t, args(NATSingle))
	require.Len(t, rec.OfType("aws:ec2/natGateway:NatGateway"), 1, "NAT gateways")
	for _, r := range rec.OfType("aws:ec2/route:Route") {
		if id := r.String("natGatewayId"); id != "" {
			assert.Equal(t, "net-nat-0-id", id, "route %s", r.Name)
		}
	}
}

func TestDatabaseOnlyNetwork(t *testing.T) {
	a := args(NATNone)
	a.PublicCIDRs, a.PrivateCIDRs, a.Endpoints, a.ClusterName = nil, nil, false, ""
	rec := run(t, a)
	assert.Len(t, rec.OfType("aws:ec2/subnet:Subnet"), 3, "subnets, want 3 database subnets")
	for _, typ := range []string{"aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/route:Route", "aws:ec2/vpcEndpoint:VpcEndpoint"} {
		assert.Empty(t, rec.OfType(typ), "%s in a database-only network", typ)
	}
	assert.Len(t, rec.OfType("aws:ec2/flowLog:FlowLog"), 1, "database-only network lacks flow logs")
	assert.Len(t, rec.OfType("aws:rds/subnetGroup:SubnetGroup"), 1, "database-only network lacks its DB subnet group")
}

func TestInvalidArgs(t *testing.T) {
	tests := map[string]func(a *NetworkArgs){
		"AZs":                  func(a *NetworkArgs) { a.AZs = a.AZs[:1] },
		"PrivateCIDRs has 2":   func(a *NetworkArgs) { a.PrivateCIDRs = a.PrivateCIDRs[:2] },
		"outside the VPC":      func(a *NetworkArgs) { a.DatabaseCIDRs[0] = "10.9.0.0/20" },
		"overlaps":             func(a *NetworkArgs) { a.DatabaseCIDRs[0] = "10.0.0.0/20" },
		"needs public subnets": func(a *NetworkArgs) { a.PublicCIDRs, a.PrivateCIDRs, a.Endpoints = nil, nil, false },
		"NATMode":              func(a *NetworkArgs) { a.NATMode = "two" },
		"FlowLogKeyARN":        func(a *NetworkArgs) { a.FlowLogKeyARN = nil },
		"FlowLogRetentionDays": func(a *NetworkArgs) { a.FlowLogRetentionDays = 0 },
	}
	for want, mutate := range tests {
		a := args(NATPerAZ)
		a.DatabaseCIDRs = append([]string(nil), a.DatabaseCIDRs...)
		mutate(&a)
		assert.ErrorContains(t, a.validate(), want, "%s: validate()", want)
	}
}

// A caller lists the interface endpoints; nil means the defaults, and a bad list is refused.
func TestInterfaceEndpointsAreAnArgsField(t *testing.T) {
	a := args(NATSingle)
	a.InterfaceEndpoints = []string{"sts", "secretsmanager"}
	rec := run(t, a)
	var got []string
	for _, e := range rec.OfType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		if e.String("vpcEndpointType") == "Interface" {
			got = append(got, e.String("serviceName"))
		}
	}
	assert.ElementsMatch(t, []string{"com.amazonaws.us-east-1.sts", "com.amazonaws.us-east-1.secretsmanager"}, got, "interface endpoints")

	for want, list := range map[string][]string{
		"sts is listed twice":        {"sts", "sts"},
		`"ecr api" is not a service`: {"ecr api"},
		`"ECR.api" is not a service`: {"ECR.api"},
	} {
		a := args(NATSingle)
		a.InterfaceEndpoints = list
		assert.ErrorContains(t, a.validate(), want, "%v: validate()", list)
	}
}
