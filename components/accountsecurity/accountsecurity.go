// Package accountsecurity is the account's audit and threat-detection services: a multi-region
// CloudTrail trail (log file validation, a customer KMS key, an Object Lock bucket and a copy in
// CloudWatch Logs), a GuardDuty detector with EKS audit-log and runtime monitoring, Security Hub
// with the chosen standards, AWS Config recording every resource with managed rules that mirror
// the platform's policies, and an IAM Access Analyzer for the account.
//
// Each service can be left out (its Args nil or false) for an account where the organisation
// already runs it (an organisation trail, a delegated GuardDuty or Security Hub administrator,
// an organisation Config recorder): those services allow one per account and region.
package accountsecurity

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/internal/keys"
)

// AccountSecurity is the account's security services.
type AccountSecurity struct {
	pulumi.ResourceState

	// Every output is "" for a service left out.
	TrailARN          pulumi.StringOutput `pulumi:"trailArn"`
	TrailBucket       pulumi.StringOutput `pulumi:"trailBucket"`
	TrailLogGroup     pulumi.StringOutput `pulumi:"trailLogGroup"`
	TrailKeyARN       pulumi.StringOutput `pulumi:"trailKeyArn"`
	DetectorID        pulumi.StringOutput `pulumi:"detectorId"`
	ConfigRecorder    pulumi.StringOutput `pulumi:"configRecorder"`
	ConfigBucket      pulumi.StringOutput `pulumi:"configBucket"`
	AccessAnalyzerARN pulumi.StringOutput `pulumi:"accessAnalyzerArn"`
}

// AccountSecurityArgs configures the services; a nil service is left out.
type AccountSecurityArgs struct {
	// Prefix names the account-level resources (trail, buckets, recorder, analyzer): "cdx-prod".
	Prefix         string
	CloudTrail     *CloudTrailArgs
	GuardDuty      *GuardDutyArgs
	SecurityHub    *SecurityHubArgs
	Config         *ConfigArgs
	AccessAnalyzer bool
	Tags           map[string]string
}

// ObjectLockMode is the default retention mode of the trail bucket.
type ObjectLockMode string

const (
	// Governance lets principals with s3:BypassGovernanceRetention delete locked versions.
	Governance ObjectLockMode = "GOVERNANCE"
	// Compliance lets nobody, not even the account root, delete a version before it expires.
	Compliance ObjectLockMode = "COMPLIANCE"
)

// CloudTrailArgs configures the trail.
type CloudTrailArgs struct {
	// LogRetentionDays keeps the CloudWatch Logs copy (a CloudWatch retention period).
	LogRetentionDays int
	// ObjectLockMode and ObjectLockDays are the bucket's default retention of every log file.
	ObjectLockMode ObjectLockMode
	ObjectLockDays int
}

// GuardDutyArgs configures the detector.
type GuardDutyArgs struct {
	// FindingPublishingFrequency: FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS ("": FIFTEEN_MINUTES).
	FindingPublishingFrequency string
	// Features are the detector features turned on (nil: DefaultGuardDutyFeatures). EKS audit
	// logs and runtime monitoring (with the EKS add-on managed by GuardDuty) are always among them.
	Features []string
}

// SecurityHubArgs configures Security Hub.
type SecurityHubArgs struct {
	// Standards are standard paths as in their ARNs, "aws-foundational-security-best-practices/v/1.0.0"
	// (nil: DefaultStandards).
	Standards []string
}

// ConfigArgs configures AWS Config.
type ConfigArgs struct {
	// SnapshotFrequency of configuration snapshots: One_Hour, Three_Hours, Six_Hours,
	// Twelve_Hours or TwentyFour_Hours ("": TwentyFour_Hours).
	SnapshotFrequency string
	// Rules are the AWS managed rules evaluated (nil: DefaultConfigRules).
	Rules []ConfigRule
}

// ConfigRule is an AWS Config managed rule.
type ConfigRule struct {
	Name        string // the rule's name in the account
	Identifier  string // the managed rule's source identifier, e.g. CLOUD_TRAIL_ENABLED
	Description string
}

// Features the detector may turn on, and the two it always does.
const (
	EKSAuditLogs      = "EKS_AUDIT_LOGS"
	RuntimeMonitoring = "RUNTIME_MONITORING"
)

var guardDutyFeatures = []string{"S3_DATA_EVENTS", EKSAuditLogs, "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", RuntimeMonitoring}

