/*
 * The SQLite backend of the store (store.h): one connection per handle in
 * WAL mode with synchronous=FULL, every statement prepared once at open and
 * kept for the connection's life, points in blocks of up to 256 per row
 * (store_blocks.h, ptblock.h) indexed on (item_key, t0), so a range read is
 * one index walk and a message's points cost a few rows. Every read joins from
 * the utility's id down to the rows asked for, so a query can only ever see
 * the utility it names; the item_key handed out by put_item is the one value
 * that skips the join, and only on the write path. fsync failures on commit
 * stop the process (a failed fsync may have dropped pages silently).
 */
#include "suido/store.h"

#include <assert.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_blocks.h"
#include "store_int.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/profile.h"

/* Version of the schema below; a database from a later one is refused. */
#define SCHEMA_VERSION 7
#define BUSY_TIMEOUT_MS 10000

/* The file store (v4): metadata first, the content and the sealed original
 * last so that listing reads only the head of each row. */
#define FILES_SQL                                                                          \
	"CREATE TABLE files("                                                              \
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key),"                 \
	" id TEXT NOT NULL,"                                                               \
	" name TEXT NOT NULL,"                                                             \
	" size INTEGER NOT NULL,"                                                          \
	" sha256 TEXT NOT NULL,"                                                           \
	" sender TEXT NOT NULL,"                                                           \
	" received_ms INTEGER NOT NULL,"                                                   \
	" content BLOB NOT NULL,"                                                          \
	" original BLOB NOT NULL,"                                                         \
	" PRIMARY KEY(utility_key, id));"                                                  \
	"CREATE INDEX files_received ON files(utility_key, received_ms);"

/* A message's epoch and seq (v6), parsed from its id "{gateway}:{epoch}:{seq}",
 * so that the gap detector can read a gateway's recent seqs by index;
 * NULL for messages stored before v6 and for ids of another form. */
#define SEQ_SQL                                                                            \
	"ALTER TABLE messages ADD COLUMN epoch INTEGER;"                                   \
	"ALTER TABLE messages ADD COLUMN seq INTEGER;"                                     \
	"CREATE INDEX messages_seq ON messages(gateway_key, epoch, seq) WHERE seq IS NOT NULL;"

/* Gateway state changes (v5), append-only. */
#define EVENTS_SQL                                                                         \
	"CREATE TABLE gateway_events("                                                     \
	" event_key INTEGER PRIMARY KEY,"                                                  \
	" gateway_key INTEGER NOT NULL REFERENCES gateways(gateway_key),"                  \
	" t INTEGER NOT NULL,"                                                             \
	" from_state TEXT NOT NULL,"                                                       \
	" to_state TEXT NOT NULL,"                                                         \
	" reason TEXT NOT NULL);"                                                          \
	"CREATE INDEX gateway_events_gw ON gateway_events(gateway_key, t);"

