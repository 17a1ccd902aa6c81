/*
 * The gateway's durable queue on SQLite (queue.h). Every state change is one
 * transaction, so a kill -9 at any instant leaves either the state before or
 * the state after: a file is taken with all its points or not at all, and a
 * message exists exactly when its points have left the pending table.
 * Pending points are kept in chunks of up to QCHUNK_MAX_POINTS (qchunk.h),
 * in the order they were taken.
 */
#include "queue.h"

#include <assert.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "qchunk.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/strbuf.h"

/* 2: points.s, the text of a text point; 3: archives, the index of evacuated
 * messages (archive.h); 4: pending points in chunks (qchunk.h) instead of
 * one row each in points */
#define QUEUE_SCHEMA_VERSION 4

enum {
	ST_ITEM_UPSERT,
	ST_CHUNK_INSERT,
	ST_CHUNK_UPDATE,
	ST_FILE_INSERT,
	ST_FILE_LOOKUP,
	ST_PENDING_SELECT,
	ST_ITEM_SELECT,
	ST_MSG_INSERT,
	ST_PENDING_DELETE,
	ST_SEQ_UPDATE,
	ST_NEXT_UNACKED,
	ST_MSG_GET,
	ST_ACK_SELECT,
	ST_ACK_UPDATE,
	ST_NEXT_MSG,
	ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_ITEM_UPSERT] = ("INSERT INTO items(id,name,unit,facility) VALUES(?1,?2,?3,?4) "
			   "ON CONFLICT(id) DO UPDATE SET name=excluded.name, unit=excluded.unit, "
			   "facility=excluded.facility"),
	[ST_CHUNK_INSERT] = "INSERT INTO pending(n,data) VALUES(?1,?2)",
	[ST_CHUNK_UPDATE] = "UPDATE pending SET n=?2, data=?3 WHERE seq=?1",
	[ST_FILE_INSERT] = "INSERT INTO files(sha256,name,received,receipt) VALUES(?1,?2,?3,?4)",
	[ST_FILE_LOOKUP] = "SELECT name,received,receipt FROM files WHERE sha256=?1",
	[ST_PENDING_SELECT] = "SELECT seq,n,data FROM pending ORDER BY seq",
	[ST_ITEM_SELECT] = "SELECT name,unit,facility FROM items WHERE id=?1",
	[ST_MSG_INSERT] = "INSERT INTO messages(seq,created,n_points,payload) VALUES(?1,?2,?3,?4)",
	[ST_PENDING_DELETE] = "DELETE FROM pending WHERE seq<=?1",
	[ST_SEQ_UPDATE] = "UPDATE meta SET value=?1 WHERE key='next_seq'",
	[ST_NEXT_UNACKED] = ("SELECT seq,n_points,payload FROM messages WHERE acked IS NULL AND "
			    "seq>?1 ORDER BY seq LIMIT 1"),
	[ST_MSG_GET] = "SELECT seq,n_points,payload FROM messages WHERE seq=?1",
	[ST_ACK_SELECT] = "SELECT acked FROM messages WHERE seq=?1",
	[ST_ACK_UPDATE] = "UPDATE messages SET acked=?2 WHERE seq=?1",
	[ST_NEXT_MSG] = "SELECT seq,n_points,payload FROM messages WHERE seq>?1 ORDER BY seq LIMIT 1",
};

struct queue {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	char *utility;
	char *gateway;
	int64_t epoch;
	uint64_t next_seq;
	int in_tx;
	/* items upserted in the open intake transaction, by mapping_item address */
	const struct mapping_item **seen;
	size_t seen_cap, seen_n;
	struct qchunk_writer intake; /* the open intake's chunk being filled */
	struct qchunk_writer rest;   /* what a message leaves of a chunk */
};

static int db_rc(int rc)
{
	return (rc == SQLITE_FULL || rc == SQLITE_IOERR_WRITE) ? SUIDO_ERR_FULL : SUIDO_ERR_DB;
}

static int exec(struct queue *q, const char *sql)
{
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? SUIDO_OK : db_rc(rc);
}

