-- The media pipeline: what the upload flow and the finalize task record about
-- a video, the images users upload, and the daily view statistics that the
-- view flusher writes.

-- +goose Up
ALTER TABLE videos
    ADD COLUMN upload_key         text CHECK (length(upload_key) <= 500),
    ADD COLUMN upload_max_bytes   bigint CHECK (upload_max_bytes > 0),
    ADD COLUMN original_key       text CHECK (length(original_key) <= 500),
    ADD COLUMN video_codec        text,
    ADD COLUMN audio_codec        text,
    ADD COLUMN container          text,
    ADD COLUMN bit_rate           bigint CHECK (bit_rate >= 0),
    ADD COLUMN frame_rate         double precision CHECK (frame_rate >= 0),
    ADD COLUMN transcoded         boolean NOT NULL DEFAULT false,
    ADD COLUMN client_width       integer,
    ADD COLUMN client_height      integer,
    ADD COLUMN client_duration    double precision,
    ADD COLUMN processing_at      timestamptz,
    ADD COLUMN completed_at       timestamptz;

COMMENT ON COLUMN videos.upload_key IS 'where the client PUTs the file; the finalize task moves it to object_key';
COMMENT ON COLUMN videos.original_key IS 'the untouched upload, kept when object_key holds a web transcode';

-- Images users upload (profile pictures, AI inputs). A row exists from the
-- moment an upload URL is issued; uploaded_at is set once the object is seen.
CREATE TABLE images (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    object_key   text NOT NULL CHECK (length(object_key) <= 500),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    max_bytes    bigint NOT NULL CHECK (max_bytes > 0),
    size_bytes   bigint CHECK (size_bytes >= 0),
    uploaded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX images_object_key_key ON images (object_key);
CREATE INDEX images_user_idx ON images (user_id, created_at DESC);
CREATE INDEX images_stale_idx ON images (created_at) WHERE uploaded_at IS NULL;

-- A user's picture is the key of one of their uploaded images; the URL is
-- rendered (signed where the storage needs it) on every read, so no expiring
-- URL is ever stored.
ALTER TABLE users DROP COLUMN profile_image_url;
ALTER TABLE users ADD COLUMN profile_image_key text CHECK (length(profile_image_key) <= 500);

-- The block rule of CONTRACT.md §2, once: whether a and b blocked each
-- other in either direction. NULL (anonymous) is never blocked. Every query
-- that hides users, videos, comments or notifications across a block calls it.
CREATE FUNCTION blocked_between(a uuid, b uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT a IS NOT NULL AND b IS NOT NULL AND EXISTS (
        SELECT 1 FROM blocks
         WHERE (blocker_id = a AND blocked_id = b) OR (blocker_id = b AND blocked_id = a))
$$;

-- The visibility rule of CONTRACT.md §2, once, for every query: a video that
-- is not deleted is visible to its owner in every state, and to anyone else
-- when it is completed and public and neither user has blocked the other.
-- viewer may be NULL (anonymous). A single SQL expression, so the planner
-- inlines it into each query.
CREATE FUNCTION video_visible(owner_id uuid, status text, is_public boolean, deleted_at timestamptz, viewer uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT deleted_at IS NULL
       AND ((viewer IS NOT NULL AND owner_id = viewer)
            OR (status = 'completed' AND is_public AND NOT blocked_between(viewer, owner_id)))
$$;

-- Views per video per UTC day, by traffic source. Written only by views:flush.
CREATE TABLE video_daily_stats (
    video_id       uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day            date NOT NULL,
    views          bigint NOT NULL DEFAULT 0 CHECK (views >= 0),
    views_feed     bigint NOT NULL DEFAULT 0 CHECK (views_feed >= 0),
    views_search   bigint NOT NULL DEFAULT 0 CHECK (views_search >= 0),
    views_profile  bigint NOT NULL DEFAULT 0 CHECK (views_profile >= 0),
    views_share    bigint NOT NULL DEFAULT 0 CHECK (views_share >= 0),
    views_external bigint NOT NULL DEFAULT 0 CHECK (views_external >= 0),
    views_other    bigint NOT NULL DEFAULT 0 CHECK (views_other >= 0),
    watch_time_ms  bigint NOT NULL DEFAULT 0 CHECK (watch_time_ms >= 0),
    PRIMARY KEY (video_id, day)
);

-- The exactly-once hand-off between Redis and Postgres: every batch the
-- flusher takes out of Redis has an id; applying a batch inserts its id here
-- in the same transaction as the counts, so a replayed batch is a no-op.
CREATE TABLE view_flush_batches (
    batch_id   text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE view_flush_batches;
DROP TABLE video_daily_stats;
DROP FUNCTION video_visible;
DROP FUNCTION blocked_between;
ALTER TABLE users DROP COLUMN profile_image_key;
ALTER TABLE users ADD COLUMN profile_image_url text CHECK (length(profile_image_url) <= 1000);
DROP TABLE images;
ALTER TABLE videos
    DROP COLUMN upload_key, DROP COLUMN upload_max_bytes, DROP COLUMN original_key, DROP COLUMN video_codec,
    DROP COLUMN audio_codec, DROP COLUMN container, DROP COLUMN bit_rate, DROP COLUMN frame_rate,
    DROP COLUMN transcoded, DROP COLUMN client_width, DROP COLUMN client_height, DROP COLUMN client_duration,
    DROP COLUMN processing_at, DROP COLUMN completed_at;
