-- Drafts: a user's unfinished edit (title, the editor's state, the AI jobs
-- and uploaded assets it uses), saved by autosave.

-- +goose Up
CREATE TABLE drafts (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL DEFAULT '' CHECK (char_length(title) <= 200),
    state      jsonb NOT NULL DEFAULT '{}' CHECK (octet_length(state::text) <= 262144),
    job_ids    uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(job_ids) <= 50),
    assets     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(assets) <= 50),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drafts_user_idx ON drafts (user_id, updated_at DESC, id DESC);

-- +goose Down
DROP TABLE drafts;
