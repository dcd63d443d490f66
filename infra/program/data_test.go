package program

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	rec, err := mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		_, err = dataTier(ctx, s, f)
		return err
	})
	require.NoError(t, err)
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
	require.Len(t, primaries, 3, "primaries")
	require.Len(t, replicas, 1, "read replicas")
	require.Len(t, dr, 1, "DR replicas")
	for _, p := range primaries {
		assert.Equal(t, "postgres", p.String("engine"), "%s engine", p.Name)
		assert.True(t, strings.HasPrefix(p.String("engineVersion"), "15"), "%s is postgres %s, want 15", p.Name, p.String("engineVersion"))
	}
	assert.Contains(t, dr[0].Provider, "pulumi:providers:aws::dr", "DR replica not on the DR region's provider")
	assert.Equal(t, "arn:aws:rds:us-east-1:123456789012:db:cdx-"+env+"-trading", dr[0].String("replicateSourceDb"), "DR replica source")
	assert.Equal(t, "cdx-"+env+"-trading", replicas[0].String("replicateSourceDb"), "read replica source")
	assert.Len(t, rec.OfType("aws:rds/proxy:Proxy"), 1, "RDS proxies")
	groups := rec.OfType("aws:elasticache/replicationGroup:ReplicationGroup")
	if assert.Len(t, groups, 1, "redis replication groups") {
		assert.Equal(t, float64(3), groups[0].Number("numNodeGroups")*(1+groups[0].Number("replicasPerNodeGroup")), "redis nodes %+v", groups[0])
	}
	clusters := rec.OfType("aws:msk/cluster:Cluster")
	require.Len(t, clusters, 1, "msk clusters")
	require.Equal(t, float64(brokers), clusters[0].Number("numberOfBrokerNodes"), "msk brokers")
	assert.Len(t, clusters[0].Strings("brokerNodeGroupInfo.clientSubnets"), 3, "msk client subnets")
	assert.Empty(t, rec.OfType("kubernetes:batch/v1:Job"), "topic Jobs: the topics are reconciled by services/cmd/kafka-topics")
	perm, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-"+env+"-kafka-topics-role-policy")
	require.True(t, ok, "no topic-admin role policy")
	for _, tp := range topics.All() {
		assert.Contains(t, perm.String("policy"), "/"+tp.Name+`"`, "topic-admin policy does not name %s", tp.Name)
	}
	trust, _ := rec.Named("aws:iam/role:Role", "cdx-"+env+"-kafka-topics-role")
	assert.Contains(t, trust.String("assumeRolePolicy"), "system:serviceaccount:"+TopicAdminNamespace+":"+TopicAdminServiceAccount, "topic-admin role trust")
}

func TestDataTierProd(t *testing.T) {
	rec := runDataTier(t, "prod", mapSource{})
	checkDataTier(t, rec, "prod", 6)
	for _, r := range rec.OfType("aws:rds/instance:Instance") {
		if r.String("replicateSourceDb") == "" {
			assert.True(t, r.Bool("multiAz"), "prod primary %s: multiAz", r.Name)
			assert.Equal(t, float64(30), r.Number("backupRetentionPeriod"), "prod primary %s: backup retention", r.Name)
			assert.True(t, r.Bool("deletionProtection"), "prod primary %s: deletion protection", r.Name)
		}
	}
	p := &policy.Plan{Stack: "prod", Environment: "prod", Resources: rec.Resources()}
	assert.Empty(t, policy.Violations(policy.Evaluate(p, policy.Rules())), "violations")
	// The PQS instance is read-heavy, the Timescale one preloads timescaledb.
	pg, _ := rec.Named("aws:rds/parameterGroup:ParameterGroup", "cdx-prod-timescale-params")
	list, _ := pg.Input("parameters")
	found := false
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		found = found || m["name"] == "shared_preload_libraries" && strings.Contains(m["value"].(string), "timescaledb")
	}
	assert.True(t, found, "timescale parameter group does not preload timescaledb")
	// Every service has its own Kafka policy.
	for svc := range TopicAccess() {
		_, ok := rec.Named("aws:iam/policy:Policy", "cdx-prod-kafka-client-"+svc)
		assert.True(t, ok, "no Kafka policy for %s", svc)
	}
}

func TestDataTierStaging(t *testing.T) {
	rec := runDataTier(t, "staging", mapSource{"data": `{"streaming":{"topics":{"orders":{"partitions":6}}}}`})
	checkDataTier(t, rec, "staging", 3)
	p := &policy.Plan{Stack: "staging", Environment: "staging", Resources: rec.Resources()}
	assert.Empty(t, policy.Violations(policy.Evaluate(p, policy.Rules())), "violations")
	s, err := stacks.Load("staging", "", mapSource{"data": `{"streaming":{"topics":{"orders":{"partitions":6}}}}`})
	require.NoError(t, err)
	raw, err := TopicsJSON(s.Data.Streaming)
	require.NoError(t, err)
	var ts []topics.Topic
	require.NoError(t, json.Unmarshal([]byte(raw), &ts))
	if assert.Len(t, ts, len(topics.All()), "staging topic list for kafka-topics: %s", raw) {
		assert.Equal(t, topics.Orders, ts[0].Name, "staging topic list for kafka-topics: %s", raw)
		assert.Equal(t, int32(6), ts[0].Partitions, "staging topic list for kafka-topics does not carry the override: %s", raw)
	}
}

func TestDataTierWithoutFoundationIsSkipped(t *testing.T) {
	s, err := stacks.Load("staging", "", mapSource{})
	require.NoError(t, err)
	rec, err := mocks.Run("staging", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := dataTier(ctx, s, &Foundation{Tags: s.Tags})
		return err
	})
	require.NoError(t, err)
	require.Empty(t, rec.Resources(), "resources without a foundation")
}

// The services reach PostgreSQL only through the proxy (IAM to the proxy, the user's secret
// from it to the instance): a stack without one cannot serve them.
func TestDataTierRefusesTradingWithoutProxy(t *testing.T) {
	s, err := stacks.Load("staging", "", mapSource{"data": `{"databases":{"trading":{"proxy":false}}}`})
	require.NoError(t, err)
	_, err = mocks.Run("staging", mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := fakeFoundation(ctx, s)
		if err != nil {
			return err
		}
		_, err = dataTier(ctx, s, f)
		return err
	})
	require.ErrorContains(t, err, "data.databases.trading.proxy is off, but cdx_api_gateway, cdx_compliance, cdx_matching_engine, cdx_notification, cdx_risk, cdx_settlement connect through RDS Proxy")
}
