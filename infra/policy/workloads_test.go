package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const testDigest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// goodContainer is a container that passes every container rule.
func goodContainer(name string, probes bool) m {
	c := m{
		"name": name, "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/" + name + testDigest,
		"ports": []any{m{"name": "ops", "containerPort": 9090.0}},
		"securityContext": m{
			"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "privileged": false,
			"capabilities": m{"drop": []any{"ALL"}},
		},
		"resources": m{"requests": m{"cpu": "250m", "memory": "256Mi"}, "limits": m{"cpu": "1", "memory": "512Mi"}},
	}
	if probes {
		c["livenessProbe"] = m{"httpGet": m{"path": "/health", "port": "ops"}}
		c["readinessProbe"] = m{"httpGet": m{"path": "/ready", "port": "ops"}}
	}
	return c
}

func goodPodSpec(name string, probes bool) m {
	return m{
		"serviceAccountName": name, "automountServiceAccountToken": false,
		"securityContext": m{"runAsNonRoot": true, "runAsUser": 1000.0, "seccompProfile": m{"type": "RuntimeDefault"}},
		"initContainers":  []any{goodContainer("wait", false)},
		"containers":      []any{goodContainer(name, probes)},
	}
}

func meta(name string, labels m) m {
	return m{"name": name, "namespace": "cantondex", "labels": labels}
}

