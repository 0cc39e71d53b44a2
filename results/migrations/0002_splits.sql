-- Honest evaluation: k-fold trials and the stored split.

-- 0 for a holdout split, 1..K for the fold a k-fold trial tests on. Seeds and
-- folds are replicates of one variant, so the fold is a column of its own and
-- not part of variant_key.
ALTER TABLE trials ADD COLUMN fold INTEGER NOT NULL DEFAULT 0;

-- One row per split an experiment uses (two when split.leaky is swept).
CREATE TABLE splits (
    experiment_id    INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    leaky            INTEGER NOT NULL,
    method           TEXT NOT NULL,       -- near-duplicate grouping: phash or none
    threshold        REAL NOT NULL,
    kfold            INTEGER NOT NULL,
    views            INTEGER NOT NULL,    -- augmented copies per training photo
    classes_json     TEXT NOT NULL,       -- class index -> name
    dropped_json     TEXT NOT NULL DEFAULT '[]', -- classes left out for having one group
    cross_class_json TEXT NOT NULL DEFAULT '[]', -- the same photo under two dogs
    PRIMARY KEY (experiment_id, leaky)
) STRICT;

-- Which part each photo (view 0) or, for the leaky protocol, each augmented
-- copy is in, per fold. Honest splits store photos only: their training
-- photos' copies are always in training.
CREATE TABLE split_units (
    experiment_id INTEGER NOT NULL,
    leaky         INTEGER NOT NULL,
    fold          INTEGER NOT NULL,
    photo         TEXT NOT NULL,
    view          INTEGER NOT NULL,
    photo_sha256  TEXT NOT NULL,
    class         INTEGER NOT NULL,
    grp           INTEGER NOT NULL,
    part          TEXT NOT NULL CHECK (part IN ('train', 'val', 'test')),
    PRIMARY KEY (experiment_id, leaky, fold, photo, view),
    FOREIGN KEY (experiment_id, leaky) REFERENCES splits (experiment_id, leaky) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
