package identity

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
			err := tt.doc.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	ok := []Document{
		{Statements: []Statement{{Actions: []string{"*"}, Resources: Strings("arn:aws:s3:::bucket/*")}}},
		{Statements: []Statement{{Effect: Deny, Actions: []string{"*"}, Resources: Strings("*")}}},
		{Statements: []Statement{{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: Strings("*")}}},
	}
	for i, d := range ok {
		if err := d.Validate(); err != nil {
			t.Errorf("document %d: %v", i, err)
		}
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
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("policy %q: %v", s, err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	comp, ok := rec.Named("cantondex:identity:ServiceAccountRole", "ebs-csi")
	if !ok {
		t.Fatal("component not registered")
	}
	role, ok := rec.Named("aws:iam/role:Role", "ebs-csi-role")
	if !ok || role.Parent != comp.URN {
		t.Fatalf("role missing or not parented to the component: %+v", role)
	}
	trust := decode(t, role.String("assumeRolePolicy"))
	if len(trust.Statement) != 1 {
		t.Fatalf("trust = %+v", trust)
	}
	st := trust.Statement[0]
	if st.Principal["Federated"] != "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC" {
		t.Errorf("principal = %v", st.Principal)
	}
	if st.Action != "sts:AssumeRoleWithWebIdentity" {
		t.Errorf("action = %v", st.Action)
	}
	eq := st.Condition["StringEquals"]
	if eq["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"] != "system:serviceaccount:kube-system:ebs-csi-controller-sa" {
		t.Errorf("sub condition = %v", eq)
	}
	if eq["oidc.eks.us-east-1.amazonaws.com/id/ABC:aud"] != "sts.amazonaws.com" {
		t.Errorf("aud condition = %v", eq)
	}
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "ebs-csi-role-policy")
	if !ok || pol.Parent != comp.URN || !strings.Contains(pol.String("policy"), "ec2:CreateVolume") {
		t.Errorf("inline policy = %+v", pol)
	}
	att, ok := rec.Named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ebs-csi-role-AmazonEBSCSIDriverPolicy")
	if !ok || att.Parent != comp.URN {
		t.Errorf("managed attachment = %+v", att)
	}
}

func TestServiceAccountRoleArgsAreValidated(t *testing.T) {
	base := ServiceAccountRoleArgs{
		OIDCProviderARN: pulumi.String("arn"), OIDCProviderURL: pulumi.String("oidc.example/id/1"),
		Namespace: "cantondex", ServiceAccount: "api-gateway", Managed: []string{"arn:aws:iam::aws:policy/x"},
	}
	bad := map[string]func(a *ServiceAccountRoleArgs){
		"Namespace":       func(a *ServiceAccountRoleArgs) { a.Namespace = "Not_A_Namespace" },
		"ServiceAccount":  func(a *ServiceAccountRoleArgs) { a.ServiceAccount = "" },
		"OIDCProviderURL": func(a *ServiceAccountRoleArgs) { a.OIDCProviderURL = pulumi.String("https://oidc.example/id/1") },
		"Policy":          func(a *ServiceAccountRoleArgs) { a.Managed = nil },
	}
	if err := base.validate(); err != nil {
		t.Fatalf("base args invalid: %v", err)
	}
	for want, mutate := range bad {
		a := base
		mutate(&a)
		if err := a.validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: validate() = %v", want, err)
		}
	}
}

func TestIdentityRolesAndRotatingKeys(t *testing.T) {
	rec, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		_, err := NewIdentity(ctx, "cdx", IdentityArgs{AccountID: pulumi.String(mocks.Account), Region: "us-east-1", Tags: map[string]string{"project": "cantondex"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	comp, _ := rec.Named("cantondex:identity:Identity", "cdx")
	keys := rec.OfType("aws:kms/key:Key")
	if len(keys) != 3 {
		t.Fatalf("%d keys, want 3 (secrets, logs, storage)", len(keys))
	}
	for _, k := range keys {
		if !k.Bool("enableKeyRotation") || k.Parent != comp.URN || k.Number("deletionWindowInDays") != 30 {
			t.Errorf("key %s: rotation %v parent %q window %v", k.Name, k.Bool("enableKeyRotation"), k.Parent, k.Number("deletionWindowInDays"))
		}
	}
	logs, _ := rec.Named("aws:kms/key:Key", "cdx-logs")
	if p := logs.String("policy"); !strings.Contains(p, "logs.us-east-1.amazonaws.com") || !strings.Contains(p, "arn:aws:iam::123456789012:root") {
		t.Errorf("logs key policy does not admit CloudWatch Logs and the account: %s", p)
	}
	cluster, _ := rec.Named("aws:iam/role:Role", "cdx-cluster")
	if !strings.Contains(cluster.String("assumeRolePolicy"), "eks.amazonaws.com") {
		t.Errorf("cluster role trust = %s", cluster.String("assumeRolePolicy"))
	}
	node, _ := rec.Named("aws:iam/role:Role", "cdx-node")
	if !strings.Contains(node.String("assumeRolePolicy"), "ec2.amazonaws.com") {
		t.Errorf("node role trust = %s", node.String("assumeRolePolicy"))
	}
	var attached []string
	for _, a := range rec.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if a.Parent != comp.URN {
			t.Errorf("attachment %s not parented to the component", a.Name)
		}
		attached = append(attached, a.Name)
	}
	for _, want := range []string{"cdx-cluster-AmazonEKSClusterPolicy", "cdx-node-AmazonEKSWorkerNodePolicy", "cdx-node-AmazonEC2ContainerRegistryReadOnly"} {
		if !strings.Contains(strings.Join(attached, ","), want) {
			t.Errorf("missing attachment %s in %v", want, attached)
		}
	}
	if strings.Contains(strings.Join(attached, ","), "CNI") {
		t.Errorf("CNI policy attached to the node role (it belongs to the vpc-cni IRSA role): %v", attached)
	}
}
