-- A session's id is its sid in ID tokens and logout tokens and must never name another
-- session. SQLite reused the largest id after the newest session ended (its migration 0058
-- rebuilds the table with AUTOINCREMENT); PostgreSQL's identity never hands out an id twice,
-- so there is nothing to change here.
SELECT 1;
