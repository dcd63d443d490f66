package database

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const (
	instanceType = "aws:rds/instance:Instance"
	proxyType    = "aws:rds/proxy:Proxy"
)

func testArgs() DatabaseArgs {
	return DatabaseArgs{
		Identifier: "cdx-test-trading", Profile: OLTP, EngineVersion: "15", InstanceClass: "db.r6g.xlarge",
		DatabaseName: "trading", Username: "cantondex",
		AllocatedStorageGiB: 100, MaxAllocatedStorageGiB: 1000, MultiAZ: true, BackupRetentionDays: 30,
		BackupWindow: "03:00-04:00", MaintenanceWindow: "sun:04:30-sun:05:30", DeletionProtection: true,
		PerformanceInsightsRetentionDays: 31, MonitoringIntervalSeconds: 15, LogRetentionDays: 365,
		PreloadLibraries: []string{"pg_stat_statements"},
		SubnetGroupName:  pulumi.String("db-subnets"),
		SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-rds")},
		Tags:             map[string]string{"environment": "test"},
	}
}

// run builds a database under mocks from testArgs changed by mutate.
func run(t *testing.T, mutate func(*DatabaseArgs, *pulumi.Context) error) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(testArgs(), mutate, func(ctx *pulumi.Context, a DatabaseArgs) error {
		_, err := NewDatabase(ctx, "trading", a)
		return err
	})
}

func TestPrimaryIsEncryptedPrivateAndIAMAuthenticated(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)
	db, ok := rec.Named(instanceType, "trading")
	require.True(t, ok, "no primary instance; got %d resources", len(rec.Resources()))
	comp, _ := rec.Named("cantondex:database:Database", "trading")
	assert.Equal(t, comp.URN, db.Parent, "instance parent, want the component")
	keyARN := mocks.ARN("aws:kms/key:Key", "trading-key")
	for path, want := range map[string]any{
		"engine": "postgres", "engineVersion": "15", "instanceClass": "db.r6g.xlarge", "storageType": "gp3",
		"storageEncrypted": true, "publiclyAccessible": false, "multiAz": true, "iamDatabaseAuthenticationEnabled": true,
		"manageMasterUserPassword": true, "backupRetentionPeriod": 30.0, "deletionProtection": true, "copyTagsToSnapshot": true,
		"skipFinalSnapshot": false, "finalSnapshotIdentifier": "cdx-test-trading-final", "performanceInsightsEnabled": true,
		"monitoringInterval": 15.0, "maxAllocatedStorage": 1000.0, "dbSubnetGroupName": "db-subnets",
		"kmsKeyId": keyARN, "performanceInsightsKmsKeyId": keyARN, "masterUserSecretKmsKeyId": keyARN,
	} {
		got, _ := db.Input(path)
		assert.Equal(t, want, got, path)
	}
	_, ok = db.Input("password")
	assert.False(t, ok, "a literal password is set")
	assert.Equal(t, []string{"sg-rds"}, db.Strings("vpcSecurityGroupIds"), "security groups")
	assert.Equal(t, "postgresql,upgrade", strings.Join(db.Strings("enabledCloudwatchLogsExports"), ","), "log exports")
	assert.NotEmpty(t, db.String("monitoringRoleArn"), "enhanced monitoring has no role")
	for _, lt := range DefaultLogExports() {
		lg, ok := rec.Named("aws:cloudwatch/logGroup:LogGroup", "trading-log-"+lt)
		if assert.True(t, ok, "no log group %s", lt) {
			assert.Equal(t, "/aws/rds/instance/cdx-test-trading/"+lt, lg.String("name"), "log group %s", lt)
			assert.Equal(t, 365.0, lg.Number("retentionInDays"), "log group %s", lt)
			assert.NotEmpty(t, lg.String("kmsKeyId"), "log group %s is not encrypted", lt)
		}
	}
	assert.Len(t, rec.OfType(instanceType), 1, "instances without replicas")
	assert.Empty(t, rec.OfType(proxyType), "proxy created without being asked for")
	assert.Empty(t, rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm"), "alarms created without being asked for")
}

func parameters(t *testing.T, rec *mocks.Recorder, name string) map[string]string {
	t.Helper()
	pg, ok := rec.Named("aws:rds/parameterGroup:ParameterGroup", name)
	require.True(t, ok, "no parameter group %s", name)
	out := map[string]string{}
	list, _ := pg.Input("parameters")
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		out[m["name"].(string)] = m["value"].(string) + "/" + m["applyMethod"].(string)
	}
	assert.Equal(t, "postgres15", pg.String("family"), "family")
	return out
}

