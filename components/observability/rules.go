// Package observability is the platform's monitoring as code: the Prometheus alerting rules
// (Rules), the Grafana dashboards (Dashboards) and the Alertmanager routing
// (AlertmanagerConfig), as plain Go data. The monitoring component renders them into
// PrometheusRule objects, dashboard ConfigMaps and the Alertmanager configuration; the tests
// in tests/observability evaluate every rule on series (promtool "test rules" style) and bind
// every expression to a metric something exports (the platform's binaries or an exporter
// listed in Exporters).
package observability

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Severities of the rules; Alertmanager routes on them.
const (
	Critical = "critical" // pages (the pager/chat receiver) and notifies the SNS topic
	Warning  = "warning"  // notifies the SNS topic
)

// Namespace is where the catalog's services run (C2); the Kubernetes rules watch it.
const Namespace = "cantondex"

// Rule is one Prometheus alerting rule.
type Rule struct {
	Alert       string
	Expr        string
	For         time.Duration
	Severity    string
	Summary     string // the notification's one line; may use {{ $labels.x }} and {{ $value }}
	Description string
}

// Group is a rule group: evaluated together, every Interval.
type Group struct {
	Name     string
	Interval time.Duration
	Rules    []Rule
}

// Objectives are the service levels the rules hold the platform to.
type Objectives struct {
	Availability     float64       // fraction of API requests per route answered without a 5xx (0.999)
	LatencyTarget    string        // a bucket bound of the request histogram, in seconds ("0.25")
	LatencyObjective float64       // fraction of API requests per route faster than LatencyTarget (0.99)
	OrderToEngine    float64       // p99 seconds from risk acceptance to the engine
	OrderToSettle    float64       // p99 seconds from risk acceptance to settlement
	ConsumerLag      int           // messages a consumer group may stay behind
	CertificateDays  int           // days before expiry the certificate warning fires
	Window           time.Duration // how long a flow symptom lasts before it alerts
}

// DefaultObjectives are the objectives of both stacks unless settings say otherwise.
func DefaultObjectives() Objectives {
	return Objectives{Availability: 0.999, LatencyTarget: "0.25", LatencyObjective: 0.99, OrderToEngine: 0.25,
		OrderToSettle: 1, ConsumerLag: 1000, CertificateDays: 14, Window: 10 * time.Minute}
}

// Validate names each objective out of range.
func (o Objectives) Validate() error {
	var errs []error
	for name, f := range map[string]float64{"availability": o.Availability, "latencyObjective": o.LatencyObjective} {
		if !(f > 0 && f < 1) {
			errs = append(errs, fmt.Errorf("%s: want a fraction between 0 and 1 exclusive, got %g", name, f))
		}
	}
	if !slices.Contains(LatencyBuckets(), o.LatencyTarget) {
		errs = append(errs, fmt.Errorf("latencyTarget: want a bucket bound of %s (one of %v), got %q", requests, LatencyBuckets(), o.LatencyTarget))
	}
	if o.OrderToEngine <= 0 || o.OrderToSettle <= 0 {
		errs = append(errs, fmt.Errorf("orderToEngine, orderToSettlement: want positive seconds, got %g and %g", o.OrderToEngine, o.OrderToSettle))
	}
	if o.ConsumerLag < 1 {
		errs = append(errs, fmt.Errorf("consumerLag: must be at least 1, got %d", o.ConsumerLag))
	}
	if o.CertificateDays < 4 {
		errs = append(errs, fmt.Errorf("certificateDays: must be at least 4 (the critical alert fires at 3), got %d", o.CertificateDays))
	}
	if o.Window < time.Minute || o.Window%time.Second != 0 {
		errs = append(errs, fmt.Errorf("window: want whole seconds, at least 1m, got %s", o.Window))
	}
	return errors.Join(errs...)
}

// LatencyBuckets are the bucket bounds of the API's request histogram (services/gateway/http),
// as its le label spells them.
func LatencyBuckets() []string {
	return []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5"}
}

// burn is one multi-window burn-rate alert (Google SRE workbook, chapter 5): the error
// budget burns Factor times too fast over both the long and the short window.
type burn struct {
	long, short string
	factor      float64
	severity    string
	hold        time.Duration
}

func burns() []burn {
	return []burn{
		{"1h", "5m", 14.4, Critical, 2 * time.Minute}, // 2% of a 30-day budget in an hour
		{"6h", "30m", 6, Warning, 15 * time.Minute},   // 5% in six hours
	}
}

