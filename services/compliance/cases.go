package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// CaseStatus is where a case is.
type CaseStatus string

// Case statuses: open → escalated → (dismissed | reported); open → dismissed | reported.
const (
	CaseOpen      CaseStatus = "open"
	CaseEscalated CaseStatus = "escalated"
	CaseDismissed CaseStatus = "dismissed"
	CaseReported  CaseStatus = "reported"
)

// Report kinds.
const (
	SAR  = "SAR"  // US FinCEN Suspicious Activity Report: within 30 days of the determination (31 CFR 1022.320)
	STOR = "STOR" // EU MAR Art. 16 suspicious transaction and order report: without delay
)

// SARDeadline is the filing window from the determination date for a SAR.
const SARDeadline = 30 * 24 * time.Hour

// Case is an alert or a screening hit under investigation. Nothing of it is ever shown to
// its subject.
type Case struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`    // surveillance | screening
	Subject   string          `json:"subject"` // the account
	Status    CaseStatus      `json:"status"`
	Assignee  string          `json:"assignee,omitempty"`
	Evidence  json.RawMessage `json:"evidence"` // the alert (orders, trades, reason) or the list entries matched
	Reason    string          `json:"reason,omitempty"`
	Report    *Report         `json:"report,omitempty"`
	OpenedAt  time.Time       `json:"opened_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Version   int64           `json:"version"`
}

// Report is a case's regulatory report draft.
type Report struct {
	XMLName      xml.Name        `json:"-" xml:"report"`
	Type         string          `json:"type" xml:"type,attr"`
	CaseID       string          `json:"case_id" xml:"caseId"`
	Subject      string          `json:"subject" xml:"subject>account"`
	Narrative    string          `json:"narrative" xml:"narrative"`
	Activity     string          `json:"activity" xml:"activity"` // the detector or list that raised it
	Evidence     json.RawMessage `json:"evidence" xml:"-"`
	EvidenceXML  string          `json:"-" xml:"evidence"`
	DeterminedAt time.Time       `json:"determined_at" xml:"determinedAt"`
	Deadline     time.Time       `json:"filing_deadline" xml:"filingDeadline"`
	PreparedBy   string          `json:"prepared_by" xml:"preparedBy"`
}

// XML is the report in the documented XML form (services/compliance/README.md).
func (r Report) XML() ([]byte, error) {
	r.EvidenceXML = string(r.Evidence)
	b, err := xml.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

// CaseStore keeps cases; each change appends its audit records in the same transaction.
type CaseStore interface {
	// OpenCase stores c unless a case with its id exists (created false).
	OpenCase(ctx context.Context, c Case, audit ...Record) (created bool, err error)
	Case(ctx context.Context, id string) (Case, error)
	// SaveCase stores c if the stored version is c.Version-1 (ECONFLICT otherwise).
	SaveCase(ctx context.Context, c Case, audit ...Record) error
	ListCases(ctx context.Context, status CaseStatus, limit int) ([]Case, error)
	// AddCaseEvents appends events (a JSON array) to the "events" array of the case's
	// evidence, leaving its version (an officer's concurrent change is not in conflict).
	AddCaseEvents(ctx context.Context, id string, events json.RawMessage, audit ...Record) error
	// CasesOf returns the cases of subject (an account), oldest first.
	CasesOf(ctx context.Context, subject string) ([]Case, error)
}

// CaseID is deterministic in what raised the case, so a redelivered alert opens nothing new.
func CaseID(kind, source string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + source))
	return "case-" + hex.EncodeToString(h[:8])
}

// Cases works cases (compliance officers).
type Cases struct {
	store CaseStore
	now   func() time.Time
}

// NewCases returns the case service over store.
func NewCases(store CaseStore) *Cases { return &Cases{store: store, now: time.Now} }

// SetClock replaces the clock (tests of deadlines).
func (s *Cases) SetClock(now func() time.Time) { s.now = now }

// Open opens a case for evidence raised by source (an alert id, a screening run), once.
func (s *Cases) Open(ctx context.Context, kind, source, subject string, evidence any) (Case, error) {
	c, _, err := s.open(ctx, kind, source, subject, evidence)
	return c, err
}

