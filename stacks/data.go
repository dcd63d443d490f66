package stacks

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cantondex/platform/services/topics"
)

// Kafka versions for MSK: MinKafkaVersion is the oldest the settings accept (kept only as a
// floor, with a warning), DefaultKafkaVersion what new stacks get (MSK picks the patch level).
const (
	MinKafkaVersion       = "3.5.1"
	SupportedKafkaVersion = "3.6.0"
	DefaultKafkaVersion   = "3.9.x"
)

// Data is the data and streaming tier: three PostgreSQL databases, the Redis cache, the MSK
// cluster with its topics, and the alarms on all of them. Stack files set it under the one key
// cantondex:data; a value is decoded over the environment's defaults.
type Data struct {
	Databases Databases `json:"databases"`
	Cache     Cache     `json:"cache"`
	Streaming Streaming `json:"streaming"`
	Alarms    Alarms    `json:"alarms"`
}

// Databases are the three RDS PostgreSQL instances, one per role.
type Databases struct {
	// Trading is the primary of the trading services (orders, ledger, accounts): Multi-AZ in
	// prod, with a read replica, a disaster-recovery replica and RDS Proxy in front.
	Trading Database `json:"trading"`
	// PQS is the Participant Query Store: read-heavy, point-in-time recovery.
	PQS Database `json:"pqs"`
	// Timescale holds market-data time series (TimescaleDB preloaded).
	Timescale Database `json:"timescale"`
}

// Roles returns the databases by role name, in a fixed order.
func (d *Databases) Roles() []NamedDatabase {
	return []NamedDatabase{{"trading", &d.Trading}, {"pqs", &d.PQS}, {"timescale", &d.Timescale}}
}

// NamedDatabase is a database with its role name.
type NamedDatabase struct {
	Role string
	*Database
}

// Database is one RDS PostgreSQL instance and what hangs off it.
type Database struct {
	// EngineVersion is the PostgreSQL version, "15" (RDS picks and upgrades the minor) or "15.8".
	EngineVersion string `json:"engineVersion"`
	InstanceClass string `json:"instanceClass"`
	// AllocatedStorageGiB is the initial gp3 size; storage autoscales up to MaxAllocatedStorageGiB.
	AllocatedStorageGiB    int  `json:"allocatedStorageGiB"`
	MaxAllocatedStorageGiB int  `json:"maxAllocatedStorageGiB"`
	MultiAZ                bool `json:"multiAz"`
	// BackupRetentionDays of automated backups (point-in-time recovery window), 7 to 35; prod
	// needs at least 30.
	BackupRetentionDays int    `json:"backupRetentionDays"`
	BackupWindow        string `json:"backupWindow"`      // "hh:mm-hh:mm" UTC
	MaintenanceWindow   string `json:"maintenanceWindow"` // "ddd:hh:mm-ddd:hh:mm" UTC
	DeletionProtection  bool   `json:"deletionProtection"`
	// PerformanceInsightsRetentionDays: 7 (free tier) or a multiple of 31 up to 731.
	PerformanceInsightsRetentionDays int `json:"performanceInsightsRetentionDays"`
	// MonitoringIntervalSeconds of enhanced monitoring: 1, 5, 10, 15, 30 or 60.
	MonitoringIntervalSeconds int `json:"monitoringIntervalSeconds"`
	// PreloadLibraries go into shared_preload_libraries.
	PreloadLibraries []string `json:"preloadLibraries"`
	// Parameters are PostgreSQL parameters on top of the role's tuned defaults.
	Parameters map[string]string `json:"parameters"`
	// ReadReplicas in the primary region, DRReplica in the disaster-recovery region.
	ReadReplicas int  `json:"readReplicas"`
	DRReplica    bool `json:"drReplica"`
	// Proxy puts RDS Proxy (TLS required, IAM auth) in front of the instance.
	Proxy bool `json:"proxy"`
	// LogRetentionDays of the exported PostgreSQL logs.
	LogRetentionDays int `json:"logRetentionDays"`
}