static const char schema_sql[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version(version) VALUES(7);"
	"CREATE TABLE utilities("
	" utility_key INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL);"
	"CREATE TABLE gateways("
	" gateway_key INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key));"
	"CREATE INDEX gateways_utility ON gateways(utility_key);"
	/* Message ids are kept forever: a resend after any delay is a duplicate.
	 * original (v2) is the signed message as verified, NULL for a plaintext
	 * gateway; last, so the duplicate check reads only the row's head. */
	"CREATE TABLE messages("
	" id TEXT NOT NULL PRIMARY KEY,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key),"
	" gateway_key INTEGER NOT NULL REFERENCES gateways(gateway_key),"
	" received_ms INTEGER NOT NULL,"
	" n_points INTEGER NOT NULL,"
	" original BLOB) WITHOUT ROWID;"
	"CREATE TABLE items("
	" item_key INTEGER PRIMARY KEY,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key),"
	" id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" unit TEXT NOT NULL,"
	" facility TEXT NOT NULL,"
	" UNIQUE(utility_key, id));"
	/* Points (v7) in blocks (store_blocks.h). No declared foreign key on
	 * item_key: keys only ever come from put_item, and the integrity check
	 * looks for orphans instead. */
	BLOCKS_SQL FILES_SQL EVENTS_SQL SEQ_SQL;

/* Migrations: migrate_fn[v] (when set), then migrate_sql[v], take a database
 * from version v to v + 1, all in one transaction with the version update. */
static const char *const migrate_sql[SCHEMA_VERSION] = {
	[1] = "ALTER TABLE messages ADD COLUMN original BLOB;"
	      "UPDATE schema_version SET version = 2;",
	[2] = "ALTER TABLE points ADD COLUMN s TEXT;"
	      "UPDATE schema_version SET version = 3;",
	[3] = FILES_SQL "UPDATE schema_version SET version = 4;",
	[4] = EVENTS_SQL "UPDATE schema_version SET version = 5;",
	[5] = SEQ_SQL "UPDATE schema_version SET version = 6;",
	/* v6 kept one row per point in points(item_key, t, v, s) */
	[6] = "DROP TABLE points;"
	      "UPDATE schema_version SET version = 7;",
};
static int (*const migrate_fn[SCHEMA_VERSION])(sqlite3 *, char *, size_t) = {
	[6] = blocks_migrate_points,
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT_UTILITY,
	ST_GATEWAY_OWNER,
	ST_INSERT_GATEWAY,
	ST_PUT_MESSAGE,
	ST_GET_ORIGINAL,
	ST_PUT_ITEM,
	ST_LIST_ITEMS,
	ST_GET_ITEM,
	ST_ITEM_KEY,
	ST_COUNT_POINTS,
	ST_PUT_FILE,
	ST_LIST_FILES,
	ST_GET_FILE,
	ST_PUT_EVENT,
	ST_LIST_EVENTS,
	ST_RECENT_SEQS,
	ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_PUT_UTILITY] = "INSERT INTO utilities(id, name) VALUES(?1, ?2)"
			   " ON CONFLICT(id) DO UPDATE SET name = excluded.name",
	[ST_GATEWAY_OWNER] = "SELECT u.id FROM gateways g"
			     " JOIN utilities u ON u.utility_key = g.utility_key WHERE g.id = ?1",
	[ST_INSERT_GATEWAY] = "INSERT INTO gateways(id, utility_key)"
			      " SELECT ?2, utility_key FROM utilities WHERE id = ?1",
	[ST_PUT_MESSAGE] = "INSERT INTO messages(id, utility_key, gateway_key, received_ms, n_points,"
			   " original, epoch, seq)"
			   " SELECT ?3, u.utility_key, g.gateway_key, ?4, ?5, ?6, ?7, ?8 FROM utilities u"
			   " JOIN gateways g ON g.utility_key = u.utility_key"
			   " WHERE u.id = ?1 AND g.id = ?2",
	[ST_GET_ORIGINAL] = "SELECT m.original FROM utilities u"
			    " JOIN messages m ON m.utility_key = u.utility_key"
			    " WHERE u.id = ?1 AND m.id = ?2",
	[ST_PUT_ITEM] = "INSERT INTO items(utility_key, id, name, unit, facility)"
			" SELECT utility_key, ?2, ?3, ?4, ?5 FROM utilities WHERE id = ?1"
			" ON CONFLICT(utility_key, id) DO UPDATE SET name = excluded.name,"
			" unit = excluded.unit, facility = excluded.facility"
			" RETURNING item_key",
	[ST_LIST_ITEMS] = "SELECT i.id, i.name, i.unit, i.facility FROM utilities u"
			  " JOIN items i ON i.utility_key = u.utility_key"
			  " WHERE u.id = ?1 ORDER BY i.id",
	[ST_GET_ITEM] = "SELECT i.id, i.name, i.unit, i.facility FROM utilities u"
			" JOIN items i ON i.utility_key = u.utility_key"
			" WHERE u.id = ?1 AND i.id = ?2",
	[ST_ITEM_KEY] = "SELECT i.item_key FROM utilities u"
			   " JOIN items i ON i.utility_key = u.utility_key"
			   " WHERE u.id = ?1 AND i.id = ?2",
	[ST_PUT_FILE] = "INSERT INTO files(utility_key, id, name, size, sha256, sender, received_ms,"
			" content, original)"
			" SELECT utility_key, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM utilities WHERE id = ?1",
	[ST_LIST_FILES] = "SELECT f.id, f.name, f.size, f.sha256, f.sender, f.received_ms"
			  " FROM utilities u JOIN files f ON f.utility_key = u.utility_key"
			  " WHERE u.id = ?1 ORDER BY f.received_ms DESC, f.id",
	[ST_GET_FILE] = "SELECT f.id, f.name, f.size, f.sha256, f.sender, f.received_ms,"
			" f.content, f.original"
			" FROM utilities u JOIN files f ON f.utility_key = u.utility_key"
			" WHERE u.id = ?1 AND f.id = ?2",
	[ST_RECENT_SEQS] = "SELECT m.seq FROM utilities u"
			   " JOIN gateways g ON g.utility_key = u.utility_key"
			   " JOIN messages m ON m.gateway_key = g.gateway_key"
			   " WHERE u.id = ?1 AND g.id = ?2 AND m.epoch = ?3 AND m.seq IS NOT NULL"
			   " ORDER BY m.seq DESC LIMIT ?4",
	[ST_PUT_EVENT] = "INSERT INTO gateway_events(gateway_key, t, from_state, to_state, reason)"
			 " SELECT g.gateway_key, ?3, ?4, ?5, ?6 FROM utilities u"
			 " JOIN gateways g ON g.utility_key = u.utility_key"
			 " WHERE u.id = ?1 AND g.id = ?2",
	[ST_LIST_EVENTS] = "SELECT e.t, e.from_state, e.to_state, e.reason FROM utilities u"
			   " JOIN gateways g ON g.utility_key = u.utility_key"
			   " JOIN gateway_events e ON e.gateway_key = g.gateway_key"
			   " WHERE u.id = ?1 AND g.id = ?2 ORDER BY e.t DESC, e.event_key DESC"
			   " LIMIT ?3",
	[ST_COUNT_POINTS] = "SELECT coalesce(sum(b.n), 0) FROM utilities u"
			    " JOIN items i ON i.utility_key = u.utility_key"
			    " JOIN blocks b ON b.item_key = i.item_key WHERE u.id = ?1",
};

