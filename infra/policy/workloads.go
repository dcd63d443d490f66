package policy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

// tokenJustification is the pod-template annotation that justifies mounting the ServiceAccount
// token: its value says why the pod talks to the Kubernetes API.
const tokenJustification = "cantondex.io/kubernetes-api-access"

// imageDigest is an image reference pinned by digest.
var imageDigest = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// workloadRules are the rules on the pods the program runs and how they are disrupted.
func workloadRules() []Rule {
	return []Rule{
		{ID: "k8s-run-as-non-root", Mirrors: "CKV_K8S_23, KSV-0012", Summary: "every container runs with runAsNonRoot (and not as UID 0)",
			Check: containerCheck(judgeNonRoot)},
		{ID: "k8s-read-only-root-fs", Mirrors: "CKV_K8S_22, KSV-0014", Summary: "every container's root filesystem is read-only",
			Check: containerCheck(judgeSC("readOnlyRootFilesystem", true))},
		{ID: "k8s-no-privilege-escalation", Mirrors: "CKV_K8S_20, KSV-0001", Summary: "every container sets allowPrivilegeEscalation false",
			Check: containerCheck(judgeSC("allowPrivilegeEscalation", false))},
		{ID: "k8s-drop-all-capabilities", Mirrors: "CKV_K8S_37, KSV-0003", Summary: "every container drops ALL capabilities and adds none but NET_BIND_SERVICE",
			Check: containerCheck(judgeCapabilities)},
		{ID: "k8s-seccomp-runtime-default", Mirrors: "CKV_K8S_31, KSV-0030", Summary: "every container runs under the RuntimeDefault (or a Localhost) seccomp profile, set on the pod or the container",
			Check: containerCheck(judgeSeccomp)},
		{ID: "k8s-not-privileged", Mirrors: "CKV_K8S_16, KSV-0017", Summary: "no container is privileged",
			Check: containerCheck(judgePrivileged)},
		{ID: "k8s-cpu-requests", Mirrors: "CKV_K8S_10, KSV-0015", Summary: "every container requests CPU", Check: containerCheck(judgeResource("requests", "cpu"))},
		{ID: "k8s-cpu-limits", Mirrors: "CKV_K8S_11, KSV-0011", Summary: "every container limits CPU", Check: containerCheck(judgeResource("limits", "cpu"))},
		{ID: "k8s-memory-requests", Mirrors: "CKV_K8S_12, KSV-0016", Summary: "every container requests memory", Check: containerCheck(judgeResource("requests", "memory"))},
		{ID: "k8s-memory-limits", Mirrors: "CKV_K8S_13, KSV-0018", Summary: "every container limits memory", Check: containerCheck(judgeResource("limits", "memory"))},
		{ID: "k8s-liveness-probe", Mirrors: "CKV_K8S_8", Summary: "every long-running container has a liveness probe", Check: containerCheck(judgeProbe("livenessProbe"))},
		{ID: "k8s-readiness-probe", Mirrors: "CKV_K8S_9", Summary: "every long-running container has a readiness probe", Check: containerCheck(judgeProbe("readinessProbe"))},
		{ID: "k8s-image-digest", Mirrors: "CKV_K8S_43", Summary: "every image is referenced by digest (@sha256:<64 hex>)", Check: containerCheck(judgeDigest)},
		{ID: "k8s-sa-token-not-mounted", Mirrors: "CKV_K8S_38, KSV-0036", Summary: "pods do not mount a ServiceAccount token (pod spec or its ServiceAccount) unless annotated " + tokenJustification,
			Check: checkTokenAutomount},
		{ID: "k8s-no-host-pid", Mirrors: "CKV_K8S_17, KSV-0010", Summary: "no pod shares the host's PID namespace", Check: podCheck(judgeHost("hostPID"))},
		{ID: "k8s-no-host-ipc", Mirrors: "CKV_K8S_18, KSV-0008", Summary: "no pod shares the host's IPC namespace", Check: podCheck(judgeHost("hostIPC"))},
		{ID: "k8s-no-host-network", Mirrors: "CKV_K8S_19, KSV-0009", Summary: "no pod shares the host's network namespace", Check: podCheck(judgeHost("hostNetwork"))},
		{ID: "k8s-no-default-namespace", Mirrors: "CKV_K8S_21", Summary: "no namespaced object (or Helm release) lands in the default namespace", Check: checkDefaultNamespace},
		{ID: "k8s-default-deny-netpol", Mirrors: "CKV2_K8S_6", Summary: "every pod's namespace has a default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)",
			Check: checkDefaultDeny},
		{ID: "k8s-pdb-for-replicas", Mirrors: "platform rule", Summary: "every multi-replica workload has a PodDisruptionBudget, and no PDB blocks every eviction",
			Check: checkPDBs},
		{ID: "k8s-hpa-not-below-pdb", Mirrors: "platform rule", Summary: "every HPA targets a workload of the plan and its minReplicas stays above what the workload's PDBs keep available",
			Check: checkHPAs},
	}
}

