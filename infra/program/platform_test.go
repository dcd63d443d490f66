package program

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/components/network"
	"github.com/cantondex/platform/infra/policy"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// platformFoundation is fakeFoundation with the account and the logs key the platform reads.
func platformFoundation(ctx *pulumi.Context, s stacks.Settings) (*Foundation, error) {
	f, err := fakeFoundation(ctx, s)
	if err != nil {
		return nil, err
	}
	f.AccountID, f.Region = mocks.Account, s.Region
	f.LogsKeyARN = str("arn:aws:kms:us-east-1:" + mocks.Account + ":key/logs")
	return f, nil
}

// planned is what platform returned, with its outputs resolved during the run.
type planned struct {
	*Platform
	values map[string]string // "image/<svc>", "role/<svc>", "secret/<name>", "webacl", "auditKey"
}

func (p planned) value(key string) string { return p.values[key] }

// runPlatform plans the data tier and the platform.
func runPlatform(t *testing.T, stack string, src mapSource, deploying bool) (*mocks.Recorder, planned, error) {
	t.Helper()
	s, err := stacks.Load(stack, "", src)
	require.NoError(t, err)
	got := planned{values: map[string]string{}}
	var mu sync.Mutex
	capture := func(key string, o pulumi.StringOutput) {
		o.ApplyT(func(v string) string { mu.Lock(); got.values[key] = v; mu.Unlock(); return v })
	}
	rec, err := mocks.Run(stack, mocks.Config{}, func(ctx *pulumi.Context) error {
		f, err := platformFoundation(ctx, s)
		if err != nil {
			return err
		}
		d, err := dataTier(ctx, s, f)
		if err != nil {
			return err
		}
		p, err := buildPlatform(ctx, s, f, d, deploying)
		if err != nil {
			return err
		}
		got.Platform = p
		for k, o := range p.Images {
			capture("image/"+k, o)
		}
		for k, o := range p.ServiceRoles {
			capture("role/"+k, o)
		}
		for k, o := range p.SecretKeys {
			capture("secret/"+k, o)
		}
		capture("webacl", p.WebACLARN)
		if p.AuditSigningKeyARN.OutputState != nil {
			capture("auditKey", p.AuditSigningKeyARN)
		}
		return nil
	})
	return rec, got, err
}

type statement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
}