static int meta_get(sqlite3 *db, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;
	int rc = SUIDO_ERR_NOTFOUND;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?1", -1, &s, NULL) != SQLITE_OK)
		return SUIDO_ERR_DB;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = SUIDO_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

#define PENDING_DDL                                                                           \
	"CREATE TABLE pending(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL);"

/* Inserts chunk w as the newest pending row with a statement of the
 * migration, and empties w. */
static int migrate_put(sqlite3 *db, sqlite3_stmt *ins, struct qchunk_writer *w, char *err,
		       size_t errlen)
{
	int rc = SUIDO_OK;

	sqlite3_bind_int64(ins, 1, (sqlite3_int64)w->n);
	sqlite3_bind_blob(ins, 2, w->buf.data, (int)w->buf.len, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = SUIDO_ERR_DB;
	}
	sqlite3_reset(ins);
	qchunk_writer_reset(w);
	return rc;
}

/* Version 3 -> 4 inside the caller's transaction: the one-row-per-point
 * table becomes chunks, in the same order. */
static int migrate_points(sqlite3 *db, char *err, size_t errlen)
{
	struct qchunk_writer w = {0};
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int rc = SUIDO_OK, st = SQLITE_DONE;
	long long moved = 0;

	if (sqlite3_exec(db, PENDING_DDL, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT item,t,v,s FROM points ORDER BY seq", -1, &sel, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO pending(n,data) VALUES(?1,?2)", -1, &ins, NULL) !=
		    SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = SUIDO_ERR_DB;
	}
	while (rc == SUIDO_OK && (st = sqlite3_step(sel)) == SQLITE_ROW) {
		const char *item = (const char *)sqlite3_column_text(sel, 0);
		const char *text = (const char *)sqlite3_column_text(sel, 3);
		struct qchunk_point pt = {item, item ? strlen(item) : 0, sqlite3_column_int64(sel, 1),
					  sqlite3_column_double(sel, 2), text,
					  text ? (size_t)sqlite3_column_bytes(sel, 3) : 0};
		rc = qchunk_writer_add(&w, &pt);
		if (rc == SUIDO_ERR_LIMIT && w.n > 0) {
			/* the chunk's distinct items are used up: start the next */
			if ((rc = migrate_put(db, ins, &w, err, errlen)) == SUIDO_OK)
				rc = qchunk_writer_add(&w, &pt);
		}
		if (rc != SUIDO_OK && !err[0])
			snprintf(err, errlen, "point %lld: %s", moved + 1, suido_strerror(rc));
		moved++;
		if (rc == SUIDO_OK && w.n >= QCHUNK_MAX_POINTS)
			rc = migrate_put(db, ins, &w, err, errlen);
	}
	if (rc == SUIDO_OK && st != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = SUIDO_ERR_DB;
	}
	if (rc == SUIDO_OK && w.n > 0)
		rc = migrate_put(db, ins, &w, err, errlen);
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	qchunk_writer_free(&w);
	if (rc == SUIDO_OK && sqlite3_exec(db, "DROP TABLE points", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = SUIDO_ERR_DB;
	}
	if (rc == SUIDO_OK)
		log_info("queue", "moved %lld pending points into chunks", moved);
	return rc;
}

/* The index of archive files (archive.h): which file holds which seq range.
 * Ranges never overlap (queue_evacuable). */
#define ARCHIVES_DDL                                                                          \
	"CREATE TABLE archives(file TEXT PRIMARY KEY, first_seq INTEGER NOT NULL,"            \
	" last_seq INTEGER NOT NULL, n_msgs INTEGER NOT NULL, bytes INTEGER NOT NULL,"        \
	" sha256 TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"                     \
	"CREATE INDEX archives_last ON archives(last_seq);"

static int create_schema(struct queue *q, char *err, size_t errlen)
{
	int64_t epoch = (int64_t)time(NULL);

	/* %Q is SQLite's own quoting for the two names. */
	char *s = sqlite3_mprintf(
		"BEGIN IMMEDIATE;"
		"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
		"CREATE TABLE items(id TEXT PRIMARY KEY, name TEXT NOT NULL, unit TEXT NOT NULL,"
		" facility TEXT NOT NULL) WITHOUT ROWID;"
		PENDING_DDL
		"CREATE TABLE files(sha256 TEXT PRIMARY KEY, name TEXT NOT NULL,"
		" received INTEGER NOT NULL, receipt TEXT NOT NULL) WITHOUT ROWID;"
		"CREATE TABLE messages(seq INTEGER PRIMARY KEY, created INTEGER NOT NULL,"
		" n_points INTEGER NOT NULL, payload BLOB NOT NULL, acked INTEGER);"
		"CREATE INDEX messages_unacked ON messages(seq) WHERE acked IS NULL;"
		ARCHIVES_DDL
		"INSERT INTO meta VALUES('schema_version','%d'),('epoch','%lld'),"
		"('next_seq','1'),('gateway',%Q),('utility',%Q);"
		"COMMIT;",
		QUEUE_SCHEMA_VERSION, (long long)epoch, q->gateway, q->utility);
	if (!s)
		return SUIDO_ERR_NOMEM;
	int rc = sqlite3_exec(q->db, s, NULL, NULL, NULL);
	sqlite3_free(s);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "queue: create schema: %s", sqlite3_errmsg(q->db));
		exec(q, "ROLLBACK");
		return db_rc(rc);
	}
	return SUIDO_OK;
}