// Cache is the ElastiCache Redis replication group (cluster mode enabled).
type Cache struct {
	EngineVersion    string `json:"engineVersion"` // "7.1"
	NodeType         string `json:"nodeType"`
	Shards           int    `json:"shards"`
	ReplicasPerShard int    `json:"replicasPerShard"`
	// AutomaticFailover (and Multi-AZ with it) needs at least one replica per shard.
	AutomaticFailover     bool   `json:"automaticFailover"`
	SnapshotRetentionDays int    `json:"snapshotRetentionDays"`
	SnapshotWindow        string `json:"snapshotWindow"`
	MaintenanceWindow     string `json:"maintenanceWindow"`
	LogRetentionDays      int    `json:"logRetentionDays"`
}

// Nodes is the total number of cache nodes.
func (c Cache) Nodes() int { return c.Shards * (1 + c.ReplicasPerShard) }

// Streaming is the MSK cluster and the platform's topics.
type Streaming struct {
	// KafkaVersion: "3.9.x" lets MSK choose the patch level; 3.5.1 is the oldest accepted.
	KafkaVersion string `json:"kafkaVersion"`
	// BrokerCount must be a multiple of the client subnets (one per AZ).
	BrokerCount  int    `json:"brokerCount"`
	InstanceType string `json:"instanceType"`
	// VolumeSizeGiB of gp3 storage per broker.
	VolumeSizeGiB int `json:"volumeSizeGiB"`
	// ProvisionedThroughputMiBps per broker (0 leaves it off; needs kafka.m5.4xlarge,
	// kafka.m7g.2xlarge or larger).
	ProvisionedThroughputMiBps int `json:"provisionedThroughputMiBps"`
	// DefaultReplicationFactor and MinInsyncReplicas are the cluster's defaults.
	DefaultReplicationFactor int `json:"defaultReplicationFactor"`
	MinInsyncReplicas        int `json:"minInsyncReplicas"`
	LogRetentionDays         int `json:"logRetentionDays"`
	// Topics overrides the shared topic definition (services/topics) per stack, by topic name.
	Topics map[string]TopicOverride `json:"topics"`
}

// TopicOverride changes a topic's sizing in one stack; zero fields keep the definition's value.
type TopicOverride struct {
	Partitions        int32 `json:"partitions"`
	ReplicationFactor int16 `json:"replicationFactor"`
	RetentionHours    int64 `json:"retentionHours"` // -1 keeps forever
}

// TopicList returns the shared topic definition with this stack's overrides applied.
func (s Streaming) TopicList() []topics.Topic {
	all := topics.All()
	for i, t := range all {
		o, ok := s.Topics[t.Name]
		if !ok {
			continue
		}
		if o.Partitions != 0 {
			all[i].Partitions = o.Partitions
		}
		if o.ReplicationFactor != 0 {
			all[i].ReplicationFactor = o.ReplicationFactor
		}
		switch {
		case o.RetentionHours < 0:
			all[i].RetentionMs = -1
		case o.RetentionHours > 0:
			all[i].RetentionMs = o.RetentionHours * 3600 * 1000
		}
		if all[i].MinInsyncReplicas >= int(all[i].ReplicationFactor) {
			all[i].MinInsyncReplicas = max(1, int(all[i].ReplicationFactor)-1)
		}
	}
	return all
}

// Alarms are the CloudWatch alarm thresholds of the data tier. They all notify one SNS topic.
type Alarms struct {
	// EmailSubscribers get the alarm topic by e-mail (each must confirm); may be empty.
	EmailSubscribers []string `json:"emailSubscribers"`
	CPUPercent       float64  `json:"cpuPercent"`
	FreeStorageGiB   float64  `json:"freeStorageGiB"`
	ReplicaLagSec    float64  `json:"replicaLagSeconds"`
	// DatabaseConnections alarms above this many connections per instance.
	DatabaseConnections float64 `json:"databaseConnections"`
	RedisMemoryPercent  float64 `json:"redisMemoryPercent"`
	// RedisEvictions alarms above this many evictions in five minutes.
	RedisEvictions   float64 `json:"redisEvictions"`
	KafkaDiskPercent float64 `json:"kafkaDiskPercent"`
}

