-- Compliance cases (services/compliance.Case): alerts and screening hits under investigation,
-- with the regulatory report draft once determined. Never readable by a trader's API.
CREATE TABLE compliance.cases (
    id         text PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('surveillance', 'screening')),
    subject    text NOT NULL,
    status     text NOT NULL CHECK (status IN ('open', 'escalated', 'dismissed', 'reported')),
    assignee   text NOT NULL DEFAULT '',
    evidence   jsonb NOT NULL,
    reason     text NOT NULL DEFAULT '',
    report     jsonb,
    opened_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version    bigint NOT NULL
);
CREATE INDEX cases_status ON compliance.cases (status, opened_at);
CREATE INDEX cases_subject ON compliance.cases (subject);
