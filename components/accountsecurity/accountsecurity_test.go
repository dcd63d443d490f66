package accountsecurity

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const (
	trailType    = "aws:cloudtrail/trail:Trail"
	bucketType   = "aws:s3/bucketV2:BucketV2"
	pabType      = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	policyType   = "aws:s3/bucketPolicy:BucketPolicy"
	featureType  = "aws:guardduty/detectorFeature:DetectorFeature"
	standardType = "aws:securityhub/standardsSubscription:StandardsSubscription"
	ruleType     = "aws:cfg/rule:Rule"
)

func testArgs() AccountSecurityArgs {
	return AccountSecurityArgs{
		Prefix:         "cdx-test",
		CloudTrail:     &CloudTrailArgs{LogRetentionDays: 365, ObjectLockMode: Compliance, ObjectLockDays: 400},
		GuardDuty:      &GuardDutyArgs{},
		SecurityHub:    &SecurityHubArgs{},
		Config:         &ConfigArgs{},
		AccessAnalyzer: true,
		Tags:           map[string]string{"environment": "test"},
	}
}

func run(t *testing.T, mutate func(*AccountSecurityArgs)) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(testArgs(), func(a *AccountSecurityArgs, _ *pulumi.Context) error {
		if mutate != nil {
			mutate(a)
		}
		return nil
	}, func(ctx *pulumi.Context, a AccountSecurityArgs) error {
		_, err := NewAccountSecurity(ctx, "sec", a)
		return err
	})
}

