package stacks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	"github.com/cantondex/platform/services/catalog"
)

// Workloads are the Kubernetes workloads of the service catalog's entries: per service its
// replicas, autoscaling range and targets, container resources and log level. Stack files set
// it under the key cantondex:workloads; each service's value is decoded over that service's
// defaults, so a stack file names only what it changes.
type Workloads struct {
	// LogLevel of every service (LOG_LEVEL): debug, info, warn or error.
	LogLevel string `json:"logLevel"`
	// RDSCABundleFile is the repository path of the RDS CA bundle (PEM) the pods verify the
	// RDS Proxy's certificate with (DB_TLS_CA_FILE). It is public, so it lives in a ConfigMap;
	// it is not committed (see infra/README.md for the command that writes it).
	RDSCABundleFile string `json:"rdsCaBundleFile"`
	// Services are the settings by catalog name (every catalog entry has one).
	Services map[string]Workload `json:"services"`
}

// Workload is one catalog service's settings. Jobs take only Resources and LogLevel.
type Workload struct {
	// Replicas the workload is created with; MinReplicas and MaxReplicas bound its
	// HorizontalPodAutoscaler. A workload that may run two pods gets a PodDisruptionBudget
	// keeping MinReplicas-1 available (one eviction at a time when MinReplicas is 1).
	Replicas    int `json:"replicas"`
	MinReplicas int `json:"minReplicas"`
	MaxReplicas int `json:"maxReplicas"`
	// CPUTargetPercent and MemoryTargetPercent are the HPA's average utilisation targets
	// (of the requests).
	CPUTargetPercent    int       `json:"cpuTargetPercent"`
	MemoryTargetPercent int       `json:"memoryTargetPercent"`
	Resources           Resources `json:"resources"`
	// LogLevel overrides the stack's for this service ("" keeps it).
	LogLevel string `json:"logLevel"`
}

// Resources are a container's requests and limits in Kubernetes quantities.
type Resources struct {
	CPURequest    string `json:"cpuRequest"`
	CPULimit      string `json:"cpuLimit"`
	MemoryRequest string `json:"memoryRequest"`
	MemoryLimit   string `json:"memoryLimit"`
}

// DefaultRDSCABundleFile is where the command in infra/README.md writes the RDS CA bundle.
const DefaultRDSCABundleFile = "infra/certs/rds-global-bundle.pem"

