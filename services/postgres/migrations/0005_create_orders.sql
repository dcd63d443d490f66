-- create_orders is create_order for a batch (order entry's group commit): one statement, one
-- commit for many orders. It returns one result per order, in order: '' for a new order, '='
-- followed by the id of the account's existing order with the same client order id (nothing
-- changes), or '!' when the account's available funds do not cover the hold (nothing changes
-- for that order; the others are unaffected). Orders are taken in array order, so two orders
-- of one account see each other's holds. The balance rows are locked first, in key order, as
-- the ledger's batches lock them, so concurrent batches cannot deadlock on them.
CREATE FUNCTION create_orders(
    o_id text[], o_client text[], o_account text[], o_market text[], o_side text[], o_type text[], o_tif text[],
    o_post_only boolean[], o_price bigint[], o_qty bigint[], o_book_price bigint[], o_book_tif text[],
    o_hold_asset text[], o_at timestamptz[], hold_amount bigint[], transfer_body jsonb[]
) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    res text[] := '{}';
    existing text;
BEGIN
    PERFORM 1 FROM ledger_balances b
        WHERE (b.account, b.asset) IN (SELECT * FROM unnest(o_account, o_hold_asset))
        ORDER BY b.account, b.asset FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(o_id, 1), 0) LOOP
        INSERT INTO orders (id, client_order_id, account, market, side, type, tif, post_only, price, quantity,
                            status, book_price, book_tif, hold_asset, created_at, updated_at)
        VALUES (o_id[i], o_client[i], o_account[i], o_market[i], o_side[i], o_type[i], o_tif[i], o_post_only[i],
                o_price[i], o_qty[i], 'pending', o_book_price[i], o_book_tif[i], o_hold_asset[i], o_at[i], o_at[i])
        ON CONFLICT (account, client_order_id) WHERE client_order_id <> '' DO NOTHING;
        IF NOT FOUND THEN
            SELECT id INTO existing FROM orders WHERE account = o_account[i] AND client_order_id = o_client[i];
            res := res || ('=' || existing);
            CONTINUE;
        END IF;
        UPDATE ledger_balances SET held = held + hold_amount[i]
            WHERE account = o_account[i] AND asset = o_hold_asset[i]
              AND (account LIKE '@%' OR total - held >= hold_amount[i]);
        IF NOT FOUND THEN
            DELETE FROM orders WHERE id = o_id[i];
            res := res || '!'::text;
            CONTINUE;
        END IF;
        res := res || ''::text;
    END LOOP;
    INSERT INTO ledger_transfers (id, kind, postings)
        SELECT 'hold:' || d.id, 'hold', d.body
        FROM unnest(o_id, transfer_body) WITH ORDINALITY AS d(id, body, n) WHERE res[d.n] = '';
    INSERT INTO ledger_holds (id, account, asset, remaining)
        SELECT d.id, d.account, d.asset, d.amount
        FROM unnest(o_id, o_account, o_hold_asset, hold_amount) WITH ORDINALITY AS d(id, account, asset, amount, n)
        WHERE res[d.n] = '';
    RETURN res;
END
$$;
