package stacks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/topics"
)

func TestDataDefaults(t *testing.T) {
	prod, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	staging, err := Load("staging", "", mapSource{})
	require.NoError(t, err)
	assert.Equal(t, 6, prod.Data.Streaming.BrokerCount, "prod brokers")
	assert.Equal(t, 3, staging.Data.Streaming.BrokerCount, "staging brokers")
	assert.Equal(t, 3, prod.Data.Cache.Nodes(), "prod cache nodes")
	assert.Equal(t, 3, staging.Data.Cache.Nodes(), "staging cache nodes")
	for _, db := range prod.Data.Databases.Roles() {
		assert.True(t, db.MultiAZ, "prod %s: %+v", db.Role, *db.Database)
		assert.Equal(t, 30, db.BackupRetentionDays, "prod %s: %+v", db.Role, *db.Database)
		assert.True(t, db.DeletionProtection, "prod %s: %+v", db.Role, *db.Database)
	}
	tr := prod.Data.Databases.Trading
	assert.Equal(t, 1, tr.ReadReplicas, "only trading has a replica, DR and proxy: %+v", prod.Data.Databases)
	assert.True(t, tr.DRReplica, "only trading has a replica, DR and proxy: %+v", prod.Data.Databases)
	assert.True(t, tr.Proxy, "only trading has a replica, DR and proxy: %+v", prod.Data.Databases)
	assert.False(t, prod.Data.Databases.PQS.Proxy, "only trading has a replica, DR and proxy: %+v", prod.Data.Databases)
	assert.Contains(t, strings.Join(prod.Data.Databases.Timescale.PreloadLibraries, ","), "timescaledb", "timescale database does not preload timescaledb")
	assert.Empty(t, prod.Warnings, "defaults warn")
}

func TestDataOverlayKeepsDefaults(t *testing.T) {
	s, err := Load("prod", "", mapSource{"data": `{"databases":{"pqs":{"instanceClass":"db.r6g.2xlarge"}},"streaming":{"topics":{"orders":{"partitions":24}}}}`})
	require.NoError(t, err)
	assert.Equal(t, "db.r6g.2xlarge", s.Data.Databases.PQS.InstanceClass, "pqs overlay: %+v", s.Data.Databases.PQS)
	assert.Equal(t, 30, s.Data.Databases.PQS.BackupRetentionDays, "pqs overlay: %+v", s.Data.Databases.PQS)
	orders, _ := topics.Lookup(topics.Orders)
	got := s.Data.Streaming.TopicList()
	assert.Equal(t, topics.Orders, got[0].Name, "orders override: %+v", got[0])
	assert.Equal(t, int32(24), got[0].Partitions, "orders override: %+v", got[0])
	assert.Equal(t, orders.ReplicationFactor, got[0].ReplicationFactor, "orders override: %+v", got[0])
	assert.Equal(t, orders.RetentionMs, got[0].RetentionMs, "orders override: %+v", got[0])
	assert.Equal(t, topics.All()[1], got[1], "trades changed without an override")
}

func TestTopicOverrideRetentionAndReplication(t *testing.T) {
	st := Streaming{BrokerCount: 2, Topics: map[string]TopicOverride{
		topics.Alerts: {ReplicationFactor: 2, RetentionHours: 48}, topics.ComplianceEvents: {RetentionHours: -1},
	}}
	for _, tp := range st.TopicList() {
		switch tp.Name {
		case topics.Alerts:
			assert.Equal(t, int16(2), tp.ReplicationFactor, "alerts: %+v", tp)
			assert.Equal(t, int64(48*3600*1000), tp.RetentionMs, "alerts: %+v", tp)
			assert.Equal(t, 1, tp.MinInsyncReplicas, "alerts: %+v", tp)
		case topics.ComplianceEvents:
			assert.Equal(t, int64(-1), tp.RetentionMs, "compliance-events retention: %+v", tp)
		}
	}
}

