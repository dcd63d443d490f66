package stacks

import (
	"fmt"
	"slices"
	"strings"
)

// AccountSecurity is the account's audit and threat-detection services (cantondex:accountSecurity).
// Each service can be turned off for an account where the organisation already runs it (an
// organisation trail, a delegated GuardDuty or Security Hub administrator, an organisation
// Config recorder); the plan then warns, so the gap is a decision someone made.
type AccountSecurity struct {
	CloudTrail     CloudTrailSettings     `json:"cloudTrail"`
	GuardDuty      GuardDutySettings      `json:"guardDuty"`
	SecurityHub    SecurityHubSettings    `json:"securityHub"`
	Config         ConfigSettings         `json:"config"`
	AccessAnalyzer AccessAnalyzerSettings `json:"accessAnalyzer"`
}

// CloudTrailSettings configure the multi-region trail.
type CloudTrailSettings struct {
	Enabled bool `json:"enabled"`
	// LogRetentionDays keeps the CloudWatch Logs copy of the trail.
	LogRetentionDays int `json:"logRetentionDays"`
	// ObjectLockMode (governance or compliance) and ObjectLockDays are the default retention
	// of every log file in the trail bucket. In compliance mode nobody can delete a log file
	// before it expires, nor shorten the retention.
	ObjectLockMode string `json:"objectLockMode"`
	ObjectLockDays int    `json:"objectLockDays"`
}

// GuardDutySettings configure the detector.
type GuardDutySettings struct {
	Enabled bool `json:"enabled"`
	// FindingPublishingFrequency: FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS.
	FindingPublishingFrequency string `json:"findingPublishingFrequency"`
}

// SecurityHubSettings configure Security Hub.
type SecurityHubSettings struct {
	Enabled bool `json:"enabled"`
	// Standards subscribed, by their path in the standard's ARN (see SecurityHubStandards).
	Standards []string `json:"standards"`
}

// ConfigSettings configure the AWS Config recorder.
type ConfigSettings struct {
	Enabled bool `json:"enabled"`
	// SnapshotFrequency: One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours.
	SnapshotFrequency string `json:"snapshotFrequency"`
}

// AccessAnalyzerSettings configure the account's IAM Access Analyzer.
type AccessAnalyzerSettings struct {
	Enabled bool `json:"enabled"`
}

// Security Hub standards a stack may subscribe: the foundational best practices, the CIS
// benchmark versions, NIST and PCI.
const (
	FoundationalBestPractices = "aws-foundational-security-best-practices/v/1.0.0"
	CISBenchmark              = "cis-aws-foundations-benchmark/v/3.0.0"
)

// SecurityHubStandards lists the standards the settings accept.
func SecurityHubStandards() []string {
	return []string{
		FoundationalBestPractices,
		"cis-aws-foundations-benchmark/v/1.2.0", "cis-aws-foundations-benchmark/v/1.4.0", CISBenchmark,
		"nist-800-53/v/5.0.0", "pci-dss/v/3.2.1", "pci-dss/v/4.0.1", "aws-resource-tagging-standard/v/1.0.0",
	}
}

func defaultAccountSecurity(env Environment) AccountSecurity {
	a := AccountSecurity{
		CloudTrail:     CloudTrailSettings{Enabled: true, LogRetentionDays: 365, ObjectLockMode: "compliance", ObjectLockDays: 400},
		GuardDuty:      GuardDutySettings{Enabled: true, FindingPublishingFrequency: "FIFTEEN_MINUTES"},
		SecurityHub:    SecurityHubSettings{Enabled: true, Standards: []string{FoundationalBestPractices, CISBenchmark}},
		Config:         ConfigSettings{Enabled: true, SnapshotFrequency: "Six_Hours"},
		AccessAnalyzer: AccessAnalyzerSettings{Enabled: true},
	}
	if env == Staging {
		// Governance mode: an administrator can still clean up a staging account.
		a.CloudTrail = CloudTrailSettings{Enabled: true, LogRetentionDays: 90, ObjectLockMode: "governance", ObjectLockDays: 90}
		a.GuardDuty.FindingPublishingFrequency = "ONE_HOUR"
		a.Config.SnapshotFrequency = "TwentyFour_Hours"
	}
	return a
}

