// Package streaming is the MSK component: a private Kafka cluster with KMS at rest, TLS-only
// traffic (in-cluster too), SASL/IAM client authentication, broker logs in CloudWatch Logs,
// Prometheus open monitoring, a configuration that forbids automatic topic creation, alarms,
// IRSA-ready client policies per service, and the IRSA role of the topic reconciliation
// (services/cmd/kafka-topics, run inside the EKS cluster where the private brokers are
// reachable) allowed exactly what it does on the platform's topics (services/topics).
package streaming

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/msk"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/alarms"
	"github.com/cantondex/platform/components/internal/keys"
	"github.com/cantondex/platform/components/internal/tokens"
	"github.com/cantondex/platform/services/topics"
)

// IAMPort is the brokers' SASL/IAM TLS port.
const IAMPort = 9098

// Streaming is the MSK cluster and its topics.
type Streaming struct {
	pulumi.ResourceState

	ClusterARN pulumi.StringOutput `pulumi:"clusterArn"`
	// BootstrapBrokers are the SASL/IAM (port 9098) bootstrap brokers.
	BootstrapBrokers pulumi.StringOutput `pulumi:"bootstrapBrokers"`
	KMSKeyARN        pulumi.StringOutput `pulumi:"kmsKeyArn"`
	// ClientPolicyARNs are the IRSA-ready policies by client (service) name.
	ClientPolicyARNs pulumi.StringMapOutput `pulumi:"clientPolicyArns"`
	// TopicAdminRoleARN is the IRSA role of the topic reconciliation ("" without TopicAdmin).
	TopicAdminRoleARN pulumi.StringOutput `pulumi:"topicAdminRoleArn"`
}

// StreamingArgs configures the cluster.
type StreamingArgs struct {
	// ClusterName is the MSK cluster name (and its children's name prefix).
	ClusterName                string
	KafkaVersion               string
	BrokerCount                int
	InstanceType               string
	VolumeSizeGiB              int
	ProvisionedThroughputMiBps int // 0: off
	DefaultReplicationFactor   int
	MinInsyncReplicas          int
	LogRetentionDays           int

	// ClientSubnetIDs are the private subnets, one per AZ; BrokerCount must be a multiple of
	// SubnetCount (their number, known before the ids are).
	ClientSubnetIDs  pulumi.StringArrayInput
	SubnetCount      int
	SecurityGroupIDs pulumi.StringArrayInput

	// Topics of the platform, from services/topics with the stack's overrides.
	Topics []topics.Topic
	// TopicAdmin creates the IRSA role that services/cmd/kafka-topics runs with; nil creates
	// none (the services' Kafka adapter then creates missing topics at start).
	TopicAdmin *TopicAdminArgs
	// Clients are the services' access to topics, by service name.
	Clients map[string]ClientAccess
	Alarms  *AlarmArgs
	Tags    map[string]string
}

// ClientAccess is what one service may do with the platform's topics.
type ClientAccess struct {
	Produce []string
	Consume []string
}

// AlarmArgs are the cluster's alarm thresholds.
type AlarmArgs struct {
	TopicARN    pulumi.StringInput
	DiskPercent float64
}

func (a StreamingArgs) validate() error {
	var errs []error
	if a.ClusterName == "" || a.KafkaVersion == "" || a.InstanceType == "" {
		errs = append(errs, errors.New("cluster name, Kafka version and instance type are required"))
	}
	if a.SubnetCount < 1 || a.BrokerCount%a.SubnetCount != 0 || a.BrokerCount < a.SubnetCount {
		errs = append(errs, fmt.Errorf("%d brokers cannot spread evenly over %d client subnets", a.BrokerCount, a.SubnetCount))
	}
	if a.MinInsyncReplicas < 1 || a.MinInsyncReplicas >= a.DefaultReplicationFactor || a.DefaultReplicationFactor > a.BrokerCount {
		errs = append(errs, fmt.Errorf("min.insync.replicas %d and replication factor %d do not fit %d brokers", a.MinInsyncReplicas, a.DefaultReplicationFactor, a.BrokerCount))
	}
	known := map[string]bool{}
	for _, t := range a.Topics {
		known[t.Name] = true
		if int(t.ReplicationFactor) > a.BrokerCount || t.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topic %s: %d partitions, replication %d over %d brokers", t.Name, t.Partitions, t.ReplicationFactor, a.BrokerCount))
		}
	}
	for client, acc := range a.Clients {
		for _, t := range slices.Concat(acc.Produce, acc.Consume) {
			if !known[t] {
				errs = append(errs, fmt.Errorf("client %s: unknown topic %q", client, t))
			}
		}
	}
	if ta := a.TopicAdmin; ta != nil && (ta.OIDCProviderARN == nil || ta.OIDCProviderURL == nil || ta.Namespace == "" || ta.ServiceAccount == "") {
		errs = append(errs, errors.New("the topic-admin role needs the OIDC provider, a namespace and a service account"))
	}
	return errors.Join(errs...)
}

