package mocks

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// registerData installs the outputs the data tier's resources have in AWS but not as inputs
// (endpoints, managed secrets, resource ids) and answers its invokes.
func registerData(r *Recorder) {
	r.HandleCall("aws:secretsmanager/getRandomPassword:getRandomPassword", func(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.NewPropertyMapFromMap(map[string]any{"randomPassword": "mock-random-password-0123456789abcdef", "id": "mock"}), nil
	})
	r.HandleOutputs("aws:rds/instance:Instance", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		id := args.Name
		if v, ok := args.Inputs["identifier"]; ok && v.IsString() {
			id = v.StringValue()
		}
		address := id + ".abcdefghijkl." + Region + ".rds.amazonaws.com"
		out["identifier"] = resource.NewProperty(id)
		out["address"] = resource.NewProperty(address)
		out["endpoint"] = resource.NewProperty(address + ":5432")
		out["port"] = resource.NewProperty(5432.0)
		out["resourceId"] = resource.NewProperty("db-" + id)
		out["arn"] = resource.NewProperty(fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", Region, Account, id))
		if v, ok := args.Inputs["manageMasterUserPassword"]; ok && v.IsBool() && v.BoolValue() {
			out["masterUserSecrets"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
				"secretArn":    resource.NewProperty(fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:rds!db-%s", Region, Account, id)),
				"kmsKeyId":     args.Inputs["masterUserSecretKmsKeyId"],
				"secretStatus": resource.NewProperty("active"),
			})})
		}
	})
	r.HandleOutputs("aws:rds/proxy:Proxy", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["endpoint"] = resource.NewProperty(args.Name + ".proxy-abcdefghijkl." + Region + ".rds.amazonaws.com")
		out["arn"] = resource.NewProperty(fmt.Sprintf("arn:aws:rds:%s:%s:db-proxy:prx-%s", Region, Account, args.Name))
	})
	r.HandleOutputs("aws:elasticache/replicationGroup:ReplicationGroup", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["configurationEndpointAddress"] = resource.NewProperty("clustercfg." + args.Name + ".abcdef.use1.cache.amazonaws.com")
		out["port"] = resource.NewProperty(6379.0)
	})
	r.HandleOutputs("aws:msk/cluster:Cluster", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		name := args.Name
		if v, ok := args.Inputs["clusterName"]; ok && v.IsString() {
			name = v.StringValue()
		}
		out["arn"] = resource.NewProperty(fmt.Sprintf("arn:aws:kafka:%s:%s:cluster/%s/0123abcd-uuid-1", Region, Account, name))
		out["bootstrapBrokersSaslIam"] = resource.NewProperty(fmt.Sprintf("b-1.%s.kafka.%s.amazonaws.com:9098,b-2.%s.kafka.%s.amazonaws.com:9098", name, Region, name, Region))
		out["currentVersion"] = resource.NewProperty("K1")
	})
	r.HandleOutputs("aws:serverlessrepository/cloudFormationStack:CloudFormationStack", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["outputs"] = resource.NewProperty(resource.PropertyMap{
			"RotationLambdaARN": resource.NewProperty(fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, args.Name)),
		})
	})
	r.HandleOutputs("aws:msk/configuration:Configuration", func(rec *Recorder, args pulumi.MockResourceArgs, out resource.PropertyMap) {
		out["latestRevision"] = resource.NewProperty(1.0)
	})
}
