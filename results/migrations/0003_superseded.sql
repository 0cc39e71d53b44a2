-- A trial is superseded when the experiment is registered again without it
-- (its file changed: another sweep, split or dataset). Its results stay stored,
-- but status, report and compare show only the current trials.
ALTER TABLE trials ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
