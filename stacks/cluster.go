package stacks

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kubernetes versions: MinKubernetesVersion is the oldest the settings accept (past end of
// standard support, kept as a floor); SupportedKubernetesVersion is the oldest in EKS standard
// support and DefaultKubernetesVersion what new stacks get. EKS calendar (standard support
// ends): 1.33 on 2026-07-29, 1.34 on 2026-12-02, 1.35 on 2027-03-27; so new stacks get 1.35 and
// 1.34, whose standard support ends within days, is the oldest accepted without a warning.
const (
	MinKubernetesVersion       = "1.28"
	SupportedKubernetesVersion = "1.34"
	DefaultKubernetesVersion   = "1.35"
)

// Cluster is the EKS control plane.
type Cluster struct {
	Version string `json:"version"`
	// PublicEndpoint exposes the API server endpoint to PublicAccessCIDRs; the private endpoint
	// is always on.
	PublicEndpoint    bool     `json:"publicEndpoint"`
	PublicAccessCIDRs []string `json:"publicAccessCidrs"`
	// LogRetentionDays for the control-plane log group.
	LogRetentionDays int `json:"logRetentionDays"`
	// AdminRoleARNs are IAM roles given cluster-admin through EKS access entries (the deploy
	// role, the SRE role). The identity running `pulumi up` is admin through EKS's bootstrap.
	AdminRoleARNs []string `json:"adminRoleArns"`
}

func defaultCluster(env Environment) Cluster {
	c := Cluster{Version: DefaultKubernetesVersion, PublicEndpoint: false, LogRetentionDays: 365}
	if env == Staging {
		c.LogRetentionDays = 30
	}
	return c
}

func (c *Cluster) validate(v *validator, env Environment) {
	switch cmp, err := compareMinor(c.Version, MinKubernetesVersion); {
	case err != nil:
		v.errorf("cluster.version", "%q is not a Kubernetes minor version like %s", c.Version, DefaultKubernetesVersion)
	case cmp < 0:
		v.errorf("cluster.version", "%s is below the minimum %s (default %s)", c.Version, MinKubernetesVersion, DefaultKubernetesVersion)
	default:
		if old, _ := compareMinor(c.Version, SupportedKubernetesVersion); old < 0 {
			v.warnf("cluster.version", "%s is past EKS standard support; upgrade to %s or newer", c.Version, SupportedKubernetesVersion)
		}
	}
	if c.PublicEndpoint && len(c.PublicAccessCIDRs) == 0 {
		v.errorf("cluster.publicAccessCidrs", "must list the CIDRs allowed to reach the public endpoint when cluster.publicEndpoint is true")
	}
	if !c.PublicEndpoint && len(c.PublicAccessCIDRs) > 0 {
		v.errorf("cluster.publicAccessCidrs", "set but cluster.publicEndpoint is false")
	}
	for i, cidr := range c.PublicAccessCIDRs {
		p, err := netip.ParsePrefix(cidr)
		setting := fmt.Sprintf("cluster.publicAccessCidrs[%d]", i)
		switch {
		case err != nil:
			v.errorf(setting, "%q is not a CIDR block", cidr)
		case p.Bits() == 0 && env == Prod:
			v.errorf(setting, "%s opens the prod API server to the whole internet; list your offices' or VPN's CIDRs", cidr)
		case p.Bits() == 0:
			v.warnf(setting, "%s opens the API server to the whole internet", cidr)
		}
	}
	validateRetention(v, "cluster.logRetentionDays", c.LogRetentionDays)
	for i, arn := range c.AdminRoleARNs {
		if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":role/") {
			v.errorf(fmt.Sprintf("cluster.adminRoleArns[%d]", i), "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
		}
	}
}

// compareMinor compares "major.minor" versions.
func compareMinor(a, b string) (int, error) {
	pa, err := parseMinor(a)
	if err != nil {
		return 0, err
	}
	pb, err := parseMinor(b)
	if err != nil {
		return 0, err
	}
	switch {
	case pa[0] != pb[0]:
		return pa[0] - pb[0], nil
	default:
		return pa[1] - pb[1], nil
	}
}

func parseMinor(s string) ([2]int, error) {
	maj, min, ok := strings.Cut(s, ".")
	if !ok {
		return [2]int{}, fmt.Errorf("version %q", s)
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return [2]int{}, fmt.Errorf("version %q", s)
	}
	return [2]int{a, b}, nil
}

// CapacityType of a managed node group.
type CapacityType string

const (
	OnDemand CapacityType = "ON_DEMAND"
	Spot     CapacityType = "SPOT"
)

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"` // NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE
}

