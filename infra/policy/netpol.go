package policy

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/services/catalog"
)

// Where the pods live that the plan does not create but the catalog's flows name (contract C2,
// C3): kube-dns in kube-system, Prometheus and the OpenTelemetry collector (a Helm release, so
// its pods are not in the plan) in the monitoring namespace. The catalog's own pods
// run in catalogNamespace.
const (
	catalogNamespace    = "cantondex"
	monitoringNamespace = "cantondex-monitoring"
	kubeSystem          = "kube-system"
	// collectorName is the app.kubernetes.io/name of the collector's pods (components/tracing's
	// chart), the catalog's EndpointTracing.
	collectorName = "opentelemetry-collector"
)

// netpolRules are the rules on what the NetworkPolicies let through.
func netpolRules() []Rule {
	return []Rule{
		{ID: "netpol-matches-catalog", Mirrors: "platform rule", Summary: "the NetworkPolicies allow exactly the flows the service catalog needs (catalog.Flows), nothing more, nothing less",
			Check: netpolMatches(catalog.Flows())},
	}
}

// netPort is a container port a named NetworkPolicy port resolves to.
type netPort struct {
	name  string
	proto int // index in protocols
	port  int
}

// netPod is a group of pods with one template: a flow endpoint.
type netPod struct {
	name      string // the endpoint name: the catalog name (app.kubernetes.io/name), "dns", or the workload's name
	namespace string
	labels    map[string]string
	ports     []netPort
	planned   bool // created by the plan (not kube-dns or Prometheus stood in for)
}

// external is a named address range outside the pod network: a destination on one port (the
// data tier, the AWS APIs) or a source (the ALB, port 0).
type external struct {
	name  string
	addrs ipSet
	proto int
	port  int
}

// npPeer is one peer of a rule: an ipBlock, or pod and namespace selectors.
type npPeer struct {
	ipBlock ipSet
	ipText  string
	isIP    bool
	pods    map[string]any // nil: absent
	spaces  map[string]any // nil: absent
}

// npRule is one ingress or egress rule.
type npRule struct {
	any   bool // no peers: every pod and address
	peers []npPeer
	ports []any // NetworkPolicyPorts; none: every port
}

// netpol is a NetworkPolicy as it applies.
type netpol struct {
	name, namespace string
	selector        map[string]any
	isolates        map[string]bool // "Ingress", "Egress"
	rules           map[string][]npRule
}

// network is everything the reachability of a plan depends on.
type network struct {
	namespaces map[string]map[string]string // labels by namespace
	pods       []netPod
	policies   []netpol
	dests      []external
	sources    []external
	problems   []Finding // objects that could not be read
}

// flowKey is a directed pair of endpoints.
type flowKey struct{ from, to string }

// flowSet is the ports allowed (or needed) between endpoints.
type flowSet map[flowKey]*portSet

func (f flowSet) add(from, to string, ports *portSet) {
	if ports.empty() {
		return
	}
	if f[flowKey{from, to}] == nil {
		f[flowKey{from, to}] = &portSet{}
	}
	f[flowKey{from, to}].union(ports)
}

func onePort(proto, lo, hi int) *portSet {
	var s portSet
	s.addRange(proto, lo, hi)
	return &s
}

