package policy

import (
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func TestAccountSecurityRules(t *testing.T) {
	trailOK := m{"isMultiRegionTrail": true, "includeGlobalServiceEvents": true, "enableLogFileValidation": true, "kmsKeyId": "arn:kms",
		"cloudWatchLogsGroupArn": "arn:logs:*", "cloudWatchLogsRoleArn": "arn:role"}
	trail := func(k string, v any) mocks.Resource {
		in := maps.Clone(trailOK)
		if v == nil {
			delete(in, k)
		} else {
			in[k] = v
		}
		return r(tokTrail, "trail", in)
	}
	bucket := r(tokBucket, "logs", m{"bucket": "cdx-logs"})
	pab := func(restrict bool) mocks.Resource {
		return r(tokPublicAccess, "logs", m{"bucket": "logs-id", "blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": restrict})
	}
	versioning := func(status string) mocks.Resource {
		return r(tokVersioning, "logs", m{"bucket": "logs-id", "versioningConfiguration": m{"status": status}})
	}
	sse := func(alg string) mocks.Resource {
		return r(tokBucketEncryption, "logs", m{"bucket": "logs-id", "rules": []any{m{"applyServerSideEncryptionByDefault": m{"sseAlgorithm": alg, "kmsMasterKeyId": "arn:kms"}}}})
	}
	detector := r(tokDetector, "gd", m{"enable": true})
	feature := func(name string, extra ...any) mocks.Resource {
		in := m{"detectorId": "gd-id", "name": name, "status": "ENABLED"}
		if len(extra) > 0 {
			in["additionalConfigurations"] = extra
		}
		return r(tokDetectorFeature, "gd-"+strings.ToLower(name), in)
	}
	addon := m{"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}
	recorder := func(all, global bool) mocks.Resource {
		return r(tokConfigRecorder, "rec", m{"name": "cdx-recorder", "recordingGroup": m{"allSupported": all, "includeGlobalResourceTypes": global}})
	}
	status := r(tokRecorderStatus, "rec", m{"name": "cdx-recorder", "isEnabled": true})

	cases := []ruleCase{
		{rule: "cloudtrail-multi-region", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("isMultiRegionTrail", false)}, failsOn: "trail"},
		{rule: "cloudtrail-multi-region", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("includeGlobalServiceEvents", nil)}, failsOn: "trail"},
		{rule: "cloudtrail-log-validation", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("enableLogFileValidation", nil)}, failsOn: "trail"},
		{rule: "cloudtrail-kms", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("kmsKeyId", nil)}, failsOn: "trail", contains: "SSE-S3"},
		{rule: "cloudtrail-cloudwatch", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("cloudWatchLogsGroupArn", nil)}, failsOn: "trail"},
		{rule: "cloudtrail-cloudwatch", pass: []mocks.Resource{trail("", nil)}, fail: []mocks.Resource{trail("cloudWatchLogsRoleArn", nil)}, failsOn: "trail"},
		{rule: "s3-public-access-block", pass: []mocks.Resource{bucket, pab(true)}, fail: []mocks.Resource{bucket, pab(false)}, failsOn: "logs", contains: "restrictPublicBuckets"},
		{rule: "s3-public-access-block", pass: []mocks.Resource{bucket, pab(true)}, fail: []mocks.Resource{bucket, r(tokBucket, "other", m{}), pab(true)}, failsOn: "other"},
		{rule: "s3-versioning", pass: []mocks.Resource{bucket, versioning("Enabled")}, fail: []mocks.Resource{bucket, versioning("Suspended")}, failsOn: "logs"},
		{rule: "s3-versioning", pass: []mocks.Resource{bucket, versioning("Enabled")}, fail: []mocks.Resource{bucket}, failsOn: "logs"},
		{rule: "s3-kms-encryption", pass: []mocks.Resource{bucket, sse("aws:kms")}, fail: []mocks.Resource{bucket, sse("AES256")}, failsOn: "logs"},
		{rule: "guardduty-enabled", pass: []mocks.Resource{detector}, fail: []mocks.Resource{r(tokDetector, "gd", m{"enable": false})}, failsOn: "gd"},
		{rule: "guardduty-eks-protection", pass: []mocks.Resource{detector, feature("EKS_AUDIT_LOGS"), feature("RUNTIME_MONITORING", addon)},
			fail: []mocks.Resource{detector, feature("EKS_AUDIT_LOGS")}, failsOn: "gd", contains: "RUNTIME_MONITORING"},
		{rule: "guardduty-eks-protection", pass: []mocks.Resource{detector, feature("EKS_AUDIT_LOGS"), feature("RUNTIME_MONITORING", addon)},
			fail: []mocks.Resource{detector, feature("EKS_AUDIT_LOGS"), feature("RUNTIME_MONITORING")}, failsOn: "gd", contains: "EKS_ADDON_MANAGEMENT"},
		{rule: "guardduty-eks-protection", pass: []mocks.Resource{detector, feature("EKS_AUDIT_LOGS"), feature("RUNTIME_MONITORING", addon)},
			fail: []mocks.Resource{detector, feature("RUNTIME_MONITORING", addon)}, failsOn: "gd", contains: "EKS_AUDIT_LOGS"},
		{rule: "config-recorder-all-resources", pass: []mocks.Resource{recorder(true, true), status}, fail: []mocks.Resource{recorder(true, false), status}, failsOn: "rec", contains: "includeGlobalResourceTypes"},
		{rule: "config-recorder-all-resources", pass: []mocks.Resource{recorder(true, true), status}, fail: []mocks.Resource{recorder(false, true), status}, failsOn: "rec"},
		{rule: "config-recorder-all-resources", pass: []mocks.Resource{recorder(true, true), status}, fail: []mocks.Resource{recorder(true, true)}, failsOn: "rec", contains: "recorderStatus"},
	}
	rules := map[string]Rule{}
	for _, ru := range accountSecurityRules() {
		rules[ru.ID] = ru
		assert.NotEmpty(t, ru.Mirrors, "rule %s lacks its mirrored id", ru.ID)
	}
	tested := map[string]bool{}
	for _, c := range cases {
		tested[c.rule] = true
	}
	for id := range rules {
		assert.True(t, tested[id], "rule %s has no case", id)
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.failsOn+"/"+c.contains, func(t *testing.T) {
			ru, ok := rules[c.rule]
			require.True(t, ok, "no rule %s", c.rule)
			assert.Empty(t, ru.Check(&Plan{Environment: "prod", Resources: c.pass}), "passing plan fails")
			got := ru.Check(&Plan{Environment: "prod", Resources: c.fail})
			require.NotEmpty(t, got, "violating plan passes")
			assert.True(t, strings.HasSuffix(got[0].Resource, "::"+c.failsOn), "finding %+v; want it on %s", got[0], c.failsOn)
			assert.Contains(t, got[0].Message, c.contains, "finding %+v", got[0])
		})
	}
}

func TestAccountSecurityRulesAreRegistered(t *testing.T) {
	ids := map[string]bool{}
	for _, ru := range Rules() {
		ids[ru.ID] = true
	}
	for _, ru := range accountSecurityRules() {
		assert.True(t, ids[ru.ID], "rule %s is not in Rules()", ru.ID)
	}
}
