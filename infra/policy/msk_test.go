package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

func mskPlan(auth map[string]any, rules ...mocks.Resource) *Plan {
	sg := r(tokSecurityGroup, "sec-msk", m{"tags": m{securityGroupRoleTag: mskRole}})
	nodes := r(tokSecurityGroup, "sec-nodes", m{"tags": m{securityGroupRoleTag: "nodes"}})
	cluster := r(mskCluster, "kafka", m{"clientAuthentication": auth, "encryptionInfo": m{"encryptionInTransit": m{"clientBroker": "TLS"}}})
	// Other groups may open what they like; only the MSK group is judged.
	other := r(tokIngressRule, "nodes-9092", m{"securityGroupId": "sec-nodes-id", "ipProtocol": "tcp", "fromPort": 9092.0, "toPort": 9092.0})
	return &Plan{Environment: "prod", Resources: append([]mocks.Resource{sg, nodes, cluster, other}, rules...)}
}

func mskIngress(name, proto string, from, to float64) mocks.Resource {
	return r(tokIngressRule, name, m{"securityGroupId": "sec-msk-id", "ipProtocol": proto, "fromPort": from, "toPort": to, "referencedSecurityGroupId": "sec-nodes-id"})
}

func TestMSKGroupOpensOnlyTheAuthenticationPort(t *testing.T) {
	iam := m{"sasl": m{"iam": true}, "unauthenticated": false}
	assert.Empty(t, checkMSKPorts(mskPlan(iam, mskIngress("msk-iam", "tcp", 9098, 9098))))

	for name, bad := range map[string]mocks.Resource{
		"plaintext":        mskIngress("msk-plaintext", "tcp", 9092, 9092),
		"tls":              mskIngress("msk-tls", "tcp", 9094, 9094),
		"scram without it": mskIngress("msk-scram", "tcp", 9096, 9096),
		"a range over it":  mskIngress("msk-range", "tcp", 9092, 9098),
		"every protocol":   mskIngress("msk-all", "-1", 0, 0),
		"udp on the port":  mskIngress("msk-udp", "udp", 9098, 9098),
		"old-style rule": r(tokSecurityGroupRule, "msk-legacy", m{"type": "ingress", "securityGroupId": "sec-msk-id", "protocol": "tcp",
			"fromPort": 9094.0, "toPort": 9094.0}),
	} {
		t.Run(name, func(t *testing.T) {
			got := checkMSKPorts(mskPlan(iam, mskIngress("msk-iam", "tcp", 9098, 9098), bad))
			require.Len(t, got, 1)
			assert.Equal(t, bad.URN, got[0].Resource)
			assert.Contains(t, got[0].Message, "tcp 9098")
		})
	}
}

func TestMSKPortFollowsTheClusterAuthentication(t *testing.T) {
	scram := m{"sasl": m{"scram": true}}
	assert.Empty(t, checkMSKPorts(mskPlan(scram, mskIngress("msk-scram", "tcp", 9096, 9096))))
	got := checkMSKPorts(mskPlan(scram, mskIngress("msk-iam", "tcp", 9098, 9098)))
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "tcp 9096")
}

func TestMSKRuleIsRegistered(t *testing.T) {
	var ids []string
	for _, ru := range Rules() {
		ids = append(ids, ru.ID)
	}
	assert.Contains(t, ids, "msk-sg-auth-port-only")
}
