package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// mskRole is the security-group role tag of the MSK brokers' group.
const mskRole = "msk"

// MSK client ports by listener: plaintext, TLS (mutual TLS or unauthenticated TLS),
// SASL/SCRAM over TLS, SASL/IAM over TLS.
const (
	mskPlaintextPort = 9092
	mskTLSPort       = 9094
	mskSCRAMPort     = 9096
	mskIAMPort       = 9098
)

// mskRules are the rules on the streaming tier's network exposure.
func mskRules() []Rule {
	return []Rule{
		{ID: "msk-sg-auth-port-only", Mirrors: "platform rule", Summary: "the MSK group opens only the port of the client authentication the cluster uses (9098 for SASL/IAM)",
			Check: checkMSKPorts},
	}
}

// mskClientPorts are the listener ports the plan's MSK clusters serve clients on, from their
// client authentication and encryption in transit; with no cluster in the plan, the platform's
// SASL/IAM port.
func mskClientPorts(p *Plan) []int {
	ports := map[int]bool{}
	clusters := p.OfType(mskCluster)
	for _, c := range clusters {
		if c.Bool("clientAuthentication.sasl.iam") {
			ports[mskIAMPort] = true
		}
		if c.Bool("clientAuthentication.sasl.scram") {
			ports[mskSCRAMPort] = true
		}
		if _, mtls := c.Input("clientAuthentication.tls"); mtls {
			ports[mskTLSPort] = true
		}
		if c.Bool("clientAuthentication.unauthenticated") {
			switch c.String("encryptionInfo.encryptionInTransit.clientBroker") {
			case "PLAINTEXT":
				ports[mskPlaintextPort] = true
			case "TLS_PLAINTEXT":
				ports[mskPlaintextPort], ports[mskTLSPort] = true, true
			default: // TLS, the default
				ports[mskTLSPort] = true
			}
		}
	}
	if len(clusters) == 0 {
		ports[mskIAMPort] = true
	}
	out := make([]int, 0, len(ports))
	for port := range ports {
		out = append(out, port)
	}
	sort.Ints(out)
	return out
}

func checkMSKPorts(p *Plan) []Finding {
	msk := map[string]bool{}
	for _, sg := range p.OfType(tokSecurityGroup) {
		if sg.Tag(securityGroupRoleTag) == mskRole {
			msk[sg.ID] = true
		}
	}
	allowed := mskClientPorts(p)
	var out []Finding
	for _, r := range ingressRules(p) {
		if !msk[r.groupID] {
			continue
		}
		tcp := r.protocol == "tcp" || r.protocol == "6"
		if !tcp || r.from != r.to || !slices.Contains(allowed, int(r.from)) {
			want := make([]string, len(allowed))
			for i, port := range allowed {
				want[i] = fmt.Sprint(port)
			}
			out = append(out, Finding{r.urn, fmt.Sprintf("ingress on %s %v-%v to the MSK group; the cluster's client authentication listens only on tcp %s",
				r.protocol, r.from, r.to, strings.Join(want, ", "))})
		}
	}
	return out
}