// DefaultGuardDutyFeatures are GuardDutyArgs.Features when nil: EKS audit logs and runtime
// monitoring for the cluster, S3 data events for the buckets, RDS login events for the
// databases, EBS malware scans for the nodes.
func DefaultGuardDutyFeatures() []string {
	return []string{EKSAuditLogs, RuntimeMonitoring, "S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "EBS_MALWARE_PROTECTION"}
}

// DefaultStandards are SecurityHubArgs.Standards when nil.
func DefaultStandards() []string {
	return []string{"aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/3.0.0"}
}

// DefaultConfigRules are ConfigArgs.Rules when nil: the AWS managed rules that mirror the
// platform's policy rules (infra/policy), so drift made outside the program is reported too.
func DefaultConfigRules() []ConfigRule {
	return []ConfigRule{
		{"cloudtrail-enabled", "CLOUD_TRAIL_ENABLED", "a trail records the account's API calls"},
		{"multi-region-cloudtrail-enabled", "MULTI_REGION_CLOUD_TRAIL_ENABLED", "a trail covers every region"},
		{"cloud-trail-log-file-validation-enabled", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", "trail log files carry digests"},
		{"cloud-trail-encryption-enabled", "CLOUD_TRAIL_ENCRYPTION_ENABLED", "trail log files are KMS-encrypted"},
		{"guardduty-enabled-centralized", "GUARDDUTY_ENABLED_CENTRALIZED", "GuardDuty runs in the account"},
		{"rds-storage-encrypted", "RDS_STORAGE_ENCRYPTED", "RDS storage is encrypted"},
		{"rds-instance-public-access-check", "RDS_INSTANCE_PUBLIC_ACCESS_CHECK", "no RDS instance is publicly accessible"},
		{"s3-bucket-public-read-prohibited", "S3_BUCKET_PUBLIC_READ_PROHIBITED", "no bucket is publicly readable"},
		{"s3-bucket-public-write-prohibited", "S3_BUCKET_PUBLIC_WRITE_PROHIBITED", "no bucket is publicly writable"},
		{"s3-bucket-ssl-requests-only", "S3_BUCKET_SSL_REQUESTS_ONLY", "buckets refuse requests without TLS"},
		{"eks-secrets-encrypted", "EKS_SECRETS_ENCRYPTED", "EKS secrets are envelope-encrypted with KMS"},
		{"elasticache-repl-grp-encrypted-at-rest", "ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST", "Redis is encrypted at rest"},
		{"elasticache-repl-grp-encrypted-in-transit", "ELASTICACHE_REPL_GRP_ENCRYPTED_IN_TRANSIT", "Redis is encrypted in transit"},
		{"vpc-flow-logs-enabled", "VPC_FLOW_LOGS_ENABLED", "VPCs have flow logs"},
		{"vpc-default-security-group-closed", "VPC_DEFAULT_SECURITY_GROUP_CLOSED", "default security groups allow nothing"},
		{"cmk-backing-key-rotation-enabled", "CMK_BACKING_KEY_ROTATION_ENABLED", "customer KMS keys rotate"},
	}
}

var (
	prefixRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,28}[a-z0-9]$`)
	standardRE     = regexp.MustCompile(`^[a-z0-9-]+/v/[0-9]+\.[0-9]+\.[0-9]+$`)
	ruleNameRE     = regexp.MustCompile(`^[A-Za-z0-9-_]{1,128}$`)
	ruleSourceRE   = regexp.MustCompile(`^[A-Z0-9_]+$`)
	frequencies    = []string{"FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"}
	snapshotEvery  = []string{"One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"}
	logRetentionDs = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

func (g GuardDutyArgs) features() []string {
	if g.Features == nil {
		return DefaultGuardDutyFeatures()
	}
	return g.Features
}

func (s SecurityHubArgs) standards() []string {
	if s.Standards == nil {
		return DefaultStandards()
	}
	return s.Standards
}

func (c ConfigArgs) rules() []ConfigRule {
	if c.Rules == nil {
		return DefaultConfigRules()
	}
	return c.Rules
}

func (a AccountSecurityArgs) validate() error {
	var errs []error
	if !prefixRE.MatchString(a.Prefix) {
		errs = append(errs, fmt.Errorf("prefix: %q must be 2 to 30 lower-case letters, digits and hyphens (it names buckets)", a.Prefix))
	}
	if a.CloudTrail == nil && a.GuardDuty == nil && a.SecurityHub == nil && a.Config == nil && !a.AccessAnalyzer {
		errs = append(errs, errors.New("every service is left out: nothing to create"))
	}
	if t := a.CloudTrail; t != nil {
		if !slices.Contains(logRetentionDs, t.LogRetentionDays) {
			errs = append(errs, fmt.Errorf("cloud trail: log retention %d is not a CloudWatch Logs retention period", t.LogRetentionDays))
		}
		if t.ObjectLockMode != Governance && t.ObjectLockMode != Compliance {
			errs = append(errs, fmt.Errorf("cloud trail: object lock mode %q is not GOVERNANCE or COMPLIANCE", t.ObjectLockMode))
		}
		if t.ObjectLockDays < 1 || t.ObjectLockDays > 36500 {
			errs = append(errs, fmt.Errorf("cloud trail: object lock days %d is outside 1 to 36500", t.ObjectLockDays))
		}
	}
	if g := a.GuardDuty; g != nil {
		if f := g.FindingPublishingFrequency; f != "" && !slices.Contains(frequencies, f) {
			errs = append(errs, fmt.Errorf("guard duty: finding publishing frequency %q is not one of %s", f, strings.Join(frequencies, ", ")))
		}
		features := g.features()
		for _, f := range features {
			if !slices.Contains(guardDutyFeatures, f) {
				errs = append(errs, fmt.Errorf("guard duty: feature %q is not one of %s", f, strings.Join(guardDutyFeatures, ", ")))
			}
		}
		errs = append(errs, unique("guard duty: feature", features)...)
		for _, must := range []string{EKSAuditLogs, RuntimeMonitoring} {
			if !slices.Contains(features, must) {
				errs = append(errs, fmt.Errorf("guard duty: features must include %s (the EKS cluster's threat detection)", must))
			}
		}
	}
	if s := a.SecurityHub; s != nil {
		standards := s.standards()
		if len(standards) == 0 {
			errs = append(errs, errors.New("security hub: no standards; leave Standards nil for the defaults"))
		}
		for _, std := range standards {
			if !standardRE.MatchString(std) {
				errs = append(errs, fmt.Errorf("security hub: standard %q is not a path like aws-foundational-security-best-practices/v/1.0.0", std))
			}
		}
		errs = append(errs, unique("security hub: standard", standards)...)
	}
	if c := a.Config; c != nil {
		if f := c.SnapshotFrequency; f != "" && !slices.Contains(snapshotEvery, f) {
			errs = append(errs, fmt.Errorf("config: snapshot frequency %q is not one of %s", f, strings.Join(snapshotEvery, ", ")))
		}
		var names []string
		for _, r := range c.rules() {
			if !ruleNameRE.MatchString(r.Name) || !ruleSourceRE.MatchString(r.Identifier) {
				errs = append(errs, fmt.Errorf("config: rule %q (%q) needs a name and an AWS managed rule identifier like CLOUD_TRAIL_ENABLED", r.Name, r.Identifier))
			}
			names = append(names, r.Name)
		}
		errs = append(errs, unique("config: rule", names)...)
	}
	return errors.Join(errs...)
}

// unique reports the values listed more than once.
func unique(what string, values []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			errs = append(errs, fmt.Errorf("%s %s is listed twice", what, v))
		}
		seen[v] = true
	}
	return errs
}

// NewAccountSecurity creates the services args asks for.
func NewAccountSecurity(ctx *pulumi.Context, name string, args AccountSecurityArgs, opts ...pulumi.ResourceOption) (*AccountSecurity, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("account security %s: %w", name, err)
	}
	s := &AccountSecurity{}
	if err := ctx.RegisterComponentResource("cantondex:accountsecurity:AccountSecurity", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	env, err := keys.Lookup(ctx)
	if err != nil {
		return nil, err
	}
	none := pulumi.String("").ToStringOutput()
	s.TrailARN, s.TrailBucket, s.TrailLogGroup, s.TrailKeyARN = none, none, none, none
	s.DetectorID, s.ConfigRecorder, s.ConfigBucket, s.AccessAnalyzerARN = none, none, none, none

	if args.CloudTrail != nil {
		t, err := newTrail(ctx, name, args, env, parent)
		if err != nil {
			return nil, err
		}
		s.TrailARN, s.TrailBucket, s.TrailLogGroup, s.TrailKeyARN = t.arn, t.bucket, t.logGroup, t.keyARN
	}
	if args.GuardDuty != nil {
		if s.DetectorID, err = newDetector(ctx, name, *args.GuardDuty, args.Tags, parent); err != nil {
			return nil, err
		}
	}
	if args.SecurityHub != nil {
		if err := newSecurityHub(ctx, name, *args.SecurityHub, env, parent); err != nil {
			return nil, err
		}
	}
	if args.Config != nil {
		if s.ConfigRecorder, s.ConfigBucket, err = newConfig(ctx, name, args, env, parent); err != nil {
			return nil, err
		}
	}
	if args.AccessAnalyzer {
		if s.AccessAnalyzerARN, err = newAnalyzer(ctx, name, args, parent); err != nil {
			return nil, err
		}
	}
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"trailArn": s.TrailARN, "trailBucket": s.TrailBucket, "trailLogGroup": s.TrailLogGroup, "trailKeyArn": s.TrailKeyARN,
		"detectorId": s.DetectorID, "configRecorder": s.ConfigRecorder, "configBucket": s.ConfigBucket,
		"accessAnalyzerArn": s.AccessAnalyzerARN,
	})
}
