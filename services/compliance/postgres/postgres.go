// Package postgres is the compliance store in PostgreSQL's schema compliance (migrations in
// services/postgres, 0200_compliance onwards): KYC records and the audit trail, appended under
// a transaction-scoped advisory lock so the chain has one writer at a time, in the same
// transaction as the state change it records.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cantondex/platform/services/compliance"
	pg "github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/trading"
)

// auditLock serialises appends to the chain (and checkpoints).
const auditLock = 7242030

// Store implements compliance.Store.
type Store struct {
	db  *pg.DB
	now func() time.Time
}

// New returns the store on a migrated database.
func New(db *pg.DB) *Store { return &Store{db: db, now: time.Now} }

var _ compliance.Store = (*Store)(nil)

// KYC implements compliance.Store.
func (s *Store) KYC(ctx context.Context, account string) (compliance.KYC, error) {
	k := compliance.KYC{Account: account, Status: compliance.KYCUnverified}
	var app []byte
	var sub, dec, exp *time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT status, level, application, reason, reviewer, submitted_at, decided_at, expires_at, version
		FROM compliance.kyc WHERE account = $1`, account).
		Scan(&k.Status, &k.Level, &app, &k.Reason, &k.Reviewer, &sub, &dec, &exp, &k.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, nil
	}
	if err != nil {
		return compliance.KYC{}, fmt.Errorf("read kyc: %w", err)
	}
	if err := json.Unmarshal(app, &k.Application); err != nil {
		return compliance.KYC{}, fmt.Errorf("read kyc application: %w", err)
	}
	k.SubmittedAt, k.DecidedAt, k.ExpiresAt = deref(sub), deref(dec), deref(exp)
	return k, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// SaveKYC implements compliance.Store.
func (s *Store) SaveKYC(ctx context.Context, k compliance.KYC, audit ...compliance.Record) error {
	app, err := json.Marshal(k.Application)
	if err != nil {
		return fmt.Errorf("kyc application: %w", err)
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		if k.Version == 1 {
			t, err := tx.Exec(ctx, `INSERT INTO compliance.kyc (account, status, level, application, reason, reviewer, submitted_at, decided_at, expires_at, version)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) ON CONFLICT (account) DO NOTHING`,
				k.Account, k.Status, k.Level, app, k.Reason, k.Reviewer, nullTime(k.SubmittedAt), nullTime(k.DecidedAt), nullTime(k.ExpiresAt))
			if err != nil {
				return fmt.Errorf("save kyc: %w", err)
			}
			tag = t
		} else {
			t, err := tx.Exec(ctx, `UPDATE compliance.kyc SET status = $2, level = $3, application = $4, reason = $5, reviewer = $6,
				submitted_at = $7, decided_at = $8, expires_at = $9, version = $10 WHERE account = $1 AND version = $10 - 1`,
				k.Account, k.Status, k.Level, app, k.Reason, k.Reviewer, nullTime(k.SubmittedAt), nullTime(k.DecidedAt), nullTime(k.ExpiresAt), k.Version)
			if err != nil {
				return fmt.Errorf("save kyc: %w", err)
			}
			tag = t
		}
		if tag.RowsAffected() != 1 {
			return trading.Errorf(trading.ECONFLICT, "KYC record changed concurrently: retry")
		}
		_, err := appendTx(ctx, tx, s.now(), audit)
		return err
	})
}

// ListKYC implements compliance.Store.
func (s *Store) ListKYC(ctx context.Context, status compliance.KYCStatus, limit int) ([]compliance.KYC, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT account FROM compliance.kyc WHERE $1 = '' OR status = $1
		ORDER BY submitted_at NULLS LAST, account LIMIT $2`, string(status), limit)
	if err != nil {
		return nil, fmt.Errorf("list kyc: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list kyc: %w", err)
	}
	out := make([]compliance.KYC, 0, len(accounts))
	for _, a := range accounts {
		k, err := s.KYC(ctx, a)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// EachKYC implements compliance.Store: one query, read to the end before fn runs (fn may use
// the pool itself).
func (s *Store) EachKYC(ctx context.Context, fn func(compliance.KYC) error) error {
	rows, err := s.db.Pool.Query(ctx, `SELECT account, status, level, application, reason, reviewer, submitted_at, decided_at, expires_at, version
		FROM compliance.kyc ORDER BY account`)
	if err != nil {
		return fmt.Errorf("list kyc: %w", err)
	}
	defer rows.Close()
	var ks []compliance.KYC
	for rows.Next() {
		var k compliance.KYC
		var app []byte
		var sub, dec, exp *time.Time
		if err := rows.Scan(&k.Account, &k.Status, &k.Level, &app, &k.Reason, &k.Reviewer, &sub, &dec, &exp, &k.Version); err != nil {
			return fmt.Errorf("list kyc: %w", err)
		}
		if err := json.Unmarshal(app, &k.Application); err != nil {
			return fmt.Errorf("read kyc application of %s: %w", k.Account, err)
		}
		k.SubmittedAt, k.DecidedAt, k.ExpiresAt = deref(sub), deref(dec), deref(exp)
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list kyc: %w", err)
	}
	rows.Close()
	for _, k := range ks {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// headSQL reads the chain's last entry; queued right after the lock, in the same pipeline.
const headSQL = `SELECT seq, hash FROM compliance.audit_log ORDER BY seq DESC LIMIT 1`

// readHead reads headSQL's result: nil for an empty chain.
func readHead(row pgx.Row) (*compliance.Entry, error) {
	var last compliance.Entry
	err := row.Scan(&last.Seq, &last.Hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("audit head: %w", err)
	}
	return &last, nil
}

// queueAppend seals rs after prev and queues their insert on b: one statement for the whole
// batch (a statement per record cost the server a parse, bind and execute each); json keeps
// each payload's text byte for byte, as hashed.
func queueAppend(b *pgx.Batch, prev *compliance.Entry, now time.Time, rs []compliance.Record) ([]compliance.Entry, error) {
	out := make([]compliance.Entry, 0, len(rs))
	n := len(rs)
	seqs, tss := make([]int64, n), make([]time.Time, n)
	actors, kinds, subjects, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	prevs, hashes := make([][]byte, n), make([][]byte, n)
	for i, r := range rs {
		e, err := compliance.Seal(prev, r, now)
		if err != nil {
			return nil, trading.Errorf(trading.EINVALID, "%s", err.Error())
		}
		seqs[i], tss[i], actors[i], kinds[i], subjects[i], payloads[i], prevs[i], hashes[i] = e.Seq, e.TS, e.Actor, e.Kind, e.Subject, string(e.Payload), e.PrevHash, e.Hash
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	b.Queue(`INSERT INTO compliance.audit_log (seq, ts, actor, kind, subject, payload, prev_hash, hash)
		SELECT d.seq, d.ts, d.actor, d.kind, d.subject, d.payload::json, d.prev, d.hash
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])
		  AS d(seq, ts, actor, kind, subject, payload, prev, hash)`,
		seqs, tss, actors, kinds, subjects, payloads, prevs, hashes)
	return out, nil
}

// appendTx appends rs to the chain inside tx: the lock and the head's read in one round trip,
// the insert in a second.
func appendTx(ctx context.Context, tx pgx.Tx, now time.Time, rs []compliance.Record) ([]compliance.Entry, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, auditLock)
	b.Queue(headSQL)
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	if err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("audit lock: %w", err)
	}
	prev, err := readHead(br.QueryRow())
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit head: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	ins := &pgx.Batch{}
	out, err := queueAppend(ins, prev, now, rs)
	if err != nil {
		return nil, err
	}
	if err := tx.SendBatch(ctx, ins).Close(); err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return out, nil
}

// Append implements compliance.AuditLog.
func (s *Store) Append(ctx context.Context, rs ...compliance.Record) ([]compliance.Entry, error) {
	var out []compliance.Entry
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = appendTx(ctx, tx, s.now(), rs)
		return err
	})
	return out, err
}

