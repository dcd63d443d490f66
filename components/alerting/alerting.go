// Package alerting is the SNS topic the data tier's CloudWatch alarms notify: encrypted with a
// customer KMS key that CloudWatch may use, with optional e-mail subscriptions.
package alerting

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/keys"
)

// Topic is the alarm topic.
type Topic struct {
	pulumi.ResourceState

	ARN pulumi.StringOutput `pulumi:"arn"`
}

// Args configures the topic.
type Args struct {
	// EmailSubscribers each get a subscription they must confirm.
	EmailSubscribers []string
	Tags             map[string]string
}

// New creates the topic.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Topic, error) {
	t := &Topic{}
	if err := ctx.RegisterComponentResource("cantondex:data:AlarmTopic", name, t, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(t)
	tags := pulumi.ToStringMap(args.Tags)
	key, env, err := keys.New(ctx, name+"-key", "data-tier alarm notifications", args.Tags, parent)
	if err != nil {
		return nil, err
	}
	topic, err := sns.NewTopic(ctx, name, &sns.TopicArgs{
		DisplayName:    pulumi.String("CantonDEX data-tier alarms"),
		KmsMasterKeyId: key.Arn,
		Tags:           tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := sns.NewTopicPolicy(ctx, name, &sns.TopicPolicyArgs{
		Arn: topic.Arn,
		Policy: identity.Document{Statements: []identity.Statement{{
			Sid: "CloudWatchAlarmsPublish", Principals: []identity.Principal{identity.ServicePrincipal("cloudwatch.amazonaws.com")},
			Actions: []string{"sns:Publish"}, Resources: []pulumi.StringInput{topic.Arn},
			Conditions: []identity.Condition{{Test: "StringEquals", Variable: pulumi.String("aws:SourceAccount"), Values: identity.Strings(env.Account)}},
		}}}.JSON(),
	}, parent); err != nil {
		return nil, err
	}
	for i, email := range args.EmailSubscribers {
		if _, err := sns.NewTopicSubscription(ctx, fmt.Sprintf("%s-email-%d", name, i), &sns.TopicSubscriptionArgs{
			Topic: topic.Arn, Protocol: pulumi.String("email"), Endpoint: pulumi.String(email),
		}, parent); err != nil {
			return nil, err
		}
	}
	t.ARN = topic.Arn
	return t, ctx.RegisterResourceOutputs(t, pulumi.Map{"arn": t.ARN})
}