// goodWorkloads is a namespace that passes every workload rule: a Deployment of 3 replicas
// with a PDB and an HPA, a Job, their ServiceAccounts and the namespace's default deny.
func goodWorkloads() []mocks.Resource {
	api := m{"app.kubernetes.io/name": "api-gateway"}
	job := m{"app.kubernetes.io/name": "kafka-topics"}
	return []mocks.Resource{
		r(tokNamespace, "cantondex", m{"metadata": m{"name": "cantondex"}}),
		r(tokNetworkPolicy, "deny", m{"metadata": meta("default-deny", nil), "spec": m{"podSelector": m{}, "policyTypes": []any{"Ingress", "Egress"}}}),
		r(tokServiceAccount, "sa-api", m{"metadata": meta("api-gateway", nil), "automountServiceAccountToken": false}),
		r(tokServiceAccount, "sa-job", m{"metadata": meta("kafka-topics", nil), "automountServiceAccountToken": false}),
		r(tokDeployment, "api", m{"metadata": meta("api-gateway", api), "spec": m{
			"replicas": 3.0, "selector": m{"matchLabels": api},
			"template": m{"metadata": m{"labels": api}, "spec": goodPodSpec("api-gateway", true)},
		}}),
		r(tokPDB, "api-pdb", m{"metadata": meta("api-gateway", nil), "spec": m{"minAvailable": 2.0, "selector": m{"matchLabels": api}}}),
		r(tokHPA, "api-hpa", m{"metadata": meta("api-gateway", nil), "spec": m{
			"scaleTargetRef": m{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api-gateway"}, "minReplicas": 3.0, "maxReplicas": 6.0,
		}}),
		r(tokJob, "topics", m{"metadata": meta("kafka-topics", job), "spec": m{
			"template": m{"metadata": m{"labels": job}, "spec": goodPodSpec("kafka-topics", false)},
		}}),
	}
}

// edit changes the input at a dotted path of the named resource (list elements by index); a
// nil value deletes it.
func edit(rs []mocks.Resource, name, path string, v any) []mocks.Resource {
	for _, res := range rs {
		if res.Name != name {
			continue
		}
		var cur any = res.Inputs
		keys := strings.Split(path, ".")
		for i, k := range keys {
			last := i == len(keys)-1
			switch node := cur.(type) {
			case map[string]any:
				if last {
					if v == nil {
						delete(node, k)
					} else {
						node[k] = v
					}
					return rs
				}
				if node[k] == nil {
					node[k] = m{}
				}
				cur = node[k]
			case []any:
				idx, err := strconv.Atoi(k)
				if err != nil {
					panic(path)
				}
				if last {
					node[idx] = v
					return rs
				}
				cur = node[idx]
			}
		}
	}
	panic("no resource " + name)
}

func without(rs []mocks.Resource, name string) []mocks.Resource {
	out := []mocks.Resource{}
	for _, res := range rs {
		if res.Name != name {
			out = append(out, res)
		}
	}
	return out
}

const (
	apiPod  = "spec.template.spec"
	apiMain = apiPod + ".containers.0"
	apiInit = apiPod + ".initContainers.0"
)

func TestWorkloadRulesPassACompliantNamespace(t *testing.T) {
	p := &Plan{Environment: "prod", Resources: goodWorkloads()}
	for _, ru := range workloadRules() {
		assert.Empty(t, ru.Check(p), ru.ID)
	}
	// The Job runs to completion: no probes needed, and no PDB for its single pod.
	assert.Len(t, workloads(p), 2)
}

func TestWorkloadRulesFailOnViolations(t *testing.T) {
	tests := []struct {
		name, rule string
		change     func([]mocks.Resource) []mocks.Resource
		failsOn    string // resource name
		contains   string
	}{
		{"pod not non-root", "k8s-run-as-non-root", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiPod+".securityContext.runAsNonRoot", nil)
		}, "api", "runAsNonRoot is not true"},
		{"container overrides runAsNonRoot", "k8s-run-as-non-root", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.runAsNonRoot", false)
		}, "api", "container api-gateway: runAsNonRoot"},
		{"init container as UID 0", "k8s-run-as-non-root", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiInit+".securityContext.runAsUser", 0.0)
		}, "api", "init container wait: runAsUser is 0"},
		{"writable root filesystem", "k8s-read-only-root-fs", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.readOnlyRootFilesystem", false)
		}, "api", "readOnlyRootFilesystem is not true"},
		{"init container without read-only root", "k8s-read-only-root-fs", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "topics", apiInit+".securityContext.readOnlyRootFilesystem", nil)
		}, "topics", "init container wait"},
		{"privilege escalation unset", "k8s-no-privilege-escalation", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.allowPrivilegeEscalation", nil)
		}, "api", "allowPrivilegeEscalation is not false"},
		{"privilege escalation on", "k8s-no-privilege-escalation", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "topics", apiMain+".securityContext.allowPrivilegeEscalation", true)
		}, "topics", "allowPrivilegeEscalation is not false"},
		{"drops only NET_RAW", "k8s-drop-all-capabilities", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.capabilities.drop", []any{"NET_RAW"})
		}, "api", "does not contain ALL"},
		{"adds SYS_ADMIN", "k8s-drop-all-capabilities", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.capabilities.add", []any{"SYS_ADMIN"})
		}, "api", "adds capability SYS_ADMIN"},
		{"no seccomp profile", "k8s-seccomp-runtime-default", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiPod+".securityContext.seccompProfile", nil)
		}, "api", "no seccompProfile"},
		{"container unconfined", "k8s-seccomp-runtime-default", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.seccompProfile", m{"type": "Unconfined"})
		}, "api", "type is Unconfined"},
		{"privileged", "k8s-not-privileged", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiInit+".securityContext.privileged", true)
		}, "api", "privileged is true"},
		{"no CPU request", "k8s-cpu-requests", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".resources.requests.cpu", nil)
		}, "api", "no resources.requests.cpu"},
		{"no CPU limit", "k8s-cpu-limits", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "topics", apiMain+".resources.limits.cpu", nil)
		}, "topics", "no resources.limits.cpu"},
		{"no memory request", "k8s-memory-requests", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiInit+".resources.requests.memory", nil)
		}, "api", "no resources.requests.memory"},
		{"no memory limit", "k8s-memory-limits", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".resources.limits", nil)
		}, "api", "no resources.limits.memory"},
		{"no liveness probe", "k8s-liveness-probe", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".livenessProbe", nil)
		}, "api", "no livenessProbe"},
		{"no readiness probe", "k8s-readiness-probe", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".readinessProbe", nil)
		}, "api", "no readinessProbe"},
		{"image by tag", "k8s-image-digest", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".image", "registry/api-gateway:latest")
		}, "api", "not pinned by digest"},
		{"short digest", "k8s-image-digest", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "topics", apiInit+".image", "registry/wait@sha256:abcdef")
		}, "topics", "init container wait"},
		{"pod mounts the token", "k8s-sa-token-not-mounted", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiPod+".automountServiceAccountToken", true)
		}, "api", "sets automountServiceAccountToken true"},
		{"ServiceAccount mounts the token", "k8s-sa-token-not-mounted", func(rs []mocks.Resource) []mocks.Resource {
			return edit(edit(rs, "api", apiPod+".automountServiceAccountToken", nil), "sa-api", "automountServiceAccountToken", true)
		}, "api", "nor ServiceAccount api-gateway"},
		{"ServiceAccount keeps the default", "k8s-sa-token-not-mounted", func(rs []mocks.Resource) []mocks.Resource {
			return edit(edit(rs, "api", apiPod+".automountServiceAccountToken", nil), "sa-api", "automountServiceAccountToken", nil)
		}, "api", "nor ServiceAccount api-gateway"},
		{"ServiceAccount not in the plan", "k8s-sa-token-not-mounted", func(rs []mocks.Resource) []mocks.Resource {
			return edit(without(rs, "sa-job"), "topics", apiPod+".automountServiceAccountToken", nil)
		}, "topics", "token of ServiceAccount kafka-topics, which the plan does not create"},
		{"host PID", "k8s-no-host-pid", func(rs []mocks.Resource) []mocks.Resource { return edit(rs, "api", apiPod+".hostPID", true) }, "api", "hostPID is true"},
		{"host IPC", "k8s-no-host-ipc", func(rs []mocks.Resource) []mocks.Resource { return edit(rs, "api", apiPod+".hostIPC", true) }, "api", "hostIPC is true"},
		{"host network", "k8s-no-host-network", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "topics", apiPod+".hostNetwork", true)
		}, "topics", "hostNetwork is true"},
		{"no namespace", "k8s-no-default-namespace", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api-pdb", "metadata.namespace", nil)
		}, "api-pdb", "PodDisruptionBudget api-gateway is in the default namespace"},
		{"explicitly default", "k8s-no-default-namespace", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "sa-api", "metadata.namespace", "default")
		}, "sa-api", "ServiceAccount api-gateway is in the default namespace"},
		{"a Helm release in default", "k8s-no-default-namespace", func(rs []mocks.Resource) []mocks.Resource {
			return append(rs, r(tokHelmRelease, "lbc", m{"chart": "aws-load-balancer-controller"}))
		}, "lbc", "Release lbc"},
		{"no default deny", "k8s-default-deny-netpol", func(rs []mocks.Resource) []mocks.Resource { return without(rs, "deny") }, "api", "no default-deny NetworkPolicy"},
		{"deny with a rule is no deny", "k8s-default-deny-netpol", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "deny", "spec.egress", []any{m{"to": []any{m{"ipBlock": m{"cidr": "0.0.0.0/0"}}}}})
		}, "topics", "namespace cantondex has no default-deny"},
		{"deny of ingress only", "k8s-default-deny-netpol", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "deny", "spec.policyTypes", []any{"Ingress"})
		}, "api", "no default-deny"},
		{"deny of some pods only", "k8s-default-deny-netpol", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "deny", "spec.podSelector", m{"matchLabels": m{"app.kubernetes.io/name": "api-gateway"}})
		}, "topics", "no default-deny"},
		{"no PDB", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource { return without(rs, "api-pdb") }, "api", "runs up to 6 replicas and no PodDisruptionBudget"},
		{"PDB selects other pods", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api-pdb", "spec.selector.matchLabels", m{"app.kubernetes.io/name": "other"})
		}, "api", "no PodDisruptionBudget"},
		{"PDB keeps every replica", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource {
			return edit(without(rs, "api-hpa"), "api-pdb", "spec.minAvailable", 3.0)
		}, "api-pdb", "allows no eviction of Deployment cantondex/api-gateway's 3 replicas"},
		{"PDB keeps 100%", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource {
			return edit(without(rs, "api-hpa"), "api-pdb", "spec.minAvailable", "100%")
		}, "api-pdb", "allows no eviction"},
		{"PDB keeps 67% of 3, rounded up", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource {
			return edit(without(rs, "api-hpa"), "api-pdb", "spec.minAvailable", "67%")
		}, "api-pdb", "allows no eviction"},
		{"PDB allows no unavailable pod", "k8s-pdb-for-replicas", func(rs []mocks.Resource) []mocks.Resource {
			return edit(edit(without(rs, "api-hpa"), "api-pdb", "spec.minAvailable", nil), "api-pdb", "spec.maxUnavailable", 0.0)
		}, "api-pdb", "allows no eviction"},
		{"HPA below the PDB", "k8s-hpa-not-below-pdb", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api-hpa", "spec.minReplicas", 1.0)
		}, "api-hpa", "may scale Deployment cantondex/api-gateway to 1 replicas, below PodDisruptionBudget api-gateway's minAvailable 2"},
		{"HPA minimum equal to the PDB", "k8s-hpa-not-below-pdb", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api-hpa", "spec.minReplicas", 2.0)
		}, "api-hpa", "at the HorizontalPodAutoscaler's minReplicas 2, PodDisruptionBudget cantondex/api-gateway allows no eviction"},
		{"HPA of nothing", "k8s-hpa-not-below-pdb", func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api-hpa", "spec.scaleTargetRef.kind", "StatefulSet")
		}, "api-hpa", "scales StatefulSet api-gateway, which the plan does not create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := tt.change(goodWorkloads())
			got := rule(t, tt.rule).Check(&Plan{Environment: "prod", Resources: rs})
			require.NotEmpty(t, got, "the rule passed the violation")
			var urn string
			for _, res := range rs {
				if res.Name == tt.failsOn {
					urn = res.URN
				}
			}
			var urns []string
			for _, f := range got {
				urns = append(urns, f.Resource)
				assert.Contains(t, f.Message, tt.contains)
			}
			assert.Contains(t, urns, urn)
		})
	}
}

