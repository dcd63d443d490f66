// Package catalog is the one description of the platform's services: for each, its binary,
// the topics it consumes (with its consumer group) and produces, the database and Redis it
// needs, its secrets, ports, probes, default resources and replicas.
//
// The binaries register their consumers and producers through it (services/flow refuses a
// topic an entry does not list), the configuration of each binary requires exactly the
// dependencies its entry names, and the infrastructure program derives the MSK IAM policies,
// the database users and the network needs from it, so none of them can disagree. It depends
// only on the standard library and services/topics, so the infrastructure module can import
// it. A service whose code does not exist yet has no entry.
package catalog

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cantondex/platform/services/topics"
)

// Service names (they are also the binaries' names under services/cmd and their consumer
// groups).
const (
	APIGateway            = "api-gateway"
	MatchingEngine        = "matching-engine"
	SettlementCoordinator = "settlement-coordinator"
	RiskManagement        = "risk-management"
	// NotificationService pushes each trader's events and the public market data over
	// WebSocket (services/notification).
	NotificationService = "notification-service"
	// ComplianceService audits the order flow, runs surveillance on it and publishes
	// compliance-events; its schema is compliance.
	ComplianceService = "compliance-service"
	// KafkaTopics is the Job that creates and reconciles the topics from services/topics.
	KafkaTopics = "kafka-topics"
	// DatabaseMigrations is the Job that applies the schema migrations and creates the
	// services' database users before the services roll (services/cmd/migrate).
	DatabaseMigrations = "database-migrations"
	// ScreeningSync is the Job that downloads the official sanctions lists into the
	// ScreeningListsConfigMap (services/cmd/screening-sync): once on each release, before the
	// services that screen start, then on its Schedule.
	ScreeningSync = "screening-sync"
)

// The sanctions lists in the cluster: a ConfigMap of the services' namespace holding OFAC's
// sdn.csv, alt.csv and add.csv gzip-compressed in binaryData (together over the 1 MiB a
// ConfigMap holds raw), written by ScreeningSync only and mounted read-only at
// ScreeningListsDir into every service with ScreeningLists, whose SCREENING_* point there
// (services/compliance/screening reads .gz files through gzip, and re-reads them every
// SCREENING_RELOAD_INTERVAL: kubelet swaps a ConfigMap volume's files atomically).
const (
	ScreeningListsConfigMap = "screening-lists"
	ScreeningListsDir       = "/etc/cantondex-screening"
	// ScreeningSyncSchedule is daily: OFAC publishes on no fixed schedule, usually a few
	// times a month, and the services re-screen every account against what changed.
	ScreeningSyncSchedule = "17 5 * * *"
)

// The ScreeningListsConfigMap's keys (the file names in its mount).
const (
	ScreeningSDNFile = "sdn.csv.gz"
	ScreeningAltFile = "alt.csv.gz"
	ScreeningAddFile = "add.csv.gz"
)

// The program's databases (stacks' data.databases roles).
const (
	Trading   = "trading"
	PQS       = "pqs"
	Timescale = "timescale"
)

// Kind says how a service runs.
type Kind string

const (
	Deployment Kind = "Deployment" // a long-running service
	Job        Kind = "Job"        // runs to completion (on each release)
)

// Ports: every service listens on all interfaces in a pod.
const (
	PublicPort     = 8080 // the public API (api-gateway)
	OperationsPort = 9090 // /health, /ready, /metrics: reached by the kubelet and Prometheus only
)

// Probes are the HTTP paths on the operations port.
type Probes struct {
	Liveness  string
	Readiness string
	Metrics   string
}

// DefaultProbes are what platform.OperationsHandler serves.
var DefaultProbes = Probes{Liveness: "/health", Readiness: "/ready", Metrics: "/metrics"}

// Resources are a container's requests and limits in Kubernetes quantities.
type Resources struct {
	CPURequest, CPULimit       string
	MemoryRequest, MemoryLimit string
}

// Consume is one subscription: the topic and the consumer group reading it. Group "" is a
// fan-out reader (every partition by manual assignment, no group, no commits: each replica
// sees every message).
type Consume struct {
	Topic string
	Group string
}

// Secret is one secret a service reads, delivered as environment variables (names only).
type Secret struct {
	Name string   // the secret's name in the secret store
	Env  []string // the variables it fills
}

