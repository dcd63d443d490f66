package cache

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
)

const groupType = "aws:elasticache/replicationGroup:ReplicationGroup"

func testArgs() Args {
	return Args{
		ID: "cdx-test-cache", EngineVersion: "7.1", NodeType: "cache.r7g.large", Shards: 1, ReplicasPerShard: 2,
		SnapshotRetentionDays: 7, SnapshotWindow: "02:00-03:00", MaintenanceWindow: "sun:05:30-sun:06:30", LogRetentionDays: 30,
		SubnetIDs:        pulumi.ToStringArray([]string{"subnet-1", "subnet-2", "subnet-3"}),
		SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-redis")},
		Alarms:           &AlarmArgs{TopicARN: pulumi.String("arn:aws:sns:us-east-1:1:alarms"), CPUPercent: 80, MemoryPercent: 80, Evictions: 1000},
	}
}

func run(t *testing.T, mutate func(*Args)) (*mocks.Recorder, error) {
	t.Helper()
	change := func(a *Args, _ *pulumi.Context) error {
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	return mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a Args) error {
		_, err := New(ctx, "cache", a)
		return err
	})
}

func TestReplicationGroupIsClusteredEncryptedAndAuthenticated(t *testing.T) {
	rec, err := run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	groups := rec.OfType(groupType)
	if len(groups) != 1 {
		t.Fatalf("%d replication groups", len(groups))
	}
	rg := groups[0]
	comp, _ := rec.Named("cantondex:data:Cache", "cache")
	if rg.Parent != comp.URN {
		t.Errorf("parent %q", rg.Parent)
	}
	keyARN := mocks.ARN("aws:kms/key:Key", "cache-key")
	for path, want := range map[string]any{
		"engine": "redis", "engineVersion": "7.1", "clusterMode": "enabled", "numNodeGroups": 1.0, "replicasPerNodeGroup": 2.0,
		"automaticFailoverEnabled": true, "multiAzEnabled": true, "atRestEncryptionEnabled": true, "kmsKeyId": keyARN,
		"transitEncryptionEnabled": true, "transitEncryptionMode": "required", "authToken": "[secret]",
		"snapshotRetentionLimit": 7.0, "port": 6379.0,
	} {
		if got, _ := rg.Input(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if nodes := rg.Number("numNodeGroups") * (1 + rg.Number("replicasPerNodeGroup")); nodes != 3 {
		t.Errorf("%g nodes, want 3", nodes)
	}
	pg, _ := rec.Named("aws:elasticache/parameterGroup:ParameterGroup", "cache-params")
	params := map[string]string{}
	list, _ := pg.Input("parameters")
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		params[m["name"].(string)] = m["value"].(string)
	}
	if params["cluster-enabled"] != "yes" || params["maxmemory-policy"] != "allkeys-lru" || pg.String("family") != "redis7" {
		t.Errorf("parameter group %v family %s", params, pg.String("family"))
	}
	if rg.String("parameterGroupName") != "cache-params" {
		t.Errorf("replication group uses parameter group %q", rg.String("parameterGroupName"))
	}
	logs, _ := rg.Input("logDeliveryConfigurations")
	types := []string{}
	for _, l := range logs.([]any) {
		m := l.(map[string]any)
		types = append(types, m["logType"].(string)+"→"+m["destinationType"].(string))
	}
	if strings.Join(types, ",") != "slow-log→cloudwatch-logs,engine-log→cloudwatch-logs" {
		t.Errorf("log delivery %v", types)
	}

	secret, _ := rec.Named("aws:secretsmanager/secret:Secret", "cache-auth-token")
	if secret.String("kmsKeyId") != keyARN {
		t.Errorf("auth token secret not under the customer key: %+v", secret.Inputs)
	}
	version, _ := rec.Named("aws:secretsmanager/secretVersion:SecretVersion", "cache-auth-token")
	if version.String("secretString") != "[secret]" {
		t.Errorf("token stored in the clear: %v", version.Inputs["secretString"])
	}
	if !version.Raw["secretString"].ContainsSecrets() {
		t.Error("token not marked secret")
	}

	read, _ := rec.Named("aws:iam/policy:Policy", "cache-auth-token-read")
	if !strings.Contains(read.String("policy"), mocks.ARN("aws:secretsmanager/secret:Secret", "cache-auth-token")) {
		t.Errorf("read policy %s", read.String("policy"))
	}
	alarmsByName := map[string]mocks.Resource{}
	for _, a := range rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		alarmsByName[a.Name] = a
	}
	if len(alarmsByName) != 9 {
		t.Errorf("%d alarms, want 3 per node", len(alarmsByName))
	}
	ev := alarmsByName["cache-0001-003-evictions"]
	if ev.String("dimensions.CacheClusterId") != "cdx-test-cache-0001-003" || ev.String("metricName") != "Evictions" || ev.Number("threshold") != 1000 {
		t.Errorf("evictions alarm %+v", ev.Inputs)
	}
}

func TestCacheRefusesAShardWithoutReplicas(t *testing.T) {
	_, err := run(t, func(a *Args) { a.ReplicasPerShard = 0 })
	if err == nil || !strings.Contains(err.Error(), "automatic failover needs at least 1") {
		t.Fatalf("err = %v", err)
	}
}
