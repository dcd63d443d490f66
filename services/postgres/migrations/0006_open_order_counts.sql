-- An account's open-order count, read by every order's pre-trade check, was counted over the
-- account's open orders (a cost that grew with them, about 5 ms at 200). It is now two
-- counters kept by statement triggers, each written by one side so that order entry and
-- settlement do not wait for each other: orders_opened by what records orders, orders_closed
-- by what ends them (settlement, cancels, resets). open = opened - closed.
CREATE TABLE orders_opened (account text PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE orders_closed (account text PRIMARY KEY, n bigint NOT NULL);

CREATE FUNCTION order_is_open(status text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT status IN ('pending', 'open', 'partially_filled') $$;

INSERT INTO orders_opened (account, n)
SELECT account, count(*) FROM orders WHERE order_is_open(status) GROUP BY account;

CREATE FUNCTION orders_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_opened (account, n)
        SELECT account, count(*) FROM new_rows WHERE order_is_open(status) GROUP BY account ORDER BY account
        ON CONFLICT (account) DO UPDATE SET n = orders_opened.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION orders_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_closed (account, n)
        SELECT o.account, count(*) FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE order_is_open(o.status) AND NOT order_is_open(n.status) GROUP BY o.account ORDER BY o.account
        ON CONFLICT (account) DO UPDATE SET n = orders_closed.n + excluded.n;
    -- An order that opens again (no path does this today) counts as opened once more.
    INSERT INTO orders_opened (account, n)
        SELECT o.account, count(*) FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE NOT order_is_open(o.status) AND order_is_open(n.status) GROUP BY o.account ORDER BY o.account
        ON CONFLICT (account) DO UPDATE SET n = orders_opened.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION orders_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_closed (account, n)
        SELECT account, count(*) FROM old_rows WHERE order_is_open(status) GROUP BY account ORDER BY account
        ON CONFLICT (account) DO UPDATE SET n = orders_closed.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_count_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_inserted();
CREATE TRIGGER orders_count_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_updated();
CREATE TRIGGER orders_count_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_deleted();
