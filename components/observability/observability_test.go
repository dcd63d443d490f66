package observability

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRulesAreWellFormed(t *testing.T) {
	groups := Rules(DefaultObjectives())
	require.NoError(t, Check(groups))
	n := 0
	for _, g := range groups {
		n += len(g.Rules)
	}
	assert.GreaterOrEqual(t, n, 19)

	spec := RuleSpec(groups)
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"alert":"LedgerConservationBroken"`)
	assert.Contains(t, string(b), `"for":"2m"`)
	assert.Contains(t, string(b), `"labels":{"severity":"critical"}`)
}

func TestCheckNamesWhatIsWrong(t *testing.T) {
	err := Check([]Group{{Name: "g", Interval: time.Minute, Rules: []Rule{
		{Alert: "A", Expr: "up == 0", Severity: Warning, Summary: "s"},
		{Alert: "A", Expr: "up == 0", Severity: "page", Summary: "s"},
		{Alert: "B", Severity: Critical},
	}}, {Name: ""}})
	require.Error(t, err)
	for _, want := range []string{"alert A: defined twice", `alert A: severity "page"`, "alert B: needs an expression", `group "": needs a name`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestObjectivesValidate(t *testing.T) {
	require.NoError(t, DefaultObjectives().Validate())
	o := DefaultObjectives()
	o.Availability, o.LatencyTarget, o.ConsumerLag, o.CertificateDays, o.Window = 1, "0.3", 0, 2, 1500*time.Millisecond
	err := o.Validate()
	require.Error(t, err)
	for _, want := range []string{"availability:", "latencyTarget:", "consumerLag:", "certificateDays:", "window:"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestObjectivesShapeTheRules(t *testing.T) {
	o := DefaultObjectives()
	o.ConsumerLag, o.Window = 42, 90*time.Second
	exprs := map[string]string{}
	for _, g := range Rules(o) {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	assert.Contains(t, exprs["ConsumerLagHigh"], "> 42")
	assert.Contains(t, exprs["EngineNotConsuming"], "[90s]")
	assert.Contains(t, exprs["APIAvailabilityBurnFast"], "> 0.0144")
}

func TestDashboards(t *testing.T) {
	ds, err := Dashboards()
	require.NoError(t, err)
	require.Len(t, ds, 5)
	uids := map[string]bool{}
	for _, d := range ds {
		assert.False(t, uids[d.UID], "uid %s twice", d.UID)
		uids[d.UID] = true
		var doc struct {
			UID    string `json:"uid"`
			Panels []struct {
				Type       string `json:"type"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(d.JSON, &doc), d.UID)
		assert.Equal(t, d.UID, doc.UID)
		panels := 0
		for _, p := range doc.Panels {
			if p.Type == "row" {
				continue
			}
			panels++
			assert.Equal(t, DatasourceUID, p.Datasource.UID, "%s: panel datasource", d.UID)
			require.NotEmpty(t, p.Targets, "%s: a panel without a query", d.UID)
			for _, q := range p.Targets {
				assert.NotEmpty(t, strings.TrimSpace(q.Expr), d.UID)
			}
		}
		assert.GreaterOrEqual(t, panels, 5, d.UID)
		assert.True(t, strings.HasSuffix(d.File(), ".json"))
	}
}

func TestAlertmanagerRoutesBySeverity(t *testing.T) {
	_, err := AlertmanagerConfig(Receivers{TopicARN: "alarms", Region: ""})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "topicArn:")
	assert.Contains(t, err.Error(), "region: required")

	arn := "arn:aws:sns:eu-central-1:123456789012:cantondex-prod-alarms"
	c, err := AlertmanagerConfig(Receivers{TopicARN: arn, Region: "eu-central-1"})
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var doc struct {
		Route struct {
			Receiver string `json:"receiver"`
			Routes   []struct {
				Receiver string   `json:"receiver"`
				Matchers []string `json:"matchers"`
				Continue bool     `json:"continue"`
			} `json:"routes"`
		} `json:"route"`
		Receivers []struct {
			Name string `json:"name"`
			SNS  []struct {
				TopicARN string `json:"topic_arn"`
			} `json:"sns_configs"`
			Webhooks []struct {
				URLFile string `json:"url_file"`
				URL     string `json:"url"`
			} `json:"webhook_configs"`
		} `json:"receivers"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "sns", doc.Route.Receiver)
	require.Len(t, doc.Route.Routes, 3)
	assert.Equal(t, "null", doc.Route.Routes[0].Receiver, "the chart's Watchdog is not sent")
	assert.Equal(t, "pager", doc.Route.Routes[1].Receiver)
	assert.Equal(t, []string{`severity="critical"`}, doc.Route.Routes[1].Matchers)
	assert.True(t, doc.Route.Routes[1].Continue, "critical alerts reach the SNS topic too")
	names := map[string]bool{}
	for _, r := range doc.Receivers {
		names[r.Name] = true
		switch r.Name {
		case "sns":
			assert.Equal(t, arn, r.SNS[0].TopicARN)
		case "pager":
			assert.Equal(t, "/etc/alertmanager/secrets/alertmanager-pager/url", r.Webhooks[0].URLFile)
			assert.Empty(t, r.Webhooks[0].URL, "the URL stays in the secret")
		}
	}
	assert.Equal(t, map[string]bool{"null": true, "sns": true, "pager": true}, names)
}
