package stacks

import (
	"slices"
	"time"
)

// Observability is the metrics stack (cantondex:observability): how long Prometheus keeps
// series and on how much encrypted storage, and the service levels the alerting rules hold
// the platform to (components/observability checks them in full).
type Observability struct {
	RetentionDays int `json:"retentionDays"`
	StorageGiB    int `json:"storageGiB"`
	// Availability is the fraction of API requests per route answered without a 5xx.
	Availability float64 `json:"availability"`
	// LatencyObjective is the fraction of API requests per route faster than 0.25 s.
	LatencyObjective float64 `json:"latencyObjective"`
	// ConsumerLag is how many messages a consumer group may stay behind before it alerts.
	ConsumerLag int `json:"consumerLag"`
}

func defaultObservability(env Environment) Observability {
	o := Observability{RetentionDays: 30, StorageGiB: 200, Availability: 0.999, LatencyObjective: 0.99, ConsumerLag: 1000}
	if env == Staging {
		o.RetentionDays, o.StorageGiB, o.Availability = 7, 50, 0.99
	}
	return o
}

func (o Observability) validate(v *validator) {
	if o.RetentionDays < 1 || o.RetentionDays > 365 {
		v.errorf("observability.retentionDays", "%d is not between 1 and 365", o.RetentionDays)
	}
	// A day of the platform's series at a 30 s scrape takes well under a GiB; 2 GiB a day
	// leaves room for the exporters and compaction.
	if o.StorageGiB < 10 || o.StorageGiB < 2*o.RetentionDays {
		v.errorf("observability.storageGiB", "%d is below 10 or below 2 GiB per day of retention (%d days)", o.StorageGiB, o.RetentionDays)
	}
	for setting, f := range map[string]float64{"observability.availability": o.Availability, "observability.latencyObjective": o.LatencyObjective} {
		if !(f >= 0.9 && f < 1) {
			v.errorf(setting, "%g is not a fraction in [0.9, 1)", f)
		}
	}
	if o.ConsumerLag < 1 {
		v.errorf("observability.consumerLag", "must be at least 1, got %d", o.ConsumerLag)
	}
}

// Logging is container-log shipping (cantondex:logging): how long CloudWatch Logs keeps the
// application and cluster groups, and how much of a node's disk Fluent Bit may fill with each
// output's buffer while CloudWatch is unreachable.
type Logging struct {
	RetentionDays  int `json:"retentionDays"`
	BufferLimitMiB int `json:"bufferLimitMiB"`
}

func defaultLogging(env Environment) Logging {
	if env == Staging {
		return Logging{RetentionDays: 14, BufferLimitMiB: 256}
	}
	return Logging{RetentionDays: 90, BufferLimitMiB: 512}
}

// logRetentions are the retentions CloudWatch Logs accepts.
func logRetentions() []int {
	return []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
}

func (l Logging) validate(v *validator) {
	if !slices.Contains(logRetentions(), l.RetentionDays) {
		v.errorf("logging.retentionDays", "%d is not a CloudWatch Logs retention (one of %v)", l.RetentionDays, logRetentions())
	}
	if l.BufferLimitMiB < 64 || l.BufferLimitMiB > 10240 {
		v.errorf("logging.bufferLimitMiB", "%d is outside 64 to 10240", l.BufferLimitMiB)
	}
}

// Autoscaling is the cluster autoscaler's scale-down behaviour (cantondex:autoscaling): how
// long a node stays unneeded before it goes, how long after a scale-up scale-down resumes
// (Go durations, "10m"), and the requested/allocatable ratio below which a node is unneeded.
// The node groups' bounds stay in cantondex:nodeGroups.
type Autoscaling struct {
	ScaleDownUnneededTime         string  `json:"scaleDownUnneededTime"`
	ScaleDownDelayAfterAdd        string  `json:"scaleDownDelayAfterAdd"`
	ScaleDownUtilizationThreshold float64 `json:"scaleDownUtilizationThreshold"`
}

func defaultAutoscaling(env Environment) Autoscaling {
	if env == Staging {
		return Autoscaling{ScaleDownUnneededTime: "5m", ScaleDownDelayAfterAdd: "5m", ScaleDownUtilizationThreshold: 0.6}
	}
	return Autoscaling{ScaleDownUnneededTime: "10m", ScaleDownDelayAfterAdd: "10m", ScaleDownUtilizationThreshold: 0.5}
}

// Durations returns the two scale-down durations (validate has checked they parse).
func (a Autoscaling) Durations() (unneeded, afterAdd time.Duration) {
	unneeded, _ = time.ParseDuration(a.ScaleDownUnneededTime)
	afterAdd, _ = time.ParseDuration(a.ScaleDownDelayAfterAdd)
	return unneeded, afterAdd
}

func (a Autoscaling) validate(v *validator) {
	for setting, s := range map[string]string{"autoscaling.scaleDownUnneededTime": a.ScaleDownUnneededTime, "autoscaling.scaleDownDelayAfterAdd": a.ScaleDownDelayAfterAdd} {
		if d, err := time.ParseDuration(s); err != nil || d < time.Minute || d > 24*time.Hour {
			v.errorf(setting, "%q is not a duration between 1m and 24h", s)
		}
	}
	if t := a.ScaleDownUtilizationThreshold; !(t > 0 && t < 1) {
		v.errorf("autoscaling.scaleDownUtilizationThreshold", "%g is not a fraction in (0, 1)", t)
	}
}
