/*
 * Unit tests of the store (store.h) on its SQLite backend: the schema and
 * its version guard, message-id uniqueness with caller rollback, item
 * upsert, half-open ordered limited ranges, latest values, tenant isolation
 * between utilities holding the same item ids, gateway ownership, the
 * integrity check (including one that must fail), and persistence across a
 * reopen, a full disk (a shim VFS whose writes fail as ENOSPC does)
 * reported as SUIDO_ERR_FULL with nothing half-stored, the signed original
 * kept with a message (tenant-scoped), and the in-place migration of a
 * version 1 database. Every database lives in its own
 * mkdtemp directory.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "suido/error.h"
#include "suido/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/suido-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/platform.db", f->dir);
	if (store_open_sqlite(f->path, &f->s, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "open: %s\n", err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	store_close(f->s);
	unlink(f->path);
	snprintf(p, sizeof p, "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs sql on a separate raw connection and returns the first column of the
 * first row as an integer (or -1 without a row). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Registers utility u with gateway "<u>-gw1" and item ids[] in one
 * transaction; keys[] receives the item keys. */
static void seed(struct store *s, const char *u, const char *const *ids, size_t n,
		 int64_t *keys)
{
	char gw[64];

	snprintf(gw, sizeof gw, "%s-gw1", u);
	assert_int_equal(store_begin(s), SUIDO_OK);
	assert_int_equal(store_put_utility(s, u, "Utility"), SUIDO_OK);
	assert_int_equal(store_put_gateway(s, u, gw), SUIDO_OK);
	for (size_t i = 0; i < n; i++) {
		struct store_item it = {ids[i], ids[i], "m3/h", "plant"};
		assert_int_equal(store_put_item(s, u, &it, &keys[i]), SUIDO_OK);
	}
	assert_int_equal(store_commit(s), SUIDO_OK);
}

/* Collects points up to a fixed count. */
struct pts {
	struct store_point p[64];
	size_t n;
	size_t stop_after; /* 0 = never stop early */
};

static int collect_point(void *ctx, const struct store_point *p)
{
	struct pts *c = ctx;

	assert_true(c->n < 64);
	c->p[c->n++] = *p;
	return c->stop_after && c->n >= c->stop_after;
}

/* store_latest into a copy (the text, if any, is dropped: see test_text). */
static int copy_point(void *ctx, const struct store_point *p)
{
	*(struct store_point *)ctx = *p;
	((struct store_point *)ctx)->text = NULL;
	return 0;
}

static int latest(struct store *s, const char *utility, const char *item, struct store_point *p)
{
	return store_latest(s, utility, item, copy_point, p);
}

struct names {
	char id[8][32];
	char name[8][32];
	size_t n;
};

static int collect_item(void *ctx, const struct store_item *it)
{
	struct names *c = ctx;

	assert_true(c->n < 8);
	snprintf(c->id[c->n], sizeof c->id[0], "%s", it->id);
	snprintf(c->name[c->n], sizeof c->name[0], "%s", it->name);
	c->n++;
	return 0;
}

static void test_schema(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = NULL;
	char err[256] = "";

	assert_string_equal(store_backend(f->s), "sqlite");
	assert_int_equal(raw_int(f->path, "SELECT version FROM schema_version"), 7);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_journal_mode"
					  " WHERE journal_mode = 'wal'"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'points'"),
			 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_index_list('blocks')"
					  " WHERE name = 'blocks_item' AND \"unique\" = 1"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_index_list('items')"
					  " WHERE \"unique\" = 1"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_index_list('messages')"
					  " WHERE \"unique\" = 1"), 1);

	/* A second handle on the same file opens (schema already there). */
	assert_int_equal(store_open_sqlite(f->path, &s2, err, sizeof err), SUIDO_OK);
	store_close(s2);
	s2 = NULL;

	/* A database written by a newer program is refused. */
	raw_exec(f->path, "UPDATE schema_version SET version = 99");
	assert_int_equal(store_open_sqlite(f->path, &s2, err, sizeof err), SUIDO_ERR_DB);
	assert_null(s2);
	assert_non_null(strstr(err, "newer"));
	raw_exec(f->path, "UPDATE schema_version SET version = 7");
	assert_int_equal(store_open_sqlite(f->path, &s2, err, sizeof err), SUIDO_OK);
	store_close(s2);
}

static void test_foreign_database_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = NULL;
	char path[160], err[256] = "";

	snprintf(path, sizeof path, "%s/other.db", f->dir);
	raw_exec(path, "CREATE TABLE t(x)");
	assert_int_equal(store_open_sqlite(path, &s2, err, sizeof err), SUIDO_ERR_DB);
	assert_null(s2);
	assert_non_null(strstr(err, "not a suido database"));
	unlink(path);
}

static void test_duplicate_message(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	int64_t key, key2, n = -1;
	struct store_item extra = {"pressure", "Pressure", "MPa", ""};
	struct names names = {0};

	seed(f->s, "u1", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:1:1", 1000, 2, NULL, 0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 1000, 1.5), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 2000, 2.5), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	/* The resend: the caller stores an item and points, then learns the id
	 * is known, and rolls everything back. */
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_item(f->s, "u1", &extra, &key2), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key2, 1000, 9.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 3000, 9.0), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:1:1", 5000, 2, NULL, 0),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(store_rollback(f->s), SUIDO_OK);

	assert_int_equal(store_count_points(f->s, "u1", &n), SUIDO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_list_items(f->s, "u1", collect_item, &names), SUIDO_OK);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.id[0], "flow");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM messages"), 1);
	assert_int_equal(raw_int(f->path, "SELECT received_ms FROM messages"), 1000);

	/* Unique over the whole store: the same id from another utility is a
	 * duplicate too; a gateway not registered to the utility is refused. */
	seed(f->s, "u2", ids, 1, &key2);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u2", "u2-gw1", "u1-gw1:1:1", 1, 0, NULL, 0),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(store_put_message(f->s, "u2", "u1-gw1", "u1-gw1:1:2", 1, 0, NULL, 0),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:1:2", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM messages"), 2);

	/* A rollback with no transaction open is harmless. */
	assert_int_equal(store_rollback(f->s), SUIDO_OK);
}

