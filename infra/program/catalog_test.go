package program

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/security"
	"github.com/cantondex/platform/services/catalog"
)

// statementTopics returns, by statement id, the last path element of each resource ARN.
func statementTopics(t *testing.T, policy string) map[string][]string {
	t.Helper()
	var doc struct {
		Statement []struct {
			Sid      string
			Resource any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(policy), &doc))
	out := map[string][]string{}
	for _, s := range doc.Statement {
		var arns []string
		switch r := s.Resource.(type) {
		case string:
			arns = []string{r}
		case []any:
			for _, a := range r {
				arns = append(arns, fmt.Sprint(a))
			}
		}
		for _, a := range arns {
			out[s.Sid] = append(out[s.Sid], a[strings.LastIndex(a, "/")+1:])
		}
		slices.Sort(out[s.Sid])
	}
	return out
}

// The MSK ACLs in the plan are exactly what the catalog's services consume and produce: no
// policy names a topic no service uses, no service uses a topic it is not granted, and no
// service without code has a policy.
func TestTopicACLsEqualTheCatalog(t *testing.T) {
	rec := runDataTier(t, "prod", mapSource{})
	const prefix = "cdx-prod-kafka-client-"
	got := map[string]catalog.TopicAccess{}
	for _, p := range rec.OfType("aws:iam/policy:Policy") {
		if !strings.HasPrefix(p.Name, prefix) {
			continue
		}
		st := statementTopics(t, p.String("policy"))
		got[strings.TrimPrefix(p.Name, prefix)] = catalog.TopicAccess{Produce: st["Produce"], Consume: st["Consume"]}
	}
	assert.Equal(t, catalog.Access(), got)
}

// Each database's IAM connect policy names the users of the catalog's services that use it.
func TestDatabaseUsersFromTheCatalog(t *testing.T) {
	rec := runDataTier(t, "prod", mapSource{})
	p, ok := rec.Named("aws:iam/policy:Policy", "cdx-prod-trading-connect")
	require.True(t, ok, "no connect policy for the trading database")
	users := map[string]bool{}
	for _, r := range statementTopics(t, p.String("policy"))["ConnectWithIAM"] {
		users[r] = true
	}
	want := catalog.DatabaseUsers()[catalog.Trading]
	require.NotEmpty(t, want)
	for _, u := range want {
		assert.True(t, users[u], "trading connect policy lacks %s: %v", u, users)
	}
	assert.Len(t, users, len(want), "trading connect policy names users no service connects as")
}

// The nodes reach every data service some catalog service needs.
func TestSecurityGroupsOpenWhatTheCatalogNeeds(t *testing.T) {
	reach := func(g security.Group) bool {
		for _, r := range security.DefaultRules() {
			if r.Group == g && !r.Egress && r.Peer == security.Nodes {
				return true
			}
		}
		return false
	}
	n := catalog.NetworkNeeds()
	if n.PostgreSQL {
		assert.True(t, reach(security.RDSProxy), "services use PostgreSQL but nodes cannot reach the proxy")
	}
	if n.Redis {
		assert.True(t, reach(security.Redis), "services use Redis but nodes cannot reach it")
	}
	if n.Kafka {
		assert.True(t, reach(security.MSK), "services use Kafka but nodes cannot reach the brokers")
	}
}
