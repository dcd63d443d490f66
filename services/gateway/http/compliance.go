package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/trading"
)

// Compliance is what the API needs of the compliance service (compliance.Service).
type Compliance interface {
	KYC(ctx context.Context, account string) (compliance.KYC, error)
	List(ctx context.Context, status compliance.KYCStatus, limit int) ([]compliance.KYC, error)
	Submit(ctx context.Context, actor, account string, app compliance.Application) (compliance.KYC, error)
	Review(ctx context.Context, officer, account string) (compliance.KYC, error)
	Approve(ctx context.Context, officer, account string, level compliance.Level, reason string) (compliance.KYC, error)
	Reject(ctx context.Context, officer, account, reason string) (compliance.KYC, error)
	// ScreenWithdrawal screens a withdrawal (the holder's names and the destination address)
	// before funds move; EFORBIDDEN while a screening case of the account is not cleared.
	ScreenWithdrawal(ctx context.Context, actor, id, account, asset, address string) error
	// Record appends an audit record (admin and officer actions).
	Record(ctx context.Context, r compliance.Record) error
	// Audit returns up to limit entries from seq fromSeq, and the checkpoints.
	Audit(ctx context.Context, fromSeq int64, limit int) ([]compliance.Entry, []compliance.Checkpoint, error)
}

func (s *Server) compliance() (Compliance, error) {
	if s.deps.Compliance == nil {
		return nil, trading.Errorf(trading.EUNAVAILABLE, "compliance is not configured on this server")
	}
	return s.deps.Compliance, nil
}

// kycJSON is what a trader sees of their own verification: no reviewer, no notes beyond the
// reason of a decision.
type kycJSON struct {
	Account     string `json:"account"`
	Status      string `json:"status"`
	Level       string `json:"level,omitempty"`
	Reason      string `json:"reason,omitempty"`
	SubmittedAt string `json:"submitted_at,omitempty"`
	ExpiresAt   string `json:"expires_at,omitempty"`
}

func kycView(k compliance.KYC) kycJSON {
	out := kycJSON{Account: k.Account, Status: string(k.Status), Level: string(k.Level)}
	if k.Status == compliance.KYCRejected {
		out.Reason = k.Reason
	}
	if !k.SubmittedAt.IsZero() {
		out.SubmittedAt = timestamp(k.SubmittedAt)
	}
	if !k.ExpiresAt.IsZero() && k.Status == compliance.KYCVerified {
		out.ExpiresAt = timestamp(k.ExpiresAt)
	}
	return out
}

// kycRecordJSON is the officer's view: the application and the review.
type kycRecordJSON struct {
	kycJSON
	Application compliance.Application `json:"application"`
	Reviewer    string                 `json:"reviewer,omitempty"`
	Note        string                 `json:"note,omitempty"`
	DecidedAt   string                 `json:"decided_at,omitempty"`
}

func kycRecord(k compliance.KYC) kycRecordJSON {
	out := kycRecordJSON{kycJSON: kycView(k), Application: k.Application, Reviewer: k.Reviewer, Note: k.Reason}
	if out.Application.BeneficialOwners == nil {
		out.Application.BeneficialOwners = []compliance.Owner{}
	}
	if !k.DecidedAt.IsZero() {
		out.DecidedAt = timestamp(k.DecidedAt)
	}
	return out
}

func (s *Server) submitKYC(c echo.Context) error {
	cs, err := s.compliance()
	if err != nil {
		return err
	}
	var app compliance.Application
	if err := decode(c, &app); err != nil {
		return err
	}
	p := principal(c)
	k, err := cs.Submit(c.Request().Context(), p.UserID, p.UserID, app)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, kycView(k))
}

