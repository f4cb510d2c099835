-- Placeholder on the i7sess branch only: version 5 belongs to another branch's migration.
-- Delete this file when merging (the real 0005_*.sqlite.sql takes its place).
SELECT 1;
