package workloads

import (
	"slices"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DefaultDenyPolicy is the name of each namespace's default-deny NetworkPolicy.
const DefaultDenyPolicy = "default-deny"

// namespaceLabel is the label Kubernetes sets on every namespace to its name.
const namespaceLabel = "kubernetes.io/metadata.name"

// peer returns the NetworkPolicy peers of a flow endpoint that is not a pod of Namespace.
func (b *builder) peers(endpoint string) networkingv1.NetworkPolicyPeerArray {
	blocks := func(cidrs []string) networkingv1.NetworkPolicyPeerArray {
		var out networkingv1.NetworkPolicyPeerArray
		for _, c := range cidrs {
			out = append(out, networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{Cidr: pulumi.String(c)}})
		}
		return out
	}
	pods := func(namespace, key, value string) networkingv1.NetworkPolicyPeerArray {
		return networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
			NamespaceSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{namespaceLabel: pulumi.String(namespace)}},
			PodSelector:       metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{key: pulumi.String(value)}},
		}}
	}
	sn := b.args.Subnets
	switch endpoint {
	case DNS:
		return pods("kube-system", "k8s-app", "kube-dns")
	case Prometheus:
		return pods(MonitoringNamespace, LabelName, "prometheus")
	case Tracing:
		return pods(MonitoringNamespace, LabelName, CollectorName)
	case ALB:
		return blocks(sn.Public)
	case Postgres:
		return blocks(sn.Database)
	case Redis, Kafka, AWSAPI:
		return blocks(sn.Private)
	case KubeAPI:
		// The control plane's network interfaces sit in the cluster's subnets, public or
		// private: the VPC.
		return blocks([]string{sn.VPC})
	case Internet:
		// Anywhere but the VPC (whose parts are reached by the flows that name them).
		return networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: networkingv1.IPBlockArgs{
			Cidr: pulumi.String("0.0.0.0/0"), Except: pulumi.StringArray{pulumi.String(sn.VPC)},
		}}}
	}
	return pods(Namespace, LabelName, endpoint) // a catalog service
}

// rules groups flows by peer, in order, one rule per peer with all its ports.
func (b *builder) rules(flows []Flow, egress bool) (peers []networkingv1.NetworkPolicyPeerArray, ports []networkingv1.NetworkPolicyPortArray) {
	var order []string
	byPeer := map[string]networkingv1.NetworkPolicyPortArray{}
	for _, f := range flows {
		other := f.From
		if egress {
			other = f.To
		}
		if _, ok := byPeer[other]; !ok {
			order = append(order, other)
		}
		byPeer[other] = append(byPeer[other], networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(f.Port), Protocol: pulumi.String(f.Protocol)})
	}
	for _, o := range order {
		peers = append(peers, b.peers(o))
		ports = append(ports, byPeer[o])
	}
	return peers, ports
}

// networkPolicies creates a default deny of ingress and egress in every namespace, then one
// policy per service allowing exactly its flows (Flows), and in the monitoring namespace
// Prometheus's egress to the operations ports it scrapes.
func (b *builder) networkPolicies() ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	both := pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")}
	for _, ns := range b.args.Namespaces {
		p, err := networkingv1.NewNetworkPolicy(b.ctx, b.name+"-"+ns+"-"+DefaultDenyPolicy, &networkingv1.NetworkPolicyArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(DefaultDenyPolicy), Namespace: pulumi.String(ns),
				Labels: pulumi.StringMap{LabelPartOf: pulumi.String(PartOf)}},
			Spec: networkingv1.NetworkPolicySpecArgs{PodSelector: metav1.LabelSelectorArgs{}, PolicyTypes: both},
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	for _, s := range b.args.Services {
		spec := networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelName: pulumi.String(s.Name)}},
			PolicyTypes: both,
		}
		var ingress networkingv1.NetworkPolicyIngressRuleArray
		peers, ports := b.rules(flowsOf(b.flows, s.Name, false), false)
		for i := range peers {
			ingress = append(ingress, networkingv1.NetworkPolicyIngressRuleArgs{From: peers[i], Ports: ports[i]})
		}
		var egress networkingv1.NetworkPolicyEgressRuleArray
		peers, ports = b.rules(flowsOf(b.flows, s.Name, true), true)
		for i := range peers {
			egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: peers[i], Ports: ports[i]})
		}
		spec.Ingress, spec.Egress = ingress, egress
		p, err := networkingv1.NewNetworkPolicy(b.ctx, b.name+"-"+s.Name, &networkingv1.NetworkPolicyArgs{
			Metadata: b.meta(s.Name, Labels(s)), Spec: spec,
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	// Prometheus's side of its flows: egress from its pods to the services' operations ports.
	var scraped []Flow
	for _, f := range b.flows {
		if f.From == Prometheus {
			scraped = append(scraped, f)
		}
	}
	if len(scraped) > 0 && slices.Contains(b.args.Namespaces, MonitoringNamespace) {
		peers, ports := b.rules(scraped, true)
		var egress networkingv1.NetworkPolicyEgressRuleArray
		for i := range peers {
			egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: peers[i], Ports: ports[i]})
		}
		p, err := networkingv1.NewNetworkPolicy(b.ctx, b.name+"-prometheus-scrape", &networkingv1.NetworkPolicyArgs{
			Metadata: metav1.ObjectMetaArgs{Name: pulumi.String("prometheus-scrape-" + Namespace), Namespace: pulumi.String(MonitoringNamespace),
				Labels: pulumi.StringMap{LabelPartOf: pulumi.String(PartOf)}},
			Spec: networkingv1.NetworkPolicySpecArgs{
				PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelName: pulumi.String("prometheus")}},
				PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
				Egress:      egress,
			},
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
