package network

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestPerAZNetwork(t *testing.T) {
	rec := run(t, args(NATPerAZ))
	comp, ok := rec.Named("cantondex:network:Network", "net")
	if !ok {
		t.Fatal("component not registered")
	}
	for _, r := range rec.Resources() {
		if r.URN != comp.URN && r.Parent != comp.URN {
			t.Errorf("%s %s is not parented to the network", r.Type, r.Name)
		}
		if r.URN != comp.URN && !strings.HasPrefix(r.Name, "net-") {
			t.Errorf("%s %s: name not derived from the component's", r.Type, r.Name)
		}
	}

	vpc, _ := rec.Named("aws:ec2/vpc:Vpc", "net-vpc")
	if vpc.String("cidrBlock") != "10.0.0.0/16" || !vpc.Bool("enableDnsHostnames") {
		t.Errorf("vpc inputs = %v", vpc.Inputs)
	}
	subnets := rec.OfType("aws:ec2/subnet:Subnet")
	if len(subnets) != 9 {
		t.Fatalf("%d subnets, want 9", len(subnets))
	}
	tiers := map[string]int{}
	for _, s := range subnets {
		tier := s.String("tags.tier")
		tiers[tier]++
		if s.Bool("mapPublicIpOnLaunch") {
			t.Errorf("subnet %s maps public IPs on launch", s.Name)
		}
		switch tier {
		case "public":
			if s.Tag("kubernetes.io/role/elb") != "1" {
				t.Errorf("public subnet %s lacks the ELB discovery tag", s.Name)
			}
		case "private":
			if s.Tag("kubernetes.io/role/internal-elb") != "1" {
				t.Errorf("private subnet %s lacks the internal ELB discovery tag", s.Name)
			}
		}
		if tier != "database" && s.Tag("kubernetes.io/cluster/cantondex-prod") != "shared" {
			t.Errorf("subnet %s lacks the cluster tag", s.Name)
		}
	}
	if tiers["public"] != 3 || tiers["private"] != 3 || tiers["database"] != 3 {
		t.Errorf("tiers = %v", tiers)
	}

	nats := rec.OfType("aws:ec2/natGateway:NatGateway")
	if len(nats) != 3 || len(rec.OfType("aws:ec2/eip:Eip")) != 3 {
		t.Fatalf("%d NAT gateways, want 3 (one per AZ)", len(nats))
	}
	// Each private route table sends its AZ's traffic through its own AZ's NAT gateway.
	routes := map[string]string{} // route table id -> nat id or gateway id
	for _, r := range rec.OfType("aws:ec2/route:Route") {
		routes[r.String("routeTableId")] = r.String("natGatewayId") + r.String("gatewayId")
	}
	for i := 0; i < 3; i++ {
		rt := "net-private-" + string(rune('0'+i)) + "-id"
		if want := "net-nat-" + string(rune('0'+i)) + "-id"; routes[rt] != want {
			t.Errorf("private route table %d egresses through %q, want %q", i, routes[rt], want)
		}
	}
	if routes["net-public-id"] != "net-igw-id" {
		t.Errorf("public route = %q", routes["net-public-id"])
	}
	if r, ok := routes["net-database-id"]; ok {
		t.Errorf("database route table has a route to %q; it must have none", r)
	}
	assoc := 0
	for _, a := range rec.OfType("aws:ec2/routeTableAssociation:RouteTableAssociation") {
		if a.String("routeTableId") == "net-database-id" {
			assoc++
			if !strings.Contains(a.String("subnetId"), "database") {
				t.Errorf("database route table associated with %s", a.String("subnetId"))
			}
		}
	}
	if assoc != 3 {
		t.Errorf("%d database subnets on the database route table, want 3", assoc)
	}

	group, _ := rec.Named("aws:rds/subnetGroup:SubnetGroup", "net-db")
	if ids := group.Strings("subnetIds"); len(ids) != 3 || !strings.Contains(strings.Join(ids, ","), "net-database-2-id") {
		t.Errorf("DB subnet group subnets = %v", ids)
	}

	logs, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs")
	if logs.String("kmsKeyId") == "" || logs.Number("retentionInDays") != 365 {
		t.Errorf("flow log group inputs = %v", logs.Inputs)
	}
	flow, _ := rec.Named("aws:ec2/flowLog:FlowLog", "net-flow-log")
	if flow.String("vpcId") != vpc.ID || flow.String("trafficType") != "ALL" || flow.String("logDestination") != mocks.ARN("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs") {
		t.Errorf("flow log inputs = %v", flow.Inputs)
	}

	def, ok := rec.Named("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "net-default-sg")
	if !ok || def.String("vpcId") != vpc.ID {
		t.Fatalf("default security group not taken over: %+v", def)
	}
	if _, has := def.Input("ingress"); has {
		t.Error("default security group keeps ingress rules")
	}

	endpoints := map[string]string{}
	for _, e := range rec.OfType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		endpoints[e.String("serviceName")] = e.String("vpcEndpointType")
		if e.String("vpcEndpointType") == "Interface" && (!e.Bool("privateDnsEnabled") || len(e.Strings("securityGroupIds")) != 1) {
			t.Errorf("interface endpoint %s inputs = %v", e.Name, e.Inputs)
		}
	}
	want := map[string]string{
		"com.amazonaws.us-east-1.s3": "Gateway", "com.amazonaws.us-east-1.ecr.api": "Interface", "com.amazonaws.us-east-1.ecr.dkr": "Interface",
		"com.amazonaws.us-east-1.logs": "Interface", "com.amazonaws.us-east-1.sts": "Interface",
	}
	for svc, typ := range want {
		if endpoints[svc] != typ {
			t.Errorf("endpoint %s = %q, want %s", svc, endpoints[svc], typ)
		}
	}
}

func TestSingleNAT(t *testing.T) {
	rec := run(t, args(NATSingle))
	if n := len(rec.OfType("aws:ec2/natGateway:NatGateway")); n != 1 {
		t.Fatalf("%d NAT gateways, want 1", n)
	}
	for _, r := range rec.OfType("aws:ec2/route:Route") {
		if id := r.String("natGatewayId"); id != "" && id != "net-nat-0-id" {
			t.Errorf("route %s through %s", r.Name, id)
		}
	}
}

func TestDatabaseOnlyNetwork(t *testing.T) {
	a := args(NATNone)
	a.PublicCIDRs, a.PrivateCIDRs, a.Endpoints, a.ClusterName = nil, nil, false, ""
	rec := run(t, a)
	if n := len(rec.OfType("aws:ec2/subnet:Subnet")); n != 3 {
		t.Errorf("%d subnets, want 3 database subnets", n)
	}
	for _, typ := range []string{"aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/route:Route", "aws:ec2/vpcEndpoint:VpcEndpoint"} {
		if n := len(rec.OfType(typ)); n != 0 {
			t.Errorf("%d %s in a database-only network", n, typ)
		}
	}
	if len(rec.OfType("aws:ec2/flowLog:FlowLog")) != 1 || len(rec.OfType("aws:rds/subnetGroup:SubnetGroup")) != 1 {
		t.Error("database-only network lacks flow logs or its DB subnet group")
	}
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
		err := a.validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: validate() = %v", want, err)
		}
	}
}