// ServerProperties renders the cluster configuration.
func (a StreamingArgs) ServerProperties() string {
	return strings.Join([]string{
		"auto.create.topics.enable=false",
		fmt.Sprintf("default.replication.factor=%d", a.DefaultReplicationFactor),
		fmt.Sprintf("min.insync.replicas=%d", a.MinInsyncReplicas),
		"num.partitions=6",
		"unclean.leader.election.enable=false",
		"allow.everyone.if.no.acl.found=false",
		"log.retention.hours=168",
	}, "\n") + "\n"
}

// New creates the cluster.
func NewStreaming(ctx *pulumi.Context, name string, args StreamingArgs, opts ...pulumi.ResourceOption) (*Streaming, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("streaming %s: %w", name, err)
	}
	s := &Streaming{}
	if err := ctx.RegisterComponentResource("cantondex:streaming:Streaming", name, s, tokens.Renamed("cantondex:data:Streaming", opts)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	tags := pulumi.ToStringMap(args.Tags)

	key, _, err := keys.New(ctx, name+"-key", args.ClusterName+": broker storage and logs", args.Tags, parent)
	if err != nil {
		return nil, err
	}
	logs, err := keys.LogGroup(ctx, name+"-broker-logs", "/aws/msk/"+args.ClusterName+"/broker", args.LogRetentionDays, key, args.Tags, parent)
	if err != nil {
		return nil, err
	}
	cfg, err := msk.NewConfiguration(ctx, name+"-config", &msk.ConfigurationArgs{
		Name:             pulumi.String(args.ClusterName + "-config"),
		Description:      pulumi.Sprintf("%s: no automatic topics, replication defaults", args.ClusterName),
		KafkaVersions:    pulumi.ToStringArray([]string{args.KafkaVersion}),
		ServerProperties: pulumi.String(args.ServerProperties()),
	}, parent)
	if err != nil {
		return nil, err
	}
	ebs := msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs{VolumeSize: pulumi.Int(args.VolumeSizeGiB)}
	if args.ProvisionedThroughputMiBps > 0 {
		ebs.ProvisionedThroughput = msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoProvisionedThroughputArgs{
			Enabled: pulumi.Bool(true), VolumeThroughput: pulumi.Int(args.ProvisionedThroughputMiBps),
		}
	}
	cluster, err := msk.NewCluster(ctx, name, &msk.ClusterArgs{
		ClusterName:         pulumi.String(args.ClusterName),
		KafkaVersion:        pulumi.String(args.KafkaVersion),
		NumberOfBrokerNodes: pulumi.Int(args.BrokerCount),
		BrokerNodeGroupInfo: msk.ClusterBrokerNodeGroupInfoArgs{
			InstanceType:   pulumi.String(args.InstanceType),
			ClientSubnets:  args.ClientSubnetIDs,
			SecurityGroups: args.SecurityGroupIDs,
			StorageInfo:    msk.ClusterBrokerNodeGroupInfoStorageInfoArgs{EbsStorageInfo: ebs},
			ConnectivityInfo: msk.ClusterBrokerNodeGroupInfoConnectivityInfoArgs{
				PublicAccess: msk.ClusterBrokerNodeGroupInfoConnectivityInfoPublicAccessArgs{Type: pulumi.String("DISABLED")},
			},
		},
		StorageMode: pulumi.String("LOCAL"),
		ConfigurationInfo: msk.ClusterConfigurationInfoArgs{
			Arn: cfg.Arn, Revision: cfg.LatestRevision,
		},
		EncryptionInfo: msk.ClusterEncryptionInfoArgs{
			EncryptionAtRestKmsKeyArn: key.Arn,
			EncryptionInTransit: msk.ClusterEncryptionInfoEncryptionInTransitArgs{
				ClientBroker: pulumi.String("TLS"), InCluster: pulumi.Bool(true),
			},
		},
		ClientAuthentication: msk.ClusterClientAuthenticationArgs{
			Sasl:            msk.ClusterClientAuthenticationSaslArgs{Iam: pulumi.Bool(true)},
			Unauthenticated: pulumi.Bool(false),
		},
		LoggingInfo: msk.ClusterLoggingInfoArgs{
			BrokerLogs: msk.ClusterLoggingInfoBrokerLogsArgs{
				CloudwatchLogs: msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs{Enabled: pulumi.Bool(true), LogGroup: logs.Name},
			},
		},
		OpenMonitoring: msk.ClusterOpenMonitoringArgs{
			Prometheus: msk.ClusterOpenMonitoringPrometheusArgs{
				JmxExporter:  msk.ClusterOpenMonitoringPrometheusJmxExporterArgs{EnabledInBroker: pulumi.Bool(true)},
				NodeExporter: msk.ClusterOpenMonitoringPrometheusNodeExporterArgs{EnabledInBroker: pulumi.Bool(true)},
			},
		},
		EnhancedMonitoring: pulumi.String("PER_BROKER"),
		Tags:               tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	policies := pulumi.StringMap{}
	for _, client := range slices.Sorted(maps.Keys(args.Clients)) {
		p, err := iam.NewPolicy(ctx, name+"-client-"+client, &iam.PolicyArgs{
			Description: pulumi.Sprintf("%s: Kafka access of %s over IAM", args.ClusterName, client),
			Policy:      ClientDocument(cluster.Arn, client, args.Clients[client]).JSON(),
			Tags:        tags,
		}, parent)
		if err != nil {
			return nil, err
		}
		policies[client] = p.Arn
	}

	s.TopicAdminRoleARN = pulumi.String("").ToStringOutput()
	if args.TopicAdmin != nil {
		if s.TopicAdminRoleARN, err = topicAdminRole(ctx, name, args, cluster, s); err != nil {
			return nil, err
		}
	}

	if a := args.Alarms; a != nil {
		var specs []alarms.Spec
		for b := 1; b <= args.BrokerCount; b++ {
			dims := pulumi.StringMap{"Cluster Name": pulumi.String(args.ClusterName), "Broker ID": pulumi.Sprintf("%d", b)}
			specs = append(specs,
				alarms.Spec{Name: fmt.Sprintf("%s-broker-%d-disk", name, b), Description: fmt.Sprintf("%s broker %d data disk above %g%%", args.ClusterName, b, a.DiskPercent),
					Namespace: "AWS/Kafka", Metric: "KafkaDataLogsDiskUsed", Statistic: "Maximum", Comparison: alarms.Above, Threshold: a.DiskPercent, Dimensions: dims},
				alarms.Spec{Name: fmt.Sprintf("%s-broker-%d-under-replicated", name, b), Description: fmt.Sprintf("%s broker %d has under-replicated partitions", args.ClusterName, b),
					Namespace: "AWS/Kafka", Metric: "UnderReplicatedPartitions", Statistic: "Maximum", Comparison: alarms.Above, Threshold: 0, Period: 60, Periods: 5, Dimensions: dims},
			)
		}
		specs = append(specs, alarms.Spec{Name: name + "-offline-partitions", Description: args.ClusterName + " has offline partitions",
			Namespace: "AWS/Kafka", Metric: "OfflinePartitionsCount", Statistic: "Maximum", Comparison: alarms.Above, Threshold: 0, Period: 60, Periods: 1,
			Dimensions: pulumi.StringMap{"Cluster Name": pulumi.String(args.ClusterName)}})
		if _, err := alarms.Create(ctx, a.TopicARN, args.Tags, specs, parent); err != nil {
			return nil, err
		}
	}

	s.ClusterARN = cluster.Arn
	s.BootstrapBrokers = cluster.BootstrapBrokersSaslIam
	s.KMSKeyARN = key.Arn
	s.ClientPolicyARNs = policies.ToStringMapOutput()
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"clusterArn": s.ClusterARN, "bootstrapBrokers": s.BootstrapBrokers, "kmsKeyArn": s.KMSKeyARN, "clientPolicyArns": s.ClientPolicyARNs,
		"topicAdminRoleArn": s.TopicAdminRoleARN,
	})
}

