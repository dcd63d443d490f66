-- The compliance service's schema (services/compliance/postgres).
CREATE SCHEMA IF NOT EXISTS compliance;

-- KYC per account; version is the optimistic-concurrency counter.
CREATE TABLE compliance.kyc (
    account      text PRIMARY KEY,
    status       text NOT NULL CHECK (status IN ('unverified', 'submitted', 'under_review', 'verified', 'rejected')),
    level        text NOT NULL DEFAULT '' CHECK (level IN ('', 'basic', 'enhanced')),
    application  jsonb NOT NULL,
    reason       text NOT NULL DEFAULT '',
    reviewer     text NOT NULL DEFAULT '',
    submitted_at timestamptz,
    decided_at   timestamptz,
    expires_at   timestamptz,
    version      bigint NOT NULL
);
CREATE INDEX kyc_status ON compliance.kyc (status, submitted_at);

-- The audit trail: a hash chain (services/compliance.EntryHash). payload is json, not jsonb,
-- so that it is kept byte for byte as hashed.
CREATE TABLE compliance.audit_log (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    ts        timestamptz NOT NULL,
    actor     text NOT NULL,
    kind      text NOT NULL,
    subject   text NOT NULL,
    payload   json NOT NULL,
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash      bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_ts ON compliance.audit_log (ts);

-- Signed Merkle roots over consecutive intervals of the trail.
CREATE TABLE compliance.audit_checkpoints (
    from_seq   bigint PRIMARY KEY,
    to_seq     bigint NOT NULL UNIQUE CHECK (to_seq >= from_seq),
    root       bytea NOT NULL,
    head_hash  bytea NOT NULL,
    signed_at  timestamptz NOT NULL,
    key_id     text NOT NULL,
    public_key bytea NOT NULL,
    signature  bytea NOT NULL
);

-- Append-only: no role (the owner included, short of disabling the trigger) can change or
-- remove a row. EnsureUsers grants the services SELECT and INSERT only on these tables.
CREATE FUNCTION compliance.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compliance.%: append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON compliance.audit_log
    FOR EACH ROW EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON compliance.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON compliance.audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON compliance.audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION compliance.refuse_change();

-- Events the service has handled (idempotency by event id).
CREATE TABLE compliance.processed_events (
    id         text PRIMARY KEY,
    handled_at timestamptz NOT NULL DEFAULT now()
);