int queue_open(const char *path, const char *utility, const char *gateway, struct queue **out,
	       char *err, size_t errlen)
{
	struct queue *q = calloc(1, sizeof *q);
	char buf[128];
	int rc = SUIDO_ERR_DB;

	*out = NULL;
	if (!q)
		return SUIDO_ERR_NOMEM;
	q->utility = strdup(utility);
	q->gateway = strdup(gateway);
	if (!q->utility || !q->gateway) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						  SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "queue %s: %s", path,
			 q->db ? sqlite3_errmsg(q->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(q->db, 5000);
	/* 16 KiB pages for a new queue (an existing one keeps its size): a
	 * message of 1,000 points is about 34 KB, 3 pages instead of 9, and a
	 * chunk of pending points fits one (fewer writes per commit) */
	if (exec(q, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") !=
	    SUIDO_OK) {
		snprintf(err, errlen, "queue %s: %s", path, sqlite3_errmsg(q->db));
		goto fail;
	}
	if (meta_get(q->db, "schema_version", buf, sizeof buf) != SUIDO_OK) {
		if ((rc = create_schema(q, err, errlen)) != SUIDO_OK)
			goto fail;
		meta_get(q->db, "schema_version", buf, sizeof buf);
	}
	if (atoi(buf) == 1) { /* version 1 had no text points */
		if (exec(q, "BEGIN IMMEDIATE; ALTER TABLE points ADD COLUMN s TEXT;"
			    "UPDATE meta SET value='2' WHERE key='schema_version'; COMMIT;") !=
		    SUIDO_OK) {
			snprintf(err, errlen, "queue %s: migration to version 2: %s", path,
				 sqlite3_errmsg(q->db));
			exec(q, "ROLLBACK");
			goto fail;
		}
		snprintf(buf, sizeof buf, "%d", 2);
	}
	if (atoi(buf) == 2) { /* version 2 had no archive index */
		if (exec(q, "BEGIN IMMEDIATE;" ARCHIVES_DDL
			    "UPDATE meta SET value='3' WHERE key='schema_version'; COMMIT;") !=
		    SUIDO_OK) {
			snprintf(err, errlen, "queue %s: migration to version 3: %s", path,
				 sqlite3_errmsg(q->db));
			exec(q, "ROLLBACK");
			goto fail;
		}
		snprintf(buf, sizeof buf, "%d", 3);
	}
	if (atoi(buf) == 3) { /* version 3 kept a row per pending point */
		char why[256] = "";
		int mrc = exec(q, "BEGIN IMMEDIATE");
		if (mrc == SUIDO_OK)
			mrc = migrate_points(q->db, why, sizeof why);
		if (mrc == SUIDO_OK)
			mrc = exec(q, "UPDATE meta SET value='4' WHERE key='schema_version'; COMMIT;");
		if (mrc != SUIDO_OK) {
			snprintf(err, errlen, "queue %s: migration to version 4: %s", path,
				 why[0] ? why : sqlite3_errmsg(q->db));
			exec(q, "ROLLBACK");
			rc = mrc;
			goto fail;
		}
		snprintf(buf, sizeof buf, "%d", QUEUE_SCHEMA_VERSION);
	}
	if (atoi(buf) != QUEUE_SCHEMA_VERSION) {
		snprintf(err, errlen, "queue %s: schema version %s, this program knows %d", path,
			 buf, QUEUE_SCHEMA_VERSION);
		rc = SUIDO_ERR_CONFIG;
		goto fail;
	}
	if (meta_get(q->db, "gateway", buf, sizeof buf) != SUIDO_OK || strcmp(buf, gateway) != 0) {
		snprintf(err, errlen, "queue %s belongs to gateway \"%s\", not \"%s\"", path, buf,
			 gateway);
		rc = SUIDO_ERR_CONFIG;
		goto fail;
	}
	meta_get(q->db, "epoch", buf, sizeof buf);
	q->epoch = strtoll(buf, NULL, 10);
	meta_get(q->db, "next_seq", buf, sizeof buf);
	q->next_seq = strtoull(buf, NULL, 10);
	for (int i = 0; i < ST__COUNT; i++) {
		if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "queue: prepare: %s", sqlite3_errmsg(q->db));
			goto fail;
		}
	}
	*out = q;
	return SUIDO_OK;
fail:
	queue_close(q);
	return rc;
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	if (q->in_tx)
		exec(q, "ROLLBACK");
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q->utility);
	free(q->gateway);
	free(q->seen);
	qchunk_writer_free(&q->intake);
	qchunk_writer_free(&q->rest);
	free(q);
}

int64_t queue_epoch(const struct queue *q)
{
	return q->epoch;
}

static char *dup_col(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return strdup(t ? (const char *)t : "");
}

int queue_file_lookup(struct queue *q, const char *sha256_hex, struct queue_file *out)
{
	sqlite3_stmt *s = q->st[ST_FILE_LOOKUP];
	int rc;

	memset(out, 0, sizeof *out);
	sqlite3_bind_text(s, 1, sha256_hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(out->sha256, sizeof out->sha256, "%s", sha256_hex);
		snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(s, 0));
		out->received_ms = sqlite3_column_int64(s, 1);
		out->receipt = dup_col(s, 2);
		rc = out->receipt ? SUIDO_OK : SUIDO_ERR_NOMEM;
	} else {
		rc = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_DB;
	}
	sqlite3_reset(s);
	return rc;
}

int queue_intake_begin(struct queue *q)
{
	int rc = exec(q, "BEGIN IMMEDIATE");
	if (rc == SUIDO_OK)
		q->in_tx = 1;
	qchunk_writer_reset(&q->intake);
	q->seen_n = 0;
	if (q->seen)
		memset(q->seen, 0, q->seen_cap * sizeof *q->seen);
	return rc;
}

/* Open-addressing set of mapping_item addresses: the item row is upserted
 * once per file, not once per point. Returns 1 if newly added, 0 if present,
 * -1 on allocation failure. */
static int seen_add(struct queue *q, const struct mapping_item *it)
{
	size_t h, mask;

	if (q->seen_n * 2 >= q->seen_cap) {
		size_t ncap = q->seen_cap ? q->seen_cap * 2 : 64;
		const struct mapping_item **ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return -1;
		for (size_t i = 0; i < q->seen_cap; i++) {
			if (!q->seen[i])
				continue;
			h = ((uintptr_t)q->seen[i] >> 4) & (ncap - 1);
			while (ns[h])
				h = (h + 1) & (ncap - 1);
			ns[h] = q->seen[i];
		}
		free(q->seen);
		q->seen = ns;
		q->seen_cap = ncap;
	}
	mask = q->seen_cap - 1;
	h = ((uintptr_t)it >> 4) & mask;
	while (q->seen[h]) {
		if (q->seen[h] == it)
			return 0;
		h = (h + 1) & mask;
	}
	q->seen[h] = it;
	q->seen_n++;
	return 1;
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SUIDO_OK : db_rc(rc);
}

/* Writes chunk w (when it holds points) as the newest pending row, or
 * replaces row seq with it when seq is not 0, and empties it. */
static int put_chunk(struct queue *q, struct qchunk_writer *w, int64_t seq)
{
	sqlite3_stmt *s = q->st[seq ? ST_CHUNK_UPDATE : ST_CHUNK_INSERT];
	int rc;

	if (w->n == 0)
		return SUIDO_OK;
	if (seq) {
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)w->n);
		sqlite3_bind_blob(s, 3, w->buf.data, (int)w->buf.len, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)w->n);
		sqlite3_bind_blob(s, 2, w->buf.data, (int)w->buf.len, SQLITE_STATIC);
	}
	rc = step_done(s);
	qchunk_writer_reset(w);
	return rc;
}

