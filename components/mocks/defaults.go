package mocks

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// registerDefaults installs answers for the invokes the AWS provider makes on every program, and
// outputs that real AWS resources have but that are not inputs.
func registerDefaults(r *Recorder) {
	r.HandleCall("aws:index/getCallerIdentity:getCallerIdentity", func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account, "arn": "arn:aws:iam::" + Account + ":user/mock", "userId": "mock", "id": Account,
		}), nil
	})
	r.HandleCall("aws:index/getRegion:getRegion", func(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
		name := Region
		if v, ok := args.Args["name"]; ok && v.IsString() && v.StringValue() != "" {
			name = v.StringValue()
		}
		return resource.NewPropertyMapFromMap(map[string]any{"name": name, "region": name, "id": name}), nil
	})
	r.HandleCall("aws:index/getPartition:getPartition", func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
		}), nil
	})
	r.HandleCall("aws:index/getAvailabilityZones:getAvailabilityZones", func(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
		region := r.providerRegion(args.Provider)
		var names, ids []any
		for i, suffix := range "abcdef" {
			names = append(names, region+string(suffix))
			ids = append(ids, fmt.Sprintf("%s-az%d", region, i+1))
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names, "zoneIds": ids, "id": region}), nil
	})
	r.HandleOutputs("aws:ec2/vpc:Vpc", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["defaultSecurityGroupId"] = resource.NewProperty(args.Name + "-default-sg")
		out["defaultRouteTableId"] = resource.NewProperty(args.Name + "-default-rt")
		out["defaultNetworkAclId"] = resource.NewProperty(args.Name + "-default-acl")
	})
	r.HandleOutputs("aws:ecr/repository:Repository", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		name := args.Name
		if v, ok := args.Inputs["name"]; ok && v.IsString() {
			name = v.StringValue()
		}
		out["repositoryUrl"] = resource.NewProperty(Account + ".dkr.ecr." + Region + ".amazonaws.com/" + name)
	})
	r.HandleOutputs("aws:kms/key:Key", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["keyId"] = resource.NewProperty(args.Name + "-key-id")
	})
}

// providerRegion is the region of the provider an invoke names ("urn::id"), or Region for the
// default provider.
func (r *Recorder) providerRegion(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		for _, res := range r.Resources() {
			if res.URN == ref[:i] {
				if region := res.String("region"); region != "" {
					return region
				}
			}
		}
	}
	return Region
}
