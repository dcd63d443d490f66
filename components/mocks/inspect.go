package mocks

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// Statement is one statement of a recorded IAM policy document, as IAM reads it: Action and
// Resource are a string or a list ([]any), Condition is test -> key -> value(s).
type Statement struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Principal map[string]any
	Condition map[string]map[string]any
}

// Statements decodes a recorded policy document (a role's assumeRolePolicy, a policy's policy).
func Statements(policy string) ([]Statement, error) {
	var d struct{ Statement []Statement }
	err := json.Unmarshal([]byte(policy), &d)
	return d.Statement, err
}

// Policy decodes the policy document at an input path ("policy", "assumeRolePolicy").
func (r Resource) Policy(path string) ([]Statement, error) {
	return Statements(r.String(path))
}

// Differences compares inputs at dotted paths with the wanted values and describes each that
// differs ("path: got X, want Y"), sorted by path; none when all match.
func (r Resource) Differences(want map[string]any) []string {
	var out []string
	for _, path := range slices.Sorted(maps.Keys(want)) {
		got, _ := r.Input(path)
		if !reflect.DeepEqual(got, want[path]) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", path, got, want[path]))
		}
	}
	return out
}
