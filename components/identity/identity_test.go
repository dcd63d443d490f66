package identity

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func TestValidateRejectsStarOnStar(t *testing.T) {
	tests := []struct {
		name string
		doc  Document
		want string
	}{
		{"star on star", Document{Statements: []Statement{{Actions: []string{"*"}, Resources: Strings("*")}}}, "every action"},
		{"star with no resource", Document{Statements: []Statement{{Actions: []string{"*"}}}}, "every action"},
		{"no actions", Document{Statements: []Statement{{Resources: Strings("*")}}}, "no actions"},
		{"bad action", Document{Statements: []Statement{{Actions: []string{"GetObject"}, Resources: Strings("*")}}}, "service:Action"},
		{"empty", Document{}, "no statements"},
		{"bad effect", Document{Statements: []Statement{{Effect: "Maybe", Actions: []string{"s3:GetObject"}}}}, "effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, tt.doc.Validate(), tt.want)
		})
	}
	ok := []Document{
		{Statements: []Statement{{Actions: []string{"*"}, Resources: Strings("arn:aws:s3:::bucket/*")}}},
		{Statements: []Statement{{Effect: Deny, Actions: []string{"*"}, Resources: Strings("*")}}},
		{Statements: []Statement{{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: Strings("*")}}},
	}
	for i, d := range ok {
		assert.NoError(t, d.Validate(), "document %d", i)
	}
}

type policyDoc struct {
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func decode(t *testing.T, s string) policyDoc {
	t.Helper()
	var d policyDoc
	require.NoError(t, json.Unmarshal([]byte(s), &d), "policy %q", s)
	return d
}

func TestServiceAccountRoleTrustIsBoundToOneServiceAccount(t *testing.T) {
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewServiceAccountRole(ctx, "ebs-csi", ServiceAccountRoleArgs{
			OIDCProviderARN: pulumi.String("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"),
			OIDCProviderURL: pulumi.String("oidc.eks.us-east-1.amazonaws.com/id/ABC"),
			Namespace:       "kube-system", ServiceAccount: "ebs-csi-controller-sa",
			Policy:  &Document{Statements: []Statement{{Actions: []string{"ec2:CreateVolume"}, Resources: Strings("*")}}},
			Managed: []string{"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"},
		})
		return err
	})
	require.NoError(t, err)
	comp, ok := rec.Named("cantondex:identity:ServiceAccountRole", "ebs-csi")
	require.True(t, ok, "component not registered")
	role, ok := rec.Named("aws:iam/role:Role", "ebs-csi-role")
	require.True(t, ok, "role missing")
	require.Equal(t, comp.URN, role.Parent, "role not parented to the component: %+v", role)
	trust := decode(t, role.String("assumeRolePolicy"))
	require.Len(t, trust.Statement, 1, "trust = %+v", trust)
	st := trust.Statement[0]
	assert.Equal(t, "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC", st.Principal["Federated"], "principal = %v", st.Principal)
	assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st.Action, "action")
	eq := st.Condition["StringEquals"]
	assert.Equal(t, "system:serviceaccount:kube-system:ebs-csi-controller-sa", eq["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"], "sub condition = %v", eq)
	assert.Equal(t, "sts.amazonaws.com", eq["oidc.eks.us-east-1.amazonaws.com/id/ABC:aud"], "aud condition = %v", eq)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "ebs-csi-role-policy")
	if assert.True(t, ok, "inline policy missing") {
		assert.Equal(t, comp.URN, pol.Parent, "inline policy = %+v", pol)
		assert.Contains(t, pol.String("policy"), "ec2:CreateVolume", "inline policy = %+v", pol)
	}
	att, ok := rec.Named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ebs-csi-role-AmazonEBSCSIDriverPolicy")
	if assert.True(t, ok, "managed attachment missing") {
		assert.Equal(t, comp.URN, att.Parent, "managed attachment = %+v", att)
	}
}

