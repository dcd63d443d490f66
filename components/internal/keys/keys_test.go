package keys

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func TestKeyLetsLogsAndAlarmsOfTheRegionUseIt(t *testing.T) {
	rec, err := mocks.Run("test", mocks.Config{}, func(ctx *pulumi.Context) error {
		key, env, err := New(ctx, "db-key", "test key", nil)
		if err != nil {
			return err
		}
		assert.Equal(t, mocks.Account, env.Account, "env account")
		assert.Equal(t, mocks.Region, env.Region, "env region")
		assert.Equal(t, "aws", env.Partition, "env partition")
		_, err = LogGroup(ctx, "db-log", "/aws/rds/instance/db/postgresql", 30, key, nil)
		return err
	})
	require.NoError(t, err)
	key, ok := rec.Named("aws:kms/key:Key", "db-key")
	require.True(t, ok, "no key db-key")
	policy := key.String("policy")
	for _, want := range []string{`"AWS":"arn:aws:iam::123456789012:root"`, `"Service":"logs.us-east-1.amazonaws.com"`,
		`"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:us-east-1:123456789012:*"`, `"Service":"cloudwatch.amazonaws.com"`} {
		assert.Contains(t, policy, want, "key policy")
	}
	assert.True(t, key.Bool("enableKeyRotation"), "key does not rotate")
	lg, ok := rec.Named("aws:cloudwatch/logGroup:LogGroup", "db-log")
	require.True(t, ok, "no log group db-log")
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "db-key"), lg.String("kmsKeyId"), "log group key")
	assert.Equal(t, float64(30), lg.Number("retentionInDays"), "log group retention")
}
