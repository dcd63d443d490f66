package program

import (
	"slices"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/helmrelease"
	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// Chart is one pinned Helm chart.
type Chart = helmrelease.Chart

// The platform's charts, pinned here and nowhere else.
var (
	// LoadBalancerControllerChart is chart 1.14.0 = controller v2.14.0; LoadBalancerControllerPolicy
	// is that version's docs/install/iam_policy.json.
	loadBalancerControllerChart = Chart{Name: "aws-load-balancer-controller", Repo: "https://aws.github.io/eks-charts", Version: "1.14.0"}
	// ExternalSecretsChart is the release whose CRDs (external-secrets Go module v1.3.2) the
	// API-server test installs.
	externalSecretsChart = Chart{Name: "external-secrets", Repo: "https://charts.external-secrets.io", Version: "1.3.2"}
)

// Charts returns the pinned charts.
func Charts() []Chart { return []Chart{loadBalancerControllerChart, externalSecretsChart} }

// Service accounts of the add-ons, and the secret store.
const (
	LoadBalancerControllerServiceAccount = "aws-load-balancer-controller"
	ExternalSecretsServiceAccount        = "external-secrets"
	SecretStoreName                      = "cantondex-secrets-manager"
	// RedisAuthSecret is the catalog's name of the cache's auth token (the cache component
	// stores it; the store reads it by ARN).
	RedisAuthSecret = "cantondex-redis-auth-token"
	// externalSecretsWebhookPort is the chart's webhook port, reached by the control plane.
	externalSecretsWebhookPort = 10250
)

// catalogSecrets returns the secret names the catalog's services read, sorted.
func catalogSecrets() []string {
	var out []string
	for _, svc := range catalog.All() {
		for _, sec := range svc.Secrets {
			out = append(out, sec.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MasterSecretKey is the Platform.SecretKeys entry of a database's master secret (read by the
// migrations Job, which connects as the owner).
func MasterSecretKey(role string) string { return "database/" + role + "/master" }

// adminDatabases are the databases a DBAdmin entry (the migrations Job) connects to, sorted.
func adminDatabases() []string {
	var out []string
	for _, svc := range catalog.All() {
		if svc.DBAdmin {
			out = append(out, svc.Database)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addons installs metrics-server (EKS add-on), the AWS Load Balancer Controller and the
// External Secrets Operator with its ClusterSecretStore and NetworkPolicies.
func addons(ctx *pulumi.Context, base string, s stacks.Settings, f *Foundation, d *Data, p *Platform, in pulumi.ResourceOption) error {
	k8s := pulumi.Provider(f.Kubernetes)
	// metrics-server as the EKS community add-on: EKS picks the build that matches the cluster
	// version and upgrades it with the other add-ons, with no chart repository on the deploy path.
	ms, err := awseks.NewAddon(ctx, base+"-metrics-server", &awseks.AddonArgs{
		ClusterName: f.ClusterName, AddonName: pulumi.String("metrics-server"),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"), ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		Tags: pulumi.ToStringMap(s.Tags),
	}, in)
	if err != nil {
		return err
	}
	p.Releases = append(p.Releases, ms)
	if !set(f.OIDCProviderARN) || !set(f.OIDCProviderURL) {
		_ = ctx.Log.Warn("no OIDC provider: no load balancer controller or external secrets (both need IRSA)", nil)
		return nil
	}

	lbcPolicy := LoadBalancerControllerPolicy()
	lbcRole, err := identity.NewServiceAccountRole(ctx, base+"-aws-lb-controller", identity.ServiceAccountRoleArgs{
		OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL,
		Namespace: "kube-system", ServiceAccount: LoadBalancerControllerServiceAccount, Policy: &lbcPolicy, Tags: s.Tags,
	}, in)
	if err != nil {
		return err
	}
	lbc, err := release(ctx, base+"-aws-lb-controller", loadBalancerControllerChart, "kube-system", pulumi.Map{
		"clusterName": f.ClusterName, "region": pulumi.String(s.Region), "vpcId": f.VpcID,
		"replicaCount": pulumi.Int(2),
		// The platform exposes only an ALB Ingress: no LoadBalancer Service for the controller's
		// Service webhook (failure policy Fail) to stand in the way of every Service created.
		"enableServiceMutatorWebhook": pulumi.Bool(false),
		"resources":                   addonResources(),
		"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(LoadBalancerControllerServiceAccount),
			"annotations": pulumi.StringMap{"eks.amazonaws.com/role-arn": lbcRole.RoleARN},
		},
	}, k8s, in)
	if err != nil {
		return err
	}
	p.Releases = append(p.Releases, lbc)

	if d == nil {
		_ = ctx.Log.Warn("no data tier: no external secrets (there are no platform secrets to read)", nil)
		return nil
	}
	return externalSecrets(ctx, base, s, f, d, p, k8s, in)
}

// addonResources are the requests and limits of the add-ons' containers (the charts set none).
func addonResources() pulumi.Map {
	return pulumi.Map{
		"requests": pulumi.StringMap{"cpu": pulumi.String("50m"), "memory": pulumi.String("64Mi")},
		"limits":   pulumi.StringMap{"cpu": pulumi.String("500m"), "memory": pulumi.String("256Mi")},
	}
}

// release is a Helm release of a pinned chart, atomic, its values in the plan.
func release(ctx *pulumi.Context, name string, c Chart, namespace string, values pulumi.Map, opts ...pulumi.ResourceOption) (*helmrelease.Release, error) {
	return helmrelease.New(ctx, name, helmrelease.Args{Chart: c, Namespace: namespace, Values: values}, opts...)
}

// externalSecrets creates the secrets the catalog and the monitoring namespace name that no component stores (their values
// are put out of band, never in state), the operator's role (read exactly the platform's
// secrets, decrypt through Secrets Manager only), the release, the ClusterSecretStore and the
// security namespace's NetworkPolicies.
func externalSecrets(ctx *pulumi.Context, base string, s stacks.Settings, f *Foundation, d *Data, p *Platform, k8s, in pulumi.ResourceOption) error {
	key, err := identity.NewKey(ctx, base+"-app-secrets", identity.KeyArgs{
		Description: "the platform's application secrets (Secrets Manager)",
		AccountRoot: pulumi.Sprintf("arn:aws:iam::%s:root", f.AccountID), Tags: s.Tags,
	}, in)
	if err != nil {
		return err
	}
	secretARNs := []pulumi.StringInput{}
	for _, name := range append(catalogSecrets(), monitoringSecrets()...) {
		if name == RedisAuthSecret {
			p.SecretKeys[name] = d.Cache.AuthTokenSecretARN
			secretARNs = append(secretARNs, d.Cache.AuthTokenSecretARN)
			continue
		}
		sec, err := secretsmanager.NewSecret(ctx, base+"-"+name, &secretsmanager.SecretArgs{
			Name:        pulumi.String(string(s.Environment) + "/" + name),
			Description: pulumi.String("CantonDEX " + name + ": value set out of band (never in code, stack files or state)"),
			KmsKeyId:    key.Arn,
			Tags:        pulumi.ToStringMap(s.Tags),
		}, in)
		if err != nil {
			return err
		}
		p.SecretKeys[name] = sec.Arn
		secretARNs = append(secretARNs, sec.Arn)
	}
	keyARNs := []pulumi.StringInput{d.Cache.KMSKeyARN, key.Arn}
	// The migrations Job logs in with its database's master secret, synced like the others.
	for _, role := range adminDatabases() {
		if db, ok := d.Databases[role]; ok {
			p.SecretKeys[MasterSecretKey(role)] = db.SecretARN
			secretARNs, keyARNs = append(secretARNs, db.SecretARN), append(keyARNs, db.KMSKeyARN)
		}
	}
	policy := identity.Document{Statements: []identity.Statement{
		{Sid: "ReadPlatformSecrets", Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resources: secretARNs},
		{Sid: "DecryptThroughSecretsManager", Actions: []string{"kms:Decrypt"},
			Resources: keyARNs,
			Conditions: []identity.Condition{{Test: "StringEquals", Variable: pulumi.String("kms:ViaService"),
				Values: identity.Strings("secretsmanager." + s.Region + ".amazonaws.com")}}},
	}}
	role, err := identity.NewServiceAccountRole(ctx, base+"-external-secrets", identity.ServiceAccountRoleArgs{
		OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL,
		Namespace: SecurityNamespace, ServiceAccount: ExternalSecretsServiceAccount, Policy: &policy, Tags: s.Tags,
	}, in)
	if err != nil {
		return err
	}
	ns := pulumi.DependsOn([]pulumi.Resource{p.Namespaces[SecurityNamespace]})
	eso, err := release(ctx, base+"-external-secrets", externalSecretsChart, SecurityNamespace, pulumi.Map{
		"installCRDs":  pulumi.Bool(true),
		"replicaCount": pulumi.Int(2),
		"leaderElect":  pulumi.Bool(true), // two controllers, one reconciling
		"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(ExternalSecretsServiceAccount),
			"annotations": pulumi.StringMap{"eks.amazonaws.com/role-arn": role.RoleARN},
		},
		"resources": addonResources(),
		"webhook":   pulumi.Map{"port": pulumi.Int(externalSecretsWebhookPort), "replicaCount": pulumi.Int(2), "resources": addonResources()},
		// The chart's defaults already run every container restricted (non-root 1000, read-only
		// root, no escalation, ALL dropped, RuntimeDefault), as cantondex-security enforces.
		"certController": pulumi.Map{"resources": addonResources()},
	}, k8s, ns, in)
	if err != nil {
		return err
	}
	store, err := apiextensions.NewCustomResource(ctx, base+"-secret-store", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("external-secrets.io/v1"), Kind: pulumi.String("ClusterSecretStore"),
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(SecretStoreName), Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cantondex")}},
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
			"provider": map[string]any{"aws": map[string]any{
				"service": "SecretsManager", "region": s.Region,
				"auth": map[string]any{"jwt": map[string]any{"serviceAccountRef": map[string]any{
					"name": ExternalSecretsServiceAccount, "namespace": SecurityNamespace,
				}}},
			}},
			// Only the platform's namespace and the monitoring namespace (Grafana's admin
			// login, the pager's URL) may use the store.
			"conditions": []any{map[string]any{"namespaces": []any{AppNamespace, MonitoringNamespace}}},
		}},
	}, k8s, pulumi.DependsOn([]pulumi.Resource{eso}), in)
	if err != nil {
		return err
	}
	p.SecretStore = SecretStoreName
	p.Releases = append(p.Releases, eso, store)
	return securityNetworkPolicies(ctx, base, s, k8s, ns, in)
}

// dnsAndHTTPSEgress are the egress rules of a namespace's system pods: DNS to kube-system's
// kube-dns (53 UDP and TCP) and HTTPS (443) anywhere (AWS APIs, the Kubernetes API, webhooks).
func dnsAndHTTPSEgress() networkingv1.NetworkPolicyEgressRuleArray {
	port := func(proto string, n int) networkingv1.NetworkPolicyPortArgs {
		return networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(proto), Port: pulumi.Int(n)}
	}
	return networkingv1.NetworkPolicyEgressRuleArray{
		networkingv1.NetworkPolicyEgressRuleArgs{
			To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String("kube-system")}},
				PodSelector:       metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}},
			}},
			Ports: networkingv1.NetworkPolicyPortArray{port("UDP", 53), port("TCP", 53)},
		},
		networkingv1.NetworkPolicyEgressRuleArgs{
			To:    networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String("0.0.0.0/0")}}},
			Ports: networkingv1.NetworkPolicyPortArray{port("TCP", 443)},
		},
	}
}

