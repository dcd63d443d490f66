package program

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/workloads"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/stacks"
)

// RDSCAPlaceholder is the CA bundle the offline plan and previews use when the bundle's file
// has not been written (infra/README.md: "The RDS CA bundle"); pulumi up refuses to deploy it.
const RDSCAPlaceholder = "# RDS CA bundle placeholder: write the official bundle to the file cantondex:workloads.rdsCaBundleFile names\n"

// WorkloadSettings turns the stack's workload settings into the component's.
func WorkloadSettings(w stacks.Workloads) map[string]workloads.Settings {
	out := map[string]workloads.Settings{}
	for name, st := range w.Services {
		r := st.Resources
		out[name] = workloads.Settings{
			Replicas: st.Replicas, MinReplicas: st.MinReplicas, MaxReplicas: st.MaxReplicas,
			CPUTargetPercent: st.CPUTargetPercent, MemoryTargetPercent: st.MemoryTargetPercent,
			Resources: catalog.Resources{CPURequest: r.CPURequest, CPULimit: r.CPULimit, MemoryRequest: r.MemoryRequest, MemoryLimit: r.MemoryLimit},
			LogLevel:  w.LogLevelOf(name),
		}
	}
	return out
}

// WorkloadDenyNamespaces are the namespaces whose default-deny NetworkPolicy the workloads
// create: all four but cantondex-security, whose policies (default deny and the External
// Secrets Operator's flows) the platform writes with the operator it installs.
func WorkloadDenyNamespaces() []string {
	return slices.DeleteFunc(workloads.DefaultNamespaces(), func(ns string) bool { return ns == workloads.SecurityNamespace })
}

// deployWorkloads deploys the catalog into the cluster on what the foundation, the data tier
// and the platform built.
func deployWorkloads(ctx *pulumi.Context, s stacks.Settings, f *Foundation, d *Data, p *Platform) (*workloads.Workloads, error) {
	if d == nil || p == nil {
		return nil, ctx.Log.Warn("workloads skipped: no data tier or platform to run on", nil)
	}
	cidrs, err := s.Network.Subnets()
	if err != nil {
		return nil, fmt.Errorf("%s:network.cidr: %w", stacks.Namespace, err)
	}
	n := s.Network.AZCount
	ca, err := rdsCABundle(ctx, s.Workloads.RDSCABundleFile)
	if err != nil {
		return nil, err
	}

	ep := workloads.Endpoints{
		DatabaseProxies: map[string]pulumi.StringInput{}, DatabaseAddresses: map[string]pulumi.StringInput{},
		DatabaseSecrets: map[string]pulumi.StringInput{}, DatabaseUserSecrets: map[string]pulumi.StringMapInput{},
		KafkaBrokers: d.Kafka.BootstrapBrokers, TopicsJSON: d.TopicsJSON, Region: s.Region,
		RedisHost: d.Cache.ConfigurationEndpoint, RedisPort: d.Cache.Port,
	}
	if p.AuditSigningKeyARN.OutputState != nil {
		ep.AuditSigningKeyARN = p.AuditSigningKeyARN
	}
	for role, db := range d.Databases {
		ep.DatabaseAddresses[role], ep.DatabaseSecrets[role], ep.DatabaseUserSecrets[role] = db.Address, db.SecretARN, db.UserSecretARNs
		if dbSettings(s, role).Proxy {
			ep.DatabaseProxies[role] = db.ProxyEndpoint
		}
	}
	images, roles, keys := map[string]pulumi.StringInput{}, map[string]pulumi.StringInput{}, map[string]pulumi.StringInput{}
	for name, img := range p.Images {
		images[name] = img
	}
	for name, arn := range p.ServiceRoles {
		roles[name] = arn
	}
	// The Redis auth token lives in the cache's secret unless the platform names another.
	keys["cantondex-redis-auth-token"] = d.Cache.AuthTokenSecretARN
	for name, arn := range p.SecretKeys {
		keys[name] = arn
	}
	deps := slices.Clone(p.Releases)
	for _, ns := range slices.Sorted(maps.Keys(p.Namespaces)) {
		deps = append(deps, p.Namespaces[ns])
	}

	ingress := workloads.IngressArgs{CertificateARN: pulumi.String(p.CertificateARN), WebACLARN: p.WebACLARN}
	if set(f.ALBSecurityGroupID) {
		ingress.SecurityGroupID = f.ALBSecurityGroupID
	}
	w, err := workloads.NewWorkloads(ctx, "cdx-"+string(s.Environment)+"-workloads", workloads.WorkloadsArgs{
		Provider: f.Kubernetes, Settings: WorkloadSettings(s.Workloads),
		Images: images, Roles: roles, SecretStore: p.SecretStore, SecretKeys: keys,
		Ingress:   ingress,
		Endpoints: ep,
		Subnets: workloads.Subnets{
			VPC: s.Network.CIDR, Public: cidrs[:n], Private: cidrs[n : 2*n], Database: cidrs[2*n:],
		},
		RDSCABundle: pulumi.String(ca),
		Namespaces:  WorkloadDenyNamespaces(),
		DependsOn:   deps,
	})
	if err != nil {
		return nil, err
	}
	ctx.Export("workloads.namespace", w.Namespace)
	ctx.Export("workloads.objects", w.Objects)
	ctx.Export("workloads.ingressHostname", w.IngressHostname)
	return w, nil
}

// dbSettings returns the stack's settings of database role.
func dbSettings(s stacks.Settings, role string) *stacks.Database {
	for _, db := range s.Data.Databases.Roles() {
		if db.Role == role {
			return db.Database
		}
	}
	return &stacks.Database{}
}

// rdsCABundle reads the RDS CA bundle from file, a repository path resolved from the
// directory holding Pulumi.yaml. Offline (mocks or preview) a missing file plans with
// RDSCAPlaceholder and a warning; pulumi up refuses to deploy without the bundle.
func rdsCABundle(ctx *pulumi.Context, file string) (string, error) {
	path, err := repositoryPath(file)
	if err == nil {
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			if len(b) == 0 {
				err = errors.New("empty")
			} else {
				return string(b), nil
			}
		}
	}
	if ctx.RunningWithMocks() || ctx.DryRun() {
		_ = ctx.Log.Warn(fmt.Sprintf("%s:workloads.rdsCaBundleFile %s: %v: planned with a placeholder (pulumi up refuses it)", stacks.Namespace, file, err), nil)
		return RDSCAPlaceholder, nil
	}
	return "", fmt.Errorf("%s:workloads.rdsCaBundleFile %s: %w (write the official RDS CA bundle there: infra/README.md)", stacks.Namespace, file, err)
}

// repositoryPath resolves a repository path from the first directory upwards holding
// Pulumi.yaml (the repository root).
func repositoryPath(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(rel)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no Pulumi.yaml above the working directory: %w", fs.ErrNotExist)
		}
		dir = parent
	}
}