func TestParameterGroupIsTunedPerProfile(t *testing.T) {
	rec, err := run(t, func(a *DatabaseArgs, _ *pulumi.Context) error {
		a.Profile = TimeSeries
		a.PreloadLibraries = []string{"pg_stat_statements", "timescaledb"}
		a.Parameters = map[string]string{"work_mem": "16384"}
		return nil
	})
	require.NoError(t, err)
	p := parameters(t, rec, "trading-params")
	for k, want := range map[string]string{
		"shared_preload_libraries": "pg_stat_statements,timescaledb/pending-reboot",
		"rds.force_ssl":            "1/immediate",
		"work_mem":                 "16384/immediate", // the override wins over the profile
		"max_worker_processes":     "32/pending-reboot",
	} {
		assert.Equal(t, want, p[k], k)
	}
	assert.Contains(t, p, "timescaledb.max_background_workers", "timescaledb workers not tuned")

	rec, err = run(t, func(a *DatabaseArgs, _ *pulumi.Context) error { a.Profile = ReadHeavy; return nil })
	require.NoError(t, err)
	p = parameters(t, rec, "trading-params")
	assert.Equal(t, "4/immediate", p["max_parallel_workers_per_gather"], "read-heavy parameters %v", p)
	assert.Equal(t, "pg_stat_statements/pending-reboot", p["shared_preload_libraries"], "read-heavy parameters %v", p)
	assert.NotContains(t, p, "timescaledb.max_background_workers", "timescaledb parameter without the library preloaded")
}

