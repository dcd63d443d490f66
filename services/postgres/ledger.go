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
		n, err = s.applyAll(ctx, []ledger.Transfer{t})
		return err
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

// applyAll applies the transfers not applied before in three round trips: record the ids;
// create rows and adjust and close holds (pipelined); adjust balances. It returns how many
// transfers were new.
func (s *Store) applyAll(ctx context.Context, ts []ledger.Transfer) (int, error) {
	q := s.q()
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
			return 0, err
		}
		ids, kinds, bodies = append(ids, t.ID), append(kinds, string(t.Kind)), append(bodies, body)
	}
	rows, err := q.Query(ctx, `INSERT INTO ledger_transfers (id, kind, postings)
		SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[]) ON CONFLICT (id) DO NOTHING RETURNING id`, ids, kinds, bodies)
	if err != nil {
		return 0, err
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
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
	type holdDelta struct {
		account, asset string
		amount         int64
		close          bool
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

	// Every balance row the batch touches, in a fixed order so concurrent batches lock alike.
	keys := make([]balKey, 0, len(bal))
	for k := range bal {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].account != keys[j].account {
			return keys[i].account < keys[j].account
		}
		return keys[i].asset < keys[j].asset
	})
	accts, assets := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		accts[i], assets[i] = k.account, k.asset
	}

	// One pipelined round trip: create missing holds and balance rows at zero (a CHECK
	// applies to the proposed row of an INSERT even when it then conflicts, so deltas cannot
	// go through an upsert), adjust holds, close holds returning what they released.
	batch := &pgx.Batch{}
	hids := make([]string, 0, len(holds))
	for id := range holds {
		hids = append(hids, id)
	}
	sort.Strings(hids)
	var closing []string
	if len(hids) > 0 {
		haccts, hassets, amts := make([]string, len(hids)), make([]string, len(hids)), make([]int64, len(hids))
		for i, id := range hids {
			d := holds[id]
			haccts[i], hassets[i], amts[i] = d.account, d.asset, d.amount
			if d.close {
				closing = append(closing, id)
			}
		}
		batch.Queue(`INSERT INTO ledger_holds (id, account, asset, remaining)
			SELECT id, account, asset, 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS d(id, account, asset)
			ON CONFLICT DO NOTHING`, hids, haccts, hassets)
		batch.Queue(`UPDATE ledger_holds h SET remaining = h.remaining + d.amount
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(id, account, asset, amount)
			WHERE h.id = d.id AND NOT h.closed AND h.account = d.account AND h.asset = d.asset`, hids, haccts, hassets, amts)
		if len(closing) > 0 {
			batch.Queue(`UPDATE ledger_holds h SET remaining = 0, closed = true
				FROM (SELECT id, remaining FROM ledger_holds WHERE id = ANY($1) ORDER BY id FOR UPDATE) old
				WHERE h.id = old.id RETURNING h.id, old.remaining`, closing)
		}
	}
	batch.Queue(`INSERT INTO ledger_balances (account, asset)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, accts, assets)
	br := q.SendBatch(ctx, batch)
	if len(hids) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return 0, err
		}
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return 0, err
		}
		if int(tag.RowsAffected()) != len(hids) {
			br.Close()
			return 0, trading.Errorf(trading.ECONFLICT, "hold closed or owned by another account")
		}
		if len(closing) > 0 {
			rows, err := br.Query()
			if err != nil {
				br.Close()
				return 0, err
			}
			for rows.Next() {
				var id string
				var rest int64
				if err := rows.Scan(&id, &rest); err != nil {
					rows.Close()
					br.Close()
					return 0, err
				}
				add(holds[id].account, holds[id].asset, 0, -rest)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				br.Close()
				return 0, err
			}
		}
	}
	if err := br.Close(); err != nil {
		return 0, err
	}

	totals, helds := make([]int64, 0, len(keys)), make([]int64, 0, len(keys))
	uaccts, uassets := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	for _, k := range keys {
		if d := bal[k]; d.total != 0 || d.held != 0 {
			uaccts, uassets = append(uaccts, k.account), append(uassets, k.asset)
			totals, helds = append(totals, d.total), append(helds, d.held)
		}
	}
	if len(uaccts) > 0 {
		if _, err := q.Exec(ctx, `UPDATE ledger_balances b SET total = b.total + d.total, held = b.held + d.held
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS d(account, asset, total, held)
			WHERE b.account = d.account AND b.asset = d.asset`, uaccts, uassets, totals, helds); err != nil {
			return 0, err
		}
	}
	return len(fresh), nil
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
	rows, err := s.q().Query(ctx, `SELECT account, asset, total, held, total - held AS available
		FROM ledger_balances WHERE account = $1 ORDER BY asset`, account)
	if err != nil {
		return nil, translate(err, "balances")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[ledger.Balance])
	return out, translate(err, "balances")
}

// Balance implements ledger.Store; an unknown pair is a zero balance.
func (s *Store) Balance(ctx context.Context, account, asset string) (ledger.Balance, error) {
	b := ledger.Balance{Account: account, Asset: asset}
	err := s.q().QueryRow(ctx, `SELECT total, held FROM ledger_balances WHERE account = $1 AND asset = $2`, account, asset).Scan(&b.Total, &b.Held)
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
		FROM ledger_balances GROUP BY asset`)
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
