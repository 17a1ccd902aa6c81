/*
 * The SQLite backend's point blocks (store_blocks.h): the write buffer, the
 * per-item flush (extend, new blocks, or merge), reads, the check and the
 * migration from the one-row-per-point table of schema version 6.
 */
#include "store_blocks.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptblock.h"
#include "store_int.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/strbuf.h"

/* A write buffer this large is written out before the commit. */
#define FLUSH_AT_POINTS 65536
#define NO_TEXT SIZE_MAX

/* A buffered point, or one read back from a block being merged. */
struct pend {
	int64_t t;
	double v;
	size_t off; /* text: offset in the arena; NO_TEXT for a number */
	size_t len;
	uint64_t seq; /* arrival order: at equal t the later wins; 0 = stored before */
};

struct vec {
	struct pend *p;
	size_t n, cap;
};

struct pend_item {
	int64_t item_key;
	struct vec v;
};

enum { S_PREV, S_RANGE, S_INSERT, S_UPDATE, S_DELETE, S_VALUES, S_LATEST, S__COUNT };

static const char *const sql[S__COUNT] = {
	[S_PREV] = "SELECT block_key, t0, t1, n, data FROM blocks"
		   " WHERE item_key = ?1 AND t0 < ?2 ORDER BY t0 DESC LIMIT 1",
	[S_RANGE] = "SELECT block_key, t0, t1, n, data FROM blocks"
		    " WHERE item_key = ?1 AND t0 >= ?2 AND t0 <= ?3 ORDER BY t0",
	[S_INSERT] = "INSERT INTO blocks(item_key, t0, t1, n, data) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_UPDATE] = "UPDATE blocks SET t1 = ?2, n = ?3, data = ?4 WHERE block_key = ?1",
	[S_DELETE] = "DELETE FROM blocks WHERE block_key = ?1",
	/* from the block holding from_ms (the last starting at or before it) on */
	[S_VALUES] = "SELECT t0, t1, n, data FROM blocks WHERE item_key = ?1"
		     " AND t0 >= coalesce((SELECT max(t0) FROM blocks"
		     " WHERE item_key = ?1 AND t0 <= ?2), ?2)"
		     " AND t0 < ?3 ORDER BY t0",
	[S_LATEST] = "SELECT t0, t1, n, data FROM blocks WHERE item_key = ?1"
		     " ORDER BY t0 DESC LIMIT 1",
};

struct blocks {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	struct pend_item *items;
	size_t n_items, cap_items;
	size_t *slots; /* open addressing: index + 1 into items, 0 = free */
	size_t n_slots; /* a power of two, at least twice n_items */
	struct strbuf arena; /* texts of struct pend */
	size_t n_points;
	uint64_t seq;
	/* flush scratch */
	struct vec old, merged;
	int64_t *del;
	size_t n_del, cap_del;
	/* t0 of the blocks inside the flushed range that no new point falls in:
	 * kept as they are, so no block written may reach over one (ascending) */
	int64_t *bar;
	size_t n_bar, cap_bar;
	struct strbuf blob;
	struct strbuf text; /* a NUL-terminated text for the readers' callbacks */
};

/* The array arr of *cap elements of size bytes, doubled (first when
 * empty): the new array (*cap updated), or NULL with arr and *cap kept. */
static void *grow(void *arr, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? *cap * 2 : first;
	void *na = realloc(arr, n * size);

	if (na)
		*cap = n;
	return na;
}

static int vec_push(struct vec *v, const struct pend *p)
{
	if (v->n == v->cap) {
		struct pend *np = grow(v->p, &v->cap, sizeof *np, 64);
		if (!np)
			return SUIDO_ERR_NOMEM;
		v->p = np;
	}
	v->p[v->n++] = *p;
	return SUIDO_OK;
}

int blocks_open(sqlite3 *db, struct blocks **out, char *err, size_t errlen)
{
	struct blocks *b = calloc(1, sizeof *b);

	*out = NULL;
	if (!b) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	b->db = db;
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &b->st[i], NULL) !=
		    SQLITE_OK) {
			suido_errf(err, errlen, "prepare blocks: %s", sqlite3_errmsg(db));
			blocks_close(b);
			return SUIDO_ERR_DB;
		}
	}
	*out = b;
	return SUIDO_OK;
}

