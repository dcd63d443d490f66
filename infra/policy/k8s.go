package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

// Kubernetes type tokens the workload rules inspect. The recorded inputs of a Kubernetes object
// are its manifest: apiVersion, kind, metadata and spec as nested maps with the API's field
// names (numbers as float64).
const (
	tokDeployment     = "kubernetes:apps/v1:Deployment"
	tokStatefulSet    = "kubernetes:apps/v1:StatefulSet"
	tokDaemonSet      = "kubernetes:apps/v1:DaemonSet"
	tokReplicaSet     = "kubernetes:apps/v1:ReplicaSet"
	tokJob            = "kubernetes:batch/v1:Job"
	tokCronJob        = "kubernetes:batch/v1:CronJob"
	tokPod            = "kubernetes:core/v1:Pod"
	tokServiceAccount = "kubernetes:core/v1:ServiceAccount"
	tokNamespace      = "kubernetes:core/v1:Namespace"
	tokNetworkPolicy  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tokPDB            = "kubernetes:policy/v1:PodDisruptionBudget"
	tokHPA            = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	tokHelmRelease    = "kubernetes:helm.sh/v3:Release"
	tokHelmChart      = "kubernetes:helm.sh/v4:Chart"
	tokK8sProvider    = "pulumi:providers:kubernetes"

	defaultNamespace = "default"
	// labelName is the pod label that names a catalog service (contract C2).
	labelName = "app.kubernetes.io/name"
	// labelNamespaceName is the label the API server puts on every namespace.
	labelNamespaceName = "kubernetes.io/metadata.name"
)

// workloadTypes are the objects that carry a pod template, with where the template is.
var workloadTypes = map[string][]string{
	tokDeployment:  {"spec", "template"},
	tokStatefulSet: {"spec", "template"},
	tokDaemonSet:   {"spec", "template"},
	tokReplicaSet:  {"spec", "template"},
	tokJob:         {"spec", "template"},
	tokCronJob:     {"spec", "jobTemplate", "spec", "template"},
	tokPod:         nil, // the object is its own template
}

// at walks nested maps along path; nil when a step is missing.
func at(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapAt(v any, path ...string) map[string]any {
	m, _ := at(v, path...).(map[string]any)
	return m
}

func listAt(v any, path ...string) []any {
	l, _ := at(v, path...).([]any)
	return l
}

func strAt(v any, path ...string) string {
	s, _ := at(v, path...).(string)
	return s
}

// boolAt returns the bool at path and whether one is set.
func boolAt(v any, path ...string) (value, set bool) {
	value, set = at(v, path...).(bool)
	return value, set
}

// numAt returns the number at path and whether one is set.
func numAt(v any, path ...string) (float64, bool) {
	f, ok := at(v, path...).(float64)
	return f, ok
}

func labelsAt(v any, path ...string) map[string]string {
	out := map[string]string{}
	for k, val := range mapAt(v, path...) {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}

// kindOf is the kind of a Kubernetes type token ("kubernetes:apps/v1:Deployment" -> "Deployment").
func kindOf(typ string) string { return typ[strings.LastIndex(typ, ":")+1:] }

// objectName is an object's metadata.name, or the Pulumi resource name the provider would
// auto-name it from.
func objectName(r mocks.Resource) string {
	if n := r.String("metadata.name"); n != "" {
		return n
	}
	return r.Name
}

// objectNamespace is the namespace an object lands in: metadata.namespace, else its provider's
// default namespace, else "default".
func objectNamespace(p *Plan, r mocks.Resource) string {
	if ns := r.String("metadata.namespace"); ns != "" {
		return ns
	}
	if r.Type == tokHelmRelease || r.Type == tokHelmChart {
		if ns := r.String("namespace"); ns != "" {
			return ns
		}
	}
	// A provider reference is "<provider URN>::<provider id>".
	if i := strings.LastIndex(r.Provider, "::"); i > 0 {
		urn := r.Provider[:i]
		for _, pr := range p.OfType(tokK8sProvider) {
			if pr.URN == urn {
				if ns := pr.String("namespace"); ns != "" {
					return ns
				}
			}
		}
	}
	return defaultNamespace
}

// container is one container of a pod template, init containers included.
type container struct {
	name string
	init bool
	spec map[string]any
}

// workload is an object with a pod template.
type workload struct {
	res       mocks.Resource
	kind      string
	name      string
	namespace string
	template  map[string]any // metadata and spec of the pods
}

func (w workload) String() string { return fmt.Sprintf("%s %s/%s", w.kind, w.namespace, w.name) }

func (w workload) podSpec() map[string]any { return mapAt(w.template, "spec") }

func (w workload) podLabels() map[string]string { return labelsAt(w.template, "metadata", "labels") }

// replicas is spec.replicas (1 when unset; 0 for the kinds that have no replica count).
func (w workload) replicas() int {
	switch w.kind {
	case "Deployment", "StatefulSet", "ReplicaSet":
		if n, ok := numAt(w.res.Inputs, "spec", "replicas"); ok {
			return int(n)
		}
		return 1
	}
	return 0
}

// runsToCompletion reports whether the pods are batch pods (no probes expected).
func (w workload) runsToCompletion() bool { return w.kind == "Job" || w.kind == "CronJob" }

func (w workload) containers() []container {
	var out []container
	for _, k := range []string{"initContainers", "containers"} {
		for _, c := range listAt(w.podSpec(), k) {
			m, _ := c.(map[string]any)
			out = append(out, container{name: strAt(m, "name"), init: k == "initContainers", spec: m})
		}
	}
	return out
}

// workloads returns every object of the plan that carries a pod template.
func workloads(p *Plan) []workload {
	var out []workload
	for _, r := range p.Resources {
		path, ok := workloadTypes[r.Type]
		if !ok {
			continue
		}
		tmpl := map[string]any(r.Inputs)
		if path != nil {
			tmpl = mapAt(r.Inputs, path...)
		}
		out = append(out, workload{res: r, kind: kindOf(r.Type), name: objectName(r), namespace: objectNamespace(p, r), template: tmpl})
	}
	return out
}

// selectorMatches reports whether a label selector (matchLabels and matchExpressions) selects
// labels; an empty selector selects everything.
func selectorMatches(sel map[string]any, labels map[string]string) bool {
	for k, v := range labelsAt(sel, "matchLabels") {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, e := range listAt(sel, "matchExpressions") {
		key, op := strAt(e, "key"), strAt(e, "operator")
		var values []string
		for _, v := range listAt(e, "values") {
			if s, ok := v.(string); ok {
				values = append(values, s)
			}
		}
		got, has := labels[key]
		switch op {
		case "In":
			if !has || !slices.Contains(values, got) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(values, got) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default: // an operator the API rejects selects nothing
			return false
		}
	}
	return true
}

// emptySelector reports whether a selector has no terms (it selects everything).
func emptySelector(sel map[string]any) bool {
	return len(mapAt(sel, "matchLabels")) == 0 && len(listAt(sel, "matchExpressions")) == 0
}
