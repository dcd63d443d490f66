package compliance

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// Memory is the in-memory Store (local runs without PostgreSQL, and tests). It keeps the
// same chain as the PostgreSQL store, so Verify applies to it too.
type Memory struct {
	mu          sync.Mutex
	kyc         map[string]KYC
	entries     []Entry
	checkpoints []Checkpoint
	seen        map[string]bool // event ids handled (AppendOnce)
	cases       map[string]Case
	now         func() time.Time
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{kyc: map[string]KYC{}, now: time.Now} }

var _ Store = (*Memory)(nil)

// KYC implements Store.
func (m *Memory) KYC(_ context.Context, account string) (KYC, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kyc[account]
	if !ok {
		return KYC{Account: account, Status: KYCUnverified}, nil
	}
	return k, nil
}

// SaveKYC implements Store.
func (m *Memory) SaveKYC(_ context.Context, k KYC, audit ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kyc[k.Account].Version != k.Version-1 {
		return trading.Errorf(trading.ECONFLICT, "KYC record changed concurrently: retry")
	}
	if _, err := m.appendLocked(audit); err != nil {
		return err
	}
	m.kyc[k.Account] = k
	return nil
}

// ListKYC implements Store.
func (m *Memory) ListKYC(_ context.Context, status KYCStatus, limit int) ([]KYC, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []KYC
	for _, k := range m.kyc {
		if status == "" || k.Status == status {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b KYC) int { return a.SubmittedAt.Compare(b.SubmittedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// EachKYC implements Store.
func (m *Memory) EachKYC(_ context.Context, fn func(KYC) error) error {
	m.mu.Lock()
	ks := make([]KYC, 0, len(m.kyc))
	for _, k := range m.kyc {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	slices.SortFunc(ks, func(a, b KYC) int { return strings.Compare(a.Account, b.Account) })
	for _, k := range ks {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) appendLocked(rs []Record) ([]Entry, error) {
	var out []Entry
	entries := m.entries
	for _, r := range rs {
		var prev *Entry
		if len(entries) > 0 {
			prev = &entries[len(entries)-1]
		}
		e, err := Seal(prev, r, m.now())
		if err != nil {
			return nil, trading.Errorf(trading.EINVALID, "%s", err.Error())
		}
		entries = append(entries, e)
		out = append(out, e)
	}
	m.entries = entries
	return out, nil
}

// Append implements AuditLog.
func (m *Memory) Append(_ context.Context, rs ...Record) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appendLocked(rs)
}

// Entries implements AuditLog.
func (m *Memory) Entries(_ context.Context, from, to int64, fn func(Entry) error) error {
	m.mu.Lock()
	es := slices.Clone(m.entries)
	m.mu.Unlock()
	for _, e := range es {
		if e.Seq >= from && (to == 0 || e.Seq <= to) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Checkpoints implements AuditLog.
func (m *Memory) Checkpoints(context.Context) ([]Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.checkpoints), nil
}

// Checkpoint implements AuditLog.
func (m *Memory) Checkpoint(_ context.Context, signer Signer, now time.Time) (Checkpoint, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var from int64 = 1
	if n := len(m.checkpoints); n > 0 {
		from = m.checkpoints[n-1].ToSeq + 1
	}
	if int64(len(m.entries)) < from {
		return Checkpoint{}, false, nil
	}
	c, err := NewCheckpoint(m.entries[from-1:], signer, now)
	if err != nil {
		return Checkpoint{}, false, err
	}
	m.checkpoints = append(m.checkpoints, c)
	return c, true, nil
}

// Verify reads the whole trail of log and its checkpoints and returns the first problem.
func Verify(ctx context.Context, log AuditLog, v *Verifier) error {
	v.FromStart = true
	if err := log.Entries(ctx, 1, 0, func(e Entry) error { v.Entry(e); return nil }); err != nil {
		return err
	}
	cps, err := log.Checkpoints(ctx)
	if err != nil {
		return err
	}
	return v.Finish(cps)
}

var _ CaseStore = (*Memory)(nil)

// OpenCase implements CaseStore.
func (m *Memory) OpenCase(_ context.Context, c Case, audit ...Record) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cases == nil {
		m.cases = map[string]Case{}
	}
	if _, ok := m.cases[c.ID]; ok {
		return false, nil
	}
	if _, err := m.appendLocked(audit); err != nil {
		return false, err
	}
	m.cases[c.ID] = c
	return true, nil
}

// Case implements CaseStore.
func (m *Memory) Case(_ context.Context, id string) (Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cases[id]
	if !ok {
		return Case{}, trading.Errorf(trading.ENOTFOUND, "case not found")
	}
	return c, nil
}

// SaveCase implements CaseStore.
func (m *Memory) SaveCase(_ context.Context, c Case, audit ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cases[c.ID].Version != c.Version-1 {
		return trading.Errorf(trading.ECONFLICT, "case changed concurrently: retry")
	}
	if _, err := m.appendLocked(audit); err != nil {
		return err
	}
	m.cases[c.ID] = c
	return nil
}

// ListCases implements CaseStore.
func (m *Memory) ListCases(_ context.Context, status CaseStatus, limit int) ([]Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Case
	for _, c := range m.cases {
		if status == "" || c.Status == status {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Case) int { return a.OpenedAt.Compare(b.OpenedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CasesOf implements CaseStore.
func (m *Memory) CasesOf(_ context.Context, subject string) ([]Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Case
	for _, c := range m.cases {
		if c.Subject == subject {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Case) int {
		if d := a.OpenedAt.Compare(b.OpenedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// AddCaseEvents implements CaseStore.
func (m *Memory) AddCaseEvents(_ context.Context, id string, events json.RawMessage, audit ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cases[id]
	if !ok {
		return trading.Errorf(trading.ENOTFOUND, "case not found")
	}
	var ev map[string]json.RawMessage
	var have, add []json.RawMessage
	if err := json.Unmarshal(c.Evidence, &ev); err != nil {
		return err
	}
	if err := json.Unmarshal(events, &add); err != nil {
		return err
	}
	if raw, ok := ev["events"]; ok {
		if err := json.Unmarshal(raw, &have); err != nil {
			return err
		}
	}
	all, err := json.Marshal(append(have, add...))
	if err != nil {
		return err
	}
	ev["events"] = all
	if c.Evidence, err = json.Marshal(ev); err != nil {
		return err
	}
	if _, err := m.appendLocked(audit); err != nil {
		return err
	}
	m.cases[id] = c
	return nil
}
