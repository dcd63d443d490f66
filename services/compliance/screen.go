package compliance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode"

	"github.com/cantondex/platform/services/trading"
)

// ListEntry is the listed party a hit matched, as the list publishes it: the case's evidence.
type ListEntry struct {
	ID        string   `json:"id"`
	List      string   `json:"list"`
	Type      string   `json:"type,omitempty"`
	Name      string   `json:"name"`
	Aliases   []string `json:"aliases,omitempty"`
	DOBs      []string `json:"dates_of_birth,omitempty"`
	Countries []string `json:"countries,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	Programs  []string `json:"programs,omitempty"`
}

// AddressScreener is a Screener that also matches crypto addresses (exactly, as the SDN
// remarks list them: "Digital Currency Address - XBT …").
type AddressScreener interface {
	ScreenAddress(address string) []Hit
}

// Screening triggers, as case evidence names them.
const (
	TriggerKYC        = "kyc_submission"
	TriggerWithdrawal = "withdrawal"
	TriggerListUpdate = "list_update"
)

// party is one name screened for an account: the legal name or a beneficial owner.
type party struct{ name, dob, country string }

func parties(app Application) []party {
	ps := []party{{app.LegalName, app.DateOfBirth, app.Nationality}}
	for _, o := range app.BeneficialOwners {
		ps = append(ps, party{o.Name, o.DateOfBirth, o.Nationality})
	}
	return ps
}

// screenParties screens the application's names; each hit says which name it matched.
func screenParties(sc Screener, app Application) []Hit {
	var out []Hit
	for _, p := range parties(app) {
		for _, h := range sc.ScreenName(p.name, p.dob, p.country) {
			h.Screened = p.name
			out = append(out, h)
		}
	}
	return out
}

// hitSource is what a case of a screening hit is keyed by: the account, the list entry and
// whether a name or an address matched (an address is a fact of its own). The same hit found
// again (at KYC, a withdrawal, a list update, on another replica) is the same case, so an
// officer's clearance of it stands.
func hitSource(account string, h Hit) string {
	if h.Address != "" {
		return "hit:" + account + ":" + h.EntryID + ":address:" + h.Address
	}
	return "hit:" + account + ":" + h.EntryID + ":name"
}

// openHits opens a screening case per hit not seen for the account before and returns the
// ids of the cases opened now. Without a case service it opens nothing.
func (s *Service) openHits(ctx context.Context, account, trigger string, app Application, hits []Hit, extra map[string]any) ([]string, error) {
	if s.cases == nil {
		return nil, nil
	}
	var opened []string
	seen := map[string]bool{}
	for _, h := range hits {
		src := hitSource(account, h)
		if seen[src] {
			continue
		}
		seen[src] = true
		ev := map[string]any{"trigger": trigger, "account": account, "hit": h, "application": app}
		if links := s.linked(account); len(links) > 0 {
			ev["linked_accounts"] = links
		}
		for k, v := range extra {
			ev[k] = v
		}
		c, created, err := s.cases.open(ctx, "screening", src, account, ev)
		if err != nil {
			return opened, err
		}
		if created {
			opened = append(opened, c.ID)
		}
	}
	return opened, nil
}

func (s *Service) linked(account string) []string {
	if s.links == nil {
		return nil
	}
	return s.links.Linked(account)
}

// SetLinks adds the accounts linked by KYC to the subject to a screening case's evidence.
func (s *Service) SetLinks(l *KYCLinks) { s.links = l }

// blockingCases returns the screening cases of the account an officer has not cleared:
// open, escalated, or reported (a confirmed match: its funds stay blocked). Dismissed clears.
func (s *Service) blockingCases(ctx context.Context, account string) ([]string, error) {
	if s.cases == nil {
		return nil, nil
	}
	cs, err := s.cases.store.CasesOf(ctx, account)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		if c.Kind == "screening" && c.Status != CaseDismissed {
			out = append(out, c.ID)
		}
	}
	return out, nil
}

// AddressPattern bounds a destination address: 1 to 128 printable characters without spaces.
func validAddress(a string) error {
	if a == "" || len(a) > 128 || strings.IndexFunc(a, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return trading.Errorf(trading.EINVALID, "address must be 1 to 128 printable ASCII characters without spaces")
	}
	return nil
}

// ScreenWithdrawal screens a withdrawal before any funds move: the account holder's names
// (the KYC application's legal name and beneficial owners) and, when given, the destination
// address (exact match against the list's digital currency addresses). A hit opens a
// screening case (once per account, entry and kind of match); the withdrawal is refused
// (EFORBIDDEN) while any screening case of the account is not cleared, the ones it opened now
// included. A refusal is audited (withdrawal.blocked) with the cases that hold it.
func (s *Service) ScreenWithdrawal(ctx context.Context, actor, id, account, asset, address string) error {
	if address != "" {
		if err := validAddress(address); err != nil {
			return err
		}
	}
	if s.screener != nil {
		k, err := s.store.KYC(ctx, account)
		if err != nil {
			return err
		}
		var hits []Hit
		if k.Application.LegalName != "" {
			hits = screenParties(s.screener, k.Application)
		}
		if as, ok := s.screener.(AddressScreener); ok && address != "" {
			hits = append(hits, as.ScreenAddress(address)...)
		}
		if len(hits) > 0 {
			extra := map[string]any{"withdrawal": map[string]string{"id": id, "asset": asset, "address": address}}
			if _, err := s.openHits(ctx, account, TriggerWithdrawal, k.Application, hits, extra); err != nil {
				return err
			}
		}
	}
	blocking, err := s.blockingCases(ctx, account)
	if err != nil || len(blocking) == 0 {
		return err
	}
	slices.Sort(blocking)
	if _, err := s.store.Append(ctx, Record{Actor: actor, Kind: "withdrawal.blocked", Subject: account,
		Payload: map[string]any{"id": id, "asset": asset, "address": address, "cases": blocking}}); err != nil {
		return err
	}
	return trading.Errorf(trading.EFORBIDDEN, "withdrawal blocked: screening case %s of the account is not cleared; a compliance officer must dismiss it first", strings.Join(blocking, ", "))
}

// RescreenResult is what one delta re-screening did.
type RescreenResult struct {
	Accounts int      `json:"accounts"` // records screened
	Hits     int      `json:"hits"`
	Opened   []string `json:"cases_opened"`
}

// Rescreen screens every account's KYC names against delta (a screener over the entries a
// list update added or changed) and opens a case for each new hit. Accounts that never
// submitted have no names to screen. The run is audited (screening.rescreen, with list, the
// update's description).
func (s *Service) Rescreen(ctx context.Context, delta Screener, list map[string]any) (RescreenResult, error) {
	var res RescreenResult
	err := s.store.EachKYC(ctx, func(k KYC) error {
		if k.Application.LegalName == "" {
			return nil
		}
		res.Accounts++
		hits := screenParties(delta, k.Application)
		if len(hits) == 0 {
			return nil
		}
		res.Hits += len(hits)
		opened, err := s.openHits(ctx, k.Account, TriggerListUpdate, k.Application, hits, map[string]any{"list_update": list})
		res.Opened = append(res.Opened, opened...)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("rescreen: %w", err)
	}
	if res.Opened == nil {
		res.Opened = []string{}
	}
	_, err = s.store.Append(ctx, Record{Actor: "system", Kind: "screening.rescreen", Subject: "screening-list",
		Payload: map[string]any{"list": list, "result": res}})
	return res, err
}

// RescreenFunc re-screens the accounts against a list update (Service.Rescreen).
type RescreenFunc func(ctx context.Context, delta Screener, list map[string]any) (RescreenResult, error)

// ListWatcher is a Screener whose list is updated while the service runs
// (services/compliance/screening.Watcher): Watch runs until ctx ends and calls rescreen with
// each update's delta.
type ListWatcher interface {
	Watch(ctx context.Context, log *slog.Logger, rescreen RescreenFunc) error
}
