package program

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/registry"
	"github.com/cantondex/platform/components/streaming"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// The cluster's namespaces (CONTRACTS C2): the catalog's services and Jobs, monitoring, the
// External Secrets Operator, and log shipping. The shared add-ons AWS documents in kube-system
// (the load balancer controller, metrics-server) stay there.
const (
	AppNamespace        = "cantondex"
	MonitoringNamespace = "cantondex-monitoring"
	SecurityNamespace   = "cantondex-security"
	LoggingNamespace    = "cantondex-logging"
)

// Namespaces are the four namespaces, in a fixed order.
func Namespaces() []string {
	return []string{AppNamespace, MonitoringNamespace, SecurityNamespace, LoggingNamespace}
}

// Platform is what the registry, the shared cluster add-ons and the AWS edge give the workloads.
type Platform struct {
	Namespaces   map[string]pulumi.Resource     // the four namespaces, by name (workloads depend on them)
	Images       map[string]pulumi.StringOutput // catalog service name -> "<ECR repository URL>@sha256:<digest>"
	ServiceRoles map[string]pulumi.StringOutput // catalog service name -> its IRSA role ARN
	// AuditSigningKeyARN is the KMS key audit-signing (ECC_NIST_P256, SIGN_VERIFY) the
	// compliance service signs the audit checkpoints with (AUDIT_KMS_KEY_ID).
	AuditSigningKeyARN pulumi.StringOutput
	SecretStore        string              // the ClusterSecretStore the workloads' ExternalSecrets reference
	WebACLARN          pulumi.StringOutput // WAFv2 ACL for the gateway's ALB (Ingress annotation)
	CertificateARN     string              // ACM certificate for the ALB's HTTPS listener (stack setting)
	Releases           []pulumi.Resource   // Helm releases the workloads must wait for (CRDs, webhooks)
	// SecretKeys are, by catalog secret name (and MasterSecretKey(role) for the migrations Job's
	// master secret), the Secrets Manager ARN an ExternalSecret's remoteRef.key names (the secret
	// store reads exactly these).
	SecretKeys map[string]pulumi.StringOutput
}

// deployable refuses what only a plan may use: missing or placeholder image digests and the
// placeholder certificate. Run calls it before creating anything.
func deployable(s stacks.Settings) error {
	return errors.Join(s.Images.CheckDeployable(), s.Edge.CheckDeployable(s.Region))
}

// offline reports whether nothing is deployed by this run: the offline plan (mock monitor) or
// `pulumi preview`. Only then are placeholders (image digests, the certificate) acceptable.
func offline(ctx *pulumi.Context) bool { return ctx.RunningWithMocks() || ctx.DryRun() }

// platform builds the registry, the per-service IAM roles, the namespaces, the cluster add-ons
// and the edge on the foundation and the data tier (d is nil when the data tier was skipped:
// then there are no per-service roles).
func platform(ctx *pulumi.Context, s stacks.Settings, f *Foundation, d *Data) (*Platform, error) {
	return buildPlatform(ctx, s, f, d, !offline(ctx))
}

// buildPlatform is platform; deploying is false for the offline plan and previews, which may
// use placeholders, and true for `pulumi up`, which refuses them before creating anything.
func buildPlatform(ctx *pulumi.Context, s stacks.Settings, f *Foundation, d *Data, deploying bool) (*Platform, error) {
	base := "cdx-" + string(s.Environment)
	images := s.Images
	if !deploying {
		if missing := images.Missing(); len(missing) > 0 {
			_ = ctx.Log.Warn("cantondex:images has no digest for "+strings.Join(missing, ", ")+": planned with placeholder digests (refused by pulumi up)", nil)
			images = images.WithPlaceholders()
		}
	} else if err := deployable(s); err != nil {
		return nil, err
	}
	comp := &platformResource{}
	name := base + "-platform"
	if err := ctx.RegisterComponentResource("cantondex:platform:Platform", name, comp); err != nil {
		return nil, err
	}
	in := pulumi.Parent(comp)
	p := &Platform{
		Namespaces: map[string]pulumi.Resource{}, Images: map[string]pulumi.StringOutput{},
		ServiceRoles: map[string]pulumi.StringOutput{}, SecretKeys: map[string]pulumi.StringOutput{},
		CertificateARN: s.Edge.CertificateARN,
	}

	var names []string
	for _, svc := range catalog.All() {
		names = append(names, svc.Name)
	}
	reg, err := registry.NewRegistry(ctx, name+"-images", registry.RegistryArgs{
		Prefix: "cantondex-" + string(s.Environment), Repositories: names,
		KeepReleases: s.Registry.KeepReleases, UntaggedExpiryDays: s.Registry.UntaggedExpiryDays,
		ForceDelete: s.Registry.ForceDelete, AccountID: f.AccountID, Tags: s.Tags,
	}, in)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		p.Images[n] = pulumi.Sprintf("%s@%s", reg.URLs[n], images[n])
	}

	k8s := pulumi.Provider(f.Kubernetes)
	for _, ns := range Namespaces() {
		created, err := corev1.NewNamespace(ctx, name+"-ns-"+ns, &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(ns), Labels: pulumi.ToStringMap(NamespaceLabels(ns))},
		}, k8s, in)
		if err != nil {
			return nil, err
		}
		p.Namespaces[ns] = created
	}

	switch {
	case !set(f.OIDCProviderARN) || !set(f.OIDCProviderURL):
		_ = ctx.Log.Warn("no OIDC provider: no per-service IAM roles", nil)
	case d == nil:
		_ = ctx.Log.Warn("no data tier: no per-service IAM roles", nil)
	default:
		if err := serviceRoles(ctx, name, s, f, d, p, in); err != nil {
			return nil, err
		}
	}
	if err := addons(ctx, name, s, f, d, p, in); err != nil {
		return nil, err
	}
	if p.WebACLARN, err = edge(ctx, name, s, f, in); err != nil {
		return nil, err
	}

	ctx.Export("registry.repositoryUrls", reg.RepositoryURLs)
	ctx.Export("registry.kmsKeyArn", reg.KMSKeyARN)
	ctx.Export("platform.images", pulumi.ToStringMapOutput(p.Images))
	ctx.Export("platform.serviceRoleArns", pulumi.ToStringMapOutput(p.ServiceRoles))
	if p.AuditSigningKeyARN.OutputState != nil {
		ctx.Export("audit.signingKeyArn", p.AuditSigningKeyARN)
	}
	ctx.Export("platform.namespaces", pulumi.ToStringArray(Namespaces()))
	ctx.Export("platform.secretStore", pulumi.String(p.SecretStore))
	ctx.Export("edge.webAclArn", p.WebACLARN)
	ctx.Export("edge.certificateArn", pulumi.String(p.CertificateARN))
	return p, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"images": pulumi.ToStringMapOutput(p.Images), "serviceRoleArns": pulumi.ToStringMapOutput(p.ServiceRoles),
		"webAclArn": p.WebACLARN, "secretStore": pulumi.String(p.SecretStore),
	})
}

