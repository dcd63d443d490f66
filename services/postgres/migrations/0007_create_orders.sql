-- create_orders is create_order for a batch (order entry's group commit): one statement, one
-- commit for many orders. It returns one result per order, in order: '' for a new order, '='
-- followed by the id of the account's existing order with the same client order id (nothing
-- changes), '!' when the account's available funds do not cover the hold, or '#' when the
-- account already has open_limit open orders (open_limit > 0; nothing changes for a refused
-- order, the others are unaffected). Orders are taken in array order, so two orders
-- of one account see each other's holds. The accounts' ledger_reserved rows are locked first,
-- in key order, as the ledger's batches lock them, so concurrent batches cannot deadlock on
-- them; the balances are read after that, so every earlier transfer is seen (0005). The
-- accounts' orders_opened rows (0006) are locked next, so that the open-order limit holds
-- across concurrent batches: the count read under the lock includes every committed order. The new
-- orders, their transfers and holds are then written by one statement each.
CREATE FUNCTION create_orders(
    o_id text[], o_client text[], o_account text[], o_market text[], o_side text[], o_type text[], o_tif text[],
    o_post_only boolean[], o_price bigint[], o_qty bigint[], o_book_price bigint[], o_book_tif text[],
    o_hold_asset text[], o_at timestamptz[], hold_amount bigint[], transfer_body jsonb[], open_limit bigint[]
) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    res text[] := '{}';
    existing text;
    funds bigint;
    inserted int;
    open_now bigint;
    accepted text[] := '{}'; -- the accounts of the orders accepted so far, one entry each
BEGIN
    INSERT INTO ledger_reserved (account, asset)
        SELECT DISTINCT * FROM unnest(o_account, o_hold_asset) ORDER BY 1, 2 ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ledger_reserved r
        WHERE (r.account, r.asset) IN (SELECT * FROM unnest(o_account, o_hold_asset))
        ORDER BY r.account, r.asset FOR UPDATE;
    INSERT INTO orders_opened (account, n)
        SELECT DISTINCT a, 0 FROM unnest(o_account) AS a ORDER BY 1 ON CONFLICT DO NOTHING;
    PERFORM 1 FROM orders_opened WHERE account IN (SELECT unnest(o_account)) ORDER BY account FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(o_id, 1), 0) LOOP
        IF o_client[i] <> '' THEN
            existing := NULL;
            SELECT id INTO existing FROM orders WHERE account = o_account[i] AND client_order_id = o_client[i];
            IF existing IS NULL THEN -- an earlier order of this batch with the same client order id
                FOR j IN 1 .. i - 1 LOOP
                    IF res[j] = '' AND o_account[j] = o_account[i] AND o_client[j] = o_client[i] THEN
                        existing := o_id[j];
                        EXIT;
                    END IF;
                END LOOP;
            END IF;
            IF existing IS NOT NULL THEN
                res := res || ('=' || existing);
                CONTINUE;
            END IF;
        END IF;
        IF open_limit[i] > 0 THEN
            SELECT o.n - coalesce((SELECT c.n FROM orders_closed c WHERE c.account = o.account), 0) INTO open_now
                FROM orders_opened o WHERE o.account = o_account[i];
            IF open_now + coalesce(cardinality(array_positions(accepted, o_account[i])), 0) >= open_limit[i] THEN
                res := res || '#'::text;
                CONTINUE;
            END IF;
        END IF;
        SELECT b.total + b.released - r.reserved INTO funds
            FROM ledger_reserved r JOIN ledger_balances b ON b.account = r.account AND b.asset = r.asset
            WHERE r.account = o_account[i] AND r.asset = o_hold_asset[i];
        IF funds IS NULL OR funds < hold_amount[i] THEN
            res := res || '!'::text;
            CONTINUE;
        END IF;
        UPDATE ledger_reserved SET reserved = reserved + hold_amount[i]
            WHERE account = o_account[i] AND asset = o_hold_asset[i];
        res := res || ''::text;
        accepted := accepted || o_account[i];
    END LOOP;
    INSERT INTO orders (id, client_order_id, account, market, side, type, tif, post_only, price, quantity,
                        status, book_price, book_tif, hold_asset, created_at, updated_at)
        SELECT d.id, d.client, d.account, d.market, d.side, d.type, d.tif, d.post_only, d.price, d.qty,
               'pending', d.book_price, d.book_tif, d.asset, d.at, d.at
        FROM unnest(o_id, o_client, o_account, o_market, o_side, o_type, o_tif, o_post_only, o_price, o_qty,
                    o_book_price, o_book_tif, o_hold_asset, o_at)
             WITH ORDINALITY AS d(id, client, account, market, side, type, tif, post_only, price, qty,
                                  book_price, book_tif, asset, at, n)
        WHERE res[d.n] = ''
        ORDER BY d.n
        ON CONFLICT (account, client_order_id) WHERE client_order_id <> '' DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted <> (SELECT count(*) FROM unnest(res) AS r(v) WHERE v = '') THEN
        -- A concurrent batch recorded one of these client order ids (its order holds the
        -- other asset, so it held another lock): start again, and this time find it.
        RAISE EXCEPTION 'client order id recorded concurrently' USING ERRCODE = '40001';
    END IF;
    INSERT INTO orders_unpublished (id, created_at)
        SELECT d.id, d.at FROM unnest(o_id, o_at) WITH ORDINALITY AS d(id, at, n) WHERE res[d.n] = '';
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
