-- Version 6 → 7: the quarantine of tests, and the quarantined tests a work item passed without.
ALTER TABLE work_items ADD COLUMN quarantined TEXT;

-- The quarantine: tests whose failures do not reject until an entry ends (or is removed). An
-- ended entry stays, for who quarantined what and why.
CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project       TEXT NOT NULL,
    test          TEXT NOT NULL,
    configuration TEXT,
    owner         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    until         INTEGER NOT NULL,
    added_at      INTEGER NOT NULL,
    added_by      TEXT,
    removed_at    INTEGER,
    removed_by    TEXT
);
-- The entries that may still forgive a failure: a project's few, whatever the history.
CREATE INDEX quarantine_in_force ON quarantine (project, until) WHERE removed_at IS NULL;
