// Package offline is the light path of the manifest check, without an API server: every
// rendered object is decoded strictly into its k8s.io/api type (an unknown or duplicate field is
// an error) or, for a custom resource, checked against its CRD's OpenAPI schema (unknown fields
// and schema violations; the CRDs' CEL rules are not evaluated here), and the pod of every
// workload is evaluated in process by k8s.io/pod-security-admission at restricted/latest.
package offline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/cantondex/platform/tests/kubeapi"
)

// TestOffline checks every rendered object of each stack without an API server.
func TestOffline(t *testing.T) {
	sets := kubeapi.Manifests(t)
	c := newChecker(t)
	for _, set := range sets {
		t.Run(set.Name, func(t *testing.T) {
			for _, o := range set.Objs {
				assert.NoError(t, c.check(o), "%s", o)
			}
			t.Logf("%s: %d objects checked", set.Name, len(set.Objs))
		})
	}
}

// TestOfflineRefuses proves the checks can fail: the pods that break the restricted standard,
// an unknown field in a built-in object and in a custom resource, and a kind nobody serves.
func TestOfflineRefuses(t *testing.T) {
	c := newChecker(t)
	ok := kubeapi.RestrictedPod("cantondex", "restricted")
	require.NoError(t, c.check(object(t, ok)))
	for _, v := range kubeapi.Violations("cantondex") {
		err := c.check(object(t, v.Pod))
		require.Error(t, err, v.Pod.Name)
		assert.Contains(t, err.Error(), `violates PodSecurity "restricted:latest"`)
		assert.Contains(t, err.Error(), v.Want)
	}

	unknown := object(t, ok)
	setUnknown(t, unknown, "spec", "containers", "0", "securityContxt")
	err := c.check(unknown)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "securityContxt")

	es := parse(t, `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: x, namespace: cantondex}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: aws-secrets-manager}
  refreshInteval: 1h
`)
	err = c.check(es)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refreshInteval")

	bad := parse(t, `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x, namespace: cantondex-monitoring}
spec:
  endpoints: [{port: ops, scheme: gopher}]
  selector: {}
`)
	err = c.check(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gopher")

	err = c.check(parse(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no type and no CRD")
}

// checker holds what the checks need: the strict decoder of the built-in types, the schemas of
// the CRDs the manifests use, and the Pod Security evaluator.
type checker struct {
	decoder   runtime.Decoder
	crds      map[schema.GroupVersionKind]crdSchema
	evaluator policy.Evaluator
	level     psaapi.LevelVersion
}

type crdSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
}

func newChecker(t *testing.T) *checker {
	crds, err := kubeapi.CRDs()
	require.NoError(t, err)
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	c := &checker{
		decoder:   serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer(),
		crds:      map[schema.GroupVersionKind]crdSchema{},
		evaluator: evaluator,
		level:     psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()},
	}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil))
			structural, err := structuralschema.NewStructural(internal)
			require.NoError(t, err, "CRD %s %s", crd.Name, v.Name)
			validator, _, err := validation.NewSchemaValidator(internal)
			require.NoError(t, err, "CRD %s %s", crd.Name, v.Name)
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			c.crds[gvk] = crdSchema{structural: structural, validator: validator}
		}
	}
	return c
}

// check returns what is wrong with one object: a field its type or CRD schema does not know, a
// value the schema refuses, a pod template breaking the restricted standard, a platform
// namespace without the restricted labels.
func (c *checker) check(o kubeapi.Object) error {
	gvk := o.GroupVersionKind()
	switch s, isCR := c.crds[gvk]; {
	case scheme.Scheme.Recognizes(gvk):
		body, err := json.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, _, err := c.decoder.Decode(body, nil, nil); err != nil {
			return err
		}
	case isCR:
		obj := runtime.DeepCopyJSON(o.Object)
		opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
		if unknown := pruning.PruneWithOptions(obj, s.structural, true, opts); len(unknown) > 0 {
			return fmt.Errorf("unknown fields: %s", strings.Join(unknown, ", "))
		}
		if errs := validation.ValidateCustomResource(field.NewPath(""), o.Object, s.validator); len(errs) > 0 {
			return errs.ToAggregate()
		}
	default:
		return fmt.Errorf("%s: no type and no CRD for it (install its CRD in kubeapi.CRDs)", gvk)
	}
	if gvk.Kind == "Namespace" && slices.Contains(kubeapi.Namespaces(), o.GetName()) {
		labels := o.GetLabels()
		for k, v := range kubeapi.NamespaceLabels(o.GetName()) {
			if labels[k] != v {
				return fmt.Errorf("label %s: want %q, got %q", k, v, labels[k])
			}
		}
	}
	pod, ok, err := kubeapi.PodTemplate(o)
	if !ok || err != nil {
		return err
	}
	agg := policy.AggregateCheckResults(c.evaluator.EvaluatePod(c.level, &pod.ObjectMeta, &pod.Spec))
	if !agg.Allowed {
		return fmt.Errorf("violates PodSecurity %q: %s", c.level.String(), agg.ForbiddenDetail())
	}
	return nil
}

// object turns a typed object into a kubeapi.Object.
func object(t *testing.T, v runtime.Object) kubeapi.Object {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v)
	require.NoError(t, err)
	return kubeapi.Object{File: "test", Unstructured: &unstructured.Unstructured{Object: m}}
}

// parse reads one YAML object.
func parse(t *testing.T, doc string) kubeapi.Object {
	m := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
	return kubeapi.Object{File: "test", Unstructured: &unstructured.Unstructured{Object: m}}
}

// setUnknown adds an unknown field (set to true) at path, whose list indexes are numbers.
func setUnknown(t *testing.T, o kubeapi.Object, path ...string) {
	var cur any = o.Object
	for _, p := range path[:len(path)-1] {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[p]
		case []any:
			i, err := strconv.Atoi(p)
			require.NoError(t, err)
			cur = v[i]
		}
	}
	m, ok := cur.(map[string]any)
	require.True(t, ok, "%v is not an object", path)
	m[path[len(path)-1]] = true
}
