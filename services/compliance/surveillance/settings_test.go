package surveillance

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnakeNames(t *testing.T) {
	for in, want := range map[string]string{
		"WashWindow": "wash_window", "OTRMaxNumberRatio": "otr_max_number_ratio", "MaxIDsPerAlert": "max_ids_per_alert",
		"SpoofMinQty": "spoof_min_qty", "OrderTTL": "order_ttl", "AvgSizeWeight": "avg_size_weight",
	} {
		assert.Equal(t, want, snake(in), in)
	}
	// Every setting has a distinct key.
	seen := map[string]bool{}
	ty := reflect.TypeFor[Config]()
	for i := range ty.NumField() {
		k := snake(ty.Field(i).Name)
		assert.False(t, seen[k], "duplicate key %s", k)
		seen[k] = true
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(strings.NewReader(`{"wash_window":"2m","layer_min_orders":4,"spoof_size_multiple":7.5,"otr_max_number_ratio":250}`))
	require.NoError(t, err)
	want := Default()
	want.WashWindow, want.LayerMinOrders, want.SpoofSizeMultiple, want.OTRMaxNumberRatio = 2*time.Minute, 4, 7.5, 250
	assert.Equal(t, want, cfg)
	for bad, msg := range map[string]string{
		`{"wash_windw":"2m"}`:         `unknown setting "wash_windw"`,
		`{"wash_window":60}`:          "want a duration",
		`{"wash_window":"soon"}`:      "wash_window",
		`{"layer_min_orders":"four"}`: "layer_min_orders",
		`{"layer_min_orders":1}`:      "LayerMinOrders must be at least 2",
		`{"stuff_window":"-1s"}`:      "StuffWindow must be positive",
		`[1]`:                         "settings:",
	} {
		_, err := LoadConfig(strings.NewReader(bad))
		assert.ErrorContains(t, err, msg, bad)
	}
}