// containerCheck runs judge on every container of every pod template: judge returns "" when
// the container passes, else what is wrong.
func containerCheck(judge func(w workload, c container) string) func(*Plan) []Finding {
	return func(p *Plan) []Finding {
		var out []Finding
		for _, w := range workloads(p) {
			for _, c := range w.containers() {
				if msg := judge(w, c); msg != "" {
					kind := "container"
					if c.init {
						kind = "init container"
					}
					out = append(out, Finding{w.res.URN, fmt.Sprintf("%s, %s %s: %s", w, kind, c.name, msg)})
				}
			}
		}
		return out
	}
}

// podCheck runs judge on every pod template.
func podCheck(judge func(w workload) string) func(*Plan) []Finding {
	return func(p *Plan) []Finding {
		var out []Finding
		for _, w := range workloads(p) {
			if msg := judge(w); msg != "" {
				out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: %s", w, msg)})
			}
		}
		return out
	}
}

// effective is a security-context field as it applies to a container: the container's value,
// else the pod's.
func effective(w workload, c container, field ...string) any {
	if v := at(c.spec, append([]string{"securityContext"}, field...)...); v != nil {
		return v
	}
	return at(w.podSpec(), append([]string{"securityContext"}, field...)...)
}

func judgeNonRoot(w workload, c container) string {
	if uid, ok := effective(w, c, "runAsUser").(float64); ok && uid == 0 {
		return "runAsUser is 0 (root)"
	}
	if v, _ := effective(w, c, "runAsNonRoot").(bool); !v {
		return "runAsNonRoot is not true (on the container or the pod)"
	}
	return ""
}

// judgeSC requires a container securityContext bool field to be set to want.
func judgeSC(field string, want bool) func(workload, container) string {
	return func(_ workload, c container) string {
		if v, set := boolAt(c.spec, "securityContext", field); !set || v != want {
			return fmt.Sprintf("securityContext.%s is not %v", field, want)
		}
		return ""
	}
}

func judgeCapabilities(_ workload, c container) string {
	var problems []string
	if !slices.Contains(stringsOf(listAt(c.spec, "securityContext", "capabilities", "drop")), "ALL") {
		problems = append(problems, "capabilities.drop does not contain ALL")
	}
	for _, add := range stringsOf(listAt(c.spec, "securityContext", "capabilities", "add")) {
		if add != "NET_BIND_SERVICE" {
			problems = append(problems, "adds capability "+add)
		}
	}
	return strings.Join(problems, "; ")
}

func judgeSeccomp(w workload, c container) string {
	switch t, _ := effective(w, c, "seccompProfile", "type").(string); t {
	case "RuntimeDefault":
		return ""
	case "Localhost":
		if p, _ := effective(w, c, "seccompProfile", "localhostProfile").(string); p != "" {
			return ""
		}
		return "seccompProfile Localhost names no localhostProfile"
	case "":
		return "no seccompProfile on the container or the pod"
	default:
		return "seccompProfile type is " + t + ", want RuntimeDefault"
	}
}

func judgePrivileged(_ workload, c container) string {
	if v, _ := boolAt(c.spec, "securityContext", "privileged"); v {
		return "securityContext.privileged is true"
	}
	return ""
}

func judgeResource(kind, resource string) func(workload, container) string {
	return func(_ workload, c container) string {
		if q := at(c.spec, "resources", kind, resource); q == nil || q == "" {
			return fmt.Sprintf("no resources.%s.%s", kind, resource)
		}
		return ""
	}
}

func judgeProbe(probe string) func(workload, container) string {
	return func(w workload, c container) string {
		if c.init || w.runsToCompletion() {
			return ""
		}
		if len(mapAt(c.spec, probe)) == 0 {
			return "no " + probe
		}
		return ""
	}
}

func judgeDigest(_ workload, c container) string {
	if img := strAt(c.spec, "image"); !imageDigest.MatchString(img) {
		return fmt.Sprintf("image %q is not pinned by digest (@sha256:<64 hex digits>)", img)
	}
	return ""
}

func judgeHost(field string) func(workload) string {
	return func(w workload) string {
		if v, _ := boolAt(w.podSpec(), field); v {
			return field + " is true"
		}
		return ""
	}
}

