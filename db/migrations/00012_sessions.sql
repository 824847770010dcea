-- Sessions that can be ended, and the account lifecycle (issue 11).
--
-- Every access token names a session (its "sid" claim); the auth check reads
-- the session together with its user in one query, so a revoked session's
-- tokens are refused on the next request while the user's other sessions go
-- on. A session also holds the hash of its current refresh token: each
-- refresh replaces it and records the old hash as used, and presenting a
-- used one revokes the session (a stolen token was replayed).
--
-- Deleting an account marks the user deleted and inactive at once (every read
-- already hides inactive users' profiles and comments), frees the username
-- and email, soft-deletes the videos and revokes the sessions; the
-- account:erase task then erases the personal data and sets erased_at.

-- +goose Up
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- The last refresh (rotation) of the session, NULL before the first.
    refreshed_at   timestamptz,
    -- The current refresh token stops working then; each refresh moves it.
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text CHECK (revoked_reason IN
                       ('logout', 'logout_all', 'password_change', 'refresh_reuse', 'ban', 'account_deleted')),
    -- SHA-256 of the current refresh token (never the token itself).
    refresh_hash   bytea NOT NULL CHECK (octet_length(refresh_hash) = 32),
    -- How many times the refresh token was rotated.
    rotation       integer NOT NULL DEFAULT 0 CHECK (rotation >= 0),
    user_agent     text CHECK (char_length(user_agent) <= 500),
    ip             text CHECK (char_length(ip) <= 100),
    CONSTRAINT sessions_revoked_has_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE UNIQUE INDEX sessions_refresh_hash_key ON sessions (refresh_hash);
-- A user's live sessions: logout-all, password change, ban and deletion.
CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;
-- The purge of long-ended sessions (accounts:reconcile).
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Refresh tokens already rotated away, so that presenting one again is
-- recognised as reuse. Rows go with their session.
CREATE TABLE session_refresh_used (
    refresh_hash bytea PRIMARY KEY CHECK (octet_length(refresh_hash) = 32),
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_refresh_used_session_idx ON session_refresh_used (session_id);

ALTER TABLE users
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN erased_at  timestamptz,
    ADD CONSTRAINT users_erased_after_deleted CHECK (erased_at IS NULL OR deleted_at IS NOT NULL);
-- A deleted account's username becomes 'deleted:<id>', which no one can
-- register, so the name it had is free at once.
ALTER TABLE users DROP CONSTRAINT users_username_check;
ALTER TABLE users ADD CONSTRAINT users_username_check
    CHECK (username ~ '^[a-z0-9_.]{3,30}$' OR (deleted_at IS NOT NULL AND username = 'deleted:' || id::text));
-- The reconciler's view: deleted accounts whose erasure has not finished.
CREATE INDEX users_erase_pending_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL AND erased_at IS NULL;

-- +goose Down
DROP INDEX users_erase_pending_idx;
ALTER TABLE users DROP CONSTRAINT users_username_check;
ALTER TABLE users ADD CONSTRAINT users_username_check CHECK (username ~ '^[a-z0-9_.]{3,30}$');
ALTER TABLE users DROP CONSTRAINT users_erased_after_deleted, DROP COLUMN erased_at, DROP COLUMN deleted_at;
DROP TABLE session_refresh_used;
DROP TABLE sessions;
