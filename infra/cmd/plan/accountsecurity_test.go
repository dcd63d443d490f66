package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

// Both stacks deploy every account security service, and their plans pass the policy rules.
func TestStacksDeployAccountSecurity(t *testing.T) {
	for _, tc := range []struct {
		stack, lockMode string
		lockDays        float64
		retention       float64
	}{{"prod", "COMPLIANCE", 400, 365}, {"staging", "GOVERNANCE", 90, 90}} {
		t.Run(tc.stack, func(t *testing.T) {
			code, p, stderr := plan(t, "--stack", tc.stack)
			require.Equal(t, 0, code, "exit code; stderr %s", stderr)
			require.Empty(t, p.Violations, "violations")
			count := map[string]int{}
			component := "cantondex:accountsecurity:AccountSecurity::cdx-" + tc.stack + "-security"
			for _, r := range p.Resources {
				res := mocks.Resource{Inputs: r.Inputs}
				if !strings.HasSuffix(r.Parent, component) {
					continue
				}
				count[r.Type]++
				switch r.Type {
				case "aws:cloudtrail/trail:Trail":
					assert.True(t, res.Bool("isMultiRegionTrail") && res.Bool("enableLogFileValidation"), "trail %+v", r.Inputs)
				case "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2":
					assert.Equal(t, tc.lockMode, res.String("rule.defaultRetention.mode"), "lock mode")
					assert.Equal(t, tc.lockDays, res.Number("rule.defaultRetention.days"), "lock days")
				case "aws:cloudwatch/logGroup:LogGroup":
					assert.Equal(t, tc.retention, res.Number("retentionInDays"), "trail log group retention")
				}
			}
			for typ, want := range map[string]int{
				"aws:cloudtrail/trail:Trail": 1, "aws:s3/bucketV2:BucketV2": 2, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
				"aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2": 1, "aws:cloudwatch/logGroup:LogGroup": 1,
				"aws:guardduty/detector:Detector": 1, "aws:guardduty/detectorFeature:DetectorFeature": 5,
				"aws:securityhub/account:Account": 1, "aws:securityhub/standardsSubscription:StandardsSubscription": 2,
				"aws:cfg/recorder:Recorder": 1, "aws:cfg/deliveryChannel:DeliveryChannel": 1, "aws:cfg/recorderStatus:RecorderStatus": 1,
				"aws:cfg/rule:Rule": 16, "aws:accessanalyzer/analyzer:Analyzer": 1,
			} {
				assert.Equal(t, want, count[typ], "%s in %s", typ, tc.stack)
			}
		})
	}
}

// An account whose organisation runs GuardDuty turns it off: the plan has no detector, still
// passes, and warns.
func TestAccountSecurityServiceOff(t *testing.T) {
	code, p, stderr := plan(t, "--stack", "prod", "--set", `cantondex:accountSecurity={"guardDuty":{"enabled":false}}`)
	require.Equal(t, 0, code, "exit code; stderr %s", stderr)
	for _, r := range p.Resources {
		assert.NotContains(t, r.Type, "guardduty", "GuardDuty resource %s planned although turned off", r.Name)
	}
	assert.Contains(t, stderr, "plan: warning: cantondex:accountSecurity.guardDuty.enabled: off", "no warning")

	off := `{"cloudTrail":{"enabled":false},"guardDuty":{"enabled":false},"securityHub":{"enabled":false},"config":{"enabled":false},"accessAnalyzer":{"enabled":false}}`
	code, p, stderr = plan(t, "--stack", "staging", "--set", "cantondex:accountSecurity="+off)
	require.Equal(t, 0, code, "exit code with every service off; stderr %s", stderr)
	for _, r := range p.Resources {
		assert.NotContains(t, r.Parent, "cantondex:accountsecurity:", "%s %s planned with every service off", r.Type, r.Name)
	}
	assert.Equal(t, 5, strings.Count(stderr, "plan: warning: cantondex:accountSecurity."), "one warning per service off: %s", stderr)

	code, _, stderr = plan(t, "--stack", "prod", "--set", `cantondex:accountSecurity={"cloudTrail":{"objectLockDays":30}}`)
	assert.Equal(t, 2, code, "short prod retention accepted")
	assert.Contains(t, stderr, "accountSecurity.cloudTrail.objectLockDays", "error does not name the setting")
}

func TestTableShowsAccountSecurity(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"--stack", "staging"}, &stdout, &stderr), "exit code; stderr %s", stderr.String())
	for _, want := range []string{
		"cloudtrail cdx-staging-trail: multi-region true, log file validation true, KMS true, to s3://cdx-staging-trail-" + mocks.Account + " (Object Lock GOVERNANCE 90 days) and CloudWatch Logs true",
		"guardduty cdx-staging-security: enabled true, features ",
		"security hub: aws-foundational-security-best-practices/v/1.0.0, cis-aws-foundations-benchmark/v/3.0.0",
		"config recorder cdx-staging-recorder: all resources true, global true, 16 managed rules",
		"access analyzer cdx-staging-account: ACCOUNT",
	} {
		assert.Contains(t, stdout.String(), want, "table highlights")
	}
}
