package observability

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/observability"
	"github.com/cantondex/platform/tests/platformtest"
)

var suite = platformtest.Suite{}

func TestMain(m *testing.M) { os.Exit(suite.Main(m, nil)) }

// onFailureOnly are platform metrics that have series only while something is wrong, so a
// healthy run's scrape cannot show them; each names the test that proves it is exported.
func onFailureOnly() map[string]string {
	return map[string]string{
		"cantondex_consumer_poison_offset": "services/flow TestPoisonExecutionStopsThePartition (flow_test.go)",
	}
}

// expression is one PromQL expression and where it is used.
type expression struct{ where, expr string }

// expressions are every PromQL expression of the rules and of the dashboards' panels, the
// dashboards' as Grafana would send them ($__rate_interval filled in).
func expressions(t *testing.T) []expression {
	t.Helper()
	var out []expression
	for _, g := range observability.Rules(observability.DefaultObjectives()) {
		for _, r := range g.Rules {
			out = append(out, expression{"rule " + r.Alert, r.Expr})
		}
	}
	ds, err := observability.Dashboards()
	require.NoError(t, err)
	for _, d := range ds {
		var doc struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(d.JSON, &doc), d.UID)
		for _, p := range doc.Panels {
			for _, q := range p.Targets {
				out = append(out, expression{"dashboard " + d.UID + " panel " + p.Title, strings.ReplaceAll(q.Expr, "$__rate_interval", "5m")})
			}
		}
	}
	return out
}

// selected parses expr and returns the metric names its selectors read.
func selected(t *testing.T, p parser.Parser, e expression) []string {
	t.Helper()
	node, err := p.ParseExpr(e.expr)
	require.NoError(t, err, "%s: %s", e.where, e.expr)
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		assert.NotEmpty(t, name, "%s: a selector without a metric name: %s", e.where, vs)
		names = append(names, name)
		return nil
	})
	return names
}

// scrape returns the metric names with at least one series on url (text exposition format).
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names[line[:strings.IndexAny(line, "{ ")]] = true
	}
	return names
}

// traffic drives the platform through what the dashboards show: a trade that settles, a
// rejected order, a refused request.
func traffic(t *testing.T, p *platformtest.Platform) {
	adm := p.Admin(t)
	alice, bob := suite.Register(t, p, "alice"), suite.Register(t, p, "bob")
	for _, d := range []map[string]string{
		{"id": "bind-a-" + alice.ID, "account": alice.ID, "asset": "USD", "amount": "10000"},
		{"id": "bind-b-" + bob.ID, "account": bob.ID, "asset": "BTC", "amount": "1"},
	} {
		require.Equal(t, 201, adm.Do("POST", "/admin/deposits", d).Status)
	}
	order := func(side, price, qty string) map[string]any {
		return map[string]any{"market": "BTC-USD", "side": side, "type": "limit", "price": price, "quantity": qty}
	}
	require.Equal(t, 201, bob.Do("POST", "/orders", order("sell", "30000.00", "0.5")).Status)
	require.Equal(t, 201, alice.Do("POST", "/orders", order("buy", "30100.00", "0.2")).Status)
	rejected := alice.Do("POST", "/orders", order("buy", "30100.00", "100")) // far beyond alice's USD
	require.GreaterOrEqual(t, rejected.Status, 400, "%s", rejected.Body)
	require.Equal(t, 401, p.Client(t).Do("GET", "/balances", nil).Status)
	platformtest.Eventually(t, "alice's fill settled", func() bool {
		return len(alice.Do("GET", "/trades", nil).Items()) == 1
	})
}

// TestEveryExpressionReadsAnExportedMetric is the binding test: a rule or panel on a metric
// that nothing exports fails it.
func TestEveryExpressionReadsAnExportedMetric(t *testing.T) {
	p := suite.Shared
	traffic(t, p)
	// The flow's metrics follow the trade; the ledger's per-asset gauges follow the next
	// conservation check (every flow.ConservationInterval, 30 s).
	var platform map[string]bool
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		platform = scrape(t, p.MetricsURL())
		if platform["cantondex_consumer_lag_messages"] && platform["cantondex_order_to_settlement_seconds_count"] &&
			platform["cantondex_ledger_held_minor_units"] || time.Now().After(deadline) {
			break
		}
	}

	exporters := map[string]string{}
	for _, e := range observability.Exporters() {
		for _, m := range e.Metrics {
			require.NotContains(t, exporters, m, "%s listed twice", m)
			exporters[m] = e.Name + " " + e.Version
		}
	}
	failing := onFailureOnly()
	used := map[string]bool{}
	p2 := parser.NewParser(parser.Options{})
	exprs := expressions(t)
	require.NotEmpty(t, exprs)
	for _, e := range exprs {
		names := selected(t, p2, e)
		assert.NotEmpty(t, names, "%s selects no metric: %s", e.where, e.expr)
		for _, name := range names {
			used[name] = true
			if platform[name] || exporters[name] != "" || failing[name] != "" {
				continue
			}
			assert.Failf(t, "metric nothing exports", "%s reads %s, which neither the platform's /metrics nor a listed exporter has: %s",
				e.where, name, e.expr)
		}
	}
	var stale []string
	for m := range exporters {
		if !used[m] {
			stale = append(stale, m)
		}
	}
	for m := range failing {
		if !used[m] {
			stale = append(stale, m)
		}
		assert.False(t, platform[m], "%s is scraped in a healthy run: drop it from onFailureOnly", m)
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "listed as exported but read by no rule or panel")

	var ours []string
	for m := range used {
		if strings.HasPrefix(m, "cantondex_") {
			ours = append(ours, m)
		}
	}
	sort.Strings(ours)
	t.Logf("%d expressions read %d metrics, %d of them the platform's: %s", len(exprs), len(used), len(ours), strings.Join(ours, " "))
}