func stringsOf(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func checkTokenAutomount(p *Plan) []Finding {
	accounts := map[string]mocks.Resource{} // namespace/name
	for _, sa := range p.OfType(tokServiceAccount) {
		accounts[objectNamespace(p, sa)+"/"+objectName(sa)] = sa
	}
	var out []Finding
	for _, w := range workloads(p) {
		if strings.TrimSpace(labelsAt(w.template, "metadata", "annotations")[tokenJustification]) != "" {
			continue
		}
		spec := w.podSpec()
		if v, set := boolAt(spec, "automountServiceAccountToken"); set {
			if v {
				out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: the pod spec sets automountServiceAccountToken true without a %s annotation", w, tokenJustification)})
			}
			continue
		}
		name := strAt(spec, "serviceAccountName")
		if name == "" {
			name = defaultNamespace // every namespace's own ServiceAccount is named default
		}
		sa, ok := accounts[w.namespace+"/"+name]
		if !ok {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: mounts the token of ServiceAccount %s, which the plan does not create with automountServiceAccountToken false; set it false in the pod spec", w, name)})
			continue
		}
		if v, set := sa.Inputs["automountServiceAccountToken"].(bool); !set || v {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: neither the pod spec nor ServiceAccount %s sets automountServiceAccountToken false", w, name)})
		}
	}
	return out
}

// clusterScoped are the kinds that live in no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true, "RuntimeClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "APIService": true, "CSIDriver": true, "CSINode": true, "VolumeSnapshotClass": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"ClusterSecretStore": true, "ClusterExternalSecret": true, "ClusterIssuer": true,
}

func checkDefaultNamespace(p *Plan) []Finding {
	var out []Finding
	for _, r := range p.Resources {
		if !strings.HasPrefix(r.Type, "kubernetes:") || clusterScoped[kindOf(r.Type)] {
			continue
		}
		if _, manifest := r.Inputs["metadata"].(map[string]any); !manifest && r.Type != tokHelmRelease && r.Type != tokHelmChart {
			continue // not an object (a YAML group, a patch without metadata)
		}
		if ns := objectNamespace(p, r); ns == defaultNamespace {
			out = append(out, Finding{r.URN, fmt.Sprintf("%s %s is in the default namespace; give it its own", kindOf(r.Type), objectName(r))})
		}
	}
	return out
}

// defaultDeny reports whether a NetworkPolicy denies all traffic of its namespace both ways:
// an empty podSelector, policyTypes Ingress and Egress, and no rules.
func defaultDeny(np mocks.Resource) bool {
	types := stringsOf(listAt(np.Inputs, "spec", "policyTypes"))
	return emptySelector(mapAt(np.Inputs, "spec", "podSelector")) &&
		slices.Contains(types, "Ingress") && slices.Contains(types, "Egress") &&
		len(listAt(np.Inputs, "spec", "ingress")) == 0 && len(listAt(np.Inputs, "spec", "egress")) == 0
}

func checkDefaultDeny(p *Plan) []Finding {
	denied := map[string]bool{}
	for _, np := range p.OfType(tokNetworkPolicy) {
		if defaultDeny(np) {
			denied[objectNamespace(p, np)] = true
		}
	}
	var out []Finding
	for _, w := range workloads(p) {
		if !denied[w.namespace] {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: namespace %s has no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)", w, w.namespace)})
		}
	}
	return out
}

// pdb is a PodDisruptionBudget: its selector and either minAvailable or maxUnavailable.
type pdb struct {
	res        mocks.Resource
	name       string
	namespace  string
	selector   map[string]any
	minAvail   any // float64 or "N%"; nil when unset
	maxUnavail any
}

func pdbs(p *Plan) []pdb {
	var out []pdb
	for _, r := range p.OfType(tokPDB) {
		out = append(out, pdb{res: r, name: objectName(r), namespace: objectNamespace(p, r), selector: mapAt(r.Inputs, "spec", "selector"),
			minAvail: at(r.Inputs, "spec", "minAvailable"), maxUnavail: at(r.Inputs, "spec", "maxUnavailable")})
	}
	return out
}

// selects reports whether the PDB covers w's pods. A PDB with no selector selects nothing
// (policy/v1).
func (b pdb) selects(w workload) bool {
	return b.namespace == w.namespace && b.selector != nil && selectorMatches(b.selector, w.podLabels())
}

// scaled resolves an int-or-percent against n replicas, rounding up as the disruption
// controller does.
func scaled(v any, n int) (int, error) {
	switch x := v.(type) {
	case float64:
		return int(x), nil
	case string:
		pct, ok := strings.CutSuffix(x, "%")
		f, err := strconv.ParseFloat(pct, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("%q is neither a number nor a percentage", x)
		}
		return int(math.Ceil(f * float64(n) / 100)), nil
	}
	return 0, fmt.Errorf("%v is neither a number nor a percentage", v)
}

