package identity

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AWS managed policies the cluster and its nodes need (the minimum EKS documents); no caller
// adds to them: workloads get permissions through their own IRSA roles.
var (
	clusterManagedPolicies = []string{
		"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
		"arn:aws:iam::aws:policy/AmazonEKSVPCResourceController",
	}
	// nodeManagedPolicies leaves out AmazonEKS_CNI_Policy: the VPC CNI gets it through its own
	// IRSA role, so pods on the node cannot use it.
	nodeManagedPolicies = []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
		"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
	}
)

// Identity is the cluster's IAM roles and the platform's KMS keys.
type Identity struct {
	pulumi.ResourceState

	ClusterRole    *iam.Role
	ClusterRoleARN pulumi.StringOutput `pulumi:"clusterRoleArn"`
	NodeRole       *iam.Role
	NodeRoleARN    pulumi.StringOutput `pulumi:"nodeRoleArn"`
	NodeRoleName   pulumi.StringOutput `pulumi:"nodeRoleName"`
	// SecretsKeyARN encrypts Kubernetes secrets in etcd.
	SecretsKeyARN pulumi.StringOutput `pulumi:"secretsKeyArn"`
	// LogsKeyARN encrypts CloudWatch log groups (flow logs, control-plane logs).
	LogsKeyARN pulumi.StringOutput `pulumi:"logsKeyArn"`
	// StorageKeyARN encrypts the nodes' EBS volumes.
	StorageKeyARN pulumi.StringOutput `pulumi:"storageKeyArn"`
}

// IdentityArgs configures Identity.
type IdentityArgs struct {
	AccountID pulumi.StringInput
	Region    string
	Partition string // "aws" when empty
	Tags      map[string]string
}

func (a IdentityArgs) validate() error {
	var errs []error
	if a.AccountID == nil {
		errs = append(errs, errors.New("AccountID is required"))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required"))
	}
	return errors.Join(errs...)
}