func defaultDatabase(env Environment) Database {
	d := Database{
		EngineVersion: "15", InstanceClass: "db.r6g.xlarge",
		AllocatedStorageGiB: 100, MaxAllocatedStorageGiB: 1000, MultiAZ: true,
		BackupRetentionDays: 30, BackupWindow: "03:00-04:00", MaintenanceWindow: "sun:04:30-sun:05:30",
		DeletionProtection: true, PerformanceInsightsRetentionDays: 31, MonitoringIntervalSeconds: 15,
		PreloadLibraries: []string{"pg_stat_statements"}, LogRetentionDays: 365,
	}
	if env == Staging {
		d.InstanceClass = "db.t4g.medium"
		d.AllocatedStorageGiB, d.MaxAllocatedStorageGiB = 20, 100
		d.MultiAZ = false
		d.BackupRetentionDays = 7
		d.DeletionProtection = false
		d.PerformanceInsightsRetentionDays = 7
		d.MonitoringIntervalSeconds = 60
		d.LogRetentionDays = 30
	}
	return d
}

func defaultData(env Environment) Data {
	trading := defaultDatabase(env)
	trading.ReadReplicas, trading.DRReplica, trading.Proxy = 1, true, true
	pqs := defaultDatabase(env)
	timescale := defaultDatabase(env)
	timescale.PreloadLibraries = []string{"pg_stat_statements", "timescaledb"}
	d := Data{
		Databases: Databases{Trading: trading, PQS: pqs, Timescale: timescale},
		Cache: Cache{
			EngineVersion: "7.1", NodeType: "cache.r7g.large", Shards: 1, ReplicasPerShard: 2,
			AutomaticFailover: true, SnapshotRetentionDays: 7, SnapshotWindow: "02:00-03:00",
			MaintenanceWindow: "sun:05:30-sun:06:30", LogRetentionDays: 365,
		},
		Streaming: Streaming{
			KafkaVersion: DefaultKafkaVersion, BrokerCount: 6, InstanceType: "kafka.m7g.2xlarge",
			VolumeSizeGiB: 1000, ProvisionedThroughputMiBps: 250,
			DefaultReplicationFactor: 3, MinInsyncReplicas: 2, LogRetentionDays: 365,
		},
		Alarms: Alarms{
			CPUPercent: 80, FreeStorageGiB: 20, ReplicaLagSec: 60, DatabaseConnections: 800,
			RedisMemoryPercent: 80, RedisEvictions: 1000, KafkaDiskPercent: 80,
		},
	}
	if env == Staging {
		d.Cache.NodeType = "cache.t4g.medium"
		d.Cache.SnapshotRetentionDays = 1
		d.Cache.LogRetentionDays = 30
		d.Streaming.BrokerCount = 3
		d.Streaming.InstanceType = "kafka.m7g.large"
		d.Streaming.VolumeSizeGiB = 100
		d.Streaming.ProvisionedThroughputMiBps = 0
		d.Streaming.LogRetentionDays = 30
		d.Alarms.FreeStorageGiB = 5
		d.Alarms.ReplicaLagSec = 300
		d.Alarms.DatabaseConnections = 150
	}
	return d
}

var (
	windowRE      = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$`)
	weekWindowRE  = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$`)
	classRE       = regexp.MustCompile(`^db\.([a-z0-9-]+)\.([0-9]*)(micro|small|medium|large|xlarge|metal)$`)
	kafkaTypeRE   = regexp.MustCompile(`^kafka\.([a-z0-9]+)\.([0-9]*)(small|large|xlarge)$`)
	cacheTypeRE   = regexp.MustCompile(`^cache\.[a-z0-9]+\.[a-z0-9]+$`)
	monitoringSec = []int{1, 5, 10, 15, 30, 60}
)

