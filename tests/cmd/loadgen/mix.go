package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The operations a mixed workload draws from.
const (
	opPlace  = "place"  // POST /orders
	opCancel = "cancel" // DELETE /orders/{id} of one of the trader's resting orders
	opBook   = "book"   // GET /markets/{market}/book
	opRead   = "read"   // GET /orders/{id} of one of the trader's orders
)

var ops = []string{opPlace, opCancel, opBook, opRead}

// mix is the workload's proportions, as cumulative weights in ops order.
type mix struct {
	cum   [4]int
	total int
}

// parseMix reads "place=80,cancel=10,book=5,read=5" (weights, any positive total).
func parseMix(s string) (mix, error) {
	var m mix
	var w [4]int
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		i := slices.Index(ops, k)
		n, err := strconv.Atoi(v)
		switch {
		case !ok || i < 0:
			return m, fmt.Errorf("-mix %q: %q is not op=weight with op one of %s", s, part, strings.Join(ops, ", "))
		case err != nil || n < 0:
			return m, fmt.Errorf("-mix %q: weight of %s must be a non-negative integer", s, k)
		case w[i] != 0:
			return m, fmt.Errorf("-mix %q: %s given twice", s, k)
		}
		w[i] = n
	}
	for i := range w {
		m.total += w[i]
		m.cum[i] = m.total
	}
	if m.total == 0 || w[0] == 0 {
		return m, fmt.Errorf("-mix %q: placements need a positive weight (cancels and reads act on placed orders)", s)
	}
	return m, nil
}

// draw picks an operation.
func (m mix) draw(rng *rand.Rand) string {
	n := rng.IntN(m.total)
	for i, c := range m.cum {
		if n < c {
			return ops[i]
		}
	}
	return opPlace
}