struct store_sqlite {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	struct blocks *blocks; /* the points, buffered until the commit */
};


/* Maps a failed SQLite call to the library's codes, logging the engine's
 * message (the caller only sees the code). */
int store_sqlite_fail(sqlite3 *db, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		log_error("store", "%s: disk full: %s", what, sqlite3_errmsg(db));
		return SUIDO_ERR_FULL;
	case SQLITE_NOMEM:
		return SUIDO_ERR_NOMEM;
	default:
		log_error("store", "%s: %s", what, sqlite3_errmsg(db));
		return SUIDO_ERR_DB;
	}
}

static int fail(struct store_sqlite *q, int rc, const char *what)
{
	return store_sqlite_fail(q->db, rc, what);
}

/* Binds a NUL-terminated string that outlives the statement's next reset. */
static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* Steps a statement that returns no row, then resets it. */
static int run(struct store_sqlite *q, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = q->st[id];
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? SUIDO_OK : fail(q, rc, what);

	sqlite3_reset(st);
	return ret;
}

static void sqlite_close(void *impl)
{
	struct store_sqlite *q = impl;
	int rc;

	if (!q)
		return;
	if (q->db && !sqlite3_get_autocommit(q->db)) {
		rc = sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			log_warn("store", "rollback on close: %s", sqlite3_errmsg(q->db));
	}
	blocks_close(q->blocks);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	rc = sqlite3_close(q->db);
	if (rc != SQLITE_OK)
		log_error("store", "close: %s", sqlite3_errstr(rc));
	free(q);
}

/* Runs a pragma that answers one text row and copies the answer. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			snprintf(out, outlen, "%s", t ? (const char *)t : "");
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			snprintf(out, outlen, "%s", "");
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Reads the schema version: 0 when the database has no schema_version table,
 * -1 when the table is there but holds no sane value. *n_tables receives the
 * number of tables so a foreign database is not mistaken for an empty one. */