static int intake(struct queue *q, const struct mapping_item *item, int64_t t_ms, double v,
		  const char *text, size_t len)
{
	sqlite3_stmt *s;
	int added = seen_add(q, item), rc;
	struct qchunk_point pt = {item->id, strlen(item->id), t_ms, v, text, len};

	if (added < 0)
		return SUIDO_ERR_NOMEM;
	if (added) {
		s = q->st[ST_ITEM_UPSERT];
		sqlite3_bind_text(s, 1, item->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, item->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, item->unit, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, item->facility, -1, SQLITE_STATIC);
		if ((rc = step_done(s)) != SUIDO_OK)
			return rc;
	}
	rc = qchunk_writer_add(&q->intake, &pt);
	if (rc == SUIDO_ERR_LIMIT && q->intake.n > 0) {
		/* the chunk's distinct items are used up: the point starts the next */
		if ((rc = put_chunk(q, &q->intake, 0)) == SUIDO_OK)
			rc = qchunk_writer_add(&q->intake, &pt);
	}
	if (rc != SUIDO_OK)
		return rc;
	return q->intake.n >= QCHUNK_MAX_POINTS ? put_chunk(q, &q->intake, 0) : SUIDO_OK;
}

int queue_intake_point(struct queue *q, const struct mapping_item *item, int64_t t_ms, double v)
{
	if (!isfinite(v))
		return SUIDO_ERR_INVALID; /* the data profile has no NaN or infinity */
	return intake(q, item, t_ms, v, NULL, 0);
}

int queue_intake_text(struct queue *q, const struct mapping_item *item, int64_t t_ms,
		      const char *text, size_t len)
{
	return intake(q, item, t_ms, 0, text, len);
}

int queue_intake_commit(struct queue *q, const char *sha256_hex, const char *name,
			int64_t received_ms, const char *receipt)
{
	sqlite3_stmt *s = q->st[ST_FILE_INSERT];
	int rc = put_chunk(q, &q->intake, 0);

	if (rc != SUIDO_OK) {
		queue_intake_abort(q);
		return rc;
	}
	sqlite3_bind_text(s, 1, sha256_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, received_ms);
	sqlite3_bind_text(s, 4, receipt, -1, SQLITE_STATIC);
	rc = step_done(s);
	if (rc == SUIDO_OK)
		rc = exec(q, "COMMIT");
	if (rc != SUIDO_OK) {
		queue_intake_abort(q);
		return rc;
	}
	q->in_tx = 0;
	return SUIDO_OK;
}

void queue_intake_abort(struct queue *q)
{
	if (q->in_tx)
		exec(q, "ROLLBACK");
	q->in_tx = 0;
	qchunk_writer_reset(&q->intake);
}

/* Small string -> index map for the items of one message. */
struct idmap {
	char **keys;
	uint32_t *vals;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Returns the index of key, adding it with the next index when new
 * (*added = 1). -1 on allocation failure. The map owns copies of keys. */
static long idmap_get(struct idmap *m, const char *key, int *added)
{
	size_t h;

	*added = 0;
	if (m->n * 2 >= m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		char **nk = calloc(ncap, sizeof *nk);
		uint32_t *nv = calloc(ncap, sizeof *nv);
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			h = hash_str(m->keys[i]) & (ncap - 1);
			while (nk[h])
				h = (h + 1) & (ncap - 1);
			nk[h] = m->keys[i];
			nv[h] = m->vals[i];
		}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = ncap;
	}
	h = hash_str(key) & (m->cap - 1);
	while (m->keys[h]) {
		if (strcmp(m->keys[h], key) == 0)
			return m->vals[h];
		h = (h + 1) & (m->cap - 1);
	}
	m->keys[h] = strdup(key);
	if (!m->keys[h])
		return -1;
	m->vals[h] = (uint32_t)m->n;
	*added = 1;
	return (long)m->n++;
}

static void idmap_free(struct idmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
}

/* What a message being cut collects from the pending chunks: its first
 * max points, then (into q->rest) the remainder of the last chunk read. */
#define CUT_CACHE 64 /* a power of two */

struct cut {
	struct queue *q;
	struct profile_msg *msg;
	struct idmap *ids;
	size_t max, cap_items, cap_points;
	int rc;
	/* the chunk being read names an item by one pointer into its blob:
	 * pointer -> message item index, emptied for every chunk */
	struct {
		const char *item;
		long idx;
	} cache[CUT_CACHE];
};

static int cut_point(void *ctx, const struct qchunk_point *pt)
{
	struct cut *c = ctx;
	struct profile_msg *msg = c->msg;
	char item[QCHUNK_ITEM_MAX + 1];
	int added;
	long idx;

	if (msg->n_points >= c->max) {
		c->rc = qchunk_writer_add(&c->q->rest, pt);
		return c->rc != SUIDO_OK;
	}
	{
		size_t h = ((uintptr_t)pt->item >> 2) & (CUT_CACHE - 1);
		if (c->cache[h].item == pt->item) {
			idx = c->cache[h].idx;
			added = 0;
		} else {
			memcpy(item, pt->item, pt->item_len);
			item[pt->item_len] = '\0';
			if ((idx = idmap_get(c->ids, item, &added)) < 0)
				goto nomem;
			c->cache[h].item = pt->item;
			c->cache[h].idx = idx;
		}
	}
	if (added) {
		struct profile_item *pi;
		if (msg->n_items == c->cap_items) {
			size_t nc = c->cap_items ? c->cap_items * 2 : 16;
			void *np = realloc(msg->items, nc * sizeof *msg->items);
			if (!np)
				goto nomem;
			msg->items = np;
			c->cap_items = nc;
		}
		pi = &msg->items[msg->n_items++];
		memset(pi, 0, sizeof *pi);
		if (!(pi->id = strdup(item)))
			goto nomem;
	}
	if (msg->n_points == c->cap_points) {
		size_t nc = c->cap_points ? c->cap_points * 2 : 256;
		void *np = realloc(msg->points, nc * sizeof *msg->points);
		if (!np)
			goto nomem;
		msg->points = np;
		c->cap_points = nc;
	}
	msg->points[msg->n_points] = (struct profile_point){(uint32_t)idx, pt->t_ms, pt->v, NULL};
	if (pt->text) {
		char *t = malloc(pt->text_len + 1);
		if (!t)
			goto nomem;
		memcpy(t, pt->text, pt->text_len);
		t[pt->text_len] = '\0';
		msg->points[msg->n_points].text = t;
	}
	msg->n_points++;
	return 0;
nomem:
	c->rc = SUIDO_ERR_NOMEM;
	return 1;
}

