-- Search: trigram indexes for substring and similarity matching in any
-- script (ILIKE '%q%' on Korean works; the index accelerates what pg_trgm
-- can split into trigrams), and per-user search history.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_username_trgm ON users USING gin (username gin_trgm_ops);
CREATE INDEX users_display_name_trgm ON users USING gin (display_name gin_trgm_ops);
CREATE INDEX videos_caption_trgm ON videos USING gin (caption gin_trgm_ops)
    WHERE status = 'completed' AND is_public AND deleted_at IS NULL;
CREATE INDEX videos_title_trgm ON videos USING gin (title gin_trgm_ops)
    WHERE status = 'completed' AND is_public AND deleted_at IS NULL;
CREATE INDEX hashtags_name_prefix ON hashtags (name text_pattern_ops);
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);

CREATE TABLE search_history (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    query      text NOT NULL CHECK (char_length(query) BETWEEN 1 AND 100),
    normalized text NOT NULL CHECK (char_length(normalized) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT search_history_user_query_key UNIQUE (user_id, normalized)
);
CREATE INDEX search_history_user_idx ON search_history (user_id, created_at DESC, id DESC);
-- Popular recent searches feed the keyword suggestions of autocomplete.
CREATE INDEX search_history_recent_idx ON search_history (normalized text_pattern_ops, created_at);

-- +goose Down
DROP TABLE search_history;
DROP INDEX users_username_prefix;
DROP INDEX hashtags_name_prefix;
DROP INDEX videos_title_trgm;
DROP INDEX videos_caption_trgm;
DROP INDEX users_display_name_trgm;
DROP INDEX users_username_trgm;
