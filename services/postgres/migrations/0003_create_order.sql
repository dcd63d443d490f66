-- create_order records a new pending order and reserves its funds in one round trip and one
-- atomic statement: the order-entry hot path. It returns '' for a new order, or the id of the
-- account's existing order with the same client order id (then nothing changes). Insufficient
-- available funds raise a check violation on ledger_balances_funds, like the generic path.
CREATE FUNCTION create_order(
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
    INSERT INTO ledger_transfers (id, kind, postings) VALUES ('hold:' || o_id, 'hold', transfer_body);
    INSERT INTO ledger_holds (id, account, asset, remaining) VALUES (o_id, o_account, o_hold_asset, hold_amount);
    UPDATE ledger_balances SET held = held + hold_amount WHERE account = o_account AND asset = o_hold_asset;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insufficient funds' USING ERRCODE = '23514', CONSTRAINT = 'ledger_balances_funds';
    END IF;
    RETURN '';
END
$$;
