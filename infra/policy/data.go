package policy

import (
	"fmt"

	"github.com/cantondex/platform/components/mocks"
)

// Resource types the data rules inspect.
const (
	rdsInstance      = "aws:rds/instance:Instance"
	redisGroup       = "aws:elasticache/replicationGroup:ReplicationGroup"
	redisParams      = "aws:elasticache/parameterGroup:ParameterGroup"
	mskCluster       = "aws:msk/cluster:Cluster"
	secretsManager   = "aws:secretsmanager/secret:Secret"
	minBackupDays    = 7
	minProdBackupDay = 30
)

// each returns a Check that runs check on every resource of typ and reports its message when
// it is not "".
func each(typ string, check func(p *Plan, r mocks.Resource) string) func(p *Plan) []Finding {
	return func(p *Plan) []Finding {
		var out []Finding
		for _, r := range p.OfType(typ) {
			if msg := check(p, r); msg != "" {
				out = append(out, Finding{Resource: r.URN, Message: msg})
			}
		}
		return out
	}
}

// primary reports whether an RDS instance is a primary rather than a replica.
func primary(r mocks.Resource) bool { return r.String("replicateSourceDb") == "" }

// dataRules are the database, cache and streaming rules.
func dataRules() []Rule {
	return []Rule{
		{ID: "rds-encrypted", Mirrors: "CKV_AWS_16", Summary: "RDS storage encrypted with a customer KMS key",
			Check: each(rdsInstance, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("storageEncrypted") || r.String("kmsKeyId") == "" {
					return "storageEncrypted must be true with a kmsKeyId"
				}
				return ""
			})},
		{ID: "rds-not-public", Mirrors: "CKV_AWS_17", Summary: "RDS instances are not publicly accessible",
			Check: each(rdsInstance, func(_ *Plan, r mocks.Resource) string {
				if r.Bool("publiclyAccessible") {
					return "publiclyAccessible is true"
				}
				return ""
			})},
		{ID: "rds-deletion-protection", Mirrors: "CKV_AWS_293", Summary: "prod RDS instances have deletion protection",
			Check: each(rdsInstance, func(p *Plan, r mocks.Resource) string {
				if p.Prod() && !r.Bool("deletionProtection") {
					return "deletionProtection must be on in prod"
				}
				return ""
			})},
		{ID: "rds-multi-az", Mirrors: "CKV_AWS_157", Summary: "prod RDS primaries are Multi-AZ",
			Check: each(rdsInstance, func(p *Plan, r mocks.Resource) string {
				if p.Prod() && primary(r) && !r.Bool("multiAz") {
					return "multiAz must be on for a prod primary"
				}
				return ""
			})},
		{ID: "rds-backup-retention", Mirrors: "CKV_AWS_133", Summary: "RDS primaries keep automated backups 7 days (30 in prod)",
			Check: each(rdsInstance, func(p *Plan, r mocks.Resource) string {
				want := minBackupDays
				if p.Prod() {
					want = minProdBackupDay
				}
				if days := int(r.Number("backupRetentionPeriod")); primary(r) && days < want {
					return fmt.Sprintf("backupRetentionPeriod %d is below %d days", days, want)
				}
				return ""
			})},
		{ID: "rds-performance-insights-encrypted", Mirrors: "CKV_AWS_354", Summary: "RDS Performance Insights on and encrypted with a customer KMS key",
			Check: each(rdsInstance, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("performanceInsightsEnabled") || r.String("performanceInsightsKmsKeyId") == "" {
					return "performanceInsightsEnabled must be true with a performanceInsightsKmsKeyId"
				}
				return ""
			})},
		{ID: "rds-iam-auth", Mirrors: "CKV_AWS_161", Summary: "RDS IAM database authentication on",
			Check: each(rdsInstance, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("iamDatabaseAuthenticationEnabled") {
					return "iamDatabaseAuthenticationEnabled must be true"
				}
				return ""
			})},
		{ID: "redis-at-rest-encryption", Mirrors: "CKV_AWS_29", Summary: "ElastiCache Redis encrypted at rest with a customer KMS key",
			Check: each(redisGroup, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("atRestEncryptionEnabled") || r.String("kmsKeyId") == "" {
					return "atRestEncryptionEnabled must be true with a kmsKeyId"
				}
				return ""
			})},
		{ID: "redis-in-transit-encryption", Mirrors: "CKV_AWS_30", Summary: "ElastiCache Redis requires TLS in transit",
			Check: each(redisGroup, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("transitEncryptionEnabled") || r.String("transitEncryptionMode") == "preferred" {
					return "transitEncryptionEnabled must be true and not in preferred mode"
				}
				return ""
			})},
		{ID: "redis-auth-token", Mirrors: "CKV_AWS_31", Summary: "ElastiCache Redis has an auth token",
			Check: each(redisGroup, func(_ *Plan, r mocks.Resource) string {
				if _, ok := r.Input("authToken"); !ok {
					return "authToken is not set"
				}
				return ""
			})},
		{ID: "redis-noeviction", Mirrors: "own rule", Summary: "ElastiCache Redis never evicts (nonces, idempotency keys, rate-limit counters)",
			Check: redisNoEviction},
		{ID: "msk-encryption-in-transit", Mirrors: "CKV_AWS_81", Summary: "MSK TLS-only between clients and brokers and inside the cluster",
			Check: each(mskCluster, func(_ *Plan, r mocks.Resource) string {
				if r.String("encryptionInfo.encryptionInTransit.clientBroker") != "TLS" || !r.Bool("encryptionInfo.encryptionInTransit.inCluster") {
					return "encryptionInTransit must be clientBroker TLS with inCluster true"
				}
				return ""
			})},
		{ID: "msk-at-rest-kms", Mirrors: "AVD-AWS-0179", Summary: "MSK encrypted at rest with a customer KMS key",
			Check: each(mskCluster, func(_ *Plan, r mocks.Resource) string {
				if r.String("encryptionInfo.encryptionAtRestKmsKeyArn") == "" {
					return "encryptionAtRestKmsKeyArn is not set"
				}
				return ""
			})},
		{ID: "msk-broker-logging", Mirrors: "CKV_AWS_80", Summary: "MSK broker logs delivered",
			Check: each(mskCluster, func(_ *Plan, r mocks.Resource) string {
				for _, dest := range []string{"cloudwatchLogs", "firehose", "s3"} {
					if r.Bool("loggingInfo.brokerLogs." + dest + ".enabled") {
						return ""
					}
				}
				return "no broker log destination is enabled"
			})},
		{ID: "msk-no-public-access", Mirrors: "CKV_AWS_291", Summary: "MSK brokers are not publicly accessible",
			Check: each(mskCluster, func(_ *Plan, r mocks.Resource) string {
				if t := r.String("brokerNodeGroupInfo.connectivityInfo.publicAccess.type"); t != "" && t != "DISABLED" {
					return fmt.Sprintf("public access type %s", t)
				}
				if r.Bool("clientAuthentication.unauthenticated") {
					return "unauthenticated client access is on"
				}
				return ""
			})},
		{ID: "secrets-customer-kms", Mirrors: "CKV_AWS_149", Summary: "secrets encrypted with a customer KMS key",
			Check: func(p *Plan) []Finding {
				out := each(secretsManager, func(_ *Plan, r mocks.Resource) string {
					if r.String("kmsKeyId") == "" {
						return "kmsKeyId is not set (the AWS-managed key would be used)"
					}
					return ""
				})(p)
				return append(out, each(rdsInstance, func(_ *Plan, r mocks.Resource) string {
					if r.Bool("manageMasterUserPassword") && r.String("masterUserSecretKmsKeyId") == "" {
						return "the managed master secret has no masterUserSecretKmsKeyId"
					}
					return ""
				})(p)...)
			}},
	}
}

