-- Version 5 → 6: the history of tests, per platform configuration and day: how often each
-- Test work item ran, and how often each of its tests failed or was forgiven as a flake. Only
-- tests that failed have rows, so the table grows with failures, not with the test suites.
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
