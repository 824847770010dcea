-- E-mail (issue 14 part 3): verified addresses, each user's mail language,
-- single-use tokens for verification and password reset, and the events
-- waiting for a user's next notification digest.

-- +goose Up
-- email_verified_at is when the current address was proven by a
-- verification link; NULL is unverified. language is the language of the
-- user's mail (from Accept-Language at registration; 'en' when unknown).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz,
                  ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ko'));

-- Single-use tokens sent by mail. Only the SHA-256 of a token is stored;
-- email is the address the token was sent to (a token for an address the
-- user no longer has does not verify it).
CREATE TABLE email_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    email      text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX email_tokens_hash_key ON email_tokens (token_hash);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose, created_at DESC);

-- Likes, follows and glitches waiting for the recipient's next digest mail.
-- event_key is the notification event's identity, so a retried hand-off
-- adds nothing. A digest deletes the rows it reported.
CREATE TABLE email_digest_items (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_key  text NOT NULL CHECK (length(event_key) <= 300),
    type       text NOT NULL,
    actor_id   uuid REFERENCES users (id) ON DELETE CASCADE,
    video_id   uuid REFERENCES videos (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_key)
);
CREATE INDEX email_digest_items_user_time_idx ON email_digest_items (user_id, created_at);

-- +goose Down
DROP TABLE email_digest_items;
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN language, DROP COLUMN email_verified_at;
