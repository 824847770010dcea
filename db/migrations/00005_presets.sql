-- The AI presets catalog: what the studio offers, each mapped to a model and
-- a prompt template. Rows are configuration (an operator can add, retire or
-- re-price them with SQL, no deploy); popularity comes from ai_jobs.

-- +goose Up
CREATE TABLE presets (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9_]{2,50}$'),
    kind            text NOT NULL CHECK (kind IN ('glitch', 'music', 'template')),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    preview_key     text,
    job_type        text NOT NULL CHECK (job_type IN
                        ('i2v_template', 'glitch_animate', 'glitch_replace', 'sticker_to_reality', 'music')),
    model           text NOT NULL,
    prompt_template text NOT NULL DEFAULT '',
    cost            integer NOT NULL CHECK (cost >= 0),
    sort_order      integer NOT NULL DEFAULT 0,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presets_kind_idx ON presets (kind, sort_order) WHERE active;

ALTER TABLE ai_jobs ADD COLUMN preset_id text REFERENCES presets (id) ON DELETE SET NULL;
CREATE INDEX ai_jobs_preset_idx ON ai_jobs (preset_id, created_at DESC) WHERE preset_id IS NOT NULL;

INSERT INTO presets (id, kind, name, description, job_type, model, prompt_template, cost, sort_order) VALUES
  ('glitch_dance_swap', 'glitch', 'Dance swap', 'You, doing their moves: your image follows the video''s motion.',
   'glitch_animate', 'wan-video/wan-2.2-animate-animation', 'the character performs the same motion, {prompt}', 30, 10),
  ('glitch_face_in', 'glitch', 'Step in', 'Replace the person in the video with your character.',
   'glitch_replace', 'wan-video/wan-2.2-animate-replace', 'replace the subject with the character, {prompt}', 30, 20),
  ('glitch_sticker', 'glitch', 'Sticker to reality', 'Drop your sticker into a moment of the video.',
   'sticker_to_reality', 'luma/modify-video', 'integrate the object naturally into the scene, {prompt}', 45, 30),
  ('music_lofi', 'music', 'Lo-fi loop', 'A calm lo-fi beat.', 'music', 'meta/musicgen',
   'lo-fi hip hop beat, warm vinyl crackle, {prompt}', 5, 10),
  ('music_kpop', 'music', 'K-pop hook', 'A bright, punchy dance hook.', 'music', 'meta/musicgen',
   'energetic k-pop dance track, catchy synth hook, {prompt}', 5, 20),
  ('music_cinematic', 'music', 'Cinematic rise', 'Strings building to a drop.', 'music', 'meta/musicgen',
   'cinematic orchestral build-up, strings and drums, {prompt}', 5, 30);

-- +goose Down
DROP INDEX ai_jobs_preset_idx;
ALTER TABLE ai_jobs DROP COLUMN preset_id;
DROP TABLE presets;
