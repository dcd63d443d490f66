package streaming

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/msk"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/services/topics"
)

// IAMAuthJar is the MSK IAM SASL library the Kafka CLI needs; the Jobs' init container fetches it.
const IAMAuthJar = "https://github.com/aws/aws-msk-iam-auth/releases/download/v2.2.0/aws-msk-iam-auth-2.2.0-all.jar"

// ClientProperties configure the Kafka CLI for TLS and SASL/IAM.
const ClientProperties = `security.protocol=SASL_SSL
sasl.mechanism=AWS_MSK_IAM
sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;
sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler
`

// TopicScript is the idempotent shell script that creates one topic, raises its partition
// count to the definition's, and sets its configuration. $BOOTSTRAP names the brokers.
func TopicScript(t topics.Topic) string {
	const cli = `--bootstrap-server "$BOOTSTRAP" --command-config /config/client.properties`
	configs := fmt.Sprintf("retention.ms=%d,cleanup.policy=%s,min.insync.replicas=%d", t.RetentionMs, t.CleanupPolicy, t.MinInsyncReplicas)
	return strings.Join([]string{
		"set -eu",
		fmt.Sprintf("/opt/kafka/bin/kafka-topics.sh %s --create --if-not-exists --topic %s --partitions %d --replication-factor %d --config %s",
			cli, t.Name, t.Partitions, t.ReplicationFactor, strings.ReplaceAll(configs, ",", " --config ")),
		fmt.Sprintf(`count=$(/opt/kafka/bin/kafka-topics.sh %s --describe --topic %s | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)`, cli, t.Name),
		fmt.Sprintf(`if [ "$count" -lt %d ]; then /opt/kafka/bin/kafka-topics.sh %s --alter --topic %s --partitions %d; fi`, t.Partitions, cli, t.Name, t.Partitions),
		fmt.Sprintf("/opt/kafka/bin/kafka-configs.sh %s --alter --entity-type topics --entity-name %s --add-config %s", cli, t.Name, configs),
	}, "\n") + "\n"
}

