package alerting

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func TestTopicIsEncryptedAndOnlyCloudWatchPublishes(t *testing.T) {
	rec, err := mocks.Run("test", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewAlarmTopic(ctx, "alarms", AlarmTopicArgs{EmailSubscribers: []string{"oncall@example.com"}})
		return err
	})
	require.NoError(t, err)
	topic, ok := rec.Named("aws:sns/topic:Topic", "alarms")
	require.True(t, ok, "topic not recorded")
	require.Equal(t, mocks.ARN("aws:kms/key:Key", "alarms-key"), topic.String("kmsMasterKeyId"), "topic %+v", topic.Inputs)
	policy, _ := rec.Named("aws:sns/topicPolicy:TopicPolicy", "alarms")
	p := policy.String("policy")
	assert.Contains(t, p, `"Service":"cloudwatch.amazonaws.com"`, "topic policy")
	assert.Contains(t, p, `"aws:SourceAccount":"123456789012"`, "topic policy")
	sub, _ := rec.Named("aws:sns/topicSubscription:TopicSubscription", "alarms-email-0")
	assert.Equal(t, "oncall@example.com", sub.String("endpoint"), "subscription %+v", sub.Inputs)
	assert.Equal(t, "email", sub.String("protocol"), "subscription %+v", sub.Inputs)
}

func TestSubscribersMustBeAddresses(t *testing.T) {
	for _, bad := range []string{"oncall", "On Call <oncall@example.com>", ""} {
		_, err := mocks.Run("test", mocks.Config{}, func(ctx *pulumi.Context) error {
			_, err := NewAlarmTopic(ctx, "alarms", AlarmTopicArgs{EmailSubscribers: []string{"ok@example.com", bad}})
			return err
		})
		assert.ErrorContains(t, err, "email subscribers[1]", "%q accepted", bad)
	}
}
