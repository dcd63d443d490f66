// Package database is the RDS PostgreSQL component: one encrypted, private, IAM-authenticated
// instance with its KMS key, tuned parameter group, enhanced monitoring, log groups, credentials
// managed by RDS in Secrets Manager, and optionally same-region read replicas, a cross-region
// disaster-recovery replica, RDS Proxy in front, alarms, and IRSA-ready access policies.
package database

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/serverlessrepository"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
	"github.com/cantondex/platform/components/internal/alarms"
	"github.com/cantondex/platform/components/internal/keys"
	"github.com/cantondex/platform/components/internal/tokens"
)

// Profile selects the parameter tuning of an instance.
type Profile string

const (
	// OLTP is the trading primary: short transactions, many connections.
	OLTP Profile = "oltp"
	// ReadHeavy is the Participant Query Store: large reads, parallel queries.
	ReadHeavy Profile = "read-heavy"
	// TimeSeries is the TimescaleDB instance for market data.
	TimeSeries Profile = "time-series"
)

// DefaultLogExports are the PostgreSQL logs sent to CloudWatch Logs when
// DatabaseArgs.LogExports is nil.
func DefaultLogExports() []string { return []string{"postgresql", "upgrade"} }

// logExportTypes are the log types RDS for PostgreSQL can export.
var logExportTypes = []string{"postgresql", "upgrade", "iam-db-auth-error"}

// Port is PostgreSQL's port.
const Port = 5432

// Database is one PostgreSQL instance and what hangs off it.
type Database struct {
	pulumi.ResourceState

	Identifier pulumi.StringOutput `pulumi:"identifier"`
	Address    pulumi.StringOutput `pulumi:"address"`
	Port       pulumi.IntOutput    `pulumi:"port"`
	ARN        pulumi.StringOutput `pulumi:"arn"`
	// SecretARN is the RDS-managed master credentials secret (rotated by RDS).
	SecretARN pulumi.StringOutput `pulumi:"secretArn"`
	KMSKeyARN pulumi.StringOutput `pulumi:"kmsKeyArn"`
	// ReaderAddresses are the same-region read replicas.
	ReaderAddresses pulumi.StringArrayOutput `pulumi:"readerAddresses"`
	// DRReplicaARN is the cross-region replica ("" without one).
	DRReplicaARN pulumi.StringOutput `pulumi:"drReplicaArn"`
	// ProxyEndpoint is the read/write RDS Proxy endpoint ("" without a proxy).
	ProxyEndpoint pulumi.StringOutput `pulumi:"proxyEndpoint"`
	// ConnectPolicyARN allows rds-db:connect as the IAM database users (instance and proxy);
	// SecretReadPolicyARN allows reading the master secret (migrations, break-glass).
	ConnectPolicyARN    pulumi.StringOutput `pulumi:"connectPolicyArn"`
	SecretReadPolicyARN pulumi.StringOutput `pulumi:"secretReadPolicyArn"`
	// UserSecretARNs are, with a proxy, the secret of each IAM database user: created empty,
	// filled by the migrations Job (a generated password), read by the proxy to log in as that
	// user. UserSecretWritePolicyARN lets the Job read and write exactly those secrets ("" without
	// a proxy).
	UserSecretARNs           pulumi.StringMapOutput `pulumi:"userSecretArns"`
	UserSecretWritePolicyARN pulumi.StringOutput    `pulumi:"userSecretWritePolicyArn"`
}

// DatabaseArgs configures a Database. Plain values decide structure; inputs come from other resources.
type DatabaseArgs struct {
	// Identifier is the RDS instance identifier (and the prefix of its children's names).
	Identifier    string
	Profile       Profile
	EngineVersion string // "15" or "15.8"
	InstanceClass string
	// DatabaseName is the initial database; Username the master user.
	DatabaseName string
	Username     string

	AllocatedStorageGiB              int
	MaxAllocatedStorageGiB           int
	MultiAZ                          bool
	BackupRetentionDays              int
	BackupWindow                     string
	MaintenanceWindow                string
	DeletionProtection               bool
	PerformanceInsightsRetentionDays int
	MonitoringIntervalSeconds        int
	LogRetentionDays                 int
	PreloadLibraries                 []string
	Parameters                       map[string]string

	SubnetGroupName  pulumi.StringInput
	SecurityGroupIDs pulumi.StringArrayInput

	ReadReplicas int
	DR           *DRArgs
	Proxy        *ProxyArgs
	Rotation     *RotationArgs
	Alarms       *AlarmArgs
	// IAMUsers are the database users services connect as with IAM authentication.
	IAMUsers []string
	// LogExports are the logs exported to CloudWatch Logs, each into its own KMS-encrypted
	// group (nil: DefaultLogExports). The postgresql log is always among them.
	LogExports []string
	Tags       map[string]string
}