// open is Open reporting whether the case is new.
func (s *Cases) open(ctx context.Context, kind, source, subject string, evidence any) (Case, bool, error) {
	ev, err := json.Marshal(evidence)
	if err != nil {
		return Case{}, false, err
	}
	now := s.now()
	c := Case{ID: CaseID(kind, source), Kind: kind, Subject: subject, Status: CaseOpen, Evidence: ev, OpenedAt: now, UpdatedAt: now, Version: 1}
	created, err := s.store.OpenCase(ctx, c, Record{Actor: "system", Kind: "case.opened", Subject: c.ID, Payload: map[string]any{"kind": kind, "subject": subject, "source": source}})
	if err != nil {
		return Case{}, false, err
	}
	c, err = s.store.Case(ctx, c.ID)
	return c, created, err
}

// Get returns a case.
func (s *Cases) Get(ctx context.Context, id string) (Case, error) { return s.store.Case(ctx, id) }

// List returns cases in status (all when empty), oldest first.
func (s *Cases) List(ctx context.Context, status CaseStatus, limit int) ([]Case, error) {
	return s.store.ListCases(ctx, status, limit)
}

func (s *Cases) change(ctx context.Context, officer, id, kind string, payload map[string]any, fn func(*Case) error) (Case, error) {
	c, err := s.store.Case(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if c.Status == CaseDismissed || c.Status == CaseReported {
		return Case{}, trading.Errorf(trading.ECONFLICT, "case is %s", c.Status)
	}
	if err := fn(&c); err != nil {
		return Case{}, err
	}
	c.UpdatedAt, c.Version = s.now(), c.Version+1
	payload["status"] = c.Status
	if err := s.store.SaveCase(ctx, c, Record{Actor: officer, Kind: "case." + kind, Subject: c.ID, Payload: payload}); err != nil {
		return Case{}, err
	}
	return c, nil
}

// Assign gives the case to an officer.
func (s *Cases) Assign(ctx context.Context, officer, id, assignee string) (Case, error) {
	if err := text("assignee", assignee, 128); err != nil {
		return Case{}, err
	}
	return s.change(ctx, officer, id, "assigned", map[string]any{"assignee": assignee}, func(c *Case) error {
		c.Assignee = assignee
		return nil
	})
}

// Dismiss closes the case with a reason.
func (s *Cases) Dismiss(ctx context.Context, officer, id, reason string) (Case, error) {
	if err := text("reason", reason, 2000); err != nil {
		return Case{}, err
	}
	return s.change(ctx, officer, id, "dismissed", map[string]any{"reason": reason}, func(c *Case) error {
		c.Status, c.Reason = CaseDismissed, reason
		return nil
	})
}

// Escalate sends the case up with a reason.
func (s *Cases) Escalate(ctx context.Context, officer, id, reason string) (Case, error) {
	if err := text("reason", reason, 2000); err != nil {
		return Case{}, err
	}
	return s.change(ctx, officer, id, "escalated", map[string]any{"reason": reason}, func(c *Case) error {
		if c.Status == CaseEscalated {
			return trading.Errorf(trading.ECONFLICT, "case is already escalated")
		}
		c.Status, c.Reason = CaseEscalated, reason
		return nil
	})
}

// Determine records the determination that the activity is suspicious and drafts the
// report: a SAR is due 30 days from the determination, a STOR without delay (due at the
// determination).
func (s *Cases) Determine(ctx context.Context, officer, id, kind, narrative string) (Case, error) {
	if kind != SAR && kind != STOR {
		return Case{}, trading.Errorf(trading.EINVALID, "type must be SAR or STOR")
	}
	if err := text("narrative", narrative, 10000); err != nil {
		return Case{}, err
	}
	now := s.now().UTC()
	return s.change(ctx, officer, id, "reported", map[string]any{"type": kind}, func(c *Case) error {
		r := &Report{Type: kind, CaseID: c.ID, Subject: c.Subject, Narrative: narrative, Activity: activity(c),
			Evidence: c.Evidence, DeterminedAt: now, Deadline: now, PreparedBy: officer}
		if kind == SAR {
			r.Deadline = now.Add(SARDeadline)
		}
		c.Status, c.Report = CaseReported, r
		return nil
	})
}

func activity(c *Case) string {
	var a struct {
		Detector string `json:"detector"`
	}
	if json.Unmarshal(c.Evidence, &a) == nil && a.Detector != "" {
		return a.Detector
	}
	return c.Kind
}
