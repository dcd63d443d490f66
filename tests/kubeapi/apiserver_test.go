package kubeapi

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
)

// fieldManager is the server-side apply field manager of everything this test writes.
const fieldManager = "cantondex-test"

// admissionConfig makes "restricted" the cluster-wide Pod Security default, so that a namespace
// without labels enforces it too (as the platform's namespaces do through their labels).
const admissionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: restricted
      enforce-version: latest
      audit: restricted
      audit-version: latest
      warn: restricted
      warn-version: latest
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: [kube-system]
`

// TestAPIServer starts kube-apiserver and etcd (the upstream binaries; Pod Security Admission
// enforcing restricted), installs the CRDs the manifests use, creates the platform's
// namespaces and applies every rendered object of each stack with server-side apply: each is
// accepted with no warning, and a pod made from each workload's template is admitted. Pods
// that break the restricted standard are refused.
func TestAPIServer(t *testing.T) {
	sets := Manifests(t)
	cfg, warnings := startAPIServer(t)
	ctx := t.Context()
	client, err := corev1client.NewForConfig(cfg)
	require.NoError(t, err)

	start := time.Now()
	installCRDs(t, cfg)
	t.Logf("CRDs established in %s", time.Since(start).Round(time.Millisecond))

	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	a := &applier{dyn: dyn, mapper: mapper, warnings: warnings}

	for _, ns := range Namespaces() {
		nsObj := &unstructured.Unstructured{}
		nsObj.SetAPIVersion("v1")
		nsObj.SetKind("Namespace")
		nsObj.SetName(ns)
		nsObj.SetLabels(NamespaceLabels(ns))
		require.NoError(t, a.apply(ctx, Object{File: "contract C2", Unstructured: nsObj}))
	}

	for _, set := range sets {
		t.Run(set.Name, func(t *testing.T) {
			var applied []Object
			t.Cleanup(func() { a.deleteAll(t, applied) })
			for _, o := range set.Objs {
				if !assert.NoError(t, a.apply(ctx, o), "%s", o) {
					continue
				}
				if o.GetKind() != "Namespace" {
					applied = append(applied, o)
				}
				pod, ok, err := PodTemplate(o)
				if !ok {
					continue
				}
				require.NoError(t, err)
				_, err = client.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				assert.NoError(t, err, "a pod from the template of %s", o)
			}
			t.Logf("%s: %d objects applied", set.Name, len(set.Objs))
			for _, ns := range Namespaces() {
				got, err := client.Namespaces().Get(ctx, ns, metav1.GetOptions{})
				require.NoError(t, err)
				for k, v := range NamespaceLabels(ns) {
					assert.Equal(t, v, got.Labels[k], "namespace %s label %s", ns, k)
				}
			}
			// The metrics stack's objects are among what the server accepted: every
			// ServiceMonitor and PrometheusRule rendered is there, and there is at least one.
			for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
				want := map[string]bool{}
				for _, o := range set.Objs {
					if o.GetKind() == kind {
						want[o.GetNamespace()+"/"+o.GetName()] = true
					}
				}
				assert.NotEmpty(t, want, "%s: no %s rendered", set.Name, kind)
				gvr := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: strings.ToLower(kind) + "s"}
				list, err := dyn.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
				require.NoError(t, err, "list %s", kind)
				got := map[string]bool{}
				for _, item := range list.Items {
					got[item.GetNamespace()+"/"+item.GetName()] = true
				}
				assert.Equal(t, want, got, "%s: the %s objects the server holds", set.Name, kind)
			}
		})
	}

	// The server enforces: in a platform namespace and, through the admission configuration,
	// in a namespace without labels. The pod that breaks no rule is admitted in both, so the
	// refusals are the rules', not something else about the pods.
	_, err = client.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubeapi-unlabelled"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, ns := range []string{"cantondex", "kubeapi-unlabelled"} {
		_, err := client.Pods(ns).Create(ctx, RestrictedPod(ns, "restricted"), metav1.CreateOptions{})
		require.NoError(t, err, "the restricted pod in %s", ns)
		for _, v := range Violations(ns) {
			_, err := client.Pods(ns).Create(ctx, v.Pod, metav1.CreateOptions{})
			require.Error(t, err, "pod %s in %s", v.Pod.Name, ns)
			assert.True(t, apierrors.IsForbidden(err), "pod %s in %s: %v", v.Pod.Name, ns, err)
			assert.Contains(t, err.Error(), `violates PodSecurity "restricted:latest"`, "pod %s in %s", v.Pod.Name, ns)
			assert.Contains(t, err.Error(), v.Want, "pod %s in %s", v.Pod.Name, ns)
		}
	}
}

// installCRDs creates the CRDs the manifests use and waits until each is established.
func installCRDs(t *testing.T, cfg *rest.Config) {
	crds, err := CRDs()
	require.NoError(t, err)
	client, err := apiextensionsclient.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := t.Context()
	for _, crd := range crds {
		_, err := client.CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{})
		require.NoError(t, err, "CRD %s", crd.Name)
	}
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := client.CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		require.NoError(t, err, "CRD %s established", crd.Name)
	}
}

// applier applies objects with server-side apply, mapping their kinds through discovery.
type applier struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warningLog
}

// resource returns the client of an object's resource. Discovery is read again once when the
// kind is unknown (a CRD established after the last read).
func (a *applier) resource(o Object) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameRoot {
		if o.GetNamespace() != "" {
			return nil, &objectError{o, "is cluster-scoped but has metadata.namespace " + o.GetNamespace()}
		}
		return a.dyn.Resource(m.Resource), nil
	}
	if o.GetNamespace() == "" {
		return nil, &objectError{o, "is namespaced but has no metadata.namespace"}
	}
	return a.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
}

// apply server-side applies one object (strict field validation, this test's field manager)
// and fails if the server accepted it with a warning (a Pod Security warning on a workload's
// template, a deprecated API, an unknown field...).
func (a *applier) apply(ctx context.Context, o Object) error {
	r, err := a.resource(o)
	if err != nil {
		return err
	}
	body, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	a.warnings.take()
	_, err = r.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager:    fieldManager,
		Force:           ptr.To(true),
		FieldValidation: metav1.FieldValidationStrict,
	})
	if err != nil {
		return err
	}
	if w := a.warnings.take(); len(w) > 0 {
		return &objectError{o, "accepted with warnings: " + strings.Join(w, "; ")}
	}
	return nil
}

// deleteAll deletes objects applied by one stack, so the next stack starts from an empty
// cluster (each stack is a cluster of its own).
func (a *applier) deleteAll(t *testing.T, objs []Object) {
	for _, o := range slices.Backward(objs) {
		r, err := a.resource(o)
		if err == nil {
			err = r.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			assert.NoError(t, err, "delete %s", o)
		}
	}
}

type objectError struct {
	o   Object
	msg string
}

func (e *objectError) Error() string { return e.o.String() + " " + e.msg }

// warningLog keeps the warnings the API server returns (rest.WarningHandler).
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// take returns the warnings received since the last call and forgets them.
func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}
