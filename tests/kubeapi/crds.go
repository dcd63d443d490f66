package kubeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// crdSource is a CustomResourceDefinition the manifests use and where its YAML ships: a file in
// the module zip of the project that owns it, read from the module cache (never copied here).
type crdSource struct {
	Module, Version, File string
}

// crdSources are the CRDs of the objects the platform renders: External Secrets Operator's
// ExternalSecret and ClusterSecretStore, prometheus-operator's ServiceMonitor and PrometheusRule.
// The versions are those of the Helm charts the platform installs.
var crdSources = []crdSource{
	{"github.com/external-secrets/external-secrets", "v1.3.2", "config/crds/bases/external-secrets.io_externalsecrets.yaml"},
	{"github.com/external-secrets/external-secrets", "v1.3.2", "config/crds/bases/external-secrets.io_clustersecretstores.yaml"},
	{"github.com/external-secrets/external-secrets", "v1.3.2", "config/crds/bases/external-secrets.io_secretstores.yaml"},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"},
}

// CRDs reads the CustomResourceDefinitions the manifests use from the module cache, downloading
// the modules (checksums verified by the go command) when they are not there yet.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dirs := map[string]string{}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, s := range crdSources {
		mv := s.Module + "@" + s.Version
		dir, ok := dirs[mv]
		if !ok {
			var err error
			if dir, err = moduleDir(mv); err != nil {
				return nil, err
			}
			dirs[mv] = dir
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.File)))
		if err != nil {
			return nil, fmt.Errorf("CRD of %s: %w", mv, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			return nil, fmt.Errorf("CRD %s of %s: %w", s.File, mv, err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// moduleDir returns the directory of module@version in the module cache, downloading it if
// needed. It runs outside any workspace, so that it neither reads nor changes a go.mod.
func moduleDir(mv string) (string, error) {
	tmp, err := os.MkdirTemp("", "kubeapi-mod")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", mv)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr == nil && m.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", mv, m.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", mv, err, stderr.Bytes())
	}
	if m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in %s", mv, out)
	}
	return m.Dir, nil
}