func statements(t *testing.T, doc string) []statement {
	t.Helper()
	var d struct{ Statement []statement }
	require.NoError(t, json.Unmarshal([]byte(doc), &d), doc)
	return d.Statement
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func TestPlatformProd(t *testing.T) {
	rec, p, err := runPlatform(t, "prod", mapSource{}, false)
	require.NoError(t, err)
	plan := &policy.Plan{Stack: "prod", Environment: "prod", Resources: rec.Resources()}
	assert.Empty(t, policy.Violations(policy.Evaluate(plan, policy.Rules())), "violations")

	// Four namespaces, PSA restricted enforced, audited and warned; the logging namespace
	// enforces privileged (Fluent Bit's hostPath mounts) and audits and warns restricted.
	nss := rec.OfType("kubernetes:core/v1:Namespace")
	require.Len(t, nss, 4)
	var names []string
	for _, ns := range nss {
		names = append(names, ns.String("metadata.name"))
		labels, _ := ns.Input("metadata.labels")
		for _, mode := range []string{"enforce", "audit", "warn"} {
			want := "restricted"
			if mode == "enforce" && ns.String("metadata.name") == LoggingNamespace {
				want = "privileged"
			}
			assert.Equal(t, want, labels.(map[string]any)["pod-security.kubernetes.io/"+mode], "%s %s", ns.Name, mode)
			assert.Equal(t, "latest", labels.(map[string]any)["pod-security.kubernetes.io/"+mode+"-version"], "%s %s", ns.Name, mode)
		}
		assert.Contains(t, ns.Provider, "pulumi:providers:kubernetes::eks", "%s through the cluster's provider", ns.Name)
	}
	slices.Sort(names)
	assert.Equal(t, []string{"cantondex", "cantondex-logging", "cantondex-monitoring", "cantondex-security"}, names)
	assert.ElementsMatch(t, Namespaces(), slices.Collect(maps.Keys(p.Namespaces)))

	// One repository and one image by digest per catalog service.
	assert.Len(t, rec.OfType("aws:ecr/repository:Repository"), len(catalog.All()))
	require.Len(t, p.Images, len(catalog.All()))
	for _, svc := range catalog.All() {
		assert.Equal(t, mocks.Account+".dkr.ecr.us-east-1.amazonaws.com/cantondex-prod/"+svc.Name+"@"+stacks.PlaceholderDigest(svc.Name),
			p.value("image/"+svc.Name), svc.Name)
	}

	assert.Equal(t, SecretStoreName, p.SecretStore)
	assert.Equal(t, stacks.PlaceholderCertificateARN("us-east-1"), p.CertificateARN)
	assert.Equal(t, mocks.ARN("aws:wafv2/webAcl:WebAcl", "cdx-prod-platform-api-waf"), p.value("webacl"))
	assert.Len(t, p.Releases, 4, "metrics-server, load balancer controller, external secrets, the secret store")
}

// Each service's role trusts its own service account in cantondex and allows exactly its MSK
// topics and groups and rds-db:connect as its own user; services that use neither get none.
func TestServiceRolesAreLeastPrivilege(t *testing.T) {
	rec, p, err := runPlatform(t, "prod", mapSource{}, false)
	require.NoError(t, err)
	proxyID := "prx-cdx-prod-trading-proxy" // the mock proxy ARN's last part (prx-<name>), as IAM names it
	for _, svc := range catalog.All() {
		role, ok := rec.Named("aws:iam/role:Role", "cdx-prod-platform-svc-"+svc.Name+"-role")
		if svc.TopicAdmin {
			assert.False(t, ok, "%s has the streaming component's topic-admin role, not a second one", svc.Name)
			assert.Equal(t, mocks.ARN("aws:iam/role:Role", "cdx-prod-kafka-topics-role"), p.value("role/"+svc.Name))
			continue
		}
		if !svc.Kafka() && svc.Database == "" {
			assert.False(t, ok, "%s uses no AWS API but has a role", svc.Name)
			assert.NotContains(t, p.ServiceRoles, svc.Name)
			continue
		}
		require.True(t, ok, "no role for %s", svc.Name)
		assert.Contains(t, role.String("assumeRolePolicy"), `"system:serviceaccount:cantondex:`+svc.Name+`"`, svc.Name)
		assert.Equal(t, mocks.ARN("aws:iam/role:Role", role.Name), p.value("role/"+svc.Name))
		inline, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", role.Name+"-policy")
		require.True(t, ok, "%s inline policy", svc.Name)
		if svc.DBAdmin {
			// The migrations Job fills the IAM users' secrets; it never connects with IAM.
			var filled []string
			for _, st := range statements(t, inline.String("policy")) {
				assert.NotContains(t, list(st.Action), "rds-db:connect", svc.Name)
				if st.Sid == "FillUserSecrets" {
					filled = list(st.Resource)
				}
			}
			var want []string
			for _, u := range catalog.DatabaseUsers()[svc.Database] {
				want = append(want, mocks.ARN("aws:secretsmanager/secret:Secret", "cdx-prod-"+svc.Database+"-user-"+u))
			}
			require.NotEmpty(t, want)
			assert.ElementsMatch(t, want, filled, "%s fills exactly its database's user secrets", svc.Name)
			continue
		}
		access := catalog.Access()[svc.Name]
		var produced, consumed, dbusers []string
		var signs []statement
		for _, st := range statements(t, inline.String("policy")) {
			actions := list(st.Action)
			if slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
				signs = append(signs, st)
				continue
			}
			for _, res := range list(st.Resource) {
				last := res[strings.LastIndex(res, "/")+1:]
				switch {
				case slices.Contains(actions, "kafka-cluster:WriteData"):
					produced = append(produced, last)
				case slices.Contains(actions, "kafka-cluster:ReadData"):
					consumed = append(consumed, last)
				case slices.Contains(actions, "rds-db:connect"):
					assert.Equal(t, "arn:aws:rds-db:us-east-1:"+mocks.Account+":dbuser:"+proxyID+"/"+svc.DBUser, res, svc.Name)
					dbusers = append(dbusers, last)
				case slices.Contains(actions, "kafka-cluster:AlterGroup"):
					assert.Equal(t, svc.Name+"*", last, "%s consumer groups", svc.Name)
				}
				assert.NotEqual(t, "*", res, "%s: a statement on every resource", svc.Name)
			}
			for _, a := range actions {
				assert.True(t, strings.HasPrefix(a, "kafka-cluster:") || a == "rds-db:connect", "%s: unexpected action %s", svc.Name, a)
			}
		}
		slices.Sort(produced)
		slices.Sort(consumed)
		assert.Equal(t, access.Produce, produced, "%s produces", svc.Name)
		assert.Equal(t, access.Consume, consumed, "%s consumes", svc.Name)
		assert.Equal(t, []string{svc.DBUser}, dbusers, "%s connects as its own user only", svc.Name)
		if svc.SignsAudit {
			// Exactly: sign with, and read the public key of, the audit-signing key.
			require.Len(t, signs, 1, svc.Name)
			assert.Equal(t, "SignAuditCheckpoints", signs[0].Sid)
			assert.Equal(t, "Allow", signs[0].Effect)
			assert.Equal(t, []string{"kms:Sign", "kms:GetPublicKey"}, list(signs[0].Action))
			assert.Equal(t, []string{mocks.ARN("aws:kms/key:Key", "cdx-prod-platform-audit-signing")}, list(signs[0].Resource))
		} else {
			assert.Empty(t, signs, "%s: KMS statements", svc.Name)
		}
	}
}