void blocks_discard(struct blocks *b)
{
	for (size_t i = 0; i < b->n_items; i++)
		free(b->items[i].v.p);
	b->n_items = 0;
	if (b->slots)
		memset(b->slots, 0, b->n_slots * sizeof *b->slots);
	strbuf_reset(&b->arena);
	b->arena.failed = 0;
	b->n_points = 0;
}

void blocks_close(struct blocks *b)
{
	if (!b)
		return;
	blocks_discard(b);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(b->st[i]);
	free(b->items);
	free(b->slots);
	free(b->old.p);
	free(b->merged.p);
	free(b->del);
	free(b->bar);
	strbuf_free(&b->arena);
	strbuf_free(&b->blob);
	strbuf_free(&b->text);
	free(b);
}

int blocks_pending(const struct blocks *b)
{
	return b->n_points > 0;
}

static size_t slot_of(int64_t key, size_t n_slots)
{
	return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 17) & (n_slots - 1);
}

/* The buffer of item_key, created when missing; NULL when out of memory. */
static struct pend_item *item_of(struct blocks *b, int64_t key)
{
	size_t s;

	if (b->n_slots) {
		for (s = slot_of(key, b->n_slots); b->slots[s]; s = (s + 1) & (b->n_slots - 1))
			if (b->items[b->slots[s] - 1].item_key == key)
				return &b->items[b->slots[s] - 1];
	}
	if (b->n_items == b->cap_items) {
		struct pend_item *ni = grow(b->items, &b->cap_items, sizeof *ni, 16);
		if (!ni)
			return NULL;
		b->items = ni;
	}
	if (2 * (b->n_items + 1) > b->n_slots) {
		size_t ns = b->n_slots ? b->n_slots * 2 : 64;
		size_t *nsl = calloc(ns, sizeof *nsl);
		if (!nsl)
			return NULL;
		for (size_t i = 0; i < b->n_items; i++) {
			for (s = slot_of(b->items[i].item_key, ns); nsl[s]; s = (s + 1) & (ns - 1))
				;
			nsl[s] = i + 1;
		}
		free(b->slots);
		b->slots = nsl;
		b->n_slots = ns;
	}
	for (s = slot_of(key, b->n_slots); b->slots[s]; s = (s + 1) & (b->n_slots - 1))
		;
	b->items[b->n_items] = (struct pend_item){key, {NULL, 0, 0}};
	b->slots[s] = ++b->n_items;
	return &b->items[b->n_items - 1];
}

int blocks_add(struct blocks *b, int64_t item_key, int64_t t_ms, double v, const char *text)
{
	struct pend p = {t_ms, v, NO_TEXT, 0, ++b->seq};
	struct pend_item *it;

	if (text) {
		p.len = strlen(text);
		if (p.len > PTBLOCK_TEXT_MAX)
			return SUIDO_ERR_LIMIT;
		p.off = b->arena.len;
		if (strbuf_append(&b->arena, text, p.len) != SUIDO_OK)
			return SUIDO_ERR_NOMEM;
	}
	if (!(it = item_of(b, item_key)) || vec_push(&it->v, &p) != SUIDO_OK)
		return SUIDO_ERR_NOMEM;
	if (++b->n_points >= FLUSH_AT_POINTS)
		return blocks_flush(b);
	return SUIDO_OK;
}

static int cmp_pend(const void *x, const void *y)
{
	const struct pend *a = x, *c = y;

	if (a->t != c->t)
		return a->t < c->t ? -1 : 1;
	return a->seq < c->seq ? -1 : a->seq > c->seq;
}

static void to_point(const struct blocks *b, const struct pend *p, struct ptblock_point *out)
{
	out->t_ms = p->t;
	out->v = p->v;
	out->text = p->off == NO_TEXT ? NULL : b->arena.data ? b->arena.data + p->off : "";
	out->text_len = p->len;
}

static int step_done(struct blocks *b, int id, const char *what)
{
	int rc = sqlite3_step(b->st[id]);

	sqlite3_reset(b->st[id]);
	return rc == SQLITE_DONE ? SUIDO_OK : store_sqlite_fail(b->db, rc, what);
}

/* The first barrier (b->bar) after time t: *limit, and 1; 0 when none. */
static int barrier_after(const struct blocks *b, int64_t t, size_t *j, int64_t *limit)
{
	while (*j < b->n_bar && b->bar[*j] <= t)
		++*j;
	if (*j == b->n_bar)
		return 0;
	*limit = b->bar[*j];
	return 1;
}

