-- Markets, orders (the read model the settlement consumer keeps), trades, positions, risk
-- switches, settlement progress and matching-engine snapshots.
CREATE TABLE assets (
    symbol text PRIMARY KEY,
    scale  int  NOT NULL CHECK (scale BETWEEN 0 AND 18)
);

CREATE TABLE markets (
    symbol     text PRIMARY KEY,
    base       text NOT NULL REFERENCES assets,
    quote      text NOT NULL REFERENCES assets,
    tick_size  text NOT NULL,
    lot_size   text NOT NULL,
    min_price  bigint NOT NULL,
    max_price  bigint NOT NULL,
    min_qty    bigint NOT NULL,
    max_qty    bigint NOT NULL,
    halted     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE kill_switches (
    scope text NOT NULL,
    name  text NOT NULL,
    PRIMARY KEY (scope, name)
);

CREATE TABLE orders (
    id              text PRIMARY KEY,
    client_order_id text NOT NULL,
    account         text NOT NULL,
    market          text NOT NULL,
    side            text NOT NULL,
    type            text NOT NULL,
    tif             text NOT NULL,
    post_only       boolean NOT NULL,
    price           bigint NOT NULL,
    quantity        bigint NOT NULL,
    filled          bigint NOT NULL DEFAULT 0,
    status          text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    book_price      bigint NOT NULL,
    book_tif        text NOT NULL,
    hold_asset      text NOT NULL,
    published       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX orders_client_id ON orders (account, client_order_id) WHERE client_order_id <> '';
CREATE INDEX orders_by_account ON orders (account, id DESC);
CREATE INDEX orders_open ON orders (account) WHERE status IN ('pending', 'open', 'partially_filled');
CREATE INDEX orders_unpublished ON orders (created_at) WHERE NOT published AND status = 'pending';

CREATE TABLE trades (
    n              bigserial PRIMARY KEY,
    id             text NOT NULL UNIQUE,
    market         text NOT NULL,
    price          bigint NOT NULL,
    quantity       bigint NOT NULL,
    maker_order_id text NOT NULL,
    taker_order_id text NOT NULL,
    maker_account  text NOT NULL,
    taker_account  text NOT NULL,
    taker_side     text NOT NULL,
    seq            bigint NOT NULL,
    executed_at    timestamptz NOT NULL
);
CREATE INDEX trades_by_market ON trades (market, n DESC);
CREATE INDEX trades_by_maker ON trades (maker_account, n DESC);
CREATE INDEX trades_by_taker ON trades (taker_account, n DESC);

CREATE TABLE positions (
    account   text   NOT NULL,
    market    text   NOT NULL,
    base      bigint NOT NULL DEFAULT 0,
    quote_net bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account, market)
);

CREATE TABLE settlement_progress (
    market text   PRIMARY KEY,
    seq    bigint NOT NULL
);

CREATE TABLE engine_snapshots (
    key      text  PRIMARY KEY,
    data     bytea NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
