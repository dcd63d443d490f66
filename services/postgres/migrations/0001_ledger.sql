-- The double-entry ledger. Owner accounts may never hold negative totals or more held than
-- total; system accounts (named '@...') may.
CREATE TABLE ledger_transfers (
    id         text PRIMARY KEY,
    kind       text NOT NULL,
    postings   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_balances (
    account text   NOT NULL,
    asset   text   NOT NULL,
    total   bigint NOT NULL DEFAULT 0,
    held    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account, asset),
    CONSTRAINT ledger_balances_funds CHECK (account LIKE '@%' OR (held >= 0 AND total >= held))
);

CREATE TABLE ledger_holds (
    id        text    PRIMARY KEY,
    account   text    NOT NULL,
    asset     text    NOT NULL,
    remaining bigint  NOT NULL,
    closed    boolean NOT NULL DEFAULT false,
    CONSTRAINT ledger_holds_remaining CHECK (remaining >= 0)
);
CREATE INDEX ledger_holds_open ON ledger_holds (asset) WHERE NOT closed;
