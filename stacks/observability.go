package stacks

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
