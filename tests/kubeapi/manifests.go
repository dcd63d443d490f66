// Package kubeapi checks the Kubernetes objects the infrastructure program renders
// (go run ./infra/cmd/plan --stack <stack> --manifests DIR) against a real kube-apiserver and
// etcd (the upstream binaries, built from the module's tool directives) with Pod Security
// Admission enforcing "restricted", and, as a lighter path, offline: strict decoding into the k8s.io/api types and the
// pod-security-admission checks evaluated in process.
//
// It is a Go module of its own, outside go.work, so that k8s.io/kubernetes and its dependencies
// never reach the Pulumi modules. Run it with: cd tests/kubeapi && GOWORK=off go test ./...
package kubeapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Namespaces are the platform's namespaces (contract C2), each enforcing the "restricted"
// Pod Security Standard but loggingNamespace (see NamespaceLabels).
var namespaces = []string{"cantondex", "cantondex-monitoring", "cantondex-security", "cantondex-logging"}

// loggingNamespace runs only Fluent Bit, whose hostPath mounts (the node's /var/log, read-only,
// and its state) no level but privileged admits: it enforces privileged and audits and warns
// restricted (infra/program NamespaceLabels, policy logging-namespace-fluent-bit-only).
const loggingNamespace = "cantondex-logging"

// Namespaces returns the names of the platform's namespaces.
func Namespaces() []string { return append([]string(nil), namespaces...) }

// RestrictedLabels returns the Pod Security Admission labels every platform namespace carries.
func RestrictedLabels() map[string]string {
	l := map[string]string{}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		l["pod-security.kubernetes.io/"+mode] = "restricted"
		l["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return l
}

// NamespaceLabels returns the Pod Security Admission labels of one platform namespace: the
// restricted ones, with enforce privileged in the logging namespace.
func NamespaceLabels(ns string) map[string]string {
	l := RestrictedLabels()
	if ns == loggingNamespace {
		l["pod-security.kubernetes.io/enforce"] = "privileged"
	}
	return l
}

// Object is one rendered Kubernetes object and the file it came from.
type Object struct {
	File string // path of the file, for messages
	*unstructured.Unstructured
}

// String names the object as messages show it: kind namespace/name (file).
func (o Object) String() string {
	ns := o.GetNamespace()
	if ns == "" {
		ns = "cluster"
	}
	return fmt.Sprintf("%s %s/%s (%s)", o.GetKind(), ns, o.GetName(), o.File)
}

// Load reads every object under dir: files ending in .yaml, .yml or .json, walked recursively,
// each holding one or more documents. Empty documents are skipped; a document without
// apiVersion, kind or metadata.name is an error naming its file. Namespaces come first, then
// the files in lexical order, so that applying the result in order creates namespaces before
// what lives in them.
func Load(dir string) ([]Object, error) {
	var objs []Object
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		got, err := loadFile(path)
		if err != nil {
			return err
		}
		objs = append(objs, got...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	return objs, nil
}

func loadFile(path string) ([]Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var objs []Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d: apiVersion, kind and metadata.name are required", path, i)
		}
		objs = append(objs, Object{File: path, Unstructured: u})
	}
}

// addClaimVolumes gives the pod of a StatefulSet the volumes its controller adds: one
// PersistentVolumeClaim per volumeClaimTemplate (named as the first replica's claim).
func addClaimVolumes(o Object, pod *corev1.Pod) error {
	claims, _, err := unstructured.NestedSlice(o.Object, "spec", "volumeClaimTemplates")
	if err != nil {
		return fmt.Errorf("%s: spec.volumeClaimTemplates: %w", o, err)
	}
	for _, c := range claims {
		m, _ := c.(map[string]any)
		name, _, _ := unstructured.NestedString(m, "metadata", "name")
		if name == "" {
			return fmt.Errorf("%s: a volumeClaimTemplate without metadata.name", o)
		}
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name + "-" + o.GetName() + "-0"},
		}})
	}
	return nil
}

// stripComments drops the lines of a YAML document that are only a comment.
func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// PodTemplate returns the pod an object would create: the object itself for a Pod, the
// template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob. ok is false for
// other kinds. The namespace of the pod is the object's.
func PodTemplate(o Object) (pod *corev1.Pod, ok bool, err error) {
	var path []string
	switch o.GetKind() {
	case "Pod":
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		path = []string{"spec", "template"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	default:
		return nil, false, nil
	}
	src := o.Object
	if len(path) > 0 {
		t, found, err := unstructured.NestedMap(o.Object, path...)
		if err != nil || !found {
			return nil, true, fmt.Errorf("%s: no pod template at %s: %v", o, strings.Join(path, "."), err)
		}
		src = t
	}
	pod = &corev1.Pod{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(src, pod); err != nil {
		return nil, true, fmt.Errorf("%s: pod template: %w", o, err)
	}
	if o.GetKind() == "StatefulSet" {
		if err := addClaimVolumes(o, pod); err != nil {
			return nil, true, err
		}
	}
	pod.APIVersion, pod.Kind = "v1", "Pod"
	pod.Namespace = o.GetNamespace()
	if pod.Name == "" {
		pod.Name = o.GetName()
	}
	return pod, true, nil
}
