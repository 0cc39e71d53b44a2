-- Every claim of a trial, whoever made it and however it ended, so that a
-- sweep over many workers can be audited: trials.attempts counts only the
-- attempts that used up a retry (a released or crashed one is handed back
-- uncounted), this table keeps them all.
CREATE TABLE trial_attempts (
    trial_id   INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    attempt    INTEGER NOT NULL,  -- 1, 2, ... in claim order
    worker     TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    ended_at   TEXT,              -- NULL while it runs
    outcome    TEXT NOT NULL DEFAULT 'running'
               CHECK (outcome IN ('running', 'done', 'failed', 'released', 'taken over', 'lost')),
    PRIMARY KEY (trial_id, attempt)
) STRICT;