static int read_version(sqlite3 *db, int *version, int *n_tables)
{
	sqlite3_stmt *st = NULL;
	int rc, has_table = 0;

	*version = 0;
	*n_tables = 0;
	rc = sqlite3_prepare_v2(db,
				"SELECT count(*), sum(name = 'schema_version') FROM sqlite_master"
				" WHERE type = 'table'",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto cleanup;
	*n_tables = sqlite3_column_int(st, 0);
	has_table = sqlite3_column_int(st, 1) > 0;
	sqlite3_finalize(st);
	st = NULL;
	rc = SQLITE_OK;
	if (!has_table)
		goto cleanup;
	rc = sqlite3_prepare_v2(db, "SELECT max(version), count(*) FROM schema_version", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto cleanup;
	*version = sqlite3_column_int(st, 1) == 1 ? sqlite3_column_int(st, 0) : -1;
	if (*version <= 0)
		*version = -1;
	rc = SQLITE_OK;
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* Brings an older database to SCHEMA_VERSION in place, one transaction under
 * the write lock that re-reads the version inside it, so two processes
 * opening the same old file migrate it once. */
static int migrate(struct store_sqlite *q, char *err, size_t errlen)
{
	int version, n_tables, rc, ret = SUIDO_ERR_DB, in_tx = 0;

	rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto db_error;
	in_tx = 1;
	rc = read_version(q->db, &version, &n_tables);
	if (rc != SQLITE_OK)
		goto db_error;
	if (version <= 0 || version > SCHEMA_VERSION) {
		suido_errf(err, errlen, "schema_version changed during the migration (%d)", version);
		goto cleanup;
	}
	for (; version < SCHEMA_VERSION; version++) {
		log_info("store", "migrating the database from schema version %d to %d", version,
			 version + 1);
		if (migrate_fn[version] &&
		    (ret = migrate_fn[version](q->db, err, errlen)) != SUIDO_OK)
			goto cleanup;
		ret = SUIDO_ERR_DB;
		rc = sqlite3_exec(q->db, migrate_sql[version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto db_error;
	}
	rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto db_error;
	in_tx = 0;
	ret = SUIDO_OK;
	goto cleanup;
db_error:
	ret = (rc & 0xff) == SQLITE_FULL ? SUIDO_ERR_FULL : SUIDO_ERR_DB;
	suido_errf(err, errlen, "schema migration: %s", sqlite3_errmsg(q->db));
cleanup:
	if (in_tx)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Creates the schema on an empty database, or checks the version of an
 * existing one. Creation runs under a write lock and re-reads the version
 * inside it, so two processes opening a new file at once create it once. */
static int check_schema(struct store_sqlite *q, char *err, size_t errlen)
{
	int version, n_tables, rc, ret = SUIDO_ERR_DB, in_tx = 0;

	rc = read_version(q->db, &version, &n_tables);
	if (rc != SQLITE_OK)
		goto db_error;
	if (version == 0) {
		rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto db_error;
		in_tx = 1;
		rc = read_version(q->db, &version, &n_tables);
		if (rc != SQLITE_OK)
			goto db_error;
		if (version == 0 && n_tables > 0) {
			suido_errf(err, errlen, "not a suido database (tables but no schema_version)");
			goto cleanup;
		}
		if (version == 0) {
			rc = sqlite3_exec(q->db, schema_sql, NULL, NULL, NULL);
			if (rc != SQLITE_OK)
				goto db_error;
			version = SCHEMA_VERSION;
		}
		rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto db_error;
		in_tx = 0;
	}
	if (version < 0) {
		suido_errf(err, errlen, "schema_version table is damaged");
		goto cleanup;
	}
	if (version > SCHEMA_VERSION) {
		suido_errf(err, errlen,
			"database schema version %d is newer than this program's (%d)", version,
			SCHEMA_VERSION);
		goto cleanup;
	}
	if (version < SCHEMA_VERSION) {
		ret = migrate(q, err, errlen);
		goto cleanup;
	}
	ret = SUIDO_OK;
	goto cleanup;
db_error:
	ret = (rc & 0xff) == SQLITE_FULL ? SUIDO_ERR_FULL : SUIDO_ERR_DB;
	suido_errf(err, errlen, "schema: %s", sqlite3_errmsg(q->db));
cleanup:
	if (in_tx)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int store_sqlite_open(const char *path, void **impl, char *err, size_t errlen)
{
	struct store_sqlite *q = NULL;
	char mode[32];
	int rc, ret = SUIDO_ERR_DB;

	*impl = NULL;
	q = calloc(1, sizeof *q);
	if (!q) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	/* NOMUTEX: a handle is used by one thread at a time (store.h). */
	rc = sqlite3_open_v2(path, &q->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "%s: %s", path,
			q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		ret = rc == SQLITE_NOMEM ? SUIDO_ERR_NOMEM
		      : rc == SQLITE_CANTOPEN ? SUIDO_ERR_IO : SUIDO_ERR_DB;
		goto cleanup;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	rc = pragma_text(q->db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "%s: %s", path, sqlite3_errmsg(q->db));
		goto cleanup;
	}
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
		suido_errf(err, errlen, "%s: cannot use WAL journal (mode is %s)", path, mode);
		goto cleanup;
	}
	rc = sqlite3_exec(q->db,
			  "PRAGMA synchronous=FULL;"
			  "PRAGMA foreign_keys=ON;"
			  "PRAGMA cache_size=-" /* KiB */ "16384;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "%s: %s", path, sqlite3_errmsg(q->db));
		goto cleanup;
	}
	ret = check_schema(q, err, errlen);
	if (ret != SUIDO_OK)
		goto cleanup;
	for (int i = 0; i < ST__COUNT; i++) {
		rc = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&q->st[i], NULL);
		if (rc != SQLITE_OK) {
			suido_errf(err, errlen, "prepare: %s", sqlite3_errmsg(q->db));
			ret = SUIDO_ERR_DB;
			goto cleanup;
		}
	}
	if ((ret = blocks_open(q->db, &q->blocks, err, errlen)) != SUIDO_OK)
		goto cleanup;
	*impl = q;
	q = NULL;
	ret = SUIDO_OK;
cleanup:
	sqlite_close(q);
	return ret;
}

static int sqlite_begin(void *impl)
{
	struct store_sqlite *q = impl;

	blocks_discard(q->blocks);
	return run(impl, ST_BEGIN, "begin");
}

/* Writes the buffered points into the open transaction (before COMMIT and
 * before a read on this handle, which must see them). */
static int flush_points(struct store_sqlite *q)
{
	if (!blocks_pending(q->blocks))
		return SUIDO_OK;
	assert(!sqlite3_get_autocommit(q->db));
	return blocks_flush(q->blocks);
}

static int sqlite_commit(void *impl)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_COMMIT];
	int rc, ret = flush_points(q);

	/* the caller rolls back after a failed commit */
	if (ret != SUIDO_OK)
		return ret;
	rc = sqlite3_step(st);

	/* After a failed fsync the kernel may have dropped the dirty pages and
	 * a retry would report success over lost data: stop instead. */
	if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC)
		fatal("store", "commit: fsync failed: %s", sqlite3_errmsg(q->db));
	if (rc != SQLITE_DONE)
		ret = fail(q, rc, "commit");
	sqlite3_reset(st);
	return ret;
}

static int sqlite_rollback(void *impl)
{
	struct store_sqlite *q = impl;

	blocks_discard(q->blocks);
	/* SQLite may already have rolled back by itself (disk full, I/O error). */
	if (sqlite3_get_autocommit(q->db))
		return SUIDO_OK;
	return run(q, ST_ROLLBACK, "rollback");
}

static int sqlite_put_utility(void *impl, const char *utility, const char *name)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_UTILITY];

	bind_str(st, 1, utility);
	bind_str(st, 2, name);
	return run(q, ST_PUT_UTILITY, "put utility");
}

