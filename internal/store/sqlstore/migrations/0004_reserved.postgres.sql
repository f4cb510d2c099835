-- Placeholder on the i7sess branch only: version 4 belongs to another branch's migration.
-- Delete this file when merging (the real 0004_*.postgres.sql takes its place).
SELECT 1;
