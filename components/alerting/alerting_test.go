package alerting

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
)

func TestTopicIsEncryptedAndOnlyCloudWatchPublishes(t *testing.T) {
	rec, err := mocks.Run("test", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := New(ctx, "alarms", Args{EmailSubscribers: []string{"oncall@example.com"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	topic, ok := rec.Named("aws:sns/topic:Topic", "alarms")
	if !ok || topic.String("kmsMasterKeyId") != mocks.ARN("aws:kms/key:Key", "alarms-key") {
		t.Fatalf("topic %+v", topic.Inputs)
	}
	policy, _ := rec.Named("aws:sns/topicPolicy:TopicPolicy", "alarms")
	if p := policy.String("policy"); !strings.Contains(p, `"Service":"cloudwatch.amazonaws.com"`) || !strings.Contains(p, `"aws:SourceAccount":"123456789012"`) {
		t.Errorf("topic policy %s", p)
	}
	sub, _ := rec.Named("aws:sns/topicSubscription:TopicSubscription", "alarms-email-0")
	if sub.String("endpoint") != "oncall@example.com" || sub.String("protocol") != "email" {
		t.Errorf("subscription %+v", sub.Inputs)
	}
}
