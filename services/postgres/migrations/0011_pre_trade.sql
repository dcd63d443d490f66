-- pre_trade is order entry's batch read (postgres.Store.PreTradeAll) as a function, so that
-- its plan is generic and kept by the session: as a statement with the batch's arrays as
-- parameters, the plan cache planned it again on every small batch. For each (account,
-- market, client order id), in their order: the account's and the market's kill switches,
-- the account's open-order count (0006), the market's last trade price, and the id of the
-- account's order with that client order id ('' when there is none).
CREATE FUNCTION pre_trade(accounts text[], markets text[], clients text[])
RETURNS TABLE (account_killed boolean, market_killed boolean, open_orders bigint, last_price bigint, existing text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY SELECT
        EXISTS (SELECT 1 FROM kill_switches WHERE scope = 'account' AND name = k.account),
        EXISTS (SELECT 1 FROM kill_switches WHERE scope = 'market' AND name = k.market),
        coalesce((SELECT n FROM orders_opened WHERE orders_opened.account = k.account), 0)
          - coalesce((SELECT n FROM orders_closed WHERE orders_closed.account = k.account), 0),
        coalesce((SELECT price FROM trades WHERE trades.market = k.market ORDER BY n DESC LIMIT 1), 0),
        coalesce((SELECT id FROM orders o
                  WHERE k.client <> '' AND o.account = k.account AND o.client_order_id = k.client
                    AND o.client_order_id <> ''), '')
    FROM unnest(accounts, markets, clients) WITH ORDINALITY AS k(account, market, client, i)
    ORDER BY k.i;
END
$$;
