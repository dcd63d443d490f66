package cluster

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func groups() []NodeGroup {
	return []NodeGroup{
		{Name: "on-demand", CapacityType: "ON_DEMAND", InstanceTypes: []string{"m5.large", "c5.xlarge"}, MinSize: 3, DesiredSize: 3, MaxSize: 20, DiskSizeGiB: 100,
			Labels: map[string]string{"cantondex.io/capacity": "on-demand"}},
		{Name: "spot", CapacityType: "SPOT", InstanceTypes: []string{"m5.large"}, MinSize: 0, DesiredSize: 0, MaxSize: 10, DiskSizeGiB: 100,
			Taints: []Taint{{Key: "cantondex.io/spot", Value: "true", Effect: "NO_SCHEDULE"}}},
	}
}

// program builds a cluster with its prerequisites; mutate adjusts the args.
func program(mutate func(a *ClusterArgs), out **Cluster) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		sg, err := ec2.NewSecurityGroup(ctx, "cp", &ec2.SecurityGroupArgs{VpcId: pulumi.String("vpc-1")})
		if err != nil {
			return err
		}
		role, err := iam.NewRole(ctx, "cluster-role", &iam.RoleArgs{AssumeRolePolicy: pulumi.String("{}")})
		if err != nil {
			return err
		}
		node, err := iam.NewRole(ctx, "node-role", &iam.RoleArgs{AssumeRolePolicy: pulumi.String("{}")})
		if err != nil {
			return err
		}
		a := ClusterArgs{
			Name: "cantondex-prod", Version: "1.34", VpcID: pulumi.String("vpc-1"),
			PrivateSubnetIDs:          pulumi.ToStringArray([]string{"private-a", "private-b", "private-c"}),
			PublicSubnetIDs:           pulumi.ToStringArray([]string{"public-a", "public-b", "public-c"}),
			ControlPlaneSecurityGroup: sg, NodeSecurityGroupID: pulumi.String("sg-nodes"),
			ClusterRole: role, NodeRole: node,
			SecretsKeyARN: pulumi.String("arn:secrets"), StorageKeyARN: pulumi.String("arn:storage"), LogKeyARN: pulumi.String("arn:logs"),
			LogRetentionDays: 365, AdminRoleARNs: []string{"arn:aws:iam::123456789012:role/deploy"},
			NodeGroups: groups(), Tags: map[string]string{"project": "cantondex"},
		}
		if mutate != nil {
			mutate(&a)
		}
		c, err := NewCluster(ctx, "cdx", a)
		if out != nil {
			*out = c
		}
		return err
	}
}

