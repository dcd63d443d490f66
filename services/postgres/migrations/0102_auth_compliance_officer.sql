-- The compliance_officer role (services/auth): reviews KYC, works cases, exports the audit trail.
ALTER TABLE auth_users DROP CONSTRAINT IF EXISTS auth_users_role_check;
ALTER TABLE auth_users ADD CONSTRAINT auth_users_role_check CHECK (role IN ('trader', 'admin', 'compliance_officer'));
