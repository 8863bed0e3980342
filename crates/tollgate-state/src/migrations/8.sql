-- Version 7 → 8: culprit finding. While a failed batch is bisected, a branch keeps the newest
-- change of that batch and how many of its changes the next integration takes.
ALTER TABLE branches ADD COLUMN bisect_end INTEGER;
ALTER TABLE branches ADD COLUMN bisect_limit INTEGER;