// topicJobs creates, in the EKS cluster, a namespace, a service account bound through IRSA to
// a role that may only administer the platform's topics, and one Job per topic.
func topicJobs(ctx *pulumi.Context, name string, args Args, cluster *msk.Cluster, s *Streaming) error {
	parent := pulumi.Parent(s)
	j := args.TopicJobs
	k8s := []pulumi.ResourceOption{parent, pulumi.Provider(j.Provider)}
	const sa = "kafka-topics"

	names := make([]string, len(args.Topics))
	for i, t := range args.Topics {
		names[i] = t.Name
	}
	role, err := identity.NewServiceAccountRole(ctx, name+"-topics", identity.ServiceAccountRoleArgs{
		OIDCProviderARN: j.OIDCProviderARN, OIDCProviderURL: j.OIDCProviderURL, Namespace: j.Namespace, ServiceAccount: sa,
		Policy: &identity.Document{Statements: []identity.Statement{
			{Sid: "Connect", Actions: []string{"kafka-cluster:Connect", "kafka-cluster:DescribeCluster"}, Resources: []pulumi.StringInput{cluster.Arn}},
			{Sid: "AdministerPlatformTopics", Actions: []string{"kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:AlterTopic",
				"kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:AlterTopicDynamicConfiguration"}, Resources: topicARNs(cluster.Arn, names)},
		}},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return err
	}

	labels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("kafka-topics"), "app.kubernetes.io/part-of": pulumi.String("cantondex")}
	ns, err := corev1.NewNamespace(ctx, name+"-topics", &corev1.NamespaceArgs{
		Metadata: metav1.ObjectMetaArgs{
			Name: pulumi.String(j.Namespace),
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": pulumi.String("restricted"),
				"app.kubernetes.io/part-of":          pulumi.String("cantondex"),
			},
		},
	}, k8s...)
	if err != nil {
		return err
	}
	account, err := corev1.NewServiceAccount(ctx, name+"-topics", &corev1.ServiceAccountArgs{
		Metadata: metav1.ObjectMetaArgs{
			Name: pulumi.String(sa), Namespace: ns.Metadata.Name().Elem(), Labels: labels,
			Annotations: pulumi.StringMap{"eks.amazonaws.com/role-arn": role.RoleARN},
		},
		AutomountServiceAccountToken: pulumi.Bool(true),
	}, k8s...)
	if err != nil {
		return err
	}
	props, err := corev1.NewConfigMap(ctx, name+"-topics", &corev1.ConfigMapArgs{
		Metadata: metav1.ObjectMetaArgs{Namespace: ns.Metadata.Name().Elem(), Labels: labels},
		Data:     pulumi.StringMap{"client.properties": pulumi.String(ClientProperties)},
	}, k8s...)
	if err != nil {
		return err
	}

	secure := corev1.SecurityContextArgs{
		RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(1000), RunAsGroup: pulumi.Int(1000),
		AllowPrivilegeEscalation: pulumi.Bool(false), ReadOnlyRootFilesystem: pulumi.Bool(true),
		Capabilities:   corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
		SeccompProfile: corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
	resources := corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("256Mi")},
		Limits:   pulumi.StringMap{"cpu": pulumi.String("500m"), "memory": pulumi.String("512Mi")},
	}
	for _, t := range args.Topics {
		if _, err := batchv1.NewJob(ctx, name+"-topic-"+t.Name, &batchv1.JobArgs{
			Metadata: metav1.ObjectMetaArgs{
				Namespace: ns.Metadata.Name().Elem(),
				Labels:    pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("kafka-topics"), "cantondex.io/topic": pulumi.String(t.Name)},
			},
			Spec: batchv1.JobSpecArgs{
				BackoffLimit: pulumi.Int(6),
				Template: corev1.PodTemplateSpecArgs{
					Metadata: metav1.ObjectMetaArgs{Labels: labels},
					Spec: corev1.PodSpecArgs{
						ServiceAccountName: account.Metadata.Name().Elem(),
						RestartPolicy:      pulumi.String("OnFailure"),
						InitContainers: corev1.ContainerArray{corev1.ContainerArgs{
							Name: pulumi.String("fetch-iam-auth"), Image: pulumi.String("curlimages/curl:8.10.1"),
							Command:         pulumi.ToStringArray([]string{"curl", "-fsSL", "-o", "/libs/aws-msk-iam-auth.jar", IAMAuthJar}),
							VolumeMounts:    corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("libs"), MountPath: pulumi.String("/libs")}},
							SecurityContext: secure, Resources: resources,
						}},
						Containers: corev1.ContainerArray{corev1.ContainerArgs{
							Name: pulumi.String("create-topic"), Image: pulumi.String(j.Image),
							Command: pulumi.ToStringArray([]string{"/bin/sh", "-c", TopicScript(t)}),
							Env: corev1.EnvVarArray{
								corev1.EnvVarArgs{Name: pulumi.String("BOOTSTRAP"), Value: cluster.BootstrapBrokersSaslIam},
								corev1.EnvVarArgs{Name: pulumi.String("CLASSPATH"), Value: pulumi.String("/libs/aws-msk-iam-auth.jar")},
								corev1.EnvVarArgs{Name: pulumi.String("LOG_DIR"), Value: pulumi.String("/tmp")},
							},
							VolumeMounts: corev1.VolumeMountArray{
								corev1.VolumeMountArgs{Name: pulumi.String("libs"), MountPath: pulumi.String("/libs"), ReadOnly: pulumi.Bool(true)},
								corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String("/config"), ReadOnly: pulumi.Bool(true)},
								corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
							},
							SecurityContext: secure, Resources: resources,
						}},
						Volumes: corev1.VolumeArray{
							corev1.VolumeArgs{Name: pulumi.String("libs"), EmptyDir: corev1.EmptyDirVolumeSourceArgs{}},
							corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: corev1.EmptyDirVolumeSourceArgs{}},
							corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: corev1.ConfigMapVolumeSourceArgs{Name: props.Metadata.Name()}},
						},
					},
				},
			},
		}, k8s...); err != nil {
			return err
		}
	}
	return nil
}