/* Makes message seq from up to max_points of the oldest pending points,
 * inside the caller's transaction. *made = 0 when nothing was pending. */
static int make_one(struct queue *q, size_t max_points, int64_t now_ms, uint64_t seq, int *made)
{
	struct profile_msg msg = {0};
	struct idmap ids = {0};
	struct strbuf sb = STRBUF_INIT;
	struct cut c = {.q = q, .msg = &msg, .ids = &ids, .max = max_points, .rc = SUIDO_OK};
	sqlite3_stmt *s;
	int64_t last_full = 0, partial = 0;
	char id[PROFILE_ID_MAX + 1], seqtxt[24];
	int rc;

	*made = 0;
	qchunk_writer_reset(&q->rest);
	s = q->st[ST_PENDING_SELECT];
	while (msg.n_points < max_points && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		char why[160];
		int stopped, dr;

		memset(c.cache, 0, sizeof c.cache);
		dr = qchunk_decode(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
				       sqlite3_column_int64(s, 1), cut_point, &c, &stopped, why,
				       sizeof why);
		if (dr == SUIDO_OK && stopped)
			dr = c.rc;
		if (dr != SUIDO_OK) {
			if (dr == SUIDO_ERR_INVALID)
				log_error("queue", "pending chunk %lld: %s",
					  (long long)sqlite3_column_int64(s, 0), why);
			sqlite3_reset(s);
			rc = dr == SUIDO_ERR_INVALID ? SUIDO_ERR_DB : dr;
			goto out;
		}
		if (q->rest.n > 0)
			partial = sqlite3_column_int64(s, 0);
		else
			last_full = sqlite3_column_int64(s, 0);
	}
	if (msg.n_points >= max_points)
		rc = SQLITE_DONE; /* enough read: the rest stays pending */
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		rc = db_rc(rc);
		goto out;
	}
	if (msg.n_points == 0) {
		rc = SUIDO_OK;
		goto out; /* nothing pending */
	}
	s = q->st[ST_ITEM_SELECT];
	for (size_t i = 0; i < msg.n_items; i++) {
		struct profile_item *pi = &msg.items[i];
		sqlite3_bind_text(s, 1, pi->id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			rc = SUIDO_ERR_DB; /* a point whose item row is gone: corrupt queue */
			goto out;
		}
		pi->name = dup_col(s, 0);
		pi->unit = dup_col(s, 1);
		pi->facility = dup_col(s, 2);
		sqlite3_reset(s);
		if (!pi->name || !pi->unit || !pi->facility)
			goto nomem;
	}
	snprintf(id, sizeof id, "%s:%lld:%llu", q->gateway, (long long)q->epoch,
		 (unsigned long long)seq);
	msg.id = id;
	msg.utility = q->utility;
	msg.gateway = q->gateway;
	msg.sent_ms = now_ms;
	if (profile_encode(&msg, &sb) != 0)
		goto nomem;
	s = q->st[ST_MSG_INSERT];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)msg.n_points);
	sqlite3_bind_blob(s, 4, sb.data, (int)sb.len, SQLITE_STATIC);
	if ((rc = step_done(s)) != SUIDO_OK)
		goto out;
	if (last_full) {
		s = q->st[ST_PENDING_DELETE];
		sqlite3_bind_int64(s, 1, last_full);
		if ((rc = step_done(s)) != SUIDO_OK)
			goto out;
	}
	if (partial && (rc = put_chunk(q, &q->rest, partial)) != SUIDO_OK)
		goto out;
	snprintf(seqtxt, sizeof seqtxt, "%llu", (unsigned long long)(seq + 1));
	s = q->st[ST_SEQ_UPDATE];
	sqlite3_bind_text(s, 1, seqtxt, -1, SQLITE_STATIC);
	if ((rc = step_done(s)) != SUIDO_OK)
		goto out;
	*made = 1;
	goto out;
nomem:
	rc = SUIDO_ERR_NOMEM;
out:
	msg.id = msg.utility = msg.gateway = NULL;
	for (size_t i = 0; i < msg.n_items; i++) {
		free(msg.items[i].id);
		free(msg.items[i].name);
		free(msg.items[i].unit);
		free(msg.items[i].facility);
	}
	free(msg.items);
	for (size_t i = 0; i < msg.n_points; i++)
		free(msg.points[i].text);
	free(msg.points);
	idmap_free(&ids);
	strbuf_free(&sb);
	return rc;
}

int queue_make_messages(struct queue *q, size_t max_points, size_t max_msgs, int64_t now_ms,
			size_t *made)
{
	int rc, one = 1;
	size_t n = 0;

	*made = 0;
	if ((rc = exec(q, "BEGIN IMMEDIATE")) != SUIDO_OK)
		return rc;
	q->in_tx = 1;
	/* each message under a savepoint: one that cannot be made (a damaged
	 * chunk, no memory) does not undo the ones made before it */
	while (n < max_msgs && one) {
		if ((rc = exec(q, "SAVEPOINT cut")) != SUIDO_OK)
			break;
		rc = make_one(q, max_points, now_ms, q->next_seq + n, &one);
		if (rc != SUIDO_OK) {
			exec(q, "ROLLBACK TO cut");
			exec(q, "RELEASE cut");
			break;
		}
		if ((rc = exec(q, "RELEASE cut")) != SUIDO_OK)
			break;
		n += (size_t)one;
	}
	{
		int crc = exec(q, n ? "COMMIT" : "ROLLBACK");
		if (crc != SUIDO_OK) {
			exec(q, "ROLLBACK");
			n = 0;
			rc = crc;
		}
	}
	q->in_tx = 0;
	q->next_seq += n;
	*made = n;
	return rc;
}