func TestReplicasDRAndProxy(t *testing.T) {
	rec, err := run(t, func(a *DatabaseArgs, ctx *pulumi.Context) error {
		dr, err := aws.NewProvider(ctx, "dr", &aws.ProviderArgs{Region: pulumi.String("eu-west-1")})
		if err != nil {
			return err
		}
		a.ReadReplicas = 1
		a.DR = &DRArgs{Provider: dr, SubnetGroupName: pulumi.String("dr-db-subnets"), SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-dr-rds")}}
		a.Proxy = &ProxyArgs{SubnetIDs: pulumi.ToStringArray([]string{"subnet-1", "subnet-2"}), SecurityGroupIDs: pulumi.StringArray{pulumi.String("sg-proxy")}}
		a.Alarms = &AlarmArgs{TopicARN: pulumi.String("arn:aws:sns:us-east-1:1:alarms"), CPUPercent: 80, FreeStorageGiB: 20, Connections: 800, ReplicaLagSeconds: 60}
		a.IAMUsers = []string{"orders"}
		a.Rotation = &RotationArgs{VpcID: pulumi.String("vpc-1"), SubnetIDs: pulumi.ToStringArray([]string{"private-a", "private-b"}), DatabaseSecurityGroupID: pulumi.String("sg-rds"), Days: 30}
		return nil
	})
	require.NoError(t, err)
	primary, _ := rec.Named(instanceType, "trading")
	replica, ok := rec.Named(instanceType, "trading-replica-1")
	if assert.True(t, ok, "no read replica") {
		assert.Equal(t, "cdx-test-trading", replica.String("replicateSourceDb"), "read replica %+v", replica.Inputs)
		assert.True(t, replica.Bool("storageEncrypted"), "read replica not encrypted: %+v", replica.Inputs)
		assert.False(t, replica.Bool("publiclyAccessible"), "read replica public: %+v", replica.Inputs)
		assert.True(t, replica.Bool("iamDatabaseAuthenticationEnabled"), "read replica without IAM authentication: %+v", replica.Inputs)
	}
	dr, ok := rec.Named(instanceType, "trading-dr")
	require.True(t, ok, "no DR replica")
	drKey, _ := rec.Named("aws:kms/key:Key", "trading-dr-key")
	assert.Equal(t, "arn:aws:rds:us-east-1:123456789012:db:cdx-test-trading", dr.String("replicateSourceDb"), "DR source is not the primary's ARN")
	assert.Contains(t, dr.Provider, "pulumi:providers:aws::dr", "DR replica provider")
	assert.Equal(t, dr.Provider, drKey.Provider, "DR key provider")
	assert.NotEqual(t, primary.Provider, dr.Provider, "the primary and the DR replica share a provider")
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "trading-dr-key"), dr.String("kmsKeyId"), "DR replica inputs %+v", dr.Inputs)
	assert.Equal(t, "dr-db-subnets", dr.String("dbSubnetGroupName"), "DR replica inputs %+v", dr.Inputs)
	assert.False(t, dr.Bool("publiclyAccessible"), "DR replica public: %+v", dr.Inputs)
	pg, _ := rec.Named("aws:rds/parameterGroup:ParameterGroup", "trading-dr-params")
	assert.Equal(t, dr.Provider, pg.Provider, "DR parameter group is not in the DR region")

	proxy, ok := rec.Named(proxyType, "trading-proxy")
	require.True(t, ok, "no proxy")
	assert.True(t, proxy.Bool("requireTls"), "proxy without TLS: %+v", proxy.Inputs)
	assert.Equal(t, "POSTGRESQL", proxy.String("engineFamily"), "proxy %+v", proxy.Inputs)
	auth, _ := proxy.Input("auths")
	a0 := auth.([]any)[0].(map[string]any)
	// With replicas RDS cannot manage the password: the program generates it into its own secret.
	secretARN := mocks.ARN("aws:secretsmanager/secret:Secret", "trading-master")
	assert.False(t, primary.Bool("manageMasterUserPassword"), "primary with replicas: RDS manages the password")
	assert.Equal(t, "[secret]", primary.String("password"), "primary with replicas: password %v", primary.Inputs["password"])
	s, _ := rec.Named("aws:secretsmanager/secret:Secret", "trading-master")
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "trading-key"), s.String("kmsKeyId"), "master secret not under the instance's key: %+v", s.Inputs)
	version, _ := rec.Named("aws:secretsmanager/secretVersion:SecretVersion", "trading-master")
	var content map[string]any
	raw := version.Raw["secretString"]
	if assert.True(t, raw.IsSecret() || (raw.IsOutput() && raw.OutputValue().Secret), "master secret content not marked secret") {
		require.NoError(t, json.Unmarshal([]byte(secretString(raw)), &content), "master secret content")
		assert.Equal(t, "cdx-test-trading.abcdefghijkl.us-east-1.rds.amazonaws.com", content["host"], "master secret host")
		assert.Equal(t, "cantondex", content["username"], "master secret username")
		assert.Equal(t, "mock-random-password-0123456789abcdef", content["password"], "master secret password")
	}
	rotation, ok := rec.Named("aws:secretsmanager/secretRotation:SecretRotation", "trading-master")
	if assert.True(t, ok, "no rotation") {
		assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:trading-rotation", rotation.String("rotationLambdaArn"), "rotation %+v", rotation.Inputs)
		assert.Equal(t, 30.0, rotation.Number("rotationRules.automaticallyAfterDays"), "rotation %+v", rotation.Inputs)
	}
	fn, _ := rec.Named("aws:serverlessrepository/cloudFormationStack:CloudFormationStack", "trading-rotation")
	assert.Equal(t, RotationApplication, fn.String("applicationId"), "rotation function %+v", fn.Inputs)
	assert.Equal(t, "private-a,private-b", fn.String("parameters.vpcSubnetIds"), "rotation function %+v", fn.Inputs)
	assert.Equal(t, "trading-rotation-id", fn.String("parameters.vpcSecurityGroupIds"), "rotation function %+v", fn.Inputs)
	in, _ := rec.Named("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "trading-db-from-rotation")
	assert.Equal(t, "sg-rds", in.String("securityGroupId"), "database ingress from the rotation function %+v", in.Inputs)
	assert.Equal(t, "trading-rotation-id", in.String("referencedSecurityGroupId"), "database ingress from the rotation function %+v", in.Inputs)
	assert.Equal(t, 5432.0, in.Number("fromPort"), "database ingress from the rotation function %+v", in.Inputs)
	assert.Equal(t, "REQUIRED", a0["iamAuth"], "proxy auth %+v", a0)
	assert.Equal(t, secretARN, a0["secretArn"], "proxy auth %+v", a0)
	target, _ := rec.Named("aws:rds/proxyTarget:ProxyTarget", "trading-proxy")
	assert.Equal(t, "cdx-test-trading", target.String("dbInstanceIdentifier"), "proxy target %+v", target.Inputs)
	role, _ := rec.Named("aws:iam/rolePolicy:RolePolicy", "trading-proxy-policy")
	assert.Contains(t, role.String("policy"), secretARN, "proxy role cannot read the secret")

	// One proxy authentication per IAM user, with that user's own secret (created empty, under
	// the instance's key), which only the proxy reads and only the migrations Job writes.
	userSecret, ok := rec.Named("aws:secretsmanager/secret:Secret", "trading-user-orders")
	require.True(t, ok, "no secret for user orders")
	userARN := mocks.ARN("aws:secretsmanager/secret:Secret", "trading-user-orders")
	assert.Equal(t, mocks.ARN("aws:kms/key:Key", "trading-key"), userSecret.String("kmsKeyId"), "user secret %+v", userSecret.Inputs)
	assert.Equal(t, "cdx-test-trading/orders-", userSecret.String("namePrefix"))
	_, versioned := rec.Named("aws:secretsmanager/secretVersion:SecretVersion", "trading-user-orders")
	assert.False(t, versioned, "the program never holds a user's password")
	if assert.Len(t, auth.([]any), 2, "proxy auths") {
		a1 := auth.([]any)[1].(map[string]any)
		assert.Equal(t, userARN, a1["secretArn"], "proxy auth of orders %+v", a1)
		assert.Equal(t, "REQUIRED", a1["iamAuth"], "proxy auth of orders %+v", a1)
	}
	assert.Contains(t, role.String("policy"), userARN, "proxy role cannot read the user's secret")
	write, ok := rec.Named("aws:iam/policy:Policy", "trading-user-secrets")
	require.True(t, ok, "no policy for the migrations Job")
	assert.Contains(t, write.String("policy"), userARN)
	assert.Contains(t, write.String("policy"), "secretsmanager:PutSecretValue")
	assert.NotContains(t, write.String("policy"), secretARN, "the Job's policy reaches the master secret")

	connect, _ := rec.Named("aws:iam/policy:Policy", "trading-connect")
	var doc struct {
		Statement []struct {
			Action   string
			Resource []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(connect.String("policy")), &doc), "connect policy %q", connect.String("policy"))
	require.NotEmpty(t, doc.Statement, "connect policy %q", connect.String("policy"))
	want := []string{"arn:aws:rds-db:us-east-1:123456789012:dbuser:db-cdx-test-trading/orders", "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-trading-proxy/orders"}
	assert.Equal(t, want, doc.Statement[0].Resource, "connect policy resources")
	assert.Equal(t, "rds-db:connect", doc.Statement[0].Action, "connect policy action")

	names := map[string]bool{}
	for _, a := range rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		names[a.Name] = true
		assert.Equal(t, []string{"arn:aws:sns:us-east-1:1:alarms"}, a.Strings("alarmActions"), "alarm %s actions", a.Name)
	}
	for _, n := range []string{"trading-cpu", "trading-free-storage", "trading-connections", "trading-replica-1-replica-lag", "trading-replica-1-cpu"} {
		assert.True(t, names[n], "no alarm %s (have %v)", n, names)
	}
	lag, _ := rec.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "trading-replica-1-replica-lag")
	assert.Equal(t, "cdx-test-trading-replica-1", lag.String("dimensions.DBInstanceIdentifier"), "replica lag alarm watches %+v", lag.Inputs["dimensions"])
}

