package workloads

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
)

// The sanctions lists: one ConfigMap the program creates empty and never writes again, mounted
// read-only into the services that screen, filled by the screening-sync Job on each release
// (before those services start) and by its CronJob daily, through a Role on that ConfigMap only.
func TestScreeningListsAreMountedAndKeptCurrent(t *testing.T) {
	rec, err := run(t, nil)
	require.NoError(t, err)

	lists := object(t, rec, "ConfigMap", Namespace, catalog.ScreeningListsConfigMap)
	assert.Nil(t, lists.Inputs["binaryData"], "created empty: the sync owns the content")
	assert.Nil(t, lists.Inputs["data"])

	for _, s := range catalog.All() {
		spec := dig(podTemplate(t, rec, s), "spec")
		var volume, mount any
		for _, v := range dig(spec, "volumes").([]any) {
			if dig(v, "name") == "screening-lists" {
				volume = v
			}
		}
		for _, m := range dig(spec, "containers", 0, "volumeMounts").([]any) {
			if dig(m, "name") == "screening-lists" {
				mount = m
			}
		}
		env := object(t, rec, "ConfigMap", Namespace, s.Name+"-env")
		if !s.ScreeningLists {
			assert.Nil(t, volume, s.Name)
			assert.Nil(t, mount, s.Name)
			assert.Nil(t, dig(env.Inputs, "data", "SCREENING_LIST"), s.Name)
			continue
		}
		assert.Equal(t, map[string]any{"name": catalog.ScreeningListsConfigMap, "defaultMode": float64(0o444)}, dig(volume, "configMap"), s.Name)
		assert.Equal(t, map[string]any{"name": "screening-lists", "mountPath": "/etc/cantondex-screening", "readOnly": true}, mount, s.Name)
		assert.Equal(t, "/etc/cantondex-screening/sdn.csv.gz", dig(env.Inputs, "data", "SCREENING_LIST"), s.Name)
		assert.Equal(t, "/etc/cantondex-screening/alt.csv.gz", dig(env.Inputs, "data", "SCREENING_ALT"), s.Name)
		assert.Equal(t, "/etc/cantondex-screening/add.csv.gz", dig(env.Inputs, "data", "SCREENING_ADD"), s.Name)
		assert.Equal(t, "ofac-csv", dig(env.Inputs, "data", "SCREENING_FORMAT"), s.Name)
		w := object(t, rec, WorkloadKind(s), Namespace, s.Name)
		assert.Contains(t, w.DependsOn, lists.URN, s.Name)
		assert.Contains(t, w.DependsOn, object(t, rec, "Job", Namespace, catalog.ScreeningSync).URN, "%s starts with a list", s.Name)
	}

	job := object(t, rec, "Job", Namespace, catalog.ScreeningSync)
	cron := object(t, rec, "CronJob", Namespace, catalog.ScreeningSync)
	assert.Equal(t, catalog.ScreeningSyncSchedule, dig(cron.Inputs, "spec", "schedule"))
	assert.Equal(t, "Etc/UTC", dig(cron.Inputs, "spec", "timeZone"))
	assert.Equal(t, "Forbid", dig(cron.Inputs, "spec", "concurrencyPolicy"))
	assert.Equal(t, dig(job.Inputs, "spec"), dig(cron.Inputs, "spec", "jobTemplate", "spec"), "the CronJob runs the release's Job")
	pod := dig(cron.Inputs, "spec", "jobTemplate", "spec", "template")
	assert.Equal(t, true, dig(pod, "spec", "automountServiceAccountToken"))
	assert.NotEmpty(t, dig(pod, "metadata", "annotations", KubeAPIAccessAnnotation), "the token is justified")
	assert.Equal(t, catalog.ScreeningSync, dig(pod, "spec", "serviceAccountName"))
	assert.Equal(t, "screening-lists", dig(object(t, rec, "ConfigMap", Namespace, "screening-sync-env").Inputs, "data", "SYNC_CONFIGMAP"))
	assert.Contains(t, job.DependsOn, lists.URN, "the Job patches an existing ConfigMap")

	role := object(t, rec, "Role", Namespace, catalog.ScreeningSync)
	assert.Equal(t, []any{map[string]any{
		"apiGroups": []any{""}, "resources": []any{"configmaps"}, "resourceNames": []any{catalog.ScreeningListsConfigMap},
		"verbs": []any{"get", "update", "patch"},
	}}, role.Inputs["rules"], "that one ConfigMap, nothing else")
	binding := object(t, rec, "RoleBinding", Namespace, catalog.ScreeningSync)
	assert.Equal(t, map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": catalog.ScreeningSync}, binding.Inputs["roleRef"])
	assert.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": catalog.ScreeningSync, "namespace": Namespace}}, binding.Inputs["subjects"])
	assert.Contains(t, job.DependsOn, binding.URN, "the Job waits for its permission")
}
