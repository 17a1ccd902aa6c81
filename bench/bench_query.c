/*
 * bench_query: the two C sides of the query_range benchmark.
 *
 *   bench_query populate DB UTILITY GATEWAY N_ITEMS REF_DB
 *     Creates a platform database with the store API (store_open_sqlite, so
 *     the real schema): the utility, the gateway, N_ITEMS items "q.itemNNN"
 *     and three days of 1-minute values each (the measured day
 *     2026-11-19T15:00Z .. 2026-11-20T15:00Z, plus the day before and after,
 *     so the range read has to select, not just dump the table). REF_DB gets
 *     the same rows in plain tables for the reference query: utilities,
 *     items, and points(item_key, t, v) clustered on (item_key, t), one row
 *     per point.
 *
 *   bench_query fetch BASE_URL TOKEN UTILITY N_ITEMS FROM TO REPS
 *     With libcurl, one easy handle (one keep-alive connection), GETs
 *     BASE_URL/ap/v1/utilities/UTILITY/items/q.itemNNN/values?from=FROM&to=TO
 *     for every item, REPS times over. The first pass checks every answer
 *     (HTTP 200, one page, 1440 points); each pass prints one line
 *     "pass=K seconds=S points=P bytes=B connects=C" (C: new TCP connections
 *     curl had to open, 0 when the previous pass's connection was kept).
 *
 * libcurl is loaded with dlopen: the benchmark helpers are linked by the
 * project's CMakeLists.txt with the platform and gateway modules only.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bench_gen.h"
#include <sqlite3.h>

#include "suido/error.h"
#include "suido/store.h"

#define POINTS_PER_DAY 1440

static size_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0)
		bench_die("%s: expected a positive integer, got \"%s\"", what, s);
	return (size_t)v;
}

static void ref_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		bench_die("reference database: %s: %s", sql, sqlite3_errmsg(db));
}

static int populate(const char *path, const char *utility, const char *gateway, size_t n_items,
		    const char *ref_path)
{
	struct store *st = NULL;
	sqlite3 *ref = NULL;
	sqlite3_stmt *ins_item = NULL, *ins_point = NULL;
	char err[512];
	int rc;

	if (store_open_sqlite(path, &st, err, sizeof err) != SUIDO_OK)
		bench_die("%s: %s", path, err);
	if (sqlite3_open(ref_path, &ref) != SQLITE_OK)
		bench_die("%s: %s", ref_path, sqlite3_errmsg(ref));
	ref_exec(ref, "PRAGMA journal_mode=WAL;"
		      "CREATE TABLE utilities(utility_key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);"
		      "CREATE TABLE items(item_key INTEGER PRIMARY KEY, utility_key INTEGER NOT NULL,"
		      " id TEXT NOT NULL, UNIQUE(utility_key, id));"
		      "CREATE TABLE points(item_key INTEGER NOT NULL, t INTEGER NOT NULL, v REAL,"
		      " PRIMARY KEY(item_key, t)) WITHOUT ROWID;"
		      "BEGIN;");
	if (sqlite3_prepare_v2(ref, "INSERT INTO items(utility_key, id) VALUES(1, ?1)", -1,
			       &ins_item, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ref, "INSERT INTO points VALUES(last_insert_rowid(), ?1, ?2)", -1,
			       &ins_point, NULL) != SQLITE_OK)
		bench_die("reference database: %s", sqlite3_errmsg(ref));
	{
		char sql[160];
		snprintf(sql, sizeof sql, "INSERT INTO utilities VALUES(1, '%s')", utility);
		ref_exec(ref, sql);
	}
	rc = store_begin(st);
	if (rc == SUIDO_OK)
		rc = store_put_utility(st, utility, "ベンチ市水道局");
	if (rc == SUIDO_OK)
		rc = store_put_gateway(st, utility, gateway);
	for (size_t i = 0; rc == SUIDO_OK && i < n_items; i++) {
		char id[32], name[64];
		int64_t key = 0;
		snprintf(id, sizeof id, "q.item%03zu", i);
		snprintf(name, sizeof name, "配水量%03zu(m3/h)", i);
		struct store_item it = {id, name, "m3/h", "ベンチ配水池"};
		rc = store_put_item(st, utility, &it, &key);
		sqlite3_bind_text(ins_item, 1, id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ins_item) != SQLITE_DONE)
			bench_die("reference item: %s", sqlite3_errmsg(ref));
		sqlite3_reset(ins_item);
		/* last_insert_rowid() is the item's until the next item */
		for (int64_t k = -POINTS_PER_DAY; rc == SUIDO_OK && k < 2 * POINTS_PER_DAY; k++) {
			double v = (double)((k * 37 + (int64_t)i * 101 + 100000) % 10000) / 1000.0;
			rc = store_put_point(st, key, BENCH_BASE_MS + k * BENCH_STEP_MS, v);
			sqlite3_bind_int64(ins_point, 1, BENCH_BASE_MS + k * BENCH_STEP_MS);
			sqlite3_bind_double(ins_point, 2, v);
			if (sqlite3_step(ins_point) != SQLITE_DONE)
				bench_die("reference point: %s", sqlite3_errmsg(ref));
			sqlite3_reset(ins_point);
		}
	}
	sqlite3_finalize(ins_item);
	sqlite3_finalize(ins_point);
	ref_exec(ref, "COMMIT");
	sqlite3_close(ref);
	if (rc == SUIDO_OK)
		rc = store_commit(st);
	if (rc != SUIDO_OK)
		bench_die("populate: %s", suido_strerror(rc));
	store_close(st);
	printf("items=%zu\npoints=%zu\n", n_items, n_items * 3 * POINTS_PER_DAY);
	return 0;
}