const requests = "cantondex_http_request_duration_seconds"

// errorRatio is per route the fraction of requests answered 5xx over window.
func errorRatio(window string) string {
	return fmt.Sprintf(`(sum by (route) (rate(%[1]s_count{status="5xx"}[%[2]s])) / sum by (route) (rate(%[1]s_count[%[2]s])))`, requests, window)
}

// slowRatio is per route the fraction of requests slower than target over window.
func slowRatio(target, window string) string {
	return fmt.Sprintf(`(1 - sum by (route) (rate(%[1]s_bucket{le=%[2]q}[%[3]s])) / sum by (route) (rate(%[1]s_count[%[3]s])))`, requests, target, window)
}

// Rules returns the platform's alerting rules for o.
func Rules(o Objectives) []Group {
	var api []Rule
	for _, b := range burns() {
		speed := "Fast"
		if b.severity == Warning {
			speed = "Slow"
		}
		api = append(api, Rule{
			Alert:    "APIAvailabilityBurn" + speed,
			Expr:     fmt.Sprintf("%s > %g and %s > %g", errorRatio(b.long), b.factor*(1-o.Availability), errorRatio(b.short), b.factor*(1-o.Availability)),
			For:      b.hold,
			Severity: b.severity,
			Summary:  fmt.Sprintf("API route {{ $labels.route }} burns its availability budget %gx too fast (%s)", b.factor, b.long),
			Description: fmt.Sprintf("More than %g%% of requests to {{ $labels.route }} answered 5xx over %s and %s (objective %g%%).",
				100*b.factor*(1-o.Availability), b.long, b.short, 100*o.Availability),
		}, Rule{
			Alert: "APILatencyBurn" + speed,
			Expr: fmt.Sprintf("%s > %g and %s > %g", slowRatio(o.LatencyTarget, b.long), b.factor*(1-o.LatencyObjective),
				slowRatio(o.LatencyTarget, b.short), b.factor*(1-o.LatencyObjective)),
			For:      b.hold,
			Severity: b.severity,
			Summary:  fmt.Sprintf("API route {{ $labels.route }} burns its latency budget %gx too fast (%s)", b.factor, b.long),
			Description: fmt.Sprintf("More than %g%% of requests to {{ $labels.route }} took over %ss over %s and %s (objective: %g%% faster).",
				100*b.factor*(1-o.LatencyObjective), o.LatencyTarget, b.long, b.short, 100*o.LatencyObjective),
		})
	}
	window := promDuration(o.Window)
	flow := []Rule{{
		Alert:    "OrderToEngineLatencyHigh",
		Expr:     fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(cantondex_order_to_engine_seconds_bucket[5m]))) > %g`, o.OrderToEngine),
		For:      o.Window,
		Severity: Warning,
		Summary:  "p99 from risk acceptance to the matching engine is {{ $value | humanizeDuration }}",
	}, {
		Alert:    "OrderToSettlementLatencyHigh",
		Expr:     fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(cantondex_order_to_settlement_seconds_bucket[5m]))) > %g`, o.OrderToSettle),
		For:      o.Window,
		Severity: Warning,
		Summary:  "p99 from risk acceptance to settlement is {{ $value | humanizeDuration }}",
	}, {
		Alert:    "ConsumerLagHigh",
		Expr:     fmt.Sprintf(`sum by (group, topic) (cantondex_consumer_lag_messages) > %d`, o.ConsumerLag),
		For:      o.Window,
		Severity: Warning,
		Summary:  "Consumer group {{ $labels.group }} is {{ $value }} messages behind on {{ $labels.topic }}",
	}, {
		Alert:    "ConsumerStoppedOnPoisonMessage",
		Expr:     `max by (group, topic, partition) (cantondex_consumer_poison_offset) >= 0`,
		Severity: Critical,
		Summary:  "Consumer group {{ $labels.group }} stopped at offset {{ $value }} of {{ $labels.topic }}/{{ $labels.partition }}",
		Description: "A message the consumer cannot process blocks its partition; the runbook says how to inspect and " +
			"skip it with cmd/replay.",
	}, {
		Alert: "EngineNotConsuming",
		Expr: fmt.Sprintf(`sum(rate(cantondex_orders_placed_total{result="accepted"}[%[1]s])) > 0 unless sum(rate(cantondex_engine_commands_total[%[1]s])) > 0`,
			window),
		For:      5 * time.Minute,
		Severity: Critical,
		Summary:  "Orders are accepted but the matching engine applies no commands",
	}, {
		Alert: "SettlementStalled",
		Expr: fmt.Sprintf(`sum(rate(cantondex_engine_commands_total[%[1]s])) > 0 unless sum(rate(cantondex_executions_settled_total[%[1]s])) > 0`,
			window),
		For:      5 * time.Minute,
		Severity: Critical,
		Summary:  "The matching engine executes commands but settlement settles none",
	}, {
		Alert:    "KafkaProduceErrors",
		Expr:     `sum by (topic) (rate(cantondex_kafka_produce_errors_total[5m])) > 0`,
		For:      o.Window,
		Severity: Warning,
		Summary:  "Publishing to {{ $labels.topic }} fails ({{ $value }}/s)",
	}}
	ledger := []Rule{{
		Alert:    "LedgerConservationBroken",
		Expr:     `max by (asset) (cantondex_ledger_conservation_violations) > 0`,
		For:      2 * time.Minute, // two checks: the totals are read in two statements
		Severity: Critical,
		Summary:  "Ledger totals of {{ $labels.asset }} do not balance",
		Description: "The owners' and system accounts' totals no longer sum to zero, or held amounts differ from open holds " +
			"(cantondex_ledger_imbalance_minor_units says by how much). Halt the affected markets.",
	}, {
		Alert:    "LedgerConservationCheckStale",
		Expr:     `time() - max(cantondex_ledger_conservation_checked_timestamp_seconds) > 300`,
		For:      5 * time.Minute,
		Severity: Warning,
		Summary:  "No ledger conservation check succeeded for {{ $value | humanizeDuration }}",
	}}
	ns := fmt.Sprintf(`namespace=%q`, Namespace)
	kube := []Rule{{
		Alert:    "TargetDown",
		Expr:     fmt.Sprintf(`max by (namespace, service) (up{%s}) == 0`, ns),
		For:      5 * time.Minute,
		Severity: Warning,
		Summary:  "Prometheus cannot scrape {{ $labels.service }}",
	}, {
		Alert:    "PodCrashLooping",
		Expr:     fmt.Sprintf(`max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason{%s, reason="CrashLoopBackOff"}[5m])) >= 1`, ns),
		For:      15 * time.Minute,
		Severity: Critical,
		Summary:  "Container {{ $labels.container }} of {{ $labels.pod }} is crash-looping",
	}, {
		Alert: "HPAAtCeiling",
		Expr: fmt.Sprintf(`max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{%[1]s}) `+
			`>= max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{%[1]s})`, ns),
		For:      15 * time.Minute,
		Severity: Warning,
		Summary:  "HPA {{ $labels.horizontalpodautoscaler }} runs at its maximum replicas",
	}, {
		Alert: "PDBViolated",
		Expr: fmt.Sprintf(`max by (namespace, poddisruptionbudget) (kube_poddisruptionbudget_status_current_healthy{%[1]s}) `+
			`< max by (namespace, poddisruptionbudget) (kube_poddisruptionbudget_status_desired_healthy{%[1]s})`, ns),
		For:      15 * time.Minute,
		Severity: Warning,
		Summary:  "PodDisruptionBudget {{ $labels.poddisruptionbudget }} has fewer healthy pods than it requires",
	}, {
		Alert:    "CertificateExpiringSoon",
		Expr:     fmt.Sprintf(`min by (instance) (probe_ssl_earliest_cert_expiry) - time() < %d`, o.CertificateDays*86400),
		Severity: Warning,
		Summary:  "The certificate served at {{ $labels.instance }} expires in {{ $value | humanizeDuration }}",
	}, {
		Alert:    "CertificateExpiryImminent",
		Expr:     `min by (instance) (probe_ssl_earliest_cert_expiry) - time() < 3 * 86400`,
		Severity: Critical,
		Summary:  "The certificate served at {{ $labels.instance }} expires in {{ $value | humanizeDuration }}",
	}}
	return []Group{
		{Name: "cantondex-api", Interval: 30 * time.Second, Rules: api},
		{Name: "cantondex-flow", Interval: 30 * time.Second, Rules: flow},
		{Name: "cantondex-ledger", Interval: time.Minute, Rules: ledger},
		{Name: "cantondex-kubernetes", Interval: time.Minute, Rules: kube},
	}
}

// promDuration writes d the way PromQL reads it ("10m", "1h", "90s").
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
