package catalog

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/topics"
)

func TestEntriesAreConsistent(t *testing.T) {
	names := map[string]bool{}
	for _, s := range All() {
		require.NotEmpty(t, s.Name)
		assert.False(t, names[s.Name], "%s listed twice", s.Name)
		names[s.Name] = true
		for _, c := range s.Consumes {
			_, ok := topics.Lookup(c.Topic)
			assert.True(t, ok, "%s consumes unknown topic %s", s.Name, c.Topic)
			// The MSK policy grants the consumer groups named after the service; "" is a
			// fan-out reader with no group.
			assert.True(t, c.Group == "" || strings.HasPrefix(c.Group, s.Name), "%s: group %s not named after the service", s.Name, c.Group)
		}
		for _, p := range s.Produces {
			_, ok := topics.Lookup(p)
			assert.True(t, ok, "%s produces unknown topic %s", s.Name, p)
		}
		if s.Database != "" {
			assert.Contains(t, []string{Trading, PQS, Timescale}, s.Database, s.Name)
			// Either an IAM user of its own or the owner's secret (the migrations Job), not both.
			assert.NotEqual(t, s.DBUser == "", !s.DBAdmin, "%s: DBUser %q, DBAdmin %v", s.Name, s.DBUser, s.DBAdmin)
		}
		assert.Positive(t, s.Replicas, s.Name)
		assert.NotEmpty(t, s.Resources.MemoryLimit, s.Name)
		if s.Kind == Deployment {
			assert.Equal(t, OperationsPort, s.OpsPort, s.Name)
			assert.Equal(t, DefaultProbes, s.Probes, s.Name)
			assert.NotEqual(t, s.OpsPort, s.PublicPort, s.Name)
		}
		// Every service and Job is a binary of this module.
		_, err := os.Stat(filepath.Join("..", "cmd", s.Binary, "main.go"))
		assert.NoError(t, err, "%s: no services/cmd/%s", s.Name, s.Binary)
	}
}

func TestScreeningListsReachTheServicesThatScreen(t *testing.T) {
	var screens, writes []string
	for _, s := range All() {
		if s.ScreeningLists {
			screens = append(screens, s.Name)
		}
		if s.WritesScreeningLists {
			writes = append(writes, s.Name)
		}
	}
	assert.Equal(t, []string{APIGateway, ComplianceService}, screens)
	assert.Equal(t, []string{ScreeningSync}, writes, "one writer")

	env := func(s Service) map[string]Var {
		m := map[string]Var{}
		for _, v := range s.ManagedEnv() {
			m[v.Name] = v
		}
		return m
	}
	for _, name := range screens {
		e := env(MustLookup(name))
		assert.Equal(t, "/etc/cantondex-screening/sdn.csv.gz", e["SCREENING_LIST"].Value, name)
		assert.Equal(t, "/etc/cantondex-screening/alt.csv.gz", e["SCREENING_ALT"].Value, name)
		assert.Equal(t, "/etc/cantondex-screening/add.csv.gz", e["SCREENING_ADD"].Value, name)
		assert.Equal(t, "the screening lists, mounted", e["SCREENING_LIST"].From, name)
		assert.Equal(t, "ofac-csv", e["SCREENING_FORMAT"].Value, name)
		assert.Equal(t, "1m", e["SCREENING_RELOAD_INTERVAL"].Value, name)
	}
	sync := MustLookup(ScreeningSync)
	assert.Equal(t, Job, sync.Kind)
	assert.Equal(t, ScreeningSyncSchedule, sync.Schedule)
	assert.Equal(t, Var{Name: "SYNC_CONFIGMAP", Value: ScreeningListsConfigMap}, env(sync)["SYNC_CONFIGMAP"])
	assert.NotContains(t, env(MustLookup(MatchingEngine)), "SCREENING_LIST")
}

func TestChecks(t *testing.T) {
	me := MustLookup(MatchingEngine)
	assert.NoError(t, me.CheckConsume(MatchingEngine, topics.Orders))
	assert.ErrorContains(t, me.CheckConsume(MatchingEngine, topics.Trades), "may not consume trades")
	assert.ErrorContains(t, me.CheckConsume("other-group", topics.Orders), "in group other-group")
	assert.Error(t, me.CheckConsume(MatchingEngine))
	assert.NoError(t, me.CheckProduce(topics.Trades))
	assert.ErrorContains(t, me.CheckProduce(topics.Orders), "matching-engine may not produce orders")
}

func TestDerivedViews(t *testing.T) {
	assert.Equal(t, map[string]TopicAccess{
		APIGateway:            {Produce: []string{topics.Orders}},
		MatchingEngine:        {Consume: []string{topics.Orders}, Produce: []string{topics.Trades}},
		SettlementCoordinator: {Consume: []string{topics.Trades}, Produce: []string{topics.Settlements}},
		RiskManagement:        {Consume: []string{topics.Settlements}, Produce: []string{topics.Alerts}},
		NotificationService:   {Consume: []string{topics.Alerts, topics.Settlements, topics.Trades}},
		ComplianceService:     {Consume: []string{topics.Orders, topics.Trades}, Produce: []string{topics.ComplianceEvents}},
	}, Access())
	assert.Equal(t, map[string][]string{Trading: {"cdx_api_gateway", "cdx_compliance", "cdx_matching_engine", "cdx_notification", "cdx_risk", "cdx_settlement"}}, DatabaseUsers())
	assert.Equal(t, Needs{PostgreSQL: true, Redis: true, Kafka: true}, NetworkNeeds())
	used := UsedTopics()
	assert.True(t, slices.IsSorted(used))
	assert.Equal(t, []string{topics.Alerts, topics.ComplianceEvents, topics.Orders, topics.Settlements, topics.Trades}, used)
}
