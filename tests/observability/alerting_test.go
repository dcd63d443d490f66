package observability

// The alerting rules are evaluated here with the PromQL engine alone, as promtool "test rules"
// and the Prometheus server do, without Prometheus's rules and tsdb packages: those import the
// server's configuration, service discovery and remote storage (client-go, gRPC, the cloud SDKs),
// which more than doubled this module's cold build. alertingRule.eval is the state machine of
// (*rules.AlertingRule).Eval of Prometheus v0.316.0 (rules/alerting.go), memStorage holds the
// series of a promqltest "load" command, as promqltest.LoadedStorage laid them out.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memStorage is a read-only storage.Queryable over series held in memory.
type memStorage struct{ series []storage.Series }

// loadSeries parses promqltest "load" lines (metric{labels} values, the values in the
// expanding notation 0+1x30) into series with one sample every gap from time zero; an omitted
// value (_) leaves a gap.
func loadSeries(p parser.Parser, gap time.Duration, lines []string) (*memStorage, error) {
	s := &memStorage{}
	seen := map[uint64]bool{}
	for _, line := range lines {
		m, vals, err := p.ParseSeriesDesc(line)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", line, err)
		}
		if seen[m.Hash()] {
			return nil, fmt.Errorf("series %s loaded twice", m)
		}
		seen[m.Hash()] = true
		var samples []chunks.Sample
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			if v.Histogram != nil {
				return nil, fmt.Errorf("series %s: native histograms are not supported here", m)
			}
			samples = append(samples, floatSample{t: int64(i) * gap.Milliseconds(), f: v.Value})
		}
		s.series = append(s.series, storage.NewListSeries(m, samples))
	}
	return s, nil
}

func (s *memStorage) Querier(_, _ int64) (storage.Querier, error) { return s, nil }

func (s *memStorage) Select(_ context.Context, sortSeries bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, series := range s.series {
		if matchesAll(series.Labels(), ms) {
			out = append(out, series)
		}
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &sliceSeriesSet{series: out, i: -1}
}

func (s *memStorage) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	for _, series := range s.series {
		if v := series.Labels().Get(name); v != "" && matchesAll(series.Labels(), ms) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil, nil
}

func (s *memStorage) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	for _, series := range s.series {
		if !matchesAll(series.Labels(), ms) {
			continue
		}
		series.Labels().Range(func(l labels.Label) {
			if !slices.Contains(out, l.Name) {
				out = append(out, l.Name)
			}
		})
	}
	slices.Sort(out)
	return out, nil, nil
}

func (s *memStorage) Close() error { return nil }

func matchesAll(l labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

type sliceSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *sliceSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *sliceSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *sliceSeriesSet) Err() error                        { return nil }
func (s *sliceSeriesSet) Warnings() annotations.Annotations { return nil }

// floatSample is one float sample of a loaded series.
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// instantQuery is rules.EngineQueryFunc: the expression at ts, a scalar as a one-sample vector.
func instantQuery(engine *promql.Engine, q storage.Queryable) template.QueryFunc {
	return func(ctx context.Context, qs string, ts time.Time) (promql.Vector, error) {
		query, err := engine.NewInstantQuery(ctx, q, nil, qs, ts)
		if err != nil {
			return nil, err
		}
		defer query.Close()
		res := query.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		switch v := res.Value.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
		default:
			return nil, errors.New("rule result is not a vector or scalar")
		}
	}
}

type alertState int

const (
	statePending alertState = iota + 1
	stateFiring
	stateInactive
)

type alert struct {
	labels, annotations           labels.Labels
	state                         alertState
	activeAt, firedAt, resolvedAt time.Time
	keepFiringSince               time.Time
	value                         float64
}

// resolvedRetention is how long a resolved alert is kept (rules.resolvedRetention).
const resolvedRetention = 15 * time.Minute

// alertingRule is one alerting rule and its active alerts, as rules.AlertingRule keeps them.
type alertingRule struct {
	name                     string
	expr                     string
	holdDuration, keepFiring time.Duration
	labels, annotations      labels.Labels
	active                   map[uint64]*alert
}

func newAlertingRule(name, expr string, hold, keepFiringFor time.Duration, lbls, annots labels.Labels) *alertingRule {
	return &alertingRule{name: name, expr: expr, holdDuration: hold, keepFiring: keepFiringFor,
		labels: lbls, annotations: annots, active: map[uint64]*alert{}}
}

