package accountsecurity

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// bucketSpec describes a private log bucket.
type bucketSpec struct {
	name       string // resource name
	bucket     string // the bucket's (global) name
	key        *kms.Key
	lock       *CloudTrailArgs // non-nil: Object Lock with its default retention
	statements func(bucketARN pulumi.StringOutput) []identity.Statement
	tags       map[string]string
}

// logBucket is a bucket with its policy resource, which writers must wait for.
type logBucket struct {
	bucket *s3.BucketV2
	policy *s3.BucketPolicy
}

// newLogBucket creates a private bucket for logs: ACLs disabled (bucket owner enforced), every
// public access blocked, versioned, encrypted with the customer key (bucket keys on), optionally
// under Object Lock, and a policy that refuses requests without TLS besides spec's statements.
func newLogBucket(ctx *pulumi.Context, spec bucketSpec, parent pulumi.ResourceOption) (logBucket, error) {
	b, err := s3.NewBucketV2(ctx, spec.name, &s3.BucketV2Args{
		Bucket:            pulumi.String(spec.bucket),
		ObjectLockEnabled: pulumi.Bool(spec.lock != nil),
		Tags:              pulumi.ToStringMap(spec.tags),
	}, parent)
	if err != nil {
		return logBucket{}, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, spec.name, &s3.BucketOwnershipControlsArgs{
		Bucket: b.ID(), Rule: s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return logBucket{}, err
	}
	pab, err := s3.NewBucketPublicAccessBlock(ctx, spec.name, &s3.BucketPublicAccessBlockArgs{
		Bucket: b.ID(), BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return logBucket{}, err
	}
	versioning, err := s3.NewBucketVersioningV2(ctx, spec.name, &s3.BucketVersioningV2Args{
		Bucket: b.ID(), VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, parent)
	if err != nil {
		return logBucket{}, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, spec.name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("aws:kms"), KmsMasterKeyId: spec.key.Arn,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, parent); err != nil {
		return logBucket{}, err
	}
	if l := spec.lock; l != nil {
		if _, err := s3.NewBucketObjectLockConfigurationV2(ctx, spec.name, &s3.BucketObjectLockConfigurationV2Args{
			Bucket: b.ID(),
			Rule: s3.BucketObjectLockConfigurationV2RuleArgs{DefaultRetention: s3.BucketObjectLockConfigurationV2RuleDefaultRetentionArgs{
				Mode: pulumi.String(string(l.ObjectLockMode)), Days: pulumi.Int(l.ObjectLockDays),
			}},
		}, parent, pulumi.DependsOn([]pulumi.Resource{versioning})); err != nil {
			return logBucket{}, err
		}
	}
	objects := pulumi.Sprintf("%s/*", b.Arn)
	statements := append(spec.statements(b.Arn), identity.Statement{
		Sid: "DenyInsecureTransport", Effect: identity.Deny, Principals: []identity.Principal{identity.AWSPrincipal(pulumi.String("*"))},
		Actions: []string{"s3:*"}, Resources: []pulumi.StringInput{b.Arn, objects},
		Conditions: []identity.Condition{{Test: "Bool", Variable: pulumi.String("aws:SecureTransport"), Values: identity.Strings("false")}},
	})
	// The policy waits for the public access block: S3 refuses a policy while the block is
	// being changed.
	policy, err := s3.NewBucketPolicy(ctx, spec.name, &s3.BucketPolicyArgs{
		Bucket: b.ID(), Policy: identity.Document{Statements: statements}.JSON(),
	}, parent, pulumi.DependsOn([]pulumi.Resource{pab}))
	if err != nil {
		return logBucket{}, err
	}
	return logBucket{bucket: b, policy: policy}, nil
}
