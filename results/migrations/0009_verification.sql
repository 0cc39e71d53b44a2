-- Issue 21: how well features tell apart dogs nothing was trained on (an
-- evaluation experiment's trials: verification of photo pairs and one-shot
-- identification), and, for open-set trials, whose photos calibrated the
-- rejection rule and how many photos of each set of unknown dogs it let
-- through. Counts where counts are what was measured: rates follow from them.

-- One draw of dogs: pairs of the measured dogs' photos scored by cosine and
-- judged at the threshold chosen on other dogs' pairs.
CREATE TABLE verification (
    trial_id          INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    dogs              INTEGER NOT NULL,  -- measured
    photos            INTEGER NOT NULL,  -- of the measured dogs
    threshold_dogs    INTEGER NOT NULL,  -- the threshold was chosen on their pairs
    genuine           INTEGER NOT NULL,  -- pairs of photos of one dog
    impostor          INTEGER NOT NULL,  -- pairs of photos of two dogs
    threshold         REAL NOT NULL,     -- "same dog" when the cosine is above it
    genuine_accepted  INTEGER NOT NULL,  -- at threshold
    impostor_rejected INTEGER NOT NULL,  -- at threshold, of the first min(genuine, impostor) impostor pairs:
                                         -- accuracies are of balanced pairs, the rest serve the TAR
    best_accuracy     REAL NOT NULL,     -- of the balanced pairs at their own best threshold
    auc               REAL NOT NULL,     -- area under the ROC curve (Mann-Whitney)
    gallery           INTEGER NOT NULL,  -- one-shot: one photo per measured dog
    queries           INTEGER NOT NULL   -- one-shot: the other photos
) STRICT;

-- The true-accept rate where the threshold lets through at most allowed of
-- the impostor pairs, allowed = floor(target_far * impostor).
CREATE TABLE verification_tar (
    trial_id   INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    target_far REAL NOT NULL,
    threshold  REAL NOT NULL,
    allowed    INTEGER NOT NULL,
    tar        REAL NOT NULL,
    far        REAL NOT NULL,          -- impostor pairs accepted at threshold, at most target_far
    PRIMARY KEY (trial_id, target_far)
) STRICT;

-- The ROC curve, thinned to the points that keep its value at a grid of
-- false-accept rates, linear and logarithmic (verify.ThinROC).
CREATE TABLE verification_roc (
    trial_id INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    step     INTEGER NOT NULL,         -- 0 at (0, 0), ascending
    far      REAL NOT NULL,
    tar      REAL NOT NULL,
    PRIMARY KEY (trial_id, step)
) STRICT;

-- One-shot identification's cumulative match characteristic: queries whose
-- own dog's gallery photo is among the rank most similar.
CREATE TABLE one_shot_cmc (
    trial_id INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    rank     INTEGER NOT NULL,         -- from 1
    hits     INTEGER NOT NULL,
    PRIMARY KEY (trial_id, rank)
) STRICT;

-- Whose photos calibrated an open-set trial's rules: all photos of half of
-- the task's held-out dogs (task), or of a third of the folder's dogs below
-- min_images_per_class (pool). The cohort is another third's centroids, for
-- centroid_cosine_minus_cohort (cohort_size 0 and an empty blob without).
CREATE TABLE open_set_calibration (
    trial_id    INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    calibrated_on TEXT NOT NULL CHECK (calibrated_on IN ('task', 'pool')),
    dogs        INTEGER NOT NULL,
    photos      INTEGER NOT NULL,
    cohort_size INTEGER NOT NULL,
    cohort      BLOB NOT NULL          -- dogs x open_set.dim little-endian float32
) STRICT;

-- Each rule's false accepts on each set of unknown dogs' photos.
CREATE TABLE open_set_unknowns (
    trial_id      INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    rule          TEXT NOT NULL,
    unknowns      TEXT NOT NULL CHECK (unknowns IN ('calibration', 'task_val', 'task_test', 'pool_measure')),
    dogs          INTEGER NOT NULL,
    photos        INTEGER NOT NULL,
    false_accepts INTEGER NOT NULL,
    PRIMARY KEY (trial_id, rule, unknowns)
) STRICT;
