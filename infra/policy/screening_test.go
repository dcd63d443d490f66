package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

// screeningPlan is a gateway Deployment whose env ConfigMap sets SCREENING_LIST into the
// lists' ConfigMap, mounted read-only; edit changes the pieces before the plan is built.
func screeningPlan(edit func(env, mount, volume m)) []mocks.Resource {
	api := m{"app.kubernetes.io/name": "api-gateway"}
	env := m{"SCREENING_LIST": "/etc/cantondex-screening/sdn.csv.gz"}
	mount := m{"name": "screening-lists", "mountPath": "/etc/cantondex-screening", "readOnly": true}
	volume := m{"name": "screening-lists", "configMap": m{"name": "screening-lists"}}
	if edit != nil {
		edit(env, mount, volume)
	}
	return []mocks.Resource{
		r(tokConfigMap, "env", m{"metadata": meta("api-gateway-env", nil), "data": env}),
		r(tokConfigMap, "lists", m{"metadata": meta("screening-lists", nil)}),
		r(tokDeployment, "api", m{"metadata": meta("api-gateway", api), "spec": m{"template": m{
			"metadata": m{"labels": api},
			"spec": m{
				"containers": []any{m{"name": "api-gateway", "envFrom": []any{m{"configMapRef": m{"name": "api-gateway-env"}}},
					"volumeMounts": []any{mount}}},
				"volumes": []any{volume},
			},
		}}}),
	}
}

func TestScreeningListMounted(t *testing.T) {
	check := rule(t, "screening-list-mounted").Check
	assert.Empty(t, check(&Plan{Resources: screeningPlan(nil)}))
	for name, tc := range map[string]struct {
		edit func(env, mount, volume m)
		want string
	}{
		"no list":           {func(env, _, _ m) { delete(env, "SCREENING_LIST") }, "sets no SCREENING_LIST"},
		"writable mount":    {func(_, mount, _ m) { mount["readOnly"] = false }, "is writable"},
		"not mounted":       {func(env, _, _ m) { env["SCREENING_LIST"] = "/data/sdn.csv" }, "on no mounted volume"},
		"not a ConfigMap":   {func(_, _, volume m) { delete(volume, "configMap"); volume["emptyDir"] = m{} }, "not a ConfigMap"},
		"unknown ConfigMap": {func(_, _, volume m) { volume["configMap"] = m{"name": "elsewhere"} }, "does not create"},
	} {
		t.Run(name, func(t *testing.T) {
			got := check(&Plan{Resources: screeningPlan(tc.edit)})
			require.Len(t, got, 1)
			assert.Equal(t, "urn:"+tokDeployment+"::api", got[0].Resource)
			assert.Contains(t, got[0].Message, tc.want)
		})
	}
	// Other services and Jobs are not judged.
	other := screeningPlan(func(env, _, _ m) { delete(env, "SCREENING_LIST") })
	other[2].Inputs["spec"].(m)["template"].(m)["metadata"] = m{"labels": m{"app.kubernetes.io/name": "matching-engine"}}
	assert.Empty(t, check(&Plan{Resources: other}))
}

func TestRoleWritesNamedObjects(t *testing.T) {
	check := rule(t, "k8s-role-writes-named-objects").Check
	role := func(rules ...m) []mocks.Resource {
		var list []any
		for _, ru := range rules {
			list = append(list, ru)
		}
		return []mocks.Resource{r(tokK8sRole, "role", m{"metadata": meta("screening-sync", nil), "rules": list})}
	}
	named := m{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "resourceNames": []any{"screening-lists"}, "verbs": []any{"get", "update", "patch"}}
	assert.Empty(t, check(&Plan{Resources: role(named)}))
	assert.Empty(t, check(&Plan{Resources: role(m{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get", "list"}})}), "reading needs no names")

	got := check(&Plan{Resources: role(named, m{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"patch"}})})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "rule 1: may [patch] any of [configmaps]")
	got = check(&Plan{Resources: role(m{"apiGroups": []any{"*"}, "resources": []any{"configmaps"}, "resourceNames": []any{"x"}, "verbs": []any{"get"}})})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "wildcard")
}