/* Writes p[0..n) (ascending, distinct times, none inside a kept block) of
 * item key as new blocks, none reaching over a kept block (b->bar). */
static int write_new(struct blocks *b, int64_t key, const struct pend *p, size_t n)
{
	size_t i = 0, j = 0;
	int rc;

	while (i < n) {
		sqlite3_stmt *st = b->st[S_INSERT];
		int64_t t0 = p[i].t, prev = t0, limit = 0;
		int bounded = barrier_after(b, t0, &j, &limit);
		size_t k = 0;

		strbuf_reset(&b->blob);
		while (i < n && k < PTBLOCK_MAX_POINTS &&
		       (k == 0 || (b->blob.len < PTBLOCK_TARGET_BYTES && (!bounded || p[i].t < limit)))) {
			struct ptblock_point pt;
			to_point(b, &p[i], &pt);
			if ((rc = ptblock_append(&b->blob, k == 0, prev, &pt, 1)) != SUIDO_OK)
				return rc;
			prev = p[i].t;
			i++;
			k++;
		}
		sqlite3_bind_int64(st, 1, key);
		sqlite3_bind_int64(st, 2, t0);
		sqlite3_bind_int64(st, 3, prev);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)k);
		sqlite3_bind_blob64(st, 5, b->blob.data, b->blob.len, SQLITE_STATIC);
		rc = step_done(b, S_INSERT, "write point block");
		sqlite3_bind_null(st, 5);
		if (rc != SUIDO_OK)
			return rc;
	}
	return SUIDO_OK;
}

/* ptblock_fn collecting a stored block's points into b->old (seq 0: any
 * buffered point at the same instant replaces it). */
static int collect_old(void *ctx, const struct ptblock_point *pt)
{
	struct blocks *b = ctx;
	struct pend p = {pt->t_ms, pt->v, NO_TEXT, 0, 0};

	if (pt->text) {
		p.off = b->arena.len;
		p.len = pt->text_len;
		if (strbuf_append(&b->arena, pt->text, pt->text_len) != SUIDO_OK)
			return 1;
	}
	return vec_push(&b->old, &p) != SUIDO_OK;
}

/* Decodes the block in the current row of st (columns key, t0, t1, n,
 * data) into b->old and queues its key for deletion. */
static int take_old(struct blocks *b, sqlite3_stmt *st, int64_t item_key)
{
	char err[160];
	int stopped, rc;

	if (b->n_del == b->cap_del) {
		int64_t *nd = grow(b->del, &b->cap_del, sizeof *nd, 8);
		if (!nd)
			return SUIDO_ERR_NOMEM;
		b->del = nd;
	}
	b->del[b->n_del++] = sqlite3_column_int64(st, 0);
	rc = ptblock_decode(sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4),
			    sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
			    sqlite3_column_int64(st, 3), INT64_MIN, INT64_MAX, collect_old, b,
			    &stopped, err, sizeof err);
	if (rc != SUIDO_OK) {
		log_error("store", "item %lld: %s", (long long)item_key, err);
		return SUIDO_ERR_DB;
	}
	if (stopped || b->arena.failed)
		return SUIDO_ERR_NOMEM;
	return SUIDO_OK;
}

/* Merges b->old (ascending) and p[0..n) (ascending, distinct) into
 * b->merged; at equal times the new point wins. */
static int merge(struct blocks *b, const struct pend *p, size_t n)
{
	size_t i = 0, j = 0;
	int rc = SUIDO_OK;

	b->merged.n = 0;
	while (rc == SUIDO_OK && (i < b->old.n || j < n)) {
		if (j == n || (i < b->old.n && b->old.p[i].t < p[j].t)) {
			rc = vec_push(&b->merged, &b->old.p[i++]);
		} else {
			if (i < b->old.n && b->old.p[i].t == p[j].t)
				i++;
			rc = vec_push(&b->merged, &p[j++]);
		}
	}
	return rc;
}

/* Sorts an item's buffered points by time (arrival order at equal times)
 * and keeps the last of each instant. Returns the new count. */
