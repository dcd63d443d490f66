// Package keys creates the customer-managed KMS keys of the data tier's components and the
// KMS-encrypted CloudWatch log groups that use them.
package keys

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/internal/iamdoc"
)

// Env is the account, partition and region a provider works in.
type Env struct {
	Account, Partition, Region string
}

// Lookup asks the provider of opts where it works.
func Lookup(ctx *pulumi.Context, opts ...pulumi.InvokeOption) (Env, error) {
	caller, err := aws.GetCallerIdentity(ctx, nil, opts...)
	if err != nil {
		return Env{}, err
	}
	partition, err := aws.GetPartition(ctx, nil, opts...)
	if err != nil {
		return Env{}, err
	}
	region, err := aws.GetRegion(ctx, nil, opts...)
	if err != nil {
		return Env{}, err
	}
	return Env{Account: caller.AccountId, Partition: partition.Partition, Region: region.Name}, nil
}

// New creates a rotating customer key the account administers and CloudWatch Logs and alarms
// of the region may use, and returns it with the environment it lives in.
func New(ctx *pulumi.Context, name, description string, tags map[string]string, opts ...pulumi.ResourceOption) (*kms.Key, Env, error) {
	var invoke []pulumi.InvokeOption
	for _, o := range opts {
		if io, ok := o.(pulumi.InvokeOption); ok {
			invoke = append(invoke, io)
		}
	}
	env, err := Lookup(ctx, invoke...)
	if err != nil {
		return nil, Env{}, err
	}
	key, err := kms.NewKey(ctx, name, &kms.KeyArgs{
		Description:       pulumi.String(description),
		EnableKeyRotation: pulumi.Bool(true),
		Policy:            pulumi.String(iamdoc.KeyPolicy(env.Partition, env.Region, env.Account).String()),
		Tags:              pulumi.ToStringMap(tags),
	}, opts...)
	return key, env, err
}

// LogGroup creates a log group encrypted with key.
func LogGroup(ctx *pulumi.Context, name, logName string, retentionDays int, key *kms.Key, tags map[string]string, opts ...pulumi.ResourceOption) (*cloudwatch.LogGroup, error) {
	return cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logName),
		RetentionInDays: pulumi.Int(retentionDays),
		KmsKeyId:        key.Arn,
		Tags:            pulumi.ToStringMap(tags),
	}, opts...)
}
