package observability

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// DatasourceUID is the Prometheus datasource the kube-prometheus-stack Grafana provisions.
const DatasourceUID = "prometheus"

// Dashboard is one rendered Grafana dashboard: a ConfigMap key of the Grafana sidecar.
type Dashboard struct {
	UID   string
	Title string
	JSON  []byte
}

// File is the dashboard's file name in its ConfigMap.
func (d Dashboard) File() string { return d.UID + ".json" }

// query is one panel target: a PromQL expression and its legend.
type query struct{ expr, legend string }

// panel is one panel of a dashboard.
type panel struct {
	title, unit string
	single      bool // a stat panel (one current value per series) instead of a time series
	queries     []query
}

type board struct {
	uid, title string
	rows       []row
}

type row struct {
	title  string
	panels []panel
}

const rateWindow = "$__rate_interval"

func quantiles(metric, by string) []query {
	sum := "sum by (le) "
	legend := ""
	if by != "" {
		sum = "sum by (" + by + ", le) "
		legend = "{{" + by + "}} "
	}
	var qs []query
	for _, q := range []string{"0.5", "0.99"} {
		qs = append(qs, query{fmt.Sprintf("histogram_quantile(%s, %s(rate(%s_bucket[%s])))", q, sum, metric, rateWindow),
			legend + "p" + q[2:]})
	}
	return qs
}

