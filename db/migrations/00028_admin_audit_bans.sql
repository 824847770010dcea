-- Admins, the audit log and bans (issue 15).
--
-- admin_audit_log: one row per admin action, written in the transaction of
-- the action (db/admin_tx.go). admin_id is NULL for an action taken on the
-- command line (`lokiz admin create|grant|revoke`), which has no signed-in
-- admin. Rows are append-only, and the database says so, not only the
-- absence of a route: a BEFORE UPDATE OR DELETE row trigger and a BEFORE
-- TRUNCATE statement trigger raise, so no role that may write the table
-- can rewrite or erase its history short of dropping the triggers (a
-- schema change, which is a migration and reviewed). admin_id has no
-- foreign key with ON DELETE: an admin's erasure must not rewrite the log,
-- and users are soft-deleted (anonymised) so the id stays meaningful.
--
-- Bans: users.banned_at, ban_reason and banned_until describe the ban that
-- set is_active = false (NULL when the user is not banned). banned_until
-- NULL with banned_at set is a ban without end. A timed ban ends by itself:
-- the scheduler's ban-expiry task lifts every ban whose banned_until has
-- passed, with an audit row of its own (admin_id NULL).

-- +goose Up
CREATE TABLE admin_audit_log (
    id          uuid PRIMARY KEY,
    admin_id    uuid,
    action      text NOT NULL CHECK (action ~ '^[a-z_.]{1,64}$'),
    target_type text NOT NULL CHECK (target_type IN ('user', 'video', 'comment', 'report')),
    target_id   uuid NOT NULL,
    reason      text,
    before      jsonb,
    after       jsonb,
    request_id  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE admin_audit_log IS
    'one row per admin action, append-only (triggers admin_audit_log_no_change / _no_truncate, 00028)';
CREATE INDEX admin_audit_log_created_idx ON admin_audit_log (created_at DESC, id DESC);
CREATE INDEX admin_audit_log_admin_idx ON admin_audit_log (admin_id, created_at DESC, id DESC);
CREATE INDEX admin_audit_log_target_idx ON admin_audit_log (target_id, created_at DESC, id DESC);

-- +goose StatementBegin
CREATE FUNCTION admin_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER admin_audit_log_no_change BEFORE UPDATE OR DELETE ON admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION admin_audit_log_append_only();
CREATE TRIGGER admin_audit_log_no_truncate BEFORE TRUNCATE ON admin_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_log_append_only();

ALTER TABLE users
    ADD COLUMN banned_at    timestamptz,
    ADD COLUMN ban_reason   text,
    ADD COLUMN banned_until timestamptz;
CREATE INDEX users_banned_until_idx ON users (banned_until) WHERE banned_until IS NOT NULL;

-- +goose Down
DROP INDEX users_banned_until_idx;
ALTER TABLE users DROP COLUMN banned_until, DROP COLUMN ban_reason, DROP COLUMN banned_at;
DROP TABLE admin_audit_log;
DROP FUNCTION admin_audit_log_append_only;
