package screening

import "slices"

// Delta returns the entries of next that are new or changed since prev (compared by ID and
// content), in next's order: after a list update, screening every account against an index
// of the delta finds exactly the hits the update can have created. Removed entries cannot
// create hits and are not returned.
func Delta(prev, next []Entry) []Entry {
	old := make(map[string]*Entry, len(prev))
	for i := range prev {
		old[prev[i].ID] = &prev[i]
	}
	var out []Entry
	for _, e := range next {
		if p, ok := old[e.ID]; !ok || !sameEntry(*p, e) {
			out = append(out, e)
		}
	}
	return out
}

func sameEntry(a, b Entry) bool {
	return a.ID == b.ID && a.List == b.List && a.Type == b.Type && a.Name == b.Name &&
		slices.Equal(a.Aliases, b.Aliases) && slices.Equal(a.DOBs, b.DOBs) &&
		slices.Equal(a.Countries, b.Countries) && slices.Equal(a.Addresses, b.Addresses) &&
		slices.Equal(a.Programs, b.Programs)
}