static void test_item_upsert(void **state)
{
	struct fixture *f = *state;
	struct store_item a = {"zeta", "Zeta flow", "m3/h", "Plant 1"};
	struct store_item b = {"alpha", "Alpha level", "", ""};
	struct store_item a2 = {"zeta", "Zeta flow renamed", "L/s", "Plant 2"};
	int64_t ka, kb, ka2;
	struct names names = {0};

	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_utility(f->s, "u1", "First"), SUIDO_OK);
	assert_int_equal(store_put_utility(f->s, "u1", "First renamed"), SUIDO_OK);
	assert_int_equal(store_put_item(f->s, "u1", &a, &ka), SUIDO_OK);
	assert_int_equal(store_put_item(f->s, "u1", &b, &kb), SUIDO_OK);
	assert_int_equal(store_put_item(f->s, "u1", &a2, &ka2), SUIDO_OK);
	/* An item of an unknown utility cannot be created. */
	assert_int_equal(store_put_item(f->s, "nobody", &a, &ka2), SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_put_item(f->s, "u1", &a2, &ka2), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(ka, ka2);
	assert_true(ka != kb);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM utilities"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items"), 2);

	assert_int_equal(store_list_items(f->s, "u1", collect_item, &names), SUIDO_OK);
	assert_int_equal(names.n, 2);
	assert_string_equal(names.id[0], "alpha");
	assert_string_equal(names.id[1], "zeta");
	assert_string_equal(names.name[1], "Zeta flow renamed");

	memset(&names, 0, sizeof names);
	assert_int_equal(store_get_item(f->s, "u1", "zeta", collect_item, &names), SUIDO_OK);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.name[0], "Zeta flow renamed");
	assert_int_equal(store_get_item(f->s, "u1", "beta", collect_item, &names),
			 SUIDO_ERR_NOTFOUND);
}

static void test_values_range(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow", "empty"};
	int64_t keys[2];
	struct pts c = {0};

	seed(f->s, "u1", ids, 2, keys);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	/* Written out of order; t = 0..9 s with v = t/1000 + 0.5. */
	for (int i = 9; i >= 0; i--)
		assert_int_equal(store_put_point(f->s, keys[0], i * 1000, i + 0.5), SUIDO_OK);
	/* A second point at the same instant replaces the first. */
	assert_int_equal(store_put_point(f->s, keys[0], 4000, 44.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, keys[0], -5000, NAN), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	/* [2000, 5000): 2000 and 3000 and 4000, not 5000, ascending. */
	assert_int_equal(store_values(f->s, "u1", "flow", 2000, 5000, 0, collect_point, &c),
			 SUIDO_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.p[0].t_ms, 2000);
	assert_int_equal(c.p[1].t_ms, 3000);
	assert_int_equal(c.p[2].t_ms, 4000);
	assert_true(c.p[0].v == 2.5);
	assert_true(c.p[2].v == 44.0);

	/* limit */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_values(f->s, "u1", "flow", 0, 10000, 4, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.p[3].t_ms, 3000);

	/* the callback stops the walk */
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	assert_int_equal(store_values(f->s, "u1", "flow", 0, 10000, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 2);

	/* everything, with the NaN point first */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_values(f->s, "u1", "flow", INT64_MIN, INT64_MAX, 0, collect_point,
				      &c), SUIDO_OK);
	assert_int_equal(c.n, 11);
	assert_int_equal(c.p[0].t_ms, -5000);
	assert_true(isnan(c.p[0].v));
	for (size_t i = 1; i < c.n; i++)
		assert_true(c.p[i].t_ms > c.p[i - 1].t_ms);

	/* an empty range of a known item is not an error; an unknown item is */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_values(f->s, "u1", "flow", 5000, 5000, 0, collect_point, &c),
			 SUIDO_OK);
	assert_int_equal(store_values(f->s, "u1", "empty", 0, 10000, 0, collect_point, &c),
			 SUIDO_OK);
	assert_int_equal(c.n, 0);
	assert_int_equal(store_values(f->s, "u1", "nope", 0, 10000, 0, collect_point, &c),
			 SUIDO_ERR_NOTFOUND);
}

static void test_latest(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow", "empty"};
	int64_t keys[2];
	struct store_point p = {0, 0, NULL};

	seed(f->s, "u1", ids, 2, keys);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, keys[0], 7000, 7.25), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, keys[0], 9000, 9.25), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, keys[0], 8000, 8.25), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	assert_int_equal(latest(f->s, "u1", "flow", &p), SUIDO_OK);
	assert_int_equal(p.t_ms, 9000);
	assert_true(p.v == 9.25);
	assert_int_equal(latest(f->s, "u1", "empty", &p), SUIDO_ERR_NOTFOUND);
	assert_int_equal(latest(f->s, "u1", "nope", &p), SUIDO_ERR_NOTFOUND);
}

/* Text points: stored as given (no numeric affinity), returned as text,
 * replacing and replaced by numbers at the same instant. */
struct texts {
	char t[4][64];
	double v[4];
	size_t n;
};

