-- Order entry and settlement stop contending for rows. What an account holds was one
-- column, held, that order entry raised and settlement lowered on the same ledger_balances
-- row, so every order waited for any settlement commit touching its account and the other
-- way round. Now held = reserved - released, two counters each written by one side:
--   ledger_reserved.reserved   raised by whatever reserves funds (order entry's holds) under
--                              the row's lock, which also serialises every check of available
--                              funds for that account and asset;
--   ledger_balances.released   raised by whatever consumes or closes holds (settlement),
--                              next to total, which it changes in the same statement.
-- available = total + released - reserved. A transfer that lowers an owner's available funds
-- (a hold, a withdrawal) takes the ledger_reserved lock and checks after its changes; one that
-- only consumes holds and moves what they reserved (a trade) cannot lower it and takes none.
CREATE TABLE ledger_reserved (
    account  text   NOT NULL,
    asset    text   NOT NULL,
    reserved bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account, asset)
);

INSERT INTO ledger_reserved (account, asset, reserved)
SELECT account, asset, held FROM ledger_balances;

ALTER TABLE ledger_balances DROP CONSTRAINT ledger_balances_funds;
ALTER TABLE ledger_balances ADD COLUMN released bigint NOT NULL DEFAULT 0;
ALTER TABLE ledger_balances DROP COLUMN held;
ALTER TABLE ledger_balances ADD CONSTRAINT ledger_balances_funds CHECK (account LIKE '@%' OR total >= 0);

-- ledger_balance_view is a balance as readers see it.
CREATE VIEW ledger_balance_view AS
SELECT b.account, b.asset, b.total,
       coalesce(r.reserved, 0) - b.released AS held,
       b.total + b.released - coalesce(r.reserved, 0) AS available
FROM ledger_balances b
LEFT JOIN ledger_reserved r ON r.account = b.account AND r.asset = b.asset;

-- reserve_funds raises the account's reserved amount of asset by amount if its available
-- funds cover it, or raises insufficient funds. It locks the ledger_reserved row first and
-- reads the balance in a later statement, so it sees every transfer committed before it got
-- the lock.
CREATE FUNCTION reserve_funds(r_account text, r_asset text, amount bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cur bigint;
    funds bigint;
BEGIN
    INSERT INTO ledger_reserved (account, asset) VALUES (r_account, r_asset) ON CONFLICT DO NOTHING;
    SELECT reserved INTO cur FROM ledger_reserved WHERE account = r_account AND asset = r_asset FOR UPDATE;
    SELECT total + released INTO funds FROM ledger_balances WHERE account = r_account AND asset = r_asset;
    IF funds IS NULL OR funds - cur < amount THEN
        RAISE EXCEPTION 'insufficient funds' USING ERRCODE = '23514', CONSTRAINT = 'ledger_balances_funds';
    END IF;
    UPDATE ledger_reserved SET reserved = cur + amount WHERE account = r_account AND asset = r_asset;
END
$$;

-- Which recorded orders are not yet confirmed in the orders log was a flag on the order row,
-- so marking them published updated the same rows settlement updates (waiting for each
-- other's commits) for every order. It is now a table of its own: order entry inserts a row
-- with each new order and the relay deletes it once the order's command is in the log.
DROP INDEX orders_unpublished; -- the flag's index, whose name the table takes

CREATE TABLE orders_unpublished (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL
);
CREATE INDEX orders_unpublished_age ON orders_unpublished (created_at);

INSERT INTO orders_unpublished (id, created_at)
SELECT id, created_at FROM orders WHERE NOT published AND status = 'pending';

ALTER TABLE orders DROP COLUMN published;

CREATE OR REPLACE FUNCTION create_order(
    o_id text, o_client text, o_account text, o_market text, o_side text, o_type text, o_tif text,
    o_post_only boolean, o_price bigint, o_qty bigint, o_book_price bigint, o_book_tif text,
    o_hold_asset text, o_at timestamptz, hold_amount bigint, transfer_body jsonb
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    existing text;
BEGIN
    INSERT INTO orders (id, client_order_id, account, market, side, type, tif, post_only, price, quantity,
                        status, book_price, book_tif, hold_asset, created_at, updated_at)
    VALUES (o_id, o_client, o_account, o_market, o_side, o_type, o_tif, o_post_only, o_price, o_qty,
            'pending', o_book_price, o_book_tif, o_hold_asset, o_at, o_at)
    ON CONFLICT (account, client_order_id) WHERE client_order_id <> '' DO NOTHING;
    IF NOT FOUND THEN
        SELECT id INTO existing FROM orders WHERE account = o_account AND client_order_id = o_client;
        RETURN existing;
    END IF;
    INSERT INTO orders_unpublished (id, created_at) VALUES (o_id, o_at);
    INSERT INTO ledger_transfers (id, kind, postings) VALUES ('hold:' || o_id, 'hold', transfer_body);
    INSERT INTO ledger_holds (id, account, asset, remaining) VALUES (o_id, o_account, o_hold_asset, hold_amount);
    PERFORM reserve_funds(o_account, o_hold_asset, hold_amount);
    RETURN '';
END
$$;
