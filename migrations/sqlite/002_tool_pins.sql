-- Tool pinning (rug-pull protection): the accepted definition hash of every upstream tool, and a
-- pending one when the upstream changed it (or offered a new tool) and no admin accepted it yet.
CREATE TABLE tool_pins (
  upstream            TEXT NOT NULL,
  tool                TEXT NOT NULL,
  accepted_hash       TEXT,
  accepted_definition TEXT,
  pending_hash        TEXT,
  pending_definition  TEXT,
  first_seen          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  PRIMARY KEY (upstream, tool)
);
