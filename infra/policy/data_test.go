package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func goodDB() map[string]any {
	return map[string]any{
		"storageEncrypted": true, "kmsKeyId": "arn:key", "publiclyAccessible": false, "deletionProtection": true,
		"multiAz": true, "backupRetentionPeriod": 30.0, "performanceInsightsEnabled": true, "performanceInsightsKmsKeyId": "arn:key",
		"iamDatabaseAuthenticationEnabled": true, "manageMasterUserPassword": true, "masterUserSecretKmsKeyId": "arn:key",
	}
}

func goodRedis() map[string]any {
	return map[string]any{"atRestEncryptionEnabled": true, "kmsKeyId": "arn:key", "transitEncryptionEnabled": true, "transitEncryptionMode": "required", "authToken": "[secret]"}
}

func goodMSK() map[string]any {
	return map[string]any{
		"encryptionInfo":       map[string]any{"encryptionAtRestKmsKeyArn": "arn:key", "encryptionInTransit": map[string]any{"clientBroker": "TLS", "inCluster": true}},
		"loggingInfo":          map[string]any{"brokerLogs": map[string]any{"cloudwatchLogs": map[string]any{"enabled": true, "logGroup": "lg"}}},
		"brokerNodeGroupInfo":  map[string]any{"connectivityInfo": map[string]any{"publicAccess": map[string]any{"type": "DISABLED"}}},
		"clientAuthentication": map[string]any{"sasl": map[string]any{"iam": true}, "unauthenticated": false},
	}
}

func withInput(m map[string]any, path []string, v any) map[string]any {
	cur := m
	for _, k := range path[:len(path)-1] {
		cur = cur[k].(map[string]any)
	}
	if v == nil {
		delete(cur, path[len(path)-1])
	} else {
		cur[path[len(path)-1]] = v
	}
	return m
}

func TestDataRules(t *testing.T) {
	tests := []struct {
		rule  string
		env   string
		typ   string
		good  func() map[string]any
		path  []string
		value any // nil deletes
	}{
		{"rds-encrypted", "staging", rdsInstance, goodDB, []string{"storageEncrypted"}, false},
		{"rds-encrypted", "staging", rdsInstance, goodDB, []string{"kmsKeyId"}, nil},
		{"rds-not-public", "staging", rdsInstance, goodDB, []string{"publiclyAccessible"}, true},
		{"rds-deletion-protection", "prod", rdsInstance, goodDB, []string{"deletionProtection"}, false},
		{"rds-multi-az", "prod", rdsInstance, goodDB, []string{"multiAz"}, false},
		{"rds-backup-retention", "prod", rdsInstance, goodDB, []string{"backupRetentionPeriod"}, 14.0},
		{"rds-backup-retention", "staging", rdsInstance, goodDB, []string{"backupRetentionPeriod"}, 0.0},
		{"rds-performance-insights-encrypted", "staging", rdsInstance, goodDB, []string{"performanceInsightsKmsKeyId"}, nil},
		{"rds-performance-insights-encrypted", "staging", rdsInstance, goodDB, []string{"performanceInsightsEnabled"}, false},
		{"rds-iam-auth", "staging", rdsInstance, goodDB, []string{"iamDatabaseAuthenticationEnabled"}, false},
		{"secrets-customer-kms", "staging", rdsInstance, goodDB, []string{"masterUserSecretKmsKeyId"}, nil},
		{"redis-at-rest-encryption", "staging", redisGroup, goodRedis, []string{"atRestEncryptionEnabled"}, false},
		{"redis-at-rest-encryption", "staging", redisGroup, goodRedis, []string{"kmsKeyId"}, nil},
		{"redis-in-transit-encryption", "staging", redisGroup, goodRedis, []string{"transitEncryptionEnabled"}, false},
		{"redis-in-transit-encryption", "staging", redisGroup, goodRedis, []string{"transitEncryptionMode"}, "preferred"},
		{"redis-auth-token", "staging", redisGroup, goodRedis, []string{"authToken"}, nil},
		{"msk-encryption-in-transit", "staging", mskCluster, goodMSK, []string{"encryptionInfo", "encryptionInTransit", "clientBroker"}, "TLS_PLAINTEXT"},
		{"msk-encryption-in-transit", "staging", mskCluster, goodMSK, []string{"encryptionInfo", "encryptionInTransit", "inCluster"}, false},
		{"msk-at-rest-kms", "staging", mskCluster, goodMSK, []string{"encryptionInfo", "encryptionAtRestKmsKeyArn"}, nil},
		{"msk-broker-logging", "staging", mskCluster, goodMSK, []string{"loggingInfo", "brokerLogs", "cloudwatchLogs", "enabled"}, false},
		{"msk-no-public-access", "staging", mskCluster, goodMSK, []string{"brokerNodeGroupInfo", "connectivityInfo", "publicAccess", "type"}, "SERVICE_PROVIDED_EIPS"},
		{"msk-no-public-access", "staging", mskCluster, goodMSK, []string{"clientAuthentication", "unauthenticated"}, true},
		{"secrets-customer-kms", "staging", secretsManager, func() map[string]any { return map[string]any{"kmsKeyId": "arn:key"} }, []string{"kmsKeyId"}, nil},
	}
	rules := map[string]Rule{}
	for _, r := range dataRules() {
		rules[r.ID] = r
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.path[len(tt.path)-1], func(t *testing.T) {
			rule, ok := rules[tt.rule]
			require.True(t, ok, "no rule %s", tt.rule)
			good := &Plan{Environment: tt.env, Resources: []mocks.Resource{{URN: "urn:good", Type: tt.typ, Inputs: tt.good()}}}
			require.Empty(t, rule.Check(good), "compliant input fails")
			bad := &Plan{Environment: tt.env, Resources: []mocks.Resource{{URN: "urn:bad", Type: tt.typ, Inputs: withInput(tt.good(), tt.path, tt.value)}}}
			f := rule.Check(bad)
			require.Len(t, f, 1, "violation not found")
			require.Equal(t, "urn:bad", f[0].Resource, "violation on another resource: %+v", f)
			require.NotEmpty(t, f[0].Message, "violation without a message: %+v", f)
		})
	}
}

func TestProdOnlyRulesAndReplicas(t *testing.T) {
	rules := map[string]Rule{}
	for _, r := range dataRules() {
		rules[r.ID] = r
	}
	staging := &Plan{Environment: "staging", Resources: []mocks.Resource{{URN: "urn:db", Type: rdsInstance,
		Inputs: withInput(withInput(goodDB(), []string{"multiAz"}, false), []string{"deletionProtection"}, false)}}}
	for _, id := range []string{"rds-multi-az", "rds-deletion-protection"} {
		assert.Empty(t, rules[id].Check(staging), "%s fails staging", id)
	}
	replica := withInput(withInput(goodDB(), []string{"replicateSourceDb"}, "cdx-prod-trading"), []string{"backupRetentionPeriod"}, nil)
	replica = withInput(replica, []string{"multiAz"}, false)
	prod := &Plan{Environment: "prod", Resources: []mocks.Resource{{URN: "urn:replica", Type: rdsInstance, Inputs: replica}}}
	for _, id := range []string{"rds-multi-az", "rds-backup-retention"} {
		assert.Empty(t, rules[id].Check(prod), "%s applies to a replica", id)
	}
}
