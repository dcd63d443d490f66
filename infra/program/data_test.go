package program

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/infra/policy"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/stacks"
)

type mapSource map[string]string

func (m mapSource) Get(key string) (string, bool) { v, ok := m[key]; return v, ok }

func str(s string) pulumi.StringOutput { return pulumi.String(s).ToStringOutput() }

// fakeFoundation stands in for foundation(): the data tier is tested on its own inputs.
func fakeFoundation(ctx *pulumi.Context, s stacks.Settings) (*Foundation, error) {
	dr, err := aws.NewProvider(ctx, "dr", &aws.ProviderArgs{Region: pulumi.String(s.DRRegion)})
	if err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, "eks", &kubernetes.ProviderArgs{})
	if err != nil {
		return nil, err
	}
	subnets := func(kind string) pulumi.StringArrayOutput {
		return pulumi.ToStringArray([]string{kind + "-a", kind + "-b", kind + "-c"}).ToStringArrayOutput()
	}
	return &Foundation{
		Tags: s.Tags, VpcID: str("vpc-1"),
		PublicSubnetIDs: subnets("public"), PrivateSubnetIDs: subnets("private"), DatabaseSubnetIDs: subnets("db"),
		DBSubnetGroupName: str("db-subnets"), RDSSecurityGroupID: str("sg-rds"), RDSProxySecurityGroupID: str("sg-rds-proxy"),
		RedisSecurityGroupID: str("sg-redis"), MSKSecurityGroupID: str("sg-msk"), NodeSecurityGroupID: str("sg-nodes"),
		ClusterName: str("cdx"), OIDCProviderARN: str("arn:aws:iam::123456789012:oidc-provider/oidc.eks/id/X"), OIDCProviderURL: str("oidc.eks/id/X"),
		Kubernetes: k8s,
		DR:         DRFoundation{Region: s.DRRegion, Provider: dr, DBSubnetGroupName: str("dr-db-subnets"), RDSSecurityGroupID: str("sg-dr-rds")},
	}, nil
}

