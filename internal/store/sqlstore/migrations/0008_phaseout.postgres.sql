-- PLACEHOLDER for branch i9b only: i9a owns 0008_phaseout; replaced by theirs when i9a is merged.
CREATE TABLE i9b_placeholder_0008 (x INTEGER);
DROP TABLE i9b_placeholder_0008;