int queue_make_message(struct queue *q, size_t max_points, int64_t now_ms, int *made)
{
	size_t n = 0;
	int rc = queue_make_messages(q, max_points, 1, now_ms, &n);

	*made = n > 0;
	return rc;
}

static int load_msg(struct queue *q, sqlite3_stmt *s, struct queue_msg *out)
{
	int rc = sqlite3_step(s);

	memset(out, 0, sizeof *out);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 2);
		size_t n = (size_t)sqlite3_column_bytes(s, 2);
		out->seq = (uint64_t)sqlite3_column_int64(s, 0);
		out->n_points = (size_t)sqlite3_column_int64(s, 1);
		snprintf(out->id, sizeof out->id, "%s:%lld:%llu", q->gateway, (long long)q->epoch,
			 (unsigned long long)out->seq);
		out->payload = malloc(n + 1);
		if (!out->payload) {
			rc = SUIDO_ERR_NOMEM;
		} else {
			memcpy(out->payload, p, n);
			out->payload[n] = '\0';
			out->len = n;
			rc = SUIDO_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_DB;
	}
	sqlite3_reset(s);
	return rc;
}

int queue_next_unacked(struct queue *q, uint64_t after_seq, struct queue_msg *out)
{
	sqlite3_stmt *s = q->st[ST_NEXT_UNACKED];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)after_seq);
	return load_msg(q, s, out);
}

int queue_get_message(struct queue *q, uint64_t seq, struct queue_msg *out)
{
	sqlite3_stmt *s = q->st[ST_MSG_GET];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
	return load_msg(q, s, out);
}

int queue_next_message(struct queue *q, uint64_t after_seq, struct queue_msg *out)
{
	sqlite3_stmt *s = q->st[ST_NEXT_MSG];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)after_seq);
	return load_msg(q, s, out);
}

uint64_t queue_next_seq(const struct queue *q)
{
	return q->next_seq;
}

int queue_ack(struct queue *q, const char *msg_id, int64_t now_ms, uint64_t *seq)
{
	char gw[PROFILE_NAME_MAX + 1];
	int64_t epoch;
	uint64_t sq;
	sqlite3_stmt *s;
	int rc;

	if (profile_msg_id_parse(msg_id, gw, sizeof gw, &epoch, &sq) != SUIDO_OK ||
	    strcmp(gw, q->gateway) != 0 || epoch != q->epoch)
		return SUIDO_ERR_NOTFOUND;
	s = q->st[ST_ACK_SELECT];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)sq);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_DB;
	}
	rc = sqlite3_column_type(s, 0) == SQLITE_NULL ? SUIDO_OK : SUIDO_ERR_EXISTS;
	sqlite3_reset(s);
	*seq = sq;
	if (rc != SUIDO_OK)
		return rc;
	s = q->st[ST_ACK_UPDATE];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)sq);
	sqlite3_bind_int64(s, 2, now_ms);
	return step_done(s);
}

/* Every commit but an ack's must reach the disk: without synchronous=FULL
 * the queue could acknowledge a file it would lose, so stop instead. */
static void restore_full(struct queue *q)
{
	if (exec(q, "PRAGMA synchronous=FULL") != SUIDO_OK) {
		fprintf(stderr, "queue: cannot restore synchronous=FULL: %s\n",
			sqlite3_errmsg(q->db));
		abort();
	}
}

int queue_ack_many(struct queue *q, struct queue_ack_rec *acks, size_t n)
{
	int rc;

	/* An ack lost to a power cut costs a resend that the platform answers
	 * "duplicate", so the ack commit does not wait for the disk
	 * (synchronous=NORMAL in WAL mode: consistent, not durable); the next
	 * durable commit (a file, messages) makes it durable too. */
	if ((rc = exec(q, "PRAGMA synchronous=NORMAL")) != SUIDO_OK)
		return rc;
	if ((rc = exec(q, "BEGIN IMMEDIATE")) != SUIDO_OK) {
		restore_full(q);
		return rc;
	}
	q->in_tx = 1;
	for (size_t i = 0; i < n && rc == SUIDO_OK; i++) {
		sqlite3_stmt *s = q->st[ST_ACK_SELECT];
		int row;
		acks[i].fresh = 0;
		sqlite3_bind_int64(s, 1, (sqlite3_int64)acks[i].seq);
		row = sqlite3_step(s);
		if (row == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL)
			acks[i].fresh = 1;
		else if (row != SQLITE_ROW && row != SQLITE_DONE)
			rc = db_rc(row);
		sqlite3_reset(s);
		if (rc != SUIDO_OK || !acks[i].fresh)
			continue;
		s = q->st[ST_ACK_UPDATE];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)acks[i].seq);
		sqlite3_bind_int64(s, 2, acks[i].acked_ms);
		rc = step_done(s);
	}
	if (rc == SUIDO_OK)
		rc = exec(q, "COMMIT");
	if (rc != SUIDO_OK) {
		exec(q, "ROLLBACK");
		for (size_t i = 0; i < n; i++)
			acks[i].fresh = 0;
	}
	q->in_tx = 0;
	restore_full(q);
	return rc;
}