/* Copies the owner of gateway into buf; NOTFOUND when unregistered. */
static int gateway_owner(struct store_sqlite *q, const char *gateway, char *buf, size_t len)
{
	sqlite3_stmt *st = q->st[ST_GATEWAY_OWNER];
	int rc, ret;

	bind_str(st, 1, gateway);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *u = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (!u) {
			ret = SUIDO_ERR_NOMEM;
		} else if (n >= len) {
			ret = SUIDO_ERR_LIMIT;
		} else {
			memcpy(buf, u, n + 1);
			ret = SUIDO_OK;
		}
	} else if (rc == SQLITE_DONE) {
		ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = fail(q, rc, "gateway owner");
	}
	sqlite3_reset(st);
	return ret;
}

static int sqlite_put_gateway(void *impl, const char *utility, const char *gateway)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_GATEWAY_OWNER];
	int rc, ret;

	assert(!sqlite3_get_autocommit(q->db));
	bind_str(st, 1, gateway);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(st, 0);
		ret = !owner ? SUIDO_ERR_NOMEM
		      : strcmp(owner, utility) == 0 ? SUIDO_OK : SUIDO_ERR_EXISTS;
	} else if (rc == SQLITE_DONE) {
		ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = fail(q, rc, "gateway owner");
	}
	sqlite3_reset(st);
	if (ret != SUIDO_ERR_NOTFOUND)
		return ret;
	st = q->st[ST_INSERT_GATEWAY];
	bind_str(st, 1, utility);
	bind_str(st, 2, gateway);
	ret = run(q, ST_INSERT_GATEWAY, "put gateway");
	if (ret == SUIDO_OK && sqlite3_changes(q->db) == 0)
		ret = SUIDO_ERR_NOTFOUND; /* no such utility */
	return ret;
}

static int sqlite_gateway_utility(void *impl, const char *gateway, char *utility, size_t len)
{
	return gateway_owner(impl, gateway, utility, len);
}

static int sqlite_put_message(void *impl, const char *utility, const char *gateway,
			      const char *msg_id, int64_t received_ms, size_t n_points,
			      const void *original, size_t original_len)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_MESSAGE];
	int rc, ret = SUIDO_OK;

	assert(!sqlite3_get_autocommit(q->db));
	bind_str(st, 1, utility);
	bind_str(st, 2, gateway);
	bind_str(st, 3, msg_id);
	sqlite3_bind_int64(st, 4, received_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)n_points);
	if (original)
		sqlite3_bind_blob64(st, 6, original, original_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	{
		char gw[PROFILE_NAME_MAX + 1];
		int64_t epoch;
		uint64_t seq;
		if (profile_msg_id_parse(msg_id, gw, sizeof gw, &epoch, &seq) == SUIDO_OK &&
		    seq <= INT64_MAX) {
			sqlite3_bind_int64(st, 7, epoch);
			sqlite3_bind_int64(st, 8, (sqlite3_int64)seq);
		} else {
			sqlite3_bind_null(st, 7);
			sqlite3_bind_null(st, 8);
		}
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		if (sqlite3_changes(q->db) == 0)
			ret = SUIDO_ERR_NOTFOUND; /* gateway not registered to utility */
	} else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		ret = SUIDO_ERR_EXISTS;
	} else {
		ret = fail(q, rc, "put message");
	}
	sqlite3_reset(st);
	/* original is the caller's and only borrowed for this call */
	sqlite3_bind_null(st, 6);
	return ret;
}

