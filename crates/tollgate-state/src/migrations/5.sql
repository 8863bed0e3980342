-- Version 4 → 5: the pins each integration was planned with (for `tollgate reproduce`), and
-- the rejected integrations of a project, newest first, whose commits the mirror keeps.
ALTER TABLE integrations ADD COLUMN pins TEXT;
CREATE INDEX integrations_rejected ON integrations (project, id) WHERE state = 'rejected';
