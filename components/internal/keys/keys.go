// Package keys creates the customer-managed KMS keys of the data tier's components, the
// KMS-encrypted CloudWatch log groups and the generated secrets that use them.
package keys

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
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

// New creates a rotating customer key (identity.NewKey) the account administers and CloudWatch
// Logs and alarms of the region may use, and returns it with the environment it lives in.
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
	key, err := identity.NewKey(ctx, name, identity.KeyArgs{
		Description: description,
		AccountRoot: pulumi.String(fmt.Sprintf("arn:%s:iam::%s:root", env.Partition, env.Account)),
		Statements: []identity.Statement{
			identity.CloudWatchLogsKeyStatement(env.Partition, env.Region, pulumi.String(env.Account)),
			{Sid: "CloudWatchAlarmsPublish", Principals: []identity.Principal{identity.ServicePrincipal("cloudwatch.amazonaws.com")},
				Actions: []string{"kms:Decrypt", "kms:GenerateDataKey*"}, Resources: identity.Strings("*")},
		},
		Tags: tags,
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

// ReadSecret is the statement pair that lets a role read one secret encrypted with key.
func ReadSecret(secretARN, keyARN pulumi.StringInput) []identity.Statement {
	return []identity.Statement{
		{Sid: "ReadSecret", Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resources: []pulumi.StringInput{secretARN}},
		{Sid: "DecryptSecret", Actions: []string{"kms:Decrypt"}, Resources: []pulumi.StringInput{keyARN}},
	}
}

// Generate asks AWS for a random value (secretsmanager:GetRandomPassword, length characters,
// no punctuation), marked secret. The generator answers differently on every run, so every
// resource the value is passed to must ignore later changes of it: then it is generated once.
func Generate(ctx *pulumi.Context, length int, opts ...pulumi.ResourceOption) pulumi.StringOutput {
	var invoke []pulumi.InvokeOption
	for _, o := range opts {
		if io, ok := o.(pulumi.InvokeOption); ok {
			invoke = append(invoke, io)
		}
	}
	value := secretsmanager.GetRandomPasswordOutput(ctx, secretsmanager.GetRandomPasswordOutputArgs{
		PasswordLength:     pulumi.Int(length),
		ExcludePunctuation: pulumi.Bool(true),
	}, invoke...).RandomPassword()
	return pulumi.ToSecret(value).(pulumi.StringOutput)
}

// StoredSecret creates a secret encrypted with key whose first version holds content; later
// changes of content (a regenerated value) are ignored.
func StoredSecret(ctx *pulumi.Context, name, description string, key *kms.Key, content pulumi.StringInput, tags map[string]string, opts ...pulumi.ResourceOption) (*secretsmanager.Secret, error) {
	secret, err := secretsmanager.NewSecret(ctx, name, &secretsmanager.SecretArgs{
		Description: pulumi.String(description),
		KmsKeyId:    key.Arn,
		Tags:        pulumi.ToStringMap(tags),
	}, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := secretsmanager.NewSecretVersion(ctx, name, &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: pulumi.ToSecret(content).(pulumi.StringOutput),
	}, append(opts, pulumi.IgnoreChanges([]string{"secretString"}))...); err != nil {
		return nil, err
	}
	return secret, nil
}