static int64_t scalar(struct queue *q, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

int queue_stats(struct queue *q, struct queue_stats *out)
{
	out->pending_points = scalar(q, "SELECT coalesce(sum(n),0) FROM pending");
	out->unacked_msgs = scalar(q, "SELECT count(*) FROM messages WHERE acked IS NULL");
	out->unacked_points =
		scalar(q, "SELECT coalesce(sum(n_points),0) FROM messages WHERE acked IS NULL");
	out->acked_msgs = scalar(q, "SELECT count(*) FROM messages WHERE acked IS NOT NULL");
	out->oldest_unacked_ms =
		scalar(q, "SELECT coalesce(min(created),0) FROM messages WHERE acked IS NULL");
	out->files = scalar(q, "SELECT count(*) FROM files");
	if (out->pending_points < 0 || out->unacked_msgs < 0 || out->unacked_points < 0 ||
	    out->acked_msgs < 0 || out->oldest_unacked_ms < 0 || out->files < 0)
		return SUIDO_ERR_DB;
	return SUIDO_OK;
}

const char *queue_gateway(const struct queue *q)
{
	return q->gateway;
}

int queue_purge_acked(struct queue *q, int64_t older_than_ms, int64_t *n)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(q->db, "DELETE FROM messages WHERE acked IS NOT NULL AND acked<?1",
			       -1, &s, NULL) != SQLITE_OK)
		return SUIDO_ERR_DB;
	sqlite3_bind_int64(s, 1, older_than_ms);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*n = sqlite3_changes(q->db);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SUIDO_OK : db_rc(rc);
}

int queue_last_file(struct queue *q, char *name, size_t namelen, int64_t *received_ms)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*name = '\0';
	*received_ms = 0;
	if (sqlite3_prepare_v2(q->db, "SELECT name,received FROM files ORDER BY received DESC "
				      "LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return SUIDO_ERR_DB;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(name, namelen, "%s", (const char *)sqlite3_column_text(s, 0));
		*received_ms = sqlite3_column_int64(s, 1);
		rc = SUIDO_OK;
	} else {
		rc = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_DB;
	}
	sqlite3_finalize(s);
	return rc;
}

int64_t queue_last_ack_ms(struct queue *q)
{
	return scalar(q, "SELECT coalesce(max(acked),0) FROM messages");
}

/* The control state lives in meta under these keys; absent keys are the
 * defaults of a fresh queue, so no schema change was needed to add them. */
int queue_control_get(struct queue *q, struct queue_control *out)
{
	char buf[32];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = meta_get(q->db, "cmd_seq", buf, sizeof buf)) == SUIDO_OK)
		out->cmd_seq = strtoll(buf, NULL, 10);
	else if (rc != SUIDO_ERR_NOTFOUND)
		return rc;
	if ((rc = meta_get(q->db, "sending", buf, sizeof buf)) == SUIDO_OK)
		out->sending = strcmp(buf, "on") == 0    ? QUEUE_SENDING_ON
			       : strcmp(buf, "off") == 0 ? QUEUE_SENDING_OFF
							 : QUEUE_SENDING_UNSET;
	else if (rc != SUIDO_ERR_NOTFOUND)
		return rc;
	if ((rc = meta_get(q->db, "interval_s", buf, sizeof buf)) == SUIDO_OK)
		out->interval_s = strtoll(buf, NULL, 10);
	else if (rc != SUIDO_ERR_NOTFOUND)
		return rc;
	return SUIDO_OK;
}

int queue_control_set(struct queue *q, const struct queue_control *c)
{
	static const char *const names[] = {"unset", "on", "off"};
	struct queue_control cur;
	char *sql;
	int rc;

	assert(c->sending >= QUEUE_SENDING_UNSET && c->sending <= QUEUE_SENDING_OFF);
	assert(!q->in_tx); /* never inside a file's intake transaction */
	if ((rc = exec(q, "BEGIN IMMEDIATE")) != SUIDO_OK)
		return rc;
	/* compared inside the transaction: the seq only ever grows on disk */
	if ((rc = queue_control_get(q, &cur)) != SUIDO_OK)
		goto fail;
	if (c->cmd_seq <= cur.cmd_seq) {
		rc = SUIDO_ERR_EXISTS;
		goto fail;
	}
	sql = sqlite3_mprintf("INSERT OR REPLACE INTO meta(key,value) VALUES"
			      "('cmd_seq','%lld'),('sending','%s'),('interval_s','%lld')",
			      (long long)c->cmd_seq, names[c->sending], (long long)c->interval_s);
	if (!sql) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	rc = exec(q, sql);
	sqlite3_free(sql);
	if (rc == SUIDO_OK)
		rc = exec(q, "COMMIT");
	if (rc == SUIDO_OK)
		return SUIDO_OK;
fail:
	exec(q, "ROLLBACK");
	return rc;
}

int queue_evacuable(struct queue *q, int64_t older_than_ms, size_t max_msgs, size_t max_bytes,
		    int (*each)(void *ctx, const struct queue_held *m), void *ctx, size_t *n,
		    uint64_t *first, uint64_t *last)
{
	sqlite3_stmt *s = NULL;
	size_t bytes = 0;
	int rc;

	*n = 0;
	*first = *last = 0;
	assert(!q->in_tx);
	/* One read transaction: the rows seen are the rows queue_archive_commit
	 * will delete (only this thread writes). */
	if ((rc = exec(q, "BEGIN")) != SUIDO_OK)
		return rc;
	/* The smallest seq acked before the cut; then every held message in seq
	 * order until one that is not evacuable: a range never straddles a
	 * message that stays, so ranges of different files never overlap. */
	if (sqlite3_prepare_v2(q->db, "SELECT seq,created,acked,n_points,payload FROM messages "
				      "WHERE seq>=(SELECT min(seq) FROM messages WHERE acked IS NOT "
				      "NULL AND acked<?1) ORDER BY seq", -1, &s, NULL) != SQLITE_OK) {
		rc = SUIDO_ERR_DB;
		goto out;
	}
	sqlite3_bind_int64(s, 1, older_than_ms);
	rc = SUIDO_OK;
	while (*n < max_msgs && bytes < max_bytes) {
		struct queue_held m;
		int st = sqlite3_step(s);
		if (st == SQLITE_DONE)
			break;
		if (st != SQLITE_ROW) {
			rc = db_rc(st);
			break;
		}
		if (sqlite3_column_type(s, 2) == SQLITE_NULL ||
		    sqlite3_column_int64(s, 2) >= older_than_ms)
			break;
		m.seq = (uint64_t)sqlite3_column_int64(s, 0);
		m.created_ms = sqlite3_column_int64(s, 1);
		m.acked_ms = sqlite3_column_int64(s, 2);
		m.n_points = (size_t)sqlite3_column_int64(s, 3);
		m.payload = sqlite3_column_blob(s, 4);
		m.len = (size_t)sqlite3_column_bytes(s, 4);
		if (!m.payload)
			m.payload = "";
		snprintf(m.id, sizeof m.id, "%s:%lld:%llu", q->gateway, (long long)q->epoch,
			 (unsigned long long)m.seq);
		if ((rc = each(ctx, &m)) != SUIDO_OK)
			break;
		if (*n == 0)
			*first = m.seq;
		*last = m.seq;
		(*n)++;
		bytes += m.len;
	}
out:
	sqlite3_finalize(s);
	exec(q, "COMMIT"); /* a read transaction: nothing to lose */
	return rc;
}

