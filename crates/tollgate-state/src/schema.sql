-- tollgate's state, version 3. Times are milliseconds since the Unix epoch.
--
-- Every read on a request path is a keyed lookup or a bounded range of an index below (the
-- state crate's `plans` test checks each with EXPLAIN QUERY PLAN). A database of an older
-- version is brought here by `migrations/`.

CREATE TABLE projects (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    product     TEXT,
    fetched_at  INTEGER,
    fetch_error TEXT
);

-- bisect_end, bisect_limit: while a failed batch is bisected, the newest change of that batch
-- and how many of its changes the next integration takes; none otherwise.
CREATE TABLE branches (
    project TEXT NOT NULL REFERENCES projects(name),
    branch  TEXT NOT NULL,
    bisect_end INTEGER,
    bisect_limit INTEGER,
    PRIMARY KEY (project, branch)
);

-- A change is a commit staged for a branch. Staging the same commit again while it waits or
-- runs gives the same row; after it ended (merged, rejected, unstaged) it is a new change.
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    project     TEXT NOT NULL,
    branch      TEXT NOT NULL,
    commit_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    author      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    state       TEXT NOT NULL,
    staged_at   INTEGER NOT NULL,
    integration INTEGER,
    rejection   TEXT
);
CREATE UNIQUE INDEX changes_waiting ON changes (project, branch, commit_id)
    WHERE state IN ('staged', 'integrating');
CREATE INDEX changes_by_branch ON changes (project, branch, state);
-- Staging again finds the commit among all the branch's changes, merged ones included.
CREATE INDEX changes_by_commit ON changes (commit_id);
-- The changes an integration's transitions update.
CREATE INDEX changes_by_integration ON changes (integration);

-- The last commit seen at each staging ref, so that a ref is staged once per commit.
CREATE TABLE staging_refs (
    project   TEXT NOT NULL,
    ref_name  TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    PRIMARY KEY (project, ref_name)
);

-- pins: what it was planned with (`PlanPins`, JSON), to reproduce a work item elsewhere.
CREATE TABLE integrations (
    id          INTEGER PRIMARY KEY,
    project     TEXT NOT NULL,
    branch      TEXT NOT NULL,
    state       TEXT NOT NULL,
    base        TEXT NOT NULL,
    commit_id   TEXT,
    rejection   TEXT,
    note        TEXT,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    pins        TEXT
);
CREATE INDEX integrations_by_branch ON integrations (project, branch, id);
CREATE INDEX integrations_by_project ON integrations (project, id);
-- What a restarted controller resumes, without reading the finished ones: a branch's chain
-- (one row, or as many as its speculation depth).
CREATE INDEX integrations_unfinished ON integrations (project, branch)
    WHERE state IN ('forming', 'running', 'pushing');
-- The rejected ones of a project, newest first: their commits are kept for `reproduce`.
CREATE INDEX integrations_rejected ON integrations (project, id) WHERE state = 'rejected';

CREATE TABLE integration_changes (
    integration INTEGER NOT NULL REFERENCES integrations(id),
    change      INTEGER NOT NULL REFERENCES changes(id),
    position    INTEGER NOT NULL,
    merge       TEXT,
    PRIMARY KEY (integration, change)
);

-- quarantined: the tests that failed while quarantined (JSON), when it passed without them.
CREATE TABLE work_items (
    integration INTEGER NOT NULL REFERENCES integrations(id),
    position    INTEGER NOT NULL,
    item        TEXT NOT NULL,
    build_key   TEXT NOT NULL,
    significant INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER,
    finished_at INTEGER,
    failure     TEXT,
    log_path    TEXT,
    log_digest  TEXT,
    quarantined TEXT,
    PRIMARY KEY (integration, item)
);
-- A work item's newest run, for its log.
CREATE INDEX work_items_by_item ON work_items (item, integration);
-- The runs that stored a result under a build key: where a reused work item's result came from.
CREATE INDEX work_items_that_ran ON work_items (build_key, integration)
    WHERE state IN ('passed', 'failed');

-- The decision log: append-only.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    project     TEXT NOT NULL,
    branch      TEXT NOT NULL,
    integration INTEGER,
    change      INTEGER,
    work_item   TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX events_by_integration ON events (integration, seq);

-- The API's tokens: only a hash of each secret is kept. A revoked token stays, so that its
-- name is not given again by mistake.
CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Agents that registered: what they said they are (JSON), when they were last heard from.
CREATE TABLE agents (
    name       TEXT PRIMARY KEY,
    info       TEXT NOT NULL,
    token      TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    draining   INTEGER NOT NULL DEFAULT 0
);

-- Every run of a work item is a lease to an agent (the local one too). The id is the fencing
-- token: a report is taken only under the lease that is active for its work item, so a run
-- whose lease was taken away can never overwrite a newer one.
-- state: active, reported, expired (the agent was lost), released (ended without a report).
CREATE TABLE leases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    integration INTEGER NOT NULL REFERENCES integrations(id),
    item        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    state       TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX leases_of_item ON leases (integration, item, id);
-- What an agent holds now: a few rows whatever the history.
CREATE INDEX leases_active ON leases (agent, id) WHERE state = 'active';

-- The history of tests, per platform configuration and day: how often each Test work item
-- ran, and how often each of its tests failed or was forgiven as a flake. Only tests that
-- failed have rows, so the table grows with failures, not with the test suites.
CREATE TABLE item_days (
    project       TEXT NOT NULL,
    configuration TEXT NOT NULL,
    item          TEXT NOT NULL,
    day           INTEGER NOT NULL,
    runs          INTEGER NOT NULL,
    PRIMARY KEY (project, configuration, item, day)
);
CREATE TABLE test_days (
    project       TEXT NOT NULL,
    configuration TEXT NOT NULL,
    item          TEXT NOT NULL,
    test          TEXT NOT NULL,
    day           INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    flakes        INTEGER NOT NULL,
    last_failed   INTEGER NOT NULL,
    PRIMARY KEY (project, configuration, test, day)
);
CREATE INDEX test_days_by_day ON test_days (project, day);

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