// platformResource is the component holding the registry, the namespaces, the add-ons, the
// per-service roles and the edge.
type platformResource struct {
	pulumi.ResourceState
}

// NamespaceLabels enforce, audit and warn Pod Security Admission's restricted profile, except
// in the logging namespace, which enforces privileged and audits and warns restricted.
//
// Why the logging namespace is the one exception: Fluent Bit must read the node's container
// logs (hostPath /var/log, read-only) and keep its tail positions and buffer across restarts
// (hostPath /var/fluent-bit/state), and both the baseline and the restricted standards forbid
// every hostPath volume, so no level between privileged and restricted admits it. Enforcing
// privileged on a namespace that holds nothing else, with audit and warn kept at restricted,
// makes the exception visible on every admission; the policy rule
// logging-namespace-fluent-bit-only holds that only the Fluent Bit DaemonSet runs there and
// that it mounts /var/log read-only, and Fluent Bit has its own IRSA role limited to its two
// log groups (components/logging).
func NamespaceLabels(ns string) map[string]string {
	out := map[string]string{"app.kubernetes.io/part-of": "cantondex"}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		out["pod-security.kubernetes.io/"+mode] = "restricted"
		out["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	if ns == LoggingNamespace {
		out["pod-security.kubernetes.io/enforce"] = "privileged"
	}
	return out
}

// ServiceDB is the database a service's role reaches: what IAM authentication names it by, and,
// for the migrations Job, the IAM users' secrets it fills (with their key). Nil: none.
type ServiceDB struct {
	ConnectID   pulumi.StringInput            // proxy or instance resource id
	UserSecrets map[string]pulumi.StringInput // by IAM user; empty without a proxy
	KeyARN      pulumi.StringInput            // the database's key, which encrypts them
}

