package program

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/stacks"
)

// Foundation is what the foundation (network, security groups, identity, cluster) hands to the
// tiers built on it. Every field is set by foundation(); the data tier and the workloads read
// them and never look resources up by name.
type Foundation struct {
	Tags map[string]string

	VpcID             pulumi.StringOutput
	PublicSubnetIDs   pulumi.StringArrayOutput
	PrivateSubnetIDs  pulumi.StringArrayOutput
	DatabaseSubnetIDs pulumi.StringArrayOutput
	DBSubnetGroupName pulumi.StringOutput

	// Security group ids (see components/security).
	ALBSecurityGroupID          pulumi.StringOutput
	NodeSecurityGroupID         pulumi.StringOutput
	ControlPlaneSecurityGroupID pulumi.StringOutput
	RDSSecurityGroupID          pulumi.StringOutput
	RDSProxySecurityGroupID     pulumi.StringOutput
	RedisSecurityGroupID        pulumi.StringOutput
	MSKSecurityGroupID          pulumi.StringOutput

	// Identity.
	ClusterName     pulumi.StringOutput
	OIDCProviderARN pulumi.StringOutput
	OIDCProviderURL pulumi.StringOutput // without https://, as IRSA trust conditions need it
	NodeRoleARN     pulumi.StringOutput

	// Providers: the Kubernetes provider built from the cluster's kubeconfig (never the ambient
	// one), and the AWS provider of the disaster-recovery region.
	Kubernetes pulumi.ProviderResource
	DR         DRFoundation
}

// DRFoundation is what the disaster-recovery region has prepared for replicas.
type DRFoundation struct {
	Region             string
	Provider           pulumi.ProviderResource
	VpcID              pulumi.StringOutput
	DatabaseSubnetIDs  pulumi.StringArrayOutput
	DBSubnetGroupName  pulumi.StringOutput
	RDSSecurityGroupID pulumi.StringOutput
}

func foundation(ctx *pulumi.Context, s stacks.Settings) (*Foundation, error) {
	return &Foundation{Tags: s.Tags}, nil
}