func TestCluster(t *testing.T) {
	var c *Cluster
	rec, err := mocks.Run("prod", mocks.Config{}, program(nil, &c))
	require.NoError(t, err)
	comp, _ := rec.Named("cantondex:cluster:Cluster", "cdx")
	eks, ok := rec.Named("eks:index:Cluster", "cdx-eks")
	require.True(t, ok, "pulumi-eks cluster missing")
	require.Equal(t, comp.URN, eks.Parent, "pulumi-eks cluster not parented: %+v", eks)
	require.True(t, eks.Remote, "pulumi-eks cluster not remote: %+v", eks)
	assert.Equal(t, "1.34", eks.String("version"), "version")
	assert.Equal(t, "cantondex-prod", eks.String("name"), "name")
	assert.True(t, eks.Bool("endpointPrivateAccess"), "private endpoint")
	assert.False(t, eks.Bool("endpointPublicAccess"), "public endpoint")
	assert.Equal(t, "api,audit,authenticator,controllerManager,scheduler", strings.Join(eks.Strings("enabledClusterLogTypes"), ","), "log types")
	assert.Equal(t, "arn:secrets", eks.String("encryptionConfigKeyArn"), "encryption key")
	assert.True(t, eks.Bool("createOidcProvider"), "OIDC provider")
	assert.Equal(t, "API", eks.String("authenticationMode"), "authentication mode")
	assert.True(t, eks.Bool("skipDefaultNodeGroup"), "default node group not skipped: %v", eks.Inputs)
	assert.NotEmpty(t, eks.String("clusterSecurityGroup"), "no cluster security group: %v", eks.Inputs)
	assert.Equal(t, "arn:aws:iam::123456789012:role/deploy", eks.String("accessEntries.admin-0.principalArn"), "access entries = %v", eks.Inputs["accessEntries"])
	logs, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "cdx-control-plane")
	assert.Equal(t, "/aws/eks/cantondex-prod/cluster", logs.String("name"), "control-plane log group = %v", logs.Inputs)
	assert.Equal(t, "arn:logs", logs.String("kmsKeyId"), "control-plane log group = %v", logs.Inputs)
	assert.Equal(t, float64(365), logs.Number("retentionInDays"), "control-plane log group = %v", logs.Inputs)

	// Node groups: sizes, capacity, labels, taints, launch template with IMDSv2 and encryption.
	ngs := rec.OfType("aws:eks/nodeGroup:NodeGroup")
	require.Len(t, ngs, 2, "node groups")
	sizes := map[string]string{}
	for _, ng := range ngs {
		assert.Equal(t, comp.URN, ng.Parent, "node group %s: parent", ng.Name)
		assert.Equal(t, "cantondex-prod", ng.String("clusterName"), "node group %s: cluster", ng.Name)
		sizes[ng.String("capacityType")] = strings.Join([]string{
			ftoa(ng.Number("scalingConfig.minSize")), ftoa(ng.Number("scalingConfig.desiredSize")), ftoa(ng.Number("scalingConfig.maxSize"))}, "/")
		assert.Equal(t, "true", ng.Tag("k8s.io/cluster-autoscaler/enabled"), "node group %s lacks autoscaler tags", ng.Name)
		assert.Equal(t, "owned", ng.Tag("k8s.io/cluster-autoscaler/cantondex-prod"), "node group %s lacks autoscaler tags", ng.Name)
		assert.Contains(t, strings.Join(ng.IgnoreChanges, ","), "scalingConfig.desiredSize", "node group %s does not leave desiredSize to the autoscaler", ng.Name)
		lt, ok := rec.Named("aws:ec2/launchTemplate:LaunchTemplate", ng.Name)
		require.True(t, ok, "node group %s has no launch template", ng.Name)
		require.Equal(t, lt.ID, ng.String("launchTemplate.id"), "node group %s does not use its launch template", ng.Name)
		assert.Equal(t, "required", lt.String("metadataOptions.httpTokens"), "launch template %s does not require IMDSv2", lt.Name)
		bdm, _ := lt.Input("blockDeviceMappings")
		ebs := mocks.Resource{Inputs: bdm.([]any)[0].(map[string]any)}
		assert.Equal(t, "true", ebs.String("ebs.encrypted"), "root volume of %s = %v", lt.Name, ebs.Inputs)
		assert.Equal(t, "arn:storage", ebs.String("ebs.kmsKeyId"), "root volume of %s = %v", lt.Name, ebs.Inputs)
		assert.Equal(t, float64(100), ebs.Number("ebs.volumeSize"), "root volume of %s = %v", lt.Name, ebs.Inputs)
		assert.Equal(t, []string{"sg-nodes"}, lt.Strings("vpcSecurityGroupIds"), "launch template %s security groups", lt.Name)
	}
	assert.Equal(t, "3/3/20", sizes["ON_DEMAND"], "sizes = %v", sizes)
	assert.Equal(t, "0/0/10", sizes["SPOT"], "sizes = %v", sizes)
	spot, _ := rec.Named("aws:eks/nodeGroup:NodeGroup", "cdx-spot")
	taints, _ := spot.Input("taints")
	assert.NotNil(t, taints, "spot taints")
	assert.Contains(t, jsonOf(taints), `"effect":"NO_SCHEDULE"`, "spot taints")
	onDemand, _ := rec.Named("aws:eks/nodeGroup:NodeGroup", "cdx-on-demand")
	assert.Equal(t, `{"cantondex.io/capacity":"on-demand","cantondex.io/node-group":"on-demand"}`, jsonOf(onDemand.Inputs["labels"]), "on-demand labels")

	// Add-ons, with IRSA roles for the CNI and the CSI driver.
	addons := map[string]mocks.Resource{}
	for _, a := range rec.OfType("aws:eks/addon:Addon") {
		addons[a.String("addonName")] = a
		assert.Equal(t, "cantondex-prod", a.String("clusterName"), "add-on %s: cluster", a.Name)
		assert.Equal(t, comp.URN, a.Parent, "add-on %s: parent", a.Name)
	}
	for _, name := range []string{"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"} {
		assert.Contains(t, addons, name, "add-on missing")
	}
	assert.Len(t, addons, 4, "add-ons")
	assert.Contains(t, addons["vpc-cni"].String("configurationValues"), `"enableNetworkPolicy":"true"`, "vpc-cni configuration")
	for addon, sa := range map[string]string{"vpc-cni": "kube-system:aws-node", "aws-ebs-csi-driver": "kube-system:ebs-csi-controller-sa"} {
		roleARN := addons[addon].String("serviceAccountRoleArn")
		var trust string
		for _, r := range rec.OfType("aws:iam/role:Role") {
			if mocks.ARN(r.Type, r.Name) == roleARN {
				trust = r.String("assumeRolePolicy")
			}
		}
		assert.Contains(t, trust, mocks.OIDCIssuer(mocks.Region)+":sub", "%s role %q trust", addon, roleARN)
		assert.Contains(t, trust, "system:serviceaccount:"+sa, "%s role %q trust", addon, roleARN)
	}

	// The Kubernetes provider is built from the cluster's kubeconfig, which is secret.
	k8s, ok := rec.Named("pulumi:providers:kubernetes", "cdx-k8s")
	assert.True(t, ok, "kubernetes provider missing")
	assert.Equal(t, comp.URN, k8s.Parent, "kubernetes provider = %+v", k8s)
	assert.Equal(t, "[secret]", k8s.String("kubeconfig"), "kubernetes provider = %+v", k8s)
	raw := k8s.Raw["kubeconfig"]
	if assert.True(t, raw.ContainsSecrets(), "provider kubeconfig is not secret: %v", raw) {
		assert.Contains(t, jsonOf(raw.SecretValue().Element.V), "cantondex-prod", "provider kubeconfig is not the cluster's")
	}
	require.NotNil(t, c, "no component")
	require.NotNil(t, c.Kubernetes, "no Kubernetes provider on the component")
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestOutputsComeFromTheCluster(t *testing.T) {
	var c *Cluster
	checked := false
	_, err := mocks.Run("prod", mocks.Config{}, func(ctx *pulumi.Context) error {
		if err := program(nil, &c)(ctx); err != nil {
			return err
		}
		pulumi.All(c.ClusterName, c.OIDCProviderARN, c.OIDCProviderURL).ApplyT(func(v []any) error {
			assert.Equal(t, "cantondex-prod", v[0], "ClusterName")
			url := v[2].(string)
			assert.False(t, strings.HasPrefix(url, "https://"), "OIDCProviderURL %q carries a scheme", url)
			assert.Equal(t, mocks.OIDCIssuer(mocks.Region), url, "OIDCProviderURL")
			assert.True(t, strings.HasSuffix(v[1].(string), "oidc-provider/"+mocks.OIDCIssuer(mocks.Region)), "OIDCProviderARN = %v", v[1])
			checked = true
			return nil
		})
		return nil
	})
	require.NoError(t, err)
	require.True(t, checked, "the outputs never resolved")
}

func TestInvalidArgs(t *testing.T) {
	tests := map[string]func(a *ClusterArgs){
		"below 1.28":        func(a *ClusterArgs) { a.Version = "1.27" },
		"PublicAccessCIDRs": func(a *ClusterArgs) { a.PublicEndpoint = true },
		"not a CIDR block":  func(a *ClusterArgs) { a.PublicEndpoint, a.PublicAccessCIDRs = true, []string{"office"} },
		"min 5":             func(a *ClusterArgs) { a.NodeGroups[0].MinSize = 5; a.NodeGroups[0].MaxSize = 4 },
		"no instance types": func(a *ClusterArgs) { a.NodeGroups[1].InstanceTypes = nil },
		"SecretsKeyARN":     func(a *ClusterArgs) { a.SecretsKeyARN = nil },
	}
	for want, mutate := range tests {
		rec, err := mocks.Run("prod", mocks.Config{}, program(mutate, nil))
		assert.ErrorContains(t, err, want, "%s: err", want)
		assert.Empty(t, rec.OfType("eks:index:Cluster"), "%s: a cluster was registered despite invalid args", want)
	}
}
