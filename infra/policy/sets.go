package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ipRange is an inclusive range of addresses of one family.
type ipRange struct{ lo, hi netip.Addr }

// ipSet is a set of addresses: sorted, disjoint, non-adjacent ranges (IPv4 before IPv6).
type ipSet []ipRange

// everywhere is every IPv4 and IPv6 address.
var everywhere = mustCIDRs("0.0.0.0/0", "::/0")

func mustCIDRs(cidrs ...string) ipSet {
	var s ipSet
	for _, c := range cidrs {
		r, err := cidrSet(c)
		if err != nil {
			panic(err)
		}
		s = s.union(r)
	}
	return s
}

// cidrSet is the set of a CIDR's addresses.
func cidrSet(cidr string) (ipSet, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return nil, fmt.Errorf("CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	return ipSet{{p.Addr(), lastAddr(p)}}, nil
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bit := i * 8
		switch {
		case bit >= p.Bits():
			b[i] = 0xff
		case bit+8 > p.Bits():
			b[i] |= 0xff >> (p.Bits() - bit)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (s ipSet) empty() bool { return len(s) == 0 }

func (s ipSet) union(t ipSet) ipSet {
	all := slices.Concat(s, t)
	slices.SortFunc(all, func(a, b ipRange) int { return a.lo.Compare(b.lo) })
	var out ipSet
	for _, r := range all {
		if n := len(out); n > 0 {
			last := &out[n-1]
			next := last.hi.Next() // invalid past the family's last address
			if r.lo.Compare(last.hi) <= 0 || (next.IsValid() && r.lo == next) {
				if last.hi.Less(r.hi) {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// minus is s without t's addresses.
func (s ipSet) minus(t ipSet) ipSet {
	var out ipSet
	for _, r := range s {
		lo, done := r.lo, false
		for _, x := range t {
			if x.hi.Less(lo) || r.hi.Less(x.lo) {
				continue
			}
			if lo.Less(x.lo) {
				out = append(out, ipRange{lo, x.lo.Prev()})
			}
			if !x.hi.Less(r.hi) {
				done = true
				break
			}
			lo = x.hi.Next()
		}
		if !done {
			out = append(out, ipRange{lo, r.hi})
		}
	}
	return out
}

// covers reports whether every address of t is in s.
func (s ipSet) covers(t ipSet) bool { return t.minus(s).empty() }

// intersects reports whether s and t share an address.
func (s ipSet) intersects(t ipSet) bool { return !slices.Equal(s.minus(t), s) }

// protocols a NetworkPolicy port may name.
var protocols = []string{"TCP", "UDP", "SCTP"}

// portSet is a set of (protocol, port) with ports 1-65535, one bitmap per protocol.
type portSet [3][1024]uint64

func protoIndex(proto string) int { return slices.Index(protocols, proto) }

// allPorts is every port of every protocol.
func allPorts() *portSet {
	var s portSet
	for i := range protocols {
		s.addRange(i, 1, 65535)
	}
	return &s
}

func (s *portSet) addRange(proto, lo, hi int) {
	for p := max(lo, 1); p <= min(hi, 65535); p++ {
		s[proto][p/64] |= 1 << (p % 64)
	}
}

func (s *portSet) has(proto, port int) bool { return s[proto][port/64]&(1<<(port%64)) != 0 }

func (s *portSet) union(t *portSet) {
	for i := range s {
		for w := range s[i] {
			s[i][w] |= t[i][w]
		}
	}
}

func (s *portSet) intersect(t *portSet) *portSet {
	var out portSet
	for i := range s {
		for w := range s[i] {
			out[i][w] = s[i][w] & t[i][w]
		}
	}
	return &out
}

func (s *portSet) minus(t *portSet) *portSet {
	var out portSet
	for i := range s {
		for w := range s[i] {
			out[i][w] = s[i][w] &^ t[i][w]
		}
	}
	return &out
}

func (s *portSet) empty() bool {
	for i := range s {
		for _, w := range s[i] {
			if w != 0 {
				return false
			}
		}
	}
	return true
}

// ranges are the set's maximal port ranges of one protocol.
func (s *portSet) ranges(proto int) [][2]int {
	var out [][2]int
	for p := 1; p <= 65535; p++ {
		if !s.has(proto, p) {
			continue
		}
		lo := p
		for p < 65535 && s.has(proto, p+1) {
			p++
		}
		out = append(out, [2]int{lo, p})
	}
	return out
}

// String lists the set as "53/UDP, 1-52/TCP, ...".
func (s *portSet) String() string {
	var parts []string
	for i, proto := range protocols {
		for _, r := range s.ranges(i) {
			if r[0] == r[1] {
				parts = append(parts, fmt.Sprintf("%d/%s", r[0], proto))
			} else {
				parts = append(parts, fmt.Sprintf("%d-%d/%s", r[0], r[1], proto))
			}
		}
	}
	return strings.Join(parts, ", ")
}