// UnmarshalJSON decodes a stack's value over w's current (default) values, service by
// service; unknown fields and services not in the catalog are errors.
func (w *Workloads) UnmarshalJSON(raw []byte) error {
	var v struct {
		LogLevel        *string                    `json:"logLevel"`
		RDSCABundleFile *string                    `json:"rdsCaBundleFile"`
		Services        map[string]json.RawMessage `json:"services"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if v.LogLevel != nil {
		w.LogLevel = *v.LogLevel
	}
	if v.RDSCABundleFile != nil {
		w.RDSCABundleFile = *v.RDSCABundleFile
	}
	if w.Services == nil {
		w.Services = map[string]Workload{}
	}
	for _, name := range slices.Sorted(maps.Keys(v.Services)) {
		cur, ok := w.Services[name]
		if !ok {
			return fmt.Errorf("services.%s: not a service of the catalog (%v)", name, slices.Sorted(maps.Keys(w.Services)))
		}
		dec := json.NewDecoder(bytes.NewReader(v.Services[name]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cur); err != nil {
			return fmt.Errorf("services.%s: %w", name, err)
		}
		w.Services[name] = cur
	}
	return nil
}

// LogLevelOf is the log level of service name.
func (w Workloads) LogLevelOf(name string) string {
	if l := w.Services[name].LogLevel; l != "" {
		return l
	}
	return w.LogLevel
}

// Replica defaults: prod runs 5 of the gateway and of the engine (the orders topic has 12
// partitions, so 5 members each own 2 or 3), 3 of the rest; staging 2 of the order flow's
// services and 1 of the rest. HPA ceilings never pass the partitions a consumer reads: a
// member without a partition idles.
var (
	prodReplicas    = map[string]int{catalog.APIGateway: 5, catalog.MatchingEngine: 5}
	stagingReplicas = map[string]int{catalog.APIGateway: 2, catalog.MatchingEngine: 2, catalog.SettlementCoordinator: 2, catalog.NotificationService: 2}
	prodMax         = map[string]int{catalog.APIGateway: 20, catalog.MatchingEngine: 12, catalog.SettlementCoordinator: 12, catalog.RiskManagement: 6, catalog.NotificationService: 12, catalog.ComplianceService: 6}
	stagingMax      = map[string]int{catalog.APIGateway: 4, catalog.MatchingEngine: 6, catalog.SettlementCoordinator: 4, catalog.RiskManagement: 2, catalog.NotificationService: 4, catalog.ComplianceService: 2}
	prodResources   = map[string]Resources{
		catalog.APIGateway:            {CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"},
		catalog.MatchingEngine:        {CPURequest: "2", CPULimit: "4", MemoryRequest: "2Gi", MemoryLimit: "4Gi"},
		catalog.SettlementCoordinator: {CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"},
		catalog.RiskManagement:        {CPURequest: "500m", CPULimit: "1", MemoryRequest: "512Mi", MemoryLimit: "1Gi"},
		catalog.NotificationService:   {CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"},
		catalog.ComplianceService:     {CPURequest: "500m", CPULimit: "1", MemoryRequest: "512Mi", MemoryLimit: "1Gi"},
	}
	stagingResources = map[string]Resources{
		catalog.APIGateway:            {CPURequest: "250m", CPULimit: "1", MemoryRequest: "256Mi", MemoryLimit: "1Gi"},
		catalog.MatchingEngine:        {CPURequest: "500m", CPULimit: "2", MemoryRequest: "512Mi", MemoryLimit: "2Gi"},
		catalog.SettlementCoordinator: {CPURequest: "250m", CPULimit: "1", MemoryRequest: "256Mi", MemoryLimit: "1Gi"},
		catalog.RiskManagement:        {CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "512Mi"},
		catalog.NotificationService:   {CPURequest: "250m", CPULimit: "1", MemoryRequest: "256Mi", MemoryLimit: "1Gi"},
		catalog.ComplianceService:     {CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "512Mi"},
	}
)

func defaultWorkloads(env Environment) Workloads {
	w := Workloads{LogLevel: "info", RDSCABundleFile: DefaultRDSCABundleFile, Services: map[string]Workload{}}
	replicas, ceiling, res, rest := prodReplicas, prodMax, prodResources, 3
	if env == Staging {
		w.LogLevel = "debug"
		replicas, ceiling, res, rest = stagingReplicas, stagingMax, stagingResources, 1
	}
	for _, s := range catalog.All() {
		r := s.Resources
		d := Workload{Resources: Resources{CPURequest: r.CPURequest, CPULimit: r.CPULimit, MemoryRequest: r.MemoryRequest, MemoryLimit: r.MemoryLimit}}
		if s.Kind == catalog.Deployment {
			n := rest
			if v, ok := replicas[s.Name]; ok {
				n = v
			}
			d.Replicas, d.MinReplicas, d.MaxReplicas = n, n, 2*n
			if v, ok := ceiling[s.Name]; ok {
				d.MaxReplicas = v
			}
			d.CPUTargetPercent, d.MemoryTargetPercent = 70, 80
			if v, ok := res[s.Name]; ok {
				d.Resources = v
			}
		}
		w.Services[s.Name] = d
	}
	return w
}

var logLevels = []string{"debug", "info", "warn", "error"}

func (w *Workloads) validate(v *validator, s *Settings) {
	if !slices.Contains(logLevels, w.LogLevel) {
		v.errorf("workloads.logLevel", "%q is not one of %v", w.LogLevel, logLevels)
	}
	if w.RDSCABundleFile == "" {
		v.errorf("workloads.rdsCaBundleFile", "must name the RDS CA bundle's file (default %s)", DefaultRDSCABundleFile)
	}
	partitions := map[string]int{}
	for _, t := range s.Data.Streaming.TopicList() {
		partitions[t.Name] = int(t.Partitions)
	}
	for _, name := range slices.Sorted(maps.Keys(w.Services)) {
		if _, ok := catalog.Lookup(name); !ok {
			v.errorf("workloads.services."+name, "not a service of the catalog")
		}
	}
	for _, svc := range catalog.All() {
		at := "workloads.services." + svc.Name
		wl, ok := w.Services[svc.Name]
		if !ok {
			v.errorf(at, "missing: every catalog service needs settings")
			continue
		}
		if wl.LogLevel != "" && !slices.Contains(logLevels, wl.LogLevel) {
			v.errorf(at+".logLevel", "%q is not one of %v", wl.LogLevel, logLevels)
		}
		wl.Resources.validate(v, at+".resources")
		if svc.Kind != catalog.Deployment {
			if wl.Replicas != 0 || wl.MinReplicas != 0 || wl.MaxReplicas != 0 || wl.CPUTargetPercent != 0 || wl.MemoryTargetPercent != 0 {
				v.errorf(at, "is a %s: only resources and logLevel apply", svc.Kind)
			}
			continue
		}
		switch {
		case wl.Replicas < 1:
			v.errorf(at+".replicas", "must be at least 1, got %d", wl.Replicas)
		case s.Environment == Prod && wl.Replicas < 2:
			v.errorf(at+".replicas", "must be at least 2 in prod (one replica is a single point of failure), got %d", wl.Replicas)
		}
		switch {
		case wl.MinReplicas < 1 || wl.MinReplicas > wl.Replicas:
			v.errorf(at+".minReplicas", "%d must be between 1 and replicas %d", wl.MinReplicas, wl.Replicas)
		case wl.Replicas >= 2 && wl.MinReplicas < 2:
			v.errorf(at+".minReplicas", "%d: a multi-replica workload must keep at least 2 (its disruption budget keeps minReplicas-1 available)", wl.MinReplicas)
		}
		if wl.MaxReplicas < wl.Replicas {
			v.errorf(at+".maxReplicas", "%d is below replicas %d", wl.MaxReplicas, wl.Replicas)
		}
		for _, topic := range groupTopics(svc) {
			if p := partitions[topic]; p > 0 && wl.MaxReplicas > p {
				v.errorf(at+".maxReplicas", "%d is above the %d partitions of %s: members past the partitions idle", wl.MaxReplicas, p, topic)
			}
			if p := partitions[topic]; p > 0 && wl.Replicas > p {
				v.errorf(at+".replicas", "%d is above the %d partitions of %s", wl.Replicas, p, topic)
			}
		}
		for field, pct := range map[string]int{"cpuTargetPercent": wl.CPUTargetPercent, "memoryTargetPercent": wl.MemoryTargetPercent} {
			if pct < 10 || pct > 100 {
				v.errorf(at+"."+field, "%d is outside 10 to 100", pct)
			}
		}
	}
}

var (
	cpuRE    = regexp.MustCompile(`^([0-9]+)(m?)$|^([0-9]+)\.([0-9]{1,3})$`)
	memoryRE = regexp.MustCompile(`^([0-9]+)(Ki|Mi|Gi)$`)
)

// MilliCPU parses a CPU quantity ("250m", "1", "1.5") into millicores.
func MilliCPU(q string) (int64, error) {
	m := cpuRE.FindStringSubmatch(q)
	if m == nil {
		return 0, fmt.Errorf("%q is not a CPU quantity (250m, 1, 1.5)", q)
	}
	if m[1] != "" {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if m[2] == "m" {
			return n, nil
		}
		return n * 1000, nil
	}
	whole, _ := strconv.ParseInt(m[3], 10, 64)
	frac := m[4] + "00"
	f, _ := strconv.ParseInt(frac[:3], 10, 64)
	return whole*1000 + f, nil
}

// MemoryBytes parses a memory quantity ("256Mi", "1Gi") into bytes.
func MemoryBytes(q string) (int64, error) {
	m := memoryRE.FindStringSubmatch(q)
	if m == nil {
		return 0, fmt.Errorf("%q is not a memory quantity (512Mi, 2Gi)", q)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n << map[string]int{"Ki": 10, "Mi": 20, "Gi": 30}[m[2]], nil
}

func (r Resources) validate(v *validator, at string) {
	pair := func(name string, parse func(string) (int64, error), req, limit string) {
		rq, err1 := parse(req)
		if err1 != nil {
			v.errorf(at+"."+name+"Request", "%v", err1)
		}
		lm, err2 := parse(limit)
		if err2 != nil {
			v.errorf(at+"."+name+"Limit", "%v", err2)
		}
		switch {
		case err1 != nil || err2 != nil:
		case rq == 0:
			v.errorf(at+"."+name+"Request", "must be above zero")
		case rq > lm:
			v.errorf(at+"."+name+"Request", "%s is above the limit %s", req, limit)
		}
	}
	pair("cpu", MilliCPU, r.CPURequest, r.CPULimit)
	pair("memory", MemoryBytes, r.MemoryRequest, r.MemoryLimit)
}

// groupTopics are the topics svc consumes in a consumer group: a fan-out reader (no group)
// reads every partition in every replica, so partitions bound only the group members.
func groupTopics(svc catalog.Service) []string {
	var ts []string
	for _, c := range svc.Consumes {
		if c.Group != "" && !slices.Contains(ts, c.Topic) {
			ts = append(ts, c.Topic)
		}
	}
	return ts
}