// AppendOnce implements compliance.EventLog: one transaction records the event ids not seen
// before and appends their records, in two round trips (it is the flow consumer's per-batch
// write): the transaction's start, the chain's lock, the recording of the ids and the read of
// the chain's head go in one pipeline, the records and the commit in a second.
func (s *Store) AppendOnce(ctx context.Context, events []compliance.Once) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	var n int
	err := pg.Retry(ctx, func() (err error) {
		n, err = s.appendOnce(ctx, events, ids)
		return err
	})
	return n, err
}

func (s *Store) appendOnce(ctx context.Context, events []compliance.Once, ids []string) (int, error) {
	pc, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	// The pool closes a connection released inside a transaction instead of reusing it; a
	// failure rolls back first so that the connection stays usable.
	defer pc.Release()
	c := pc.Conn()
	n, err := appendOnceOn(ctx, c, s.now(), events, ids)
	if err != nil && !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
		_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return n, err
}

func appendOnceOn(ctx context.Context, c *pgx.Conn, now time.Time, events []compliance.Once, ids []string) (int, error) {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, auditLock)
	b.Queue(`INSERT INTO compliance.processed_events (id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING id`, ids)
	b.Queue(headSQL)
	br := c.SendBatch(ctx, b)
	fresh, prev, err := func() ([]string, *compliance.Entry, error) {
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("audit begin: %w", err)
		}
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("audit lock: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return nil, nil, fmt.Errorf("processed events: %w", err)
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, nil, fmt.Errorf("processed events: %w", err)
		}
		prev, err := readHead(br.QueryRow())
		return fresh, prev, err
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: %w", cerr)
	}
	if err != nil {
		return 0, err
	}
	isNew := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		isNew[id] = true
	}
	var rs []compliance.Record
	for _, e := range events {
		if isNew[e.ID] {
			rs = append(rs, e.Records...)
			delete(isNew, e.ID) // a repeated id in one batch counts once
		}
	}
	fin := &pgx.Batch{}
	if len(rs) > 0 {
		if _, err := queueAppend(fin, prev, now, rs); err != nil {
			return 0, err
		}
	}
	fin.Queue(`COMMIT`)
	if err := c.SendBatch(ctx, fin).Close(); err != nil {
		return 0, fmt.Errorf("append audit: %w", err)
	}
	return len(fresh), nil
}