// logExports are a.LogExports, or the defaults when nil.
func (a DatabaseArgs) logExports() []string {
	if a.LogExports == nil {
		return DefaultLogExports()
	}
	return a.LogExports
}

// DRArgs places a cross-region replica in the disaster-recovery region.
type DRArgs struct {
	Provider         pulumi.ProviderResource
	SubnetGroupName  pulumi.StringInput
	SecurityGroupIDs pulumi.StringArrayInput
}

// ProxyArgs puts RDS Proxy in front of the instance.
type ProxyArgs struct {
	SubnetIDs        pulumi.StringArrayInput
	SecurityGroupIDs pulumi.StringArrayInput
}

// RotationArgs rotate a generated master secret with the AWS rotation function, run in the VPC.
type RotationArgs struct {
	VpcID pulumi.StringInput
	// SubnetIDs are private subnets with a route to Secrets Manager (NAT or endpoint).
	SubnetIDs pulumi.StringArrayInput
	// DatabaseSecurityGroupID is the instance's security group; it gets ingress from the function.
	DatabaseSecurityGroupID pulumi.StringInput
	Days                    int
}

// AlarmArgs are the thresholds of the instance's alarms and where they notify.
type AlarmArgs struct {
	TopicARN          pulumi.StringInput
	CPUPercent        float64
	FreeStorageGiB    float64
	Connections       float64
	ReplicaLagSeconds float64
}

func (a DatabaseArgs) validate() error {
	var errs []error
	if a.Identifier == "" || a.EngineVersion == "" || a.InstanceClass == "" || a.Username == "" {
		errs = append(errs, errors.New("identifier, engine version, instance class and username are required"))
	}
	if a.SubnetGroupName == nil || a.SecurityGroupIDs == nil {
		errs = append(errs, errors.New("a DB subnet group and security groups are required"))
	}
	if a.BackupRetentionDays < 1 {
		errs = append(errs, fmt.Errorf("backup retention %d: automated backups stay on", a.BackupRetentionDays))
	}
	if a.DR != nil && (a.DR.Provider == nil || a.DR.SubnetGroupName == nil) {
		errs = append(errs, errors.New("a DR replica needs the DR region's provider and DB subnet group"))
	}
	if r := a.Rotation; r != nil && (r.VpcID == nil || r.SubnetIDs == nil || r.DatabaseSecurityGroupID == nil || r.Days < 1 || r.Days > 365) {
		errs = append(errs, errors.New("rotation needs the VPC, subnets, the database security group and 1 to 365 days"))
	}
	if a.Proxy != nil && (a.Proxy.SubnetIDs == nil || a.Proxy.SecurityGroupIDs == nil) {
		errs = append(errs, errors.New("the proxy needs subnets and security groups"))
	}
	if _, ok := profileParameters[a.Profile]; !ok {
		errs = append(errs, fmt.Errorf("profile %q is not one of oltp, read-heavy, time-series", a.Profile))
	}
	exports := a.logExports()
	for _, e := range exports {
		if !slices.Contains(logExportTypes, e) {
			errs = append(errs, fmt.Errorf("log exports: %q is not one of %s", e, strings.Join(logExportTypes, ", ")))
		}
	}
	if !slices.Contains(exports, "postgresql") {
		errs = append(errs, errors.New("log exports: the postgresql log stays exported (errors, slow statements, lock waits)"))
	}
	return errors.Join(errs...)
}

// Tuned parameters per profile, on top of the settings every instance shares.
var (
	baseParameters = map[string]string{
		"rds.force_ssl":                       "1",
		"log_min_duration_statement":          "1000",
		"log_lock_waits":                      "1",
		"log_temp_files":                      "0",
		"log_autovacuum_min_duration":         "10000",
		"pg_stat_statements.track":            "all",
		"idle_in_transaction_session_timeout": "300000",
	}
	profileParameters = map[Profile]map[string]string{
		OLTP: {
			"random_page_cost":                    "1.1",
			"statement_timeout":                   "30000",
			"idle_in_transaction_session_timeout": "60000",
			"autovacuum_vacuum_scale_factor":      "0.05",
		},
		ReadHeavy: {
			"random_page_cost":                "1.1",
			"effective_io_concurrency":        "200",
			"default_statistics_target":       "500",
			"max_parallel_workers_per_gather": "4",
			"work_mem":                        "65536",
		},
		TimeSeries: {
			"random_page_cost":                   "1.1",
			"max_worker_processes":               "32",
			"timescaledb.max_background_workers": "16",
			"work_mem":                           "32768",
		},
	}
	// staticParameters only change at reboot.
	staticParameters = map[string]bool{"shared_preload_libraries": true, "max_worker_processes": true, "rds.logical_replication": true}
)

