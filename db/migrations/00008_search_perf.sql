-- Search for queries of one or two characters, measured in
-- docs/benchmarks.md (issue 6). pg_trgm can only narrow a substring search
-- by a trigram inside the query, and "댄스" or "춤" has none: such a search
-- read every caption (about 250 ms on the seed of 100,000 videos). These
-- indexes hold each text's distinct one- and two-character pieces, so a
-- short query is one GIN lookup of itself.

-- +goose Up
-- +goose StatementBegin
-- short_grams is the set of distinct one- and two-character substrings of
-- lower(t) that contain no whitespace. A query of one or two characters
-- (trimmed, so without whitespace) occurs in t case-insensitively exactly
-- when lower(query) is in the set. It costs about 60 µs for a caption, so
-- its declared cost keeps the planner from computing it per row to filter
-- a scan rather than looking it up in the index.
CREATE FUNCTION short_grams(t text)
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000
AS $$
    SELECT coalesce(array_agg(DISTINCT g), '{}')
    FROM regexp_split_to_table(lower(t), '\s+') AS w
    CROSS JOIN LATERAL generate_series(1, char_length(w)) AS i
    CROSS JOIN LATERAL (VALUES (substr(w, i, 1)), (substr(w, i, 2))) AS grams(g)
$$;
-- +goose StatementEnd

-- The expressions are the ones SearchVideosShort and SearchUsersShort
-- (db/queries/search.sql) filter on. The space between the two fields
-- keeps a piece from spanning them.
CREATE INDEX videos_search_short_grams ON videos
    USING gin (short_grams(caption || ' ' || coalesce(title, '')))
    WHERE status = 'completed' AND is_public AND deleted_at IS NULL;
CREATE INDEX users_search_short_grams ON users
    USING gin (short_grams(username || ' ' || coalesce(display_name, '')));

-- +goose Down
DROP INDEX users_search_short_grams;
DROP INDEX videos_search_short_grams;
DROP FUNCTION short_grams;