// TestWorkloadRulesAcceptEquivalentSettings checks the other compliant ways of saying the same.
func TestWorkloadRulesAcceptEquivalentSettings(t *testing.T) {
	tests := []struct {
		name   string
		rules  []string
		change func([]mocks.Resource) []mocks.Resource
	}{
		{"non-root and seccomp on the containers only", []string{"k8s-run-as-non-root", "k8s-seccomp-runtime-default"}, func(rs []mocks.Resource) []mocks.Resource {
			for _, c := range []string{apiMain, apiInit} {
				rs = edit(rs, "api", c+".securityContext.runAsNonRoot", true)
				rs = edit(rs, "api", c+".securityContext.seccompProfile", m{"type": "RuntimeDefault"})
			}
			return edit(rs, "api", apiPod+".securityContext", nil)
		}},
		{"a Localhost seccomp profile", []string{"k8s-seccomp-runtime-default"}, func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiPod+".securityContext.seccompProfile", m{"type": "Localhost", "localhostProfile": "profiles/cdx.json"})
		}},
		{"NET_BIND_SERVICE added back", []string{"k8s-drop-all-capabilities"}, func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiMain+".securityContext.capabilities.add", []any{"NET_BIND_SERVICE"})
		}},
		{"the ServiceAccount turns the token off", []string{"k8s-sa-token-not-mounted"}, func(rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "api", apiPod+".automountServiceAccountToken", nil)
		}},
		{"a justified token", []string{"k8s-sa-token-not-mounted"}, func(rs []mocks.Resource) []mocks.Resource {
			rs = edit(rs, "api", apiPod+".automountServiceAccountToken", true)
			return edit(rs, "api", "spec.template.metadata.annotations", m{tokenJustification: "watches its own Lease for leader election"})
		}},
		{"the provider's default namespace", []string{"k8s-no-default-namespace"}, func(rs []mocks.Resource) []mocks.Resource {
			prov := r(tokK8sProvider, "k8s", m{"namespace": "cantondex"})
			rs = edit(rs, "sa-api", "metadata.namespace", nil)
			for i := range rs {
				if rs[i].Name == "sa-api" {
					rs[i].Provider = prov.URN + "::k8s-id"
				}
			}
			return append(rs, prov, r(tokHelmRelease, "lbc", m{"namespace": "kube-system"}))
		}},
		{"a percentage PDB and a single-replica workload without one", []string{"k8s-pdb-for-replicas", "k8s-hpa-not-below-pdb"}, func(rs []mocks.Resource) []mocks.Resource {
			rs = edit(rs, "api-pdb", "spec.minAvailable", "50%") // 2 of 3
			one := m{"app.kubernetes.io/name": "one"}
			return append(rs, r(tokStatefulSet, "one", m{"metadata": meta("one", one), "spec": m{
				"replicas": 1.0, "template": m{"metadata": m{"labels": one}, "spec": goodPodSpec("one", true)}}}))
		}},
		{"a PDB by maxUnavailable under the HPA", []string{"k8s-pdb-for-replicas", "k8s-hpa-not-below-pdb"}, func(rs []mocks.Resource) []mocks.Resource {
			return edit(edit(rs, "api-pdb", "spec.minAvailable", nil), "api-pdb", "spec.maxUnavailable", 1.0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Environment: "prod", Resources: tt.change(goodWorkloads())}
			for _, id := range tt.rules {
				assert.Empty(t, rule(t, id).Check(p), id)
			}
		})
	}
}

