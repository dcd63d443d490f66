package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cantondex/platform/infra/policy"
)

// writeDataHighlights summarises the data tier: each PostgreSQL instance with its role (primary,
// read replica, DR replica and the provider it is created with), the RDS proxies, the Redis
// nodes, the MSK brokers and the topics the topic-admin role may reconcile.
func writeDataHighlights(b *strings.Builder, p *policy.Plan) {
	for _, db := range p.OfType("aws:rds/instance:Instance") {
		role := "primary"
		switch src := db.String("replicateSourceDb"); {
		case strings.HasPrefix(src, "arn:"):
			role = "DR replica of " + src
		case src != "":
			role = "read replica of " + src
		}
		fmt.Fprintf(b, "  postgres %s: %s, %s, multi-AZ %v, %s\n", db.String("identifier"), role, db.String("instanceClass"), db.Bool("multiAz"), providerName(db.Provider))
	}
	for _, px := range p.OfType("aws:rds/proxy:Proxy") {
		fmt.Fprintf(b, "  rds proxy %s: TLS required %v\n", px.String("name"), px.Bool("requireTls"))
	}
	for _, rg := range p.OfType("aws:elasticache/replicationGroup:ReplicationGroup") {
		shards, replicas := rg.Number("numNodeGroups"), rg.Number("replicasPerNodeGroup")
		fmt.Fprintf(b, "  redis %s: %g shard(s) × %g replica(s) = %g nodes, failover %v\n", rg.String("replicationGroupId"), shards, replicas, shards*(1+replicas), rg.Bool("automaticFailoverEnabled"))
	}
	for _, c := range p.OfType("aws:msk/cluster:Cluster") {
		fmt.Fprintf(b, "  kafka %s: %g brokers, Kafka %s\n", c.String("clusterName"), c.Number("numberOfBrokerNodes"), c.String("kafkaVersion"))
	}
	for _, rp := range p.OfType("aws:iam/rolePolicy:RolePolicy") {
		if !strings.HasSuffix(rp.Name, "-kafka-topics-role-policy") {
			continue
		}
		if topics := policyTopics(rp.String("policy")); len(topics) > 0 {
			fmt.Fprintf(b, "  %d topics reconciled by kafka-topics (%s): %s\n", len(topics), strings.TrimSuffix(rp.Name, "-policy"), strings.Join(topics, ", "))
		}
	}
}

// policyTopics returns the sorted topic names of an IAM policy's MSK topic ARNs
// (arn:...:topic/<cluster>/<uuid>/<topic>).
func policyTopics(doc string) []string {
	var d struct {
		Statement []struct{ Resource any }
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return nil
	}
	var out []string
	for _, s := range d.Statement {
		var resources []any
		switch r := s.Resource.(type) {
		case string:
			resources = []any{r}
		case []any:
			resources = r
		}
		for _, r := range resources {
			if arn, _ := r.(string); strings.Contains(arn, ":topic/") {
				out = append(out, arn[strings.LastIndex(arn, "/")+1:])
			}
		}
	}
	slices.Sort(out)
	return out
}

// providerName names the provider of a resource from its reference ("urn::id").
func providerName(ref string) string {
	parts := strings.Split(ref, "::")
	if ref == "" || len(parts) < 4 {
		return "default provider"
	}
	return "provider " + parts[3]
}
