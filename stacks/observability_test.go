package stacks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObservabilityDefaultsAndOverlay(t *testing.T) {
	prod, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	assert.Equal(t, 30, prod.Observability.RetentionDays)
	staging, err := Load("staging", "", mapSource{"observability": `{"storageGiB":80}`})
	require.NoError(t, err)
	assert.Equal(t, 80, staging.Observability.StorageGiB, "overlay")
	assert.Equal(t, 7, staging.Observability.RetentionDays, "defaults kept under the overlay")
}

func TestInvalidObservabilityNamesTheSetting(t *testing.T) {
	for value, want := range map[string]string{
		`{"retentionDays":0}`:                    "cantondex:observability.retentionDays: 0 is not between 1 and 365",
		`{"retentionDays":100,"storageGiB":100}`: "cantondex:observability.storageGiB: 100 is below 10 or below 2 GiB per day",
		`{"availability":1}`:                     "cantondex:observability.availability: 1 is not a fraction",
		`{"latencyObjective":0.5}`:               "cantondex:observability.latencyObjective: 0.5",
		`{"consumerLag":0}`:                      "cantondex:observability.consumerLag: must be at least 1",
		`{"retention":30}`:                       "cantondex:observability: cannot read",
	} {
		_, err := Load("prod", "", mapSource{"observability": value})
		require.ErrorContains(t, err, want, value)
	}
}

func TestLoggingAndAutoscalingDefaultsDifferByEnvironment(t *testing.T) {
	prod, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	staging, err := Load("staging", "", mapSource{"autoscaling": `{"scaleDownUnneededTime":"15m"}`})
	require.NoError(t, err)
	assert.Equal(t, 90, prod.Logging.RetentionDays)
	assert.Equal(t, 14, staging.Logging.RetentionDays)
	unneeded, afterAdd := staging.Autoscaling.Durations()
	assert.Equal(t, 15*time.Minute, unneeded, "overlay")
	assert.Equal(t, 5*time.Minute, afterAdd, "defaults kept under the overlay")
}

func TestInvalidLoggingAndAutoscalingNameTheSetting(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"logging", `{"retentionDays":10}`, "cantondex:logging.retentionDays: 10 is not a CloudWatch Logs retention"},
		{"logging", `{"bufferLimitMiB":1}`, "cantondex:logging.bufferLimitMiB: 1 is outside 64 to 10240"},
		{"logging", `{"retention":30}`, "cantondex:logging: cannot read"},
		{"autoscaling", `{"scaleDownUnneededTime":"soon"}`, `cantondex:autoscaling.scaleDownUnneededTime: "soon" is not a duration`},
		{"autoscaling", `{"scaleDownDelayAfterAdd":"10s"}`, `cantondex:autoscaling.scaleDownDelayAfterAdd: "10s" is not a duration between 1m and 24h`},
		{"autoscaling", `{"scaleDownUtilizationThreshold":1}`, "cantondex:autoscaling.scaleDownUtilizationThreshold: 1 is not a fraction"},
	} {
		_, err := Load("prod", "", mapSource{c.key: c.value})
		require.ErrorContains(t, err, c.want, c.value)
	}
}
