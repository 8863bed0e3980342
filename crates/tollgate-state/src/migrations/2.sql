-- Version 1 → 2: the indexes that keep reads off whole tables (see schema.sql).
CREATE INDEX changes_by_commit ON changes (commit_id);
CREATE INDEX changes_by_integration ON changes (integration);
CREATE INDEX integrations_by_project ON integrations (project, id);
CREATE INDEX integrations_unfinished ON integrations (project, branch)
    WHERE state IN ('forming', 'running', 'pushing');
CREATE INDEX work_items_by_item ON work_items (item, integration);