func TestServiceAccountRoleArgsAreValidated(t *testing.T) {
	base := ServiceAccountRoleArgs{
		OIDCProviderARN: pulumi.String("arn"), OIDCProviderURL: pulumi.String("oidc.example/id/1"),
		Namespace: "cantondex", ServiceAccount: "api-gateway", Managed: []string{"arn:aws:iam::aws:policy/x"},
	}
	bad := map[string]func(a *ServiceAccountRoleArgs){
		"namespace":       func(a *ServiceAccountRoleArgs) { a.Namespace = "Not_A_Namespace" },
		"ServiceAccount":  func(a *ServiceAccountRoleArgs) { a.ServiceAccount = "" },
		"OIDCProviderURL": func(a *ServiceAccountRoleArgs) { a.OIDCProviderURL = pulumi.String("https://oidc.example/id/1") },
		"Policy":          func(a *ServiceAccountRoleArgs) { a.Managed = nil },
	}
	require.NoError(t, base.validate(), "base args invalid")
	for want, mutate := range bad {
		a := base
		mutate(&a)
		assert.ErrorContains(t, a.validate(), want, "%s: validate()", want)
	}
}

func TestIdentityRolesAndRotatingKeys(t *testing.T) {
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewIdentity(ctx, "cdx", IdentityArgs{AccountID: pulumi.String(mocks.Account), Region: "us-east-1", Tags: map[string]string{"project": "cantondex"}})
		return err
	})
	require.NoError(t, err)
	comp, _ := rec.Named("cantondex:identity:Identity", "cdx")
	keys := rec.OfType("aws:kms/key:Key")
	require.Len(t, keys, 3, "keys, want 3 (secrets, logs, storage)")
	for _, k := range keys {
		assert.True(t, k.Bool("enableKeyRotation"), "key %s: rotation", k.Name)
		assert.Equal(t, comp.URN, k.Parent, "key %s: parent", k.Name)
		assert.Equal(t, float64(30), k.Number("deletionWindowInDays"), "key %s: deletion window", k.Name)
	}
	logs, _ := rec.Named("aws:kms/key:Key", "cdx-logs")
	p := logs.String("policy")
	assert.Contains(t, p, "logs.us-east-1.amazonaws.com", "logs key policy does not admit CloudWatch Logs")
	assert.Contains(t, p, "arn:aws:iam::123456789012:root", "logs key policy does not admit the account")
	cluster, _ := rec.Named("aws:iam/role:Role", "cdx-cluster")
	assert.Contains(t, cluster.String("assumeRolePolicy"), "eks.amazonaws.com", "cluster role trust")
	node, _ := rec.Named("aws:iam/role:Role", "cdx-node")
	assert.Contains(t, node.String("assumeRolePolicy"), "ec2.amazonaws.com", "node role trust")
	var attached []string
	for _, a := range rec.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.Equal(t, comp.URN, a.Parent, "attachment %s not parented to the component", a.Name)
		attached = append(attached, a.Name)
	}
	for _, want := range []string{"cdx-cluster-AmazonEKSClusterPolicy", "cdx-node-AmazonEKSWorkerNodePolicy", "cdx-node-AmazonEC2ContainerRegistryReadOnly"} {
		assert.Contains(t, strings.Join(attached, ","), want, "missing attachment")
	}
	assert.NotContains(t, strings.Join(attached, ","), "CNI", "CNI policy attached to the node role (it belongs to the vpc-cni IRSA role)")
}

func TestAsymmetricKeyArgs(t *testing.T) {
	root := pulumi.String("arn:aws:iam::123456789012:root")
	require.NoError(t, KeyArgs{AccountRoot: root, KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"}.validate())
	assert.ErrorContains(t, KeyArgs{AccountRoot: root, KeySpec: "ECC_NIST_P256"}.validate(), "KeySpec and KeyUsage go together")
	assert.False(t, KeyArgs{KeySpec: "ECC_NIST_P256"}.symmetric())
	assert.True(t, KeyArgs{}.symmetric())
}