#define ARCH_COLS "file,first_seq,last_seq,n_msgs,bytes,sha256,created"

static void load_archive(sqlite3_stmt *s, struct queue_archive *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->file, sizeof out->file, "%s", (const char *)sqlite3_column_text(s, 0));
	out->first_seq = (uint64_t)sqlite3_column_int64(s, 1);
	out->last_seq = (uint64_t)sqlite3_column_int64(s, 2);
	out->n_msgs = sqlite3_column_int64(s, 3);
	out->bytes = sqlite3_column_int64(s, 4);
	snprintf(out->sha256, sizeof out->sha256, "%s", (const char *)sqlite3_column_text(s, 5));
	out->created_ms = sqlite3_column_int64(s, 6);
}

/* Runs sql (selecting ARCH_COLS) bound to up to two integers and one text;
 * loads the first row. */
static int archive_query(struct queue *q, const char *sql, int64_t a, int64_t b, const char *t,
			 struct queue_archive *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK)
		return SUIDO_ERR_DB;
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, b);
	if (t)
		sqlite3_bind_text(s, 3, t, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		load_archive(s, out);
		rc = SUIDO_OK;
	} else {
		rc = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_DB;
	}
	sqlite3_finalize(s);
	return rc;
}

int queue_archive_commit(struct queue *q, const struct queue_archive *a, int64_t older_than_ms)
{
	sqlite3_stmt *s = NULL;
	int rc;

	assert(!q->in_tx);
	if ((rc = exec(q, "BEGIN IMMEDIATE")) != SUIDO_OK)
		return rc;
	if (sqlite3_prepare_v2(q->db, "INSERT OR REPLACE INTO archives(file,first_seq,last_seq,"
				      "n_msgs,bytes,sha256,created) VALUES(?1,?2,?3,?4,?5,?6,?7)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = SUIDO_ERR_DB;
		goto fail;
	}
	sqlite3_bind_text(s, 1, a->file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)a->first_seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)a->last_seq);
	sqlite3_bind_int64(s, 4, a->n_msgs);
	sqlite3_bind_int64(s, 5, a->bytes);
	sqlite3_bind_text(s, 6, a->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->created_ms);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE) {
		rc = db_rc(rc);
		goto fail;
	}
	if (sqlite3_prepare_v2(q->db, "DELETE FROM messages WHERE seq BETWEEN ?1 AND ?2 AND acked "
				      "IS NOT NULL AND acked<?3", -1, &s, NULL) != SQLITE_OK) {
		rc = SUIDO_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)a->first_seq);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)a->last_seq);
	sqlite3_bind_int64(s, 3, older_than_ms);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		rc = db_rc(rc);
		goto fail;
	}
	if (sqlite3_changes(q->db) != a->n_msgs) {
		/* not the rows the file holds: keep them, and no index row */
		rc = SUIDO_ERR_INVALID;
		goto fail;
	}
	if ((rc = exec(q, "COMMIT")) == SUIDO_OK)
		return SUIDO_OK;
fail:
	exec(q, "ROLLBACK");
	return rc;
}

int queue_archive_find(struct queue *q, uint64_t from_seq, uint64_t to_seq,
		       struct queue_archive *out)
{
	return archive_query(q, "SELECT " ARCH_COLS " FROM archives WHERE last_seq>=?1 AND first_seq<=?2 "
				"ORDER BY first_seq LIMIT 1",
			     (int64_t)from_seq, (int64_t)to_seq, NULL, out);
}

int queue_archive_get(struct queue *q, const char *file, struct queue_archive *out)
{
	return archive_query(q, "SELECT " ARCH_COLS " FROM archives WHERE file=?3", 0, 0, file,
			     out);
}

int queue_archive_oldest(struct queue *q, int64_t created_before_ms, struct queue_archive *out)
{
	return archive_query(q, "SELECT " ARCH_COLS " FROM archives WHERE created<?1 ORDER BY "
				"created, first_seq LIMIT 1",
			     created_before_ms, 0, NULL, out);
}

int queue_archive_forget(struct queue *q, const char *file)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(q->db, "DELETE FROM archives WHERE file=?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return SUIDO_ERR_DB;
	sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SUIDO_OK : db_rc(rc);
}

int64_t queue_archive_count(struct queue *q)
{
	return scalar(q, "SELECT count(*) FROM archives");
}

int64_t queue_disk_bytes(struct queue *q)
{
	const char *path = sqlite3_db_filename(q->db, "main");
	char wal[4096];
	struct stat st;
	int64_t n;

	if (!path || !*path || stat(path, &st) != 0)
		return -1;
	n = (int64_t)st.st_size;
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (stat(wal, &st) == 0)
		n += (int64_t)st.st_size;
	return n;
}
