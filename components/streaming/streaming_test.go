package streaming

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/services/topics"
)

const clusterType = "aws:msk/cluster:Cluster"

func testArgs() StreamingArgs {
	return StreamingArgs{
		ClusterName: "cdx-test", KafkaVersion: "3.9.x", BrokerCount: 6, InstanceType: "kafka.m7g.2xlarge",
		VolumeSizeGiB: 1000, ProvisionedThroughputMiBps: 250, DefaultReplicationFactor: 3, MinInsyncReplicas: 2, LogRetentionDays: 365,
		ClientSubnetIDs:  pulumi.ToStringArray([]string{"subnet-1", "subnet-2", "subnet-3"}),
		SubnetCount:      3,
		SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-msk")},
		Topics:           topics.All(),
		Clients: map[string]ClientAccess{
			"matching-engine": {Consume: []string{topics.Orders}, Produce: []string{topics.Trades}},
			"api-gateway":     {Produce: []string{topics.Orders}},
		},
		Alarms: &AlarmArgs{TopicARN: pulumi.String("arn:aws:sns:us-east-1:1:alarms"), DiskPercent: 80},
	}
}

func run(t *testing.T, mutate func(*StreamingArgs, *pulumi.Context) error) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(testArgs(), mutate, func(ctx *pulumi.Context, a StreamingArgs) error {
		_, err := NewStreaming(ctx, "kafka", a)
		return err
	})
}

func TestClusterIsPrivateEncryptedAndIAMAuthenticated(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	clusters := rec.OfType(clusterType)
	require.Len(t, clusters, 1, "clusters")
	c := clusters[0]
	for path, want := range map[string]any{
		"kafkaVersion": "3.9.x", "numberOfBrokerNodes": 6.0, "brokerNodeGroupInfo.instanceType": "kafka.m7g.2xlarge",
		"brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize":                             1000.0,
		"brokerNodeGroupInfo.storageInfo.ebsStorageInfo.provisionedThroughput.enabled":          true,
		"brokerNodeGroupInfo.storageInfo.ebsStorageInfo.provisionedThroughput.volumeThroughput": 250.0,
		"brokerNodeGroupInfo.connectivityInfo.publicAccess.type":                                "DISABLED",
		"encryptionInfo.encryptionAtRestKmsKeyArn":                                              mocks.ARN("aws:kms/key:Key", "kafka-key"),
		"encryptionInfo.encryptionInTransit.clientBroker":                                       "TLS",
		"encryptionInfo.encryptionInTransit.inCluster":                                          true,
		"clientAuthentication.sasl.iam":                                                         true,
		"clientAuthentication.unauthenticated":                                                  false,
		"loggingInfo.brokerLogs.cloudwatchLogs.enabled":                                         true,
		"loggingInfo.brokerLogs.cloudwatchLogs.logGroup":                                        "/aws/msk/cdx-test/broker",
		"openMonitoring.prometheus.jmxExporter.enabledInBroker":                                 true,
		"openMonitoring.prometheus.nodeExporter.enabledInBroker":                                true,
	} {
		got, _ := c.Input(path)
		assert.Equal(t, want, got, path)
	}
	cfg, _ := rec.Named("aws:msk/configuration:Configuration", "kafka-config")
	props := cfg.String("serverProperties")
	for _, want := range []string{"auto.create.topics.enable=false\n", "min.insync.replicas=2\n", "default.replication.factor=3\n", "unclean.leader.election.enable=false\n"} {
		assert.Contains(t, props, want, "server properties lack %q", want)
	}
	assert.Equal(t, mocks.ARN("aws:msk/configuration:Configuration", "kafka-config"), c.String("configurationInfo.arn"),
		"cluster does not use its configuration: %v", c.Inputs["configurationInfo"])
	_, ok := rec.Named("aws:iam/role:Role", "kafka-topics-role")
	assert.False(t, ok, "topic-admin role created without TopicAdmin")
	// 2 alarms per broker and one for the cluster
	assert.Len(t, rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm"), 13, "alarms")
	disk, _ := rec.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "kafka-broker-6-disk")
	assert.Equal(t, "6", disk.String("dimensions.Broker ID"), "disk alarm %+v", disk.Inputs)
	assert.Equal(t, "KafkaDataLogsDiskUsed", disk.String("metricName"), "disk alarm %+v", disk.Inputs)
	assert.Equal(t, 80.0, disk.Number("threshold"), "disk alarm %+v", disk.Inputs)
}

