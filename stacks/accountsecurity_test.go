package stacks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccountSecurityDefaults(t *testing.T) {
	prod, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	staging, err := Load("staging", "", mapSource{})
	require.NoError(t, err)
	for _, s := range []Settings{prod, staging} {
		a := s.AccountSecurity
		assert.True(t, a.CloudTrail.Enabled && a.GuardDuty.Enabled && a.SecurityHub.Enabled && a.Config.Enabled && a.AccessAnalyzer.Enabled, "%s: a service is off by default: %+v", s.Environment, a)
		assert.Equal(t, []string{FoundationalBestPractices, CISBenchmark}, a.SecurityHub.Standards, "%s standards", s.Environment)
	}
	assert.Equal(t, "compliance", prod.AccountSecurity.CloudTrail.ObjectLockMode, "prod lock mode")
	assert.GreaterOrEqual(t, prod.AccountSecurity.CloudTrail.ObjectLockDays, 365, "prod lock days")
	assert.Equal(t, "governance", staging.AccountSecurity.CloudTrail.ObjectLockMode, "staging lock mode")
	assert.Less(t, staging.AccountSecurity.CloudTrail.LogRetentionDays, prod.AccountSecurity.CloudTrail.LogRetentionDays, "staging keeps logs shorter")
	assert.Empty(t, prod.Warnings, "prod defaults warn")
}

func TestAccountSecurityValidationNamesTheSetting(t *testing.T) {
	for _, tt := range []struct {
		name, stack, value, want string
	}{
		{"retention", "staging", `{"cloudTrail":{"logRetentionDays":42}}`, "accountSecurity.cloudTrail.logRetentionDays: 42 is not a CloudWatch Logs retention period"},
		{"lock mode", "staging", `{"cloudTrail":{"objectLockMode":"GOVERNANCE"}}`, `accountSecurity.cloudTrail.objectLockMode: "GOVERNANCE" is not governance or compliance`},
		{"lock days", "staging", `{"cloudTrail":{"objectLockDays":0}}`, "accountSecurity.cloudTrail.objectLockDays: 0 is outside 1 to 36500"},
		{"prod lock days", "prod", `{"cloudTrail":{"objectLockDays":90}}`, "accountSecurity.cloudTrail.objectLockDays: 90: prod keeps its audit trail at least 365 days"},
		{"frequency", "prod", `{"guardDuty":{"findingPublishingFrequency":"HOURLY"}}`, "accountSecurity.guardDuty.findingPublishingFrequency"},
		{"unknown standard", "prod", `{"securityHub":{"standards":["aws-foundational-security-best-practices/v/1.0.0","cis-aws-foundations-benchmark/v/3.0.0","cis"]}}`, `accountSecurity.securityHub.standards[2]: "cis" is not one of`},
		{"standard twice", "prod", `{"securityHub":{"standards":["aws-foundational-security-best-practices/v/1.0.0","cis-aws-foundations-benchmark/v/3.0.0","cis-aws-foundations-benchmark/v/3.0.0"]}}`, "accountSecurity.securityHub.standards[2]: cis-aws-foundations-benchmark/v/3.0.0 is listed twice"},
		{"no CIS", "staging", `{"securityHub":{"standards":["aws-foundational-security-best-practices/v/1.0.0"]}}`, "accountSecurity.securityHub.standards: must include"},
		{"snapshot", "prod", `{"config":{"snapshotFrequency":"daily"}}`, "accountSecurity.config.snapshotFrequency"},
		{"unknown field", "prod", `{"guardDuty":{"eks":true}}`, "cantondex:accountSecurity: cannot read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.stack, "", mapSource{"accountSecurity": tt.value})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// A service the organisation runs is turned off with a warning, and its settings are not
// validated any more.
func TestAccountSecurityServiceOffWarns(t *testing.T) {
	s, err := Load("prod", "", mapSource{"accountSecurity": `{"guardDuty":{"enabled":false,"findingPublishingFrequency":""},"cloudTrail":{"enabled":false,"objectLockDays":0}}`})
	require.NoError(t, err)
	warnings := strings.Join(s.Warnings, "\n")
	assert.Contains(t, warnings, "accountSecurity.guardDuty.enabled: off: this account relies on a delegated GuardDuty administrator", "warnings")
	assert.Contains(t, warnings, "accountSecurity.cloudTrail.enabled: off: this account relies on an organisation trail", "warnings")
	assert.Len(t, s.Warnings, 2, "warnings %q", s.Warnings)

	s, err = Load("prod", "", mapSource{"accountSecurity": `{"cloudTrail":{"objectLockMode":"governance"}}`})
	require.NoError(t, err)
	assert.Contains(t, strings.Join(s.Warnings, "\n"), "accountSecurity.cloudTrail.objectLockMode: governance", "governance mode in prod does not warn")
}
