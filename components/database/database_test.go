package database

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/mocks"
)

const (
	instanceType = "aws:rds/instance:Instance"
	proxyType    = "aws:rds/proxy:Proxy"
)

func testArgs() Args {
	return Args{
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
func run(t *testing.T, mutate func(*Args, *pulumi.Context) error) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.RunComponent(testArgs(), mutate, func(ctx *pulumi.Context, a Args) error {
		_, err := New(ctx, "trading", a)
		return err
	})
}

func TestPrimaryIsEncryptedPrivateAndIAMAuthenticated(t *testing.T) {
	rec, err := run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, ok := rec.Named(instanceType, "trading")
	if !ok {
		t.Fatalf("no primary instance; got %d resources", len(rec.Resources()))
	}
	comp, _ := rec.Named("cantondex:data:Database", "trading")
	if db.Parent != comp.URN {
		t.Errorf("instance parent %q, want the component", db.Parent)
	}
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
		if got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if _, ok := db.Input("password"); ok {
		t.Error("a literal password is set")
	}
	if got := db.Strings("vpcSecurityGroupIds"); len(got) != 1 || got[0] != "sg-rds" {
		t.Errorf("security groups %v", got)
	}
	if got := strings.Join(db.Strings("enabledCloudwatchLogsExports"), ","); got != "postgresql,upgrade" {
		t.Errorf("log exports %q", got)
	}
	if db.String("monitoringRoleArn") == "" {
		t.Error("enhanced monitoring has no role")
	}
	for _, lt := range LogExports {
		lg, ok := rec.Named("aws:cloudwatch/logGroup:LogGroup", "trading-log-"+lt)
		if !ok || lg.String("name") != "/aws/rds/instance/cdx-test-trading/"+lt || lg.Number("retentionInDays") != 365 || lg.String("kmsKeyId") == "" {
			t.Errorf("log group %s: %+v", lt, lg.Inputs)
		}
	}
	if got := len(rec.OfType(instanceType)); got != 1 {
		t.Errorf("%d instances without replicas", got)
	}
	if len(rec.OfType(proxyType)) != 0 || len(rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")) != 0 {
		t.Error("proxy or alarms created without being asked for")
	}
}

func parameters(t *testing.T, rec *mocks.Recorder, name string) map[string]string {
	t.Helper()
	pg, ok := rec.Named("aws:rds/parameterGroup:ParameterGroup", name)
	if !ok {
		t.Fatalf("no parameter group %s", name)
	}
	out := map[string]string{}
	list, _ := pg.Input("parameters")
	for _, p := range list.([]any) {
		m := p.(map[string]any)
		out[m["name"].(string)] = m["value"].(string) + "/" + m["applyMethod"].(string)
	}
	if pg.String("family") != "postgres15" {
		t.Errorf("family %q", pg.String("family"))
	}
	return out
}

func TestParameterGroupIsTunedPerProfile(t *testing.T) {
	rec, err := run(t, func(a *Args, _ *pulumi.Context) error {
		a.Profile = TimeSeries
		a.PreloadLibraries = []string{"pg_stat_statements", "timescaledb"}
		a.Parameters = map[string]string{"work_mem": "16384"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := parameters(t, rec, "trading-params")
	for k, want := range map[string]string{
		"shared_preload_libraries": "pg_stat_statements,timescaledb/pending-reboot",
		"rds.force_ssl":            "1/immediate",
		"work_mem":                 "16384/immediate", // the override wins over the profile
		"max_worker_processes":     "32/pending-reboot",
	} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	if _, ok := p["timescaledb.max_background_workers"]; !ok {
		t.Error("timescaledb workers not tuned")
	}

	rec, err = run(t, func(a *Args, _ *pulumi.Context) error { a.Profile = ReadHeavy; return nil })
	if err != nil {
		t.Fatal(err)
	}
	p = parameters(t, rec, "trading-params")
	if p["max_parallel_workers_per_gather"] != "4/immediate" || p["shared_preload_libraries"] != "pg_stat_statements/pending-reboot" {
		t.Errorf("read-heavy parameters %v", p)
	}
	if _, ok := p["timescaledb.max_background_workers"]; ok {
		t.Error("timescaledb parameter without the library preloaded")
	}
}

func TestReplicasDRAndProxy(t *testing.T) {
	rec, err := run(t, func(a *Args, ctx *pulumi.Context) error {
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
	if err != nil {
		t.Fatal(err)
	}
	primary, _ := rec.Named(instanceType, "trading")
	replica, ok := rec.Named(instanceType, "trading-replica-1")
	if !ok || replica.String("replicateSourceDb") != "cdx-test-trading" || !replica.Bool("storageEncrypted") || replica.Bool("publiclyAccessible") || !replica.Bool("iamDatabaseAuthenticationEnabled") {
		t.Errorf("read replica %+v", replica.Inputs)
	}
	dr, ok := rec.Named(instanceType, "trading-dr")
	if !ok {
		t.Fatal("no DR replica")
	}
	drKey, _ := rec.Named("aws:kms/key:Key", "trading-dr-key")
	if dr.String("replicateSourceDb") != "arn:aws:rds:us-east-1:123456789012:db:cdx-test-trading" {
		t.Errorf("DR source %q is not the primary's ARN", dr.String("replicateSourceDb"))
	}
	if dr.Provider == "" || !strings.Contains(dr.Provider, "pulumi:providers:aws::dr") || drKey.Provider != dr.Provider || primary.Provider == dr.Provider {
		t.Errorf("DR replica provider %q, DR key provider %q, primary %q", dr.Provider, drKey.Provider, primary.Provider)
	}
	if dr.String("kmsKeyId") != mocks.ARN("aws:kms/key:Key", "trading-dr-key") || dr.String("dbSubnetGroupName") != "dr-db-subnets" || dr.Bool("publiclyAccessible") {
		t.Errorf("DR replica inputs %+v", dr.Inputs)
	}
	if pg, _ := rec.Named("aws:rds/parameterGroup:ParameterGroup", "trading-dr-params"); pg.Provider != dr.Provider {
		t.Error("DR parameter group is not in the DR region")
	}

	proxy, ok := rec.Named(proxyType, "trading-proxy")
	if !ok {
		t.Fatal("no proxy")
	}
	if !proxy.Bool("requireTls") || proxy.String("engineFamily") != "POSTGRESQL" {
		t.Errorf("proxy %+v", proxy.Inputs)
	}
	auth, _ := proxy.Input("auths")
	a0 := auth.([]any)[0].(map[string]any)
	// With replicas RDS cannot manage the password: the program generates it into its own secret.
	secretARN := mocks.ARN("aws:secretsmanager/secret:Secret", "trading-master")
	if primary.Bool("manageMasterUserPassword") || primary.String("password") != "[secret]" {
		t.Errorf("primary with replicas: manageMasterUserPassword %v, password %v", primary.Bool("manageMasterUserPassword"), primary.Inputs["password"])
	}
	if s, _ := rec.Named("aws:secretsmanager/secret:Secret", "trading-master"); s.String("kmsKeyId") != mocks.ARN("aws:kms/key:Key", "trading-key") {
		t.Errorf("master secret not under the instance's key: %+v", s.Inputs)
	}
	version, _ := rec.Named("aws:secretsmanager/secretVersion:SecretVersion", "trading-master")
	var content map[string]any
	if raw := version.Raw["secretString"]; !raw.IsSecret() && !(raw.IsOutput() && raw.OutputValue().Secret) {
		t.Error("master secret content not marked secret")
	} else if err := json.Unmarshal([]byte(secretString(raw)), &content); err != nil || content["host"] != "cdx-test-trading.abcdefghijkl.us-east-1.rds.amazonaws.com" ||
		content["username"] != "cantondex" || content["password"] != "mock-random-password-0123456789abcdef" {
		t.Errorf("master secret content %v (%v)", content, err)
	}
	rotation, ok := rec.Named("aws:secretsmanager/secretRotation:SecretRotation", "trading-master")
	if !ok || rotation.String("rotationLambdaArn") != "arn:aws:lambda:us-east-1:123456789012:function:trading-rotation" || rotation.Number("rotationRules.automaticallyAfterDays") != 30 {
		t.Errorf("rotation %+v", rotation.Inputs)
	}
	fn, _ := rec.Named("aws:serverlessrepository/cloudFormationStack:CloudFormationStack", "trading-rotation")
	if fn.String("applicationId") != RotationApplication || fn.String("parameters.vpcSubnetIds") != "private-a,private-b" || fn.String("parameters.vpcSecurityGroupIds") != "trading-rotation-id" {
		t.Errorf("rotation function %+v", fn.Inputs)
	}
	if in, _ := rec.Named("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "trading-db-from-rotation"); in.String("securityGroupId") != "sg-rds" || in.String("referencedSecurityGroupId") != "trading-rotation-id" || in.Number("fromPort") != 5432 {
		t.Errorf("database ingress from the rotation function %+v", in.Inputs)
	}
	if a0["iamAuth"] != "REQUIRED" || a0["secretArn"] != secretARN {
		t.Errorf("proxy auth %+v", a0)
	}
	target, _ := rec.Named("aws:rds/proxyTarget:ProxyTarget", "trading-proxy")
	if target.String("dbInstanceIdentifier") != "cdx-test-trading" {
		t.Errorf("proxy target %+v", target.Inputs)
	}
	role, _ := rec.Named("aws:iam/rolePolicy:RolePolicy", "trading-proxy-policy")
	if !strings.Contains(role.String("policy"), secretARN) {
		t.Errorf("proxy role cannot read the secret: %s", role.String("policy"))
	}

	connect, _ := rec.Named("aws:iam/policy:Policy", "trading-connect")
	var doc struct {
		Statement []struct {
			Action   string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(connect.String("policy")), &doc); err != nil {
		t.Fatalf("connect policy %q: %v", connect.String("policy"), err)
	}
	want := []string{"arn:aws:rds-db:us-east-1:123456789012:dbuser:db-cdx-test-trading/orders", "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-trading-proxy/orders"}
	if got := doc.Statement[0].Resource; strings.Join(got, " ") != strings.Join(want, " ") || doc.Statement[0].Action != "rds-db:connect" {
		t.Errorf("connect policy resources %v", got)
	}

	names := map[string]bool{}
	for _, a := range rec.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		names[a.Name] = true
		if got := a.Strings("alarmActions"); len(got) != 1 || got[0] != "arn:aws:sns:us-east-1:1:alarms" {
			t.Errorf("alarm %s actions %v", a.Name, got)
		}
	}
	for _, n := range []string{"trading-cpu", "trading-free-storage", "trading-connections", "trading-replica-1-replica-lag", "trading-replica-1-cpu"} {
		if !names[n] {
			t.Errorf("no alarm %s (have %v)", n, names)
		}
	}
	if lag, _ := rec.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "trading-replica-1-replica-lag"); lag.String("dimensions.DBInstanceIdentifier") != "cdx-test-trading-replica-1" {
		t.Errorf("replica lag alarm watches %+v", lag.Inputs["dimensions"])
	}
}

func TestInvalidArgs(t *testing.T) {
	_, err := run(t, func(a *Args, _ *pulumi.Context) error { a.BackupRetentionDays = 0; return nil })
	if err == nil || !strings.Contains(err.Error(), "backup retention") {
		t.Errorf("no backups accepted: %v", err)
	}
	_, err = run(t, func(a *Args, _ *pulumi.Context) error { a.DR = &DRArgs{}; return nil })
	if err == nil || !strings.Contains(err.Error(), "DR") {
		t.Errorf("DR without provider accepted: %v", err)
	}
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