type statement struct {
	Sid       string
	Effect    string
	Principal map[string]any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func statements(t *testing.T, doc string) map[string]statement {
	t.Helper()
	var d struct{ Statement []statement }
	require.NoError(t, json.Unmarshal([]byte(doc), &d), "policy %q", doc)
	out := map[string]statement{}
	for _, s := range d.Statement {
		out[s.Sid] = s
	}
	return out
}

func TestTrailIsMultiRegionValidatedEncryptedLockedAndCopiedToCloudWatch(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	comp, ok := rec.Named("cantondex:accountsecurity:AccountSecurity", "sec")
	require.True(t, ok, "component not registered")
	for _, r := range rec.Resources() {
		if r.URN != comp.URN {
			assert.Equal(t, comp.URN, r.Parent, "%s %s is not parented to the component", r.Type, r.Name)
		}
	}

	trail, ok := rec.Named(trailType, "sec")
	require.True(t, ok, "no trail")
	keyARN := mocks.ARN("aws:kms/key:Key", "sec-trail")
	logsARN := mocks.ARN("aws:cloudwatch/logGroup:LogGroup", "sec-trail")
	for path, want := range map[string]any{
		"name": "cdx-test-trail", "isMultiRegionTrail": true, "includeGlobalServiceEvents": true, "enableLogFileValidation": true,
		"enableLogging": true, "kmsKeyId": keyARN, "s3BucketName": "cdx-test-trail-" + mocks.Account,
		"cloudWatchLogsGroupArn": logsARN + ":*", "cloudWatchLogsRoleArn": mocks.ARN("aws:iam/role:Role", "sec-trail-logs"),
	} {
		got, _ := trail.Input(path)
		assert.Equal(t, want, got, "trail %s", path)
	}
	bucketPolicy, _ := rec.Named(policyType, "sec-trail")
	deliver, _ := rec.Named("aws:iam/rolePolicy:RolePolicy", "sec-trail-logs")
	assert.Subset(t, trail.DependsOn, []string{bucketPolicy.URN, deliver.URN}, "the trail must wait for its bucket policy and its delivery role policy")

	bucket, _ := rec.Named(bucketType, "sec-trail")
	assert.True(t, bucket.Bool("objectLockEnabled"), "trail bucket without Object Lock")
	lock, ok := rec.Named("aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2", "sec-trail")
	require.True(t, ok, "no object lock configuration")
	assert.Equal(t, "COMPLIANCE", lock.String("rule.defaultRetention.mode"), "lock mode")
	assert.Equal(t, 400.0, lock.Number("rule.defaultRetention.days"), "lock days")
	sse, _ := rec.Named("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sec-trail")
	require.NotNil(t, sse.Inputs["rules"], "trail bucket not encrypted")
	rule := sse.Inputs["rules"].([]any)[0].(map[string]any)["applyServerSideEncryptionByDefault"].(map[string]any)
	assert.Equal(t, map[string]any{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": keyARN}, rule, "trail bucket encryption")

	bucketARN := mocks.ARN(bucketType, "sec-trail")
	trailARN := "arn:aws:cloudtrail:us-east-1:" + mocks.Account + ":trail/cdx-test-trail"
	st := statements(t, bucketPolicy.String("policy"))
	assert.Equal(t, "s3:GetBucketAcl", st["AWSCloudTrailAclCheck"].Action, "ACL check")
	assert.Equal(t, bucketARN, st["AWSCloudTrailAclCheck"].Resource, "ACL check resource")
	write := st["AWSCloudTrailWrite"]
	assert.Equal(t, bucketARN+"/AWSLogs/"+mocks.Account+"/*", write.Resource, "CloudTrail writes only under its own prefix")
	assert.Equal(t, map[string]any{"aws:SourceArn": trailARN, "s3:x-amz-acl": "bucket-owner-full-control"}, write.Condition["StringEquals"], "write conditions")
	assert.Equal(t, map[string]any{"Service": "cloudtrail.amazonaws.com"}, write.Principal, "writer")
	tls := st["DenyInsecureTransport"]
	assert.Equal(t, "Deny", tls.Effect, "TLS-only statement")
	assert.Equal(t, map[string]any{"aws:SecureTransport": "false"}, tls.Condition["Bool"], "TLS-only condition")

	key, _ := rec.Named("aws:kms/key:Key", "sec-trail")
	assert.True(t, key.Bool("enableKeyRotation"), "trail key does not rotate")
	ks := statements(t, key.String("policy"))
	assert.Equal(t, trailARN, ks["CloudTrailEncryptLogs"].Condition["StringEquals"]["aws:SourceArn"], "CloudTrail may encrypt only for this trail")
	assert.Contains(t, ks, "CloudWatchLogs", "CloudWatch Logs cannot use the trail key for the log group")

	lg, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "sec-trail")
	assert.Equal(t, keyARN, lg.String("kmsKeyId"), "log group key")
	assert.Equal(t, 365.0, lg.Number("retentionInDays"), "log group retention")
	assert.Equal(t, logsARN+":log-stream:*", statements(t, deliver.String("policy"))["DeliverToLogGroup"].Resource, "delivery role reaches only the trail's log group")
}

func TestEveryBucketIsPrivateVersionedAndEncrypted(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	buckets := rec.OfType(bucketType)
	require.Len(t, buckets, 2, "trail and config buckets")
	for _, b := range buckets {
		pab, ok := rec.Named(pabType, b.Name)
		if assert.True(t, ok, "bucket %s has no public access block", b.Name) {
			assert.Equal(t, b.ID, pab.String("bucket"), "public access block of %s", b.Name)
			for _, f := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				assert.True(t, pab.Bool(f), "bucket %s: %s", b.Name, f)
			}
		}
		v, _ := rec.Named("aws:s3/bucketVersioningV2:BucketVersioningV2", b.Name)
		assert.Equal(t, "Enabled", v.String("versioningConfiguration.status"), "bucket %s versioning", b.Name)
		own, _ := rec.Named("aws:s3/bucketOwnershipControls:BucketOwnershipControls", b.Name)
		assert.Equal(t, "BucketOwnerEnforced", own.String("rule.objectOwnership"), "bucket %s ACLs", b.Name)
		p, _ := rec.Named(policyType, b.Name)
		assert.Equal(t, "Deny", statements(t, p.String("policy"))["DenyInsecureTransport"].Effect, "bucket %s accepts plain HTTP", b.Name)
	}
	cfgBucket, _ := rec.Named(bucketType, "sec-config")
	assert.False(t, cfgBucket.Bool("objectLockEnabled"), "config bucket is not meant to be locked")
}

func TestGuardDutyWatchesTheCluster(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	d, ok := rec.Named("aws:guardduty/detector:Detector", "sec")
	require.True(t, ok, "no detector")
	assert.True(t, d.Bool("enable"), "detector disabled")
	assert.Equal(t, "FIFTEEN_MINUTES", d.String("findingPublishingFrequency"), "frequency")
	_, legacy := d.Input("datasources")
	assert.False(t, legacy, "features belong in DetectorFeature resources, not the deprecated datasources")
	features := map[string]mocks.Resource{}
	for _, f := range rec.OfType(featureType) {
		assert.Equal(t, d.ID, f.String("detectorId"), "feature %s detector", f.Name)
		assert.Equal(t, "ENABLED", f.String("status"), "feature %s", f.Name)
		features[f.String("name")] = f
	}
	assert.ElementsMatch(t, DefaultGuardDutyFeatures(), keysOf(features), "features")
	assert.Equal(t, []any{map[string]any{"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}}, features[RuntimeMonitoring].Inputs["additionalConfigurations"], "runtime monitoring manages the EKS add-on")
}

func TestSecurityHubSubscribesExactlyTheStandards(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	acct, ok := rec.Named("aws:securityhub/account:Account", "sec")
	require.True(t, ok, "no Security Hub account")
	assert.False(t, acct.Bool("enableDefaultStandards"), "default standards would be subscribed outside the settings")
	var arns []string
	for _, s := range rec.OfType(standardType) {
		arns = append(arns, s.String("standardsArn"))
		assert.Contains(t, s.DependsOn, acct.URN, "subscription %s before the account", s.Name)
	}
	assert.ElementsMatch(t, []string{
		"arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0",
		"arn:aws:securityhub:us-east-1::standards/cis-aws-foundations-benchmark/v/3.0.0",
	}, arns, "standards")

	rec, err = run(t, func(a *AccountSecurityArgs) {
		a.SecurityHub.Standards = []string{"cis-aws-foundations-benchmark/v/1.2.0"}
	})
	require.NoError(t, err)
	subs := rec.OfType(standardType)
	require.Len(t, subs, 1, "standards")
	assert.Equal(t, "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0", subs[0].String("standardsArn"), "the CIS 1.2.0 ruleset is global")
}

func TestConfigRecordsEverythingAndDelivers(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	r, ok := rec.Named("aws:cfg/recorder:Recorder", "sec")
	require.True(t, ok, "no recorder")
	assert.True(t, r.Bool("recordingGroup.allSupported"), "recorder misses resource types")
	assert.True(t, r.Bool("recordingGroup.includeGlobalResourceTypes"), "recorder misses IAM")
	assert.Equal(t, mocks.ARN("aws:iam/role:Role", "sec-config"), r.String("roleArn"), "recorder role")
	att, ok := rec.Named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "sec-config-AWS_ConfigRole")
	require.True(t, ok, "AWS_ConfigRole not attached")
	assert.Equal(t, "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole", att.String("policyArn"), "managed policy")

	ch, _ := rec.Named("aws:cfg/deliveryChannel:DeliveryChannel", "sec")
	assert.Equal(t, "cdx-test-config-"+mocks.Account, ch.String("s3BucketName"), "delivery bucket")
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "sec-config"), ch.String("s3KmsKeyArn"), "delivery key")
	delivery, _ := rec.Named("aws:iam/rolePolicy:RolePolicy", "sec-config-delivery")
	assert.Contains(t, ch.DependsOn, delivery.URN, "the channel must wait for the role's S3 permissions")
	status, _ := rec.Named("aws:cfg/recorderStatus:RecorderStatus", "sec")
	assert.True(t, status.Bool("isEnabled"), "recorder not started")
	assert.Contains(t, status.DependsOn, ch.URN, "recorder started before its channel")

	var ids []string
	for _, rule := range rec.OfType(ruleType) {
		assert.Equal(t, "AWS", rule.String("source.owner"), "rule %s", rule.Name)
		assert.Contains(t, rule.DependsOn, r.URN, "rule %s before the recorder", rule.Name)
		ids = append(ids, rule.String("source.sourceIdentifier"))
	}
	for _, want := range []string{"CLOUD_TRAIL_ENABLED", "RDS_STORAGE_ENCRYPTED", "S3_BUCKET_PUBLIC_READ_PROHIBITED", "EKS_SECRETS_ENCRYPTED", "ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST"} {
		assert.Contains(t, ids, want, "managed rules")
	}
}

func TestAccessAnalyzerCoversTheAccount(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	a, ok := rec.Named("aws:accessanalyzer/analyzer:Analyzer", "sec")
	require.True(t, ok, "no analyzer")
	assert.Equal(t, "ACCOUNT", a.String("type"), "analyzer type")
	assert.Equal(t, "cdx-test-account", a.String("analyzerName"), "analyzer name")
}

// An account whose organisation runs a service gets none of it here.
func TestServicesLeftOut(t *testing.T) {
	rec, err := run(t, func(a *AccountSecurityArgs) {
		a.CloudTrail, a.GuardDuty, a.Config, a.AccessAnalyzer = nil, nil, nil, false
	})
	require.NoError(t, err)
	for _, typ := range []string{trailType, bucketType, "aws:guardduty/detector:Detector", "aws:cfg/recorder:Recorder", ruleType, "aws:accessanalyzer/analyzer:Analyzer", "aws:kms/key:Key"} {
		assert.Empty(t, rec.OfType(typ), "%s created for a service left out", typ)
	}
	assert.Len(t, rec.OfType(standardType), 2, "Security Hub, still asked for, is missing")
}

func TestInvalidArgs(t *testing.T) {
	for want, mutate := range map[string]func(*AccountSecurityArgs){
		`prefix: "CDX_prod"`:                       func(a *AccountSecurityArgs) { a.Prefix = "CDX_prod" },
		"every service is left out":                func(a *AccountSecurityArgs) { *a = AccountSecurityArgs{Prefix: "cdx"} },
		"log retention 42":                         func(a *AccountSecurityArgs) { a.CloudTrail.LogRetentionDays = 42 },
		`object lock mode "governance"`:            func(a *AccountSecurityArgs) { a.CloudTrail.ObjectLockMode = "governance" },
		"object lock days 0":                       func(a *AccountSecurityArgs) { a.CloudTrail.ObjectLockDays = 0 },
		"features must include EKS_AUDIT_LOGS":     func(a *AccountSecurityArgs) { a.GuardDuty.Features = []string{RuntimeMonitoring} },
		"features must include RUNTIME_MONITORING": func(a *AccountSecurityArgs) { a.GuardDuty.Features = []string{EKSAuditLogs} },
		`feature "EKS_RUNTIME"`:                    func(a *AccountSecurityArgs) { a.GuardDuty.Features = append(DefaultGuardDutyFeatures(), "EKS_RUNTIME") },
		"feature S3_DATA_EVENTS is listed twice": func(a *AccountSecurityArgs) {
			a.GuardDuty.Features = append(DefaultGuardDutyFeatures(), "S3_DATA_EVENTS")
		},
		`frequency "HOURLY"`:                      func(a *AccountSecurityArgs) { a.GuardDuty.FindingPublishingFrequency = "HOURLY" },
		"security hub: no standards":              func(a *AccountSecurityArgs) { a.SecurityHub.Standards = []string{} },
		`standard "cis"`:                          func(a *AccountSecurityArgs) { a.SecurityHub.Standards = []string{"cis"} },
		`snapshot frequency "daily"`:              func(a *AccountSecurityArgs) { a.Config.SnapshotFrequency = "daily" },
		"rule cloudtrail-enabled is listed twice": func(a *AccountSecurityArgs) { a.Config.Rules = append(DefaultConfigRules(), DefaultConfigRules()[0]) },
		`rule "x" ("cloud_trail")`:                func(a *AccountSecurityArgs) { a.Config.Rules = []ConfigRule{{Name: "x", Identifier: "cloud_trail"}} },
	} {
		rec, err := run(t, mutate)
		assert.ErrorContains(t, err, want, "%s accepted", want)
		assert.Empty(t, rec.Resources(), "%s: resources created despite invalid args", want)
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
