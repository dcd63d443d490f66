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
