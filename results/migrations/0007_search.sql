-- Searches (docs/search.md): trials a pruner stopped, the draws of each
-- search with what they were drawn from, and the confirmation runs of a
-- search's best settings.

-- A pruned trial has finished, as a done one has, and is never claimed
-- again, but it keeps only its curve: no test results. SQLite cannot widen
-- the status CHECK of 0001 in place, so it is status 'done' with pruned = 1,
-- which results.Trial reads as the status pruned.
ALTER TABLE trials ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;

-- CPU time of the head's fit on its thread, the epoch callbacks left out;
-- 0 where it was not measured.
ALTER TABLE trials ADD COLUMN fit_cpu_seconds REAL NOT NULL DEFAULT 0;

-- Draw n of a study is a pure function of the search's seed, n and the
-- trials of the study finished when it was claimed: those are kept with it,
-- so every draw can be recomputed and checked.
CREATE TABLE search_samples (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    study         TEXT NOT NULL,              -- digest of the search's definition and seed
    sample        INTEGER NOT NULL,           -- n: 0, 1, ... in claim order
    trial_id      INTEGER NOT NULL UNIQUE REFERENCES trials (id) ON DELETE CASCADE,
    point_json    TEXT NOT NULL,              -- one number per parameter, by name
    history_json  TEXT NOT NULL,              -- the samples finished when it was claimed
    PRIMARY KEY (experiment_id, study, sample)
) STRICT;

-- The re-runs of a study's best settings with other seeds; rank 1 is the
-- best on validation.
CREATE TABLE search_confirmations (
    trial_id      INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    study         TEXT NOT NULL,
    sample        INTEGER NOT NULL,           -- the draw whose settings it re-runs
    rank          INTEGER NOT NULL
) STRICT;
