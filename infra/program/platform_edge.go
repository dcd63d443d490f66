package program

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/stacks"
)

// ManagedRuleGroups are the AWS managed rule groups of the api's web ACL, in priority order.
func ManagedRuleGroups() []string {
	return []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"}
}

// RateLimitRule is the name of the web ACL's rate-based rule.
const RateLimitRule = "rate-limit-per-ip"

// edge creates the WAFv2 web ACL the api-gateway's Ingress names (the load balancer controller
// associates it with the ALB), with its logs in a KMS-encrypted log group.
func edge(ctx *pulumi.Context, base string, s stacks.Settings, f *Foundation, in pulumi.ResourceOption) (pulumi.StringOutput, error) {
	visibility := func(metric string) wafv2.WebAclRuleVisibilityConfigArgs {
		return wafv2.WebAclRuleVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true), MetricName: pulumi.String(base + "-" + metric),
		}
	}
	var rules wafv2.WebAclRuleArray
	for i, group := range ManagedRuleGroups() {
		rules = append(rules, wafv2.WebAclRuleArgs{
			Name: pulumi.String(group), Priority: pulumi.Int(10 * (i + 1)),
			OverrideAction: wafv2.WebAclRuleOverrideActionArgs{None: wafv2.WebAclRuleOverrideActionNoneArgs{}},
			Statement: wafv2.WebAclRuleStatementArgs{ManagedRuleGroupStatement: wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs{
				Name: pulumi.String(group), VendorName: pulumi.String("AWS"),
			}},
			VisibilityConfig: visibility(group),
		})
	}
	rules = append(rules, wafv2.WebAclRuleArgs{
		Name: pulumi.String(RateLimitRule), Priority: pulumi.Int(10 * (len(ManagedRuleGroups()) + 1)),
		Action: wafv2.WebAclRuleActionArgs{Block: wafv2.WebAclRuleActionBlockArgs{}},
		Statement: wafv2.WebAclRuleStatementArgs{RateBasedStatement: wafv2.WebAclRuleStatementRateBasedStatementArgs{
			Limit: pulumi.Int(s.Edge.RateLimit), AggregateKeyType: pulumi.String("IP"), EvaluationWindowSec: pulumi.Int(300),
		}},
		VisibilityConfig: visibility(RateLimitRule),
	})
	acl, err := wafv2.NewWebAcl(ctx, base+"-api-waf", &wafv2.WebAclArgs{
		Name:          pulumi.String(base + "-api"),
		Description:   pulumi.String("CantonDEX api-gateway ALB"),
		Scope:         pulumi.String("REGIONAL"),
		DefaultAction: wafv2.WebAclDefaultActionArgs{Allow: wafv2.WebAclDefaultActionAllowArgs{}},
		Rules:         rules,
		VisibilityConfig: wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true), MetricName: pulumi.String(base + "-api"),
		},
		Tags: pulumi.ToStringMap(s.Tags),
	}, in)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// WAF requires the log group's name to start with aws-waf-logs-.
	logs, err := cloudwatch.NewLogGroup(ctx, base+"-api-waf-logs", &cloudwatch.LogGroupArgs{
		Name: pulumi.String("aws-waf-logs-" + base + "-api"), RetentionInDays: pulumi.Int(s.Edge.LogRetentionDays),
		KmsKeyId: f.LogsKeyARN, Tags: pulumi.ToStringMap(s.Tags),
	}, in)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	if _, err := wafv2.NewWebAclLoggingConfiguration(ctx, base+"-api-waf-logs", &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn: acl.Arn, LogDestinationConfigs: pulumi.StringArray{logs.Arn},
		// Credentials never reach the logs.
		RedactedFields: wafv2.WebAclLoggingConfigurationRedactedFieldArray{
			wafv2.WebAclLoggingConfigurationRedactedFieldArgs{SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String("authorization")}},
			wafv2.WebAclLoggingConfigurationRedactedFieldArgs{SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String("cookie")}},
		},
	}, in); err != nil {
		return pulumi.StringOutput{}, err
	}
	return acl.Arn, nil
}