// Service is one entry.
type Service struct {
	Name   string
	Binary string // services/cmd/<Binary>
	Kind   Kind
	// Consumes and Produces are the topics the binary reads and writes; nothing else.
	Consumes []Consume
	Produces []string
	// TopicAdmin: creates and reconciles topics through the admin API (the topic Job).
	TopicAdmin bool
	// Database is the database the service connects to ("" for none) and DBUser the user it
	// connects as, with IAM authentication through the RDS Proxy (no password to store).
	Database string
	DBUser   string
	// DBAdmin: connects as the database's owner with the credentials RDS keeps in Secrets
	// Manager, directly to the instance (the proxy takes IAM users only): the migrations Job,
	// and nothing else.
	DBAdmin bool
	Redis   bool
	Secrets []Secret
	// SignsAudit: signs the audit trail's checkpoints with the program's KMS key
	// audit-signing (AUDIT_KMS_KEY_ID, kms:Sign and kms:GetPublicKey on that key only).
	SignsAudit bool
	// ScreeningLists: screens KYC applications and withdrawals against the sanctions lists
	// of the ScreeningListsConfigMap, mounted (SCREENING_*).
	ScreeningLists bool
	// WritesScreeningLists: downloads the official lists over HTTPS from the Internet and
	// writes the ScreeningListsConfigMap through the Kubernetes API (ScreeningSync only).
	WritesScreeningLists bool
	// Schedule (cron, UTC) of a Job that also runs periodically, as a CronJob ("": on each
	// release only).
	Schedule string
	// PublicPort is the public API's port (0: none); OpsPort serves Probes.
	PublicPort int
	// PublicPath is the path prefix the shared ALB routes to PublicPort ("" is "/"): the
	// gateway takes everything, the notification service /api/v1/stream.
	PublicPath string
	OpsPort    int
	Probes     Probes
	Resources  Resources
	Replicas   int
}

// GroupMember reports whether the service consumes some topic in a consumer group (a
// fan-out reader, Group "", is not a member).
func (s Service) GroupMember() bool {
	return slices.ContainsFunc(s.Consumes, func(c Consume) bool { return c.Group != "" })
}

// Kafka reports whether the service talks to Kafka.
func (s Service) Kafka() bool { return len(s.Consumes) > 0 || len(s.Produces) > 0 || s.TopicAdmin }