// Parameters returns the PostgreSQL parameters of args: shared settings, the profile's tuning,
// the preload libraries, then args.Parameters on top.
func (a DatabaseArgs) parameters() map[string]string {
	out := maps.Clone(baseParameters)
	maps.Copy(out, profileParameters[a.Profile])
	if len(a.PreloadLibraries) > 0 {
		out["shared_preload_libraries"] = strings.Join(a.PreloadLibraries, ",")
	}
	if !slices.Contains(a.PreloadLibraries, "timescaledb") {
		delete(out, "timescaledb.max_background_workers")
	}
	maps.Copy(out, a.Parameters)
	return out
}

func parameterArray(params map[string]string) rds.ParameterGroupParameterArray {
	var out rds.ParameterGroupParameterArray
	for _, k := range slices.Sorted(maps.Keys(params)) {
		method := "immediate"
		if staticParameters[k] {
			method = "pending-reboot"
		}
		out = append(out, rds.ParameterGroupParameterArgs{Name: pulumi.String(k), Value: pulumi.String(params[k]), ApplyMethod: pulumi.String(method)})
	}
	return out
}

// family is the parameter group family of an engine version ("15.8" → "postgres15").
func family(version string) string {
	major, _, _ := strings.Cut(version, ".")
	return "postgres" + major
}

