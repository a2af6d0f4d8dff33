/**
 * Versioned schema of the SQLite store. Each migration runs once, in order,
 * inside a transaction; `PRAGMA user_version` records the last one applied.
 *
 * @module
 */

/** The migrations, index + 1 being the schema version each produces. */
export const MIGRATIONS: readonly string[] = [
  // 1: rooms, grants, history, direct messages, accounts, audit log.
  `
  CREATE TABLE rooms (
    room_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner_key TEXT,
    topic TEXT NOT NULL DEFAULT '',
    invite_only INTEGER NOT NULL DEFAULT 0,
    passphrase TEXT,
    created_at INTEGER NOT NULL,
    last_id INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE grants (
    room_key TEXT NOT NULL,
    user_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('op', 'ban', 'mute', 'invite')),
    until INTEGER,
    by TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room_key, user_key, kind)
  ) WITHOUT ROWID;
  CREATE TABLE messages (
    room_key TEXT NOT NULL,
    id INTEGER NOT NULL,
    from_name TEXT NOT NULL,
    body TEXT NOT NULL,
    ts INTEGER NOT NULL,
    action INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_key, id)
  ) WITHOUT ROWID;
  CREATE INDEX messages_ts ON messages (ts);
  CREATE TABLE dms (
    id INTEGER PRIMARY KEY,
    pair_key TEXT NOT NULL,
    from_key TEXT NOT NULL,
    from_name TEXT NOT NULL,
    to_key TEXT NOT NULL,
    to_name TEXT NOT NULL,
    body TEXT NOT NULL,
    ts INTEGER NOT NULL,
    action INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX dms_pair ON dms (pair_key, id);
  CREATE INDEX dms_pending ON dms (to_key, id) WHERE delivered = 0;
  CREATE TABLE dm_reads (
    user_key TEXT NOT NULL,
    peer_key TEXT NOT NULL,
    last_read_id INTEGER NOT NULL,
    PRIMARY KEY (user_key, peer_key)
  ) WITHOUT ROWID;
  CREATE TABLE accounts (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    room TEXT,
    target TEXT,
    detail TEXT NOT NULL DEFAULT ''
  );
  `,
  // 2: API keys of the REST API, hashed; the name is the bot's nickname.
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  `,
  // 3: each account's lookalike key (UTS #39 skeleton, folded), so confusable names are
  // found by index; the store fills it at open, and again whenever store_meta's
  // lookalike_version differs from the build's (new Unicode data).
  `
  ALTER TABLE accounts ADD COLUMN lookalike_key TEXT;
  CREATE INDEX accounts_lookalike ON accounts (lookalike_key);
  CREATE TABLE store_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: client message ids of say and dm, to recognise a retry: looked up by
  // sender and id, and counted per sender by time (the latest are remembered).
  `
  ALTER TABLE messages ADD COLUMN sender_key TEXT;
  ALTER TABLE messages ADD COLUMN client_msg_id TEXT;
  CREATE INDEX messages_client_msg_id ON messages (sender_key, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
  CREATE INDEX messages_sender_ts ON messages (sender_key, ts) WHERE client_msg_id IS NOT NULL;
  ALTER TABLE dms ADD COLUMN client_msg_id TEXT;
  CREATE INDEX dms_client_msg_id ON dms (from_key, client_msg_id) WHERE client_msg_id IS NOT NULL;
  CREATE INDEX dms_sender_ts ON dms (from_key, ts) WHERE client_msg_id IS NOT NULL;
  `,
  // 5: where each account logged in from (those addresses keep their tries
  // when the account is locked), and when `chat user unlock` lifted a lock.
  `
  CREATE TABLE login_addresses (
    account_key TEXT NOT NULL REFERENCES accounts (name_key) ON DELETE CASCADE,
    ip_key TEXT NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (account_key, ip_key)
  ) WITHOUT ROWID;
  CREATE TABLE login_unlocks (
    account_key TEXT PRIMARY KEY REFERENCES accounts (name_key) ON DELETE CASCADE,
    unlocked_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 6: DMs to a user by sender: the last one from a peer (a read marks up to
  // it) in one index step, whatever else the pair holds.
  `
  CREATE INDEX dms_to_from ON dms (to_key, from_key, id);
  `,
  // 7: message changes (docs/protocol.md section 21). A message keeps its
  // current state in place (an edit's body and time, a deletion's tombstone:
  // body '', who and when) and whom it answers; every change is also an
  // entry of the room's timeline, kept apart; reactions are a table of
  // their own, one row per message, emoji and user.
  `
  ALTER TABLE messages ADD COLUMN reply_to INTEGER;
  ALTER TABLE messages ADD COLUMN edited_ts INTEGER;
  ALTER TABLE messages ADD COLUMN deleted_by TEXT;
  ALTER TABLE messages ADD COLUMN deleted_ts INTEGER;
  CREATE TABLE message_changes (
    room_key TEXT NOT NULL,
    id INTEGER NOT NULL,
    target INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'delete', 'react', 'unreact')),
    from_name TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    ts INTEGER NOT NULL,
    PRIMARY KEY (room_key, id)
  ) WITHOUT ROWID;
  CREATE INDEX message_changes_target ON message_changes (room_key, target);
  CREATE TABLE reactions (
    room_key TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    user_key TEXT NOT NULL,
    nick TEXT NOT NULL,
    change_id INTEGER NOT NULL,
    PRIMARY KEY (room_key, message_id, emoji, user_key)
  ) WITHOUT ROWID;
  `,
  // 8: outgoing webhooks (docs/webhooks.md): rooms and events as JSON arrays; the
  // secret is kept as is, since it signs every delivery.
  `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    name TEXT NOT NULL,
    rooms TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 9: full-text search (server/search/). search_entries numbers every room
  // message and DM in the order stored (existing ones by time), search_index
  // is an FTS5 index over their bodies with external content (the view
  // search_content), kept in step by triggers: an insert, an UPDATE of a body
  // (an edit, a delete's tombstone "") and a DELETE (retention, a room's
  // removal) each change it in the same transaction. The scope column holds
  // "r" + hex(room key) for a room message and "u" + hex(user key) of both
  // users for a DM, so a search names what it may read in the MATCH itself.
  `
  CREATE TABLE search_entries (
    entry INTEGER PRIMARY KEY AUTOINCREMENT,
    room_key TEXT,
    id INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX search_entries_message ON search_entries (room_key, id)
    WHERE room_key IS NOT NULL;
  CREATE UNIQUE INDEX search_entries_dm ON search_entries (id) WHERE room_key IS NULL;
  CREATE VIEW search_content AS
    SELECT e.entry AS entry, m.body AS body, 'r' || hex(m.room_key) AS scope
      FROM search_entries e JOIN messages m ON m.room_key = e.room_key AND m.id = e.id
    UNION ALL
    SELECT e.entry, d.body, 'u' || hex(d.from_key) || ' u' || hex(d.to_key)
      FROM search_entries e JOIN dms d ON e.room_key IS NULL AND d.id = e.id;
  CREATE VIRTUAL TABLE search_index USING fts5(
    body, scope, content = 'search_content', content_rowid = 'entry',
    tokenize = 'unicode61 remove_diacritics 2'
  );
  INSERT INTO search_entries (room_key, id)
    SELECT room_key, id FROM (
      SELECT room_key, id, ts, 0 AS dm FROM messages
      UNION ALL
      SELECT NULL, id, ts, 1 FROM dms
    ) ORDER BY ts, dm, room_key, id;
  INSERT INTO search_index (search_index) VALUES ('rebuild');
  CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_entries (room_key, id) VALUES (new.room_key, new.id);
    INSERT INTO search_index (rowid, body, scope)
      SELECT entry, new.body, 'r' || hex(new.room_key) FROM search_entries
        WHERE room_key = new.room_key AND id = new.id;
  END;
  CREATE TRIGGER messages_search_update AFTER UPDATE OF room_key, id, body ON messages BEGIN
    INSERT INTO search_index (search_index, rowid, body, scope)
      SELECT 'delete', entry, old.body, 'r' || hex(old.room_key) FROM search_entries
        WHERE room_key = old.room_key AND id = old.id;
    UPDATE search_entries SET room_key = new.room_key, id = new.id
      WHERE room_key = old.room_key AND id = old.id;
    INSERT INTO search_index (rowid, body, scope)
      SELECT entry, new.body, 'r' || hex(new.room_key) FROM search_entries
        WHERE room_key = new.room_key AND id = new.id;
  END;
  CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO search_index (search_index, rowid, body, scope)
      SELECT 'delete', entry, old.body, 'r' || hex(old.room_key) FROM search_entries
        WHERE room_key = old.room_key AND id = old.id;
    DELETE FROM search_entries WHERE room_key = old.room_key AND id = old.id;
  END;
  CREATE TRIGGER dms_search_insert AFTER INSERT ON dms BEGIN
    INSERT INTO search_entries (room_key, id) VALUES (NULL, new.id);
    INSERT INTO search_index (rowid, body, scope)
      SELECT entry, new.body, 'u' || hex(new.from_key) || ' u' || hex(new.to_key)
        FROM search_entries WHERE room_key IS NULL AND id = new.id;
  END;
  CREATE TRIGGER dms_search_update AFTER UPDATE OF id, from_key, to_key, body ON dms BEGIN
    INSERT INTO search_index (search_index, rowid, body, scope)
      SELECT 'delete', entry, old.body, 'u' || hex(old.from_key) || ' u' || hex(old.to_key)
        FROM search_entries WHERE room_key IS NULL AND id = old.id;
    UPDATE search_entries SET id = new.id WHERE room_key IS NULL AND id = old.id;
    INSERT INTO search_index (rowid, body, scope)
      SELECT entry, new.body, 'u' || hex(new.from_key) || ' u' || hex(new.to_key)
        FROM search_entries WHERE room_key IS NULL AND id = new.id;
  END;
  CREATE TRIGGER dms_search_delete AFTER DELETE ON dms BEGIN
    INSERT INTO search_index (search_index, rowid, body, scope)
      SELECT 'delete', entry, old.body, 'u' || hex(old.from_key) || ' u' || hex(old.to_key)
        FROM search_entries WHERE room_key IS NULL AND id = old.id;
    DELETE FROM search_entries WHERE room_key IS NULL AND id = old.id;
  END;
  `,
  // 10: files (docs/protocol.md section 23): shared files' metadata, their bytes kept by hash under the
  // data directory; messages and DMs name the file they share (file_id, and
  // its info as shown in file), so a file no message refers to is found by index.
  `
  CREATE TABLE files (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploader_key TEXT NOT NULL,
    room_key TEXT,
    to_key TEXT,
    ts INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX files_sha256 ON files (sha256);
  CREATE INDEX files_uploader_ts ON files (uploader_key, ts);
  ALTER TABLE messages ADD COLUMN file_id TEXT;
  ALTER TABLE messages ADD COLUMN file TEXT;
  CREATE INDEX messages_file_id ON messages (file_id) WHERE file_id IS NOT NULL;
  ALTER TABLE dms ADD COLUMN file_id TEXT;
  ALTER TABLE dms ADD COLUMN file TEXT;
  CREATE INDEX dms_file_id ON dms (file_id) WHERE file_id IS NOT NULL;
  `,
  // 11: a room's files go with the room (docs/protocol.md section 23): found by room_key when it is
  // deleted, and the contents no file uses any more wait in unused_blobs for retention to delete.
  `
  CREATE INDEX files_room_key ON files (room_key) WHERE room_key IS NOT NULL;
  CREATE TABLE unused_blobs (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;
  `,
];