// The audit-signing key: asymmetric ECDSA P-256 for signing, no rotation (KMS cannot rotate
// it), 30 days' deletion window, administered by the account root only.
func TestAuditSigningKey(t *testing.T) {
	rec, p, err := runPlatform(t, "prod", mapSource{}, false)
	require.NoError(t, err)
	key, ok := rec.Named("aws:kms/key:Key", "cdx-prod-platform-audit-signing")
	require.True(t, ok, "no audit-signing key")
	assert.Equal(t, "ECC_NIST_P256", key.String("customerMasterKeySpec"))
	assert.Equal(t, "SIGN_VERIFY", key.String("keyUsage"))
	assert.False(t, key.Bool("enableKeyRotation"))
	assert.Equal(t, float64(30), key.Number("deletionWindowInDays"))
	sts := statements(t, key.String("policy"))
	require.Len(t, sts, 1)
	assert.Equal(t, []string{"kms:*"}, list(sts[0].Action))
	assert.Contains(t, fmt.Sprint(sts[0].Principal), "arn:aws:iam::"+mocks.Account+":root")
	alias, ok := rec.Named("aws:kms/alias:Alias", "cdx-prod-platform-audit-signing-alias")
	require.True(t, ok)
	assert.Equal(t, "alias/cdx-prod-platform-audit-signing", alias.String("name"))
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "cdx-prod-platform-audit-signing"), p.value("auditKey"))
	// The signer reaches KMS inside the VPC (its NetworkPolicy allows the endpoints' subnets only).
	assert.Contains(t, network.DefaultInterfaceEndpoints(), "kms")
}

