-- Deleted media stops being served, uploads are what they claim (issue 11).
--
-- Deleting a video enqueues video:purge, which deletes its objects at once;
-- videos:purge sweeps every minute for deleted videos whose objects are
-- still stored (the enqueue was lost, or the task failed). The partial index
-- holds exactly those rows, so the sweep reads nothing else.
--
-- An uploaded image is checked (magic bytes, decoded dimensions) the first
-- time it is used; the check's result is kept so it runs once per image.

-- +goose Up
CREATE INDEX videos_purge_idx ON videos (deleted_at)
    WHERE deleted_at IS NOT NULL
      AND (object_key IS NOT NULL OR thumbnail_key IS NOT NULL OR original_key IS NOT NULL OR upload_key IS NOT NULL);

ALTER TABLE images
    ADD COLUMN width      integer CHECK (width > 0),
    ADD COLUMN height     integer CHECK (height > 0),
    ADD COLUMN checked_at timestamptz;

COMMENT ON COLUMN images.checked_at IS 'when the stored bytes were found to be an image of the declared type and bounded size; uploads write once, so they cannot change after';

-- +goose Down
ALTER TABLE images DROP COLUMN checked_at, DROP COLUMN height, DROP COLUMN width;
DROP INDEX videos_purge_idx;
