package compliance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// KYCLinks is who owns which account according to KYC, for the live wash-trade detector
// (services/compliance/surveillance.Links) and case evidence. Accounts are linked when their
// verified applications name one natural person: an individual account's holder, or an
// entity's beneficial owner, identified by name (case, punctuation and spacing ignored), date of
// birth and nationality. Links are transitive (an entity owned by a person who also trades in
// their own name, and a second entity of the same person, are one owner). Safe for concurrent
// use: Owner reads a snapshot Refresh swaps.
type KYCLinks struct {
	snap atomic.Pointer[linkSnapshot]
}

type linkSnapshot struct {
	owner   map[string]string   // account → group id (only linked accounts)
	members map[string][]string // group id → accounts, sorted
}

// Owner returns the account's beneficial owner: the group of accounts linked to it (named by
// its first account in order), or the account itself when nothing links it.
func (l *KYCLinks) Owner(account string) string {
	if s := l.snap.Load(); s != nil {
		if o, ok := s.owner[account]; ok {
			return o
		}
	}
	return account
}

// Linked returns the other accounts linked to account, sorted (nil when none).
func (l *KYCLinks) Linked(account string) []string {
	s := l.snap.Load()
	if s == nil {
		return nil
	}
	o, ok := s.owner[account]
	if !ok {
		return nil
	}
	var out []string
	for _, a := range s.members[o] {
		if a != account {
			out = append(out, a)
		}
	}
	return out
}

// personKey identifies a natural person across applications.
func personKey(name, dob, nationality string) string {
	var b strings.Builder
	for _, f := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		b.WriteString(f)
		b.WriteByte(' ')
	}
	return b.String() + "|" + dob + "|" + strings.ToUpper(nationality)
}

// Build replaces the links with those of records (only verified applications count: what an
// officer checked).
func (l *KYCLinks) Build(records []KYC) {
	parent := map[string]string{}
	var find func(string) string
	find = func(a string) string {
		p, ok := parent[a]
		if !ok || p == a {
			parent[a] = a
			return a
		}
		r := find(p)
		parent[a] = r
		return r
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if rb < ra {
			ra, rb = rb, ra
		}
		parent[rb] = ra
	}
	byPerson := map[string]string{} // person → first account naming them
	for _, k := range records {
		if k.Status != KYCVerified {
			continue
		}
		var persons []string
		app := k.Application
		if app.Type == Entity {
			for _, o := range app.BeneficialOwners {
				persons = append(persons, personKey(o.Name, o.DateOfBirth, o.Nationality))
			}
		} else {
			persons = append(persons, personKey(app.LegalName, app.DateOfBirth, app.Nationality))
		}
		for _, p := range persons {
			if first, ok := byPerson[p]; ok {
				union(first, k.Account)
			} else {
				byPerson[p] = k.Account
			}
		}
	}
	s := &linkSnapshot{owner: map[string]string{}, members: map[string][]string{}}
	groups := map[string][]string{}
	for a := range parent {
		r := find(a)
		groups[r] = append(groups[r], a)
	}
	for _, ms := range groups {
		if len(ms) < 2 {
			continue
		}
		slices.Sort(ms)
		id := ms[0]
		s.members[id] = ms
		for _, a := range ms {
			s.owner[a] = id
		}
	}
	l.snap.Store(s)
}

// Refresh rebuilds the links from the store's KYC records.
func (l *KYCLinks) Refresh(ctx context.Context, store Store) error {
	var records []KYC
	if err := store.EachKYC(ctx, func(k KYC) error {
		records = append(records, k)
		return nil
	}); err != nil {
		return err
	}
	l.Build(records)
	return nil
}

// Run refreshes the links now and then every interval until ctx ends; a failed refresh keeps
// the previous links and is reported to onErr.
func (l *KYCLinks) Run(ctx context.Context, store Store, every time.Duration, onErr func(error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := l.Refresh(ctx, store); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// LinksRefreshFromEnv reads KYC_LINKS_REFRESH, how often the links are re-read from the KYC
// records (default 30s; 100ms to 1h).
func LinksRefreshFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv("KYC_LINKS_REFRESH")
	if v == "" {
		return 30 * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 100*time.Millisecond || d > time.Hour {
		return 0, fmt.Errorf("KYC_LINKS_REFRESH %q: want a duration from 100ms to 1h", v)
	}
	return d, nil
}
