package program

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/accountsecurity"
	"github.com/cantondex/platform/stacks"
)

// accountSecurity deploys the account's audit and threat-detection services from the
// cantondex:accountSecurity settings; a service the settings turn off (the organisation runs
// it) is left out, and nothing is created when all are.
func accountSecurity(ctx *pulumi.Context, s stacks.Settings) (*accountsecurity.AccountSecurity, error) {
	args := accountSecurityArgs(s)
	if args.CloudTrail == nil && args.GuardDuty == nil && args.SecurityHub == nil && args.Config == nil && !args.AccessAnalyzer {
		return nil, ctx.Log.Warn("account security skipped: every service is turned off in cantondex:accountSecurity", nil)
	}
	sec, err := accountsecurity.NewAccountSecurity(ctx, "cdx-"+string(s.Environment)+"-security", args)
	if err != nil {
		return nil, err
	}
	ctx.Export("accountSecurity.trailArn", sec.TrailARN)
	ctx.Export("accountSecurity.trailBucket", sec.TrailBucket)
	ctx.Export("accountSecurity.guardDutyDetectorId", sec.DetectorID)
	ctx.Export("accountSecurity.configBucket", sec.ConfigBucket)
	ctx.Export("accountSecurity.accessAnalyzerArn", sec.AccessAnalyzerARN)
	return sec, nil
}

// accountSecurityArgs translates the settings into the component's arguments.
func accountSecurityArgs(s stacks.Settings) accountsecurity.AccountSecurityArgs {
	a := s.AccountSecurity
	args := accountsecurity.AccountSecurityArgs{Prefix: "cdx-" + string(s.Environment), AccessAnalyzer: a.AccessAnalyzer.Enabled, Tags: s.Tags}
	if t := a.CloudTrail; t.Enabled {
		args.CloudTrail = &accountsecurity.CloudTrailArgs{
			LogRetentionDays: t.LogRetentionDays,
			ObjectLockMode:   accountsecurity.ObjectLockMode(strings.ToUpper(t.ObjectLockMode)),
			ObjectLockDays:   t.ObjectLockDays,
		}
	}
	if g := a.GuardDuty; g.Enabled {
		args.GuardDuty = &accountsecurity.GuardDutyArgs{FindingPublishingFrequency: g.FindingPublishingFrequency}
	}
	if h := a.SecurityHub; h.Enabled {
		args.SecurityHub = &accountsecurity.SecurityHubArgs{Standards: h.Standards}
	}
	if c := a.Config; c.Enabled {
		args.Config = &accountsecurity.ConfigArgs{SnapshotFrequency: c.SnapshotFrequency}
	}
	return args
}
