package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

const (
	tokStorageClass = "kubernetes:storage.k8s.io/v1:StorageClass"
	// psaEnforce is the namespace label Pod Security Admission enforces.
	psaEnforce = "pod-security.kubernetes.io/enforce"
	// fluentBitChart is the only chart a namespace below restricted may hold.
	fluentBitChart = "fluent-bit"
	// prometheusChart is the chart whose Prometheus storage must be encrypted.
	prometheusChart = "kube-prometheus-stack"
)

// exactVersion is a chart version pinned to one release: semver without ranges or wildcards.
var exactVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// observabilityRules are the rules on the Helm releases, the metrics stack's storage and the
// one namespace that may run below the restricted Pod Security level.
func observabilityRules() []Rule {
	return []Rule{
		{ID: "helm-release-pinned", Mirrors: "platform rule", Summary: "every Helm release pins its chart to one exact version from an https repository",
			Check: checkReleasesPinned},
		{ID: "prometheus-storage-encrypted", Mirrors: "CKV_AWS_3 (EBS encryption)", Summary: "Prometheus keeps its series on a persistent volume of a planned StorageClass that encrypts (EBS CSI, encrypted true), for a set retention",
			Check: checkPrometheusStorage},
		{ID: "logging-namespace-fluent-bit-only", Mirrors: "KSV-0023 (hostPath), PSA exception", Summary: "a namespace that enforces less than restricted holds only the Fluent Bit release (no planned workload, no other release), and Fluent Bit mounts /var/log read-only, unprivileged, off the host network",
			Check: checkPrivilegedNamespaces},
	}
}

func checkReleasesPinned(p *Plan) []Finding {
	var out []Finding
	for _, r := range p.OfType(tokHelmRelease) {
		chart, version, repo := r.String("chart"), r.String("version"), r.String("repositoryOpts.repo")
		switch {
		case !exactVersion.MatchString(version):
			out = append(out, Finding{r.URN, fmt.Sprintf("release of chart %q: version %q is not one exact version (no ranges, no wildcards, not empty)", chart, version)})
		case !strings.HasPrefix(repo, "https://") && !strings.HasPrefix(repo, "oci://"):
			out = append(out, Finding{r.URN, fmt.Sprintf("release of chart %q: repository %q is not https:// or oci://", chart, repo)})
		}
	}
	return out
}

func checkPrometheusStorage(p *Plan) []Finding {
	classes := map[string]mocks.Resource{}
	for _, sc := range p.OfType(tokStorageClass) {
		classes[objectName(sc)] = sc
	}
	var out []Finding
	for _, r := range p.OfType(tokHelmRelease) {
		if r.String("chart") != prometheusChart {
			continue
		}
		spec := mapAt(r.Inputs, "values", "prometheus", "prometheusSpec")
		if strAt(spec, "retention") == "" {
			out = append(out, Finding{r.URN, "values.prometheus.prometheusSpec.retention is not set (the chart's default decides how long series stay)"})
		}
		name := strAt(spec, "storageSpec", "volumeClaimTemplate", "spec", "storageClassName")
		if name == "" {
			out = append(out, Finding{r.URN, "Prometheus has no volumeClaimTemplate with a storageClassName: its series are on the node's emptyDir or an unencrypted default class"})
			continue
		}
		sc, ok := classes[name]
		switch {
		case !ok:
			out = append(out, Finding{r.URN, fmt.Sprintf("StorageClass %q is not in the plan, so nothing shows it encrypts", name)})
		case sc.String("provisioner") != "ebs.csi.aws.com" || strAt(sc.Inputs, "parameters", "encrypted") != "true":
			out = append(out, Finding{sc.URN, fmt.Sprintf("StorageClass %s (Prometheus's) does not encrypt: want provisioner ebs.csi.aws.com and parameters.encrypted \"true\"", name)})
		}
	}
	return out
}

// checkPrivilegedNamespaces: a namespace that enforces a level other than restricted is an
// exception, allowed only to hold Fluent Bit, which needs hostPath.
func checkPrivilegedNamespaces(p *Plan) []Finding {
	exempt := map[string]string{}
	for _, ns := range p.OfType(tokNamespace) {
		if level := labelsAt(ns.Inputs, "metadata", "labels")[psaEnforce]; level != "restricted" {
			exempt[objectName(ns)] = ns.URN
		}
	}
	var out []Finding
	for _, w := range workloads(p) {
		if _, ok := exempt[w.namespace]; ok {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s runs in namespace %s, which does not enforce restricted: only the Fluent Bit release may", w, w.namespace)})
		}
	}
	for _, r := range p.OfType(tokHelmRelease) {
		ns := objectNamespace(p, r)
		if _, ok := exempt[ns]; !ok {
			continue
		}
		if r.String("chart") != fluentBitChart {
			out = append(out, Finding{r.URN, fmt.Sprintf("release of chart %q in namespace %s, which does not enforce restricted: only %s may run there", r.String("chart"), ns, fluentBitChart)})
			continue
		}
		out = append(out, judgeFluentBit(r)...)
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Resource+a.Message, b.Resource+b.Message) })
	return out
}

// judgeFluentBit checks the Fluent Bit release's values: /var/log mounted read-only, no host
// path but /var/log and its own state directory under /var/fluent-bit, not privileged, no
// privilege escalation, not on the host's network.
func judgeFluentBit(r mocks.Resource) []Finding {
	var out []Finding
	bad := func(format string, args ...any) { out = append(out, Finding{r.URN, fmt.Sprintf(format, args...)}) }
	values := mapAt(r.Inputs, "values")
	hostPaths := map[string]string{} // volume name -> host path
	for _, v := range listAt(values, "daemonSetVolumes") {
		if path := strAt(v, "hostPath", "path"); path != "" {
			hostPaths[strAt(v, "name")] = path
			if path != "/var/log" && !strings.HasPrefix(path, "/var/fluent-bit/") {
				bad("Fluent Bit mounts host path %s: only /var/log (read-only) and its state under /var/fluent-bit/", path)
			}
		}
	}
	varlog := false
	for _, vm := range listAt(values, "daemonSetVolumeMounts") {
		if hostPaths[strAt(vm, "name")] != "/var/log" {
			continue
		}
		varlog = true
		if ro, _ := boolAt(vm, "readOnly"); !ro {
			bad("Fluent Bit mounts the node's /var/log (volume %s) writable: want readOnly true", strAt(vm, "name"))
		}
	}
	if !varlog {
		bad("Fluent Bit does not mount the node's /var/log from daemonSetVolumes/daemonSetVolumeMounts (the chart's default mounts it writable)")
	}
	if priv, _ := boolAt(values, "securityContext", "privileged"); priv {
		bad("Fluent Bit runs privileged")
	}
	if esc, set := boolAt(values, "securityContext", "allowPrivilegeEscalation"); !set || esc {
		bad("Fluent Bit does not set allowPrivilegeEscalation false")
	}
	if host, _ := boolAt(values, "hostNetwork"); host {
		bad("Fluent Bit runs on the host's network")
	}
	return out
}