static size_t sort_dedupe(struct pend *p, size_t n)
{
	size_t m = 0;

	qsort(p, n, sizeof *p, cmp_pend);
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && p[m - 1].t == p[i].t)
			m--;
		p[m++] = p[i];
	}
	return m;
}

/* Appends p[0..n) to the block in the current row of S_PREV while it has
 * room; returns how many were taken in *taken. */
static int extend_prev(struct blocks *b, const struct pend *p, size_t n, size_t *taken)
{
	sqlite3_stmt *st = b->st[S_PREV], *up = b->st[S_UPDATE];
	int64_t key = sqlite3_column_int64(st, 0), prev = sqlite3_column_int64(st, 2);
	int64_t have = sqlite3_column_int64(st, 3);
	size_t k = 0;
	int rc;

	*taken = 0;
	strbuf_reset(&b->blob);
	if (strbuf_append(&b->blob, sqlite3_column_blob(st, 4),
			  (size_t)sqlite3_column_bytes(st, 4)) != SUIDO_OK) {
		sqlite3_reset(st);
		return SUIDO_ERR_NOMEM;
	}
	sqlite3_reset(st);
	/* not over a kept block: the first barrier lies after the whole block */
	while (k < n && have + (int64_t)k < PTBLOCK_MAX_POINTS &&
	       b->blob.len < PTBLOCK_TARGET_BYTES && (b->n_bar == 0 || p[k].t < b->bar[0])) {
		struct ptblock_point pt;
		to_point(b, &p[k], &pt);
		if ((rc = ptblock_append(&b->blob, 0, prev, &pt, 1)) != SUIDO_OK)
			return rc;
		prev = p[k].t;
		k++;
	}
	if (k == 0)
		return SUIDO_OK;
	sqlite3_bind_int64(up, 1, key);
	sqlite3_bind_int64(up, 2, prev);
	sqlite3_bind_int64(up, 3, have + (int64_t)k);
	sqlite3_bind_blob64(up, 4, b->blob.data, b->blob.len, SQLITE_STATIC);
	rc = step_done(b, S_UPDATE, "extend point block");
	sqlite3_bind_null(up, 4);
	*taken = k;
	return rc;
}

/* Nonzero when one of p[0..n) (ascending) lies in [t0, t1]. */
static int touches(const struct pend *p, size_t n, int64_t t0, int64_t t1)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p[mid].t < t0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && p[lo].t <= t1;
}

static int push_bar(struct blocks *b, int64_t t0)
{
	if (b->n_bar == b->cap_bar) {
		int64_t *nb = grow(b->bar, &b->cap_bar, sizeof *nb, 8);
		if (!nb)
			return SUIDO_ERR_NOMEM;
		b->bar = nb;
	}
	b->bar[b->n_bar++] = t0;
	return SUIDO_OK;
}

static int flush_item(struct blocks *b, struct pend_item *it)
{
	sqlite3_stmt *prev = b->st[S_PREV], *range = b->st[S_RANGE];
	size_t n = sort_dedupe(it->v.p, it->v.n), taken = 0;
	const struct pend *p = it->v.p;
	int64_t lo = p[0].t, hi = p[n - 1].t;
	int rc, ret, has_prev, overlap;

	b->old.n = 0;
	b->n_del = 0;
	b->n_bar = 0;
	sqlite3_bind_int64(prev, 1, it->item_key);
	sqlite3_bind_int64(prev, 2, lo);
	rc = sqlite3_step(prev);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(prev);
		return store_sqlite_fail(b->db, rc, "read point block");
	}
	has_prev = rc == SQLITE_ROW;
	overlap = has_prev && sqlite3_column_int64(prev, 2) >= lo;
	if (overlap && (rc = take_old(b, prev, it->item_key)) != SUIDO_OK) {
		sqlite3_reset(prev);
		return rc;
	}
	/* blocks starting inside [lo, hi]: merged when a new point falls in
	 * one, else kept as they are */
	sqlite3_bind_int64(range, 1, it->item_key);
	sqlite3_bind_int64(range, 2, lo);
	sqlite3_bind_int64(range, 3, hi);
	ret = SUIDO_OK;
	while (ret == SUIDO_OK && (rc = sqlite3_step(range)) == SQLITE_ROW) {
		if (touches(p, n, sqlite3_column_int64(range, 1), sqlite3_column_int64(range, 2)))
			ret = take_old(b, range, it->item_key);
		else
			ret = push_bar(b, sqlite3_column_int64(range, 1));
	}
	if (ret == SUIDO_OK && rc != SQLITE_DONE)
		ret = store_sqlite_fail(b->db, rc, "read point blocks");
	sqlite3_reset(range);
	if (ret != SUIDO_OK) {
		sqlite3_reset(prev);
		return ret;
	}
	if (b->n_del == 0) {
		/* the usual case: no new point falls inside a stored block */
		if (has_prev && sqlite3_column_int64(prev, 3) < PTBLOCK_MAX_POINTS &&
		    sqlite3_column_bytes(prev, 4) < PTBLOCK_TARGET_BYTES) {
			if ((rc = extend_prev(b, p, n, &taken)) != SUIDO_OK)
				return rc;
		} else {
			sqlite3_reset(prev);
		}
		return write_new(b, it->item_key, p + taken, n - taken);
	}
	sqlite3_reset(prev);
	if ((rc = merge(b, p, n)) != SUIDO_OK)
		return rc;
	for (size_t i = 0; i < b->n_del; i++) {
		sqlite3_bind_int64(b->st[S_DELETE], 1, b->del[i]);
		if ((rc = step_done(b, S_DELETE, "replace point block")) != SUIDO_OK)
			return rc;
	}
	return write_new(b, it->item_key, b->merged.p, b->merged.n);
}