func (s *Server) getKYC(c echo.Context) error {
	cs, err := s.compliance()
	if err != nil {
		return err
	}
	k, err := cs.KYC(c.Request().Context(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, kycView(k))
}

func (s *Server) listKYC(c echo.Context) error {
	cs, err := s.compliance()
	if err != nil {
		return err
	}
	return listByStatus(c, []compliance.KYCStatus{compliance.KYCSubmitted, compliance.KYCUnderReview, compliance.KYCVerified, compliance.KYCRejected},
		"status must be submitted, under_review, verified or rejected", cs.List, kycRecord)
}

// listByStatus answers a list route filtered by ?status= (empty: every status; anything not in
// allowed: 400 with msg), at most 500 items, each as view writes it.
func listByStatus[S ~string, T, J any](c echo.Context, allowed []S, msg string,
	list func(ctx context.Context, status S, limit int) ([]T, error), view func(T) J) error {
	status := S(c.QueryParam("status"))
	if status != "" && !slices.Contains(allowed, status) {
		return trading.Errorf(trading.EINVALID, "%s", msg)
	}
	xs, err := list(c.Request().Context(), status, 500)
	if err != nil {
		return err
	}
	items := make([]J, len(xs))
	for i, x := range xs {
		items[i] = view(x)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// officerAccount is the :account of an officer's route, which must be a user.
func (s *Server) officerAccount(c echo.Context) (string, error) {
	account := c.Param("account")
	if !idRE.MatchString(account) {
		return "", trading.Errorf(trading.ENOTFOUND, "account not found")
	}
	return account, s.accountExists(c.Request().Context(), account)
}

func (s *Server) accountKYC(c echo.Context) error {
	cs, err := s.compliance()
	if err != nil {
		return err
	}
	account, err := s.officerAccount(c)
	if err != nil {
		return err
	}
	k, err := cs.KYC(c.Request().Context(), account)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, kycRecord(k))
}

type kycDecision struct {
	Level  string `json:"level"`
	Reason string `json:"reason"`
}

func (s *Server) decideKYC(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		cs, err := s.compliance()
		if err != nil {
			return err
		}
		account, err := s.officerAccount(c)
		if err != nil {
			return err
		}
		var req kycDecision
		if action != "review" {
			if err := decode(c, &req); err != nil {
				return err
			}
		}
		ctx, officer := c.Request().Context(), principal(c).UserID
		var k compliance.KYC
		switch action {
		case "review":
			k, err = cs.Review(ctx, officer, account)
		case "approve":
			k, err = cs.Approve(ctx, officer, account, compliance.Level(req.Level), req.Reason)
		default:
			if req.Level != "" {
				return trading.Errorf(trading.EINVALID, "level is for approvals")
			}
			k, err = cs.Reject(ctx, officer, account, req.Reason)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, kycRecord(k))
	}
}

type auditEntryJSON struct {
	Seq      int64           `json:"seq"`
	TS       string          `json:"ts"`
	Actor    string          `json:"actor"`
	Kind     string          `json:"kind"`
	Subject  string          `json:"subject"`
	Payload  json.RawMessage `json:"payload"`
	PrevHash []byte          `json:"prev_hash"`
	Hash     []byte          `json:"hash"`
}

func (s *Server) auditTrail(c echo.Context) error {
	cs, err := s.compliance()
	if err != nil {
		return err
	}
	from, limit := int64(1), 500
	if v := c.QueryParam("from_seq"); v != "" {
		if from, err = strconv.ParseInt(v, 10, 64); err != nil || from < 1 {
			return trading.Errorf(trading.EINVALID, "from_seq must be a positive integer")
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 5000 {
			return trading.Errorf(trading.EINVALID, "limit must be 1 to 5000")
		}
	}
	es, cps, err := cs.Audit(c.Request().Context(), from, limit)
	if err != nil {
		return err
	}
	items := make([]auditEntryJSON, len(es))
	for i, e := range es {
		items[i] = auditEntryJSON{Seq: e.Seq, TS: timestamp(e.TS), Actor: e.Actor, Kind: e.Kind, Subject: e.Subject, Payload: e.Payload, PrevHash: e.PrevHash, Hash: e.Hash}
	}
	if cps == nil {
		cps = []compliance.Checkpoint{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "checkpoints": cps})
}

// audited records a successful state-changing admin or officer request in the audit trail:
// who, which route, its path parameters and body. A request that could not be recorded
// still succeeded; the failure is logged for the operators.
func (s *Server) audited(path string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.deps.Compliance == nil || c.Request().Method == http.MethodGet {
			return next(c)
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		if err := next(c); err != nil {
			return err
		}
		if c.Response().Status >= 400 {
			return nil
		}
		params := map[string]string{}
		for i, n := range c.ParamNames() {
			params[n] = c.ParamValues()[i]
		}
		payload := map[string]any{"method": c.Request().Method, "route": "/api/v1" + path, "params": params, "status": c.Response().Status}
		if json.Valid(body) && len(body) > 0 {
			payload["body"] = json.RawMessage(body)
		}
		subject := params["account"]
		if subject == "" {
			subject = params["market"]
		}
		p := principal(c)
		r := compliance.Record{Actor: p.UserID, Kind: "admin." + c.Request().Method + " " + path, Subject: subject, Payload: payload}
		if err := s.deps.Compliance.Record(c.Request().Context(), r); err != nil {
			s.log.ErrorContext(c.Request().Context(), "audit admin action", "route", path, "err", err)
		}
		return nil
	}
}

// CaseWork is what the API needs of the case service (compliance.Cases).
type CaseWork interface {
	Get(ctx context.Context, id string) (compliance.Case, error)
	List(ctx context.Context, status compliance.CaseStatus, limit int) ([]compliance.Case, error)
	Assign(ctx context.Context, officer, id, assignee string) (compliance.Case, error)
	Dismiss(ctx context.Context, officer, id, reason string) (compliance.Case, error)
	Escalate(ctx context.Context, officer, id, reason string) (compliance.Case, error)
	Determine(ctx context.Context, officer, id, kind, narrative string) (compliance.Case, error)
}

func (s *Server) caseWork() (CaseWork, error) {
	if s.deps.Cases == nil {
		return nil, trading.Errorf(trading.EUNAVAILABLE, "compliance is not configured on this server")
	}
	return s.deps.Cases, nil
}

type caseJSON struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Subject   string          `json:"subject"`
	Status    string          `json:"status"`
	Assignee  string          `json:"assignee,omitempty"`
	Evidence  json.RawMessage `json:"evidence"`
	Reason    string          `json:"reason,omitempty"`
	Report    *reportJSON     `json:"report,omitempty"`
	OpenedAt  string          `json:"opened_at"`
	UpdatedAt string          `json:"updated_at"`
}

type reportJSON struct {
	Type         string          `json:"type"`
	CaseID       string          `json:"case_id"`
	Subject      string          `json:"subject"`
	Narrative    string          `json:"narrative"`
	Activity     string          `json:"activity"`
	Evidence     json.RawMessage `json:"evidence"`
	DeterminedAt string          `json:"determined_at"`
	Deadline     string          `json:"filing_deadline"`
	PreparedBy   string          `json:"prepared_by"`
}

func reportView(r *compliance.Report) *reportJSON {
	if r == nil {
		return nil
	}
	return &reportJSON{Type: r.Type, CaseID: r.CaseID, Subject: r.Subject, Narrative: r.Narrative, Activity: r.Activity, Evidence: r.Evidence,
		DeterminedAt: timestamp(r.DeterminedAt), Deadline: timestamp(r.Deadline), PreparedBy: r.PreparedBy}
}

func caseView(c compliance.Case) caseJSON {
	return caseJSON{ID: c.ID, Kind: c.Kind, Subject: c.Subject, Status: string(c.Status), Assignee: c.Assignee, Evidence: c.Evidence,
		Reason: c.Reason, Report: reportView(c.Report), OpenedAt: timestamp(c.OpenedAt), UpdatedAt: timestamp(c.UpdatedAt)}
}

func (s *Server) listCases(c echo.Context) error {
	cw, err := s.caseWork()
	if err != nil {
		return err
	}
	return listByStatus(c, []compliance.CaseStatus{compliance.CaseOpen, compliance.CaseEscalated, compliance.CaseDismissed, compliance.CaseReported},
		"status must be open, escalated, dismissed or reported", cw.List, caseView)
}

func caseParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !idRE.MatchString(id) {
		return "", trading.Errorf(trading.ENOTFOUND, "case not found")
	}
	return id, nil
}

