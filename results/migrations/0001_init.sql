-- Initial schema. Timestamps are UTC text in a fixed-width RFC 3339 form
-- (nanoseconds always written) so that string order is time order.
-- REAL columns that hold metrics are nullable because SQLite stores NaN as
-- NULL; readers turn NULL back into NaN.

CREATE TABLE experiments (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    file                TEXT NOT NULL DEFAULT '',
    config_yaml         TEXT NOT NULL DEFAULT '',
    dataset_fingerprint TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE TABLE trials (
    id               INTEGER PRIMARY KEY,
    experiment_id    INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    hash             TEXT NOT NULL,
    trial_index      INTEGER NOT NULL,
    seed             INTEGER NOT NULL,
    variant_key      TEXT NOT NULL DEFAULT '',
    variant_json     TEXT NOT NULL DEFAULT '',
    config_json      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'failed')),
    worker           TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    started_at       TEXT,
    finished_at      TEXT,
    heartbeat_at     TEXT,
    go_version       TEXT NOT NULL DEFAULT '',
    git_commit       TEXT NOT NULL DEFAULT '',
    git_dirty        INTEGER NOT NULL DEFAULT 0,
    backbone_sha256  TEXT NOT NULL DEFAULT '',
    checkpoint_path  TEXT NOT NULL DEFAULT '',
    best_epoch       INTEGER NOT NULL DEFAULT 0,
    stopped_epoch    INTEGER NOT NULL DEFAULT 0,
    duration_seconds REAL NOT NULL DEFAULT 0,
    UNIQUE (experiment_id, hash)
) STRICT;

-- Serves Trials (ordered listing) and Claim (scan in index order).
CREATE INDEX trials_experiment_index ON trials (experiment_id, trial_index);

CREATE TABLE epochs (
    trial_id       INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    epoch          INTEGER NOT NULL,
    train_loss     REAL,
    train_accuracy REAL,
    val_loss       REAL,
    val_accuracy   REAL,
    seconds        REAL,
    PRIMARY KEY (trial_id, epoch)
) STRICT;

CREATE TABLE test_metrics (
    trial_id           INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    n                  INTEGER NOT NULL,
    accuracy           REAL,
    top5               REAL,
    log_loss           REAL,
    macro_precision    REAL,
    macro_recall       REAL,
    macro_f1           REAL,
    weighted_precision REAL,
    weighted_recall    REAL,
    weighted_f1        REAL
) STRICT;

-- One row per class of the trial, so it also keeps the trial's class names.
CREATE TABLE class_metrics (
    trial_id  INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    class     INTEGER NOT NULL,
    name      TEXT NOT NULL,
    precision REAL,
    recall    REAL,
    f1        REAL,
    support   INTEGER NOT NULL,
    PRIMARY KEY (trial_id, class)
) STRICT;

-- Sparse: only non-zero cells are stored.
CREATE TABLE confusion (
    trial_id   INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    true_class INTEGER NOT NULL,
    pred_class INTEGER NOT NULL,
    count      INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (trial_id, true_class, pred_class)
) STRICT;

CREATE TABLE predictions (
    id           INTEGER PRIMARY KEY,
    trial_id     INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    photo        TEXT NOT NULL,
    photo_sha256 TEXT NOT NULL DEFAULT '',
    true_class   INTEGER NOT NULL,
    pred_class   INTEGER NOT NULL
) STRICT;

CREATE INDEX predictions_trial ON predictions (trial_id);

-- Top-k scores live in their own table rather than a JSON column: typed
-- columns let reports ask SQL questions such as "at which rank was the true
-- dog" or "score of the runner-up" without JSON parsing, and deletes cascade
-- like everywhere else. Five small rows per photo are cheap at our sizes.
CREATE TABLE prediction_scores (
    prediction_id INTEGER NOT NULL REFERENCES predictions (id) ON DELETE CASCADE,
    rank          INTEGER NOT NULL,
    class         INTEGER NOT NULL,
    score         REAL,
    PRIMARY KEY (prediction_id, rank)
) STRICT, WITHOUT ROWID;
