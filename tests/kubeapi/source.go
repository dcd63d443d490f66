package kubeapi

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// stacks are the stacks whose manifests the tests check when none are given.
var stacks = []string{"prod", "staging"}

var (
	sourceOnce sync.Once
	sourceSets []ManifestSet
	sourceErr  error
)

// ManifestSet is the rendered objects of one stack (one directory).
type ManifestSet struct {
	Name string
	Objs []Object
}

// Manifests returns the object sets the tests check, read once per test binary:
//   - KUBEAPI_MANIFESTS=dir1,dir2: those directories (as written by the plan's --manifests);
//   - otherwise, when the plan command has --manifests: both stacks rendered by it, from the
//     repository root, into a temporary directory;
//   - otherwise the fixtures in testdata/manifests, a representative set of the platform's
//     objects (logged, so that it is never mistaken for the real stacks).
//
// A directory that holds no object fails the test: nothing is ever skipped.
func Manifests(t testing.TB) []ManifestSet {
	t.Helper()
	sourceOnce.Do(func() { sourceSets, sourceErr = loadSets(t) })
	require.NoError(t, sourceErr)
	return sourceSets
}

func loadSets(t testing.TB) ([]ManifestSet, error) {
	var dirs []string
	if env := os.Getenv("KUBEAPI_MANIFESTS"); env != "" {
		for _, d := range strings.Split(env, ",") {
			if d = strings.TrimSpace(d); d != "" {
				dirs = append(dirs, d)
			}
		}
		t.Logf("manifests from KUBEAPI_MANIFESTS: %s", strings.Join(dirs, ", "))
	} else if root, ok := planWithManifests(t); ok {
		// The objects are read into memory below: the directory may go with the first test.
		out := t.TempDir()
		for _, stack := range stacks {
			dir := filepath.Join(out, stack)
			if err := render(root, stack, dir); err != nil {
				return nil, err
			}
			dirs = append(dirs, dir)
		}
		t.Logf("manifests rendered by infra/cmd/plan for stacks %s", strings.Join(stacks, ", "))
	} else {
		root, err := findUp("go.mod") // this module's
		if err != nil {
			return nil, err
		}
		dirs = []string{filepath.Join(root, "testdata", "manifests")}
		t.Logf("NOTE: infra/cmd/plan has no --manifests yet: checking the fixtures in testdata/manifests, not the stacks")
	}
	var sets []ManifestSet
	for _, d := range dirs {
		objs, err := Load(d)
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("%s: no Kubernetes object in it", d)
		}
		sets = append(sets, ManifestSet{Name: filepath.Base(d), Objs: objs})
	}
	return sets, nil
}

// findUp returns the nearest directory holding name, upwards from the working directory (a
// package's directory under go test).
func findUp(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no " + name + " above the working directory")
		}
		dir = parent
	}
}

// planWithManifests finds the repository root (the directory holding go.work, upwards from the
// working directory) and reports whether its plan command has the --manifests flag yet.
func planWithManifests(t testing.TB) (string, bool) {
	dir, err := findUp("go.work")
	if err != nil {
		return "", false
	}
	files, err := filepath.Glob(filepath.Join(dir, "infra", "cmd", "plan", "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if bytes.Contains(b, []byte(`"manifests"`)) {
			return dir, true
		}
	}
	return dir, false
}

// render runs the plan command of the repository at root for one stack, writing its objects
// under dir. It runs in the repository's workspace, not in this module.
func render(root, stack, dir string) error {
	cmd := exec.Command("go", "run", "./infra/cmd/plan", "--stack", stack, "--manifests", dir)
	cmd.Dir = root
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWORK=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go run ./infra/cmd/plan --stack %s --manifests: %w\n%s", stack, err, out)
	}
	return nil
}

// RestrictedPod returns a pod that satisfies every rule of the "restricted" Pod Security
// Standard; the tests break one rule at a time.
func RestrictedPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.example/cantondex/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

// Violation is a pod that breaks the restricted standard and a word its refusal must name.
type Violation struct {
	Pod  *corev1.Pod
	Want string
}

// Violations returns pods that each break the restricted standard: a privileged one, and one
// that breaks only the seccomp rule.
func Violations(namespace string) []Violation {
	privileged := RestrictedPod(namespace, "privileged")
	c := &privileged.Spec.Containers[0]
	c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	privileged.Spec.SecurityContext = nil

	noSeccomp := RestrictedPod(namespace, "no-seccomp")
	noSeccomp.Spec.SecurityContext.SeccompProfile = nil

	return []Violation{
		{privileged, "privileged"},
		{noSeccomp, "seccompProfile"},
	}
}