// Entries implements compliance.AuditLog, in pages of 5,000.
func (s *Store) Entries(ctx context.Context, from, to int64, fn func(compliance.Entry) error) error {
	const page = 5000
	// Reading seq as stored, with no ORDER BY trust beyond the primary key: a row whose seq
	// was rewritten shows up where its number puts it, and the chain check catches it.
	next := from
	for {
		rows, err := s.db.Pool.Query(ctx, `SELECT seq, ts, actor, kind, subject, payload::text, prev_hash, hash FROM compliance.audit_log
			WHERE seq >= $1 AND ($2 = 0 OR seq <= $2) ORDER BY seq LIMIT $3`, next, to, page)
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		var n int
		for rows.Next() {
			var e compliance.Entry
			var payload string
			if err := rows.Scan(&e.Seq, &e.TS, &e.Actor, &e.Kind, &e.Subject, &payload, &e.PrevHash, &e.Hash); err != nil {
				rows.Close()
				return fmt.Errorf("read audit: %w", err)
			}
			e.Payload = json.RawMessage(payload)
			n++
			next = e.Seq + 1
			if err := fn(e); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		if n < page {
			return nil
		}
	}
}

// EntriesBetween returns the first and last seq of the entries with from <= ts < to (0, 0 when
// none).
func (s *Store) EntriesBetween(ctx context.Context, from, to time.Time) (first, last int64, err error) {
	err = s.db.Pool.QueryRow(ctx, `SELECT COALESCE(min(seq), 0), COALESCE(max(seq), 0) FROM compliance.audit_log WHERE ts >= $1 AND ts < $2`, from, to).Scan(&first, &last)
	if err != nil {
		return 0, 0, fmt.Errorf("audit range: %w", err)
	}
	return first, last, nil
}

// Checkpoints implements compliance.AuditLog.
func (s *Store) Checkpoints(ctx context.Context) ([]compliance.Checkpoint, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT from_seq, to_seq, root, head_hash, signed_at, key_id, algorithm, public_key, signature
		FROM compliance.audit_checkpoints ORDER BY from_seq`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (compliance.Checkpoint, error) {
		var c compliance.Checkpoint
		err := r.Scan(&c.FromSeq, &c.ToSeq, &c.Root, &c.HeadHash, &c.SignedAt, &c.KeyID, &c.Algorithm, &c.PublicKey, &c.Signature)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}

// Checkpoint implements compliance.AuditLog.
func (s *Store) Checkpoint(ctx context.Context, signer compliance.Signer, now time.Time) (compliance.Checkpoint, bool, error) {
	var c compliance.Checkpoint
	var ok bool
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLock); err != nil {
			return fmt.Errorf("audit lock: %w", err)
		}
		var from int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(to_seq), 0) + 1 FROM compliance.audit_checkpoints`).Scan(&from); err != nil {
			return fmt.Errorf("last checkpoint: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT seq, hash FROM compliance.audit_log WHERE seq >= $1 ORDER BY seq`, from)
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (compliance.Entry, error) {
			var e compliance.Entry
			err := r.Scan(&e.Seq, &e.Hash)
			return e, err
		})
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		if c, err = compliance.NewCheckpoint(entries, signer, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO compliance.audit_checkpoints (from_seq, to_seq, root, head_hash, signed_at, key_id, algorithm, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, c.FromSeq, c.ToSeq, c.Root, c.HeadHash, c.SignedAt, c.KeyID, c.Algorithm, c.PublicKey, c.Signature)
		if err != nil {
			return fmt.Errorf("store checkpoint: %w", err)
		}
		ok = true
		return nil
	})
	return c, ok, err
}

