package accountsecurity

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cfg"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/keys"
)

// newConfig creates AWS Config: a recorder for every supported resource type, global ones
// (IAM) included, its role (the AWS managed AWS_ConfigRole plus writing to its own bucket and
// key), the delivery channel to an encrypted private bucket, the recorder turned on, and the
// managed rules.
func newConfig(ctx *pulumi.Context, name string, args AccountSecurityArgs, env keys.Env, parent pulumi.ResourceOption) (recorderName, bucketName pulumi.StringOutput, err error) {
	c := args.Config
	root := pulumi.String(fmt.Sprintf("arn:%s:iam::%s:root", env.Partition, env.Account))
	// The account administers the key through IAM; the recorder's role is granted its use below.
	key, err := identity.NewKey(ctx, name+"-config", identity.KeyArgs{Description: "AWS Config snapshots and history", AccountRoot: root, Tags: args.Tags}, parent)
	if err != nil {
		return recorderName, bucketName, err
	}
	bucket, err := newLogBucket(ctx, bucketSpec{
		name: name + "-config", bucket: fmt.Sprintf("%s-config-%s", args.Prefix, env.Account), key: key, tags: args.Tags,
		statements: func(pulumi.StringOutput) []identity.Statement { return nil },
	}, parent)
	if err != nil {
		return recorderName, bucketName, err
	}

	role, err := identity.NewRole(ctx, name+"-config", identity.RoleArgs{
		Description: "AWS Config records the account's resources",
		Trust: identity.Document{Statements: []identity.Statement{{
			Principals: []identity.Principal{identity.ServicePrincipal("config.amazonaws.com")}, Actions: []string{"sts:AssumeRole"},
			Conditions: []identity.Condition{{Test: "StringEquals", Variable: pulumi.String("aws:SourceAccount"), Values: identity.Strings(env.Account)}},
		}}},
		Managed: []string{fmt.Sprintf("arn:%s:iam::aws:policy/service-role/AWS_ConfigRole", env.Partition)},
		Tags:    args.Tags,
	}, parent)
	if err != nil {
		return recorderName, bucketName, err
	}
	arn := bucket.bucket.Arn
	// The delivery channel waits for this policy: AWS Config checks that it can write to the
	// bucket when the channel is created.
	deliver, err := iam.NewRolePolicy(ctx, name+"-config-delivery", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: identity.Document{Statements: []identity.Statement{
			{Sid: "BucketAcl", Actions: []string{"s3:GetBucketAcl", "s3:ListBucket"}, Resources: []pulumi.StringInput{arn}},
			{Sid: "Deliver", Actions: []string{"s3:PutObject", "s3:PutObjectAcl"}, Resources: []pulumi.StringInput{pulumi.Sprintf("%s/AWSLogs/%s/*", arn, env.Account)},
				Conditions: []identity.Condition{{Test: "StringEquals", Variable: pulumi.String("s3:x-amz-acl"), Values: identity.Strings("bucket-owner-full-control")}}},
			{Sid: "EncryptDeliveries", Actions: []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resources: []pulumi.StringInput{key.Arn}},
		}}.JSON(),
	}, parent)
	if err != nil {
		return recorderName, bucketName, err
	}

	recorder, err := cfg.NewRecorder(ctx, name, &cfg.RecorderArgs{
		Name:    pulumi.String(args.Prefix + "-recorder"),
		RoleArn: role.Arn,
		RecordingGroup: cfg.RecorderRecordingGroupArgs{
			AllSupported: pulumi.Bool(true), IncludeGlobalResourceTypes: pulumi.Bool(true),
		},
	}, parent)
	if err != nil {
		return recorderName, bucketName, err
	}
	frequency := c.SnapshotFrequency
	if frequency == "" {
		frequency = "TwentyFour_Hours"
	}
	channel, err := cfg.NewDeliveryChannel(ctx, name, &cfg.DeliveryChannelArgs{
		Name:                       pulumi.String(args.Prefix + "-delivery"),
		S3BucketName:               bucket.bucket.Bucket,
		S3KmsKeyArn:                key.Arn,
		SnapshotDeliveryProperties: cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs{DeliveryFrequency: pulumi.String(frequency)},
	}, parent, pulumi.DependsOn([]pulumi.Resource{recorder, deliver, bucket.policy}))
	if err != nil {
		return recorderName, bucketName, err
	}
	if _, err := cfg.NewRecorderStatus(ctx, name, &cfg.RecorderStatusArgs{
		Name: recorder.Name, IsEnabled: pulumi.Bool(true),
	}, parent, pulumi.DependsOn([]pulumi.Resource{channel})); err != nil {
		return recorderName, bucketName, err
	}
	for _, r := range c.rules() {
		if _, err := cfg.NewRule(ctx, name+"-"+r.Name, &cfg.RuleArgs{
			Name:        pulumi.String(r.Name),
			Description: pulumi.String(r.Description),
			Source:      cfg.RuleSourceArgs{Owner: pulumi.String("AWS"), SourceIdentifier: pulumi.String(r.Identifier)},
			Tags:        pulumi.ToStringMap(args.Tags),
		}, parent, pulumi.DependsOn([]pulumi.Resource{recorder})); err != nil {
			return recorderName, bucketName, err
		}
	}
	return recorder.Name, bucket.bucket.Bucket, nil
}
