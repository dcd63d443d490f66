package mocks

import (
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// OIDCIssuer is the issuer the mock gives every EKS cluster (without https://).
func OIDCIssuer(region string) string {
	return "oidc.eks." + region + ".amazonaws.com/id/MOCK0123456789ABCDEF"
}

// adoptedResource is a child a remote component's provider would create; the mock registers it
// so that the component's resource-typed outputs can refer to something the engine knows.
type adoptedResource struct {
	pulumi.CustomResourceState
}

// adopt registers a custom resource of typ named name with state as its inputs (echoed back as
// its outputs), records owner as its parent, and returns a reference to it. Under mocks,
// pulumi-eks's Cluster is a remote component: only the component itself is registered, so its
// outputs eksCluster and core.oidcProvider would otherwise refer to resources the mock engine
// has never seen, and rehydrating them (getResource) would fail.
func (r *Recorder) adopt(owner, typ, name string, state map[string]any) (resource.PropertyValue, error) {
	r.mu.Lock()
	ctx := r.ctx
	r.adopted[typ+"::"+name] = owner
	r.mu.Unlock()
	if ctx == nil {
		return resource.PropertyValue{}, fmt.Errorf("mocks: %s %s: the recorder is not running a program (use mocks.Run)", typ, name)
	}
	res := &adoptedResource{}
	if err := ctx.RegisterResource(typ, name, pulumi.ToMap(state), res); err != nil {
		return resource.PropertyValue{}, err
	}
	urn := make(chan string, 1)
	res.URN().ApplyT(func(u pulumi.URN) pulumi.URN { urn <- string(u); return u })
	select {
	case u := <-urn:
		return resource.MakeCustomResourceReference(resource.URN(u), resource.ID(name+"-id"), ""), nil
	case <-time.After(30 * time.Second):
		return resource.PropertyValue{}, fmt.Errorf("mocks: %s %s was never registered", typ, name)
	}
}

// registerEKS answers pulumi-eks's Cluster with the outputs a real deployment would have: the
// EKS cluster and its OIDC provider as resource references, the cluster security group that
// was passed in, and a kubeconfig.
func registerEKS(r *Recorder) {
	r.HandleOutputs("eks:index:Cluster", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		owner := rec.URN(parentOf(args), args.TypeToken, args.Name)
		clusterName := args.Name + "-eksCluster"
		if v, ok := args.Inputs["name"]; ok && v.IsString() {
			clusterName = v.StringValue()
		}
		region := Region
		issuer := OIDCIssuer(region)
		endpoint := "https://MOCK." + strings.ToLower(args.Name) + "." + region + ".eks.amazonaws.com"
		version := ""
		if v, ok := args.Inputs["version"]; ok && v.IsString() {
			version = v.StringValue()
		}

		eksCluster, err := rec.adopt(owner, "aws:eks/cluster:Cluster", args.Name+"-eksCluster", map[string]any{
			"name": clusterName, "version": version, "endpoint": endpoint,
			"arn":                  fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", region, Account, clusterName),
			"identities":           []any{map[string]any{"oidcs": []any{map[string]any{"issuer": "https://" + issuer}}}},
			"certificateAuthority": map[string]any{"data": "TU9DSw=="},
		})
		if err != nil {
			rec.Fail(err)
			return
		}
		oidc, err := rec.adopt(owner, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", args.Name+"-oidcProvider", map[string]any{
			"url":           issuer,
			"arn":           fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", Account, issuer),
			"clientIdLists": []any{"sts.amazonaws.com"},
		})
		if err != nil {
			rec.Fail(err)
			return
		}
		out["eksCluster"] = eksCluster
		core := resource.PropertyMap{
			"cluster":      eksCluster,
			"oidcProvider": oidc,
			"endpoint":     resource.NewProperty(endpoint),
		}
		if sg, ok := args.Inputs["clusterSecurityGroup"]; ok {
			out["clusterSecurityGroup"] = sg
			core["clusterSecurityGroup"] = sg
		}
		out["core"] = resource.NewObjectProperty(core)
		kubeconfig := map[string]any{
			"apiVersion": "v1", "kind": "Config", "current-context": "aws",
			"clusters": []any{map[string]any{"name": "kubernetes", "cluster": map[string]any{
				"server": endpoint, "certificate-authority-data": "TU9DSw==",
			}}},
			"contexts": []any{map[string]any{"name": "aws", "context": map[string]any{"cluster": "kubernetes", "user": "aws"}}},
			"users": []any{map[string]any{"name": "aws", "user": map[string]any{"exec": map[string]any{
				"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
				"args": []any{"eks", "get-token", "--cluster-name", clusterName},
			}}}},
		}
		out["kubeconfig"] = resource.NewObjectProperty(resource.NewPropertyMapFromMap(kubeconfig))
		out["kubeconfigJson"] = resource.NewProperty(fmt.Sprintf(
			`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"kubernetes","cluster":{"server":%q}}],"users":[{"name":"aws","user":{"exec":{"command":"aws","args":["eks","get-token","--cluster-name",%q]}}}]}`,
			endpoint, clusterName))
	})
}

func parentOf(args pulumi.MockResourceArgs) string {
	if args.RegisterRPC != nil {
		if p := args.RegisterRPC.GetParent(); !(resource.URN(p).IsValid() && resource.URN(p).QualifiedType() == resource.RootStackType) {
			return p
		}
	}
	return ""
}
