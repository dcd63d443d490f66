package accountsecurity

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/accessanalyzer"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/guardduty"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/securityhub"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/internal/keys"
)

// newDetector creates the GuardDuty detector with its features as separate resources (the
// detector's datasources block is deprecated). Runtime monitoring lets GuardDuty manage its
// security agent as an EKS add-on.
func newDetector(ctx *pulumi.Context, name string, g GuardDutyArgs, tags map[string]string, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	frequency := g.FindingPublishingFrequency
	if frequency == "" {
		frequency = "FIFTEEN_MINUTES"
	}
	d, err := guardduty.NewDetector(ctx, name, &guardduty.DetectorArgs{
		Enable:                     pulumi.Bool(true),
		FindingPublishingFrequency: pulumi.String(frequency),
		Tags:                       pulumi.ToStringMap(tags),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	for _, f := range g.features() {
		var extra guardduty.DetectorFeatureAdditionalConfigurationArray
		if f == RuntimeMonitoring {
			extra = guardduty.DetectorFeatureAdditionalConfigurationArray{guardduty.DetectorFeatureAdditionalConfigurationArgs{
				Name: pulumi.String("EKS_ADDON_MANAGEMENT"), Status: pulumi.String("ENABLED"),
			}}
		}
		if _, err := guardduty.NewDetectorFeature(ctx, name+"-"+strings.ToLower(strings.ReplaceAll(f, "_", "-")), &guardduty.DetectorFeatureArgs{
			DetectorId: d.ID(), Name: pulumi.String(f), Status: pulumi.String("ENABLED"), AdditionalConfigurations: extra,
		}, parent); err != nil {
			return pulumi.StringOutput{}, err
		}
	}
	return d.ID().ToStringOutput(), nil
}

// standardARN is a Security Hub standard's ARN: regional, except the CIS 1.2.0 ruleset.
func standardARN(env keys.Env, standard string) string {
	if standard == "cis-aws-foundations-benchmark/v/1.2.0" {
		return fmt.Sprintf("arn:%s:securityhub:::ruleset/%s", env.Partition, standard)
	}
	return fmt.Sprintf("arn:%s:securityhub:%s::standards/%s", env.Partition, env.Region, standard)
}

// newSecurityHub enables Security Hub without its default standards and subscribes exactly the
// chosen ones, with consolidated control findings.
func newSecurityHub(ctx *pulumi.Context, name string, s SecurityHubArgs, env keys.Env, parent pulumi.ResourceOption) error {
	account, err := securityhub.NewAccount(ctx, name, &securityhub.AccountArgs{
		EnableDefaultStandards:  pulumi.Bool(false),
		AutoEnableControls:      pulumi.Bool(true),
		ControlFindingGenerator: pulumi.String("SECURITY_CONTROL"),
	}, parent)
	if err != nil {
		return err
	}
	for _, std := range s.standards() {
		short := std[:strings.Index(std, "/v/")] + "-" + strings.ReplaceAll(std[strings.Index(std, "/v/")+3:], ".", "-")
		if _, err := securityhub.NewStandardsSubscription(ctx, name+"-"+short, &securityhub.StandardsSubscriptionArgs{
			StandardsArn: pulumi.String(standardARN(env, std)),
		}, parent, pulumi.DependsOn([]pulumi.Resource{account})); err != nil {
			return err
		}
	}
	return nil
}

// newAnalyzer creates the account's IAM Access Analyzer (external access findings).
func newAnalyzer(ctx *pulumi.Context, name string, args AccountSecurityArgs, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	a, err := accessanalyzer.NewAnalyzer(ctx, name, &accessanalyzer.AnalyzerArgs{
		AnalyzerName: pulumi.String(args.Prefix + "-account"),
		Type:         pulumi.String("ACCOUNT"),
		Tags:         pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return a.Arn, nil
}
