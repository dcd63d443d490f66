package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
	"github.com/cantondex/platform/services/catalog"
)

// The fixture's VPC: public 10.0.0.0/20 and 10.0.16.0/20 (the ALB), private 10.0.48.0/20 and
// 10.0.64.0/20 (Redis, MSK, the interface endpoints), database 10.0.96.0/20 and 10.0.112.0/20
// (the RDS Proxy); a disaster-recovery proxy in another VPC that pods cannot reach.
func netAWS() []mocks.Resource {
	subnet := func(name, vpc, cidr, tier string) mocks.Resource {
		tags := m{"tier": tier}
		if tier == "public" {
			tags["kubernetes.io/role/elb"] = "1"
		}
		return r(tokSubnet, name, m{"vpcId": vpc, "cidrBlock": cidr, "tags": tags})
	}
	private := []any{"private-0-id", "private-1-id"}
	return []mocks.Resource{
		r(tokEKSComponent, "eks", m{"vpcId": "vpc-id"}),
		subnet("public-0", "vpc-id", "10.0.0.0/20", "public"), subnet("public-1", "vpc-id", "10.0.16.0/20", "public"),
		subnet("private-0", "vpc-id", "10.0.48.0/20", "private"), subnet("private-1", "vpc-id", "10.0.64.0/20", "private"),
		subnet("database-0", "vpc-id", "10.0.96.0/20", "database"), subnet("database-1", "vpc-id", "10.0.112.0/20", "database"),
		subnet("dr-database-0", "dr-vpc-id", "10.1.96.0/20", "database"),
		r("aws:rds/proxy:Proxy", "proxy", m{"vpcSubnetIds": []any{"database-0-id", "database-1-id"}}),
		r("aws:rds/proxy:Proxy", "dr-proxy", m{"vpcSubnetIds": []any{"dr-database-0-id"}}),
		r("aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets", m{"subnetIds": private}),
		r("aws:elasticache/replicationGroup:ReplicationGroup", "cache", m{"subnetGroupName": "cache-subnets"}),
		r(mskCluster, "kafka", m{"clientAuthentication": m{"sasl": m{"iam": true}}, "brokerNodeGroupInfo": m{"clientSubnets": private}}),
		r("aws:ec2/vpcEndpoint:VpcEndpoint", "sts", m{"vpcId": "vpc-id", "vpcEndpointType": "Interface", "subnetIds": private}),
		r("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", m{"vpcId": "vpc-id", "vpcEndpointType": "Gateway"}),
	}
}

// netWant is a small catalog: a public service with a database and Redis, a Kafka consumer
// (both long-running, so they send spans to the collector), and a topic Job.
func netWant() []catalog.Flow {
	var want []catalog.Flow
	for _, s := range []catalog.Service{
		{Name: "web", Kind: catalog.Deployment, Database: catalog.Trading, DBUser: "cdx_web", Redis: true, PublicPort: 8080, OpsPort: 9090},
		{Name: "worker", Kind: catalog.Deployment, Consumes: []catalog.Consume{{Topic: "orders", Group: "worker"}}, OpsPort: 9090},
		{Name: "topics", Kind: catalog.Job, TopicAdmin: true},
	} {
		want = append(want, s.Flows()...)
	}
	return want
}

func pod(typ, name string, ports ...m) mocks.Resource {
	labels := m{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "cantondex"}
	cs := []any{m{"name": name, "ports": func() []any {
		var out []any
		for _, p := range ports {
			out = append(out, p)
		}
		return out
	}()}}
	return r(typ, name, m{"metadata": m{"name": name, "namespace": "cantondex"}, "spec": m{
		"template": m{"metadata": m{"labels": labels}, "spec": m{"containers": cs}},
	}})
}

func netpolicy(name, ns string, spec m) mocks.Resource {
	return r(tokNetworkPolicy, name, m{"metadata": m{"name": name, "namespace": ns}, "spec": spec})
}

func selectName(name string) m { return m{"matchLabels": m{"app.kubernetes.io/name": name}} }

func ipPeers(cidrs ...string) []any {
	var out []any
	for _, c := range cidrs {
		out = append(out, m{"ipBlock": m{"cidr": c}})
	}
	return out
}

func tcp(ports ...any) []any {
	var out []any
	for _, p := range ports {
		out = append(out, m{"port": p, "protocol": "TCP"})
	}
	return out
}

var (
	publicCIDRs   = []string{"10.0.0.0/20", "10.0.16.0/20"}
	privateCIDRs  = []string{"10.0.48.0/20", "10.0.64.0/20"}
	databaseCIDRs = []string{"10.0.96.0/20", "10.0.112.0/20"}
)

