-- Version 3 → 4: where a reused work item's result came from.
CREATE INDEX work_items_that_ran ON work_items (build_key, integration)
    WHERE state IN ('passed', 'failed');
