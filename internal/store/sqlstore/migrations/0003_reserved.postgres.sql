-- Placeholder on the i7sess branch only: version 3 belongs to another branch's migration.
-- Delete this file when merging (the real 0003_*.postgres.sql takes its place).
SELECT 1;
