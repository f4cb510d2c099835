-- Placeholder on the i10oidc branch only: version 2 belongs to another branch's migration.
-- Delete this file when merging (the real 0002_*.postgres.sql takes its place).
SELECT 1;
