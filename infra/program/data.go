package program

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/alerting"
	"github.com/cantondex/platform/components/cache"
	"github.com/cantondex/platform/components/database"
	"github.com/cantondex/platform/components/streaming"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// TopicAccess is what each service does with the platform's topics, derived from the service
// catalog; the streaming component turns it into one IRSA-ready MSK policy per service.
func TopicAccess() map[string]streaming.ClientAccess {
	out := map[string]streaming.ClientAccess{}
	for name, a := range catalog.Access() {
		out[name] = streaming.ClientAccess{Produce: a.Produce, Consume: a.Consume}
	}
	return out
}

// DatabaseUsers are the IAM database users of database role, from the service catalog (none
// when no service uses it yet: the component then grants only its placeholder user).
func DatabaseUsers(role string) []string { return catalog.DatabaseUsers()[role] }

// SecretRotationDays is how often generated database credentials rotate.
const SecretRotationDays = 30

// TopicAdminNamespace and TopicAdminServiceAccount are where the topic reconciliation
// (services/cmd/kafka-topics, run as a Job from the platform's image) runs, and the service
// account its IRSA role trusts.
const (
	TopicAdminNamespace      = "cantondex-kafka-admin"
	TopicAdminServiceAccount = "kafka-topics"
)

// TopicsJSON is the stack's topic list (services/topics with the stack's overrides) as
// services/cmd/kafka-topics reads it from KAFKA_TOPICS_JSON.
func TopicsJSON(st stacks.Streaming) (string, error) {
	b, err := json.Marshal(st.TopicList())
	return string(b), err
}

// databaseProfiles maps the settings' roles to the components' tuning profiles.
var databaseProfiles = map[string]database.Profile{"trading": database.OLTP, "pqs": database.ReadHeavy, "timescale": database.TimeSeries}

// set reports whether a foundation output was filled in.
func set(o pulumi.Output) bool {
	switch o := o.(type) {
	case pulumi.StringOutput:
		return o.OutputState != nil
	case pulumi.StringArrayOutput:
		return o.OutputState != nil
	}
	return false
}

// Data is what the data tier built, for the workloads that use it. It is nil when the
// foundation provided no network to place the data tier in.
type Data struct {
	Databases  map[string]*database.Database // by the settings' role (trading, pqs, timescale)
	Cache      *cache.Cache
	Kafka      *streaming.Streaming
	AlarmTopic *alerting.AlarmTopic
	TopicsJSON string // the stack's topic list as services/cmd/kafka-topics reads it
}

