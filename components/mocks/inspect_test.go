package mocks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDifferencesAndPolicyReadRecordedInputs(t *testing.T) {
	r := Resource{Inputs: map[string]any{
		"chart":  "fluent-bit",
		"values": map[string]any{"region": "us-east-1"},
		"policy": `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"logs:PutLogEvents","Resource":["x","x:*"]}]}`,
	}}
	assert.Empty(t, r.Differences(map[string]any{"chart": "fluent-bit", "values.region": "us-east-1"}), "all match")
	assert.Equal(t, []string{
		`chart: got "fluent-bit", want "cluster-autoscaler"`,
		`values.missing: got <nil>, want true`,
	}, r.Differences(map[string]any{"chart": "cluster-autoscaler", "values.region": "us-east-1", "values.missing": true}))

	st, err := r.Policy("policy")
	require.NoError(t, err)
	assert.Equal(t, []Statement{{Sid: "A", Effect: "Allow", Action: "logs:PutLogEvents", Resource: []any{"x", "x:*"}}}, st)
	_, err = r.Policy("chart")
	assert.Error(t, err, "not a policy document")
}