// networkOf reads the plan's namespaces, pods, NetworkPolicies and the external endpoints.
func networkOf(p *Plan) *network {
	n := &network{namespaces: map[string]map[string]string{}}
	for _, ns := range p.OfType(tokNamespace) {
		labels := labelsAt(ns.Inputs, "metadata", "labels")
		labels[labelNamespaceName] = objectName(ns)
		n.namespaces[objectName(ns)] = labels
	}
	for _, w := range workloads(p) {
		labels := w.podLabels()
		pod := netPod{name: endpointName(w.namespace, labels, w.name), namespace: w.namespace, labels: labels, planned: true}
		for _, c := range w.containers() {
			for _, cp := range listAt(c.spec, "ports") {
				num, _ := numAt(cp, "containerPort")
				proto := strAt(cp, "protocol")
				if proto == "" {
					proto = "TCP"
				}
				pod.ports = append(pod.ports, netPort{name: strAt(cp, "name"), proto: protoIndex(proto), port: int(num)})
			}
		}
		n.pods = append(n.pods, pod)
	}
	// The pods the catalog's flows name that the plan does not create.
	stand := []netPod{
		{name: catalog.EndpointDNS, namespace: kubeSystem, labels: map[string]string{"k8s-app": "kube-dns"},
			ports: []netPort{{"dns", protoIndex("UDP"), 53}, {"dns-tcp", protoIndex("TCP"), 53}, {"metrics", protoIndex("TCP"), 9153}}},
		{name: catalog.EndpointPrometheus, namespace: monitoringNamespace, labels: map[string]string{labelName: "prometheus"},
			ports: []netPort{{"web", protoIndex("TCP"), 9090}}},
		{name: catalog.EndpointTracing, namespace: monitoringNamespace,
			labels: map[string]string{labelName: collectorName, "app.kubernetes.io/instance": collectorName},
			ports:  []netPort{{"otlp-http", protoIndex("TCP"), catalog.TracingPort}, {"otlp", protoIndex("TCP"), 4317}}},
	}
	for _, s := range stand {
		if !slices.ContainsFunc(n.pods, func(q netPod) bool { return q.name == s.name }) {
			n.pods = append(n.pods, s)
		}
	}
	for _, q := range n.pods {
		if n.namespaces[q.namespace] == nil {
			n.namespaces[q.namespace] = map[string]string{labelNamespaceName: q.namespace}
		}
	}
	for _, r := range p.OfType(tokNetworkPolicy) {
		n.policies = append(n.policies, n.readPolicy(p, r))
	}
	n.dests, n.sources = externals(p)
	return n
}

// endpointName names a pod group in flows.
func endpointName(namespace string, labels map[string]string, fallback string) string {
	if namespace == kubeSystem && labels["k8s-app"] == "kube-dns" {
		return catalog.EndpointDNS
	}
	if namespace == monitoringNamespace && labels[labelName] == collectorName {
		return catalog.EndpointTracing
	}
	if name := labels[labelName]; name != "" {
		return name
	}
	return fallback
}

func (n *network) readPolicy(p *Plan, r mocks.Resource) netpol {
	np := netpol{name: objectName(r), namespace: objectNamespace(p, r), selector: mapAt(r.Inputs, "spec", "podSelector"),
		isolates: map[string]bool{}, rules: map[string][]npRule{}}
	types := stringsOf(listAt(r.Inputs, "spec", "policyTypes"))
	if len(types) == 0 { // the API's default: Ingress, and Egress when egress rules are given
		types = []string{"Ingress"}
		if at(r.Inputs, "spec", "egress") != nil {
			types = append(types, "Egress")
		}
	}
	for _, t := range types {
		np.isolates[t] = true
	}
	for dir, field := range map[string][2]string{"Ingress": {"ingress", "from"}, "Egress": {"egress", "to"}} {
		for _, raw := range listAt(r.Inputs, "spec", field[0]) {
			rule := npRule{ports: listAt(raw, "ports")}
			list := listAt(raw, field[1])
			rule.any = len(list) == 0
			for _, pe := range list {
				peer := npPeer{pods: mapAt(pe, "podSelector"), spaces: mapAt(pe, "namespaceSelector")}
				if at(pe, "podSelector") != nil && peer.pods == nil {
					peer.pods = map[string]any{}
				}
				if at(pe, "namespaceSelector") != nil && peer.spaces == nil {
					peer.spaces = map[string]any{}
				}
				if blk := mapAt(pe, "ipBlock"); blk != nil {
					peer.isIP = true
					set, err := cidrSet(strAt(blk, "cidr"))
					if err != nil {
						n.problems = append(n.problems, Finding{r.URN, fmt.Sprintf("NetworkPolicy %s/%s: ipBlock %v", np.namespace, np.name, err)})
						continue
					}
					peer.ipText = strAt(blk, "cidr")
					var except []string
					for _, e := range stringsOf(listAt(blk, "except")) {
						x, err := cidrSet(e)
						if err != nil {
							n.problems = append(n.problems, Finding{r.URN, fmt.Sprintf("NetworkPolicy %s/%s: ipBlock except %v", np.namespace, np.name, err)})
							continue
						}
						set, except = set.minus(x), append(except, e)
					}
					if len(except) > 0 {
						peer.ipText += " except " + strings.Join(except, ", ")
					}
					peer.ipBlock = set
				}
				rule.peers = append(rule.peers, peer)
			}
			np.rules[dir] = append(np.rules[dir], rule)
		}
	}
	return np
}

