package program

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Platform is CONTRACTS C4's type, which helper addons's infra/program/platform.go defines:
// this copy lets the workloads build before that lands. DELETE THIS FILE when platform.go is
// merged (the two declarations collide on purpose, so the merge cannot keep both).
type Platform struct {
	Namespaces     map[string]pulumi.Resource     // the four namespaces, by name (workloads depend on them)
	Images         map[string]pulumi.StringOutput // catalog service name -> "<ECR repository URL>@sha256:<digest>"
	ServiceRoles   map[string]pulumi.StringOutput // catalog service name -> its IRSA role ARN
	SecretStore    string                         // the ClusterSecretStore the workloads' ExternalSecrets reference
	WebACLARN      pulumi.StringOutput            // WAFv2 ACL for the gateway's ALB (Ingress annotation)
	CertificateARN string                         // ACM certificate for the ALB's HTTPS listener (stack setting)
	Releases       []pulumi.Resource              // Helm releases the workloads must wait for (CRDs, webhooks)
	// SecretKeys are, by catalog secret name, the Secrets Manager ARN an ExternalSecret's
	// remoteRef.key names.
	SecretKeys map[string]pulumi.StringOutput
}