// eval evaluates the rule at ts, as (*rules.AlertingRule).Eval with no query offset, external
// labels or URL, and no limit: a new element of the result is a pending alert, one pending
// for the hold duration fires, one that leaves the result is resolved (kept while
// keep_firing_for lasts).
func (r *alertingRule) eval(ctx context.Context, ts time.Time, query template.QueryFunc) error {
	res, err := query(ctx, r.expr, ts)
	if err != nil {
		return err
	}
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	resultFPs := map[uint64]struct{}{}
	alerts := map[uint64]*alert{}
	for _, smpl := range res {
		data := template.AlertTemplateData(smpl.Metric.Map(), nil, "", smpl)
		expand := func(text string) string {
			tmpl := template.NewTemplateExpander(ctx, defs+text, "__alert_"+r.name, data,
				model.Time(timestamp.FromTime(ts)), query, nil, nil)
			out, err := tmpl.Expand()
			if err != nil {
				return fmt.Sprintf("<error expanding template: %s>", err)
			}
			return out
		}
		lb := labels.NewBuilder(smpl.Metric)
		lb.Del(model.MetricNameLabel)
		r.labels.Range(func(l labels.Label) { lb.Set(l.Name, expand(l.Value)) })
		lb.Set(model.AlertNameLabel, r.name)
		sb := labels.NewScratchBuilder(0)
		r.annotations.Range(func(a labels.Label) { sb.Add(a.Name, expand(a.Value)) })
		lbs := lb.Labels()
		h := lbs.Hash()
		resultFPs[h] = struct{}{}
		if _, ok := alerts[h]; ok {
			return errors.New("vector contains metrics with the same labelset after applying alert labels")
		}
		alerts[h] = &alert{labels: lbs, annotations: sb.Labels(), activeAt: ts, state: statePending, value: smpl.F}
	}
	for h, a := range alerts {
		if old, ok := r.active[h]; ok && old.state != stateInactive {
			old.value, old.annotations = a.value, a.annotations
			continue
		}
		r.active[h] = a
	}
	for fp, a := range r.active {
		if _, ok := resultFPs[fp]; !ok {
			keepFiring := false
			if a.state == stateFiring && r.keepFiring > 0 {
				if a.keepFiringSince.IsZero() {
					a.keepFiringSince = ts
				}
				keepFiring = ts.Sub(a.keepFiringSince) < r.keepFiring
			}
			if a.state == statePending || (!a.resolvedAt.IsZero() && ts.Sub(a.resolvedAt) > resolvedRetention) {
				delete(r.active, fp)
			}
			if a.state != stateInactive && !keepFiring {
				a.state, a.resolvedAt = stateInactive, ts
			}
			if !keepFiring {
				continue
			}
		} else {
			a.keepFiringSince = time.Time{}
		}
		if a.state == statePending && ts.Sub(a.activeAt) >= r.holdDuration {
			a.state, a.firedAt = stateFiring, ts
		}
		if a.state == stateFiring && ts.Sub(a.activeAt) < r.holdDuration {
			a.state, a.firedAt, a.keepFiringSince = statePending, time.Time{}, time.Time{}
		}
	}
	return nil
}

// firing returns the firing alerts, sorted by their labels.
func (r *alertingRule) firing() []*alert {
	var out []*alert
	for _, a := range r.active {
		if a.state == stateFiring {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *alert) int { return strings.Compare(a.labels.String(), b.labels.String()) })
	return out
}

// TestAlertingRuleSemantics pins the evaluator to what Prometheus does with an alerting rule,
// on a rule "up == 0" and one series scraped every minute.
func TestAlertingRuleSemantics(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second, Parser: p})
	t.Cleanup(func() { require.NoError(t, engine.Close()) })
	run := func(t *testing.T, r *alertingRule, series []string, at time.Duration) ([]*alert, error) {
		t.Helper()
		s, err := loadSeries(p, time.Minute, series)
		require.NoError(t, err)
		query := instantQuery(engine, s)
		for ts := time.Duration(0); ts <= at; ts += time.Minute {
			if err := r.eval(context.Background(), time.Unix(0, 0).Add(ts), query); err != nil {
				return nil, err
			}
		}
		return r.firing(), nil
	}
	rule := func(hold, keep time.Duration, summary string) *alertingRule {
		return newAlertingRule("Down", "up == 0", hold, keep, labels.FromStrings("severity", "page"), labels.FromStrings("summary", summary))
	}
	down := []string{`up{job="api"} 0x20`}
	for _, c := range []struct {
		name       string
		hold, keep time.Duration
		series     []string
		at         time.Duration
		fires      bool
	}{
		{"pending until for has passed", 5 * time.Minute, 0, down, 4 * time.Minute, false},
		{"fires once for has passed", 5 * time.Minute, 0, down, 5 * time.Minute, true},
		{"without for, fires at once", 0, 0, down, 0, true},
		{"resolved when the expression stops matching", 0, 0, []string{`up{job="api"} 0x3 1x10`}, 5 * time.Minute, false},
		{"an interruption restarts for", 5 * time.Minute, 0, []string{`up{job="api"} 0x3 1 0x10`}, 9 * time.Minute, false},
		{"and for runs again from there", 5 * time.Minute, 0, []string{`up{job="api"} 0x3 1 0x10`}, 10 * time.Minute, true},
		{"keep_firing_for holds a resolved alert", 0, 3 * time.Minute, []string{`up{job="api"} 0x3 1x10`}, 6 * time.Minute, true},
		{"until it has passed", 0, 3 * time.Minute, []string{`up{job="api"} 0x3 1x10`}, 7 * time.Minute, false},
		{"a series that is gone stops matching after the lookback", 0, 0, []string{`up{job="api"} 0x3`}, 8 * time.Minute, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := run(t, rule(c.hold, c.keep, "x"), c.series, c.at)
			require.NoError(t, err)
			if !c.fires {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, `{alertname="Down", job="api", severity="page"}`, got[0].labels.String())
		})
	}
	t.Run("annotations are templates on the labels and the value", func(t *testing.T) {
		got, err := run(t, rule(0, 0, "{{ $labels.job }} is {{ $value }} since {{ 90 | humanizeDuration }}"), down, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "api is 0 since 1m 30s", got[0].annotations.Get("summary"))
		got, err = run(t, rule(0, 0, "{{ $labels.job | nosuchfunction }}"), down, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Contains(t, got[0].annotations.Get("summary"), "error expanding template")
	})
	t.Run("two series with one label set once the name is dropped are an error", func(t *testing.T) {
		r := newAlertingRule("Down", `{__name__=~"up|ready"} == 0`, 0, 0, labels.EmptyLabels(), labels.EmptyLabels())
		_, err := run(t, r, []string{`up{job="api"} 0x5`, `ready{job="api"} 0x5`}, 0)
		require.ErrorContains(t, err, "same labelset")
	})
}
