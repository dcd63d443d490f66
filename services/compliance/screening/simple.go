package screening

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// LoadSimple reads our own CSV format for PEP and adverse-media lists (RFC 4180, UTF-8, a
// header row naming the columns, in any order):
//
//	id        required; unique within its list; the entry id becomes "<list>:<id>"
//	list      required; the list name, e.g. "pep" or "adverse-media"
//	name      required; the primary name
//	type      optional; individual | entity | vessel | aircraft (default individual)
//	aliases   optional; other names separated by "|"
//	dob       optional; dates of birth (YYYY, YYYY-MM or YYYY-MM-DD, "circa YYYY") separated by "|"
//	country   optional; nationalities (ISO 3166 alpha-2 or English names) separated by "|"
//	addresses optional; crypto addresses separated by "|"
//	programs  optional; the reasons for listing (e.g. "head of state", "fraud") separated by "|"
//
// An unknown column, a missing required column or value, a duplicate id or a row with the
// wrong number of fields fails the load with an error naming the line.
func LoadSimple(r io.Reader) ([]Entry, error) {
	simpleColumns := []string{"id", "list", "type", "name", "aliases", "dob", "country", "addresses", "programs"}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("simple csv: empty file, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("simple csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(simpleColumns, h) {
			return nil, fmt.Errorf("simple csv line 1: unknown column %q (want %s)", h, strings.Join(simpleColumns, ","))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("simple csv line 1: column %q twice", h)
		}
		col[h] = i
	}
	for _, req := range []string{"id", "list", "name"} {
		if _, ok := col[req]; !ok {
			return nil, fmt.Errorf("simple csv line 1: no %q column", req)
		}
	}
	get := func(rec []string, c string) string {
		if i, ok := col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var entries []Entry
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("simple csv line %d: %v", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("simple csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		e := Entry{
			ID:        get(rec, "list") + ":" + get(rec, "id"),
			List:      get(rec, "list"),
			Type:      strings.ToLower(get(rec, "type")),
			Name:      get(rec, "name"),
			Aliases:   splitBar(get(rec, "aliases")),
			DOBs:      splitBar(get(rec, "dob")),
			Addresses: splitBar(get(rec, "addresses")),
			Programs:  splitBar(get(rec, "programs")),
		}
		for _, c := range splitBar(get(rec, "country")) {
			e.Countries = appendUnique(e.Countries, countryCode(c))
		}
		switch {
		case get(rec, "id") == "":
			return nil, fmt.Errorf("simple csv line %d: empty id", line)
		case e.List == "":
			return nil, fmt.Errorf("simple csv line %d: empty list", line)
		case e.Name == "":
			return nil, fmt.Errorf("simple csv line %d: empty name", line)
		case seen[e.ID]:
			return nil, fmt.Errorf("simple csv line %d: duplicate id %s", line, e.ID)
		}
		switch e.Type {
		case "":
			e.Type = "individual"
		case "individual", "entity", "vessel", "aircraft":
		default:
			return nil, fmt.Errorf("simple csv line %d: type %q, want individual, entity, vessel or aircraft", line, e.Type)
		}
		seen[e.ID] = true
		entries = append(entries, e)
	}
}

func splitBar(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "|") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
