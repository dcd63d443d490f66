package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cantondex/platform/components/mocks"
)

// Placeholders in rendered manifests: values the plan cannot know offline and secret values.
const (
	UnknownPlaceholder = "unknown-until-deployed"
	RedactedValue      = "redacted"
)

// Manifest is one Kubernetes object the program would create, rebuilt from its recorded inputs.
type Manifest struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Namespace  string         `json:"namespace,omitempty"` // "" for cluster-scoped objects
	Name       string         `json:"name"`
	File       string         `json:"file"` // relative to the manifests directory
	Object     map[string]any `json:"-"`
}

// notObjects are kubernetes-provider resources that are not one API object (Helm releases
// are Pulumi resources that install charts; yaml/kustomize groups are components).
var notObjects = []string{"kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize"}

// Manifests rebuilds every Kubernetes object among the recorded resources: apiVersion and
// kind from the type token (or the inputs), the rest from the inputs; unknown values become
// UnknownPlaceholder and a Secret's values RedactedValue. They come sorted by file.
func Manifests(resources []mocks.Resource) ([]Manifest, error) {
	var out []Manifest
	files := map[string]string{}
	for _, r := range resources {
		if !strings.HasPrefix(r.Type, "kubernetes:") || slices.ContainsFunc(notObjects, func(p string) bool { return strings.HasPrefix(r.Type, p) }) {
			continue
		}
		parts := strings.Split(r.Type, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s %s: not a kubernetes:<group/version>:<Kind> type", r.Type, r.Name)
		}
		obj, _ := normalize(r.Inputs).(map[string]any)
		apiVersion, kind := strings.TrimPrefix(parts[1], "core/"), parts[2]
		if v, ok := obj["apiVersion"].(string); ok && v != "" {
			apiVersion = v
		}
		if v, ok := obj["kind"].(string); ok && v != "" {
			kind = v
		}
		obj["apiVersion"], obj["kind"] = apiVersion, kind
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s %s: no metadata.name (the offline plan cannot know an auto-generated name)", r.Type, r.Name)
		}
		namespace, _ := meta["namespace"].(string)
		if kind == "Secret" {
			redact(obj)
		}
		dir := namespace
		if dir == "" {
			dir = "cluster"
		}
		file := filepath.ToSlash(filepath.Join(dir, strings.ToLower(kind)+"-"+name+".yaml"))
		if prev, dup := files[file]; dup {
			return nil, fmt.Errorf("%s and %s are both %s %s/%s", prev, r.URN, kind, namespace, name)
		}
		files[file] = r.URN
		out = append(out, Manifest{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: name, File: file, Object: obj})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// normalize copies recorded inputs into what an API server receives: integral numbers as
// integers, unknown values as UnknownPlaceholder.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	case string:
		if v == "[unknown]" {
			return UnknownPlaceholder
		}
		return v
	}
	return v
}

// redact replaces every value of a Secret's data and stringData.
func redact(obj map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range m {
			if field == "data" {
				m[k] = base64.StdEncoding.EncodeToString([]byte(RedactedValue))
			} else {
				m[k] = RedactedValue
			}
		}
	}
}

// writeManifests writes one YAML file per object under dir (CONTRACTS C5).
func writeManifests(dir string, ms []Manifest) error {
	for _, m := range ms {
		path := filepath.Join(dir, filepath.FromSlash(m.File))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		b, err := yaml.Marshal(m.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", m.File, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeWorkloadHighlights summarises the Kubernetes workloads: each with its kind, replicas,
// autoscaling range and disruption budget, then the namespaces with their Pod Security level.
func writeWorkloadHighlights(b *strings.Builder, resources []mocks.Resource) {
	ms, err := Manifests(resources)
	if err != nil || len(ms) == 0 {
		return
	}
	type budget struct{ hpa, pdb string }
	extra := map[string]*budget{}
	at := func(m Manifest) *budget {
		k := m.Namespace + "/" + m.Name
		if extra[k] == nil {
			extra[k] = &budget{hpa: "no HPA", pdb: "no PDB"}
		}
		return extra[k]
	}
	field := func(obj map[string]any, path ...string) any {
		var cur any = obj
		for _, p := range path {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		return cur
	}
	for _, m := range ms {
		switch m.Kind {
		case "HorizontalPodAutoscaler":
			at(m).hpa = fmt.Sprintf("HPA %v–%v", field(m.Object, "spec", "minReplicas"), field(m.Object, "spec", "maxReplicas"))
		case "PodDisruptionBudget":
			if v := field(m.Object, "spec", "minAvailable"); v != nil {
				at(m).pdb = fmt.Sprintf("PDB minAvailable %v", v)
			} else {
				at(m).pdb = fmt.Sprintf("PDB maxUnavailable %v", field(m.Object, "spec", "maxUnavailable"))
			}
		}
	}
	for _, m := range ms {
		switch m.Kind {
		case "Deployment", "StatefulSet":
			e := at(m)
			fmt.Fprintf(b, "  workload %s: %s, %v replicas, %s, %s\n", m.Name, m.Kind, field(m.Object, "spec", "replicas"), e.hpa, e.pdb)
		case "Job":
			fmt.Fprintf(b, "  job %s (runs before the services)\n", m.Name)
		case "Namespace":
			fmt.Fprintf(b, "  namespace %s: pod security %v\n", m.Name, field(m.Object, "metadata", "labels", "pod-security.kubernetes.io/enforce"))
		}
	}
	fmt.Fprintf(b, "  %d Kubernetes objects (--manifests DIR writes them)\n", len(ms))
}
