-- Settling a comparison (docs/settle.md): the design an experiment declared
-- before its first look. The path itself is not stored: it is a function of
-- the design and the trials' per-seed outcomes in seed order, recomputed
-- exactly whenever it is shown. What cannot be recomputed is kept: the
-- design (the command line may have set it) and how many paired seeds were
-- stored already when it was declared, outcomes it could not have been
-- fixed before.
CREATE TABLE settle_designs (
    experiment_id    INTEGER PRIMARY KEY REFERENCES experiments (id) ON DELETE CASCADE,
    by_field         TEXT NOT NULL,     -- the compared sweep path
    reference_value  TEXT NOT NULL,     -- its value the others are compared with
    metric           TEXT NOT NULL,     -- top1 or top5
    margin           REAL NOT NULL,
    alpha            REAL NOT NULL,
    round_seeds      INTEGER NOT NULL,  -- seeds between looks
    max_seeds        INTEGER NOT NULL,
    spending         TEXT NOT NULL,     -- obrien-fleming or pocock
    seeds_json       TEXT NOT NULL,     -- the seed order, max_seeds long
    comparisons_json TEXT NOT NULL,     -- [[variant, reference], ...]: alpha is split among them
    declared_at      TEXT NOT NULL,
    seen_before      INTEGER NOT NULL   -- paired seeds stored when it was declared
);