// resourceARN turns the cluster ARN (arn:...:cluster/<name>/<uuid>) into the ARN of a topic or
// group of that cluster (arn:...:topic/<name>/<uuid>/<resource>).
func resourceARN(clusterARN pulumi.StringOutput, kind, resource string) pulumi.StringInput {
	return clusterARN.ApplyT(func(arn string) string {
		return strings.Replace(arn, ":cluster/", ":"+kind+"/", 1) + "/" + resource
	}).(pulumi.StringOutput)
}

// topicARNs are the ARNs of named topics of the cluster.
func topicARNs(clusterARN pulumi.StringOutput, names []string) []pulumi.StringInput {
	out := make([]pulumi.StringInput, len(names))
	for i, n := range names {
		out[i] = resourceARN(clusterARN, "topic", n)
	}
	return out
}

// ClientDocument is the MSK IAM policy of a service: connect, write to the topics it produces
// (idempotently), read the topics it consumes in consumer groups named after it.
func ClientDocument(clusterARN pulumi.StringOutput, client string, acc ClientAccess) identity.Document {
	cluster := []pulumi.StringInput{clusterARN}
	statements := []identity.Statement{
		{Sid: "Connect", Actions: []string{"kafka-cluster:Connect", "kafka-cluster:DescribeCluster"}, Resources: cluster},
	}
	if len(acc.Produce) > 0 {
		statements = append(statements,
			identity.Statement{Sid: "IdempotentWrites", Actions: []string{"kafka-cluster:WriteDataIdempotently"}, Resources: cluster},
			identity.Statement{Sid: "Produce", Actions: []string{"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}, Resources: topicARNs(clusterARN, acc.Produce)})
	}
	if len(acc.Consume) > 0 {
		statements = append(statements,
			identity.Statement{Sid: "Consume", Actions: []string{"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"}, Resources: topicARNs(clusterARN, acc.Consume)},
			identity.Statement{Sid: "ConsumerGroups", Actions: []string{"kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"},
				Resources: []pulumi.StringInput{resourceARN(clusterARN, "group", client+"*")}})
	}
	return identity.Document{Statements: statements}
}