func TestHelmReleasesArePinnedWithVisibleValues(t *testing.T) {
	rec, _, err := runPlatform(t, "prod", mapSource{}, false)
	require.NoError(t, err)
	releases := rec.OfType("kubernetes:helm.sh/v3:Release")
	require.Len(t, releases, 2)
	charts := map[string]Chart{}
	for _, c := range Charts() {
		charts[c.Name] = c
	}
	for _, r := range releases {
		c, ok := charts[r.String("chart")]
		require.True(t, ok, "unexpected chart %s", r.String("chart"))
		assert.Equal(t, c.Version, r.String("version"), "%s pinned", c.Name)
		assert.Equal(t, c.Repo, r.String("repositoryOpts.repo"), c.Name)
		assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::eks", c.Name)
		assert.True(t, r.Bool("atomic"), c.Name)
	}
	lbc, ok := rec.Named("kubernetes:helm.sh/v3:Release", "cdx-prod-platform-aws-lb-controller")
	require.True(t, ok)
	assert.Equal(t, "kube-system", lbc.String("namespace"))
	assert.Equal(t, "cdx", lbc.String("values.clusterName"))
	assert.Equal(t, "vpc-1", lbc.String("values.vpcId"))
	assert.Equal(t, "us-east-1", lbc.String("values.region"))
	_, decided := lbc.Input("values.enableServiceMutatorWebhook")
	assert.True(t, decided, "the Service webhook is decided, not left to the chart")
	assert.False(t, lbc.Bool("values.enableServiceMutatorWebhook"))
	ann, _ := lbc.Input("values.serviceAccount.annotations")
	annotations, _ := ann.(map[string]any)
	assert.Equal(t, mocks.ARN("aws:iam/role:Role", "cdx-prod-platform-aws-lb-controller-role"), annotations["eks.amazonaws.com/role-arn"])
	lbcTrust, _ := rec.Named("aws:iam/role:Role", "cdx-prod-platform-aws-lb-controller-role")
	assert.Contains(t, lbcTrust.String("assumeRolePolicy"), `"system:serviceaccount:kube-system:aws-load-balancer-controller"`)
	lbcPolicy, _ := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-prod-platform-aws-lb-controller-role-policy")
	assert.Len(t, statements(t, lbcPolicy.String("policy")), 16, "the published policy's statements")

	eso, ok := rec.Named("kubernetes:helm.sh/v3:Release", "cdx-prod-platform-external-secrets")
	require.True(t, ok)
	assert.Equal(t, SecurityNamespace, eso.String("namespace"))
	assert.True(t, eso.Bool("values.installCRDs"))
	assert.True(t, eso.Bool("values.leaderElect"), "two controller replicas elect one leader")
	for r, paths := range map[*mocks.Resource][]string{
		&lbc: {"values.resources"},
		&eso: {"values.resources", "values.webhook.resources", "values.certController.resources"},
	} {
		for _, at := range paths {
			assert.NotEmpty(t, r.String(at+".limits.memory"), "%s %s: requests and limits", r.Name, at)
			assert.NotEmpty(t, r.String(at+".requests.cpu"), "%s %s: requests and limits", r.Name, at)
		}
	}
	secNS, ok := rec.Named("kubernetes:core/v1:Namespace", "cdx-prod-platform-ns-cantondex-security")
	require.True(t, ok)
	assert.Contains(t, eso.DependsOn, secNS.URN, "the release waits for its namespace")

	addon, ok := rec.Named("aws:eks/addon:Addon", "cdx-prod-platform-metrics-server")
	require.True(t, ok, "metrics-server is the EKS add-on")
	assert.Equal(t, "metrics-server", addon.String("addonName"))
}

// The operator reads exactly the platform's secrets and decrypts only through Secrets Manager;
// the store authenticates with the operator's service account.
func TestExternalSecretsScope(t *testing.T) {
	rec, p, err := runPlatform(t, "prod", mapSource{}, false)
	require.NoError(t, err)
	pol, ok := rec.Named("aws:iam/rolePolicy:RolePolicy", "cdx-prod-platform-external-secrets-role-policy")
	require.True(t, ok)
	var read []string
	for _, st := range statements(t, pol.String("policy")) {
		if st.Sid == "ReadPlatformSecrets" {
			read = list(st.Resource)
		}
	}
	want := []string{mocks.ARN("aws:secretsmanager/secret:Secret", "cdx-prod-cache-auth-token")}
	for _, name := range append(catalogSecrets(), monitoringSecrets()...) {
		if name != RedisAuthSecret {
			want = append(want, mocks.ARN("aws:secretsmanager/secret:Secret", "cdx-prod-platform-"+name))
		}
	}
	master := p.value("secret/" + MasterSecretKey(catalog.Trading))
	assert.True(t, strings.HasPrefix(master, "arn:aws:secretsmanager:"), "the migrations Job's master secret: %q", master)
	want = append(want, master)
	assert.ElementsMatch(t, want, read)
	assert.Contains(t, pol.String("policy"), `"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"`)
	require.Len(t, p.SecretKeys, len(catalogSecrets())+len(monitoringSecrets())+len(adminDatabases()))
	assert.Equal(t, want[0], p.value("secret/"+RedisAuthSecret))

	store, ok := rec.Named("kubernetes:external-secrets.io/v1:ClusterSecretStore", "cdx-prod-platform-secret-store")
	require.True(t, ok)
	assert.Equal(t, SecretStoreName, store.String("metadata.name"))
	assert.Equal(t, "SecretsManager", store.String("spec.provider.aws.service"))
	assert.Equal(t, ExternalSecretsServiceAccount, store.String("spec.provider.aws.auth.jwt.serviceAccountRef.name"))
	assert.Equal(t, SecurityNamespace, store.String("spec.provider.aws.auth.jwt.serviceAccountRef.namespace"))
	conditions, _ := store.Input("spec.conditions")
	assert.Equal(t, []any{map[string]any{"namespaces": []any{AppNamespace, MonitoringNamespace}}}, conditions,
		"only the platform's and the monitoring namespace use the store")

	nps := map[string]mocks.Resource{}
	for _, np := range rec.OfType("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
		if np.String("metadata.namespace") == SecurityNamespace {
			nps[np.String("metadata.name")] = np
		}
	}
	require.Contains(t, nps, "default-deny")
	assert.ElementsMatch(t, []string{"Ingress", "Egress"}, nps["default-deny"].Strings("spec.policyTypes"))
	assert.Len(t, nps, 3)
}