// NewIdentity creates the cluster role, the node role and the platform's KMS keys.
func NewIdentity(ctx *pulumi.Context, name string, args IdentityArgs, opts ...pulumi.ResourceOption) (*Identity, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("identity %s: %w", name, err)
	}
	if args.Partition == "" {
		args.Partition = "aws"
	}
	id := &Identity{}
	if err := ctx.RegisterComponentResource("cantondex:identity:Identity", name, id, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(id)

	clusterRole, err := NewRole(ctx, name+"-cluster", RoleArgs{
		Description: "EKS control plane",
		Trust:       Document{Statements: []Statement{{Principals: []Principal{ServicePrincipal("eks.amazonaws.com")}, Actions: []string{"sts:AssumeRole", "sts:TagSession"}}}},
		Managed:     clusterManagedPolicies,
		Tags:        args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	nodeRole, err := NewRole(ctx, name+"-node", RoleArgs{
		Description: "EKS managed node groups",
		Trust:       Document{Statements: []Statement{{Principals: []Principal{ServicePrincipal("ec2.amazonaws.com")}, Actions: []string{"sts:AssumeRole"}}}},
		Managed:     nodeManagedPolicies,
		Tags:        args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	root := pulumi.Sprintf("arn:%s:iam::%s:root", args.Partition, args.AccountID)
	secrets, err := NewKey(ctx, name+"-secrets", KeyArgs{
		Description: "EKS secrets envelope encryption", AccountRoot: root, Tags: args.Tags,
		// The cluster role uses the key through the EKS service.
		Statements: []Statement{{
			Sid: "EKSUse", Principals: []Principal{AWSPrincipal(clusterRole.Arn)},
			Actions: []string{"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"}, Resources: Strings("*"),
		}},
	}, parent)
	if err != nil {
		return nil, err
	}
	logs, err := NewKey(ctx, name+"-logs", KeyArgs{
		Description: "CloudWatch Logs encryption", AccountRoot: root, Tags: args.Tags,
		Statements: []Statement{CloudWatchLogsKeyStatement(args.Partition, args.Region, args.AccountID)},
	}, parent)
	if err != nil {
		return nil, err
	}
	// Auto Scaling launches the managed nodes, so its service-linked role needs the EBS key.
	autoscaling := pulumi.Sprintf("arn:%s:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", args.Partition, args.AccountID)
	storage, err := NewKey(ctx, name+"-storage", KeyArgs{
		Description: "EKS node volume encryption", AccountRoot: root, Tags: args.Tags,
		Statements: []Statement{
			{
				Sid: "AutoScalingUse", Principals: []Principal{AWSPrincipal(autoscaling)},
				Actions:   []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
				Resources: Strings("*"),
			},
			{
				Sid: "AutoScalingGrants", Principals: []Principal{AWSPrincipal(autoscaling)},
				Actions: []string{"kms:CreateGrant"}, Resources: Strings("*"),
				Conditions: []Condition{{Test: "Bool", Variable: pulumi.String("kms:GrantIsForAWSResource"), Values: Strings("true")}},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	id.ClusterRole, id.ClusterRoleARN = clusterRole, clusterRole.Arn
	id.NodeRole, id.NodeRoleARN, id.NodeRoleName = nodeRole, nodeRole.Arn, nodeRole.Name
	id.SecretsKeyARN, id.LogsKeyARN, id.StorageKeyARN = secrets.Arn, logs.Arn, storage.Arn
	return id, ctx.RegisterResourceOutputs(id, pulumi.Map{
		"clusterRoleArn": id.ClusterRoleARN, "nodeRoleArn": id.NodeRoleARN, "nodeRoleName": id.NodeRoleName,
		"secretsKeyArn": id.SecretsKeyARN, "logsKeyArn": id.LogsKeyARN, "storageKeyArn": id.StorageKeyARN,
	})
}

// CloudWatchLogsKeyStatement lets CloudWatch Logs of one region use a key for the account's
// log groups (for KeyArgs.Statements of a key that encrypts log groups).
func CloudWatchLogsKeyStatement(partition, region string, account pulumi.StringInput) Statement {
	return Statement{
		Sid: "CloudWatchLogs", Principals: []Principal{ServicePrincipal("logs." + region + ".amazonaws.com")},
		Actions:   []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
		Resources: Strings("*"),
		Conditions: []Condition{{
			Test: "ArnLike", Variable: pulumi.String("kms:EncryptionContext:aws:logs:arn"),
			Values: []pulumi.StringInput{pulumi.Sprintf("arn:%s:logs:%s:%s:*", partition, region, account)},
		}},
	}
}

// RoleArgs describes an IAM role.
type RoleArgs struct {
	Description string
	Trust       Document
	// Policy is the role's inline least-privilege policy (optional).
	Policy *Document
	// Managed are AWS managed policy ARNs to attach.
	Managed []string
	Tags    map[string]string
}

func (a RoleArgs) validate() error {
	var errs []error
	if err := a.Trust.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("trust policy: %w", err))
	}
	if a.Policy != nil {
		if err := a.Policy.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("policy: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NewRole creates a role named name with its inline policy (name-policy) and one attachment per
// managed policy (name-<policy name>). Pass pulumi.Parent to place it under a component.
func NewRole(ctx *pulumi.Context, name string, args RoleArgs, opts ...pulumi.ResourceOption) (*iam.Role, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("role %s: %w", name, err)
	}
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      pulumi.String(args.Description),
		AssumeRolePolicy: args.Trust.JSON(),
		Tags:             pulumi.ToStringMap(args.Tags),
	}, opts...)
	if err != nil {
		return nil, err
	}
	if args.Policy != nil {
		if _, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
			Role: role.ID(), Policy: args.Policy.JSON(),
		}, opts...); err != nil {
			return nil, err
		}
	}
	for _, arn := range args.Managed {
		short := arn[strings.LastIndex(arn, "/")+1:]
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-"+short, &iam.RolePolicyAttachmentArgs{
			Role: role.Name, PolicyArn: pulumi.String(arn),
		}, opts...); err != nil {
			return nil, err
		}
	}
	return role, nil
}

// KeyArgs describes a customer-managed KMS key.
type KeyArgs struct {
	Description string
	// AccountRoot is the account's root ARN; the account administers the key through IAM.
	AccountRoot pulumi.StringInput
	// Statements grant services or roles the use of the key.
	Statements []Statement
	// DeletionWindowDays before a scheduled deletion happens (7–30, default 30).
	DeletionWindowDays int
	// KeySpec and KeyUsage make an asymmetric key (e.g. ECC_NIST_P256 and SIGN_VERIFY);
	// unset, the key is SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT. KMS rotates symmetric keys
	// only, so an asymmetric key has rotation off.
	KeySpec  string
	KeyUsage string
	Tags     map[string]string
}

// symmetric reports whether the key is SYMMETRIC_DEFAULT (the only spec KMS rotates).
func (a KeyArgs) symmetric() bool { return a.KeySpec == "" || a.KeySpec == "SYMMETRIC_DEFAULT" }

// deletionWindow is DeletionWindowDays, 30 when unset.
func (a KeyArgs) deletionWindow() int {
	if a.DeletionWindowDays == 0 {
		return 30
	}
	return a.DeletionWindowDays
}

// policy is the key policy: the account administers the key, a.Statements grant its use.
func (a KeyArgs) policy() Document {
	return Document{Statements: append([]Statement{{
		Sid: "AccountAdministers", Principals: []Principal{AWSPrincipal(a.AccountRoot)},
		Actions: []string{"kms:*"}, Resources: Strings("*"),
	}}, a.Statements...)}
}

func (a KeyArgs) validate() error {
	var errs []error
	if a.AccountRoot == nil {
		errs = append(errs, errors.New("AccountRoot is required"))
	}
	if w := a.deletionWindow(); w < 7 || w > 30 {
		errs = append(errs, fmt.Errorf("DeletionWindowDays %d is outside 7 to 30", w))
	}
	if err := a.policy().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	if (a.KeySpec == "") != (a.KeyUsage == "") {
		errs = append(errs, errors.New("KeySpec and KeyUsage go together"))
	}
	return errors.Join(errs...)
}

// NewKey creates a KMS key, with rotation on when it is symmetric, and an alias alias/<name>.
func NewKey(ctx *pulumi.Context, name string, args KeyArgs, opts ...pulumi.ResourceOption) (*kms.Key, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	window := args.deletionWindow()
	policy := args.policy()
	ka := &kms.KeyArgs{
		Description:          pulumi.String(args.Description),
		EnableKeyRotation:    pulumi.Bool(args.symmetric()),
		DeletionWindowInDays: pulumi.Int(window),
		Policy:               policy.JSON(),
		Tags:                 pulumi.ToStringMap(args.Tags),
	}
	if args.KeySpec != "" {
		ka.CustomerMasterKeySpec, ka.KeyUsage = pulumi.String(args.KeySpec), pulumi.String(args.KeyUsage)
	}
	key, err := kms.NewKey(ctx, name, ka, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name+"-alias", &kms.AliasArgs{
		Name: pulumi.String("alias/" + name), TargetKeyId: key.KeyId,
	}, opts...); err != nil {
		return nil, err
	}
	return key, nil
}

// ServiceAccountRole is an IAM role that exactly one Kubernetes service account can assume
// through the cluster's OIDC provider (IRSA).
type ServiceAccountRole struct {
	pulumi.ResourceState

	RoleARN  pulumi.StringOutput `pulumi:"roleArn"`
	RoleName pulumi.StringOutput `pulumi:"roleName"`
}

// ServiceAccountRoleArgs configures a ServiceAccountRole.
type ServiceAccountRoleArgs struct {
	OIDCProviderARN pulumi.StringInput
	// OIDCProviderURL is the issuer without "https://" (oidc.eks.<region>.amazonaws.com/id/...).
	OIDCProviderURL pulumi.StringInput
	Namespace       string
	ServiceAccount  string
	// Policy is what the service account may do, as narrowly as the service needs.
	Policy *Document
	// Managed are AWS managed policies (for AWS's own add-ons, such as the EBS CSI driver).
	Managed []string
	Tags    map[string]string
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (a ServiceAccountRoleArgs) validate() error {
	var errs []error
	if a.OIDCProviderARN == nil || a.OIDCProviderURL == nil {
		errs = append(errs, errors.New("OIDCProviderARN and OIDCProviderURL are required"))
	}
	if u, ok := a.OIDCProviderURL.(pulumi.String); ok && strings.Contains(string(u), "://") {
		errs = append(errs, fmt.Errorf("OIDCProviderURL %q must not carry a scheme", string(u)))
	}
	if !dnsLabel.MatchString(a.Namespace) || len(a.Namespace) > 63 {
		errs = append(errs, fmt.Errorf("namespace: %q is not a Kubernetes namespace name", a.Namespace))
	}
	if a.ServiceAccount == "" || len(a.ServiceAccount) > 253 || strings.ContainsAny(a.ServiceAccount, " */:") {
		errs = append(errs, fmt.Errorf("ServiceAccount %q is not a service account name", a.ServiceAccount))
	}
	if a.Policy == nil && len(a.Managed) == 0 {
		errs = append(errs, errors.New("a Policy or Managed policies are required"))
	}
	return errors.Join(errs...)
}

// NewServiceAccountRole creates the role for namespace/serviceAccount: its trust policy lets
// only that service account (sub) assume it, only for STS (aud).
func NewServiceAccountRole(ctx *pulumi.Context, name string, args ServiceAccountRoleArgs, opts ...pulumi.ResourceOption) (*ServiceAccountRole, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("service account role %s: %w", name, err)
	}
	r := &ServiceAccountRole{}
	if err := ctx.RegisterComponentResource("cantondex:identity:ServiceAccountRole", name, r, opts...); err != nil {
		return nil, err
	}
	trust := Document{Statements: []Statement{{
		Principals: []Principal{FederatedPrincipal(args.OIDCProviderARN)},
		Actions:    []string{"sts:AssumeRoleWithWebIdentity"},
		Conditions: []Condition{
			{Test: "StringEquals", Variable: pulumi.Sprintf("%s:sub", args.OIDCProviderURL),
				Values: Strings("system:serviceaccount:" + args.Namespace + ":" + args.ServiceAccount)},
			{Test: "StringEquals", Variable: pulumi.Sprintf("%s:aud", args.OIDCProviderURL), Values: Strings("sts.amazonaws.com")},
		},
	}}}
	role, err := NewRole(ctx, name+"-role", RoleArgs{
		Description: fmt.Sprintf("IRSA for %s/%s", args.Namespace, args.ServiceAccount),
		Trust:       trust, Policy: args.Policy, Managed: args.Managed, Tags: args.Tags,
	}, pulumi.Parent(r))
	if err != nil {
		return nil, err
	}
	r.RoleARN, r.RoleName = role.Arn, role.Name
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"roleArn": r.RoleARN, "roleName": r.RoleName})
}