int blocks_flush(struct blocks *b)
{
	int rc = SUIDO_OK;

	if (b->arena.failed)
		rc = SUIDO_ERR_NOMEM;
	for (size_t i = 0; rc == SUIDO_OK && i < b->n_items; i++)
		if (b->items[i].v.n > 0)
			rc = flush_item(b, &b->items[i]);
	blocks_discard(b);
	return rc;
}

/* ---------------------------------------------------------------- reads */

struct emit {
	struct blocks *b;
	store_point_fn fn;
	void *ctx;
	size_t limit, n;
	int nomem;
};

/* A block point as a store point (its text copied and NUL-terminated). */
static int as_store_point(struct blocks *b, const struct ptblock_point *pt, struct store_point *sp)
{
	sp->t_ms = pt->t_ms;
	sp->v = pt->text ? 0 : pt->v;
	sp->text = NULL;
	if (pt->text) {
		strbuf_reset(&b->text);
		if (strbuf_append(&b->text, pt->text, pt->text_len) != SUIDO_OK)
			return SUIDO_ERR_NOMEM;
		sp->text = b->text.data ? b->text.data : "";
	}
	return SUIDO_OK;
}

static int emit_point(void *ctx, const struct ptblock_point *pt)
{
	struct emit *e = ctx;
	struct store_point sp;

	if (as_store_point(e->b, pt, &sp) != SUIDO_OK) {
		e->nomem = 1;
		return 1;
	}
	e->n++;
	return e->fn(e->ctx, &sp) != 0 || (e->limit && e->n >= e->limit);
}

/* Decodes the block in columns 0..3 (t0, t1, n, data) of st. */
static int decode_row(sqlite3_stmt *st, int64_t item_key, int64_t from, int64_t to,
		      ptblock_fn fn, void *ctx, int *stopped)
{
	char err[160];
	int rc = ptblock_decode(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3),
				sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
				sqlite3_column_int64(st, 2), from, to, fn, ctx, stopped, err,
				sizeof err);

	if (rc != SUIDO_OK) {
		log_error("store", "item %lld: %s", (long long)item_key, err);
		return SUIDO_ERR_DB;
	}
	return SUIDO_OK;
}

int blocks_values(struct blocks *b, int64_t item_key, int64_t from_ms, int64_t to_ms,
		  size_t limit, store_point_fn fn, void *ctx, size_t *n)
{
	sqlite3_stmt *st = b->st[S_VALUES];
	struct emit e = {b, fn, ctx, limit, 0, 0};
	int rc, ret = SUIDO_OK, stopped = 0;

	assert(!blocks_pending(b));
	sqlite3_bind_int64(st, 1, item_key);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	while (!stopped && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ret = decode_row(st, item_key, from_ms, to_ms, emit_point, &e, &stopped)) !=
		    SUIDO_OK)
			break;
	if (ret == SUIDO_OK && !stopped && rc != SQLITE_DONE)
		ret = store_sqlite_fail(b->db, rc, "read values");
	if (e.nomem)
		ret = SUIDO_ERR_NOMEM;
	sqlite3_reset(st);
	*n = e.n;
	return ret;
}