func (s *Server) getCase(c echo.Context) error {
	cw, err := s.caseWork()
	if err != nil {
		return err
	}
	id, err := caseParam(c)
	if err != nil {
		return err
	}
	x, err := cw.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, caseView(x))
}

type caseAction struct {
	Assignee  string `json:"assignee"`
	Reason    string `json:"reason"`
	Type      string `json:"type"`
	Narrative string `json:"narrative"`
}

func (s *Server) actOnCase(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		cw, err := s.caseWork()
		if err != nil {
			return err
		}
		id, err := caseParam(c)
		if err != nil {
			return err
		}
		var req caseAction
		if err := decode(c, &req); err != nil {
			return err
		}
		ctx, officer := c.Request().Context(), principal(c).UserID
		var x compliance.Case
		switch action {
		case "assign":
			x, err = cw.Assign(ctx, officer, id, req.Assignee)
		case "dismiss":
			x, err = cw.Dismiss(ctx, officer, id, req.Reason)
		case "escalate":
			x, err = cw.Escalate(ctx, officer, id, req.Reason)
		default:
			x, err = cw.Determine(ctx, officer, id, req.Type, req.Narrative)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, caseView(x))
	}
}

// caseReport exports the case's report draft as JSON (the default) or XML (?format=xml).
func (s *Server) caseReport(c echo.Context) error {
	cw, err := s.caseWork()
	if err != nil {
		return err
	}
	id, err := caseParam(c)
	if err != nil {
		return err
	}
	x, err := cw.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if x.Report == nil {
		return trading.Errorf(trading.ENOTFOUND, "case has no report: determine it first")
	}
	switch c.QueryParam("format") {
	case "", "json":
		return c.JSON(http.StatusOK, reportView(x.Report))
	case "xml":
		b, err := x.Report.XML()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationXMLCharsetUTF8, b)
	default:
		return trading.Errorf(trading.EINVALID, "format must be json or xml")
	}
}
