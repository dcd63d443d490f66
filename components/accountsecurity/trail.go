package accountsecurity

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudtrail"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/keys"
)

type trail struct {
	arn, bucket, logGroup, keyARN pulumi.StringOutput
}

// newTrail creates the multi-region trail: its KMS key (CloudTrail may encrypt with it for this
// trail only, CloudWatch Logs of the region may use it for the log group), the Object Lock
// bucket with the bucket policy CloudTrail documents, the KMS-encrypted log group and the role
// CloudTrail delivers to it with.
func newTrail(ctx *pulumi.Context, name string, args AccountSecurityArgs, env keys.Env, parent pulumi.ResourceOption) (trail, error) {
	t := args.CloudTrail
	trailName := args.Prefix + "-trail"
	// The trail's ARN is known from its name: the key and bucket policies name it before it exists.
	trailARN := fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", env.Partition, env.Region, env.Account, trailName)
	anyTrail := fmt.Sprintf("arn:%s:cloudtrail:*:%s:trail/*", env.Partition, env.Account)
	fromTrail := identity.Condition{Test: "StringEquals", Variable: pulumi.String("aws:SourceArn"), Values: identity.Strings(trailARN)}
	cloudTrail := []identity.Principal{identity.ServicePrincipal("cloudtrail.amazonaws.com")}

	key, err := identity.NewKey(ctx, name+"-trail", identity.KeyArgs{
		Description: "CloudTrail log files and their CloudWatch Logs copy",
		AccountRoot: pulumi.String(fmt.Sprintf("arn:%s:iam::%s:root", env.Partition, env.Account)),
		Statements: []identity.Statement{
			{Sid: "CloudTrailEncryptLogs", Principals: cloudTrail, Actions: []string{"kms:GenerateDataKey*"}, Resources: identity.Strings("*"),
				Conditions: []identity.Condition{fromTrail, {Test: "StringLike", Variable: pulumi.String("kms:EncryptionContext:aws:cloudtrail:arn"), Values: identity.Strings(anyTrail)}}},
			{Sid: "CloudTrailDescribeKey", Principals: cloudTrail, Actions: []string{"kms:DescribeKey"}, Resources: identity.Strings("*"),
				Conditions: []identity.Condition{fromTrail}},
			identity.CloudWatchLogsKeyStatement(env.Partition, env.Region, pulumi.String(env.Account)),
		},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return trail{}, err
	}

	bucket, err := newLogBucket(ctx, bucketSpec{
		name: name + "-trail", bucket: fmt.Sprintf("%s-trail-%s", args.Prefix, env.Account), key: key, lock: t, tags: args.Tags,
		statements: func(bucketARN pulumi.StringOutput) []identity.Statement {
			return []identity.Statement{
				{Sid: "AWSCloudTrailAclCheck", Principals: cloudTrail, Actions: []string{"s3:GetBucketAcl"},
					Resources: []pulumi.StringInput{bucketARN}, Conditions: []identity.Condition{fromTrail}},
				{Sid: "AWSCloudTrailWrite", Principals: cloudTrail, Actions: []string{"s3:PutObject"},
					Resources:  []pulumi.StringInput{pulumi.Sprintf("%s/AWSLogs/%s/*", bucketARN, env.Account)},
					Conditions: []identity.Condition{fromTrail, {Test: "StringEquals", Variable: pulumi.String("s3:x-amz-acl"), Values: identity.Strings("bucket-owner-full-control")}}},
			}
		},
	}, parent)
	if err != nil {
		return trail{}, err
	}

	logs, err := keys.LogGroup(ctx, name+"-trail", "/aws/cloudtrail/"+trailName, t.LogRetentionDays, key, args.Tags, parent)
	if err != nil {
		return trail{}, err
	}
	role, err := identity.NewRole(ctx, name+"-trail-logs", identity.RoleArgs{
		Description: "CloudTrail delivers " + trailName + " to CloudWatch Logs",
		// The trust of the role CloudTrail documents (CloudTrail_CloudWatchLogs_Role): CloudTrail
		// documents no source condition for it; the role can only write to this log group.
		Trust: identity.Document{Statements: []identity.Statement{{Principals: cloudTrail, Actions: []string{"sts:AssumeRole"}}}},
		Tags:  args.Tags,
	}, parent)
	if err != nil {
		return trail{}, err
	}
	// The trail waits for this policy: CloudTrail checks that the role can write when the trail
	// is created.
	deliver, err := iam.NewRolePolicy(ctx, name+"-trail-logs", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: identity.Document{Statements: []identity.Statement{{
			Sid: "DeliverToLogGroup", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
			Resources: []pulumi.StringInput{pulumi.Sprintf("%s:log-stream:*", logs.Arn)},
		}}}.JSON(),
	}, parent)
	if err != nil {
		return trail{}, err
	}

	tr, err := cloudtrail.NewTrail(ctx, name, &cloudtrail.TrailArgs{
		Name:                       pulumi.String(trailName),
		S3BucketName:               bucket.bucket.Bucket,
		IsMultiRegionTrail:         pulumi.Bool(true),
		IncludeGlobalServiceEvents: pulumi.Bool(true),
		EnableLogFileValidation:    pulumi.Bool(true),
		EnableLogging:              pulumi.Bool(true),
		KmsKeyId:                   key.Arn,
		CloudWatchLogsGroupArn:     pulumi.Sprintf("%s:*", logs.Arn),
		CloudWatchLogsRoleArn:      role.Arn,
		Tags:                       pulumi.ToStringMap(args.Tags),
	}, parent, pulumi.DependsOn([]pulumi.Resource{bucket.policy, deliver}))
	if err != nil {
		return trail{}, err
	}
	return trail{arn: tr.Arn, bucket: bucket.bucket.Bucket, logGroup: logs.Name, keyARN: key.Arn}, nil
}