func TestClientPoliciesNameTheirTopics(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	p, ok := rec.Named("aws:iam/policy:Policy", "kafka-client-matching-engine")
	require.True(t, ok, "no matching-engine policy")
	var doc struct {
		Statement []struct {
			Sid      string
			Resource any // a string when there is one
		}
	}
	require.NoError(t, json.Unmarshal([]byte(p.String("policy")), &doc))
	got := map[string]string{}
	for _, s := range doc.Statement {
		got[s.Sid] = fmt.Sprint(s.Resource)
	}
	const prefix = "arn:aws:kafka:us-east-1:123456789012:"
	want := map[string]string{
		"Connect":          prefix + "cluster/cdx-test/0123abcd-uuid-1",
		"IdempotentWrites": prefix + "cluster/cdx-test/0123abcd-uuid-1",
		"Produce":          prefix + "topic/cdx-test/0123abcd-uuid-1/trades",
		"Consume":          prefix + "topic/cdx-test/0123abcd-uuid-1/orders",
		"ConsumerGroups":   prefix + "group/cdx-test/0123abcd-uuid-1/matching-engine*",
	}
	for sid, w := range want {
		assert.Equal(t, w, got[sid], sid)
	}
	gw, _ := rec.Named("aws:iam/policy:Policy", "kafka-client-api-gateway")
	assert.NotContains(t, gw.String("policy"), "ReadData", "a producer-only client may read")
}

// policyDoc is an IAM policy document as the recorder holds it.
type policyDoc struct {
	Statement []struct {
		Sid      string
		Action   any // a string when there is one
		Resource any
	}
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

func TestTopicAdminRoleGrantsExactlyTheReconciliation(t *testing.T) {
	rec, err := run(t, func(a *StreamingArgs, _ *pulumi.Context) error {
		a.TopicAdmin = &TopicAdminArgs{OIDCProviderARN: pulumi.String("arn:aws:iam::1:oidc-provider/oidc.eks/id/X"),
			OIDCProviderURL: pulumi.String("oidc.eks/id/X"), Namespace: "cantondex-kafka-admin", ServiceAccount: "kafka-topics"}
		return nil
	})
	require.NoError(t, err)
	// The run-time download and the Jobs are gone: nothing in Kubernetes, no JAR.
	for _, r := range rec.Resources() {
		assert.False(t, strings.HasPrefix(r.Type, "kubernetes:"), "kubernetes resource %s %s", r.Type, r.Name)
	}
	trust, ok := rec.Named("aws:iam/role:Role", "kafka-topics-role")
	require.True(t, ok)
	assert.Contains(t, trust.String("assumeRolePolicy"), `"oidc.eks/id/X:sub":"system:serviceaccount:cantondex-kafka-admin:kafka-topics"`)
	perm, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "kafka-topics-role-policy")
	require.True(t, ok)
	var doc policyDoc
	require.NoError(t, json.Unmarshal([]byte(perm.String("policy")), &doc))
	const prefix = "arn:aws:kafka:us-east-1:123456789012:"
	var topicARNs []string
	for _, tp := range topics.All() {
		topicARNs = append(topicARNs, prefix+"topic/cdx-test/0123abcd-uuid-1/"+tp.Name)
	}
	require.Len(t, doc.Statement, 2)
	assert.Equal(t, "Connect", doc.Statement[0].Sid)
	assert.Equal(t, []string{"kafka-cluster:Connect"}, strs(doc.Statement[0].Action))
	assert.Equal(t, []string{prefix + "cluster/cdx-test/0123abcd-uuid-1"}, strs(doc.Statement[0].Resource))
	assert.ElementsMatch(t, []string{"kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:AlterTopic",
		"kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:AlterTopicDynamicConfiguration"}, strs(doc.Statement[1].Action))
	assert.ElementsMatch(t, topicARNs, strs(doc.Statement[1].Resource))
}

func TestInvalidArgs(t *testing.T) {
	for name, mutate := range map[string]func(*StreamingArgs){
		"5 brokers over 3 subnets": func(a *StreamingArgs) { a.BrokerCount = 5 },
		"unknown client topic":     func(a *StreamingArgs) { a.Clients["x"] = ClientAccess{Consume: []string{"order"}} },
		"RF above brokers":         func(a *StreamingArgs) { a.BrokerCount = 3; a.Topics[0].ReplicationFactor = 4 },
		"topic admin without account": func(a *StreamingArgs) {
			a.TopicAdmin = &TopicAdminArgs{OIDCProviderARN: pulumi.String("arn"), OIDCProviderURL: pulumi.String("oidc"), Namespace: "ns"}
		},
	} {
		_, err := run(t, func(a *StreamingArgs, _ *pulumi.Context) error { mutate(a); return nil })
		assert.Error(t, err, "%s accepted", name)
	}
}
