-- What a running trial is doing, for the live dashboard (dogrun serve): its
-- worker overwrites the one row every second or so while the trial runs.
-- Nothing in a sweep reads it; results stay in the tables above.
CREATE TABLE trial_progress (
    trial_id      INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    worker        TEXT NOT NULL,     -- the attempt it belongs to: its worker ...
    started_at    TEXT NOT NULL,     -- ... and when that worker claimed it
    phase         TEXT NOT NULL,     -- features, training or evaluating
    epoch         INTEGER NOT NULL,  -- epochs done; 0 before training
    epochs        INTEGER NOT NULL,  -- the most the trial may train (early stopping may end it sooner)
    epoch_seconds REAL,              -- the last epoch's time
    val_accuracy  REAL,              -- the last epoch's
    updated_at    TEXT NOT NULL
) STRICT;
