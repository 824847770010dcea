-- Personal API keys of enterprise users (issue 13, point 3).
--
-- A key is presented as a bearer token: "lkz_live_" + lookup_id + "_" +
-- secret (package apikey). lookup_id finds the row through a unique index;
-- only the SHA-256 of the whole token is stored, and the api compares it in
-- constant time. The token is shown once, in the answer that creates it.
--
-- A key works while it is not revoked, its user is active and the user's
-- tier is enterprise at the time of the request (db.Store.AuthenticateAPIKey
-- reads the key with its user in one query). A lapsed tier refuses the key
-- without revoking it. last_used_at is moved at most once a minute.
--
-- The number of live (not revoked) keys of a user is capped by
-- db.Store.CreateAPIKey, which locks the user's row to count them.

-- +goose Up
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- The public part of the token: 16 lower-case hex digits.
    lookup_id    text NOT NULL CHECK (lookup_id ~ '^[0-9a-f]{16}$'),
    -- SHA-256 of the whole token (never the token itself).
    secret_hash  bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX api_keys_lookup_id_key ON api_keys (lookup_id);
-- A user's keys, newest first (the list), and the live ones (the cap).
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE api_keys;
