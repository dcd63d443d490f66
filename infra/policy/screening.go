package policy

import (
	"fmt"
	"strings"

	"github.com/cantondex/platform/services/catalog"
)

const (
	tokConfigMap = "kubernetes:core/v1:ConfigMap"
	tokK8sRole   = "kubernetes:rbac.authorization.k8s.io/v1:Role"
)

// screeningRules: the services that screen KYC applications and withdrawals screen against a
// list the cluster carries, and the role that writes the lists writes nothing else.
func screeningRules() []Rule {
	return []Rule{
		{ID: "screening-list-mounted", Mirrors: "platform rule (compliance: BSA/OFAC screening)",
			Summary: "the api-gateway and compliance-service pods set SCREENING_LIST to a file of a ConfigMap of the plan mounted read-only",
			Check:   checkScreeningList},
		{ID: "k8s-role-writes-named-objects", Mirrors: "CKV_K8S_49, KSV-0049 (narrowed)",
			Summary: "every Role rule that may update, patch or delete names its objects (resourceNames) and grants no wildcard",
			Check:   checkRoleWrites},
	}
}

// screeningServices must screen wherever they run.
var screeningServices = map[string]bool{catalog.APIGateway: true, catalog.ComplianceService: true}

func checkScreeningList(p *Plan) []Finding {
	configMaps := map[string]map[string]any{} // namespace/name -> data
	for _, cm := range p.OfType(tokConfigMap) {
		configMaps[objectNamespace(p, cm)+"/"+objectName(cm)] = mapAt(cm.Inputs, "data")
	}
	var out []Finding
	for _, w := range workloads(p) {
		if !screeningServices[w.podLabels()[labelName]] || w.runsToCompletion() {
			continue
		}
		bad := func(format string, args ...any) {
			out = append(out, Finding{w.res.URN, fmt.Sprintf("%s: ", w) + fmt.Sprintf(format, args...)})
		}
		volumes := map[string]string{} // volume -> ConfigMap
		for _, v := range listAt(w.podSpec(), "volumes") {
			if name := strAt(v, "configMap", "name"); name != "" {
				volumes[strAt(v, "name")] = name
			}
		}
		for _, c := range w.containers() {
			if c.init {
				continue
			}
			list := ""
			for _, from := range listAt(c.spec, "envFrom") {
				if v, ok := configMaps[w.namespace+"/"+strAt(from, "configMapRef", "name")]["SCREENING_LIST"].(string); ok {
					list = v
				}
			}
			for _, e := range listAt(c.spec, "env") {
				if strAt(e, "name") == "SCREENING_LIST" {
					list = strAt(e, "value")
				}
			}
			if list == "" {
				bad("container %s sets no SCREENING_LIST: it screens nobody against a sanctions list", c.name)
				continue
			}
			found := false
			for _, m := range listAt(c.spec, "volumeMounts") {
				dir := strings.TrimSuffix(strAt(m, "mountPath"), "/")
				if dir == "" || !strings.HasPrefix(list, dir+"/") {
					continue
				}
				cm, isCM := volumes[strAt(m, "name")]
				readOnly, _ := boolAt(m, "readOnly")
				_, planned := configMaps[w.namespace+"/"+cm]
				switch {
				case !isCM:
					bad("container %s: SCREENING_LIST %s is on volume %s, not a ConfigMap of the plan", c.name, list, strAt(m, "name"))
				case !planned:
					bad("container %s: SCREENING_LIST %s is in ConfigMap %s, which the plan does not create", c.name, list, cm)
				case !readOnly:
					bad("container %s: the lists' mount %s is writable", c.name, dir)
				}
				found = true
			}
			if !found {
				bad("container %s: SCREENING_LIST %s is on no mounted volume", c.name, list)
			}
		}
	}
	return out
}

var writeVerbs = map[string]bool{"update": true, "patch": true, "delete": true, "deletecollection": true, "*": true}

func checkRoleWrites(p *Plan) []Finding {
	var out []Finding
	for _, r := range p.OfType(tokK8sRole) {
		for i, rule := range listAt(r.Inputs, "rules") {
			verbs, resources := stringsOf(listAt(rule, "verbs")), stringsOf(listAt(rule, "resources"))
			writes := false
			for _, v := range verbs {
				writes = writes || writeVerbs[v]
			}
			wild := false
			for _, s := range append(append(verbs, resources...), stringsOf(listAt(rule, "apiGroups"))...) {
				wild = wild || s == "*"
			}
			where := fmt.Sprintf("Role %s/%s rule %d", objectNamespace(p, r), objectName(r), i)
			if wild {
				out = append(out, Finding{r.URN, where + ": grants a wildcard (verbs, resources or apiGroups *)"})
			}
			if writes && len(stringsOf(listAt(rule, "resourceNames"))) == 0 {
				out = append(out, Finding{r.URN, fmt.Sprintf("%s: may %v any of %v; name the objects (resourceNames)", where, verbs, resources)})
			}
		}
	}
	return out
}
