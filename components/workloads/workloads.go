// Package workloads deploys the service catalog's entries into the cluster: per service a
// ServiceAccount bound to its IRSA role, a ConfigMap with its environment against the
// managed data tier, ExternalSecrets for its secrets, a Deployment (a StatefulSet for
// consumer-group members, which take their static group membership from the pod name) or a
// Job, a Service, a PodDisruptionBudget and a HorizontalPodAutoscaler, NetworkPolicies that
// allow exactly the catalog's flows (Flows), and the public service's ALB Ingress; a Job
// with a catalog Schedule also runs as a CronJob. The sanctions lists are one ConfigMap
// (catalog.ScreeningListsConfigMap), created empty, mounted read-only into the services that
// screen and written only by the screening-sync Job, whose Role may get, update and patch that
// ConfigMap and nothing else. Every
// object is generated from the catalog entry and the stack's settings; nothing is written by
// hand per service.
package workloads

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/services/catalog"
)

// Namespaces (CONTRACTS C2). The catalog's services and Jobs run in Namespace.
const (
	Namespace           = "cantondex"
	MonitoringNamespace = "cantondex-monitoring"
	SecurityNamespace   = "cantondex-security"
	LoggingNamespace    = "cantondex-logging"
)

// DefaultNamespaces are the namespaces that get a default-deny NetworkPolicy.
func DefaultNamespaces() []string {
	return []string{Namespace, MonitoringNamespace, SecurityNamespace, LoggingNamespace}
}

// DefaultServices are the catalog's entries.
func DefaultServices() []catalog.Service { return catalog.All() }

// Pod identity: every container runs as this non-root user and group (the images' passwd
// entry).
const (
	UID = 1000
	GID = 1000
)

// ShutdownSeconds is the longest a binary takes to stop after SIGTERM (the ops and public
// listeners' graceful shutdown, services/platform and services/gateway/http: 10 s each, in
// parallel); DrainSeconds is how long the public service keeps serving after it is told to
// stop while the ALB deregisters it.
// StopMarginSeconds is added for what follows the listeners' shutdown (consumer groups
// leaving, the engine's last snapshots flushed, pools closed).
const (
	ShutdownSeconds   = 10
	DrainSeconds      = 15
	StopMarginSeconds = 20
)

// Settings are one service's stack settings (stacks.Workload).
type Settings struct {
	// Replicas the workload is created with; MinReplicas/MaxReplicas bound the HPA. Jobs
	// ignore all three.
	Replicas, MinReplicas, MaxReplicas int
	// CPUTargetPercent and MemoryTargetPercent are the HPA's utilisation targets.
	CPUTargetPercent, MemoryTargetPercent int
	Resources                             catalog.Resources
	LogLevel                              string
}

// Budget is a workload's PodDisruptionBudget: it keeps MinReplicas-1 pods available, or,
// when the HPA may go down to one pod, lets one be evicted at a time (a minAvailable of 1
// would block every drain of that pod). ok is false for a workload that never runs two pods.
func (s Settings) Budget() (minAvailable, maxUnavailable int, ok bool) {
	switch {
	case s.MaxReplicas < 2:
		return 0, 0, false
	case s.MinReplicas >= 2:
		return s.MinReplicas - 1, 0, true
	}
	return 0, 1, true
}

// Endpoints are the data tier's addresses the services' environment is filled from.
type Endpoints struct {
	// DatabaseProxies is the RDS Proxy endpoint of each catalog database (catalog.Trading...),
	// which the services reach with IAM authentication.
	DatabaseProxies map[string]pulumi.StringInput
	// For the migrations Job (catalog DBAdmin), which logs in to the instance as its owner:
	// each database's instance address, the ARN of the master credentials' secret, and its
	// IAM users' secrets ({user: secret ARN}) the Job fills.
	DatabaseAddresses   map[string]pulumi.StringInput
	DatabaseSecrets     map[string]pulumi.StringInput
	DatabaseUserSecrets map[string]pulumi.StringMapInput
	RedisHost           pulumi.StringInput // the configuration endpoint
	RedisPort           pulumi.IntInput
	KafkaBrokers        pulumi.StringInput // bootstrap brokers, SASL/IAM port
	TopicsJSON          string             // the stack's topic list for the topic Job (KAFKA_TOPICS_JSON)
	// AuditSigningKeyARN is the KMS key the audit checkpoints are signed with
	// (AUDIT_KMS_KEY_ID of the services with catalog SignsAudit).
	AuditSigningKeyARN pulumi.StringInput
	Region             string
}

