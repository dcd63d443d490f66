-- Each audit checkpoint records the algorithm that signed it: 'ed25519' (a key from settings;
-- every checkpoint before this column) or 'ecdsa-p256-sha256' (the AWS KMS key in the
-- cluster), so `audit verify` checks either.
ALTER TABLE compliance.audit_checkpoints
    ADD COLUMN algorithm text NOT NULL DEFAULT 'ed25519'
        CHECK (algorithm IN ('ed25519', 'ecdsa-p256-sha256'));
