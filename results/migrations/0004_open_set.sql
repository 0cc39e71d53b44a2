-- Open-set rejection: the rule a trial calibrated on its validation split to
-- answer "unknown" for dogs it never trained on, the class centroids the
-- centroid rule needs at predict time, and how each candidate rule did.

CREATE TABLE open_set (
    trial_id     INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    target_far   REAL NOT NULL,
    rule         TEXT NOT NULL,     -- the kind chosen on validation
    threshold    REAL NOT NULL,     -- accept when score > threshold
    dim          INTEGER NOT NULL,
    centroids    BLOB NOT NULL,     -- classes x dim little-endian float32, unit length; zeros for a class without training rows
    unknown_val  TEXT NOT NULL,     -- JSON list of the dogs calibrated on
    unknown_test TEXT NOT NULL      -- JSON list of the dogs measured on
) STRICT;

-- Counts, not rates: rates follow from them and cannot disagree.
CREATE TABLE open_set_counts (
    trial_id       INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    rule           TEXT NOT NULL,
    part           TEXT NOT NULL CHECK (part IN ('val', 'test')),
    threshold      REAL NOT NULL,
    known          INTEGER NOT NULL,
    known_correct  INTEGER NOT NULL,
    known_rejected INTEGER NOT NULL,
    unknown        INTEGER NOT NULL,
    false_accepts  INTEGER NOT NULL,
    PRIMARY KEY (trial_id, rule, part)
) STRICT;