// minProdTrailDays is how long prod keeps its log files at least: a year of audit trail.
const minProdTrailDays = 365

func (a *AccountSecurity) validate(v *validator, env Environment) {
	const p = "accountSecurity."
	organisation := map[string]string{
		"cloudTrail": "an organisation trail", "guardDuty": "a delegated GuardDuty administrator",
		"securityHub": "a delegated Security Hub administrator", "config": "an organisation Config recorder",
		"accessAnalyzer": "an organisation analyzer",
	}
	for _, svc := range []struct {
		key string
		on  bool
	}{{"cloudTrail", a.CloudTrail.Enabled}, {"guardDuty", a.GuardDuty.Enabled}, {"securityHub", a.SecurityHub.Enabled},
		{"config", a.Config.Enabled}, {"accessAnalyzer", a.AccessAnalyzer.Enabled}} {
		if !svc.on {
			v.warnf(p+svc.key+".enabled", "off: this account relies on %s; make sure it covers this account and region", organisation[svc.key])
		}
	}

	if t := a.CloudTrail; t.Enabled {
		validateRetention(v, p+"cloudTrail.logRetentionDays", t.LogRetentionDays)
		if t.ObjectLockMode != "governance" && t.ObjectLockMode != "compliance" {
			v.errorf(p+"cloudTrail.objectLockMode", "%q is not governance or compliance", t.ObjectLockMode)
		}
		switch {
		case t.ObjectLockDays < 1 || t.ObjectLockDays > 36500:
			v.errorf(p+"cloudTrail.objectLockDays", "%d is outside 1 to 36500", t.ObjectLockDays)
		case env == Prod && t.ObjectLockDays < minProdTrailDays:
			v.errorf(p+"cloudTrail.objectLockDays", "%d: prod keeps its audit trail at least %d days", t.ObjectLockDays, minProdTrailDays)
		}
		if env == Prod && t.ObjectLockMode == "governance" {
			v.warnf(p+"cloudTrail.objectLockMode", "governance: principals with s3:BypassGovernanceRetention can delete prod audit logs")
		}
	}
	if g := a.GuardDuty; g.Enabled && !slices.Contains([]string{"FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"}, g.FindingPublishingFrequency) {
		v.errorf(p+"guardDuty.findingPublishingFrequency", "%q is not FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS", g.FindingPublishingFrequency)
	}
	if s := a.SecurityHub; s.Enabled {
		known := SecurityHubStandards()
		seen := map[string]bool{}
		for i, std := range s.Standards {
			setting := fmt.Sprintf("%ssecurityHub.standards[%d]", p, i)
			switch {
			case !slices.Contains(known, std):
				v.errorf(setting, "%q is not one of %s", std, strings.Join(known, ", "))
			case seen[std]:
				v.errorf(setting, "%s is listed twice", std)
			}
			seen[std] = true
		}
		cis := slices.ContainsFunc(s.Standards, func(s string) bool { return strings.HasPrefix(s, "cis-aws-foundations-benchmark/") })
		if !slices.Contains(s.Standards, FoundationalBestPractices) || !cis {
			v.errorf(p+"securityHub.standards", "must include %s and a CIS AWS Foundations Benchmark version (%s)", FoundationalBestPractices, CISBenchmark)
		}
	}
	if c := a.Config; c.Enabled && !slices.Contains([]string{"One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"}, c.SnapshotFrequency) {
		v.errorf(p+"config.snapshotFrequency", "%q is not One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours", c.SnapshotFrequency)
	}
}