// policiesFor returns the policies that select pod q for a direction (Ingress or Egress).
func (n *network) policiesFor(q netPod, dir string) []netpol {
	var out []netpol
	for _, np := range n.policies {
		if np.namespace == q.namespace && np.isolates[dir] && selectorMatches(np.selector, q.labels) {
			out = append(out, np)
		}
	}
	return out
}

// selectsPod reports whether a rule's peers of a policy in namespace ns include pod q.
func (n *network) selectsPod(rule npRule, ns string, q netPod) bool {
	if rule.any {
		return true
	}
	for _, pe := range rule.peers {
		if pe.isIP || (pe.pods == nil && pe.spaces == nil) {
			continue
		}
		if pe.spaces == nil && q.namespace != ns {
			continue
		}
		if pe.spaces != nil && !selectorMatches(pe.spaces, n.namespaces[q.namespace]) {
			continue
		}
		if pe.pods != nil && !selectorMatches(pe.pods, q.labels) {
			continue
		}
		return true
	}
	return false
}

// rulePorts are the ports a rule allows towards dest (nil: an address outside the cluster,
// where named ports resolve to nothing).
func rulePorts(rule npRule, dest *netPod) *portSet {
	if len(rule.ports) == 0 {
		return allPorts()
	}
	var s portSet
	for _, p := range rule.ports {
		proto := strAt(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		pi := protoIndex(proto)
		if pi < 0 {
			continue
		}
		switch port := at(p, "port").(type) {
		case nil:
			s.addRange(pi, 1, 65535)
		case float64:
			hi := int(port)
			if end, ok := numAt(p, "endPort"); ok {
				hi = int(end)
			}
			s.addRange(pi, int(port), hi)
		case string:
			if dest == nil {
				continue
			}
			for _, cp := range dest.ports {
				if cp.name == port && cp.proto == pi {
					s.addRange(pi, cp.port, cp.port)
				}
			}
		}
	}
	return &s
}

// allowed returns the ports a direction's policies let between q and the pod peer (every port
// when no policy isolates q for it).
func (n *network) allowed(q netPod, dir string, peer netPod, dest *netPod) *portSet {
	pols := n.policiesFor(q, dir)
	if len(pols) == 0 {
		return allPorts()
	}
	var s portSet
	for _, np := range pols {
		for _, rule := range np.rules[dir] {
			if n.selectsPod(rule, np.namespace, peer) {
				s.union(rulePorts(rule, dest))
			}
		}
	}
	return &s
}

// ipRule is the address part of a rule: its addresses, ports and how it was written.
type ipRule struct {
	addrs ipSet
	ports *portSet
	text  string
}

// ipRules are q's rules towards (egress) or from (ingress) addresses outside the pod network.
// Named ports are q's own on ingress and resolve to nothing towards an address.
func (n *network) ipRules(q netPod, dir string) []ipRule {
	var dest *netPod
	if dir == "Ingress" {
		dest = &q
	}
	pols := n.policiesFor(q, dir)
	if len(pols) == 0 {
		return []ipRule{{everywhere, allPorts(), "any address (no policy isolates " + q.name + " for " + strings.ToLower(dir) + ")"}}
	}
	var out []ipRule
	for _, np := range pols {
		for _, rule := range np.rules[dir] {
			if rule.any {
				out = append(out, ipRule{everywhere, rulePorts(rule, dest), fmt.Sprintf("any address (a rule of %s/%s without peers)", np.namespace, np.name)})
				continue
			}
			for _, pe := range rule.peers {
				if pe.isIP {
					out = append(out, ipRule{pe.ipBlock, rulePorts(rule, dest), "ipBlock " + pe.ipText})
				}
			}
		}
	}
	return out
}

// flows computes every allowed flow: pod to pod when the source's egress and the destination's
// ingress both allow it, pod to external endpoint by egress, external endpoint to pod by
// ingress. Addresses a rule opens beyond the named endpoints (on a port) become flows to or
// from the rule's ipBlock, so they count as extra.
func (n *network) flows() flowSet {
	out := flowSet{}
	for _, src := range n.pods {
		for _, dst := range n.pods {
			e := n.allowed(src, "Egress", dst, &dst)
			if e.empty() {
				continue
			}
			out.add(src.name, dst.name, e.intersect(n.allowed(dst, "Ingress", src, &dst)))
		}
	}
	for _, q := range n.pods {
		n.addressFlows(out, q, "Egress", n.dests)
		n.addressFlows(out, q, "Ingress", n.sources)
	}
	return out
}

// addressFlows adds q's flows to (egress) or from (ingress) addresses. The ports are cut into
// intervals on which the same rules and endpoints apply; on each, an endpoint is reached when
// the rules' addresses cover all of it, and what they open beyond the covered endpoints is a
// flow to or from the opening rules' ipBlocks.
func (n *network) addressFlows(out flowSet, q netPod, dir string, named []external) {
	rules := n.ipRules(q, dir)
	if len(rules) == 0 {
		return
	}
	add := func(other string, ports *portSet) {
		if dir == "Egress" {
			out.add(q.name, other, ports)
		} else {
			out.add(other, q.name, ports)
		}
	}
	for pi := range protocols {
		cuts := []int{1, 65536}
		for _, r := range rules {
			for _, rg := range r.ports.ranges(pi) {
				cuts = append(cuts, rg[0], rg[1]+1)
			}
		}
		for _, e := range named {
			if e.port != 0 && e.proto == pi {
				cuts = append(cuts, e.port, e.port+1)
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for i := 0; i+1 < len(cuts); i++ {
			lo, hi := cuts[i], cuts[i+1]-1
			var open ipSet
			var texts []string
			for _, r := range rules {
				if r.ports.has(pi, lo) {
					open = open.union(r.addrs)
				}
			}
			if open.empty() {
				continue
			}
			var covered ipSet
			for _, e := range named {
				if (e.port == 0 || (e.proto == pi && e.port == lo)) && open.covers(e.addrs) {
					add(e.name, onePort(pi, lo, hi))
					covered = covered.union(e.addrs)
				}
			}
			rest := open.minus(covered)
			if rest.empty() {
				continue
			}
			for _, r := range rules {
				if r.ports.has(pi, lo) && r.addrs.intersects(rest) && !slices.Contains(texts, r.text) {
					texts = append(texts, r.text)
				}
			}
			add(strings.Join(texts, " + "), onePort(pi, lo, hi))
		}
	}
}

// internet4 is the IPv4 Internet the lists' sync reaches (the VPC has no IPv6 egress).
var internet4 = mustCIDRs("0.0.0.0/0")

// externals are the named endpoints outside the pod network, from the plan: the data tier and
// the interface endpoints by the subnets they are placed in, the ALB by the subnets the load
// balancer controller puts internet-facing ALBs in, all in the cluster's VPC.
func externals(p *Plan) (dests, sources []external) {
	vpc := ""
	if cl := p.OfType(tokEKSComponent); len(cl) > 0 {
		vpc = cl[0].String("vpcId")
	}
	cidrs := map[string]string{} // subnet id -> CIDR
	var public ipSet
	for _, s := range p.OfType(tokSubnet) {
		if vpc != "" && s.String("vpcId") != vpc {
			continue
		}
		set, err := cidrSet(s.String("cidrBlock"))
		if err != nil {
			continue
		}
		cidrs[s.ID] = s.String("cidrBlock")
		if elbSubnet(s) {
			public = public.union(set)
		}
	}
	in := func(ids []string) ipSet {
		var s ipSet
		for _, id := range ids {
			if c, ok := cidrs[id]; ok {
				set, _ := cidrSet(c)
				s = s.union(set)
			}
		}
		return s
	}
	tcp := protoIndex("TCP")
	dest := func(name string, addrs ipSet, port int) {
		if !addrs.empty() {
			dests = append(dests, external{name: name, addrs: addrs, proto: tcp, port: port})
		}
	}
	var proxies ipSet
	for _, px := range p.OfType("aws:rds/proxy:Proxy") {
		proxies = proxies.union(in(px.Strings("vpcSubnetIds")))
	}
	dest(catalog.EndpointPostgres, proxies, catalog.PostgresPort)

	groups := map[string][]string{}
	for _, g := range p.OfType("aws:elasticache/subnetGroup:SubnetGroup") {
		name := g.String("name")
		if name == "" {
			name = g.Name
		}
		groups[name] = g.Strings("subnetIds")
	}
	redisPorts := map[int]ipSet{}
	for _, rg := range p.OfType("aws:elasticache/replicationGroup:ReplicationGroup") {
		port := catalog.RedisPort
		if n := rg.Number("port"); n != 0 {
			port = int(n)
		}
		redisPorts[port] = redisPorts[port].union(in(groups[rg.String("subnetGroupName")]))
	}
	for port, addrs := range redisPorts {
		dest(catalog.EndpointRedis, addrs, port)
	}

	var brokers ipSet
	for _, c := range p.OfType(mskCluster) {
		brokers = brokers.union(in(c.Strings("brokerNodeGroupInfo.clientSubnets")))
	}
	if len(p.OfType(mskCluster)) > 0 {
		for _, port := range mskClientPorts(p) {
			dest(catalog.EndpointKafka, brokers, port)
		}
	}

	var endpoints ipSet
	for _, e := range p.OfType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		if e.String("vpcEndpointType") == "Interface" && (vpc == "" || e.String("vpcId") == vpc) {
			endpoints = endpoints.union(in(e.Strings("subnetIds")))
		}
	}
	dest(catalog.EndpointAWSAPI, endpoints, catalog.AWSAPIPort)

	// The Kubernetes API server: the EKS control plane's network interfaces, placed in the
	// cluster's subnets (the VPC); the Internet: every address outside the VPC, on HTTPS.
	var vpcAddrs ipSet
	for _, v := range p.OfType(tokVpc) {
		if set, err := cidrSet(v.String("cidrBlock")); err == nil && (vpc == "" || v.ID == vpc) {
			vpcAddrs = vpcAddrs.union(set)
		}
	}
	if !vpcAddrs.empty() {
		dest(catalog.EndpointKubeAPI, vpcAddrs, catalog.KubeAPIPort)
		dest(catalog.EndpointInternet, internet4.minus(vpcAddrs), catalog.HTTPSPort)
	}

	if !public.empty() {
		sources = append(sources, external{name: catalog.EndpointALB, addrs: public})
	}
	return dests, sources
}

// elbSubnet reports whether the load balancer controller places internet-facing ALBs in s:
// the kubernetes.io/role/elb tag (a dotted key, so not walked as an input path), or the public
// tier.
func elbSubnet(s mocks.Resource) bool {
	return labelsAt(s.Inputs, "tags")["kubernetes.io/role/elb"] == "1" || s.String("tags.tier") == "public"
}

// flowScope are the endpoints a comparison judges: the services want names (every name that is
// not one of the catalog's non-service endpoints) and the plan's pods in the catalog's namespace.
func flowScope(n *network, want []catalog.Flow) map[string]bool {
	other := map[string]bool{catalog.EndpointDNS: true, catalog.EndpointALB: true, catalog.EndpointPrometheus: true,
		catalog.EndpointPostgres: true, catalog.EndpointRedis: true, catalog.EndpointKafka: true, catalog.EndpointAWSAPI: true,
		catalog.EndpointTracing: true, catalog.EndpointKubeAPI: true, catalog.EndpointInternet: true}
	scope := map[string]bool{}
	for _, f := range want {
		for _, e := range []string{f.From, f.To} {
			if !other[e] {
				scope[e] = true
			}
		}
	}
	for _, q := range n.pods {
		if q.planned && q.namespace == catalogNamespace {
			scope[q.name] = true
		}
	}
	return scope
}

// netpolMatches compares the plan's allowed flows with want, for every flow with an end in
// scope. A plan without pods (no workloads composed yet) has nothing to compare.
func netpolMatches(want []catalog.Flow) func(*Plan) []Finding {
	return func(p *Plan) []Finding {
		if len(workloads(p)) == 0 {
			return nil
		}
		n := networkOf(p)
		got := n.flows()
		need := flowSet{}
		for _, f := range want {
			pi := protoIndex(f.Protocol)
			if pi < 0 {
				return []Finding{{f.String(), fmt.Sprintf("the catalog's flow %s has protocol %q: want TCP, UDP or SCTP", f, f.Protocol)}}
			}
			need.add(f.From, f.To, onePort(pi, f.Port, f.Port))
			// A flow to an address range on a port reaches every endpoint inside it on that
			// port (the Kubernetes API's VPC holds the interface endpoints): no policy can
			// allow one without the others.
			for _, e := range n.dests {
				if e.name != f.To || e.proto != pi || e.port != f.Port {
					continue
				}
				for _, inner := range n.dests {
					if inner.name != e.name && inner.proto == pi && inner.port == f.Port && e.addrs.covers(inner.addrs) {
						need.add(f.From, inner.name, onePort(pi, f.Port, f.Port))
					}
				}
			}
		}
		scope := flowScope(n, want)
		keys := map[flowKey]bool{}
		for k := range got {
			keys[k] = true
		}
		for k := range need {
			keys[k] = true
		}
		sorted := make([]flowKey, 0, len(keys))
		for k := range keys {
			if scope[k.from] || scope[k.to] {
				sorted = append(sorted, k)
			}
		}
		sort.Slice(sorted, func(i, j int) bool {
			return cmp.Or(cmp.Compare(sorted[i].from, sorted[j].from), cmp.Compare(sorted[i].to, sorted[j].to)) < 0
		})
		out := slices.Clone(n.problems)
		none := &portSet{}
		for _, k := range sorted {
			g, w := got[k], need[k]
			if g == nil {
				g = none
			}
			if w == nil {
				w = none
			}
			res := fmt.Sprintf("flow %s -> %s", k.from, k.to)
			if extra := g.minus(w); !extra.empty() {
				out = append(out, Finding{res, fmt.Sprintf("extra: the NetworkPolicies allow %s -> %s on %s, which the catalog does not need", k.from, k.to, extra)})
			}
			if missing := w.minus(g); !missing.empty() {
				out = append(out, Finding{res, fmt.Sprintf("missing: the catalog needs %s -> %s on %s, which the NetworkPolicies do not allow%s", k.from, k.to, missing, n.hint(k))})
			}
		}
		return out
	}
}

// hint says why a missing flow may be missing when an end is not in the plan.
func (n *network) hint(k flowKey) string {
	known := func(name string) bool {
		return slices.ContainsFunc(n.pods, func(q netPod) bool { return q.name == name }) ||
			slices.ContainsFunc(n.dests, func(e external) bool { return e.name == name }) ||
			slices.ContainsFunc(n.sources, func(e external) bool { return e.name == name })
	}
	for _, e := range []string{k.from, k.to} {
		if !known(e) {
			return fmt.Sprintf(" (the plan has no pod or endpoint %s)", e)
		}
	}
	return ""
}
