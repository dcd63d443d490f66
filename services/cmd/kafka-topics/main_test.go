package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

func envOf(c kafka.Cluster, extra ...string) func(string) string {
	m := map[string]string{}
	for _, kv := range append(c.Env(), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestReconcilesOverTLSAndSCRAMAndIsIdempotent(t *testing.T) {
	e, err := kafka.StartEmbedded("", kafka.EmbeddedTLS(t.TempDir()), kafka.EmbeddedSASL(kafka.MechanismSCRAMSHA512, "topics-admin", "pw"))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	getenv := envOf(e.Cluster())
	ctx := context.Background()

	var out bytes.Buffer
	require.NoError(t, run(ctx, getenv, &out))
	for _, tp := range topics.All() {
		assert.Contains(t, out.String(), "changed: "+tp.Name+": created")
	}
	out.Reset()
	require.NoError(t, run(ctx, getenv, &out))
	assert.Equal(t, "5 topics reconciled, 0 changes\n", out.String())

	// The stack's list raises orders to 24 partitions and tries to lower alerts.
	ts := topics.All()
	for i := range ts {
		switch ts[i].Name {
		case topics.Orders:
			ts[i].Partitions = 24
		case topics.Alerts:
			ts[i].Partitions = 1
		}
	}
	raw, err := json.Marshal(ts)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, run(ctx, envOf(e.Cluster(), EnvTopics+"="+string(raw)), &out))
	assert.Contains(t, out.String(), "changed: orders: partitions raised: 12 -> 24")
	assert.Contains(t, out.String(), "left as is: alerts: partitions not lowered: has 3, definition says 1")
}

func TestFailsNamingTheSetting(t *testing.T) {
	e, err := kafka.StartEmbedded("", kafka.EmbeddedTLS(t.TempDir()), kafka.EmbeddedSASL(kafka.MechanismSCRAMSHA512, "topics-admin", "pw"))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	wrong := e.Cluster()
	wrong.Security.Password = "wrong"
	for name, tc := range map[string]struct {
		getenv func(string) string
		names  string
	}{
		"no brokers":         {func(string) string { return "" }, "KAFKA_BROKERS"},
		"wrong password":     {envOf(wrong), "KAFKA_SASL_PASSWORD"},
		"iam without tls":    {envOf(kafka.Cluster{Brokers: []string{"b:9098"}}, "KAFKA_SASL_MECHANISM=AWS_MSK_IAM", "AWS_REGION=eu-west-1"), "KAFKA_TLS"},
		"unknown topic":      {envOf(e.Cluster(), EnvTopics+`=[{"Name":"orderz","Partitions":1,"ReplicationFactor":1,"RetentionMs":1,"CleanupPolicy":"delete","MinInsyncReplicas":1}]`), "orderz"},
		"zero partitions":    {envOf(e.Cluster(), EnvTopics+`=[{"Name":"orders","Partitions":0,"ReplicationFactor":1,"RetentionMs":1,"CleanupPolicy":"delete","MinInsyncReplicas":1}]`), "partitions 0"},
		"not json":           {envOf(e.Cluster(), EnvTopics+"=orders"), EnvTopics},
		"bad cleanup policy": {envOf(e.Cluster(), EnvTopics+`=[{"Name":"orders","Partitions":1,"ReplicationFactor":1,"RetentionMs":1,"CleanupPolicy":"keep","MinInsyncReplicas":1}]`), "cleanup.policy"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.getenv, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.names)
		})
	}
}