// redisNoEviction fails every Redis parameter group whose maxmemory-policy is not noeviction
// (unset is the engine default, volatile-lru, which evicts exactly the keys with a TTL: the
// nonces, idempotency keys and counters), and every replication group that does not use a
// noeviction parameter group of the plan (a default.* group has volatile-lru).
func redisNoEviction(p *Plan) []Finding {
	var out []Finding
	groups := map[string]bool{}
	for _, r := range p.OfType(redisParams) {
		name := r.String("name")
		if name == "" {
			name = r.Name // auto-named: the mock answers with the logical name
		}
		policy := "volatile-lru (the default)"
		list, _ := r.Input("parameters")
		items, _ := list.([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && m["name"] == "maxmemory-policy" {
				policy, _ = m["value"].(string)
			}
		}
		if policy != "noeviction" {
			out = append(out, Finding{Resource: r.URN, Message: fmt.Sprintf("maxmemory-policy %s evicts keys that security depends on; want noeviction", policy)})
			continue
		}
		groups[name] = true
	}
	for _, r := range p.OfType(redisGroup) {
		if pg := r.String("parameterGroupName"); !groups[pg] {
			out = append(out, Finding{Resource: r.URN, Message: fmt.Sprintf("parameter group %q is not a noeviction group of this plan", pg)})
		}
	}
	return out
}
