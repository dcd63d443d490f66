package stacks

import (
	"testing"

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