// dataTier builds the databases, cache and streaming on the foundation.
func dataTier(ctx *pulumi.Context, s stacks.Settings, f *Foundation) (*Data, error) {
	if !set(f.DBSubnetGroupName) || !set(f.PrivateSubnetIDs) || !set(f.RDSSecurityGroupID) {
		// Without the foundation's network there is nothing to place the data tier in.
		return nil, ctx.Log.Warn("data tier skipped: the foundation provides no database subnets or security groups", nil)
	}
	prefix := "cdx-" + string(s.Environment)
	d := s.Data

	alarmTopic, err := alerting.NewAlarmTopic(ctx, prefix+"-data-alarms", alerting.AlarmTopicArgs{EmailSubscribers: d.Alarms.EmailSubscribers, Tags: s.Tags})
	if err != nil {
		return nil, err
	}

	dbs := map[string]*database.Database{}
	for _, db := range d.Databases.Roles() {
		args := database.DatabaseArgs{
			Identifier: prefix + "-" + db.Role, Profile: databaseProfiles[db.Role],
			EngineVersion: db.EngineVersion, InstanceClass: db.InstanceClass,
			DatabaseName: db.Role, Username: "cantondex_admin",
			AllocatedStorageGiB: db.AllocatedStorageGiB, MaxAllocatedStorageGiB: db.MaxAllocatedStorageGiB,
			MultiAZ: db.MultiAZ, BackupRetentionDays: db.BackupRetentionDays,
			BackupWindow: db.BackupWindow, MaintenanceWindow: db.MaintenanceWindow, DeletionProtection: db.DeletionProtection,
			PerformanceInsightsRetentionDays: db.PerformanceInsightsRetentionDays, MonitoringIntervalSeconds: db.MonitoringIntervalSeconds,
			LogRetentionDays: db.LogRetentionDays, PreloadLibraries: db.PreloadLibraries, Parameters: db.Parameters,
			SubnetGroupName:  f.DBSubnetGroupName,
			SecurityGroupIDs: pulumi.StringArray{f.RDSSecurityGroupID},
			ReadReplicas:     db.ReadReplicas,
			IAMUsers:         DatabaseUsers(db.Role),
			Alarms: &database.AlarmArgs{TopicARN: alarmTopic.ARN, CPUPercent: d.Alarms.CPUPercent, FreeStorageGiB: d.Alarms.FreeStorageGiB,
				Connections: d.Alarms.DatabaseConnections, ReplicaLagSeconds: d.Alarms.ReplicaLagSec},
			Tags: s.Tags,
		}
		if db.DRReplica {
			if f.DR.Provider == nil || !set(f.DR.DBSubnetGroupName) || !set(f.DR.RDSSecurityGroupID) {
				return nil, fmt.Errorf("data.databases.%s.drReplica is on but the foundation prepared no DR region network", db.Role)
			}
			args.DR = &database.DRArgs{Provider: f.DR.Provider, SubnetGroupName: f.DR.DBSubnetGroupName, SecurityGroupIDs: pulumi.StringArray{f.DR.RDSSecurityGroupID}}
		}
		// Only used where RDS cannot manage the password itself (an instance with replicas).
		args.Rotation = &database.RotationArgs{VpcID: f.VpcID, SubnetIDs: f.PrivateSubnetIDs, DatabaseSecurityGroupID: f.RDSSecurityGroupID, Days: SecretRotationDays}
		if db.Proxy {
			args.Proxy = &database.ProxyArgs{SubnetIDs: f.DatabaseSubnetIDs, SecurityGroupIDs: pulumi.StringArray{f.RDSProxySecurityGroupID}}
		} else if users := DatabaseUsers(db.Role); len(users) > 0 {
			// The services authenticate with IAM to the proxy, which logs in with each user's secret.
			return nil, fmt.Errorf("data.databases.%s.proxy is off, but %s connect through RDS Proxy: turn it on", db.Role, strings.Join(users, ", "))
		}
		created, err := database.NewDatabase(ctx, prefix+"-"+db.Role, args)
		if err != nil {
			return nil, err
		}
		dbs[db.Role] = created
	}

	c := d.Cache
	redis, err := cache.NewCache(ctx, prefix+"-cache", cache.CacheArgs{
		ID: prefix + "-cache", EngineVersion: c.EngineVersion, NodeType: c.NodeType, Shards: c.Shards, ReplicasPerShard: c.ReplicasPerShard,
		SnapshotRetentionDays: c.SnapshotRetentionDays, SnapshotWindow: c.SnapshotWindow, MaintenanceWindow: c.MaintenanceWindow,
		LogRetentionDays: c.LogRetentionDays,
		SubnetIDs:        f.PrivateSubnetIDs,
		SecurityGroupIDs: pulumi.StringArray{f.RedisSecurityGroupID},
		Alarms:           &cache.AlarmArgs{TopicARN: alarmTopic.ARN, CPUPercent: d.Alarms.CPUPercent, MemoryPercent: d.Alarms.RedisMemoryPercent, Evictions: d.Alarms.RedisEvictions},
		Tags:             s.Tags,
	})
	if err != nil {
		return nil, err
	}

	st := d.Streaming
	streamArgs := streaming.StreamingArgs{
		ClusterName: prefix + "-kafka", KafkaVersion: st.KafkaVersion, BrokerCount: st.BrokerCount, InstanceType: st.InstanceType,
		VolumeSizeGiB: st.VolumeSizeGiB, ProvisionedThroughputMiBps: st.ProvisionedThroughputMiBps,
		DefaultReplicationFactor: st.DefaultReplicationFactor, MinInsyncReplicas: st.MinInsyncReplicas, LogRetentionDays: st.LogRetentionDays,
		ClientSubnetIDs: f.PrivateSubnetIDs, SubnetCount: s.Network.AZCount,
		SecurityGroupIDs: pulumi.StringArray{f.MSKSecurityGroupID},
		Topics:           st.TopicList(),
		Clients:          TopicAccess(),
		Alarms:           &streaming.AlarmArgs{TopicARN: alarmTopic.ARN, DiskPercent: d.Alarms.KafkaDiskPercent},
		Tags:             s.Tags,
	}
	if set(f.OIDCProviderARN) && set(f.OIDCProviderURL) {
		streamArgs.TopicAdmin = &streaming.TopicAdminArgs{OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL,
			Namespace: TopicAdminNamespace, ServiceAccount: TopicAdminServiceAccount}
	} else {
		_ = ctx.Log.Warn("no OIDC provider: no topic-admin role; the services create missing topics from services/topics at start", nil)
	}
	kafka, err := streaming.NewStreaming(ctx, prefix+"-kafka", streamArgs)
	if err != nil {
		return nil, err
	}

	// Outputs the workloads read: endpoints, ports, secrets, security groups and policies.
	for role, db := range dbs {
		ctx.Export("database."+role+".address", db.Address)
		ctx.Export("database."+role+".port", db.Port)
		ctx.Export("database."+role+".secretArn", db.SecretARN)
		ctx.Export("database."+role+".readerAddresses", db.ReaderAddresses)
		ctx.Export("database."+role+".proxyEndpoint", db.ProxyEndpoint)
		ctx.Export("database."+role+".drReplicaArn", db.DRReplicaARN)
		ctx.Export("database."+role+".connectPolicyArn", db.ConnectPolicyARN)
		ctx.Export("database."+role+".secretReadPolicyArn", db.SecretReadPolicyARN)
		ctx.Export("database."+role+".userSecretArns", db.UserSecretARNs)
		ctx.Export("database."+role+".userSecretWritePolicyArn", db.UserSecretWritePolicyARN)
	}
	ctx.Export("database.securityGroupId", f.RDSSecurityGroupID)
	ctx.Export("database.proxySecurityGroupId", f.RDSProxySecurityGroupID)
	ctx.Export("cache.configurationEndpoint", redis.ConfigurationEndpoint)
	ctx.Export("cache.port", redis.Port)
	ctx.Export("cache.authTokenSecretArn", redis.AuthTokenSecretARN)
	ctx.Export("cache.readPolicyArn", redis.ReadPolicyARN)
	ctx.Export("cache.securityGroupId", f.RedisSecurityGroupID)
	ctx.Export("kafka.bootstrapBrokers", kafka.BootstrapBrokers)
	ctx.Export("kafka.port", pulumi.Int(streaming.IAMPort))
	ctx.Export("kafka.clusterArn", kafka.ClusterARN)
	ctx.Export("kafka.clientPolicyArns", kafka.ClientPolicyARNs)
	ctx.Export("kafka.topicAdminRoleArn", kafka.TopicAdminRoleARN)
	ctx.Export("kafka.topicAdminServiceAccount", pulumi.String(TopicAdminNamespace+"/"+TopicAdminServiceAccount))
	topicsJSON, err := TopicsJSON(st)
	if err != nil {
		return nil, err
	}
	ctx.Export("kafka.topicsJson", pulumi.String(topicsJSON))
	ctx.Export("kafka.securityGroupId", f.MSKSecurityGroupID)
	ctx.Export("alarms.topicArn", alarmTopic.ARN)
	return &Data{Databases: dbs, Cache: redis, Kafka: kafka, AlarmTopic: alarmTopic, TopicsJSON: topicsJSON}, nil
}