// ConsumedTopics returns the topics s consumes, sorted.
func (s Service) ConsumedTopics() []string {
	var ts []string
	for _, c := range s.Consumes {
		ts = append(ts, c.Topic)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// CheckConsume returns an error unless s consumes every topic of ts in group.
func (s Service) CheckConsume(group string, ts ...string) error {
	if len(ts) == 0 {
		return fmt.Errorf("%s: consumer group %s with no topic", s.Name, group)
	}
	for _, t := range ts {
		if !slices.Contains(s.Consumes, Consume{Topic: t, Group: group}) {
			return fmt.Errorf("%s may not consume %s in group %s: not in its catalog entry", s.Name, t, group)
		}
	}
	return nil
}

// CheckProduce returns an error unless s produces topic.
func (s Service) CheckProduce(topic string) error {
	if !slices.Contains(s.Produces, topic) {
		return fmt.Errorf("%s may not produce %s: not in its catalog entry", s.Name, topic)
	}
	return nil
}

var (
	small     = Resources{CPURequest: "250m", CPULimit: "1", MemoryRequest: "256Mi", MemoryLimit: "512Mi"}
	medium    = Resources{CPURequest: "500m", CPULimit: "2", MemoryRequest: "512Mi", MemoryLimit: "1Gi"}
	authKeys  = Secret{Name: "cantondex-auth-keys", Env: []string{"AUTH_TOKEN_KEY", "AUTH_SEAL_KEY"}}
	redisAuth = Secret{Name: "cantondex-redis-auth-token", Env: []string{"REDIS_AUTH_TOKEN"}}
)

// All returns every service, in a fixed order.
func All() []Service {
	svc := func(s Service) Service {
		if s.Kind == "" {
			s.Kind = Deployment
		}
		if s.Kind == Deployment {
			s.OpsPort, s.Probes = OperationsPort, DefaultProbes
		}
		return s
	}
	return []Service{
		svc(Service{
			Name: APIGateway, Binary: APIGateway,
			// Order entry writes order commands through its outbox relay; queries read the
			// read model in PostgreSQL and the book depth in Redis.
			Produces: []string{topics.Orders},
			Database: Trading, DBUser: "cdx_api_gateway", Redis: true,
			// KYC submissions and withdrawals are screened where they are made.
			ScreeningLists: true,
			Secrets:        []Secret{authKeys, redisAuth},
			PublicPort:     PublicPort, Resources: medium, Replicas: 3,
		}),
		svc(Service{
			Name: MatchingEngine, Binary: MatchingEngine,
			Consumes: []Consume{{Topic: topics.Orders, Group: MatchingEngine}},
			Produces: []string{topics.Trades},
			// Snapshots in PostgreSQL; book depth for the API in Redis.
			Database: Trading, DBUser: "cdx_matching_engine", Redis: true,
			Secrets:   []Secret{redisAuth},
			Resources: Resources{CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"}, Replicas: 3,
		}),
		svc(Service{
			Name: SettlementCoordinator, Binary: SettlementCoordinator,
			Consumes: []Consume{{Topic: topics.Trades, Group: SettlementCoordinator}},
			Produces: []string{topics.Settlements},
			Database: Trading, DBUser: "cdx_settlement",
			Resources: medium, Replicas: 3,
		}),
		svc(Service{
			Name: RiskManagement, Binary: RiskManagement,
			// Post-trade risk: pre-trade risk runs inside order entry (api-gateway).
			Consumes: []Consume{{Topic: topics.Settlements, Group: RiskManagement}},
			Produces: []string{topics.Alerts},
			Database: Trading, DBUser: "cdx_risk",
			Resources: small, Replicas: 2,
		}),
		svc(Service{
			Name: NotificationService, Binary: NotificationService,
			// Every replica must see every event for the connections it holds: the topics are
			// read by manual assignment of all their partitions from the newest offset, with no
			// group (a group would split the events between replicas) and no commits (nothing
			// is durable here; a client resumes from the replica's ring or resyncs).
			Consumes: []Consume{{Topic: topics.Trades}, {Topic: topics.Settlements}, {Topic: topics.Alerts}},
			// Sessions and API keys (the auth tables) and balances after settlement are read in
			// PostgreSQL; API-key signatures are claimed once in Redis, as the gateway does.
			Database: Trading, DBUser: "cdx_notification", Redis: true,
			Secrets:    []Secret{authKeys, redisAuth},
			PublicPort: PublicPort, PublicPath: "/api/v1/stream", Resources: medium, Replicas: 2,
		}),
		svc(Service{
			Name: ComplianceService, Binary: ComplianceService,
			// Every order command and execution into the audit trail and the surveillance
			// detectors, in a group of its own; alerts out on compliance-events.
			Consumes: []Consume{{Topic: topics.Orders, Group: ComplianceService}, {Topic: topics.Trades, Group: ComplianceService}},
			Produces: []string{topics.ComplianceEvents},
			Database: Trading, DBUser: "cdx_compliance",
			// Re-screens every account when a list changes (delta screening).
			ScreeningLists: true,
			// Checkpoints signed in KMS: the private key never reaches the cluster.
			SignsAudit: true,
			Resources:  small, Replicas: 1,
		}),
		svc(Service{
			Name: DatabaseMigrations, Binary: "migrate", Kind: Job,
			Database: Trading, DBAdmin: true,
			Resources: Resources{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "64Mi", MemoryLimit: "128Mi"}, Replicas: 1,
		}),
		svc(Service{
			Name: KafkaTopics, Binary: KafkaTopics, Kind: Job, TopicAdmin: true,
			Resources: Resources{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "64Mi", MemoryLimit: "128Mi"}, Replicas: 1,
		}),
		svc(Service{
			Name: ScreeningSync, Binary: ScreeningSync, Kind: Job, WritesScreeningLists: true, Schedule: ScreeningSyncSchedule,
			// The three files raw (about 3 MB), parsed once and compressed.
			Resources: Resources{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "256Mi"}, Replicas: 1,
		}),
	}
}

// Lookup returns the entry named name.
func Lookup(name string) (Service, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// MustLookup returns the entry named name; it panics on a name that is not in the catalog
// (a programming error: the binaries name their own entry by constant).
func MustLookup(name string) Service {
	s, ok := Lookup(name)
	if !ok {
		panic("catalog: no service " + name)
	}
	return s
}

// TopicAccess is what one service does with topics.
type TopicAccess struct {
	Produce []string
	Consume []string
}

// Access returns each Kafka client's topic access, by service name (the MSK IAM policies).
func Access() map[string]TopicAccess {
	out := map[string]TopicAccess{}
	for _, s := range All() {
		if len(s.Consumes) == 0 && len(s.Produces) == 0 {
			continue
		}
		p := slices.Clone(s.Produces)
		slices.Sort(p)
		out[s.Name] = TopicAccess{Produce: p, Consume: s.ConsumedTopics()}
	}
	return out
}

// DatabaseUsers returns, for each database some service uses, the users that connect to it
// (sorted).
func DatabaseUsers() map[string][]string {
	out := map[string][]string{}
	for _, s := range All() {
		if s.Database != "" && !s.DBAdmin {
			out[s.Database] = append(out[s.Database], s.DBUser)
		}
	}
	for db := range out {
		slices.Sort(out[db])
	}
	return out
}

// Needs are the network paths the services need from the cluster's nodes.
type Needs struct {
	PostgreSQL, Redis, Kafka bool
}

// NetworkNeeds returns what the services reach.
func NetworkNeeds() Needs {
	var n Needs
	for _, s := range All() {
		n.PostgreSQL = n.PostgreSQL || s.Database != ""
		n.Redis = n.Redis || s.Redis
		n.Kafka = n.Kafka || s.Kafka()
	}
	return n
}

// UsedTopics returns every topic some service consumes or produces, sorted.
func UsedTopics() []string {
	set := map[string]bool{}
	for _, a := range Access() {
		for _, t := range slices.Concat(a.Produce, a.Consume) {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