func TestWebACL(t *testing.T) {
	rec, _, err := runPlatform(t, "staging", mapSource{"edge": `{"rateLimit":750}`}, false)
	require.NoError(t, err)
	acl, ok := rec.Named("aws:wafv2/webAcl:WebAcl", "cdx-staging-platform-api-waf")
	require.True(t, ok)
	assert.Equal(t, "REGIONAL", acl.String("scope"))
	_, allow := acl.Input("defaultAction.allow")
	assert.True(t, allow, "default allow")
	v, _ := acl.Input("rules")
	rules := v.([]any)
	require.Len(t, rules, 4)
	rate := mocks.Resource{Inputs: rules[3].(map[string]any)}
	assert.Equal(t, float64(750), rate.Number("statement.rateBasedStatement.limit"), "rate limit from the settings")
	for _, ru := range rules {
		rr := mocks.Resource{Inputs: ru.(map[string]any)}
		assert.True(t, rr.Bool("visibilityConfig.cloudwatchMetricsEnabled"), rr.String("name"))
		assert.True(t, rr.Bool("visibilityConfig.sampledRequestsEnabled"), rr.String("name"))
	}
	logs, ok := rec.Named("aws:cloudwatch/logGroup:LogGroup", "cdx-staging-platform-api-waf-logs")
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(logs.String("name"), "aws-waf-logs-"))
	assert.NotEmpty(t, logs.String("kmsKeyId"), "WAF logs are KMS-encrypted")
	plan := &policy.Plan{Stack: "staging", Environment: "staging", Resources: rec.Resources()}
	assert.Empty(t, policy.Violations(policy.Evaluate(plan, policy.Rules())), "violations")
}

// `pulumi up` refuses missing and placeholder digests and the placeholder certificate, naming
// the setting, before anything is created.
func TestDeployRefusesPlaceholders(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	all := map[string]string{}
	for _, svc := range catalog.All() {
		all[svc.Name] = digest
	}
	withImages := func(drop string) string {
		m := maps.Clone(all)
		delete(m, drop)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cert := `{"certificateArn":"arn:aws:acm:us-east-1:210987654321:certificate/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"}`

	rec, _, err := runPlatform(t, "prod", mapSource{"images": withImages(catalog.RiskManagement), "edge": cert}, true)
	require.Error(t, err)
	assert.ErrorContains(t, err, "cantondex:images.risk-management: no digest for risk-management")
	assert.Empty(t, rec.OfType("aws:ecr/repository:Repository"), "nothing of the platform created")

	_, _, err = runPlatform(t, "prod", mapSource{"images": withImages("")}, true)
	assert.ErrorContains(t, err, "cantondex:edge.certificateArn: the stack file's placeholder certificate cannot be deployed")

	_, p, err := runPlatform(t, "prod", mapSource{"images": withImages(""), "edge": cert}, true)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(p.value("image/"+catalog.APIGateway), "/cantondex-prod/api-gateway@"+digest))
}