// sizeRank orders instance sizes: micro < ... < large < xlarge < 2xlarge < ...
func sizeRank(mult, size string) int {
	base := map[string]int{"micro": 1, "small": 2, "medium": 3, "large": 4, "xlarge": 5, "metal": 1000}[size]
	if size == "xlarge" && mult != "" {
		n, _ := strconv.Atoi(mult)
		return base + n
	}
	return base
}

func (d *Data) validate(v *validator, s *Settings) {
	for _, db := range d.Databases.Roles() {
		db.validate(v, "data.databases."+db.Role, s.Environment)
	}
	d.Cache.validate(v, s.Environment)
	d.Streaming.validate(v, s.Network.AZCount)
	a := d.Alarms
	for _, th := range []struct {
		name string
		val  float64
		max  float64
	}{
		{"cpuPercent", a.CPUPercent, 100}, {"freeStorageGiB", a.FreeStorageGiB, 1e6}, {"replicaLagSeconds", a.ReplicaLagSec, 86400},
		{"databaseConnections", a.DatabaseConnections, 1e6}, {"redisMemoryPercent", a.RedisMemoryPercent, 100},
		{"redisEvictions", a.RedisEvictions, 1e9}, {"kafkaDiskPercent", a.KafkaDiskPercent, 100},
	} {
		if th.val <= 0 || th.val > th.max {
			v.errorf("data.alarms."+th.name, "%g must be above 0 and at most %g", th.val, th.max)
		}
	}
	for i, e := range a.EmailSubscribers {
		if !strings.Contains(e, "@") {
			v.errorf(fmt.Sprintf("data.alarms.emailSubscribers[%d]", i), "%q is not an e-mail address", e)
		}
	}
}

