package postgres

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

var _ ledger.Store = (*Store)(nil)

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store implements the storage ports on the pool, or inside one transaction (see InTx).
type Store struct {
	db *DB
	tx pgx.Tx
}

// NewStore returns a store on db's pool.
func NewStore(db *DB) *Store { return &Store{db: db} }

// InTx runs fn with a store bound to one transaction (retried as DB.InTx does); nested calls
// join the outer transaction.
func (s *Store) InTx(ctx context.Context, fn func(*Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error { return fn(&Store{db: s.db, tx: tx}) })
}

func (s *Store) q() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.db.Pool
}

// Apply implements ledger.Store.
func (s *Store) Apply(ctx context.Context, t ledger.Transfer) (bool, error) {
	if err := ledger.Validate(t); err != nil {
		return false, err
	}
	var n int
	err := s.InTx(ctx, func(s *Store) error {
		var err error
		if n, err = s.applyAll(ctx, []ledger.Transfer{t}); err != nil || n == 1 {
			return err
		}
		// Known id: the same transfer again is a no-op, a different one a conflict.
		body, err := transferBody(t)
		if err != nil {
			return err
		}
		var same bool
		if err := s.tx.QueryRow(ctx, `SELECT postings::jsonb = $2::jsonb FROM ledger_transfers WHERE id = $1`, t.ID, body).Scan(&same); err != nil {
			return err
		}
		if !same {
			return trading.Errorf(trading.ECONFLICT, "transfer %s was applied with other amounts", t.ID)
		}
		return nil
	})
	return n == 1, translate(err, "transfer")
}

// ApplyAll implements ledger.Store.
func (s *Store) ApplyAll(ctx context.Context, ts []ledger.Transfer) error {
	for _, t := range ts {
		if err := ledger.Validate(t); err != nil {
			return err
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return translate(s.InTx(ctx, func(s *Store) error {
		_, err := s.applyAll(ctx, ts)
		return err
	}), "transfer")
}

type delta struct{ total, held int64 }

type balKey struct{ account, asset string }

// applyAll applies the transfers not applied before, in three round trips when the holds and
// balance rows exist: record the ids; adjust and close holds (pipelined); adjust balances. It
// returns how many transfers were new.
func (s *Store) applyAll(ctx context.Context, ts []ledger.Transfer) (int, error) {
	rec, err := newRecording(ts)
	if err != nil {
		return 0, err
	}
	rows, err := s.q().Query(ctx, rec.sql, rec.args...)
	if err != nil {
		return 0, err
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	return s.applyRecorded(ctx, ts, fresh)
}

// recording is the statement that records transfers' ids and bodies, returning the ids that
// were new; Settle sends it in a pipeline with its other statements.
type recording struct {
	sql  string
	args []any
}

func newRecording(ts []ledger.Transfer) (recording, error) {
	ids := make([]string, 0, len(ts))
	kinds := make([]string, 0, len(ts))
	bodies := make([][]byte, 0, len(ts))
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		body, err := transferBody(t)
		if err != nil {
			return recording{}, err
		}
		ids, kinds, bodies = append(ids, t.ID), append(kinds, string(t.Kind)), append(bodies, body)
	}
	return recording{sql: `INSERT INTO ledger_transfers (id, kind, postings)
		SELECT * FROM unnest($1::text[], $2::text[], $3::json[]) ON CONFLICT (id) DO NOTHING RETURNING id`,
		args: []any{ids, kinds, bodies}}, nil
}

// applyRecorded applies the effects of the transfers of ts whose ids are in fresh (recorded
// just now).
func (s *Store) applyRecorded(ctx context.Context, ts []ledger.Transfer, fresh []string) (int, error) {
	q := s.q()
	if len(fresh) == 0 {
		return 0, nil
	}
	isNew := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		isNew[id] = true
	}

	bal := map[balKey]*delta{}
	add := func(account, asset string, total, held int64) {
		k := balKey{account, asset}
		d := bal[k]
		if d == nil {
			d = &delta{}
			bal[k] = d
		}
		d.total += total
		d.held += held
	}
	holds := map[string]*holdDelta{}
	for _, t := range ts {
		if !isNew[t.ID] {
			continue
		}
		delete(isNew, t.ID) // a repeated id inside the batch counts once
		for _, p := range t.Postings {
			add(p.Account, p.Asset, p.Amount, 0)
		}
		for _, h := range t.Holds {
			d := holds[h.Hold]
			if d == nil {
				d = &holdDelta{account: h.Account, asset: h.Asset}
				holds[h.Hold] = d
			} else if d.account != h.Account || d.asset != h.Asset || d.close {
				return 0, trading.Errorf(trading.ECONFLICT, "hold %s used inconsistently", h.Hold)
			}
			d.amount += h.Amount
			d.close = d.close || h.Close
			add(h.Account, h.Asset, 0, h.Amount)
		}
	}

	// Owners whose available funds this batch could lower (it reserves, or it takes more
	// than it releases) are locked first and checked last; see migrations/0005.
	var guarded []balKey
	for k, d := range bal {
		if !ledger.IsSystem(k.account) && (d.held > 0 || d.total-d.held < 0) {
			guarded = append(guarded, k)
		}
	}
	sortKeys(guarded)
	if err := lockReservations(ctx, q, guarded); err != nil {
		return 0, err
	}
	if len(holds) > 0 {
		if err := applyHolds(ctx, q, holds, add); err != nil {
			return 0, err
		}
	}
	if err := applyBalances(ctx, q, bal); err != nil {
		return 0, err
	}
	if err := checkAvailable(ctx, q, guarded); err != nil {
		return 0, err
	}
	return len(fresh), nil
}

func sortKeys(keys []balKey) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].account != keys[j].account {
			return keys[i].account < keys[j].account
		}
		return keys[i].asset < keys[j].asset
	})
}