// allowedDisruptions is how many of n healthy pods the PDB lets be evicted.
func (b pdb) allowedDisruptions(n int) (int, error) {
	switch {
	case b.minAvail != nil:
		m, err := scaled(b.minAvail, n)
		return n - m, err
	case b.maxUnavail != nil:
		m, err := scaled(b.maxUnavail, n)
		return m, err
	}
	return 0, fmt.Errorf("sets neither minAvailable nor maxUnavailable")
}

// hpa is a HorizontalPodAutoscaler and what it scales.
type hpa struct {
	res                    mocks.Resource
	name, namespace        string
	targetKind, targetName string
	min, max               int
}

func hpas(p *Plan) []hpa {
	var out []hpa
	for _, r := range p.OfType(tokHPA) {
		h := hpa{res: r, name: objectName(r), namespace: objectNamespace(p, r),
			targetKind: strAt(r.Inputs, "spec", "scaleTargetRef", "kind"), targetName: strAt(r.Inputs, "spec", "scaleTargetRef", "name"), min: 1}
		if n, ok := numAt(r.Inputs, "spec", "minReplicas"); ok {
			h.min = int(n)
		}
		if n, ok := numAt(r.Inputs, "spec", "maxReplicas"); ok {
			h.max = int(n)
		}
		out = append(out, h)
	}
	return out
}

func (h hpa) targets(w workload) bool {
	return h.namespace == w.namespace && h.targetKind == w.kind && h.targetName == w.name
}

func checkPDBs(p *Plan) []Finding {
	budgets, scalers := pdbs(p), hpas(p)
	var out []Finding
	for _, w := range workloads(p) {
		n := w.replicas()
		scaled := slices.IndexFunc(scalers, func(h hpa) bool { return h.targets(w) })
		if scaled >= 0 {
			n = max(n, scalers[scaled].max)
		}
		if n < 2 {
			continue
		}
		var mine []pdb
		for _, b := range budgets {
			if b.selects(w) {
				mine = append(mine, b)
			}
		}
		if len(mine) == 0 {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s runs up to %d replicas and no PodDisruptionBudget selects its pods", w, n)})
			continue
		}
		if scaled >= 0 {
			continue // the HPA rule judges the budget at the HPA's minimum
		}
		for _, b := range mine {
			allowed, err := b.allowedDisruptions(w.replicas())
			switch {
			case err != nil:
				out = append(out, Finding{b.res.URN, fmt.Sprintf("PodDisruptionBudget %s/%s: %v", b.namespace, b.name, err)})
			case allowed <= 0:
				out = append(out, Finding{b.res.URN, fmt.Sprintf("PodDisruptionBudget %s/%s allows no eviction of %s's %d replicas (minAvailable must stay below the replicas): node drains would block",
					b.namespace, b.name, w, w.replicas())})
			}
		}
	}
	return out
}

func checkHPAs(p *Plan) []Finding {
	all, budgets := workloads(p), pdbs(p)
	var out []Finding
	for _, h := range hpas(p) {
		i := slices.IndexFunc(all, h.targets)
		if i < 0 {
			out = append(out, Finding{h.res.URN, fmt.Sprintf("HorizontalPodAutoscaler %s/%s scales %s %s, which the plan does not create", h.namespace, h.name, h.targetKind, h.targetName)})
			continue
		}
		w := all[i]
		for _, b := range budgets {
			if !b.selects(w) {
				continue
			}
			if b.minAvail != nil {
				if m, err := scaled(b.minAvail, h.min); err == nil && h.min < m {
					out = append(out, Finding{h.res.URN, fmt.Sprintf("HorizontalPodAutoscaler %s/%s may scale %s to %d replicas, below PodDisruptionBudget %s's minAvailable %d",
						h.namespace, h.name, w, h.min, b.name, m)})
					continue
				}
			}
			allowed, err := b.allowedDisruptions(h.min)
			switch {
			case err != nil:
				out = append(out, Finding{b.res.URN, fmt.Sprintf("PodDisruptionBudget %s/%s: %v", b.namespace, b.name, err)})
			case allowed <= 0:
				out = append(out, Finding{h.res.URN, fmt.Sprintf("at the HorizontalPodAutoscaler's minReplicas %d, PodDisruptionBudget %s/%s allows no eviction of %s: raise minReplicas above what the budget keeps available",
					h.min, b.namespace, b.name, w)})
			}
		}
	}
	return out
}