// securityNetworkPolicies: default deny in cantondex-security, then DNS, HTTPS (AWS APIs for
// Secrets Manager and STS, the Kubernetes API) out, and the control plane (in the VPC) in to
// the webhook.
func securityNetworkPolicies(ctx *pulumi.Context, base string, s stacks.Settings, opts ...pulumi.ResourceOption) error {
	tcp := pulumi.String("TCP")
	port := func(proto pulumi.String, n int) networkingv1.NetworkPolicyPortArgs {
		return networkingv1.NetworkPolicyPortArgs{Protocol: proto, Port: pulumi.Int(n)}
	}
	policies := []struct {
		name string
		spec networkingv1.NetworkPolicySpecArgs
	}{
		{"default-deny", networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{}, PolicyTypes: pulumi.ToStringArray([]string{"Ingress", "Egress"}),
		}},
		{"egress-dns-and-https", networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{}, PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress: dnsAndHTTPSEgress(),
		}},
		{"ingress-webhook-from-vpc", networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("external-secrets-webhook")}},
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From:  networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String(s.Network.CIDR)}}},
				Ports: networkingv1.NetworkPolicyPortArray{port(tcp, externalSecretsWebhookPort)},
			}},
		}},
	}
	for _, np := range policies {
		if _, err := networkingv1.NewNetworkPolicy(ctx, base+"-security-"+np.name, &networkingv1.NetworkPolicyArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(np.name), Namespace: pulumi.String(SecurityNamespace)},
			Spec:     np.spec,
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}