static int collect_text(void *ctx, const struct store_point *p)
{
	struct texts *c = ctx;

	assert_true(c->n < 4);
	snprintf(c->t[c->n], sizeof c->t[0], "%s", p->text ? p->text : "(number)");
	c->v[c->n++] = p->v;
	return 0;
}

static void test_text(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"name"};
	int64_t key;
	struct texts c = {0};

	seed(f->s, "u1", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_text(f->s, key, 1000, "~m1.r.k1.AAAA"), SUIDO_OK);
	assert_int_equal(store_put_text(f->s, key, 2000, "12"), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 3000, 5.5), SUIDO_OK);
	assert_int_equal(store_put_text(f->s, key, 3000, "運転"), SUIDO_OK); /* replaces */
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(store_values(f->s, "u1", "name", 0, 10000, 0, collect_text, &c), SUIDO_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.t[0], "~m1.r.k1.AAAA");
	assert_string_equal(c.t[1], "12");
	assert_string_equal(c.t[2], "運転");
	c.n = 0;
	assert_int_equal(store_latest(f->s, "u1", "name", collect_text, &c), SUIDO_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.t[0], "運転");
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 3000, 6.5), SUIDO_OK); /* and back */
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	c.n = 0;
	assert_int_equal(store_latest(f->s, "u1", "name", collect_text, &c), SUIDO_OK);
	assert_string_equal(c.t[0], "(number)");
	assert_true(c.v[0] == 6.5);
}

/* The file store: put, list newest first, get content and original, a
 * second put of the same id refused, another utility sees nothing. */
struct files_seen {
	char ids[4][40];
	char name[64];
	size_t n, content_len, original_len;
	char content[32], original[32];
	int64_t size;
};

static int file_meta(void *ctx, const struct store_file *f)
{
	struct files_seen *c = ctx;

	assert_true(c->n < 4);
	snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", f->id);
	snprintf(c->name, sizeof c->name, "%s", f->name);
	c->size = f->size;
	return 0;
}

static void file_content(void *ctx, const void *data, size_t len)
{
	struct files_seen *c = ctx;

	c->content_len = len;
	memcpy(c->content, data, len < sizeof c->content ? len : sizeof c->content);
}

static void file_original(void *ctx, const void *data, size_t len)
{
	struct files_seen *c = ctx;

	c->original_len = len;
	memcpy(c->original, data, len < sizeof c->original ? len : sizeof c->original);
}

static void test_files(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"x"};
	int64_t key;
	struct files_seen c = {0};
	struct store_file a = {"0123456789abcdef0123456789abcdef", "日報.pdf", 5,
			       "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			       "gateway:u1-gw1", 1000};
	struct store_file b = a;

	seed(f->s, "u1", ids, 1, &key);
	seed(f->s, "u2", ids, 1, &key);
	b.id = "fedcba9876543210fedcba9876543210";
	b.name = "empty.txt";
	b.size = 0;
	b.received_ms = 2000;
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_file(f->s, "u1", &a, "hello", 5, "PK\3\4zip", 7), SUIDO_OK);
	assert_int_equal(store_put_file(f->s, "u1", &b, NULL, 0, "PK", 2), SUIDO_OK);
	assert_int_equal(store_put_file(f->s, "u1", &a, "other", 5, "PK", 2), SUIDO_ERR_EXISTS);
	assert_int_equal(store_put_file(f->s, "nope", &a, "hello", 5, "PK", 2), SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	assert_int_equal(store_list_files(f->s, "u1", file_meta, &c), SUIDO_OK);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.ids[0], b.id); /* newest first */
	assert_string_equal(c.ids[1], a.id);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_get_file(f->s, "u1", a.id, file_meta, file_content, file_original,
					&c),
			 SUIDO_OK);
	assert_string_equal(c.name, "日報.pdf");
	assert_int_equal(c.size, 5);
	assert_int_equal(c.content_len, 5);
	assert_memory_equal(c.content, "hello", 5); /* the first put stays */
	assert_int_equal(c.original_len, 7);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_get_file(f->s, "u1", b.id, NULL, file_content, NULL, &c), SUIDO_OK);
	assert_int_equal(c.content_len, 0);
	/* isolation: the other utility lists and gets nothing */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_list_files(f->s, "u2", file_meta, &c), SUIDO_OK);
	assert_int_equal(c.n, 0);
	assert_int_equal(store_get_file(f->s, "u2", a.id, file_meta, NULL, NULL, &c),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(c.n, 0);
}

/* Gateway events: kept, newest first, limited, only under their utility. */
static int event_cb(void *ctx, const struct store_gateway_event *e)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s>%s:%s;", e->from, e->to, e->reason);
	return 0;
}

static void test_gateway_events(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"x"};
	int64_t key;
	char out[256] = "";
	struct store_gateway_event e1 = {"u1-gw1", 1000, "offline", "online", "status online"};
	struct store_gateway_event e2 = {"u1-gw1", 2000, "online", "silent", "no data"};

	seed(f->s, "u1", ids, 1, &key);
	seed(f->s, "u2", ids, 1, &key);
	assert_int_equal(store_put_gateway_event(f->s, "u1", &e1), SUIDO_OK);
	assert_int_equal(store_put_gateway_event(f->s, "u1", &e2), SUIDO_OK);
	assert_int_equal(store_put_gateway_event(f->s, "u2", &e1), SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_list_gateway_events(f->s, "u1", "u1-gw1", 10, event_cb, out),
			 SUIDO_OK);
	assert_string_equal(out, "online>silent:no data;offline>online:status online;");
	out[0] = '\0';
	assert_int_equal(store_list_gateway_events(f->s, "u1", "u1-gw1", 1, event_cb, out),
			 SUIDO_OK);
	assert_string_equal(out, "online>silent:no data;");
	out[0] = '\0';
	assert_int_equal(store_list_gateway_events(f->s, "u2", "u1-gw1", 10, event_cb, out),
			 SUIDO_OK);
	assert_string_equal(out, "");
}