var _ compliance.CaseStore = (*Store)(nil)

// OpenCase implements compliance.CaseStore.
func (s *Store) OpenCase(ctx context.Context, c compliance.Case, audit ...compliance.Record) (bool, error) {
	var created bool
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := tx.Exec(ctx, `INSERT INTO compliance.cases (id, kind, subject, status, assignee, evidence, reason, opened_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.Kind, c.Subject, c.Status, c.Assignee, []byte(c.Evidence), c.Reason, c.OpenedAt, c.UpdatedAt, c.Version)
		if err != nil {
			return fmt.Errorf("open case: %w", err)
		}
		if created = t.RowsAffected() == 1; !created {
			return nil
		}
		_, err = appendTx(ctx, tx, s.now(), audit)
		return err
	})
	return created, err
}

const caseCols = `id, kind, subject, status, assignee, evidence, reason, report, opened_at, updated_at, version`

func scanCase(r pgx.Row) (compliance.Case, error) {
	var c compliance.Case
	var evidence, report []byte
	if err := r.Scan(&c.ID, &c.Kind, &c.Subject, &c.Status, &c.Assignee, &evidence, &c.Reason, &report, &c.OpenedAt, &c.UpdatedAt, &c.Version); err != nil {
		return c, err
	}
	c.Evidence = evidence
	if report != nil {
		c.Report = &compliance.Report{}
		if err := json.Unmarshal(report, c.Report); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Case implements compliance.CaseStore.
func (s *Store) Case(ctx context.Context, id string) (compliance.Case, error) {
	c, err := scanCase(s.db.Pool.QueryRow(ctx, `SELECT `+caseCols+` FROM compliance.cases WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, trading.Errorf(trading.ENOTFOUND, "case not found")
	}
	if err != nil {
		return c, fmt.Errorf("read case: %w", err)
	}
	return c, nil
}

// SaveCase implements compliance.CaseStore.
func (s *Store) SaveCase(ctx context.Context, c compliance.Case, audit ...compliance.Record) error {
	var report []byte
	if c.Report != nil {
		var err error
		if report, err = json.Marshal(c.Report); err != nil {
			return fmt.Errorf("case report: %w", err)
		}
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := tx.Exec(ctx, `UPDATE compliance.cases SET status = $2, assignee = $3, reason = $4, report = $5, updated_at = $6, version = $7
			WHERE id = $1 AND version = $7 - 1`, c.ID, c.Status, c.Assignee, c.Reason, report, c.UpdatedAt, c.Version)
		if err != nil {
			return fmt.Errorf("save case: %w", err)
		}
		if t.RowsAffected() != 1 {
			return trading.Errorf(trading.ECONFLICT, "case changed concurrently: retry")
		}
		_, err = appendTx(ctx, tx, s.now(), audit)
		return err
	})
}

// ListCases implements compliance.CaseStore.
func (s *Store) ListCases(ctx context.Context, status compliance.CaseStatus, limit int) ([]compliance.Case, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+caseCols+` FROM compliance.cases WHERE $1 = '' OR status = $1 ORDER BY opened_at, id LIMIT $2`, string(status), limit)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (compliance.Case, error) { return scanCase(r) })
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// CasesOf implements compliance.CaseStore (index cases_subject).
func (s *Store) CasesOf(ctx context.Context, subject string) ([]compliance.Case, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+caseCols+` FROM compliance.cases WHERE subject = $1 ORDER BY opened_at, id`, subject)
	if err != nil {
		return nil, fmt.Errorf("cases of subject: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (compliance.Case, error) { return scanCase(r) })
	if err != nil {
		return nil, fmt.Errorf("cases of subject: %w", err)
	}
	return out, nil
}

// AddCaseEvents implements compliance.CaseStore: one statement, so no officer's change is
// overwritten.
func (s *Store) AddCaseEvents(ctx context.Context, id string, events json.RawMessage, audit ...compliance.Record) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := tx.Exec(ctx, `UPDATE compliance.cases SET evidence = jsonb_set(evidence, '{events}', COALESCE(evidence->'events', '[]'::jsonb) || $2::jsonb)
			WHERE id = $1`, id, []byte(events))
		if err != nil {
			return fmt.Errorf("add case events: %w", err)
		}
		if t.RowsAffected() != 1 {
			return trading.Errorf(trading.ENOTFOUND, "case not found")
		}
		_, err = appendTx(ctx, tx, s.now(), audit)
		return err
	})
}