// netPlan is the fixture with a hand-written set of NetworkPolicies that allows exactly
// netWant: default deny in both namespaces, DNS for every pod of the catalog's namespace, each
// service's egress to its data tier and to the collector, the ALB and Prometheus ingress, and
// the collector's own policy (OTLP from the catalog's namespace, as components/tracing writes it).
func netPlan() []mocks.Resource {
	deny := m{"podSelector": m{}, "policyTypes": []any{"Ingress", "Egress"}}
	out := netAWS()
	out = append(out,
		r(tokNamespace, "cantondex", m{"metadata": m{"name": "cantondex"}}),
		r(tokNamespace, "cantondex-monitoring", m{"metadata": m{"name": "cantondex-monitoring"}}),
		pod(tokDeployment, "web", m{"name": "http", "containerPort": 8080.0}, m{"name": "ops", "containerPort": 9090.0}),
		pod(tokStatefulSet, "worker", m{"name": "ops", "containerPort": 9090.0}),
		pod(tokJob, "topics"),
		netpolicy("default-deny", "cantondex", deny),
		netpolicy("default-deny", "cantondex-monitoring", m{"podSelector": m{}, "policyTypes": []any{"Ingress", "Egress"}}),
		netpolicy("allow-dns", "cantondex", m{"podSelector": m{}, "policyTypes": []any{"Egress"}, "egress": []any{m{
			"to": []any{m{
				"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "kube-system"}},
				"podSelector":       m{"matchLabels": m{"k8s-app": "kube-dns"}},
			}},
			"ports": []any{m{"port": 53.0, "protocol": "UDP"}, m{"port": 53.0, "protocol": "TCP"}},
		}}}),
		netpolicy("web-egress", "cantondex", m{"podSelector": selectName("web"), "policyTypes": []any{"Egress"}, "egress": []any{
			m{"to": ipPeers(databaseCIDRs...), "ports": tcp(5432.0)},
			m{"to": ipPeers(privateCIDRs...), "ports": tcp(6379.0, 443.0)},
		}}),
		// No policyTypes: a policy with only ingress rules isolates ingress.
		netpolicy("web-ingress", "cantondex", m{"podSelector": selectName("web"), "ingress": []any{
			m{"from": ipPeers(publicCIDRs...), "ports": tcp("http", "ops")}, // the ALB's health check asks the operations port
			m{"from": []any{m{"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "cantondex-monitoring"}}, "podSelector": selectName("prometheus")}},
				"ports": tcp(9090.0)},
		}}),
		netpolicy("worker-policy", "cantondex", m{"podSelector": selectName("worker"), "policyTypes": []any{"Ingress", "Egress"},
			"egress": []any{m{"to": ipPeers(privateCIDRs...), "ports": tcp(9098.0, 443.0)}},
			"ingress": []any{m{"from": []any{m{"namespaceSelector": m{}, "podSelector": selectName("prometheus")}},
				"ports": tcp("ops")}},
		}),
		netpolicy("topics-egress", "cantondex", m{"podSelector": selectName("topics"), "policyTypes": []any{"Egress"},
			"egress": []any{m{"to": ipPeers(privateCIDRs...), "ports": tcp(9098.0, 443.0)}}}),
		netpolicy("prometheus", "cantondex-monitoring", m{"podSelector": selectName("prometheus"), "policyTypes": []any{"Egress"},
			"egress": []any{m{"to": []any{m{"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "cantondex"}}}}, "ports": tcp(9090.0)}}}),
		netpolicy("traces", "cantondex", m{"podSelector": m{"matchExpressions": []any{
			m{"key": "app.kubernetes.io/name", "operator": "In", "values": []any{"web", "worker"}},
		}}, "policyTypes": []any{"Egress"}, "egress": []any{m{"to": collectorPeer(), "ports": tcp(4318.0)}}}),
		netpolicy("opentelemetry-collector", "cantondex-monitoring", m{
			"podSelector": m{"matchLabels": m{"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "opentelemetry-collector"}},
			"policyTypes": []any{"Ingress", "Egress"},
			"ingress": []any{m{"from": []any{m{"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "cantondex"}}}},
				"ports": tcp(4318.0, 4317.0)}},
		}),
	)
	return out
}

// collectorPeer selects the OpenTelemetry collector's pods in the monitoring namespace.
func collectorPeer() []any {
	return []any{m{
		"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "cantondex-monitoring"}},
		"podSelector":       selectName("opentelemetry-collector"),
	}}
}

func netFindings(rs []mocks.Resource) []string {
	var out []string
	for _, f := range netpolMatches(netWant())(&Plan{Environment: "prod", Resources: rs}) {
		out = append(out, f.Message)
	}
	return out
}

func TestNetworkPoliciesMatchingTheCatalogPass(t *testing.T) {
	assert.Empty(t, netFindings(netPlan()))
	assert.Empty(t, rule(t, "k8s-default-deny-netpol").Check(&Plan{Resources: netPlan()}))
}

func TestNetworkPolicyReachability(t *testing.T) {
	got := networkOf(&Plan{Resources: netPlan()}).flows()
	ports := func(from, to string) string {
		if s := got[flowKey{from, to}]; s != nil {
			return s.String()
		}
		return ""
	}
	assert.Equal(t, "53/TCP, 53/UDP", ports("web", "dns"))
	assert.Equal(t, "5432/TCP", ports("web", "postgres"))
	assert.Equal(t, "8080/TCP, 9090/TCP", ports("alb", "web"), "the named ports resolve to the pod's")
	assert.Equal(t, "9090/TCP", ports("prometheus", "worker"))
	assert.Equal(t, "", ports("prometheus", "topics"), "Prometheus's egress is allowed, the Job's ingress is not")
	assert.Equal(t, "", ports("web", "worker"))
	// No policy isolates kube-dns: it reaches itself on every port.
	assert.Equal(t, "1-65535/TCP, 1-65535/UDP, 1-65535/SCTP", ports("dns", "dns"))
	assert.Equal(t, "", ports("prometheus", "prometheus"), "Prometheus's egress is limited to the catalog's namespace")
	assert.Equal(t, "4318/TCP", ports("web", "otel-collector"), "the egress opens OTLP/HTTP only, though the collector admits gRPC too")
	assert.Equal(t, "", ports("topics", "otel-collector"), "the Job's egress does not reach the collector")
}

func TestNetworkPoliciesThatDifferFromTheCatalogFail(t *testing.T) {
	tests := []struct {
		name   string
		change func(*testing.T, []mocks.Resource) []mocks.Resource
		want   []string // each must be in some finding
	}{
		{"an egress to the internet", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return append(rs, netpolicy("web-https", "cantondex", m{"podSelector": selectName("web"), "policyTypes": []any{"Egress"},
				"egress": []any{m{"to": ipPeers("0.0.0.0/0"), "ports": tcp(443.0)}}}))
		}, []string{"extra: the NetworkPolicies allow web -> ipBlock 0.0.0.0/0 on 443/TCP"}},
		{"no DNS rule", func(t *testing.T, rs []mocks.Resource) []mocks.Resource { return without(rs, "allow-dns") }, []string{
			"missing: the catalog needs web -> dns on 53/TCP, 53/UDP", "missing: the catalog needs worker -> dns", "missing: the catalog needs topics -> dns",
		}},
		{"no default deny", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return slicesDelete(rs, func(x mocks.Resource) bool {
				return x.Name == "default-deny" && x.String("metadata.namespace") == "cantondex"
			})
		}, []string{
			"extra: the NetworkPolicies allow any address (no policy isolates topics for ingress) -> topics on 1-65535/TCP",
			"extra: the NetworkPolicies allow prometheus -> topics on 9090/TCP",
			"extra: the NetworkPolicies allow alb -> topics", "extra: the NetworkPolicies allow dns -> topics",
		}},
		{"a wrong database port", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "web-egress", "spec.egress.0.ports", tcp(5433.0))
		}, []string{
			"extra: the NetworkPolicies allow web -> ipBlock 10.0.96.0/20 + ipBlock 10.0.112.0/20 on 5433/TCP",
			"missing: the catalog needs web -> postgres on 5432/TCP",
		}},
		{"half the database subnets", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "web-egress", "spec.egress.0.to", ipPeers("10.0.96.0/20"))
		}, []string{"extra: the NetworkPolicies allow web -> ipBlock 10.0.96.0/20 on 5432/TCP", "missing: the catalog needs web -> postgres on 5432/TCP"}},
		{"ingress from the whole VPC", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "web-ingress", "spec.ingress.0.from", ipPeers("10.0.0.0/16"))
		}, []string{"extra: the NetworkPolicies allow ipBlock 10.0.0.0/16 -> web on 8080/TCP"}},
		{"an ipBlock with an exception still opens more", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "web-ingress", "spec.ingress.0.from", []any{m{"ipBlock": m{"cidr": "10.0.0.0/16", "except": []any{"10.0.64.0/18"}}}})
		}, []string{"extra: the NetworkPolicies allow ipBlock 10.0.0.0/16 except 10.0.64.0/18 -> web on 8080/TCP"}},
		{"a service reaching another", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			rs = edit(rs, "worker-policy", "spec.egress", []any{
				m{"to": ipPeers(privateCIDRs...), "ports": tcp(9098.0, 443.0)},
				m{"to": []any{m{"podSelector": selectName("web")}}},
			})
			// Egress alone lets nothing through; with the ingress rule it does.
			require.Empty(t, netFindings(rs))
			for _, x := range rs {
				if x.Name == "web-ingress" {
					ingress := append(listAt(x.Inputs, "spec", "ingress"), m{"from": []any{m{"podSelector": m{}}}, "ports": tcp("http")})
					return edit(rs, "web-ingress", "spec.ingress", ingress)
				}
			}
			return nil
		}, []string{"extra: the NetworkPolicies allow worker -> web on 8080/TCP, which the catalog does not need"}},
		{"a pod selector alone stays in the policy's namespace", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "worker-policy", "spec.ingress.0.from.0", m{"podSelector": selectName("prometheus")})
		}, []string{"missing: the catalog needs prometheus -> worker on 9090/TCP"}},
		{"an exception that leaves out one of the ALB's subnets", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "web-ingress", "spec.ingress.0.from", []any{m{"ipBlock": m{"cidr": "10.0.0.0/19", "except": []any{"10.0.16.0/20"}}}})
		}, []string{"missing: the catalog needs alb -> web on 8080/TCP", "extra: the NetworkPolicies allow ipBlock 10.0.0.0/19 except 10.0.16.0/20 -> web on 8080/TCP"}},
		{"a service without the ops port rule", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "worker-policy", "spec.ingress", nil)
		}, []string{"missing: the catalog needs prometheus -> worker on 9090/TCP"}},
		{"no egress to the collector", func(t *testing.T, rs []mocks.Resource) []mocks.Resource { return without(rs, "traces") }, []string{
			"missing: the catalog needs web -> otel-collector on 4318/TCP", "missing: the catalog needs worker -> otel-collector on 4318/TCP",
		}},
		{"the collector's gRPC port too", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "traces", "spec.egress.0.ports", tcp(4318.0, 4317.0))
		}, []string{"extra: the NetworkPolicies allow web -> otel-collector on 4317/TCP"}},
		{"the collector admits only another namespace", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return edit(rs, "opentelemetry-collector", "spec.ingress.0.from.0.namespaceSelector.matchLabels", m{"kubernetes.io/metadata.name": "elsewhere"})
		}, []string{"missing: the catalog needs web -> otel-collector on 4318/TCP"}},
		{"a pod the catalog does not know", func(t *testing.T, rs []mocks.Resource) []mocks.Resource {
			return append(rs, pod(tokJob, "migrate"))
		}, []string{"extra: the NetworkPolicies allow migrate -> dns on 53/TCP, 53/UDP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := netFindings(tt.change(t, netPlan()))
			require.NotEmpty(t, got)
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

func TestNetworkPolicyRuleSkipsAPlanWithoutWorkloads(t *testing.T) {
	assert.Empty(t, rule(t, "netpol-matches-catalog").Check(&Plan{Resources: netAWS()}))
	// With workloads, the registered rule compares with the whole catalog.
	got := rule(t, "netpol-matches-catalog").Check(&Plan{Resources: netPlan()})
	all := []string{}
	for _, f := range got {
		all = append(all, f.Message)
	}
	assert.Contains(t, strings.Join(all, "\n"), "missing: the catalog needs api-gateway -> dns on 53/TCP, 53/UDP, which the NetworkPolicies do not allow (the plan has no pod or endpoint api-gateway)")
}

func slicesDelete(rs []mocks.Resource, del func(mocks.Resource) bool) []mocks.Resource {
	var out []mocks.Resource
	for _, x := range rs {
		if !del(x) {
			out = append(out, x)
		}
	}
	return out
}

func TestAddressSets(t *testing.T) {
	s := mustCIDRs("10.0.0.0/24", "10.0.1.0/24")
	assert.Equal(t, mustCIDRs("10.0.0.0/23"), s, "adjacent blocks merge")
	assert.True(t, mustCIDRs("10.0.0.0/16").covers(s))
	assert.False(t, s.covers(mustCIDRs("10.0.0.0/16")))
	rest := mustCIDRs("10.0.0.0/16").minus(s)
	assert.False(t, rest.intersects(s))
	assert.True(t, rest.union(s).covers(mustCIDRs("10.0.0.0/16")))
	assert.True(t, everywhere.minus(mustCIDRs("0.0.0.0/0")).covers(mustCIDRs("2001:db8::/32")))
	assert.True(t, mustCIDRs("255.255.255.0/24").minus(mustCIDRs("255.255.255.128/25")).covers(mustCIDRs("255.255.255.0/25")))
	_, err := cidrSet("10.0.0.0/33")
	assert.ErrorContains(t, err, `CIDR "10.0.0.0/33"`)

	var p portSet
	p.addRange(protoIndex("TCP"), 1, 65535)
	assert.Equal(t, "1-52/TCP, 54-65535/TCP", p.minus(onePort(protoIndex("TCP"), 53, 53)).String())
}
