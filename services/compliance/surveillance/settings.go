package surveillance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
)

// LoadConfig reads settings as one JSON object over Default: keys are the Config field names
// in snake case ("wash_window", "spoof_size_multiple", "otr_max_number_ratio", ...), durations
// are Go duration strings ("60s", "1m30s"). Unknown keys are refused, and so is a result that
// does not Validate.
//
//	{"wash_window":"2m","layer_min_orders":4,"stuff_max_messages":100}
func LoadConfig(r io.Reader) (Config, error) {
	cfg := Default()
	var in map[string]json.RawMessage
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return cfg, fmt.Errorf("settings: %w", err)
	}
	v := reflect.ValueOf(&cfg).Elem()
	fields := map[string]int{}
	for i := range v.NumField() {
		fields[snake(v.Type().Field(i).Name)] = i
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	durType := reflect.TypeFor[time.Duration]()
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			return cfg, fmt.Errorf("settings: unknown setting %q", k)
		}
		f := v.Field(i)
		if f.Type() == durType {
			var s string
			if err := json.Unmarshal(in[k], &s); err != nil {
				return cfg, fmt.Errorf("settings: %s: want a duration such as \"30s\"", k)
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return cfg, fmt.Errorf("settings: %s: %w", k, err)
			}
			f.SetInt(int64(d))
			continue
		}
		d := json.NewDecoder(bytes.NewReader(in[k]))
		if err := d.Decode(f.Addr().Interface()); err != nil {
			return cfg, fmt.Errorf("settings: %s: %w", k, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("settings: %w", err)
	}
	return cfg, nil
}

// snake turns a Go field name into snake case, keeping initialisms together: WashWindow ->
// wash_window, OTRMaxNumberRatio -> otr_max_number_ratio, MaxIDsPerAlert -> max_ids_per_alert.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1]) && rs[i+1] != 's'
			if prevLower || (unicode.IsUpper(rs[i-1]) && nextLower) { // "IDs" stays one word
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ConfigFromEnv reads SURVEILLANCE_SETTINGS, the path of a LoadConfig JSON file; unset: Default.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	path := getenv("SURVEILLANCE_SETTINGS")
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Default(), fmt.Errorf("SURVEILLANCE_SETTINGS: %w", err)
	}
	defer f.Close()
	cfg, err := LoadConfig(f)
	if err != nil {
		return Default(), fmt.Errorf("SURVEILLANCE_SETTINGS %s: %w", path, err)
	}
	return cfg, nil
}