/* The seqs of a gateway's recent messages, by epoch, highest first. */
static int seq_cb(void *ctx, uint64_t seq)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 64 - n, "%llu,", (unsigned long long)seq);
	return 0;
}

static void test_recent_seqs(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"x"};
	int64_t key;
	char out[64] = "";

	seed(f->s, "u1", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:7:1", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:7:3", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:7:2", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "u1-gw1:8:1", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "u1", "u1-gw1", "not-an-id", 1, 0, NULL, 0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(store_recent_seqs(f->s, "u1", "u1-gw1", 7, 10, seq_cb, out), SUIDO_OK);
	assert_string_equal(out, "3,2,1,");
	out[0] = '\0';
	assert_int_equal(store_recent_seqs(f->s, "u1", "u1-gw1", 7, 2, seq_cb, out), SUIDO_OK);
	assert_string_equal(out, "3,2,");
	out[0] = '\0';
	assert_int_equal(store_recent_seqs(f->s, "u2", "u1-gw1", 7, 10, seq_cb, out), SUIDO_OK);
	assert_string_equal(out, "");
}

static void test_isolation(void **state)
{
	struct fixture *f = *state;
	const char *ids_a[] = {"flow", "secret"};
	const char *ids_b[] = {"flow"};
	int64_t ka[2], kb[1], n;
	struct pts c = {0};
	struct names names = {0};
	struct store_point p;

	seed(f->s, "A", ids_a, 2, ka);
	seed(f->s, "B", ids_b, 1, kb);
	assert_true(ka[0] != kb[0]);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, ka[0], 1000, 100.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, ka[0], 3000, 300.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, ka[1], 1000, 1.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, kb[0], 2000, 2.0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	/* Same item id, two utilities: each sees only its own points. */
	assert_int_equal(store_values(f->s, "B", "flow", 0, 10000, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.p[0].t_ms, 2000);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_values(f->s, "A", "flow", 0, 10000, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(latest(f->s, "B", "flow", &p), SUIDO_OK);
	assert_int_equal(p.t_ms, 2000);

	/* A's other item does not exist for B through any path. */
	assert_int_equal(store_get_item(f->s, "B", "secret", collect_item, &names),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_values(f->s, "B", "secret", 0, 10000, 0, collect_point, &c),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(latest(f->s, "B", "secret", &p), SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_list_items(f->s, "B", collect_item, &names), SUIDO_OK);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.id[0], "flow");
	assert_int_equal(store_count_points(f->s, "A", &n), SUIDO_OK);
	assert_int_equal(n, 3);
	assert_int_equal(store_count_points(f->s, "B", &n), SUIDO_OK);
	assert_int_equal(n, 1);

	/* An unknown utility sees nothing at all. */
	memset(&names, 0, sizeof names);
	assert_int_equal(store_list_items(f->s, "C", collect_item, &names), SUIDO_OK);
	assert_int_equal(names.n, 0);
	assert_int_equal(store_values(f->s, "C", "flow", 0, 10000, 0, collect_point, &c),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_count_points(f->s, "C", &n), SUIDO_OK);
	assert_int_equal(n, 0);
}

static void test_gateways(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	int64_t key;
	char owner[16], tiny[2];

	seed(f->s, "A", ids, 1, &key);
	seed(f->s, "B", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_gateway(f->s, "A", "A-gw1"), SUIDO_OK); /* idempotent */
	assert_int_equal(store_put_gateway(f->s, "B", "A-gw1"), SUIDO_ERR_EXISTS);
	assert_int_equal(store_put_gateway(f->s, "nobody", "gw9"), SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	assert_int_equal(store_gateway_utility(f->s, "A-gw1", owner, sizeof owner), SUIDO_OK);
	assert_string_equal(owner, "A");
	assert_int_equal(store_gateway_utility(f->s, "B-gw1", owner, sizeof owner), SUIDO_OK);
	assert_string_equal(owner, "B");
	assert_int_equal(store_gateway_utility(f->s, "gw9", owner, sizeof owner),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_gateway_utility(f->s, "A-gw1", tiny, 1), SUIDO_ERR_LIMIT);
	assert_int_equal(store_gateway_utility(f->s, "A-gw1", tiny, 2), SUIDO_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM gateways"), 2);
}

static void test_integrity(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	int64_t key;
	char err[256] = "";

	seed(f->s, "A", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 1, 1.0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	if (store_integrity_check(f->s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);

	/* A point whose item is gone, written behind the store's back, must be
	 * reported; so must an item of a missing utility. */
	raw_exec(f->path, "INSERT INTO blocks(item_key, t0, t1, n, data)"
			  " VALUES(999, 1, 1, 1, x'0102')");
	assert_int_equal(store_integrity_check(f->s, err, sizeof err), SUIDO_ERR_DB);
	assert_non_null(strstr(err, "999"));
	raw_exec(f->path, "DELETE FROM blocks WHERE item_key = 999");
	if (store_integrity_check(f->s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);

	/* A damaged block is reported by the check and by a read, never
	 * misread; so are two blocks of an item that overlap in time. */
	{
		struct pts c = {0};
		raw_exec(f->path, "INSERT INTO blocks(item_key, t0, t1, n, data)"
				  " VALUES(1, 100, 200, 2, x'0102')");
		assert_int_equal(store_integrity_check(f->s, err, sizeof err), SUIDO_ERR_DB);
		assert_non_null(strstr(err, "damaged"));
		assert_int_equal(store_values(f->s, "A", "flow", 0, 1000, 0, collect_point, &c),
				 SUIDO_ERR_DB);
		raw_exec(f->path, "DELETE FROM blocks WHERE t0 = 100");
		/* the point (1, 1.0) is block t0 = 1; a valid block over [0, 5] */
		raw_exec(f->path, "INSERT INTO blocks(item_key, t0, t1, n, data)"
				  " VALUES(1, 0, 5, 2, x'0102' || x'0402')");
		assert_int_equal(store_integrity_check(f->s, err, sizeof err), SUIDO_ERR_DB);
		assert_non_null(strstr(err, "overlap"));
		raw_exec(f->path, "DELETE FROM blocks WHERE t0 = 0");
		if (store_integrity_check(f->s, err, sizeof err) != SUIDO_OK)
			fail_msg("integrity: %s", err);
	}
	raw_exec(f->path, "PRAGMA foreign_keys=OFF;"
			  " INSERT INTO items(utility_key, id, name, unit, facility)"
			  " VALUES(777, 'x', 'x', '', '')");
	assert_int_equal(store_integrity_check(f->s, err, sizeof err), SUIDO_ERR_DB);
	assert_non_null(strstr(err, "items"));
}

static void test_reopen_persists(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	int64_t key, n = 0;
	char err[256];
	struct store_point p;

	seed(f->s, "A", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "A", "A-gw1", "A-gw1:1:1", 1, 2, NULL, 0),
			 SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 1000, 1.0), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 2000, 2.0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	/* An uncommitted transaction is rolled back by close. */
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 3000, 3.0), SUIDO_OK);
	store_close(f->s);
	f->s = NULL;

	assert_int_equal(store_open_sqlite(f->path, &f->s, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_count_points(f->s, "A", &n), SUIDO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(latest(f->s, "A", "flow", &p), SUIDO_OK);
	assert_int_equal(p.t_ms, 2000);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "A", "A-gw1", "A-gw1:1:1", 9, 2, NULL, 0),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(store_rollback(f->s), SUIDO_OK);
	if (store_integrity_check(f->s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);
}

/*
 * A VFS over the default one whose writes fail with SQLITE_FULL, as the unix
 * VFS reports ENOSPC, once write_budget bytes have been written (-1: never).
 */
struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_io;
static long long write_budget = -1;

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (write_budget >= 0) {
		if (n > write_budget) {
			write_budget = 0;
			return SQLITE_FULL;
		}
		write_budget -= n;
	}
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int shim_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	sf->real = (sqlite3_file *)(sf + 1);
	rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
	f->pMethods = sf->real->pMethods ? &shim_io : NULL;
	return rc;
}

static void shim_install(void)
{
	static const sqlite3_io_methods io = {
		2, shim_close, shim_read, shim_write, shim_truncate, shim_sync, shim_file_size,
		shim_lock, shim_unlock, shim_check_lock, shim_file_control, shim_sector_size,
		shim_device, shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap,
		NULL, NULL,
	};

	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	shim_io = io;
	shim_vfs = *real_vfs;
	shim_vfs.zName = "suido-test-full";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pNext = NULL;
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void shim_remove(void)
{
	assert_int_equal(sqlite3_vfs_unregister(&shim_vfs), SQLITE_OK);
	write_budget = -1;
}

static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	int64_t key, n = -1;
	struct store *s = NULL;
	char err[256];
	int rc = SUIDO_OK;

	seed(f->s, "A", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 1, 1.0), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	store_close(f->s);
	f->s = NULL;

	shim_install();
	assert_int_equal(store_open_sqlite(f->path, &s, err, sizeof err), SUIDO_OK);
	write_budget = 100000;
	assert_int_equal(store_begin(s), SUIDO_OK);
	for (int i = 0; i < 200000 && rc == SUIDO_OK; i++)
		rc = store_put_point(s, key, 1000000 + i, i); /* FULL if the cache spills */
	if (rc == SUIDO_OK)
		rc = store_commit(s);
	assert_int_equal(rc, SUIDO_ERR_FULL);
	assert_int_equal(store_rollback(s), SUIDO_OK);
	/* Space comes back: the store works again on the same handle. */
	write_budget = -1;
	assert_int_equal(store_begin(s), SUIDO_OK);
	assert_int_equal(store_put_point(s, key, 2, 2.0), SUIDO_OK);
	assert_int_equal(store_commit(s), SUIDO_OK);
	store_close(s);
	shim_remove();

	assert_int_equal(store_open_sqlite(f->path, &f->s, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_count_points(f->s, "A", &n), SUIDO_OK);
	assert_int_equal(n, 2);
	if (store_integrity_check(f->s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);
}

/* Copies a message's original into a fixed buffer. */
struct orig {
	char data[256];
	size_t len;
	int calls;
};

static void collect_original(void *ctx, const void *data, size_t len)
{
	struct orig *o = ctx;

	assert_true(len < sizeof o->data);
	memcpy(o->data, data, len);
	o->len = len;
	o->calls++;
}

static void test_original(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"flow"};
	static const char jws[] = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\0tail"; /* with a NUL */
	int64_t ka, kb;
	struct orig o = {0};

	seed(f->s, "A", ids, 1, &ka);
	seed(f->s, "B", ids, 1, &kb);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "A", "A-gw1", "A-gw1:1:1", 1, 0, jws,
					   sizeof jws - 1),
			 SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "A", "A-gw1", "A-gw1:1:2", 1, 0, NULL, 0),
			 SUIDO_OK);
	assert_int_equal(store_put_message(f->s, "B", "B-gw1", "B-gw1:1:1", 1, 0, "b", 1),
			 SUIDO_OK);
	/* A duplicate keeps the first original. */
	assert_int_equal(store_put_message(f->s, "A", "A-gw1", "A-gw1:1:1", 2, 0, "x", 1),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(store_commit(f->s), SUIDO_OK);

	assert_int_equal(store_get_original(f->s, "A", "A-gw1:1:1", collect_original, &o),
			 SUIDO_OK);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.len, sizeof jws - 1);
	assert_memory_equal(o.data, jws, sizeof jws - 1);
	assert_int_equal(raw_int(f->path, "SELECT typeof(original) = 'blob' FROM messages"
					  " WHERE id = 'A-gw1:1:1'"), 1);

	/* A plaintext gateway's message has none; an unknown id neither. */
	o.calls = 0;
	assert_int_equal(store_get_original(f->s, "A", "A-gw1:1:2", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_get_original(f->s, "A", "A-gw1:9:9", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	/* Tenant isolation: another utility's message is not found, whichever
	 * side asks; an unknown utility finds nothing. */
	assert_int_equal(store_get_original(f->s, "B", "A-gw1:1:1", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_get_original(f->s, "A", "B-gw1:1:1", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_get_original(f->s, "C", "A-gw1:1:1", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(o.calls, 0);
	assert_int_equal(store_get_original(f->s, "B", "B-gw1:1:1", collect_original, &o),
			 SUIDO_OK);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.data[0], 'b');
}

/* The schema of version 1, as the first release created it. */
static const char schema_v1[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version(version) VALUES(1);"
	"CREATE TABLE utilities(utility_key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL);"
	"CREATE TABLE gateways(gateway_key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key));"
	"CREATE INDEX gateways_utility ON gateways(utility_key);"
	"CREATE TABLE messages(id TEXT NOT NULL PRIMARY KEY,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key),"
	" gateway_key INTEGER NOT NULL REFERENCES gateways(gateway_key),"
	" received_ms INTEGER NOT NULL, n_points INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE items(item_key INTEGER PRIMARY KEY,"
	" utility_key INTEGER NOT NULL REFERENCES utilities(utility_key), id TEXT NOT NULL,"
	" name TEXT NOT NULL, unit TEXT NOT NULL, facility TEXT NOT NULL,"
	" UNIQUE(utility_key, id));"
	"CREATE TABLE points(item_key INTEGER NOT NULL, t INTEGER NOT NULL, v REAL,"
	" PRIMARY KEY(item_key, t)) WITHOUT ROWID;"
	"INSERT INTO utilities VALUES(1, 'A', 'Utility A');"
	"INSERT INTO gateways VALUES(1, 'A-gw1', 1);"
	"INSERT INTO messages VALUES('A-gw1:1:1', 1, 1, 1000, 1);"
	"INSERT INTO items VALUES(1, 1, 'flow', 'Flow', 'm3/h', '');"
	"INSERT INTO points VALUES(1, 1000, 4.5);";

static void test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct store_point p;
	struct orig o = {0};
	char path[160], err[256] = "";

	snprintf(path, sizeof path, "%s/v1.db", f->dir);
	raw_exec(path, "PRAGMA journal_mode=WAL");
	raw_exec(path, schema_v1);
	assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(raw_int(path, "SELECT version FROM schema_version"), 7);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'points'"), 0);
	assert_int_equal(raw_int(path, "SELECT n FROM blocks WHERE item_key = 1 AND t0 = 1000"), 1);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'files'"), 1);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'gateway_events'"),
			 1);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_table_info('messages')"
				       " WHERE name = 'original' AND type = 'BLOB'"), 1);
	/* Everything of version 1 is still there; its messages have no original. */
	assert_int_equal(latest(s, "A", "flow", &p), SUIDO_OK);
	assert_int_equal(p.t_ms, 1000);
	assert_true(p.v == 4.5);
	assert_int_equal(store_get_original(s, "A", "A-gw1:1:1", collect_original, &o),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(store_begin(s), SUIDO_OK);
	assert_int_equal(store_put_message(s, "A", "A-gw1", "A-gw1:1:1", 2, 0, "x", 1),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(store_put_message(s, "A", "A-gw1", "A-gw1:1:2", 2, 0, "sig", 3),
			 SUIDO_OK);
	assert_int_equal(store_commit(s), SUIDO_OK);
	assert_int_equal(store_get_original(s, "A", "A-gw1:1:2", collect_original, &o),
			 SUIDO_OK);
	assert_int_equal(o.len, 3);
	assert_memory_equal(o.data, "sig", 3);
	if (store_integrity_check(s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);
	store_close(s);
	s = NULL;
	/* Reopening the migrated file migrates nothing more. */
	assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(raw_int(path, "SELECT version FROM schema_version"), 7);
	store_close(s);
	/* A failed migration leaves version 1 as it was: a v1 file whose
	 * messages already have the column cannot take it a second time. */
	raw_exec(path, "UPDATE schema_version SET version = 1");
	s = NULL;
	assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_ERR_DB);
	assert_null(s);
	assert_non_null(strstr(err, "migration"));
	assert_int_equal(raw_int(path, "SELECT version FROM schema_version"), 1);
	unlink(path);
	snprintf(path, sizeof path, "%s/v1.db-wal", f->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/v1.db-shm", f->dir);
	unlink(path);
}


/* A version 6 database (one row per point) is migrated into blocks: every
 * point, number, NaN and text, reads back the same. */
static void test_migrate_v6_points(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct pts c = {0};
	struct store_point p;
	char path[160], err[256] = "", sql[256];
	int64_t n = 0;
	sqlite3 *db = NULL;

	/* a current database, turned back into version 6 by hand */
	snprintf(path, sizeof path, "%s/v6.db", f->dir);
	{
		const char *ids[] = {"flow", "state"};
		int64_t keys[2];
		assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_OK);
		seed(s, "A", ids, 2, keys);
		store_close(s);
		s = NULL;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE blocks;"
				      "CREATE TABLE points(item_key INTEGER NOT NULL, t INTEGER NOT NULL,"
				      " v REAL, s TEXT, PRIMARY KEY(item_key, t)) WITHOUT ROWID;"
				      "UPDATE schema_version SET version = 6;",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 600; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO points VALUES(1, %d, %s, NULL)", i * 1000,
			 i == 17 ? "NULL" : "1.5");
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(db, "INSERT INTO points VALUES(2, 5000, NULL, '運転');"
					  "INSERT INTO points VALUES(2, 6000, 2.25, NULL);",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(raw_int(path, "SELECT version FROM schema_version"), 7);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'points'"), 0);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM blocks WHERE item_key = 1"), 3);
	assert_int_equal(store_count_points(s, "A", &n), SUIDO_OK);
	assert_int_equal(n, 602);
	assert_int_equal(store_values(s, "A", "flow", 16000, 19000, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 3);
	assert_true(c.p[0].v == 1.5 && isnan(c.p[1].v) && c.p[2].v == 1.5);
	assert_int_equal(latest(s, "A", "flow", &p), SUIDO_OK);
	assert_int_equal(p.t_ms, 599000);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_values(s, "A", "state", 0, 10000, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 2);
	assert_non_null(c.p[0].text); /* borrowed: only whether it was text */
	assert_null(c.p[1].text);
	assert_true(c.p[1].v == 2.25);
	if (store_integrity_check(s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);
	store_close(s);
}

/*
 * Point blocks against a model: random transactions of points (mostly
 * appended in time, some inside or before what is stored, repeats of an
 * instant, numbers, NaN and texts; a tenth rolled back) into two items, and
 * after each one every range read, the newest point, the count and the
 * integrity check (which decodes every block and checks that none overlap)
 * agree with the model.
 */
#define MODEL_T 6000
struct model {
	signed char kind[2][MODEL_T]; /* 0 none, 1 number, 2 NaN, 3 text */
	double v[2][MODEL_T];
	int text[2][MODEL_T];         /* text values are "t<number>" */
};

struct check {
	const struct model *m;
	int item;
	int64_t next; /* the model's next instant expected, or MODEL_T */
	int64_t to;
	size_t n;
};

static int64_t model_next(const struct model *m, int item, int64_t from, int64_t to)
{
	while (from < to && !m->kind[item][from])
		from++;
	return from < to ? from : MODEL_T;
}

static int check_point(void *ctx, const struct store_point *p)
{
	struct check *c = ctx;
	int k;
	char want[32];

	assert_int_equal(p->t_ms, c->next);
	k = c->m->kind[c->item][p->t_ms];
	if (k == 3) {
		snprintf(want, sizeof want, "t%d", c->m->text[c->item][p->t_ms]);
		assert_non_null(p->text);
		assert_string_equal(p->text, want);
	} else {
		assert_null(p->text);
		if (k == 2)
			assert_true(isnan(p->v));
		else
			assert_true(p->v == c->m->v[c->item][p->t_ms]);
	}
	c->n++;
	c->next = model_next(c->m, c->item, p->t_ms + 1, c->to);
	return 0;
}

static void check_model(struct store *s, const struct model *m, unsigned *seed)
{
	const char *ids[2] = {"a", "b"};
	int64_t total = 0, n = 0;
	char err[256];

	for (int item = 0; item < 2; item++) {
		for (int q = 0; q < 6; q++) {
			int64_t from = q == 0 ? 0 : rand_r(seed) % MODEL_T;
			int64_t to = q == 0 ? MODEL_T : from + rand_r(seed) % 1500;
			struct check c = {m, item, 0, to, 0};
			size_t want = 0;
			if (to > MODEL_T)
				to = c.to = MODEL_T;
			c.next = model_next(m, item, from, to);
			for (int64_t t = from; t < to; t++)
				want += m->kind[item][t] != 0;
			assert_int_equal(store_values(s, "M", ids[item], from, to, 0, check_point, &c),
					 SUIDO_OK);
			assert_int_equal(c.n, want);
			assert_int_equal(c.next, MODEL_T);
			if (q == 0)
				total += (int64_t)want;
		}
		{
			struct store_point p;
			int64_t t = MODEL_T - 1;
			while (t >= 0 && !m->kind[item][t])
				t--;
			if (t < 0) {
				assert_int_equal(latest(s, "M", ids[item], &p), SUIDO_ERR_NOTFOUND);
			} else {
				assert_int_equal(latest(s, "M", ids[item], &p), SUIDO_OK);
				assert_int_equal(p.t_ms, t);
			}
		}
	}
	assert_int_equal(store_count_points(s, "M", &n), SUIDO_OK);
	assert_int_equal(n, total);
	if (store_integrity_check(s, err, sizeof err) != SUIDO_OK)
		fail_msg("integrity: %s", err);
}

static void test_blocks_model(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"a", "b"};
	int64_t keys[2];
	struct model *m = calloc(1, sizeof *m), *tx = malloc(sizeof *m);
	unsigned rs = 20261122;
	int64_t head[2] = {0, 0};

	assert_non_null(m);
	assert_non_null(tx);
	seed(f->s, "M", ids, 2, keys);
	for (int round = 0; round < 160; round++) {
		int n_puts = 1 + rand_r(&rs) % (round % 7 == 0 ? 400 : 40);
		int rollback = rand_r(&rs) % 10 == 0;
		memcpy(tx, m, sizeof *m);
		assert_int_equal(store_begin(f->s), SUIDO_OK);
		for (int i = 0; i < n_puts; i++) {
			int item = rand_r(&rs) % 2, how = rand_r(&rs) % 10, kind;
			int64_t t;
			char text[32];
			if (how < 7) /* append after what this item has */
				t = head[item] + rand_r(&rs) % 3;
			else /* anywhere before: replaces or fills in */
				t = rand_r(&rs) % (head[item] + 1);
			if (t >= MODEL_T)
				t = MODEL_T - 1;
			kind = 1 + (rand_r(&rs) % 20 == 0) + 2 * (rand_r(&rs) % 15 == 0);
			if (kind > 3)
				kind = 3;
			tx->kind[item][t] = (signed char)kind;
			if (kind == 3) {
				tx->text[item][t] = rand_r(&rs) % 100000;
				snprintf(text, sizeof text, "t%d", tx->text[item][t]);
				assert_int_equal(store_put_text(f->s, keys[item], t, text), SUIDO_OK);
			} else {
				tx->v[item][t] = (double)(rand_r(&rs) % 100000) / 8;
				assert_int_equal(store_put_point(f->s, keys[item], t,
								 kind == 2 ? NAN : tx->v[item][t]),
						 SUIDO_OK);
			}
			if (how < 7 && t >= head[item])
				head[item] = t + 1;
		}
		if (rollback) {
			assert_int_equal(store_rollback(f->s), SUIDO_OK);
		} else {
			assert_int_equal(store_commit(f->s), SUIDO_OK);
			memcpy(m, tx, sizeof *m);
		}
		check_model(f->s, m, &rs);
	}
	/* and the rows are blocks, not points: far fewer rows than points, even
	 * with the small blocks that points filled into gaps make (about 20
	 * points a block in this mix) */
	{
		long long rows = raw_int(f->path, "SELECT count(*) FROM blocks");
		long long pts = raw_int(f->path, "SELECT sum(n) FROM blocks");
		if (rows * 10 >= pts)
			fail_msg("%lld blocks for %lld points", rows, pts);
	}
	free(tx);
	free(m);
}

/* The int64 extremes are points like any other: the newest at INT64_MAX is
 * found, and a later merge of its block keeps it. */
static void test_blocks_extremes(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"x"};
	int64_t key, n = 0;
	struct store_point p;

	seed(f->s, "E", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, INT64_MIN, 1), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 0, 2), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, INT64_MAX - 1, 3), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, INT64_MAX, 4), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(latest(f->s, "E", "x", &p), SUIDO_OK);
	assert_true(p.t_ms == INT64_MAX && p.v == 4);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_text(f->s, key, 0, "置換"), SUIDO_OK); /* merges the block */
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	assert_int_equal(store_count_points(f->s, "E", &n), SUIDO_OK);
	assert_int_equal(n, 4);
	assert_int_equal(latest(f->s, "E", "x", &p), SUIDO_OK);
	assert_true(p.t_ms == INT64_MAX && p.v == 4);
}

/* A commit that touches the first and the last of many blocks rewrites
 * those two, not the ones between (they keep their rows). */
static void test_blocks_untouched_kept(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = {"y"};
	int64_t key, n = 0;
	long long middle_before, middle_after, rows_before;
	struct pts c = {0};

	seed(f->s, "K", ids, 1, &key);
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	for (int i = 0; i < 2560; i++)
		assert_int_equal(store_put_point(f->s, key, 1000LL * i, i), SUIDO_OK);
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	rows_before = raw_int(f->path, "SELECT count(*) FROM blocks");
	assert_true(rows_before >= 10);
	middle_before = raw_int(f->path, "SELECT sum(block_key * 7919 + t0 % 7919) FROM blocks"
					 " WHERE t0 > 300000 AND t1 < 2200000");
	assert_int_equal(store_begin(f->s), SUIDO_OK);
	assert_int_equal(store_put_point(f->s, key, 5000, -5), SUIDO_OK);   /* replaces */
	assert_int_equal(store_put_point(f->s, key, 5500, -55), SUIDO_OK);  /* fills in */
	assert_int_equal(store_put_point(f->s, key, 9000000, 9), SUIDO_OK); /* appends */
	assert_int_equal(store_commit(f->s), SUIDO_OK);
	middle_after = raw_int(f->path, "SELECT sum(block_key * 7919 + t0 % 7919) FROM blocks"
					" WHERE t0 > 300000 AND t1 < 2200000");
	assert_int_equal(middle_after, middle_before);
	assert_int_equal(store_count_points(f->s, "K", &n), SUIDO_OK);
	assert_int_equal(n, 2562);
	assert_int_equal(store_values(f->s, "K", "y", 4000, 6001, 0, collect_point, &c), SUIDO_OK);
	assert_int_equal(c.n, 4);
	assert_true(c.p[0].v == 4 && c.p[1].v == -5 && c.p[2].v == -55 && c.p[3].v == 6);
}

static void test_open_errors(void **state)
{
	struct store *s = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(store_open_sqlite("/nonexistent-dir/x/y.db", &s, err, sizeof err),
			 SUIDO_ERR_IO);
	assert_null(s);
	assert_true(err[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_item_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_seqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_original, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v6_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocks_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocks_extremes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocks_untouched_kept, setup, teardown),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