// Subnets are the VPC's CIDR blocks, which NetworkPolicies' ipBlocks and the gateway's
// trusted proxies are made of.
type Subnets struct {
	VPC      string
	Public   []string // the ALB
	Private  []string // nodes, Redis, MSK, interface endpoints
	Database []string // RDS and the RDS Proxy
}

// IngressArgs configure the public service's ALB.
type IngressArgs struct {
	CertificateARN pulumi.StringInput // ACM certificate of the HTTPS listener
	WebACLARN      pulumi.StringInput // WAFv2 web ACL associated with the ALB
	// SecurityGroupID, when set, is the ALB's security group (the foundation's); the
	// controller then manages only the backend rules.
	SecurityGroupID pulumi.StringInput
}

// WorkloadsArgs: plain values for structure, inputs for what other resources give.
type WorkloadsArgs struct {
	// Provider is the cluster's Kubernetes provider; every object is created through it.
	Provider pulumi.ProviderResource
	// Services to deploy; nil means DefaultServices().
	Services []catalog.Service
	// Settings by service name (every service needs one).
	Settings map[string]Settings
	// Images by service name: "<repository>@sha256:<digest>" (by digest only).
	Images map[string]pulumi.StringInput
	// Roles are the IRSA role ARNs by service name; every service that authenticates with
	// IAM (RDS or MSK) needs one.
	Roles map[string]pulumi.StringInput
	// SecretStore is the ClusterSecretStore the ExternalSecrets read through.
	SecretStore string
	// SecretKeys maps a catalog secret's name to its Secrets Manager name or ARN; a secret
	// not listed is read under its catalog name.
	SecretKeys map[string]pulumi.StringInput
	Ingress    IngressArgs
	Endpoints  Endpoints
	Subnets    Subnets
	// RDSCABundle is the PEM of the RDS CA bundle (public) the pods verify the proxy with.
	RDSCABundle pulumi.StringInput
	// Namespaces that get a default-deny NetworkPolicy; nil means DefaultNamespaces(). They
	// are not created here (see DependsOn).
	Namespaces []string
	// DependsOn are what every object waits for: the namespaces and the Helm releases whose
	// CRDs and webhooks the objects use.
	DependsOn []pulumi.Resource
}

// Workloads is the catalog deployed into the cluster.
type Workloads struct {
	pulumi.ResourceState

	// Namespace the services run in.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// Objects names each service's workload ("StatefulSet/matching-engine"), by service.
	Objects pulumi.StringMapOutput `pulumi:"objects"`
	// IngressHostname is the public ALB's DNS name once the controller has created it.
	IngressHostname pulumi.StringOutput `pulumi:"ingressHostname"`
}

// shaDigest reports whether image is "<repository>@sha256:<64 hex digits>".
func shaDigest(image string) bool {
	_, digest, ok := strings.Cut(image, "@sha256:")
	if !ok || len(digest) != 64 {
		return false
	}
	return strings.Trim(digest, "0123456789abcdef") == ""
}

// services are a.Services, or the defaults when nil.
func (a WorkloadsArgs) services() []catalog.Service {
	if a.Services == nil {
		return DefaultServices()
	}
	return a.Services
}

// namespaces are a.Namespaces, or the defaults when nil.
func (a WorkloadsArgs) namespaces() []string {
	if a.Namespaces == nil {
		return DefaultNamespaces()
	}
	return a.Namespaces
}

