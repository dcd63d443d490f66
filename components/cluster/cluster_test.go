package cluster

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	if err != nil {
		t.Fatal(err)
	}
	comp, _ := rec.Named("cantondex:cluster:Cluster", "cdx")
	eks, ok := rec.Named("eks:index:Cluster", "cdx-eks")
	if !ok || eks.Parent != comp.URN || !eks.Remote {
		t.Fatalf("pulumi-eks cluster missing, not remote or not parented: %+v", eks)
	}
	if eks.String("version") != "1.34" || eks.String("name") != "cantondex-prod" {
		t.Errorf("version/name = %q/%q", eks.String("version"), eks.String("name"))
	}
	if !eks.Bool("endpointPrivateAccess") || eks.Bool("endpointPublicAccess") {
		t.Errorf("endpoints: private %v public %v", eks.Bool("endpointPrivateAccess"), eks.Bool("endpointPublicAccess"))
	}
	if got := strings.Join(eks.Strings("enabledClusterLogTypes"), ","); got != "api,audit,authenticator,controllerManager,scheduler" {
		t.Errorf("log types = %s", got)
	}
	if eks.String("encryptionConfigKeyArn") != "arn:secrets" || !eks.Bool("createOidcProvider") || eks.String("authenticationMode") != "API" {
		t.Errorf("encryption/oidc/auth = %q %v %q", eks.String("encryptionConfigKeyArn"), eks.Bool("createOidcProvider"), eks.String("authenticationMode"))
	}
	if !eks.Bool("skipDefaultNodeGroup") || eks.String("clusterSecurityGroup") == "" {
		t.Errorf("default node group not skipped or no cluster security group: %v", eks.Inputs)
	}
	if eks.String("accessEntries.admin-0.principalArn") != "arn:aws:iam::123456789012:role/deploy" {
		t.Errorf("access entries = %v", eks.Inputs["accessEntries"])
	}
	logs, _ := rec.Named("aws:cloudwatch/logGroup:LogGroup", "cdx-control-plane")
	if logs.String("name") != "/aws/eks/cantondex-prod/cluster" || logs.String("kmsKeyId") != "arn:logs" || logs.Number("retentionInDays") != 365 {
		t.Errorf("control-plane log group = %v", logs.Inputs)
	}

	// Node groups: sizes, capacity, labels, taints, launch template with IMDSv2 and encryption.
	ngs := rec.OfType("aws:eks/nodeGroup:NodeGroup")
	if len(ngs) != 2 {
		t.Fatalf("%d node groups, want 2", len(ngs))
	}
	sizes := map[string]string{}
	for _, ng := range ngs {
		if ng.Parent != comp.URN || ng.String("clusterName") != "cantondex-prod" {
			t.Errorf("node group %s: parent %q cluster %q", ng.Name, ng.Parent, ng.String("clusterName"))
		}
		sizes[ng.String("capacityType")] = strings.Join([]string{
			ftoa(ng.Number("scalingConfig.minSize")), ftoa(ng.Number("scalingConfig.desiredSize")), ftoa(ng.Number("scalingConfig.maxSize"))}, "/")
		if ng.Tag("k8s.io/cluster-autoscaler/enabled") != "true" || ng.Tag("k8s.io/cluster-autoscaler/cantondex-prod") != "owned" {
			t.Errorf("node group %s lacks autoscaler tags", ng.Name)
		}
		if ic := strings.Join(ng.IgnoreChanges, ","); !strings.Contains(ic, "scalingConfig.desiredSize") {
			t.Errorf("node group %s does not leave desiredSize to the autoscaler (ignoreChanges %q)", ng.Name, ic)
		}
		lt, ok := rec.Named("aws:ec2/launchTemplate:LaunchTemplate", ng.Name)
		if !ok || ng.String("launchTemplate.id") != lt.ID {
			t.Fatalf("node group %s does not use its launch template", ng.Name)
		}
		if lt.String("metadataOptions.httpTokens") != "required" {
			t.Errorf("launch template %s does not require IMDSv2", lt.Name)
		}
		bdm, _ := lt.Input("blockDeviceMappings")
		ebs := mocks.Resource{Inputs: bdm.([]any)[0].(map[string]any)}
		if ebs.String("ebs.encrypted") != "true" || ebs.String("ebs.kmsKeyId") != "arn:storage" || ebs.Number("ebs.volumeSize") != 100 {
			t.Errorf("root volume of %s = %v", lt.Name, ebs.Inputs)
		}
		if got := lt.Strings("vpcSecurityGroupIds"); len(got) != 1 || got[0] != "sg-nodes" {
			t.Errorf("launch template %s security groups = %v", lt.Name, got)
		}
	}
	if sizes["ON_DEMAND"] != "3/3/20" || sizes["SPOT"] != "0/0/10" {
		t.Errorf("sizes = %v", sizes)
	}
	spot, _ := rec.Named("aws:eks/nodeGroup:NodeGroup", "cdx-spot")
	if taints, _ := spot.Input("taints"); taints == nil || !strings.Contains(jsonOf(taints), `"effect":"NO_SCHEDULE"`) {
		t.Errorf("spot taints = %v", taints)
	}
	onDemand, _ := rec.Named("aws:eks/nodeGroup:NodeGroup", "cdx-on-demand")
	if jsonOf(onDemand.Inputs["labels"]) != `{"cantondex.io/capacity":"on-demand","cantondex.io/node-group":"on-demand"}` {
		t.Errorf("on-demand labels = %v", onDemand.Inputs["labels"])
	}

	// Add-ons, with IRSA roles for the CNI and the CSI driver.
	addons := map[string]mocks.Resource{}
	for _, a := range rec.OfType("aws:eks/addon:Addon") {
		addons[a.String("addonName")] = a
		if a.String("clusterName") != "cantondex-prod" || a.Parent != comp.URN {
			t.Errorf("add-on %s: cluster %q parent %q", a.Name, a.String("clusterName"), a.Parent)
		}
	}
	for _, name := range Addons {
		if _, ok := addons[name]; !ok {
			t.Errorf("add-on %s missing", name)
		}
	}
	if len(addons) != 4 {
		t.Errorf("%d add-ons, want 4", len(addons))
	}
	if cfg := addons["vpc-cni"].String("configurationValues"); !strings.Contains(cfg, `"enableNetworkPolicy":"true"`) {
		t.Errorf("vpc-cni configuration = %q", cfg)
	}
	for addon, sa := range map[string]string{"vpc-cni": "kube-system:aws-node", "aws-ebs-csi-driver": "kube-system:ebs-csi-controller-sa"} {
		roleARN := addons[addon].String("serviceAccountRoleArn")
		var trust string
		for _, r := range rec.OfType("aws:iam/role:Role") {
			if mocks.ARN(r.Type, r.Name) == roleARN {
				trust = r.String("assumeRolePolicy")
			}
		}
		if !strings.Contains(trust, mocks.OIDCIssuer(mocks.Region)+":sub") || !strings.Contains(trust, "system:serviceaccount:"+sa) {
			t.Errorf("%s role %q trust = %s", addon, roleARN, trust)
		}
	}

	// The Kubernetes provider is built from the cluster's kubeconfig, which is secret.
	k8s, ok := rec.Named("pulumi:providers:kubernetes", "cdx-k8s")
	if !ok || k8s.Parent != comp.URN || k8s.String("kubeconfig") != "[secret]" {
		t.Errorf("kubernetes provider = %+v", k8s)
	}
	raw := k8s.Raw["kubeconfig"]
	if !raw.ContainsSecrets() || !strings.Contains(jsonOf(k8s.Raw["kubeconfig"].SecretValue().Element.V), "cantondex-prod") {
		t.Errorf("provider kubeconfig is not the cluster's: %v", raw)
	}
	if c == nil || c.Kubernetes == nil {
		t.Fatal("no Kubernetes provider on the component")
	}
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
			if v[0] != "cantondex-prod" {
				t.Errorf("ClusterName = %v", v[0])
			}
			if url := v[2].(string); strings.HasPrefix(url, "https://") || url != mocks.OIDCIssuer(mocks.Region) {
				t.Errorf("OIDCProviderURL = %q", url)
			}
			if !strings.HasSuffix(v[1].(string), "oidc-provider/"+mocks.OIDCIssuer(mocks.Region)) {
				t.Errorf("OIDCProviderARN = %v", v[1])
			}
			checked = true
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the outputs never resolved")
	}
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
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
		if len(rec.OfType("eks:index:Cluster")) != 0 {
			t.Errorf("%s: a cluster was registered despite invalid args", want)
		}
	}
}
