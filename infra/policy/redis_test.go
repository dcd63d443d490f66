package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func redisPlan(pgName string, params []any, rgUses string) *Plan {
	pg := mocks.Resource{URN: "urn:pg", Type: redisParams, Name: pgName, Inputs: map[string]any{"family": "redis7"}}
	if params != nil {
		pg.Inputs["parameters"] = params
	}
	rg := mocks.Resource{URN: "urn:rg", Type: redisGroup, Inputs: withInput(goodRedis(), []string{"parameterGroupName"}, rgUses)}
	return &Plan{Environment: "prod", Resources: []mocks.Resource{pg, rg}}
}

func param(name, value string) map[string]any { return map[string]any{"name": name, "value": value} }

func TestRedisNoEviction(t *testing.T) {
	var rule Rule
	for _, r := range Rules() {
		if r.ID == "redis-noeviction" {
			rule = r
		}
	}
	require.NotNil(t, rule.Check, "rule registered")

	good := redisPlan("cache-params", []any{param("cluster-enabled", "yes"), param("maxmemory-policy", "noeviction")}, "cache-params")
	assert.Empty(t, rule.Check(good), "noeviction, used by the group")

	for _, policy := range []string{"allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-lfu"} {
		f := rule.Check(redisPlan("cache-params", []any{param("maxmemory-policy", policy)}, "cache-params"))
		if assert.Len(t, f, 2, policy) {
			assert.Equal(t, "urn:pg", f[0].Resource)
			assert.Contains(t, f[0].Message, policy)
			assert.Equal(t, "urn:rg", f[1].Resource, "the group using it fails too")
		}
	}

	f := rule.Check(redisPlan("cache-params", []any{param("cluster-enabled", "yes")}, "cache-params"))
	if assert.Len(t, f, 2, "no policy set: the default evicts") {
		assert.Contains(t, f[0].Message, "volatile-lru")
	}

	f = rule.Check(redisPlan("cache-params", []any{param("maxmemory-policy", "noeviction")}, "default.redis7.cluster.on"))
	if assert.Len(t, f, 1, "a default parameter group") {
		assert.Equal(t, "urn:rg", f[0].Resource)
		assert.Contains(t, f[0].Message, "default.redis7.cluster.on")
	}
}