static int sqlite_get_original(void *impl, const char *utility, const char *msg_id,
			       store_original_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_GET_ORIGINAL];
	int rc, ret;

	bind_str(st, 1, utility);
	bind_str(st, 2, msg_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
			ret = SUIDO_ERR_NOTFOUND; /* a plaintext gateway's message */
		} else {
			const void *data = sqlite3_column_blob(st, 0);
			size_t n = (size_t)sqlite3_column_bytes(st, 0);
			if (!data && n > 0) {
				ret = SUIDO_ERR_NOMEM;
			} else {
				fn(ctx, data ? data : "", n);
				ret = SUIDO_OK;
			}
		}
	} else if (rc == SQLITE_DONE) {
		ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = fail(q, rc, "get original");
	}
	sqlite3_reset(st);
	return ret;
}

static int sqlite_put_item(void *impl, const char *utility, const struct store_item *item,
			   int64_t *item_key)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_ITEM];
	int rc, ret = SUIDO_ERR_NOTFOUND;

	assert(!sqlite3_get_autocommit(q->db));
	bind_str(st, 1, utility);
	bind_str(st, 2, item->id);
	bind_str(st, 3, item->name);
	bind_str(st, 4, item->unit);
	bind_str(st, 5, item->facility);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*item_key = sqlite3_column_int64(st, 0);
		ret = SUIDO_OK;
	}
	if (rc != SQLITE_DONE)
		ret = fail(q, rc, "put item");
	sqlite3_reset(st);
	return ret;
}

/* The ingest hot path: a point goes into the write buffer; the commit
 * writes the buffer as blocks. Outside a transaction it is written at once. */
static int put_point(struct store_sqlite *q, int64_t item_key, int64_t t_ms, double v,
		     const char *text)
{
	int ret;

	if (!sqlite3_get_autocommit(q->db))
		return blocks_add(q->blocks, item_key, t_ms, v, text);
	if ((ret = sqlite_begin(q)) != SUIDO_OK)
		return ret;
	ret = blocks_add(q->blocks, item_key, t_ms, v, text);
	if (ret == SUIDO_OK)
		ret = sqlite_commit(q);
	if (ret != SUIDO_OK)
		sqlite_rollback(q);
	return ret;
}

static int sqlite_put_point(void *impl, int64_t item_key, int64_t t_ms, double v)
{
	return put_point(impl, item_key, t_ms, v, NULL);
}

static int sqlite_put_text(void *impl, int64_t item_key, int64_t t_ms, const char *text)
{
	return put_point(impl, item_key, t_ms, 0, text ? text : "");
}

static int sqlite_put_file(void *impl, const char *utility, const struct store_file *f,
			   const void *content, size_t len, const void *original, size_t olen)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_FILE];
	int rc, ret = SUIDO_OK;

	assert(!sqlite3_get_autocommit(q->db));
	bind_str(st, 1, utility);
	bind_str(st, 2, f->id);
	bind_str(st, 3, f->name);
	sqlite3_bind_int64(st, 4, f->size);
	bind_str(st, 5, f->sha256);
	bind_str(st, 6, f->sender);
	sqlite3_bind_int64(st, 7, f->received_ms);
	sqlite3_bind_blob64(st, 8, content ? content : "", len, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 9, original ? original : "", olen, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		if (sqlite3_changes(q->db) == 0)
			ret = SUIDO_ERR_NOTFOUND; /* no such utility */
	} else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		ret = SUIDO_ERR_EXISTS;
	} else {
		ret = fail(q, rc, "put file");
	}
	sqlite3_reset(st);
	/* the blobs are the caller's, borrowed for this call only */
	sqlite3_bind_null(st, 8);
	sqlite3_bind_null(st, 9);
	return ret;
}

static int sqlite_recent_seqs(void *impl, const char *utility, const char *gateway,
			      int64_t epoch, size_t limit, store_seq_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_RECENT_SEQS];
	int rc, ret = SUIDO_OK;

	bind_str(st, 1, utility);
	bind_str(st, 2, gateway);
	sqlite3_bind_int64(st, 3, epoch);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(ctx, (uint64_t)sqlite3_column_int64(st, 0))) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		ret = fail(q, rc, "recent seqs");
	sqlite3_reset(st);
	return ret;
}

static int sqlite_put_gateway_event(void *impl, const char *utility,
				    const struct store_gateway_event *e)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_EVENT];
	int rc, ret = SUIDO_OK;

	bind_str(st, 1, utility);
	bind_str(st, 2, e->gateway);
	sqlite3_bind_int64(st, 3, e->t_ms);
	bind_str(st, 4, e->from);
	bind_str(st, 5, e->to);
	bind_str(st, 6, e->reason);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		if (sqlite3_changes(q->db) == 0)
			ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = fail(q, rc, "put gateway event");
	}
	sqlite3_reset(st);
	return ret;
}