func (d *Database) validate(v *validator, at string, env Environment) {
	major, _, _ := strings.Cut(d.EngineVersion, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 15 {
		v.errorf(at+".engineVersion", "%q is not PostgreSQL 15 or newer (like \"15\" or \"15.8\")", d.EngineVersion)
	}
	m := classRE.FindStringSubmatch(d.InstanceClass)
	switch {
	case m == nil:
		v.errorf(at+".instanceClass", "%q is not an RDS instance class like db.r6g.xlarge", d.InstanceClass)
	case env == Prod && (strings.HasPrefix(m[1], "t") || sizeRank(m[2], m[3]) < sizeRank("", "xlarge")):
		v.errorf(at+".instanceClass", "%s is too small for prod: use a non-burstable class of db.r6g.xlarge or larger", d.InstanceClass)
	}
	if d.AllocatedStorageGiB < 20 || d.AllocatedStorageGiB > 65536 {
		v.errorf(at+".allocatedStorageGiB", "%d is outside 20 to 65536 GiB", d.AllocatedStorageGiB)
	}
	if d.MaxAllocatedStorageGiB < d.AllocatedStorageGiB || d.MaxAllocatedStorageGiB > 65536 {
		v.errorf(at+".maxAllocatedStorageGiB", "%d must be between allocatedStorageGiB (%d) and 65536 GiB", d.MaxAllocatedStorageGiB, d.AllocatedStorageGiB)
	}
	switch {
	case d.BackupRetentionDays < 7 || d.BackupRetentionDays > 35:
		v.errorf(at+".backupRetentionDays", "%d is outside 7 to 35 days", d.BackupRetentionDays)
	case env == Prod && d.BackupRetentionDays < 30:
		v.errorf(at+".backupRetentionDays", "%d is below the 30 days prod keeps", d.BackupRetentionDays)
	}
	if !windowRE.MatchString(d.BackupWindow) {
		v.errorf(at+".backupWindow", "%q is not a UTC window like 03:00-04:00", d.BackupWindow)
	}
	if !weekWindowRE.MatchString(d.MaintenanceWindow) {
		v.errorf(at+".maintenanceWindow", "%q is not a weekly UTC window like sun:04:30-sun:05:30", d.MaintenanceWindow)
	}
	if env == Prod {
		if !d.MultiAZ {
			v.errorf(at+".multiAz", "prod databases run Multi-AZ")
		}
		if !d.DeletionProtection {
			v.errorf(at+".deletionProtection", "prod databases keep deletion protection on")
		}
	}
	if pi := d.PerformanceInsightsRetentionDays; pi != 7 && (pi%31 != 0 || pi < 31 || pi > 731) {
		v.errorf(at+".performanceInsightsRetentionDays", "%d is not 7 or a multiple of 31 up to 731", pi)
	}
	if !slices.Contains(monitoringSec, d.MonitoringIntervalSeconds) {
		v.errorf(at+".monitoringIntervalSeconds", "%d is not one of 1, 5, 10, 15, 30, 60 (enhanced monitoring stays on)", d.MonitoringIntervalSeconds)
	}
	if d.ReadReplicas < 0 || d.ReadReplicas > 5 {
		v.errorf(at+".readReplicas", "%d is outside 0 to 5", d.ReadReplicas)
	}
	for k := range d.Parameters {
		if k == "shared_preload_libraries" {
			v.errorf(at+".parameters", "set shared_preload_libraries through preloadLibraries")
		}
	}
	validateRetention(v, at+".logRetentionDays", d.LogRetentionDays)
}

func (c *Cache) validate(v *validator, env Environment) {
	const at = "data.cache"
	if major, _, _ := strings.Cut(c.EngineVersion, "."); major != "7" {
		v.errorf(at+".engineVersion", "%q is not a Redis 7 version like 7.1", c.EngineVersion)
	}
	if !cacheTypeRE.MatchString(c.NodeType) {
		v.errorf(at+".nodeType", "%q is not an ElastiCache node type like cache.r7g.large", c.NodeType)
	}
	if c.Shards < 1 || c.Shards > 500 {
		v.errorf(at+".shards", "%d is outside 1 to 500", c.Shards)
	}
	switch {
	case c.ReplicasPerShard < 0 || c.ReplicasPerShard > 5:
		v.errorf(at+".replicasPerShard", "%d is outside 0 to 5", c.ReplicasPerShard)
	case c.AutomaticFailover && c.ReplicasPerShard < 1:
		v.errorf(at+".replicasPerShard", "%d leaves each shard without a replica, but automaticFailover is on: it needs at least 1", c.ReplicasPerShard)
	}
	if !c.AutomaticFailover {
		v.errorf(at+".automaticFailover", "cluster mode needs automatic failover (and Multi-AZ with it)")
	}
	if c.SnapshotRetentionDays < 1 || c.SnapshotRetentionDays > 35 {
		v.errorf(at+".snapshotRetentionDays", "%d is outside 1 to 35 days", c.SnapshotRetentionDays)
	}
	if !windowRE.MatchString(c.SnapshotWindow) {
		v.errorf(at+".snapshotWindow", "%q is not a UTC window like 02:00-03:00", c.SnapshotWindow)
	}
	if !weekWindowRE.MatchString(c.MaintenanceWindow) {
		v.errorf(at+".maintenanceWindow", "%q is not a weekly UTC window like sun:05:30-sun:06:30", c.MaintenanceWindow)
	}
	validateRetention(v, at+".logRetentionDays", c.LogRetentionDays)
}

// parseKafkaVersion reads "3.9.x", "3.5.1" or "3.7.x.kraft" as major, minor, patch (-1 for x).
func parseKafkaVersion(s string) ([3]int, error) {
	s = strings.TrimSuffix(s, ".kraft")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return [3]int{}, fmt.Errorf("version %q", s)
	}
	var out [3]int
	for i, p := range parts {
		if i == 2 && p == "x" {
			out[i] = -1
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return [3]int{}, fmt.Errorf("version %q", s)
		}
		out[i] = n
	}
	return out, nil
}