func TestPodTemplatesOfEveryKind(t *testing.T) {
	labels := m{"app.kubernetes.io/name": "x"}
	tmpl := func() m { return m{"metadata": m{"labels": labels}, "spec": goodPodSpec("x", true)} }
	p := &Plan{Resources: []mocks.Resource{
		r(tokDaemonSet, "ds", m{"metadata": meta("ds", nil), "spec": m{"template": tmpl()}}),
		r(tokCronJob, "cj", m{"metadata": meta("cj", nil), "spec": m{"jobTemplate": m{"spec": m{"template": tmpl()}}}}),
		r(tokPod, "pod", m{"metadata": meta("pod", labels), "spec": goodPodSpec("x", true)}),
	}}
	ws := workloads(p)
	require.Len(t, ws, 3)
	for _, w := range ws {
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": "x"}, w.podLabels(), w.kind)
		assert.Len(t, w.containers(), 2, w.kind)
	}
	p.Resources = edit(p.Resources, "cj", "spec.jobTemplate.spec.template.spec.containers.0.securityContext.privileged", true)
	got := rule(t, "k8s-not-privileged").Check(p)
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "CronJob cantondex/cj, container x")
}

func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	expr := func(key, op string, values ...any) m {
		return m{"matchExpressions": []any{m{"key": key, "operator": op, "values": values}}}
	}
	for _, tt := range []struct {
		sel  m
		want bool
	}{
		{m{}, true},
		{m{"matchLabels": m{"app": "web"}}, true},
		{m{"matchLabels": m{"app": "web", "tier": "back"}}, false},
		{m{"matchLabels": m{"zone": "a"}}, false},
		{expr("app", "In", "web", "api"), true},
		{expr("app", "In", "api"), false},
		{expr("app", "NotIn", "web"), false},
		{expr("zone", "NotIn", "a"), true},
		{expr("tier", "Exists"), true},
		{expr("zone", "Exists"), false},
		{expr("zone", "DoesNotExist"), true},
		{expr("app", "DoesNotExist"), false},
		{expr("app", "Matches", "web"), false},
	} {
		assert.Equal(t, tt.want, selectorMatches(tt.sel, labels), "%v", tt.sel)
	}
}

func TestRuleIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, ru := range Rules() {
		assert.False(t, seen[ru.ID], "rule %s registered twice", ru.ID)
		seen[ru.ID] = true
		assert.NotEmpty(t, ru.Mirrors, ru.ID)
	}
	for _, ru := range append(workloadRules(), netpolRules()...) {
		assert.True(t, seen[ru.ID], "rule %s is not in Rules()", ru.ID)
	}
}
