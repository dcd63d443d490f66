package streaming

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/msk"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// topicAdminActions are the MSK IAM actions services/cmd/kafka-topics needs on the platform's
// topics (kafka.ReconcileTopics: Metadata and DescribeConfigs of the named topics, CreateTopics,
// CreatePartitions, IncrementalAlterConfigs), besides kafka-cluster:Connect on the cluster. It
// takes the broker count from metadata, so it needs no kafka-cluster:DescribeCluster.
var topicAdminActions = []string{
	"kafka-cluster:CreateTopic",
	"kafka-cluster:DescribeTopic",
	"kafka-cluster:AlterTopic",
	"kafka-cluster:DescribeTopicDynamicConfiguration",
	"kafka-cluster:AlterTopicDynamicConfiguration",
}

// TopicAdminArgs binds the topic-administration role, through IRSA, to the Kubernetes service
// account that runs services/cmd/kafka-topics (a Job from the platform's image).
type TopicAdminArgs struct {
	OIDCProviderARN pulumi.StringInput
	OIDCProviderURL pulumi.StringInput // without https://
	Namespace       string
	ServiceAccount  string
}

// TopicAdminDocument allows connecting to the cluster and administering exactly the named
// topics, with exactly the actions the reconciliation uses.
func TopicAdminDocument(clusterARN pulumi.StringOutput, names []string) identity.Document {
	return identity.Document{Statements: []identity.Statement{
		{Sid: "Connect", Actions: []string{"kafka-cluster:Connect"}, Resources: []pulumi.StringInput{clusterARN}},
		{Sid: "ReconcilePlatformTopics", Actions: topicAdminActions, Resources: topicARNs(clusterARN, names)},
	}}
}

// topicAdminRole creates the IRSA role of the topic reconciliation.
func topicAdminRole(ctx *pulumi.Context, name string, args StreamingArgs, cluster *msk.Cluster, s *Streaming) (pulumi.StringOutput, error) {
	a := args.TopicAdmin
	names := make([]string, len(args.Topics))
	for i, t := range args.Topics {
		names[i] = t.Name
	}
	doc := TopicAdminDocument(cluster.Arn, names)
	role, err := identity.NewServiceAccountRole(ctx, name+"-topics", identity.ServiceAccountRoleArgs{
		OIDCProviderARN: a.OIDCProviderARN, OIDCProviderURL: a.OIDCProviderURL, Namespace: a.Namespace, ServiceAccount: a.ServiceAccount,
		Policy: &doc,
		Tags:   args.Tags,
	}, pulumi.Parent(s))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return role.RoleARN, nil
}