func runDataTier(t *testing.T, stack string, src mapSource) *mocks.Recorder {
	t.Helper()
	s, err := stacks.Load(stack, "", src)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		return dataTier(ctx, s, f)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// checkDataTier asserts the acceptance counts of the issue on a recorded plan.
func checkDataTier(t *testing.T, rec *mocks.Recorder, env string, brokers int) {
	t.Helper()
	instances := rec.OfType("aws:rds/instance:Instance")
	var primaries, replicas, dr []mocks.Resource
	for _, r := range instances {
		switch src := r.String("replicateSourceDb"); {
		case src == "":
			primaries = append(primaries, r)
		case strings.HasPrefix(src, "arn:"):
			dr = append(dr, r)
		default:
			replicas = append(replicas, r)
		}
	}
	if len(primaries) != 3 || len(replicas) != 1 || len(dr) != 1 {
		t.Fatalf("%d primaries, %d replicas, %d DR replicas; want 3, 1, 1", len(primaries), len(replicas), len(dr))
	}
	for _, p := range primaries {
		if p.String("engine") != "postgres" || !strings.HasPrefix(p.String("engineVersion"), "15") {
			t.Errorf("%s is %s %s", p.Name, p.String("engine"), p.String("engineVersion"))
		}
	}
	if dr[0].Provider == "" || !strings.Contains(dr[0].Provider, "pulumi:providers:aws::dr") {
		t.Errorf("DR replica on provider %q, want the DR region's", dr[0].Provider)
	}
	if dr[0].String("replicateSourceDb") != "arn:aws:rds:us-east-1:123456789012:db:cdx-"+env+"-trading" {
		t.Errorf("DR replica source %q", dr[0].String("replicateSourceDb"))
	}
	if replicas[0].String("replicateSourceDb") != "cdx-"+env+"-trading" {
		t.Errorf("read replica source %q", replicas[0].String("replicateSourceDb"))
	}
	if n := len(rec.OfType("aws:rds/proxy:Proxy")); n != 1 {
		t.Errorf("%d RDS proxies", n)
	}
	groups := rec.OfType("aws:elasticache/replicationGroup:ReplicationGroup")
	if len(groups) != 1 || groups[0].Number("numNodeGroups")*(1+groups[0].Number("replicasPerNodeGroup")) != 3 {
		t.Errorf("redis: %d groups %+v", len(groups), groups)
	}
	clusters := rec.OfType("aws:msk/cluster:Cluster")
	if len(clusters) != 1 || clusters[0].Number("numberOfBrokerNodes") != float64(brokers) {
		t.Fatalf("msk: %d clusters %+v", len(clusters), clusters)
	}
	if got := clusters[0].Strings("brokerNodeGroupInfo.clientSubnets"); len(got) != 3 {
		t.Errorf("client subnets %v", got)
	}
	if jobs := rec.OfType("kubernetes:batch/v1:Job"); len(jobs) != 0 {
		t.Errorf("%d topic Jobs: the topics are reconciled by services/cmd/kafka-topics", len(jobs))
	}
	perm, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-"+env+"-kafka-topics-role-policy")
	if !ok {
		t.Fatal("no topic-admin role policy")
	}
	for _, tp := range topics.All() {
		if !strings.Contains(perm.String("policy"), "/"+tp.Name+`"`) {
			t.Errorf("topic-admin policy does not name %s: %s", tp.Name, perm.String("policy"))
		}
	}
	trust, _ := rec.Named("aws:iam/role:Role", "cdx-"+env+"-kafka-topics-role")
	if !strings.Contains(trust.String("assumeRolePolicy"), "system:serviceaccount:"+TopicAdminNamespace+":"+TopicAdminServiceAccount) {
		t.Errorf("topic-admin role trust %s", trust.String("assumeRolePolicy"))
	}
}

func TestDataTierProd(t *testing.T) {
	rec := runDataTier(t, "prod", mapSource{})
	checkDataTier(t, rec, "prod", 6)
	for _, r := range rec.OfType("aws:rds/instance:Instance") {
		if r.String("replicateSourceDb") == "" && (!r.Bool("multiAz") || r.Number("backupRetentionPeriod") != 30 || !r.Bool("deletionProtection")) {
			t.Errorf("prod primary %s: multiAz %v backups %v deletion protection %v", r.Name, r.Bool("multiAz"), r.Number("backupRetentionPeriod"), r.Bool("deletionProtection"))
		}
	}
	p := &policy.Plan{Stack: "prod", Environment: "prod", Resources: rec.Resources()}
	if v := policy.Violations(policy.Evaluate(p, policy.Rules())); len(v) != 0 {
		t.Errorf("violations: %+v", v)
	}
	// The PQS instance is read-heavy, the Timescale one preloads timescaledb.
	pg, _ := rec.Named("aws:rds/parameterGroup:ParameterGroup", "cdx-prod-timescale-params")
	list, _ := pg.Input("parameters")
	found := false
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		found = found || m["name"] == "shared_preload_libraries" && strings.Contains(m["value"].(string), "timescaledb")
	}
	if !found {
		t.Error("timescale parameter group does not preload timescaledb")
	}
	// Every service has its own Kafka policy.
	for svc := range TopicAccess() {
		if _, ok := rec.Named("aws:iam/policy:Policy", "cdx-prod-kafka-client-"+svc); !ok {
			t.Errorf("no Kafka policy for %s", svc)
		}
	}
}

func TestDataTierStaging(t *testing.T) {
	rec := runDataTier(t, "staging", mapSource{"data": `{"streaming":{"topics":{"orders":{"partitions":6}}}}`})
	checkDataTier(t, rec, "staging", 3)
	p := &policy.Plan{Stack: "staging", Environment: "staging", Resources: rec.Resources()}
	if v := policy.Violations(policy.Evaluate(p, policy.Rules())); len(v) != 0 {
		t.Errorf("violations: %+v", v)
	}
	s, err := stacks.Load("staging", "", mapSource{"data": `{"streaming":{"topics":{"orders":{"partitions":6}}}}`})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := TopicsJSON(s.Data.Streaming)
	if err != nil {
		t.Fatal(err)
	}
	var ts []topics.Topic
	if err := json.Unmarshal([]byte(raw), &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(topics.All()) || ts[0].Name != topics.Orders || ts[0].Partitions != 6 {
		t.Errorf("staging topic list for kafka-topics does not carry the override: %s", raw)
	}
}

func TestDataTierWithoutFoundationIsSkipped(t *testing.T) {
	s, err := stacks.Load("staging", "", mapSource{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := mocks.Run("staging", mocks.Config{}, func(ctx *pulumi.Context) error {
		return dataTier(ctx, s, &Foundation{Tags: s.Tags})
	})
	if err != nil || len(rec.Resources()) != 0 {
		t.Fatalf("err %v, %d resources", err, len(rec.Resources()))
	}
}