func TestInvalidDataSettingsNameTheSetting(t *testing.T) {
	tests := []struct {
		name  string
		stack string
		data  string
		want  string
	}{
		{"5 brokers over 3 subnets", "prod", `{"streaming":{"brokerCount":5}}`, "cantondex:data.streaming.brokerCount: 5 brokers cannot spread evenly over 3 client subnets"},
		{"4 brokers staging", "staging", `{"streaming":{"brokerCount":4}}`, "data.streaming.brokerCount"},
		{"backup retention 0 in prod", "prod", `{"databases":{"trading":{"backupRetentionDays":0}}}`, "cantondex:data.databases.trading.backupRetentionDays: 0 is outside 7 to 35 days"},
		{"backup retention 14 in prod", "prod", `{"databases":{"pqs":{"backupRetentionDays":14}}}`, "data.databases.pqs.backupRetentionDays: 14 is below the 30 days"},
		{"shard without replicas with failover", "staging", `{"cache":{"replicasPerShard":0}}`, "cantondex:data.cache.replicasPerShard: 0 leaves each shard without a replica, but automaticFailover is on"},
		{"failover off", "staging", `{"cache":{"automaticFailover":false}}`, "data.cache.automaticFailover"},
		{"small prod instance", "prod", `{"databases":{"trading":{"instanceClass":"db.r6g.large"}}}`, "data.databases.trading.instanceClass: db.r6g.large is too small for prod"},
		{"burstable prod instance", "prod", `{"databases":{"timescale":{"instanceClass":"db.t4g.2xlarge"}}}`, "data.databases.timescale.instanceClass"},
		{"postgres 14", "staging", `{"databases":{"trading":{"engineVersion":"14.9"}}}`, "data.databases.trading.engineVersion"},
		{"single AZ prod", "prod", `{"databases":{"trading":{"multiAz":false}}}`, "data.databases.trading.multiAz"},
		{"no deletion protection prod", "prod", `{"databases":{"pqs":{"deletionProtection":false}}}`, "data.databases.pqs.deletionProtection"},
		{"monitoring off", "staging", `{"databases":{"pqs":{"monitoringIntervalSeconds":0}}}`, "data.databases.pqs.monitoringIntervalSeconds"},
		{"bad PI retention", "staging", `{"databases":{"pqs":{"performanceInsightsRetentionDays":30}}}`, "data.databases.pqs.performanceInsightsRetentionDays"},
		{"preload via parameters", "staging", `{"databases":{"pqs":{"parameters":{"shared_preload_libraries":"x"}}}}`, "data.databases.pqs.parameters"},
		{"storage ceiling below size", "staging", `{"databases":{"pqs":{"allocatedStorageGiB":200}}}`, "data.databases.pqs.maxAllocatedStorageGiB"},
		{"kafka 3.4", "prod", `{"streaming":{"kafkaVersion":"3.4.0"}}`, "data.streaming.kafkaVersion: 3.4.0 is below the minimum 3.5.1"},
		{"kafka garbage", "prod", `{"streaming":{"kafkaVersion":"latest"}}`, "data.streaming.kafkaVersion"},
		{"throughput on small broker", "staging", `{"streaming":{"provisionedThroughputMiBps":250}}`, "data.streaming.provisionedThroughputMiBps: kafka.m7g.large cannot have provisioned throughput"},
		{"min ISR equals RF", "prod", `{"streaming":{"minInsyncReplicas":3}}`, "data.streaming.minInsyncReplicas"},
		{"unknown topic", "prod", `{"streaming":{"topics":{"order":{"partitions":3}}}}`, "data.streaming.topics.order"},
		{"topic RF above brokers", "staging", `{"streaming":{"topics":{"orders":{"replicationFactor":4}}}}`, "data.streaming.topics.orders.replicationFactor"},
		{"redis 6", "prod", `{"cache":{"engineVersion":"6.2"}}`, "data.cache.engineVersion"},
		{"alarm threshold", "prod", `{"alarms":{"cpuPercent":120}}`, "data.alarms.cpuPercent"},
		{"unknown field", "prod", `{"streaming":{"brokers":6}}`, "cantondex:data: cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.stack, "", mapSource{"data": tt.data})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestKafkaFloorWarns(t *testing.T) {
	s, err := Load("staging", "", mapSource{"data": `{"streaming":{"kafkaVersion":"3.5.1"}}`})
	require.NoError(t, err)
	require.Len(t, s.Warnings, 1, "warnings = %q", s.Warnings)
	require.Contains(t, s.Warnings[0], "data.streaming.kafkaVersion", "warnings")
	for _, ok := range []string{"3.9.x", "3.7.x.kraft", "4.0.x", "3.6.0"} {
		s, err := Load("staging", "", mapSource{"data": `{"streaming":{"kafkaVersion":"` + ok + `"}}`})
		assert.NoError(t, err, ok)
		assert.Empty(t, s.Warnings, "%s: warnings", ok)
	}
}

func TestBrokersFollowAZCount(t *testing.T) {
	_, err := Load("prod", "", mapSource{"network": `{"azCount":2}`, "data": `{"streaming":{"brokerCount":4}}`})
	require.NoError(t, err, "4 brokers over 2 AZs rejected")
	_, err = Load("prod", "", mapSource{"network": `{"azCount":2}`, "data": `{"streaming":{"brokerCount":3}}`})
	require.Error(t, err, "3 brokers over 2 AZs accepted")
}
