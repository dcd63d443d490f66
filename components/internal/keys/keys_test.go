package keys

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
)

func TestKeyLetsLogsAndAlarmsOfTheRegionUseIt(t *testing.T) {
	rec, err := mocks.Run("test", mocks.Config{}, func(ctx *pulumi.Context) error {
		key, env, err := New(ctx, "db-key", "test key", nil)
		if err != nil {
			return err
		}
		if env.Account != mocks.Account || env.Region != mocks.Region || env.Partition != "aws" {
			t.Errorf("env %+v", env)
		}
		_, err = LogGroup(ctx, "db-log", "/aws/rds/instance/db/postgresql", 30, key, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rec.Named("aws:kms/key:Key", "db-key")
	policy := key.String("policy")
	for _, want := range []string{`"AWS":"arn:aws:iam::123456789012:root"`, `"Service":"logs.us-east-1.amazonaws.com"`,
		`"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:us-east-1:123456789012:*"`, `"Service":"cloudwatch.amazonaws.com"`} {
		if !strings.Contains(policy, want) {
			t.Errorf("key policy lacks %s:\n%s", want, policy)
		}
	}
	if !key.Bool("enableKeyRotation") {
		t.Error("key does not rotate")
	}
	lg, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "db-log")
	if lg.String("kmsKeyId") != mocks.ARN("aws:kms/key:Key", "db-key") || lg.Number("retentionInDays") != 30 {
		t.Errorf("log group %+v", lg.Inputs)
	}
}
