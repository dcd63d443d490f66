package cache

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const groupType = "aws:elasticache/replicationGroup:ReplicationGroup"

func testArgs() CacheArgs {
	return CacheArgs{
		ID: "cdx-test-cache", EngineVersion: "7.1", NodeType: "cache.r7g.large", Shards: 1, ReplicasPerShard: 2,
		SnapshotRetentionDays: 7, SnapshotWindow: "02:00-03:00", MaintenanceWindow: "sun:05:30-sun:06:30", LogRetentionDays: 30,
		SubnetIDs:        pulumi.ToStringArray([]string{"subnet-1", "subnet-2", "subnet-3"}),
		SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-redis")},
		Alarms:           &AlarmArgs{TopicARN: pulumi.String("arn:aws:sns:us-east-1:1:alarms"), CPUPercent: 80, MemoryPercent: 80, Evictions: 1000},
	}
}

func run(t *testing.T, mutate func(*CacheArgs)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *CacheArgs, _ *pulumi.Context) error {
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a CacheArgs) error {
		_, err := NewCache(ctx, "cache", a)
		return err
	})
}

// parameterGroup returns the recorded parameter group's parameters and family.
func parameterGroup(t *testing.T, rec *mocks.Recorder) (map[string]string, string) {
	t.Helper()
	pg, ok := rec.Named("aws:elasticache/parameterGroup:ParameterGroup", "cache-params")
	require.True(t, ok, "parameter group recorded")
	params := map[string]string{}
	list, _ := pg.Input("parameters")
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		params[m["name"].(string)] = m["value"].(string)
	}
	return params, pg.String("family")
}

func TestReplicationGroupIsClusteredEncryptedAndAuthenticated(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	groups := rec.OfType(groupType)
	require.Len(t, groups, 1, "replication groups")
	rg := groups[0]
	comp, _ := rec.Named("cantondex:cache:Cache", "cache")
	assert.Equal(t, comp.URN, rg.Parent, "parent")
	keyARN := mocks.ARN("aws:kms/key:Key", "cache-key")
	for path, want := range map[string]any{
		"engine": "redis", "engineVersion": "7.1", "clusterMode": "enabled", "numNodeGroups": 1.0, "replicasPerNodeGroup": 2.0,
		"automaticFailoverEnabled": true, "multiAzEnabled": true, "atRestEncryptionEnabled": true, "kmsKeyId": keyARN,
		"transitEncryptionEnabled": true, "transitEncryptionMode": "required", "authToken": "[secret]",
		"snapshotRetentionLimit": 7.0, "port": 6379.0,
	} {
		got, _ := rg.Input(path)
		assert.Equal(t, want, got, path)
	}
	assert.Equal(t, 3.0, rg.Number("numNodeGroups")*(1+rg.Number("replicasPerNodeGroup")), "nodes")

	params, family := parameterGroup(t, rec)
	assert.Equal(t, map[string]string{"cluster-enabled": "yes", "maxmemory-policy": "noeviction"}, params, "parameters")
	assert.Equal(t, "redis7", family)
	assert.Equal(t, "cache-params", rg.String("parameterGroupName"), "the replication group uses the parameter group")

	logs, _ := rg.Input("logDeliveryConfigurations")
	types := []string{}
	for _, l := range logs.([]any) {
		m := l.(map[string]any)
		types = append(types, m["logType"].(string)+"→"+m["destinationType"].(string))
	}
	assert.Equal(t, "slow-log→cloudwatch-logs,engine-log→cloudwatch-logs", strings.Join(types, ","), "log delivery")

	secret, _ := rec.Named("aws:secretsmanager/secret:Secret", "cache-auth-token")
	assert.Equal(t, keyARN, secret.String("kmsKeyId"), "auth token secret under the customer key")
	version, _ := rec.Named("aws:secretsmanager/secretVersion:SecretVersion", "cache-auth-token")
	assert.Equal(t, "[secret]", version.String("secretString"), "token not stored in the clear")
	assert.True(t, version.Raw["secretString"].ContainsSecrets(), "token marked secret")

	read, _ := rec.Named("aws:iam/policy:Policy", "cache-auth-token-read")
	assert.Contains(t, read.String("policy"), mocks.ARN("aws:secretsmanager/secret:Secret", "cache-auth-token"), "read policy")
	alarmsByName := map[string]mocks.Resource{}
	for _, a := range rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		alarmsByName[a.Name] = a
	}
	assert.Len(t, alarmsByName, 9, "alarms: 3 per node")
	ev := alarmsByName["cache-0001-003-evictions"]
	assert.Equal(t, "cdx-test-cache-0001-003", ev.String("dimensions.CacheClusterId"))
	assert.Equal(t, "Evictions", ev.String("metricName"))
	assert.Equal(t, 1000.0, ev.Number("threshold"))
}

// Extra parameters join the defaults; the eviction policy and cluster mode stay as they must.
func TestParametersOnTopOfTheDefaults(t *testing.T) {
	rec, err := run(t, func(a *CacheArgs) {
		a.Parameters = map[string]string{"timeout": "300", "maxmemory-policy": "noeviction"}
	})
	require.NoError(t, err)
	params, _ := parameterGroup(t, rec)
	assert.Equal(t, map[string]string{"cluster-enabled": "yes", "maxmemory-policy": "noeviction", "timeout": "300"}, params)
	assert.Equal(t, map[string]string{"cluster-enabled": "yes", "maxmemory-policy": "noeviction"}, DefaultParameters(), "defaults untouched")
}

func TestCacheRefusesAnEvictingPolicy(t *testing.T) {
	for _, policy := range []string{"allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random", "volatile-lfu"} {
		rec, err := run(t, func(a *CacheArgs) { a.Parameters = map[string]string{"maxmemory-policy": policy} })
		if assert.Error(t, err, policy) {
			assert.Contains(t, err.Error(), "maxmemory-policy "+policy, policy)
		}
		if rec != nil {
			assert.Empty(t, rec.OfType(groupType), "%s: nothing created", policy)
		}
	}
	_, err := run(t, func(a *CacheArgs) { a.Parameters = map[string]string{"cluster-enabled": "no"} })
	assert.ErrorContains(t, err, "cluster-enabled no")
}

func TestCacheRefusesAShardWithoutReplicas(t *testing.T) {
	_, err := run(t, func(a *CacheArgs) { a.ReplicasPerShard = 0 })
	assert.ErrorContains(t, err, "automatic failover needs at least 1")
}