func compareKafka(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

func (st *Streaming) validate(v *validator, subnets int) {
	const at = "data.streaming"
	ver, err := parseKafkaVersion(st.KafkaVersion)
	floor, _ := parseKafkaVersion(MinKafkaVersion)
	supported, _ := parseKafkaVersion(SupportedKafkaVersion)
	switch {
	case err != nil:
		v.errorf(at+".kafkaVersion", "%q is not an MSK Kafka version like %s", st.KafkaVersion, DefaultKafkaVersion)
	case compareKafka(ver, floor) < 0:
		v.errorf(at+".kafkaVersion", "%s is below the minimum %s (default %s)", st.KafkaVersion, MinKafkaVersion, DefaultKafkaVersion)
	case compareKafka(ver, supported) < 0:
		v.warnf(at+".kafkaVersion", "%s is past MSK standard support; upgrade to %s", st.KafkaVersion, DefaultKafkaVersion)
	}
	switch {
	case st.BrokerCount < subnets || st.BrokerCount < 2:
		v.errorf(at+".brokerCount", "%d is below one broker per client subnet (%d subnets)", st.BrokerCount, subnets)
	case subnets > 0 && st.BrokerCount%subnets != 0:
		v.errorf(at+".brokerCount", "%d brokers cannot spread evenly over %d client subnets (one per AZ, network.azCount): use a multiple of %d", st.BrokerCount, subnets, subnets)
	}
	m := kafkaTypeRE.FindStringSubmatch(st.InstanceType)
	if m == nil {
		v.errorf(at+".instanceType", "%q is not an MSK broker type like kafka.m7g.large", st.InstanceType)
	}
	if st.VolumeSizeGiB < 1 || st.VolumeSizeGiB > 16384 {
		v.errorf(at+".volumeSizeGiB", "%d is outside 1 to 16384 GiB", st.VolumeSizeGiB)
	}
	if tp := st.ProvisionedThroughputMiBps; tp != 0 {
		big := m != nil && (m[1] == "m5" && sizeRank(m[2], m[3]) >= sizeRank("4", "xlarge") ||
			m[1] != "m5" && m[1] != "t3" && sizeRank(m[2], m[3]) >= sizeRank("2", "xlarge"))
		switch {
		case tp < 250 || tp > 1000:
			v.errorf(at+".provisionedThroughputMiBps", "%d is outside 250 to 1000 MiB/s (0 turns it off)", tp)
		case !big:
			v.errorf(at+".provisionedThroughputMiBps", "%s cannot have provisioned throughput; use kafka.m5.4xlarge, kafka.m7g.2xlarge or larger, or set 0", st.InstanceType)
		}
	}
	if st.DefaultReplicationFactor < 2 || st.DefaultReplicationFactor > st.BrokerCount {
		v.errorf(at+".defaultReplicationFactor", "%d must be at least 2 and at most brokerCount %d", st.DefaultReplicationFactor, st.BrokerCount)
	}
	if st.MinInsyncReplicas < 1 || st.MinInsyncReplicas >= st.DefaultReplicationFactor {
		v.errorf(at+".minInsyncReplicas", "%d must be at least 1 and below defaultReplicationFactor %d, so one broker can be down", st.MinInsyncReplicas, st.DefaultReplicationFactor)
	}
	validateRetention(v, at+".logRetentionDays", st.LogRetentionDays)
	for name, o := range st.Topics {
		if _, ok := topics.Lookup(name); !ok {
			v.errorf(at+".topics."+name, "%q is not a platform topic (services/topics)", name)
			continue
		}
		if o.Partitions < 0 {
			v.errorf(at+".topics."+name+".partitions", "%d is negative", o.Partitions)
		}
		if o.ReplicationFactor < 0 || int(o.ReplicationFactor) > st.BrokerCount {
			v.errorf(at+".topics."+name+".replicationFactor", "%d must be between 1 and brokerCount %d", o.ReplicationFactor, st.BrokerCount)
		}
		if o.RetentionHours < -1 {
			v.errorf(at+".topics."+name+".retentionHours", "%d is neither -1 (forever) nor a number of hours", o.RetentionHours)
		}
	}
	for _, t := range st.TopicList() {
		if int(t.ReplicationFactor) > st.BrokerCount {
			v.errorf(at+".topics."+t.Name+".replicationFactor", "%d is above brokerCount %d", t.ReplicationFactor, st.BrokerCount)
		}
	}
}