struct last {
	struct ptblock_point pt;
};

static int keep_last(void *ctx, const struct ptblock_point *pt)
{
	((struct last *)ctx)->pt = *pt;
	return 0;
}

int blocks_latest(struct blocks *b, int64_t item_key, store_point_fn fn, void *ctx)
{
	sqlite3_stmt *st = b->st[S_LATEST];
	struct last last = {{0}};
	int rc, ret;

	assert(!blocks_pending(b));
	sqlite3_bind_int64(st, 1, item_key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ret = decode_row(st, item_key, INT64_MIN, INT64_MAX, keep_last, &last, NULL);
		if (ret == SUIDO_OK) {
			struct store_point sp;
			ret = as_store_point(b, &last.pt, &sp);
			if (ret == SUIDO_OK)
				fn(ctx, &sp);
		}
	} else {
		ret = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : store_sqlite_fail(b->db, rc, "latest");
	}
	sqlite3_reset(st);
	return ret;
}

/* --------------------------------------------------------- check, migrate */

int blocks_check(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t prev_item = 0, prev_t1 = 0;
	int rc, ret = SUIDO_OK, first = 1;

	rc = sqlite3_prepare_v2(db,
				"SELECT t0, t1, n, data, item_key FROM blocks ORDER BY item_key, t0",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = SQLITE_ROW;
	while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t item = sqlite3_column_int64(st, 4), t0 = sqlite3_column_int64(st, 0);
		char why[160];
		if (!first && item == prev_item && t0 <= prev_t1) {
			suido_errf(err, errlen, "point blocks of item %lld overlap at %lld",
				(long long)item, (long long)t0);
			ret = SUIDO_ERR_DB;
			break;
		}
		if (ptblock_decode(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), t0,
				   sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
				   INT64_MIN, INT64_MAX, NULL, NULL, NULL, why, sizeof why) != SUIDO_OK) {
			suido_errf(err, errlen, "item %lld: %s", (long long)item, why);
			ret = SUIDO_ERR_DB;
			break;
		}
		first = 0;
		prev_item = item;
		prev_t1 = sqlite3_column_int64(st, 1);
	}
	if (ret == SUIDO_OK && rc != SQLITE_DONE) {
		suido_errf(err, errlen, "point block check: %s", sqlite3_errmsg(db));
		ret = SUIDO_ERR_DB;
	}
	sqlite3_finalize(st);
	return ret;
}

int blocks_migrate_points(sqlite3 *db, char *err, size_t errlen)
{
	struct blocks *b = NULL;
	sqlite3_stmt *st = NULL;
	int rc, ret;
	int64_t moved = 0;

	rc = sqlite3_exec(db, BLOCKS_SQL, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "create blocks: %s", sqlite3_errmsg(db));
		return (rc & 0xff) == SQLITE_FULL ? SUIDO_ERR_FULL : SUIDO_ERR_DB;
	}
	if ((ret = blocks_open(db, &b, err, errlen)) != SUIDO_OK)
		return ret;
	rc = sqlite3_prepare_v2(db, "SELECT item_key, t, v, s FROM points ORDER BY item_key, t", -1,
				&st, NULL);
	if (rc == SQLITE_OK)
		rc = SQLITE_ROW;
	while (ret == SUIDO_OK && rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 3);
		double v = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN
								      : sqlite3_column_double(st, 2);
		ret = blocks_add(b, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), v, s);
		moved++;
	}
	if (ret == SUIDO_OK && rc != SQLITE_DONE) {
		ret = (rc & 0xff) == SQLITE_FULL ? SUIDO_ERR_FULL : SUIDO_ERR_DB;
		suido_errf(err, errlen, "read points: %s", sqlite3_errmsg(db));
	} else if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "move points into blocks: %s", suido_strerror(ret));
	}
	sqlite3_finalize(st);
	if (ret == SUIDO_OK && (ret = blocks_flush(b)) != SUIDO_OK)
		suido_errf(err, errlen, "write point blocks: %s", suido_strerror(ret));
	blocks_close(b);
	if (ret == SUIDO_OK)
		log_info("store", "moved %lld points into point blocks", (long long)moved);
	return ret;
}