func (a WorkloadsArgs) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Provider == nil {
		add("provider: the cluster's Kubernetes provider is required")
	}
	if len(a.services()) == 0 {
		add("services: none to deploy")
	}
	seen := map[string]bool{}
	for _, s := range a.services() {
		if seen[s.Name] {
			add("services: %s listed twice", s.Name)
		}
		seen[s.Name] = true
		st, ok := a.Settings[s.Name]
		switch {
		case !ok:
			add("settings.%s: missing", s.Name)
		case s.Kind == catalog.Deployment && (st.Replicas < 1 || st.MinReplicas < 1 || st.MinReplicas > st.Replicas || st.MaxReplicas < st.Replicas):
			add("settings.%s: want 1 <= minReplicas (%d) <= replicas (%d) <= maxReplicas (%d)", s.Name, st.MinReplicas, st.Replicas, st.MaxReplicas)
		case s.Kind == catalog.Deployment && st.Replicas >= 2 && st.MinReplicas < 2:
			add("settings.%s.minReplicas: %d leaves a multi-replica workload's disruption budget nothing to keep", s.Name, st.MinReplicas)
		case s.Kind == catalog.Deployment && (st.CPUTargetPercent < 1 || st.CPUTargetPercent > 100 || st.MemoryTargetPercent < 1 || st.MemoryTargetPercent > 100):
			add("settings.%s: utilisation targets must be 1 to 100, got cpu %d memory %d", s.Name, st.CPUTargetPercent, st.MemoryTargetPercent)
		}
		if ok && (st.Resources.CPURequest == "" || st.Resources.CPULimit == "" || st.Resources.MemoryRequest == "" || st.Resources.MemoryLimit == "") {
			add("settings.%s.resources: requests and limits of CPU and memory are required", s.Name)
		}
		if s.Kind != catalog.Deployment && s.Kind != catalog.Job {
			add("services.%s: kind %q is neither Deployment nor Job", s.Name, s.Kind)
		}
		if _, ok := a.Images[s.Name]; !ok {
			add("images.%s: missing", s.Name)
		}
		if _, ok := a.Roles[s.Name]; usesIAM(s) && !ok {
			add("roles.%s: missing: it authenticates to RDS, MSK or KMS with IAM", s.Name)
		}
		if _, ok := a.Endpoints.DatabaseProxies[s.Database]; s.Database != "" && !s.DBAdmin && !ok {
			add("endpoints.databaseProxies.%s: missing (used by %s)", s.Database, s.Name)
		}
		if s.DBAdmin {
			_, address := a.Endpoints.DatabaseAddresses[s.Database]
			_, secret := a.Endpoints.DatabaseSecrets[s.Database]
			_, users := a.Endpoints.DatabaseUserSecrets[s.Database]
			if !address || !secret || !users {
				add("endpoints: %s needs the address, master secret and user secrets of database %s", s.Name, s.Database)
			}
		}
		if s.Redis && (a.Endpoints.RedisHost == nil || a.Endpoints.RedisPort == nil) {
			add("endpoints.redis: host and port are required (used by %s)", s.Name)
		}
		if s.Kafka() && a.Endpoints.KafkaBrokers == nil {
			add("endpoints.kafkaBrokers: required (used by %s)", s.Name)
		}
		if s.SignsAudit && a.Endpoints.AuditSigningKeyARN == nil {
			add("endpoints.auditSigningKeyArn: required (used by %s)", s.Name)
		}
		if s.TopicAdmin && a.Endpoints.TopicsJSON == "" {
			add("endpoints.topicsJson: required (used by %s)", s.Name)
		}
		if s.PublicPort != 0 && (a.Ingress.CertificateARN == nil || a.Ingress.WebACLARN == nil) {
			add("ingress: certificate and web ACL ARNs are required (%s is public)", s.Name)
		}
		if s.Database != "" && a.RDSCABundle == nil {
			add("rdsCaBundle: required (%s verifies the RDS Proxy with it)", s.Name)
		}
		if (len(s.Secrets) > 0 || s.DBAdmin) && a.SecretStore == "" {
			add("secretStore: required (%s reads secrets)", s.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Settings)) {
		if !seen[name] {
			add("settings.%s: not a service to deploy", name)
		}
	}
	if a.Endpoints.Region == "" {
		add("endpoints.region: required")
	}
	for field, blocks := range map[string][]string{"vpc": {a.Subnets.VPC}, "public": a.Subnets.Public, "private": a.Subnets.Private, "database": a.Subnets.Database} {
		if len(blocks) == 0 {
			add("subnets.%s: required", field)
		}
		for _, b := range blocks {
			if p, err := netip.ParsePrefix(b); err != nil || p.Masked() != p {
				add("subnets.%s: %q is not a CIDR block", field, b)
			}
		}
	}
	return errors.Join(errs...)
}

// byDigest passes an image reference through when it names a digest (CKV_K8S_43) and fails
// the deployment otherwise.
func byDigest(service string, image pulumi.StringInput) pulumi.StringOutput {
	return image.ToStringOutput().ApplyT(func(ref string) (string, error) {
		if !shaDigest(ref) {
			return "", fmt.Errorf("images.%s: %q is not <repository>@sha256:<64 hex digits>", service, ref)
		}
		return ref, nil
	}).(pulumi.StringOutput)
}