static int sqlite_list_gateway_events(void *impl, const char *utility, const char *gateway,
				      size_t limit, store_event_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_LIST_EVENTS];
	int rc, ret = SUIDO_OK;

	bind_str(st, 1, utility);
	bind_str(st, 2, gateway);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_gateway_event e = {gateway, sqlite3_column_int64(st, 0),
						(const char *)sqlite3_column_text(st, 1),
						(const char *)sqlite3_column_text(st, 2),
						(const char *)sqlite3_column_text(st, 3)};
		if (fn(ctx, &e)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		ret = fail(q, rc, "list gateway events");
	sqlite3_reset(st);
	return ret;
}

static void column_file(sqlite3_stmt *st, struct store_file *f)
{
	f->id = (const char *)sqlite3_column_text(st, 0);
	f->name = (const char *)sqlite3_column_text(st, 1);
	f->size = sqlite3_column_int64(st, 2);
	f->sha256 = (const char *)sqlite3_column_text(st, 3);
	f->sender = (const char *)sqlite3_column_text(st, 4);
	f->received_ms = sqlite3_column_int64(st, 5);
}

static int sqlite_list_files(void *impl, const char *utility, store_file_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_LIST_FILES];
	int rc, ret = SUIDO_OK;

	bind_str(st, 1, utility);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_file f;
		column_file(st, &f);
		if (fn(ctx, &f)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		ret = fail(q, rc, "list files");
	sqlite3_reset(st);
	return ret;
}

static int sqlite_get_file(void *impl, const char *utility, const char *id, store_file_fn meta,
			   store_original_fn content, store_original_fn original, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_GET_FILE];
	int rc, ret = SUIDO_OK;

	bind_str(st, 1, utility);
	bind_str(st, 2, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_file f;
		column_file(st, &f);
		if (meta)
			meta(ctx, &f);
		/* an empty blob reads as NULL: hand out "" instead */
		const void *c = sqlite3_column_blob(st, 6), *o;
		size_t clen = (size_t)sqlite3_column_bytes(st, 6);
		if (content)
			content(ctx, c ? c : "", clen);
		o = sqlite3_column_blob(st, 7);
		if (original)
			original(ctx, o ? o : "", (size_t)sqlite3_column_bytes(st, 7));
	} else if (rc == SQLITE_DONE) {
		ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = fail(q, rc, "get file");
	}
	sqlite3_reset(st);
	return ret;
}

static int emit_items(struct store_sqlite *q, sqlite3_stmt *st, store_item_fn fn, void *ctx,
		      int *n)
{
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_item it = {
			.id = (const char *)sqlite3_column_text(st, 0),
			.name = (const char *)sqlite3_column_text(st, 1),
			.unit = (const char *)sqlite3_column_text(st, 2),
			.facility = (const char *)sqlite3_column_text(st, 3),
		};
		if (!it.id || !it.name || !it.unit || !it.facility) {
			sqlite3_reset(st);
			return SUIDO_ERR_NOMEM;
		}
		++*n;
		if (fn(ctx, &it)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		int ret = fail(q, rc, "read items");
		sqlite3_reset(st);
		return ret;
	}
	sqlite3_reset(st);
	return SUIDO_OK;
}

static int sqlite_list_items(void *impl, const char *utility, store_item_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_LIST_ITEMS];
	int n;

	bind_str(st, 1, utility);
	return emit_items(q, st, fn, ctx, &n);
}

static int sqlite_get_item(void *impl, const char *utility, const char *item,
			   store_item_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_GET_ITEM];
	int n, ret;

	bind_str(st, 1, utility);
	bind_str(st, 2, item);
	ret = emit_items(q, st, fn, ctx, &n);
	if (ret == SUIDO_OK && n == 0)
		ret = SUIDO_ERR_NOTFOUND;
	return ret;
}

/* The key of utility's item: SUIDO_OK, SUIDO_ERR_NOTFOUND, _DB. */
static int item_key_of(struct store_sqlite *q, const char *utility, const char *item,
		       int64_t *key)
{
	sqlite3_stmt *st = q->st[ST_ITEM_KEY];
	int rc, ret;

	bind_str(st, 1, utility);
	bind_str(st, 2, item);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*key = sqlite3_column_int64(st, 0);
	ret = rc == SQLITE_ROW ? SUIDO_OK : rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND
							    : fail(q, rc, "find item");
	sqlite3_reset(st);
	return ret;
}