// New creates the database.
func NewDatabase(ctx *pulumi.Context, name string, args DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	d := &Database{}
	if err := ctx.RegisterComponentResource("cantondex:database:Database", name, d, tokens.Renamed("cantondex:data:Database", opts)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	tags := pulumi.ToStringMap(args.Tags)

	key, env, err := keys.New(ctx, name+"-key", args.Identifier+": storage, Performance Insights, credentials and logs", args.Tags, parent)
	if err != nil {
		return nil, err
	}
	for _, logType := range args.logExports() {
		if _, err := keys.LogGroup(ctx, name+"-log-"+logType, fmt.Sprintf("/aws/rds/instance/%s/%s", args.Identifier, logType), args.LogRetentionDays, key, args.Tags, parent); err != nil {
			return nil, err
		}
	}

	monitoring, err := identity.NewRole(ctx, name+"-monitoring", identity.RoleArgs{
		Description: "RDS enhanced monitoring of " + args.Identifier,
		Trust:       assumedBy("monitoring.rds.amazonaws.com"),
		Managed:     []string{fmt.Sprintf("arn:%s:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole", env.Partition)},
		Tags:        args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	params := parameterArray(args.parameters())
	pg, err := rds.NewParameterGroup(ctx, name+"-params", &rds.ParameterGroupArgs{
		Family:      pulumi.String(family(args.EngineVersion)),
		Description: pulumi.Sprintf("%s (%s)", args.Identifier, args.Profile),
		Parameters:  params,
		Tags:        tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	primaryArgs := &rds.InstanceArgs{
		Identifier:                         pulumi.String(args.Identifier),
		Engine:                             pulumi.String("postgres"),
		EngineVersion:                      pulumi.String(args.EngineVersion),
		InstanceClass:                      pulumi.String(args.InstanceClass),
		DbName:                             pulumi.String(args.DatabaseName),
		Username:                           pulumi.String(args.Username),
		IamDatabaseAuthenticationEnabled:   pulumi.Bool(true),
		StorageType:                        pulumi.String("gp3"),
		AllocatedStorage:                   pulumi.Int(args.AllocatedStorageGiB),
		MaxAllocatedStorage:                pulumi.Int(args.MaxAllocatedStorageGiB),
		StorageEncrypted:                   pulumi.Bool(true),
		KmsKeyId:                           key.Arn,
		DbSubnetGroupName:                  args.SubnetGroupName,
		VpcSecurityGroupIds:                args.SecurityGroupIDs,
		PubliclyAccessible:                 pulumi.Bool(false),
		Port:                               pulumi.Int(Port),
		MultiAz:                            pulumi.Bool(args.MultiAZ),
		ParameterGroupName:                 pg.Name,
		BackupRetentionPeriod:              pulumi.Int(args.BackupRetentionDays),
		BackupWindow:                       pulumi.String(args.BackupWindow),
		MaintenanceWindow:                  pulumi.String(args.MaintenanceWindow),
		CopyTagsToSnapshot:                 pulumi.Bool(true),
		DeleteAutomatedBackups:             pulumi.Bool(false),
		SkipFinalSnapshot:                  pulumi.Bool(false),
		FinalSnapshotIdentifier:            pulumi.String(args.Identifier + "-final"),
		DeletionProtection:                 pulumi.Bool(args.DeletionProtection),
		AutoMinorVersionUpgrade:            pulumi.Bool(true),
		PerformanceInsightsEnabled:         pulumi.Bool(true),
		PerformanceInsightsKmsKeyId:        key.Arn,
		PerformanceInsightsRetentionPeriod: pulumi.Int(args.PerformanceInsightsRetentionDays),
		MonitoringInterval:                 pulumi.Int(args.MonitoringIntervalSeconds),
		MonitoringRoleArn:                  monitoring.Arn,
		EnabledCloudwatchLogsExports:       pulumi.ToStringArray(args.logExports()),
		Tags:                               tags,
	}
	// RDS manages and rotates the master password in Secrets Manager, but it cannot create read
	// replicas of an instance that does so; an instance with replicas gets a password AWS
	// generates once, kept in a secret under the instance's key (rotated by the AWS rotation
	// function when args.Rotation is set).
	managed := args.ReadReplicas == 0 && args.DR == nil
	instanceOpts := []pulumi.ResourceOption{parent}
	var password pulumi.StringOutput
	if managed {
		primaryArgs.ManageMasterUserPassword = pulumi.Bool(true)
		primaryArgs.MasterUserSecretKmsKeyId = key.Arn
	} else {
		password = keys.Generate(ctx, 40, parent)
		primaryArgs.Password = password
		instanceOpts = append(instanceOpts, pulumi.IgnoreChanges([]string{"password"}))
	}
	primary, err := rds.NewInstance(ctx, name, primaryArgs, instanceOpts...)
	if err != nil {
		return nil, err
	}
	var secretARN pulumi.StringOutput
	if managed {
		secretARN = primary.MasterUserSecrets.Index(pulumi.Int(0)).SecretArn().Elem()
	} else {
		content := pulumi.All(password, primary.Address).ApplyT(func(v []any) string {
			return credentials(args, v[0].(string), v[1].(string))
		}).(pulumi.StringOutput)
		secret, err := keys.StoredSecret(ctx, name+"-master", "master credentials of "+args.Identifier, key, content, args.Tags, parent)
		if err != nil {
			return nil, err
		}
		secretARN = secret.Arn
		if args.Rotation != nil {
			if err := rotate(ctx, name, args, secret, key, env, parent); err != nil {
				return nil, err
			}
		}
	}

	var readers pulumi.StringArray
	var replicas []*rds.Instance
	for i := range args.ReadReplicas {
		id := fmt.Sprintf("%s-replica-%d", args.Identifier, i+1)
		r, err := rds.NewInstance(ctx, fmt.Sprintf("%s-replica-%d", name, i+1), replicaArgs(args, id, primary.Identifier, key.Arn, pg.Name, monitoring.Arn), parent)
		if err != nil {
			return nil, err
		}
		replicas = append(replicas, r)
		readers = append(readers, r.Address)
	}

	drARN := pulumi.String("").ToStringOutput()
	if args.DR != nil {
		if drARN, err = d.drReplica(ctx, name, args, primary, monitoring.Arn, pulumi.Parent(d), pulumi.Provider(args.DR.Provider)); err != nil {
			return nil, err
		}
	}

	proxyEndpoint := pulumi.String("").ToStringOutput()
	userSecrets := pulumi.StringMap{}
	userWrite := pulumi.String("").ToStringOutput()
	var proxy *rds.Proxy
	if args.Proxy != nil {
		for _, u := range args.IAMUsers {
			sec, err := secretsmanager.NewSecret(ctx, name+"-user-"+u, &secretsmanager.SecretArgs{
				NamePrefix:  pulumi.String(args.Identifier + "/" + u + "-"),
				Description: pulumi.Sprintf("credentials of database user %s of %s: written by the migrations Job, read by RDS Proxy", u, args.Identifier),
				KmsKeyId:    key.Arn,
				Tags:        tags,
			}, parent)
			if err != nil {
				return nil, err
			}
			userSecrets[u] = sec.Arn
		}
		if proxy, err = newProxy(ctx, name, args, primary, secretARN, userSecrets, key.Arn, tags, parent); err != nil {
			return nil, err
		}
		proxyEndpoint = proxy.Endpoint
		if len(userSecrets) > 0 {
			if userWrite, err = userSecretWritePolicy(ctx, name, args, userSecrets, key.Arn, tags, parent); err != nil {
				return nil, err
			}
		}
	}

	connect, secretRead, err := accessPolicies(ctx, name, args, primary, proxy, secretARN, key.Arn, env.Partition, env.Region, env.Account, tags, parent)
	if err != nil {
		return nil, err
	}

	if a := args.Alarms; a != nil {
		if err := instanceAlarms(ctx, name, args.Identifier, primary.Identifier, replicas, *a, args.Tags, parent); err != nil {
			return nil, err
		}
	}

	d.Identifier = primary.Identifier
	d.Address = primary.Address
	d.Port = primary.Port
	d.ARN = primary.Arn
	d.SecretARN = secretARN
	d.KMSKeyARN = key.Arn
	d.ReaderAddresses = readers.ToStringArrayOutput()
	d.DRReplicaARN = drARN
	d.ProxyEndpoint = proxyEndpoint
	d.ConnectPolicyARN = connect
	d.SecretReadPolicyARN = secretRead
	d.UserSecretARNs = userSecrets.ToStringMapOutput()
	d.UserSecretWritePolicyARN = userWrite
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{
		"identifier": d.Identifier, "address": d.Address, "port": d.Port, "arn": d.ARN,
		"secretArn": d.SecretARN, "kmsKeyArn": d.KMSKeyARN, "readerAddresses": d.ReaderAddresses,
		"drReplicaArn": d.DRReplicaARN, "proxyEndpoint": d.ProxyEndpoint,
		"connectPolicyArn": d.ConnectPolicyARN, "secretReadPolicyArn": d.SecretReadPolicyARN,
		"userSecretArns": d.UserSecretARNs, "userSecretWritePolicyArn": d.UserSecretWritePolicyARN,
	})
}

// replicaArgs are the inputs of a replica of the primary: encrypted with keyARN, private,
// IAM-authenticated, monitored, with the primary's tuning. RDS keeps no final snapshot of a
// replica.
func replicaArgs(args DatabaseArgs, id string, source, keyARN, parameterGroup, monitoringRole pulumi.StringInput) *rds.InstanceArgs {
	return &rds.InstanceArgs{
		Identifier:                         pulumi.String(id),
		ReplicateSourceDb:                  source,
		InstanceClass:                      pulumi.String(args.InstanceClass),
		StorageType:                        pulumi.String("gp3"),
		MaxAllocatedStorage:                pulumi.Int(args.MaxAllocatedStorageGiB),
		StorageEncrypted:                   pulumi.Bool(true),
		KmsKeyId:                           keyARN,
		IamDatabaseAuthenticationEnabled:   pulumi.Bool(true),
		VpcSecurityGroupIds:                args.SecurityGroupIDs,
		PubliclyAccessible:                 pulumi.Bool(false),
		ParameterGroupName:                 parameterGroup,
		MaintenanceWindow:                  pulumi.String(args.MaintenanceWindow),
		CopyTagsToSnapshot:                 pulumi.Bool(true),
		SkipFinalSnapshot:                  pulumi.Bool(true),
		DeletionProtection:                 pulumi.Bool(args.DeletionProtection),
		AutoMinorVersionUpgrade:            pulumi.Bool(true),
		PerformanceInsightsEnabled:         pulumi.Bool(true),
		PerformanceInsightsKmsKeyId:        keyARN,
		PerformanceInsightsRetentionPeriod: pulumi.Int(args.PerformanceInsightsRetentionDays),
		MonitoringInterval:                 pulumi.Int(args.MonitoringIntervalSeconds),
		MonitoringRoleArn:                  monitoringRole,
		EnabledCloudwatchLogsExports:       pulumi.ToStringArray(args.logExports()),
		Tags:                               pulumi.ToStringMap(args.Tags),
	}
}

// drReplica creates the cross-region replica with its own KMS key and parameter group in the
// DR region; opts carry the DR provider.
func (d *Database) drReplica(ctx *pulumi.Context, name string, args DatabaseArgs, primary *rds.Instance, monitoringRole pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	tags := pulumi.ToStringMap(args.Tags)
	key, _, err := keys.New(ctx, name+"-dr-key", args.Identifier+" disaster-recovery replica", args.Tags, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	pg, err := rds.NewParameterGroup(ctx, name+"-dr-params", &rds.ParameterGroupArgs{
		Family:      pulumi.String(family(args.EngineVersion)),
		Description: pulumi.Sprintf("%s DR replica (%s)", args.Identifier, args.Profile),
		Parameters:  parameterArray(args.parameters()),
		Tags:        tags,
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// Cross-region replicas name their source by ARN; the DR replica keeps backups so that it is
	// ready to be promoted.
	drArgs := replicaArgs(args, args.Identifier+"-dr", primary.Arn, key.Arn, pg.Name, monitoringRole)
	drArgs.DbSubnetGroupName = args.DR.SubnetGroupName
	drArgs.VpcSecurityGroupIds = args.DR.SecurityGroupIDs
	drArgs.BackupRetentionPeriod = pulumi.Int(args.BackupRetentionDays)
	drArgs.BackupWindow = pulumi.String(args.BackupWindow)
	dr, err := rds.NewInstance(ctx, name+"-dr", drArgs, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return dr.Arn, nil
}

// newProxy puts RDS Proxy in front of primary: TLS required, IAM authentication required from
// every client, and one authentication per database user: the master credentials and each IAM
// user's secret (the proxy logs in to PostgreSQL as the client's user with that user's
// password), read through the proxy's own role.
func newProxy(ctx *pulumi.Context, name string, args DatabaseArgs, primary *rds.Instance, secretARN pulumi.StringOutput, userSecrets pulumi.StringMap, keyARN pulumi.StringOutput, tags pulumi.StringMap, parent pulumi.ResourceOption) (*rds.Proxy, error) {
	readable := []pulumi.StringInput{secretARN}
	auths := rds.ProxyAuthArray{rds.ProxyAuthArgs{
		AuthScheme:             pulumi.String("SECRETS"),
		IamAuth:                pulumi.String("REQUIRED"),
		ClientPasswordAuthType: pulumi.String("POSTGRES_SCRAM_SHA_256"),
		SecretArn:              secretARN,
		Description:            pulumi.String("master credentials"),
	}}
	for _, u := range args.IAMUsers {
		readable = append(readable, userSecrets[u])
		auths = append(auths, rds.ProxyAuthArgs{
			AuthScheme:             pulumi.String("SECRETS"),
			IamAuth:                pulumi.String("REQUIRED"),
			ClientPasswordAuthType: pulumi.String("POSTGRES_SCRAM_SHA_256"),
			SecretArn:              userSecrets[u],
			Description:            pulumi.String("database user " + u),
		})
	}
	role, err := identity.NewRole(ctx, name+"-proxy", identity.RoleArgs{
		Description: "RDS Proxy of " + args.Identifier + " reads its credentials",
		Trust:       assumedBy("rds.amazonaws.com"),
		Policy: &identity.Document{Statements: []identity.Statement{
			{Sid: "ReadSecrets", Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resources: readable},
			{Sid: "DecryptSecrets", Actions: []string{"kms:Decrypt"}, Resources: []pulumi.StringInput{keyARN}},
		}},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	proxy, err := rds.NewProxy(ctx, name+"-proxy", &rds.ProxyArgs{
		Name:                pulumi.String(args.Identifier + "-proxy"),
		EngineFamily:        pulumi.String("POSTGRESQL"),
		RequireTls:          pulumi.Bool(true),
		DebugLogging:        pulumi.Bool(false),
		Auths:               auths,
		RoleArn:             role.Arn,
		VpcSubnetIds:        args.Proxy.SubnetIDs,
		VpcSecurityGroupIds: args.Proxy.SecurityGroupIDs,
		IdleClientTimeout:   pulumi.Int(1800),
		Tags:                tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	tg, err := rds.NewProxyDefaultTargetGroup(ctx, name+"-proxy", &rds.ProxyDefaultTargetGroupArgs{
		DbProxyName: proxy.Name,
		ConnectionPoolConfig: rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs{
			MaxConnectionsPercent:     pulumi.Int(90),
			MaxIdleConnectionsPercent: pulumi.Int(50),
			ConnectionBorrowTimeout:   pulumi.Int(120),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := rds.NewProxyTarget(ctx, name+"-proxy", &rds.ProxyTargetArgs{
		DbProxyName:          proxy.Name,
		TargetGroupName:      tg.Name,
		DbInstanceIdentifier: primary.Identifier,
	}, parent); err != nil {
		return nil, err
	}
	return proxy, nil
}

// credentials is the content of a generated master secret, in the shape RDS Proxy and the
// Secrets Manager rotation functions read.
func credentials(args DatabaseArgs, password, host string) string {
	b, _ := json.Marshal(map[string]any{"engine": "postgres", "host": host, "username": args.Username, "password": password, "dbname": args.DatabaseName, "port": Port})
	return string(b)
}

// RotationApplication is the AWS rotation function for a PostgreSQL single-user secret, in the
// Serverless Application Repository.
const RotationApplication = "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser"

// rotate deploys the rotation function into the VPC, lets it reach the database, and rotates
// the secret every args.Rotation.Days days.
func rotate(ctx *pulumi.Context, name string, args DatabaseArgs, secret *secretsmanager.Secret, key *kms.Key, env keys.Env, parent pulumi.ResourceOption) error {
	r := args.Rotation
	sg, err := ec2.NewSecurityGroup(ctx, name+"-rotation", &ec2.SecurityGroupArgs{
		Description: pulumi.String("secret rotation function of " + args.Identifier),
		VpcId:       r.VpcID,
		Tags:        pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return err
	}
	rules := []struct {
		name    string
		ingress bool
		args    vpc.SecurityGroupIngressRuleArgs
	}{
		{"rotation-to-db", false, vpc.SecurityGroupIngressRuleArgs{SecurityGroupId: sg.ID(), IpProtocol: pulumi.String("tcp"), FromPort: pulumi.Int(Port), ToPort: pulumi.Int(Port),
			ReferencedSecurityGroupId: r.DatabaseSecurityGroupID, Description: pulumi.String("rotation function to the database")}},
		{"rotation-https", false, vpc.SecurityGroupIngressRuleArgs{SecurityGroupId: sg.ID(), IpProtocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrIpv4: pulumi.String("0.0.0.0/0"), Description: pulumi.String("rotation function to Secrets Manager and KMS")}},
		{"db-from-rotation", true, vpc.SecurityGroupIngressRuleArgs{SecurityGroupId: r.DatabaseSecurityGroupID, IpProtocol: pulumi.String("tcp"), FromPort: pulumi.Int(Port), ToPort: pulumi.Int(Port),
			ReferencedSecurityGroupId: sg.ID(), Description: pulumi.String("secret rotation function of " + args.Identifier)}},
	}
	for _, rule := range rules {
		if rule.ingress {
			_, err = vpc.NewSecurityGroupIngressRule(ctx, name+"-"+rule.name, &rule.args, parent)
		} else {
			a := rule.args
			_, err = vpc.NewSecurityGroupEgressRule(ctx, name+"-"+rule.name, &vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId: a.SecurityGroupId, IpProtocol: a.IpProtocol, FromPort: a.FromPort, ToPort: a.ToPort,
				ReferencedSecurityGroupId: a.ReferencedSecurityGroupId, CidrIpv4: a.CidrIpv4, Description: a.Description,
			}, parent)
		}
		if err != nil {
			return err
		}
	}
	fn, err := serverlessrepository.NewCloudFormationStack(ctx, name+"-rotation", &serverlessrepository.CloudFormationStackArgs{
		Name:          pulumi.String(args.Identifier + "-rotation"),
		ApplicationId: pulumi.String(RotationApplication),
		Capabilities:  pulumi.ToStringArray([]string{"CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"}),
		Parameters: pulumi.StringMap{
			"endpoint":            pulumi.String(fmt.Sprintf("https://secretsmanager.%s.amazonaws.com", env.Region)),
			"functionName":        pulumi.String(args.Identifier + "-rotation"),
			"kmsKeyArn":           key.Arn,
			"vpcSubnetIds":        r.SubnetIDs.ToStringArrayOutput().ApplyT(func(ids []string) string { return strings.Join(ids, ",") }).(pulumi.StringOutput),
			"vpcSecurityGroupIds": sg.ID().ToStringOutput(),
		},
		Tags: pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return err
	}
	_, err = secretsmanager.NewSecretRotation(ctx, name+"-master", &secretsmanager.SecretRotationArgs{
		SecretId:          secret.ID(),
		RotationLambdaArn: fn.Outputs.MapIndex(pulumi.String("RotationLambdaARN")),
		RotationRules:     secretsmanager.SecretRotationRotationRulesArgs{AutomaticallyAfterDays: pulumi.Int(r.Days)},
	}, parent)
	return err
}

// assumedBy is the trust policy of a role an AWS service assumes.
func assumedBy(service string) identity.Document {
	return identity.Document{Statements: []identity.Statement{{
		Principals: []identity.Principal{identity.ServicePrincipal(service)}, Actions: []string{"sts:AssumeRole"},
	}}}
}

// userSecretWritePolicy lets the migrations Job fill and read the IAM users' secrets: nothing
// else, not the master secret (which it receives through the secret sync).
func userSecretWritePolicy(ctx *pulumi.Context, name string, args DatabaseArgs, userSecrets pulumi.StringMap, keyARN pulumi.StringOutput, tags pulumi.StringMap, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	var arns []pulumi.StringInput
	for _, u := range args.IAMUsers {
		arns = append(arns, userSecrets[u])
	}
	p, err := iam.NewPolicy(ctx, name+"-user-secrets", &iam.PolicyArgs{
		Description: pulumi.Sprintf("Write and read the database users' secrets of %s (the migrations Job)", args.Identifier),
		Policy: identity.Document{Statements: []identity.Statement{
			{Sid: "UserSecrets", Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"}, Resources: arns},
			{Sid: "UserSecretsKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resources: []pulumi.StringInput{keyARN}},
		}}.JSON(),
		Tags: tags,
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return p.Arn, nil
}

// accessPolicies are the IRSA-ready managed policies the workloads attach to service roles.
func accessPolicies(ctx *pulumi.Context, name string, args DatabaseArgs, primary *rds.Instance, proxy *rds.Proxy, secretARN, keyARN pulumi.StringOutput,
	partition, region, account string, tags pulumi.StringMap, parent pulumi.ResourceOption) (connect, secretRead pulumi.StringOutput, err error) {
	users := args.IAMUsers
	if len(users) == 0 {
		users = []string{"app"}
	}
	// IAM authentication names the instance by its resource id and the proxy by the last part
	// of its ARN (prx-...).
	ids := []pulumi.StringInput{primary.ResourceId}
	if proxy != nil {
		ids = append(ids, proxy.Arn.ApplyT(func(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }).(pulumi.StringOutput))
	}
	var resources []pulumi.StringInput
	for _, id := range ids {
		for _, u := range users {
			resources = append(resources, pulumi.Sprintf("arn:%s:rds-db:%s:%s:dbuser:%s/%s", partition, region, account, id, u))
		}
	}
	doc := identity.Document{Statements: []identity.Statement{{Sid: "ConnectWithIAM", Actions: []string{"rds-db:connect"}, Resources: resources}}}.JSON()
	cp, err := iam.NewPolicy(ctx, name+"-connect", &iam.PolicyArgs{
		Description: pulumi.Sprintf("Connect to %s as %s with IAM authentication", args.Identifier, strings.Join(users, ", ")),
		Policy:      doc,
		Tags:        tags,
	}, parent)
	if err != nil {
		return connect, secretRead, err
	}
	sp, err := iam.NewPolicy(ctx, name+"-secret-read", &iam.PolicyArgs{
		Description: pulumi.Sprintf("Read the master credentials of %s", args.Identifier),
		Policy:      identity.Document{Statements: keys.ReadSecret(secretARN, keyARN)}.JSON(),
		Tags:        tags,
	}, parent)
	if err != nil {
		return connect, secretRead, err
	}
	return cp.Arn, sp.Arn, nil
}

func instanceAlarms(ctx *pulumi.Context, name, identifier string, primaryID pulumi.StringOutput, replicas []*rds.Instance, a AlarmArgs, tags map[string]string, parent pulumi.ResourceOption) error {
	dims := func(id pulumi.StringInput) pulumi.StringMap { return pulumi.StringMap{"DBInstanceIdentifier": id} }
	var specs []alarms.Spec
	instances := []struct {
		suffix string
		id     pulumi.StringOutput
	}{{"", primaryID}}
	for i, r := range replicas {
		instances = append(instances, struct {
			suffix string
			id     pulumi.StringOutput
		}{fmt.Sprintf("-replica-%d", i+1), r.Identifier})
	}
	for _, in := range instances {
		n := name + in.suffix
		specs = append(specs,
			alarms.Spec{Name: n + "-cpu", Description: fmt.Sprintf("%s%s CPU above %g%%", identifier, in.suffix, a.CPUPercent),
				Namespace: "AWS/RDS", Metric: "CPUUtilization", Statistic: "Average", Comparison: alarms.Above, Threshold: a.CPUPercent, Dimensions: dims(in.id)},
			alarms.Spec{Name: n + "-free-storage", Description: fmt.Sprintf("%s%s free storage below %g GiB", identifier, in.suffix, a.FreeStorageGiB),
				Namespace: "AWS/RDS", Metric: "FreeStorageSpace", Statistic: "Minimum", Comparison: alarms.Below, Threshold: a.FreeStorageGiB * (1 << 30), Dimensions: dims(in.id)},
			alarms.Spec{Name: n + "-connections", Description: fmt.Sprintf("%s%s above %g connections", identifier, in.suffix, a.Connections),
				Namespace: "AWS/RDS", Metric: "DatabaseConnections", Statistic: "Maximum", Comparison: alarms.Above, Threshold: a.Connections, Dimensions: dims(in.id)},
		)
		if in.suffix != "" {
			specs = append(specs, alarms.Spec{Name: n + "-replica-lag", Description: fmt.Sprintf("%s%s replica lag above %gs", identifier, in.suffix, a.ReplicaLagSeconds),
				Namespace: "AWS/RDS", Metric: "ReplicaLag", Statistic: "Maximum", Comparison: alarms.Above, Threshold: a.ReplicaLagSeconds, Period: 60, Periods: 5, Dimensions: dims(in.id)})
		}
	}
	_, err := alarms.Create(ctx, a.TopicARN, tags, specs, parent)
	return err
}