func boards() []board {
	ns := fmt.Sprintf(`namespace=%q`, Namespace)
	return []board{{
		uid: "cantondex-trading", title: "CantonDEX / Trading",
		rows: []row{{"Order entry", []panel{
			{title: "Orders/s by result", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (result) (rate(cantondex_orders_placed_total[%s]))", rateWindow), "{{result}}"}}},
			{title: "Rejects/s by reason", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (reason) (rate(cantondex_orders_rejected_total[%s]))", rateWindow), "{{reason}}"}}},
			{title: "Trades/s", unit: "ops", queries: []query{
				{fmt.Sprintf("sum(rate(cantondex_engine_trades_total[%s]))", rateWindow), "executed"},
				{fmt.Sprintf("sum(rate(cantondex_trades_settled_total[%s]))", rateWindow), "settled"}}},
		}}, {"Latency", []panel{
			{title: "Order to engine", unit: "s", queries: quantiles("cantondex_order_to_engine_seconds", "")},
			{title: "Order to settlement", unit: "s", queries: quantiles("cantondex_order_to_settlement_seconds", "")},
			{title: "Engine service time per command", unit: "s", queries: quantiles("cantondex_engine_command_duration_seconds", "")},
			{title: "Engine time per batch (book goroutine)", unit: "s", queries: quantiles("cantondex_engine_batch_duration_seconds", "")},
		}}, {"Books", []panel{
			{title: "Open orders", unit: "short", queries: []query{{"sum by (market) (cantondex_book_open_orders)", "{{market}}"}}},
			{title: "Book depth (lots on the published levels)", unit: "short", queries: []query{{"sum by (market, side) (cantondex_book_depth_lots)", "{{market}} {{side}}"}}},
		}}},
	}, {
		uid: "cantondex-api", title: "CantonDEX / API",
		rows: []row{{"Traffic", []panel{
			{title: "Requests/s by route", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (route) (rate(%s_count[%s]))", requests, rateWindow), "{{route}}"}}},
			{title: "Requests/s by status", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (status) (rate(%s_count[%s]))", requests, rateWindow), "{{status}}"}}},
			{title: "5xx ratio by route", unit: "percentunit", queries: []query{{errorRatio(rateWindow), "{{route}}"}}},
		}}, {"Latency", []panel{
			{title: "p99 by route", unit: "s", queries: []query{quantiles(requests, "route")[1]}},
			{title: "p50 by route", unit: "s", queries: []query{quantiles(requests, "route")[0]}},
		}}, {"Refusals", []panel{
			{title: "Rate-limited/s by route", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (route) (rate(cantondex_http_rate_limited_total[%s])) > 0", rateWindow), "{{route}}"}}},
			{title: "Authentication failures/s", unit: "reqps", queries: []query{{fmt.Sprintf("sum by (reason) (rate(cantondex_http_auth_failures_total[%s]))", rateWindow), "{{reason}}"}}},
		}}},
	}, {
		uid: "cantondex-kafka", title: "CantonDEX / Kafka",
		rows: []row{{"Consumers", []panel{
			{title: "Lag by group", unit: "short", queries: []query{{"sum by (group) (cantondex_consumer_lag_messages)", "{{group}}"}}},
			{title: "Lag by group and partition", unit: "short", queries: []query{{"max by (group, topic, partition) (cantondex_consumer_lag_messages)", "{{group}} {{topic}}/{{partition}}"}}},
			{title: "Partitions stopped on a poison message", unit: "short", single: true, queries: []query{{"count(cantondex_consumer_poison_offset) or vector(0)", "stopped"}}},
			{title: "Commands applied/s (engine)", unit: "ops", queries: []query{{fmt.Sprintf("sum(rate(cantondex_engine_commands_total[%s]))", rateWindow), "engine"}}},
		}}, {"Producers", []panel{
			{title: "Produce errors/s by topic", unit: "ops", queries: []query{{fmt.Sprintf("sum by (topic) (rate(cantondex_kafka_produce_errors_total[%s]))", rateWindow), "{{topic}}"}}},
			{title: "Topics registered by service", unit: "short", queries: []query{{"count by (service, access) (cantondex_kafka_registered)", "{{service}} {{access}}"}}},
		}}},
	}, {
		uid: "cantondex-ledger", title: "CantonDEX / Ledger",
		rows: []row{{"Movements", []panel{
			{title: "Transfers/s", unit: "ops", queries: []query{{fmt.Sprintf("sum(rate(cantondex_ledger_transfers_total[%s]))", rateWindow), "transfers"}}},
			{title: "Executions settled/s", unit: "ops", queries: []query{{fmt.Sprintf("sum(rate(cantondex_executions_settled_total[%s]))", rateWindow), "executions"}}},
			{title: "Held by open orders", unit: "short", queries: []query{{"max by (asset) (cantondex_ledger_held_minor_units)", "{{asset}}"}}},
			{title: "Supply held by owners", unit: "short", queries: []query{{"max by (asset) (cantondex_ledger_supply_minor_units)", "{{asset}}"}}},
		}}, {"Conservation", []panel{
			{title: "Assets out of balance", unit: "short", single: true, queries: []query{{"sum(max by (asset) (cantondex_ledger_conservation_violations))", "assets"}}},
			{title: "Imbalance by asset", unit: "short", queries: []query{{"max by (asset, kind) (cantondex_ledger_imbalance_minor_units)", "{{asset}} {{kind}}"}}},
			{title: "Since the last check", unit: "s", single: true, queries: []query{{"time() - max(cantondex_ledger_conservation_checked_timestamp_seconds)", "age"}}},
			{title: "Failed checks/s", unit: "ops", queries: []query{{fmt.Sprintf("sum(rate(cantondex_ledger_conservation_check_errors_total[%s]))", rateWindow), "errors"}}},
		}}},
	}, {
		uid: "cantondex-kubernetes", title: "CantonDEX / Kubernetes",
		rows: []row{{"Pods", []panel{
			{title: "Pods by phase", unit: "short", queries: []query{{fmt.Sprintf("sum by (phase) (kube_pod_status_phase{%s})", ns), "{{phase}}"}}},
			{title: "Container restarts (1h)", unit: "short", queries: []query{{fmt.Sprintf("sum by (pod) (increase(kube_pod_container_status_restarts_total{%s}[1h]))", ns), "{{pod}}"}}},
			{title: "Scrape targets up", unit: "short", queries: []query{{fmt.Sprintf("sum by (service) (up{%s})", ns), "{{service}}"}}},
		}}, {"Resources", []panel{
			{title: "CPU against requests and limits", unit: "short", queries: []query{
				{fmt.Sprintf(`sum by (pod) (rate(container_cpu_usage_seconds_total{%s, container!=""}[%s]))`, ns, rateWindow), "{{pod}} used"},
				{fmt.Sprintf(`sum by (pod) (kube_pod_container_resource_requests{%s, resource="cpu"})`, ns), "{{pod}} requested"},
				{fmt.Sprintf(`sum by (pod) (kube_pod_container_resource_limits{%s, resource="cpu"})`, ns), "{{pod}} limit"}}},
			{title: "Memory against requests and limits", unit: "bytes", queries: []query{
				{fmt.Sprintf(`sum by (pod) (container_memory_working_set_bytes{%s, container!=""})`, ns), "{{pod}} used"},
				{fmt.Sprintf(`sum by (pod) (kube_pod_container_resource_requests{%s, resource="memory"})`, ns), "{{pod}} requested"},
				{fmt.Sprintf(`sum by (pod) (kube_pod_container_resource_limits{%s, resource="memory"})`, ns), "{{pod}} limit"}}},
		}}, {"Scaling", []panel{
			{title: "HPA replicas", unit: "short", queries: []query{
				{fmt.Sprintf("max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{%s})", ns), "{{horizontalpodautoscaler}} current"},
				{fmt.Sprintf("max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{%s})", ns), "{{horizontalpodautoscaler}} desired"},
				{fmt.Sprintf("max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{%s})", ns), "{{horizontalpodautoscaler}} max"}}},
			{title: "PDB healthy pods against desired", unit: "short", queries: []query{
				{fmt.Sprintf("max by (poddisruptionbudget) (kube_poddisruptionbudget_status_current_healthy{%s})", ns), "{{poddisruptionbudget}} healthy"},
				{fmt.Sprintf("max by (poddisruptionbudget) (kube_poddisruptionbudget_status_desired_healthy{%s})", ns), "{{poddisruptionbudget}} desired"}}},
			{title: "Node CPU busy", unit: "percentunit", queries: []query{
				{fmt.Sprintf(`1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[%s]))`, rateWindow), "{{instance}}"}}},
		}}},
	}}
}

// Dashboards renders the platform's dashboards as Grafana JSON.
func Dashboards() ([]Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(DatasourceUID)}
	var out []Dashboard
	for _, b := range boards() {
		// The sidecar provisions classic dashboard JSON; the v2 schema is for Grafana's
		// dashboard API, which file provisioning does not read.
		//lint:ignore SA1019 see above
		db := dashboard.NewDashboardBuilder(b.title).Uid(b.uid).Tags([]string{"cantondex", "generated"}).
			Refresh("30s").Time("now-3h", "now").Timezone(common.TimeZoneUtc).Readonly()
		for _, r := range b.rows {
			db = db.WithRow(dashboard.NewRowBuilder(r.title))
			for _, p := range r.panels {
				db = db.WithPanel(build(p, ds))
			}
		}
		d, err := db.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.uid, err)
		}
		j, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.uid, err)
		}
		out = append(out, Dashboard{UID: b.uid, Title: b.title, JSON: j})
	}
	return out, nil
}

func build(p panel, ds common.DataSourceRef) cog.Builder[dashboard.Panel] {
	targets := make([]cog.Builder[variants.Dataquery], 0, len(p.queries))
	for _, q := range p.queries {
		targets = append(targets, prometheus.NewDataqueryBuilder().Datasource(ds).Expr(q.expr).LegendFormat(q.legend))
	}
	if p.single {
		sp := stat.NewPanelBuilder().Title(p.title).Unit(p.unit).Datasource(ds).Span(6).Height(6)
		for _, t := range targets {
			sp = sp.WithTarget(t)
		}
		return sp
	}
	tp := timeseries.NewPanelBuilder().Title(p.title).Unit(p.unit).Datasource(ds).Span(8).Height(8).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for _, t := range targets {
		tp = tp.WithTarget(t)
	}
	return tp
}
