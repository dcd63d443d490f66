package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
)

func TestWorkloadDefaults(t *testing.T) {
	prod, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	staging, err := Load("staging", "", mapSource{})
	require.NoError(t, err)
	replicas := func(s Settings) map[string]int {
		out := map[string]int{}
		for name, w := range s.Workloads.Services {
			out[name] = w.Replicas
		}
		return out
	}
	assert.Equal(t, map[string]int{
		catalog.APIGateway: 5, catalog.MatchingEngine: 5, catalog.SettlementCoordinator: 3, catalog.RiskManagement: 3, catalog.NotificationService: 3, catalog.KafkaTopics: 0, catalog.DatabaseMigrations: 0, catalog.ScreeningSync: 0,
		catalog.ComplianceService: 3,
	}, replicas(prod), "prod replicas")
	assert.Equal(t, map[string]int{
		catalog.APIGateway: 2, catalog.MatchingEngine: 2, catalog.SettlementCoordinator: 2, catalog.RiskManagement: 1, catalog.NotificationService: 2, catalog.KafkaTopics: 0, catalog.DatabaseMigrations: 0, catalog.ScreeningSync: 0,
		catalog.ComplianceService: 1,
	}, replicas(staging), "staging replicas")
	assert.Equal(t, "info", prod.Workloads.LogLevel)
	assert.Equal(t, "debug", staging.Workloads.LogLevel)
	for _, svc := range catalog.Production() {
		p, s := prod.Workloads.Services[svc.Name], staging.Workloads.Services[svc.Name]
		assert.Greater(t, p.MaxReplicas, s.MaxReplicas, "%s: prod HPA ceiling", svc.Name)
		for _, q := range [][2]string{{p.Resources.CPULimit, s.Resources.CPULimit}, {p.Resources.CPURequest, s.Resources.CPURequest}} {
			pm, _ := MilliCPU(q[0])
			sm, _ := MilliCPU(q[1])
			assert.Greater(t, pm, sm, "%s: prod CPU above staging", svc.Name)
		}
		pb, _ := MemoryBytes(p.Resources.MemoryLimit)
		sb, _ := MemoryBytes(s.Resources.MemoryLimit)
		assert.Greater(t, pb, sb, "%s: prod memory limit above staging", svc.Name)
		assert.Equal(t, p.Replicas, p.MinReplicas, "%s: HPA floor", svc.Name)
	}
}

func TestWorkloadOverlayKeepsDefaults(t *testing.T) {
	s, err := Load("prod", "", mapSource{"workloads": `{"services":{"api-gateway":{"replicas":7,"logLevel":"debug"}}}`})
	require.NoError(t, err)
	gw := s.Workloads.Services[catalog.APIGateway]
	assert.Equal(t, 7, gw.Replicas)
	assert.Equal(t, 5, gw.MinReplicas, "overlay lost the default floor")
	assert.Equal(t, "2Gi", gw.Resources.MemoryLimit, "overlay lost the default resources")
	assert.Equal(t, 5, s.Workloads.Services[catalog.MatchingEngine].Replicas, "overlay lost another service")
	assert.Equal(t, "debug", s.Workloads.LogLevelOf(catalog.APIGateway))
	assert.Equal(t, "info", s.Workloads.LogLevelOf(catalog.MatchingEngine))
}