func splitKeys(keys []balKey) (accts, assets []string) {
	accts, assets = make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		accts[i], assets[i] = k.account, k.asset
	}
	return accts, assets
}

// lockReservations locks the ledger_reserved rows of keys (sorted), creating missing ones, so
// that checks of those owners' available funds run one at a time and see each other's effects.
func lockReservations(ctx context.Context, q querier, keys []balKey) error {
	if len(keys) == 0 {
		return nil
	}
	accts, assets := splitKeys(keys)
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO ledger_reserved (account, asset) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, accts, assets)
	batch.Queue(`SELECT 1 FROM ledger_reserved r JOIN unnest($1::text[], $2::text[]) AS k(account, asset)
		ON r.account = k.account AND r.asset = k.asset ORDER BY r.account, r.asset FOR UPDATE OF r`, accts, assets)
	return q.SendBatch(ctx, batch).Close()
}

// checkAvailable fails with insufficient funds when any of keys (locked by lockReservations)
// has negative available funds after the batch. It is a statement of its own, after the lock,
// so it reads every transfer committed before.
func checkAvailable(ctx context.Context, q querier, keys []balKey) error {
	if len(keys) == 0 {
		return nil
	}
	accts, assets := splitKeys(keys)
	var short bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS k(account, asset)
		LEFT JOIN ledger_balances b ON b.account = k.account AND b.asset = k.asset
		LEFT JOIN ledger_reserved r ON r.account = k.account AND r.asset = k.asset
		WHERE coalesce(b.total, 0) + coalesce(b.released, 0) - coalesce(r.reserved, 0) < 0
		   OR coalesce(r.reserved, 0) < coalesce(b.released, 0))`, accts, assets).Scan(&short)
	if err == nil && short {
		err = trading.Errorf(trading.EINSUFFICIENT, "insufficient funds")
	}
	return err
}

// holdDelta is a batch's net change to one hold.
type holdDelta struct {
	account, asset string
	amount         int64
	close          bool
}

// applyHolds adjusts existing holds and closes those asked for in one pipelined round trip,
// reporting each closed hold's released remainder through add; holds that do not exist yet
// are created (a second round trip, the rare case: order entry creates holds on its own path).
func applyHolds(ctx context.Context, q querier, holds map[string]*holdDelta, add func(account, asset string, total, held int64)) error {
	hids := make([]string, 0, len(holds))
	for id := range holds {
		hids = append(hids, id)
	}
	sort.Strings(hids)
	accts, assets, amts := make([]string, len(hids)), make([]string, len(hids)), make([]int64, len(hids))
	var closing []string
	for i, id := range hids {
		d := holds[id]
		accts[i], assets[i], amts[i] = d.account, d.asset, d.amount
		if d.close {
			closing = append(closing, id)
		}
	}
	closeSQL := `UPDATE ledger_holds h SET remaining = 0, closed = true
		FROM (SELECT h.id, h.remaining FROM unnest($1::text[]) AS k(id) JOIN ledger_holds h ON h.id = k.id
		      WHERE NOT h.closed ORDER BY h.id FOR UPDATE OF h) old
		WHERE h.id = old.id RETURNING h.id, old.remaining`
	batch := &pgx.Batch{}
	batch.Queue(`UPDATE ledger_holds h SET remaining = h.remaining + d.amount
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(id, account, asset, amount)
		WHERE h.id = d.id AND h.account = d.account AND h.asset = d.asset AND NOT h.closed
		RETURNING h.id`, hids, accts, assets, amts)
	if len(closing) > 0 {
		batch.Queue(closeSQL, closing)
	}
	br := q.SendBatch(ctx, batch)
	rows, err := br.Query()
	var found []string
	if err == nil {
		found, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	closed := map[string]bool{}
	if err == nil && len(closing) > 0 {
		err = collectClosed(br, holds, add, closed)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(found) == len(hids) {
		return err
	}
	// Create the holds that do not exist: only a positive amount may create one.
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	var nids, naccts, nassets []string
	var namts []int64
	var reclose []string
	for i, id := range hids {
		if have[id] {
			continue
		}
		nids, naccts, nassets, namts = append(nids, id), append(naccts, accts[i]), append(nassets, assets[i]), append(namts, amts[i])
		if holds[id].close && !closed[id] {
			reclose = append(reclose, id)
		}
	}
	tag, err := q.Exec(ctx, `INSERT INTO ledger_holds (id, account, asset, remaining)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`, nids, naccts, nassets, namts)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(nids) {
		return trading.Errorf(trading.ECONFLICT, "hold closed or owned by another account")
	}
	if len(reclose) == 0 {
		return nil
	}
	b2 := &pgx.Batch{}
	b2.Queue(closeSQL, reclose)
	br = q.SendBatch(ctx, b2)
	err = collectClosed(br, holds, add, closed)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func collectClosed(br pgx.BatchResults, holds map[string]*holdDelta, add func(account, asset string, total, held int64), closed map[string]bool) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rest int64
		if err := rows.Scan(&id, &rest); err != nil {
			return err
		}
		closed[id] = true
		add(holds[id].account, holds[id].asset, 0, -rest)
	}
	return rows.Err()
}

// applyBalances adds the deltas to existing balance rows in one statement (rows in a fixed
// order, so concurrent batches lock alike) and inserts the rows that do not exist yet; a
// positive change of what is held raises ledger_reserved.reserved, a negative one
// ledger_balances.released (migrations/0005).
func applyBalances(ctx context.Context, q querier, bal map[balKey]*delta) error {
	var keys, reserving []balKey
	for k, d := range bal {
		if d.total != 0 || d.held < 0 {
			keys = append(keys, k)
		}
		if d.held > 0 {
			reserving = append(reserving, k)
		}
	}
	if len(reserving) > 0 {
		sortKeys(reserving)
		accts, assets := splitKeys(reserving)
		amounts := make([]int64, len(reserving))
		for i, k := range reserving {
			amounts[i] = bal[k].held
		}
		if _, err := q.Exec(ctx, `INSERT INTO ledger_reserved (account, asset, reserved)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
			ON CONFLICT (account, asset) DO UPDATE SET reserved = ledger_reserved.reserved + excluded.reserved`,
			accts, assets, amounts); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sortKeys(keys)
	accts, assets := splitKeys(keys)
	totals, released := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		totals[i], released[i] = bal[k].total, max(-bal[k].held, 0)
	}
	rows, err := q.Query(ctx, `UPDATE ledger_balances b SET total = b.total + d.total, released = b.released + d.released
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS d(account, asset, total, released)
		WHERE b.account = d.account AND b.asset = d.asset RETURNING b.account, b.asset`, accts, assets, totals, released)
	if err != nil {
		return err
	}
	updated := map[balKey]bool{}
	for rows.Next() {
		var k balKey
		if err := rows.Scan(&k.account, &k.asset); err != nil {
			rows.Close()
			return err
		}
		updated[k] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(updated) == len(keys) {
		return nil
	}
	var na, ns []string
	var nt, nr []int64
	for i, k := range keys {
		if !updated[k] {
			na, ns, nt, nr = append(na, accts[i]), append(ns, assets[i]), append(nt, totals[i]), append(nr, released[i])
		}
	}
	// A row created meanwhile by another transaction takes the delta on top.
	_, err = q.Exec(ctx, `INSERT INTO ledger_balances (account, asset, total, released)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
		ON CONFLICT (account, asset) DO UPDATE SET total = ledger_balances.total + excluded.total, released = ledger_balances.released + excluded.released`,
		na, ns, nt, nr)
	return err
}

// transferBody is the stored record of a transfer's postings and hold operations.
func transferBody(t ledger.Transfer) ([]byte, error) {
	return json.Marshal(struct {
		P []ledger.Posting `json:"p,omitempty"`
		H []ledger.HoldOp  `json:"h,omitempty"`
	}{t.Postings, t.Holds})
}

// Balances implements ledger.Store.
func (s *Store) Balances(ctx context.Context, account string) ([]ledger.Balance, error) {
	rows, err := s.q().Query(ctx, `SELECT account, asset, total, held, available
		FROM ledger_balance_view WHERE account = $1 ORDER BY asset`, account)
	if err != nil {
		return nil, translate(err, "balances")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[ledger.Balance])
	return out, translate(err, "balances")
}

// Balance implements ledger.Store; an unknown pair is a zero balance.
func (s *Store) Balance(ctx context.Context, account, asset string) (ledger.Balance, error) {
	b := ledger.Balance{Account: account, Asset: asset}
	err := s.q().QueryRow(ctx, `SELECT total, held FROM ledger_balance_view WHERE account = $1 AND asset = $2`, account, asset).Scan(&b.Total, &b.Held)
	if err == pgx.ErrNoRows {
		return b, nil
	}
	b.Available = b.Total - b.Held
	return b, translate(err, "balance")
}

// Hold implements ledger.Store.
func (s *Store) Hold(ctx context.Context, id string) (ledger.Hold, error) {
	h := ledger.Hold{ID: id}
	err := s.q().QueryRow(ctx, `SELECT account, asset, remaining, closed FROM ledger_holds WHERE id = $1`, id).
		Scan(&h.Account, &h.Asset, &h.Remaining, &h.Closed)
	return h, translate(err, "hold")
}

// Totals implements ledger.Store.
func (s *Store) Totals(ctx context.Context) (map[string]ledger.AssetTotals, error) {
	out := map[string]ledger.AssetTotals{}
	rows, err := s.q().Query(ctx, `SELECT asset,
			coalesce(sum(total) FILTER (WHERE account NOT LIKE '@%'), 0)::bigint,
			coalesce(sum(held) FILTER (WHERE account NOT LIKE '@%'), 0)::bigint,
			coalesce(sum(total) FILTER (WHERE account LIKE '@%'), 0)::bigint
		FROM ledger_balance_view GROUP BY asset`)
	if err != nil {
		return nil, translate(err, "totals")
	}
	for rows.Next() {
		var asset string
		var t ledger.AssetTotals
		if err := rows.Scan(&asset, &t.Owners, &t.Held, &t.System); err != nil {
			rows.Close()
			return nil, err
		}
		out[asset] = t
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "totals")
	}
	rows, err = s.q().Query(ctx, `SELECT asset, sum(remaining)::bigint FROM ledger_holds WHERE NOT closed GROUP BY asset`)
	if err != nil {
		return nil, translate(err, "totals")
	}
	for rows.Next() {
		var asset string
		var open int64
		if err := rows.Scan(&asset, &open); err != nil {
			rows.Close()
			return nil, err
		}
		t := out[asset]
		t.OpenHeld = open
		out[asset] = t
	}
	return out, translate(rows.Err(), "totals")
}
