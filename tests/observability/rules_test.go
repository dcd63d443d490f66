package observability

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/observability"
)

// ruleCase is one promtool-style rule test: series loaded at one sample a minute from time
// zero, the rule evaluated every minute up to At, and the alerts firing then.
type ruleCase struct {
	name   string
	series []string // promqltest "load" lines: metric{labels} values
	at     time.Duration
	firing []map[string]string // the labels of each firing alert, without alertname and severity
}

func rulesByName(t *testing.T) map[string]observability.Rule {
	t.Helper()
	out := map[string]observability.Rule{}
	for _, g := range observability.Rules(observability.DefaultObjectives()) {
		for _, r := range g.Rules {
			out[r.Alert] = r
		}
	}
	return out
}

// evalRule runs c against r and returns the labels of the alerts firing at c.at.
func evalRule(t *testing.T, r observability.Rule, c ruleCase) []map[string]string {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	storage, err := loadSeries(p, time.Minute, c.series)
	require.NoError(t, err)
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second, Parser: p})
	t.Cleanup(func() { require.NoError(t, engine.Close()) })
	_, err = p.ParseExpr(r.Expr)
	require.NoError(t, err, "%s: %s", r.Alert, r.Expr)
	annotations := labels.FromStrings("summary", r.Summary, "description", r.Description)
	rule := newAlertingRule(r.Alert, r.Expr, r.For, 0, labels.FromStrings("severity", r.Severity), annotations)
	query := instantQuery(engine, storage)
	for ts := time.Duration(0); ts <= c.at; ts += time.Minute {
		require.NoError(t, rule.eval(context.Background(), time.Unix(0, 0).Add(ts), query), "%s at %s", r.Alert, ts)
	}
	var got []map[string]string
	for _, a := range rule.firing() {
		assert.Equal(t, r.Severity, a.labels.Get("severity"))
		assert.NotContains(t, a.annotations.Get("summary"), "error expanding template", r.Alert)
		assert.NotEmpty(t, a.annotations.Get("summary"), r.Alert)
		m := a.labels.Map()
		delete(m, "alertname")
		delete(m, "severity")
		got = append(got, m)
	}
	sort.Slice(got, func(i, j int) bool { return fmt.Sprint(got[i]) < fmt.Sprint(got[j]) })
	return got
}

// api is the request histogram's count and le="0.25" bucket for one route: total requests a
// minute, of which bad answered 5xx and slow took longer than 0.25 s, for minutes; then quiet
// minutes with no new requests.
func api(route string, total, bad, slow, minutes, quiet int) []string {
	series := func(name, le, status string, perMinute int) string {
		v := fmt.Sprintf("0+%dx%d", perMinute, minutes)
		if quiet > 0 {
			v += fmt.Sprintf(" %d+0x%d", perMinute*minutes, quiet)
		}
		return fmt.Sprintf(`cantondex_http_request_duration_seconds_%s{%sroute=%q,method="POST",status=%q} %s`, name, le, route, status, v)
	}
	fast := `le="0.25",`
	return []string{
		series("count", "", "2xx", total-bad),
		series("count", "", "5xx", bad),
		series("bucket", fast, "2xx", total-bad-slow),
		series("bucket", fast, "5xx", bad),
	}
}

