package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func release(name, chart, version, namespace string, values m) mocks.Resource {
	return r(tokHelmRelease, name, m{"chart": chart, "version": version, "namespace": namespace,
		"repositoryOpts": m{"repo": "https://charts.example.org"}, "values": values})
}

func namespace(name, enforce string) mocks.Resource {
	return r(tokNamespace, "ns-"+name, m{"metadata": m{"name": name, "labels": m{psaEnforce: enforce}}})
}

func fluentBitValues() m {
	return m{
		"daemonSetVolumes": []any{
			m{"name": "varlog", "hostPath": m{"path": "/var/log"}},
			m{"name": "state", "hostPath": m{"path": "/var/fluent-bit/state", "type": "DirectoryOrCreate"}},
		},
		"daemonSetVolumeMounts": []any{
			m{"name": "varlog", "mountPath": "/var/log", "readOnly": true},
			m{"name": "state", "mountPath": "/var/fluent-bit/state"},
		},
		"securityContext": m{"privileged": false, "allowPrivilegeEscalation": false},
		"hostNetwork":     false,
	}
}

func TestReleasesPinnedToOneVersion(t *testing.T) {
	ru := rule(t, "helm-release-pinned")
	ok := release("ok", "fluent-bit", "0.58.2", "logs", m{})
	assert.Empty(t, ru.Check(&Plan{Resources: []mocks.Resource{ok}}))
	for _, version := range []string{"", "^0.58.0", "0.58.x", "~0.58", ">=0.58.2", "*", "latest"} {
		bad := release("bad", "fluent-bit", version, "logs", m{})
		got := ru.Check(&Plan{Resources: []mocks.Resource{ok, bad}})
		require.Len(t, got, 1, "version %q", version)
		assert.Equal(t, bad.URN, got[0].Resource)
		assert.Contains(t, got[0].Message, "not one exact version")
	}
	plain := release("http", "fluent-bit", "0.58.2", "logs", m{})
	plain.Inputs["repositoryOpts"] = m{"repo": "http://charts.example.org"}
	got := ru.Check(&Plan{Resources: []mocks.Resource{plain}})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "not https://")
}

func TestPrometheusStorageEncrypted(t *testing.T) {
	ru := rule(t, "prometheus-storage-encrypted")
	values := func(class string) m {
		spec := m{"retention": "30d"}
		if class != "" {
			spec["storageSpec"] = m{"volumeClaimTemplate": m{"spec": m{"storageClassName": class}}}
		}
		return m{"prometheus": m{"prometheusSpec": spec}}
	}
	class := func(encrypted string) mocks.Resource {
		return r(tokStorageClass, "gp3", m{"metadata": m{"name": "gp3-encrypted"}, "provisioner": "ebs.csi.aws.com",
			"parameters": m{"type": "gp3", "encrypted": encrypted}})
	}
	prom := release("prom", prometheusChart, "77.0.0", "mon", values("gp3-encrypted"))
	assert.Empty(t, ru.Check(&Plan{Resources: []mocks.Resource{class("true"), prom}}))

	got := ru.Check(&Plan{Resources: []mocks.Resource{class("false"), prom}})
	require.Len(t, got, 1, "an unencrypted class")
	assert.Equal(t, class("false").URN, got[0].Resource)

	got = ru.Check(&Plan{Resources: []mocks.Resource{prom}})
	require.Len(t, got, 1, "a class the plan does not show")
	assert.Contains(t, got[0].Message, "not in the plan")

	got = ru.Check(&Plan{Resources: []mocks.Resource{class("true"), release("prom", prometheusChart, "77.0.0", "mon", values(""))}})
	require.Len(t, got, 1, "no persistent volume")
	assert.Contains(t, got[0].Message, "no volumeClaimTemplate")

	noRetention := values("gp3-encrypted")
	delete(mapAt(noRetention, "prometheus", "prometheusSpec"), "retention")
	got = ru.Check(&Plan{Resources: []mocks.Resource{class("true"), release("prom", prometheusChart, "77.0.0", "mon", noRetention)}})
	require.Len(t, got, 1, "no retention")
	assert.Contains(t, got[0].Message, "retention")
}

func TestOnlyFluentBitBelowRestricted(t *testing.T) {
	ru := rule(t, "logging-namespace-fluent-bit-only")
	logs, apps := namespace("logs", "privileged"), namespace("apps", "restricted")
	fb := release("fb", fluentBitChart, "0.58.2", "logs", fluentBitValues())
	good := []mocks.Resource{logs, apps, fb, release("other", "external-secrets", "1.3.2", "apps", m{})}
	assert.Empty(t, ru.Check(&Plan{Resources: good}))

	t.Run("another release", func(t *testing.T) {
		bad := release("prom", prometheusChart, "77.0.0", "logs", m{})
		got := ru.Check(&Plan{Resources: append(append([]mocks.Resource{}, good...), bad)})
		require.Len(t, got, 1)
		assert.Equal(t, bad.URN, got[0].Resource)
	})
	t.Run("a planned workload", func(t *testing.T) {
		dep := r(tokDeployment, "dep", m{"metadata": m{"name": "x", "namespace": "logs"},
			"spec": m{"template": m{"spec": m{"containers": []any{m{"name": "x", "image": "x"}}}}}})
		got := ru.Check(&Plan{Resources: append(append([]mocks.Resource{}, good...), dep)})
		require.Len(t, got, 1)
		assert.Equal(t, dep.URN, got[0].Resource)
	})
	for name, breakIt := range map[string]func(v m){
		"writable /var/log": func(v m) { listAt(v, "daemonSetVolumeMounts")[0].(m)["readOnly"] = false },
		"another host path": func(v m) { listAt(v, "daemonSetVolumes")[1].(m)["hostPath"] = m{"path": "/etc"} },
		"no /var/log mount": func(v m) { v["daemonSetVolumeMounts"] = []any{} },
		"privileged":        func(v m) { v["securityContext"].(m)["privileged"] = true },
		"escalation":        func(v m) { delete(v["securityContext"].(m), "allowPrivilegeEscalation") },
		"host network":      func(v m) { v["hostNetwork"] = true },
	} {
		t.Run(name, func(t *testing.T) {
			v := fluentBitValues()
			breakIt(v)
			bad := release("fb", fluentBitChart, "0.58.2", "logs", v)
			got := ru.Check(&Plan{Resources: []mocks.Resource{logs, apps, bad}})
			require.NotEmpty(t, got)
			assert.Equal(t, bad.URN, got[0].Resource)
		})
	}
}