// ServiceDocument is the IAM policy of one catalog service, derived from its entry: its MSK
// topics and groups (the streaming component's client document) and rds-db:connect as its own
// database user on what it connects to; for the migrations Job (DBAdmin, which logs in with the
// synced master secret, not IAM) read and write the IAM users' secrets it fills. ok is false for
// a service that needs no AWS API (no role then). A service that signs the audit checkpoints
// (SignsAudit) may kms:Sign and kms:GetPublicKey on auditKeyARN, the audit-signing key, only.
// Secrets reach pods through the External Secrets Operator, so no service reads Secrets Manager
// itself.
func ServiceDocument(svc catalog.Service, kafkaClusterARN pulumi.StringOutput, db *ServiceDB, auditKeyARN pulumi.StringInput, partition, region, account string) (identity.Document, bool) {
	var doc identity.Document
	if access, ok := catalog.Access()[svc.Name]; ok {
		doc.Statements = append(doc.Statements, streaming.ClientDocument(kafkaClusterARN, svc.Name,
			streaming.ClientAccess{Produce: access.Produce, Consume: access.Consume}).Statements...)
	}
	switch {
	case db == nil:
	case svc.DBAdmin && len(db.UserSecrets) > 0:
		var arns []pulumi.StringInput
		for _, u := range slices.Sorted(maps.Keys(db.UserSecrets)) {
			arns = append(arns, db.UserSecrets[u])
		}
		doc.Statements = append(doc.Statements,
			identity.Statement{Sid: "FillUserSecrets", Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"}, Resources: arns},
			identity.Statement{Sid: "UserSecretsKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resources: []pulumi.StringInput{db.KeyARN}})
	case !svc.DBAdmin:
		doc.Statements = append(doc.Statements, identity.Statement{
			Sid: "ConnectAs" + strings.ReplaceAll(svc.DBUser, "_", ""), Actions: []string{"rds-db:connect"},
			Resources: []pulumi.StringInput{pulumi.Sprintf("arn:%s:rds-db:%s:%s:dbuser:%s/%s", partition, region, account, db.ConnectID, svc.DBUser)},
		})
	}
	if svc.SignsAudit && auditKeyARN != nil {
		doc.Statements = append(doc.Statements, identity.Statement{
			Sid: "SignAuditCheckpoints", Actions: []string{"kms:Sign", "kms:GetPublicKey"}, Resources: []pulumi.StringInput{auditKeyARN},
		})
	}
	return doc, len(doc.Statements) > 0
}

// serviceRoles creates one IRSA role per catalog service that uses an AWS API, trusted by
// system:serviceaccount:cantondex:<name> only. The topic Job's role is the streaming
// component's topic-admin role (it trusts the same service account).
func serviceRoles(ctx *pulumi.Context, base string, s stacks.Settings, f *Foundation, d *Data, p *Platform, in pulumi.ResourceOption) error {
	proxied := map[string]bool{}
	for _, db := range s.Data.Databases.Roles() {
		proxied[db.Role] = db.Proxy
	}
	if slices.ContainsFunc(catalog.All(), func(svc catalog.Service) bool { return svc.SignsAudit }) {
		key, err := auditSigningKey(ctx, base, s, f, in)
		if err != nil {
			return err
		}
		p.AuditSigningKeyARN = key.Arn
	}
	for _, svc := range catalog.All() {
		if svc.TopicAdmin {
			p.ServiceRoles[svc.Name] = d.Kafka.TopicAdminRoleARN
			continue
		}
		var clusterARN pulumi.StringOutput
		if svc.Kafka() && d.Kafka != nil {
			clusterARN = d.Kafka.ClusterARN
		}
		var sdb *ServiceDB
		if db, ok := d.Databases[svc.Database]; ok {
			sdb = &ServiceDB{ConnectID: db.ConnectResourceID, KeyARN: db.KMSKeyARN, UserSecrets: map[string]pulumi.StringInput{}}
			if proxied[svc.Database] {
				for _, u := range DatabaseUsers(svc.Database) {
					sdb.UserSecrets[u] = db.UserSecretARNs.MapIndex(pulumi.String(u))
				}
			}
		}
		if svc.Kafka() && clusterARN.OutputState == nil || svc.Database != "" && sdb == nil {
			return fmt.Errorf("%s needs %s but the data tier did not build it", svc.Name, needs(svc))
		}
		var auditKey pulumi.StringInput
		if svc.SignsAudit {
			auditKey = p.AuditSigningKeyARN
		}
		doc, ok := ServiceDocument(svc, clusterARN, sdb, auditKey, "aws", s.Region, f.AccountID)
		if !ok {
			continue
		}
		role, err := identity.NewServiceAccountRole(ctx, base+"-svc-"+svc.Name, identity.ServiceAccountRoleArgs{
			OIDCProviderARN: f.OIDCProviderARN, OIDCProviderURL: f.OIDCProviderURL,
			Namespace: AppNamespace, ServiceAccount: svc.Name, Policy: &doc, Tags: s.Tags,
		}, in)
		if err != nil {
			return err
		}
		p.ServiceRoles[svc.Name] = role.RoleARN
	}
	return nil
}

// auditSigningKey is the KMS key audit-signing: customer managed, ECC_NIST_P256 for
// SIGN_VERIFY (ECDSA P-256; the private key never leaves KMS), administered by the account
// root; no rotation (KMS rotates symmetric keys only: a new key is a new key id, which each
// checkpoint names), 30 days' deletion window. Its use is granted by the signer's IRSA role.
func auditSigningKey(ctx *pulumi.Context, base string, s stacks.Settings, f *Foundation, in pulumi.ResourceOption) (*kms.Key, error) {
	return identity.NewKey(ctx, base+"-audit-signing", identity.KeyArgs{
		Description: "CantonDEX audit-signing: signs the compliance audit trail's checkpoints",
		AccountRoot: pulumi.Sprintf("arn:aws:iam::%s:root", f.AccountID),
		KeySpec:     "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", DeletionWindowDays: 30, Tags: s.Tags,
	}, in)
}

// needs names what a service needs from the data tier, for errors.
func needs(svc catalog.Service) string {
	var out []string
	if svc.Kafka() {
		out = append(out, "Kafka")
	}
	if svc.Database != "" {
		out = append(out, "the "+svc.Database+" database")
	}
	return strings.Join(slices.Compact(out), " and ")
}