func ruleCases() map[string][]ruleCase {
	route := map[string]string{"route": "/api/v1/orders"}
	const r = "/api/v1/orders"
	none := []map[string]string(nil)
	lag := func(p string, v int) string {
		return fmt.Sprintf(`cantondex_consumer_lag_messages{group="settlement-coordinator",topic="trades",partition=%q} %dx30`, p, v)
	}
	hist := func(name string, buckets map[string]int) []string {
		var out []string
		for le, perMinute := range buckets {
			out = append(out, fmt.Sprintf(`%s_bucket{le=%q} 0+%dx30`, name, le, perMinute))
		}
		return out
	}
	ns := `namespace="cantondex"`
	return map[string][]ruleCase{
		"APIAvailabilityBurnFast": {
			{"10% errors", api(r, 600, 60, 0, 90, 0), 80 * time.Minute, []map[string]string{route}},
			{"0.1% errors", api(r, 600, 1, 0, 90, 0), 80 * time.Minute, none},
			{"errors stopped 10 minutes ago: the short window clears it", api(r, 600, 60, 0, 70, 20), 80 * time.Minute, none},
		},
		"APIAvailabilityBurnSlow": {
			{"1% errors for 7h", api(r, 1000, 10, 0, 430, 0), 420 * time.Minute, []map[string]string{route}},
			{"0.5% errors for 7h", api(r, 1000, 5, 0, 430, 0), 420 * time.Minute, none},
		},
		"APILatencyBurnFast": {
			{"half the requests slow", api(r, 600, 0, 300, 90, 0), 80 * time.Minute, []map[string]string{route}},
			{"1% slow", api(r, 600, 0, 6, 90, 0), 80 * time.Minute, none},
		},
		"APILatencyBurnSlow": {
			{"10% slow for 7h", api(r, 1000, 0, 100, 430, 0), 420 * time.Minute, []map[string]string{route}},
			{"1% slow for 7h", api(r, 1000, 0, 10, 430, 0), 420 * time.Minute, none},
		},
		"OrderToEngineLatencyHigh": {
			{"every order between 0.1 and 0.5 s", hist("cantondex_order_to_engine_seconds", map[string]int{"0.1": 0, "0.5": 60, "+Inf": 60}), 25 * time.Minute, []map[string]string{{}}},
			{"every order under 0.1 s", hist("cantondex_order_to_engine_seconds", map[string]int{"0.1": 60, "0.5": 60, "+Inf": 60}), 25 * time.Minute, none},
		},
		"OrderToSettlementLatencyHigh": {
			{"every order between 0.5 and 2.5 s", hist("cantondex_order_to_settlement_seconds", map[string]int{"0.5": 0, "2.5": 60, "+Inf": 60}), 25 * time.Minute, []map[string]string{{}}},
			{"every order under 0.5 s", hist("cantondex_order_to_settlement_seconds", map[string]int{"0.5": 60, "2.5": 60, "+Inf": 60}), 25 * time.Minute, none},
		},
		"ConsumerLagHigh": {
			{"1200 behind over two partitions", []string{lag("0", 600), lag("1", 600)}, 20 * time.Minute,
				[]map[string]string{{"group": "settlement-coordinator", "topic": "trades"}}},
			{"900 behind", []string{lag("0", 600), lag("1", 300)}, 20 * time.Minute, none},
		},
		"ConsumerStoppedOnPoisonMessage": {
			{"a partition stopped", []string{`cantondex_consumer_poison_offset{group="matching-engine",topic="orders",partition="3"} 42x10`}, 5 * time.Minute,
				[]map[string]string{{"group": "matching-engine", "topic": "orders", "partition": "3"}}},
			{"no partition stopped", []string{lag("0", 0)}, 5 * time.Minute, none},
		},
		"EngineNotConsuming": {
			{"orders accepted, engine flat", []string{`cantondex_orders_placed_total{result="accepted"} 0+10x30`, `cantondex_engine_commands_total 100x30`}, 20 * time.Minute, []map[string]string{{}}},
			{"orders accepted, engine gone", []string{`cantondex_orders_placed_total{result="accepted"} 0+10x30`}, 20 * time.Minute, []map[string]string{{}}},
			{"orders accepted and applied", []string{`cantondex_orders_placed_total{result="accepted"} 0+10x30`, `cantondex_engine_commands_total 0+10x30`}, 20 * time.Minute, none},
			{"no orders", []string{`cantondex_orders_placed_total{result="accepted"} 5x30`, `cantondex_engine_commands_total 5x30`}, 20 * time.Minute, none},
		},
		"SettlementStalled": {
			{"engine executes, settlement flat", []string{`cantondex_engine_commands_total 0+10x30`, `cantondex_executions_settled_total 7x30`}, 20 * time.Minute, []map[string]string{{}}},
			{"engine executes and settlement settles", []string{`cantondex_engine_commands_total 0+10x30`, `cantondex_executions_settled_total 0+10x30`}, 20 * time.Minute, none},
		},
		"KafkaProduceErrors": {
			{"publishes to trades failing", []string{`cantondex_kafka_produce_errors_total{topic="trades"} 0+1x30`, `cantondex_kafka_produce_errors_total{topic="orders"} 0x30`}, 20 * time.Minute,
				[]map[string]string{{"topic": "trades"}}},
			{"old errors only", []string{`cantondex_kafka_produce_errors_total{topic="trades"} 3x30`}, 20 * time.Minute, none},
		},
		"LedgerConservationBroken": {
			{"USD broken since minute 5", []string{`cantondex_ledger_conservation_violations{asset="USD"} 0x5 1x10`, `cantondex_ledger_conservation_violations{asset="BTC"} 0x15`}, 12 * time.Minute,
				[]map[string]string{{"asset": "USD"}}},
			{"one skewed check", []string{`cantondex_ledger_conservation_violations{asset="USD"} 0x5 1 0x10`}, 6 * time.Minute, none},
		},
		"LedgerConservationCheckStale": {
			{"last check at minute 10", []string{`cantondex_ledger_conservation_checked_timestamp_seconds 0+60x10 600x30`}, 30 * time.Minute, []map[string]string{{}}},
			{"checked every minute", []string{`cantondex_ledger_conservation_checked_timestamp_seconds 0+60x40`}, 30 * time.Minute, none},
		},
		"TargetDown": {
			{"settlement unscrapable", []string{`up{` + ns + `,service="settlement-coordinator",pod="s-0"} 0x10`}, 8 * time.Minute,
				[]map[string]string{{"namespace": "cantondex", "service": "settlement-coordinator"}}},
			{"settlement up", []string{`up{` + ns + `,service="settlement-coordinator",pod="s-0"} 1x10`}, 8 * time.Minute, none},
		},
		"PodCrashLooping": {
			{"a container in CrashLoopBackOff", []string{`kube_pod_container_status_waiting_reason{` + ns + `,pod="api-gateway-1",container="api-gateway",reason="CrashLoopBackOff"} 1x30`}, 20 * time.Minute,
				[]map[string]string{{"namespace": "cantondex", "pod": "api-gateway-1", "container": "api-gateway"}}},
			{"recovered, or another namespace", []string{`kube_pod_container_status_waiting_reason{` + ns + `,pod="api-gateway-1",container="api-gateway",reason="CrashLoopBackOff"} 0x30`,
				`kube_pod_container_status_waiting_reason{namespace="kube-system",pod="x",container="x",reason="CrashLoopBackOff"} 1x30`}, 20 * time.Minute, none},
		},
		"HPAAtCeiling": {
			{"5 of 5 replicas", []string{`kube_horizontalpodautoscaler_status_current_replicas{` + ns + `,horizontalpodautoscaler="api-gateway"} 5x20`,
				`kube_horizontalpodautoscaler_spec_max_replicas{` + ns + `,horizontalpodautoscaler="api-gateway"} 5x20`}, 16 * time.Minute,
				[]map[string]string{{"namespace": "cantondex", "horizontalpodautoscaler": "api-gateway"}}},
			{"3 of 5 replicas", []string{`kube_horizontalpodautoscaler_status_current_replicas{` + ns + `,horizontalpodautoscaler="api-gateway"} 3x20`,
				`kube_horizontalpodautoscaler_spec_max_replicas{` + ns + `,horizontalpodautoscaler="api-gateway"} 5x20`}, 16 * time.Minute, none},
		},
		"PDBViolated": {
			{"1 healthy of 2 required", []string{`kube_poddisruptionbudget_status_current_healthy{` + ns + `,poddisruptionbudget="matching-engine"} 1x20`,
				`kube_poddisruptionbudget_status_desired_healthy{` + ns + `,poddisruptionbudget="matching-engine"} 2x20`}, 16 * time.Minute,
				[]map[string]string{{"namespace": "cantondex", "poddisruptionbudget": "matching-engine"}}},
			{"2 healthy of 2", []string{`kube_poddisruptionbudget_status_current_healthy{` + ns + `,poddisruptionbudget="matching-engine"} 2x20`,
				`kube_poddisruptionbudget_status_desired_healthy{` + ns + `,poddisruptionbudget="matching-engine"} 2x20`}, 16 * time.Minute, none},
		},
		"CertificateExpiringSoon": {
			{"10 days left", []string{`probe_ssl_earliest_cert_expiry{instance="https://api.example.com"} 864000x5`}, 2 * time.Minute,
				[]map[string]string{{"instance": "https://api.example.com"}}},
			{"30 days left", []string{`probe_ssl_earliest_cert_expiry{instance="https://api.example.com"} 2592000x5`}, 2 * time.Minute, none},
		},
		"CertificateExpiryImminent": {
			{"2 days left", []string{`probe_ssl_earliest_cert_expiry{instance="https://api.example.com"} 172800x5`}, 2 * time.Minute,
				[]map[string]string{{"instance": "https://api.example.com"}}},
			{"10 days left", []string{`probe_ssl_earliest_cert_expiry{instance="https://api.example.com"} 864000x5`}, 2 * time.Minute, none},
		},
	}
}

// TestRules evaluates every rule on series where it must fire and where it must not.
func TestRules(t *testing.T) {
	byName := rulesByName(t)
	cases := ruleCases()
	for name := range byName {
		assert.Contains(t, cases, name, "rule %s has no test", name)
	}
	for name, cs := range cases {
		r, ok := byName[name]
		require.True(t, ok, "test for a rule that does not exist: %s", name)
		fires, quiet := false, false
		for _, c := range cs {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				assert.Equal(t, c.firing, evalRule(t, r, c), "%s", r.Expr)
			})
			fires = fires || len(c.firing) > 0
			quiet = quiet || len(c.firing) == 0
		}
		assert.True(t, fires && quiet, "%s: needs a case that fires and one that does not", name)
	}
}
