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

// GeneratedSecret is a secret whose value AWS generates once (secretsmanager:GetRandomPassword,
// length characters, no punctuation) and the program never changes again: the secret version
// ignores later answers of the generator, and so must every resource the value is passed to.
// render turns the generated value into the secret's content (a JSON document, or the value
// itself when nil). It returns the secret and the generated value, marked secret.
func GeneratedSecret(ctx *pulumi.Context, name, description string, length int, key *kms.Key, render func(value string) string, tags map[string]string, opts ...pulumi.ResourceOption) (*secretsmanager.Secret, pulumi.StringOutput, error) {
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
	value = pulumi.ToSecret(value).(pulumi.StringOutput)
	secret, err := secretsmanager.NewSecret(ctx, name, &secretsmanager.SecretArgs{
		Description: pulumi.String(description),
		KmsKeyId:    key.Arn,
		Tags:        pulumi.ToStringMap(tags),
	}, opts...)
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	content := value
	if render != nil {
		content = pulumi.ToSecret(value.ApplyT(render)).(pulumi.StringOutput)
	}
	if _, err := secretsmanager.NewSecretVersion(ctx, name, &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: content,
	}, append(opts, pulumi.IgnoreChanges([]string{"secretString"}))...); err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	return secret, value, nil
}