static int sqlite_values(void *impl, const char *utility, const char *item, int64_t from_ms,
			 int64_t to_ms, size_t limit, store_point_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	int64_t key;
	size_t n;
	int ret = flush_points(q);

	if (ret == SUIDO_OK)
		ret = item_key_of(q, utility, item, &key);
	if (ret == SUIDO_OK)
		ret = blocks_values(q->blocks, key, from_ms, to_ms, limit, fn, ctx, &n);
	return ret;
}

static int sqlite_latest(void *impl, const char *utility, const char *item,
			 store_point_fn fn, void *ctx)
{
	struct store_sqlite *q = impl;
	int64_t key;
	int ret = flush_points(q);

	if (ret == SUIDO_OK)
		ret = item_key_of(q, utility, item, &key);
	if (ret == SUIDO_OK)
		ret = blocks_latest(q->blocks, key, fn, ctx);
	return ret;
}

/* PRAGMA integrity_check: any row but a single "ok" is a finding. */
static int check_integrity(struct store_sqlite *q, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = SUIDO_OK;

	rc = sqlite3_prepare_v2(q->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "integrity check: %s", sqlite3_errmsg(q->db));
		ret = SUIDO_ERR_DB;
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok") == 0)
			continue;
		suido_errf(err, errlen, "integrity check: %s", t ? t : "?");
		ret = SUIDO_ERR_DB;
		goto cleanup;
	}
	if (rc != SQLITE_DONE) {
		suido_errf(err, errlen, "integrity check: %s", sqlite3_errmsg(q->db));
		ret = SUIDO_ERR_DB;
	}
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* PRAGMA foreign_key_check: every row (table, rowid, parent, fkid) is a
 * dangling reference. */
static int check_foreign_keys(struct store_sqlite *q, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = SUIDO_OK;

	rc = sqlite3_prepare_v2(q->db, "PRAGMA foreign_key_check", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(st, 0);
		const char *parent = (const char *)sqlite3_column_text(st, 2);
		suido_errf(err, errlen, "foreign key check: a row of %s references a missing %s row",
			table ? table : "?", parent ? parent : "?");
		ret = SUIDO_ERR_DB;
		goto cleanup;
	}
	if (rc != SQLITE_DONE) {
		suido_errf(err, errlen, "foreign key check: %s", sqlite3_errmsg(q->db));
		ret = SUIDO_ERR_DB;
	}
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* Point blocks whose item is gone (blocks has no declared foreign key). */
static int check_orphan_points(struct store_sqlite *q, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = SUIDO_OK;

	rc = sqlite3_prepare_v2(q->db,
				"SELECT p.item_key FROM blocks p"
				" LEFT JOIN items i ON i.item_key = p.item_key"
				" WHERE i.item_key IS NULL LIMIT 1",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		suido_errf(err, errlen, "orphan check: points reference missing item %lld",
			(long long)sqlite3_column_int64(st, 0));
		ret = SUIDO_ERR_DB;
	} else if (rc != SQLITE_DONE) {
		suido_errf(err, errlen, "orphan check: %s", sqlite3_errmsg(q->db));
		ret = SUIDO_ERR_DB;
	}
	sqlite3_finalize(st);
	return ret;
}

static int sqlite_integrity_check(void *impl, char *err, size_t errlen)
{
	struct store_sqlite *q = impl;
	int ret = check_integrity(q, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_foreign_keys(q, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_orphan_points(q, err, errlen);
	if (ret == SUIDO_OK)
		ret = blocks_check(q->db, err, errlen);
	return ret;
}

static int sqlite_count_points(void *impl, const char *utility, int64_t *out)
{
	struct store_sqlite *q = impl;
	sqlite3_stmt *st = q->st[ST_COUNT_POINTS];
	int rc, ret = flush_points(q);

	if (ret != SUIDO_OK)
		return ret;
	bind_str(st, 1, utility);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		ret = fail(q, rc, "count points");
	sqlite3_reset(st);
	return ret;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.put_utility = sqlite_put_utility,
	.put_gateway = sqlite_put_gateway,
	.gateway_utility = sqlite_gateway_utility,
	.put_message = sqlite_put_message,
	.get_original = sqlite_get_original,
	.put_item = sqlite_put_item,
	.put_point = sqlite_put_point,
	.put_text = sqlite_put_text,
	.put_file = sqlite_put_file,
	.list_files = sqlite_list_files,
	.get_file = sqlite_get_file,
	.put_gateway_event = sqlite_put_gateway_event,
	.list_gateway_events = sqlite_list_gateway_events,
	.recent_seqs = sqlite_recent_seqs,
	.list_items = sqlite_list_items,
	.get_item = sqlite_get_item,
	.values = sqlite_values,
	.latest = sqlite_latest,
	.integrity_check = sqlite_integrity_check,
	.count_points = sqlite_count_points,
};
