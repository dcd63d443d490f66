// Package alerting is the SNS topic the data tier's CloudWatch alarms notify: encrypted with a
// customer KMS key that CloudWatch may use, with optional e-mail subscriptions.
package alerting

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/keys"
	"github.com/cantondex/platform/components/internal/tokens"
)

// AlarmTopic is the SNS topic the alarms notify. (Not "Topic": the platform's Kafka topics are
// topics too, and a reader of alerting.NewAlarmTopic knows which one this is.)
type AlarmTopic struct {
	pulumi.ResourceState

	ARN pulumi.StringOutput `pulumi:"arn"`
	// KeyARN is the topic's KMS key: a publisher other than CloudWatch (the Alertmanager's
	// role) needs kms:GenerateDataKey and kms:Decrypt on it.
	KeyARN pulumi.StringOutput `pulumi:"keyArn"`
}

// AlarmTopicArgs configures the topic.
type AlarmTopicArgs struct {
	// EmailSubscribers each get a subscription they must confirm.
	EmailSubscribers []string
	Tags             map[string]string
}

func (a AlarmTopicArgs) validate() error {
	var errs []error
	for i, email := range a.EmailSubscribers {
		if _, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, "<> ") {
			errs = append(errs, fmt.Errorf("email subscribers[%d]: %q is not a bare e-mail address", i, email))
		}
	}
	return errors.Join(errs...)
}

// NewAlarmTopic creates the topic.
func NewAlarmTopic(ctx *pulumi.Context, name string, args AlarmTopicArgs, opts ...pulumi.ResourceOption) (*AlarmTopic, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("alarm topic %s: %w", name, err)
	}
	t := &AlarmTopic{}
	if err := ctx.RegisterComponentResource("cantondex:alerting:AlarmTopic", name, t, tokens.Renamed("cantondex:data:AlarmTopic", opts)...); err != nil {
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
	t.ARN, t.KeyARN = topic.Arn, key.Arn
	return t, ctx.RegisterResourceOutputs(t, pulumi.Map{"arn": t.ARN, "keyArn": t.KeyARN})
}