// NodeGroup is one EKS managed node group.
type NodeGroup struct {
	Name          string            `json:"name"`
	CapacityType  CapacityType      `json:"capacityType"`
	InstanceTypes []string          `json:"instanceTypes"`
	MinSize       int               `json:"minSize"`
	DesiredSize   int               `json:"desiredSize"`
	MaxSize       int               `json:"maxSize"`
	DiskSizeGiB   int               `json:"diskSizeGiB"`
	Labels        map[string]string `json:"labels"`
	Taints        []Taint           `json:"taints"`
}

func defaultNodeGroups(env Environment) []NodeGroup {
	onDemand := NodeGroup{
		Name: "on-demand", CapacityType: OnDemand, InstanceTypes: []string{"m5.large", "c5.xlarge", "t3.xlarge"},
		MinSize: 3, DesiredSize: 3, MaxSize: 20, DiskSizeGiB: 100,
		Labels: map[string]string{"cantondex.io/capacity": "on-demand"},
	}
	spot := NodeGroup{
		Name: "spot", CapacityType: Spot, InstanceTypes: []string{"m5.large", "c5.xlarge", "t3.xlarge"},
		MinSize: 0, DesiredSize: 0, MaxSize: 10, DiskSizeGiB: 100,
		Labels: map[string]string{"cantondex.io/capacity": "spot"},
		Taints: []Taint{{Key: "cantondex.io/spot", Value: "true", Effect: "NO_SCHEDULE"}},
	}
	return []NodeGroup{onDemand, spot}
}

var taintEffects = map[string]bool{"NO_SCHEDULE": true, "NO_EXECUTE": true, "PREFER_NO_SCHEDULE": true}

func validateNodeGroups(v *validator, groups []NodeGroup) {
	if len(groups) == 0 {
		v.errorf("nodeGroups", "at least one node group is needed")
	}
	seen := map[string]bool{}
	for i, g := range groups {
		at := func(field string) string { return fmt.Sprintf("nodeGroups[%d].%s", i, field) }
		if g.Name == "" || seen[g.Name] {
			v.errorf(at("name"), "%q must be non-empty and unique", g.Name)
		}
		seen[g.Name] = true
		if g.CapacityType != OnDemand && g.CapacityType != Spot {
			v.errorf(at("capacityType"), "%q is not one of ON_DEMAND, SPOT", g.CapacityType)
		}
		if len(g.InstanceTypes) == 0 {
			v.errorf(at("instanceTypes"), "must list at least one instance type")
		}
		for j, it := range g.InstanceTypes {
			if it == "" || !strings.Contains(it, ".") {
				v.errorf(fmt.Sprintf("nodeGroups[%d].instanceTypes[%d]", i, j), "%q is not an EC2 instance type like m5.large", it)
			}
		}
		if g.MinSize < 0 {
			v.errorf(at("minSize"), "%d is negative", g.MinSize)
		}
		if g.MinSize > g.MaxSize {
			v.errorf(at("minSize"), "%d is above maxSize %d (need minSize ≤ desiredSize ≤ maxSize)", g.MinSize, g.MaxSize)
		}
		if g.DesiredSize < g.MinSize || g.DesiredSize > g.MaxSize {
			v.errorf(at("desiredSize"), "%d is outside minSize %d to maxSize %d", g.DesiredSize, g.MinSize, g.MaxSize)
		}
		if g.MaxSize < 1 {
			v.errorf(at("maxSize"), "%d must be at least 1", g.MaxSize)
		}
		if g.DiskSizeGiB < 20 || g.DiskSizeGiB > 16384 {
			v.errorf(at("diskSizeGiB"), "%d is outside 20 to 16384 GiB", g.DiskSizeGiB)
		}
		for j, t := range g.Taints {
			if t.Key == "" || !taintEffects[t.Effect] {
				v.errorf(fmt.Sprintf("nodeGroups[%d].taints[%d]", i, j), "needs a key and an effect of NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE")
			}
		}
	}
}
