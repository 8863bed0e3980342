-- Version 2 → 3: agents, the leases of work items to them, and the API's tokens.
CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE agents (
    name       TEXT PRIMARY KEY,
    info       TEXT NOT NULL,
    token      TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    draining   INTEGER NOT NULL DEFAULT 0
);

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
CREATE INDEX leases_active ON leases (agent, id) WHERE state = 'active';
