package stacks

import (
	"fmt"
	"net/netip"
)

// NATMode chooses how private subnets reach the internet.
type NATMode string

const (
	// NATPerAZ puts a NAT gateway in every AZ, so losing an AZ loses none of the others' egress.
	NATPerAZ NATMode = "per-az"
	// NATSingle shares one NAT gateway: cheaper, acceptable outside prod.
	NATSingle NATMode = "single"
)

// Network is the VPC layout.
type Network struct {
	// CIDR of the VPC, a /16 to /24 IPv4 block.
	CIDR string `json:"cidr"`
	// AZCount is how many availability zones the subnets span (2–6).
	AZCount int `json:"azCount"`
	// SubnetBits is the prefix length of each subnet (public, private, database per AZ); the
	// 3 × AZCount subnets must fit in the VPC.
	SubnetBits int     `json:"subnetBits"`
	NATMode    NATMode `json:"natMode"`
	// FlowLogRetentionDays is how long VPC flow logs are kept in CloudWatch Logs.
	FlowLogRetentionDays int `json:"flowLogRetentionDays"`
	// DRCIDR is the VPC block prepared in the disaster-recovery region; it must not overlap CIDR.
	DRCIDR string `json:"drCidr"`
}

func defaultNetwork(env Environment) Network {
	n := Network{CIDR: "10.0.0.0/16", AZCount: 3, SubnetBits: 20, NATMode: NATPerAZ, FlowLogRetentionDays: 365, DRCIDR: "10.1.0.0/16"}
	if env == Staging {
		n.NATMode = NATSingle
		n.FlowLogRetentionDays = 30
	}
	return n
}

// Valid CloudWatch Logs retention values.
var logRetentionDays = map[int]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true,
	120: true, 150: true, 180: true, 365: true, 400: true, 545: true, 731: true, 1096: true, 1827: true,
	2192: true, 2557: true, 2922: true, 3288: true, 3653: true}

func validateRetention(v *validator, setting string, days int) {
	if !logRetentionDays[days] {
		v.errorf(setting, "%d is not a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, ... 365, ... 3653 days)", days)
	}
}

func (n *Network) validate(v *validator, env Environment) {
	prefix, err := netip.ParsePrefix(n.CIDR)
	switch {
	case err != nil || !prefix.Addr().Is4():
		v.errorf("network.cidr", "%q is not an IPv4 CIDR block", n.CIDR)
	case prefix.Bits() < 16 || prefix.Bits() > 24:
		v.errorf("network.cidr", "/%d is outside the allowed /16 to /24", prefix.Bits())
	case prefix.Masked() != prefix:
		v.errorf("network.cidr", "%q has host bits set (did you mean %s?)", n.CIDR, prefix.Masked())
	}
	if n.AZCount < 2 || n.AZCount > 6 {
		v.errorf("network.azCount", "%d is outside the allowed 2 to 6", n.AZCount)
	}
	if err == nil && prefix.Addr().Is4() {
		switch {
		case n.SubnetBits <= prefix.Bits() || n.SubnetBits > 28:
			v.errorf("network.subnetBits", "/%d must be longer than the VPC's /%d and at most /28", n.SubnetBits, prefix.Bits())
		case 3*n.AZCount > 1<<(n.SubnetBits-prefix.Bits()):
			v.errorf("network.subnetBits", "/%d leaves room for %d subnets in %s; %d AZs need %d",
				n.SubnetBits, 1<<(n.SubnetBits-prefix.Bits()), n.CIDR, n.AZCount, 3*n.AZCount)
		}
	}
	if n.NATMode != NATPerAZ && n.NATMode != NATSingle {
		v.errorf("network.natMode", "%q is not one of per-az, single", n.NATMode)
	} else if env == Prod && n.NATMode != NATPerAZ {
		v.errorf("network.natMode", "prod needs per-az NAT gateways so one AZ's failure cannot cut the others' egress")
	}
	validateRetention(v, "network.flowLogRetentionDays", n.FlowLogRetentionDays)
	dr, drErr := netip.ParsePrefix(n.DRCIDR)
	switch {
	case drErr != nil || !dr.Addr().Is4():
		v.errorf("network.drCidr", "%q is not an IPv4 CIDR block", n.DRCIDR)
	case err == nil && dr.Overlaps(prefix):
		v.errorf("network.drCidr", "%s overlaps the primary VPC %s", n.DRCIDR, n.CIDR)
	}
}

// Subnets returns the CIDR of subnet number i (0-based) of the VPC: public subnets first, then
// private, then database, AZCount of each.
func (n Network) Subnets() ([]string, error) {
	prefix, err := netip.ParsePrefix(n.CIDR)
	if err != nil {
		return nil, err
	}
	size := uint32(1) << (32 - n.SubnetBits)
	base := prefix.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	out := make([]string, 3*n.AZCount)
	for i := range out {
		a := start + uint32(i)*size
		out[i] = fmt.Sprintf("%d.%d.%d.%d/%d", a>>24, a>>16&0xff, a>>8&0xff, a&0xff, n.SubnetBits)
	}
	return out, nil
}