func TestInvalidArgs(t *testing.T) {
	_, err := run(t, func(a *DatabaseArgs, _ *pulumi.Context) error { a.BackupRetentionDays = 0; return nil })
	assert.ErrorContains(t, err, "backup retention", "no backups accepted")
	_, err = run(t, func(a *DatabaseArgs, _ *pulumi.Context) error { a.DR = &DRArgs{}; return nil })
	assert.ErrorContains(t, err, "DR", "DR without provider accepted")
}

// secretString unwraps a secret string property.
func secretString(v resource.PropertyValue) string {
	switch {
	case v.IsSecret():
		return secretString(v.SecretValue().Element)
	case v.IsOutput():
		return secretString(v.OutputValue().Element)
	case v.IsString():
		return v.StringValue()
	}
	return ""
}

// A caller chooses the exported logs; each gets its own encrypted group, and the postgresql
// log cannot be dropped.
func TestLogExportsAreAnArgsField(t *testing.T) {
	rec, err := run(t, func(a *DatabaseArgs, _ *pulumi.Context) error {
		a.LogExports = []string{"postgresql", "iam-db-auth-error"}
		return nil
	})
	require.NoError(t, err)
	db, _ := rec.Named(instanceType, "trading")
	assert.Equal(t, []string{"postgresql", "iam-db-auth-error"}, db.Strings("enabledCloudwatchLogsExports"), "log exports")
	groups := map[string]bool{}
	for _, lg := range rec.OfType("aws:cloudwatch/logGroup:LogGroup") {
		groups[lg.Name] = true
	}
	assert.Equal(t, map[string]bool{"trading-log-postgresql": true, "trading-log-iam-db-auth-error": true}, groups, "log groups")

	_, err = run(t, func(a *DatabaseArgs, _ *pulumi.Context) error { a.LogExports = []string{"upgrade"}; return nil })
	assert.ErrorContains(t, err, "the postgresql log stays exported", "postgresql log dropped")
	_, err = run(t, func(a *DatabaseArgs, _ *pulumi.Context) error {
		a.LogExports = []string{"postgresql", "audit"}
		return nil
	})
	assert.ErrorContains(t, err, `log exports: "audit" is not one of`, "unknown log type accepted")
}