struct body {
	char *data;
	size_t len, cap;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = size * n;

	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (cap < b->len + add + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, nl = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle))
		n++;
	return n;
}

static int fetch(const char *base, const char *token, const char *utility, size_t n_items,
		 const char *from, const char *to, size_t reps)
{
	struct bench_curl c;
	struct curl_slist *hdr = NULL;
	struct body b = {0};
	char auth[8192]; /* an RS256 access token is about 700 bytes */
	CURL *h;

	bench_curl_load(&c);
	if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = c.easy_init()))
		bench_die("curl init failed");
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	hdr = c.slist_append(hdr, auth);
	c.easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	c.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	c.easy_setopt(h, CURLOPT_WRITEDATA, &b);
	c.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	c.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	for (size_t pass = 0; pass < reps; pass++) {
		size_t bytes = 0, points = 0, connects = 0;
		double t0 = bench_now();
		for (size_t i = 0; i < n_items; i++) {
			char url[1024];
			long code = 0, nconn = 0;
			CURLcode rc;
			snprintf(url, sizeof url, "%s/ap/v1/utilities/%s/items/q.item%03zu/values?from=%s&to=%s",
				 base, utility, i, from, to);
			b.len = 0;
			c.easy_setopt(h, CURLOPT_URL, url);
			rc = c.easy_perform(h);
			if (rc != CURLE_OK)
				bench_die("%s: %s", url, c.easy_strerror(rc));
			c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
			c.easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
			connects += (size_t)nconn;
			if (code != 200 || b.len < 13 ||
			    memcmp(b.data + b.len - 13, ",\"next\":null}", 13) != 0) {
				fprintf(stderr, "bench_query: %s: HTTP %ld: %.300s\n", url, code,
					b.data ? b.data : "");
				exit(70);
			}
			if (pass == 0) {
				size_t n = count(b.data, "{\"t\":");
				if (n != POINTS_PER_DAY)
					bench_die("%s: expected %d points, got %zu", url, POINTS_PER_DAY, n);
				points += n;
			} else {
				points += POINTS_PER_DAY;
			}
			bytes += b.len;
		}
		printf("pass=%zu seconds=%.6f points=%zu bytes=%zu connects=%zu\n", pass,
		       bench_now() - t0, points, bytes, connects);
		fflush(stdout);
	}
	c.easy_cleanup(h);
	c.slist_free_all(hdr);
	free(b.data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "populate") == 0)
		return populate(argv[2], argv[3], argv[4], parse_size(argv[5], "N_ITEMS"), argv[6]);
	if (argc == 9 && strcmp(argv[1], "fetch") == 0)
		return fetch(argv[2], argv[3], argv[4], parse_size(argv[5], "N_ITEMS"), argv[6],
			     argv[7], parse_size(argv[8], "REPS"));
	fprintf(stderr, "usage: bench_query populate DB UTILITY GATEWAY N_ITEMS REF_DB\n"
			"       bench_query fetch BASE_URL TOKEN UTILITY N_ITEMS FROM TO REPS\n");
	return 64;
}