func TestInvalidWorkloadSettingsNameTheSetting(t *testing.T) {
	tests := []struct {
		name, stack, value, want string
	}{
		{"unknown service", "prod", `{"services":{"no-such-service":{"replicas":2}}}`, "services.no-such-service: not a service of the catalog"},
		{"unknown field", "prod", `{"services":{"api-gateway":{"replica":2}}}`, "services.api-gateway: json: unknown field"},
		{"zero replicas", "staging", `{"services":{"risk-management":{"replicas":0,"minReplicas":0}}}`, "cantondex:workloads.services.risk-management.replicas: must be at least 1, got 0"},
		{"one replica in prod", "prod", `{"services":{"risk-management":{"replicas":1,"minReplicas":1}}}`, "cantondex:workloads.services.risk-management.replicas: must be at least 2 in prod"},
		{"floor above replicas", "prod", `{"services":{"api-gateway":{"minReplicas":6}}}`, "cantondex:workloads.services.api-gateway.minReplicas: 6 must be between 1 and replicas 5"},
		{"floor of one under a budget", "prod", `{"services":{"api-gateway":{"minReplicas":1}}}`, "cantondex:workloads.services.api-gateway.minReplicas: 1: a multi-replica workload"},
		{"ceiling below replicas", "prod", `{"services":{"api-gateway":{"maxReplicas":4}}}`, "cantondex:workloads.services.api-gateway.maxReplicas: 4 is below replicas 5"},
		{"engine past the orders partitions", "prod", `{"services":{"matching-engine":{"maxReplicas":13}}}`, "cantondex:workloads.services.matching-engine.maxReplicas: 13 is above the 12 partitions of orders"},
		{"request above limit", "prod", `{"services":{"risk-management":{"resources":{"cpuRequest":"2"}}}}`, "cantondex:workloads.services.risk-management.resources.cpuRequest: 2 is above the limit 1"},
		{"bad memory quantity", "prod", `{"services":{"risk-management":{"resources":{"memoryLimit":"1G"}}}}`, "cantondex:workloads.services.risk-management.resources.memoryLimit: \"1G\" is not a memory quantity"},
		{"bad log level", "staging", `{"logLevel":"verbose"}`, "cantondex:workloads.logLevel: \"verbose\" is not one of"},
		{"replicas on a Job", "prod", `{"services":{"kafka-topics":{"replicas":2}}}`, "cantondex:workloads.services.kafka-topics: is a Job: only resources and logLevel apply"},
		{"target out of range", "prod", `{"services":{"api-gateway":{"cpuTargetPercent":5}}}`, "cantondex:workloads.services.api-gateway.cpuTargetPercent: 5 is outside 10 to 100"},
		{"no CA bundle file", "prod", `{"rdsCaBundleFile":""}`, "cantondex:workloads.rdsCaBundleFile: must name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.stack, "", mapSource{"workloads": tt.value})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The ceiling follows the stack's partition count, overrides included.
func TestWorkloadCeilingFollowsTheStacksPartitions(t *testing.T) {
	src := mapSource{"data": `{"streaming":{"topics":{"orders":{"partitions":6}}}}`, "workloads": `{"services":{"matching-engine":{"maxReplicas":7}}}`}
	_, err := Load("staging", "", src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cantondex:workloads.services.matching-engine.maxReplicas: 7 is above the 6 partitions of orders")
	src["workloads"] = `{"services":{"matching-engine":{"maxReplicas":6}}}`
	_, err = Load("staging", "", src)
	assert.NoError(t, err)
}

func TestQuantities(t *testing.T) {
	for q, want := range map[string]int64{"250m": 250, "1": 1000, "1.5": 1500, "2.25": 2250, "0.1": 100} {
		got, err := MilliCPU(q)
		require.NoError(t, err, q)
		assert.Equal(t, want, got, q)
	}
	for q, want := range map[string]int64{"64Mi": 64 << 20, "2Gi": 2 << 30, "512Ki": 512 << 10} {
		got, err := MemoryBytes(q)
		require.NoError(t, err, q)
		assert.Equal(t, want, got, q)
	}
	for _, bad := range []string{"", "1.2345", "-1", "1 m", "one"} {
		_, err := MilliCPU(bad)
		assert.Error(t, err, bad)
	}
	for _, bad := range []string{"", "1G", "1.5Gi", "Mi"} {
		_, err := MemoryBytes(bad)
		assert.Error(t, err, bad)
	}
}
