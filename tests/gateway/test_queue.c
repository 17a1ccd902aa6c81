/* Tests for the gateway's durable queue (queue.h): points become messages in
 * order, ids never repeat (not even after a purge or a reopen), acks are
 * recorded once, and a queue refuses to serve another gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>

#include "queue.h"
#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

static char dir[64], db[128];

static int setup(void **state)
{
	timeutil_set_zone("Asia/Tokyo");
	strcpy(dir, "/tmp/suido-queue-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/queue.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static const struct mapping_item A = {"w.a", "水位(m)", "m", "配水池"};
static const struct mapping_item B = {"w.b", "流量", "", ""};

static void add_points(struct queue *q, int n, int64_t t0)
{
	assert_int_equal(queue_intake_begin(q), SUIDO_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(queue_intake_point(q, i % 2 ? &B : &A, t0 + i * 1000, i + 0.5),
				 SUIDO_OK);
}

static void test_messages_in_order(void **state)
{
	struct queue *q = NULL;
	struct queue_msg m;
	struct profile_msg *pm = NULL;
	struct queue_stats st;
	char err[256];
	int made;
	uint64_t seq;

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	add_points(q, 25, 1795100400000LL);
	assert_int_equal(queue_intake_commit(q, "aa", "f.csv", 1, "{}"), SUIDO_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(queue_make_message(q, 10, 5000, &made), SUIDO_OK);
	assert_int_equal(made, 1);
	assert_int_equal(queue_make_message(q, 10, 5000, &made), SUIDO_OK);
	assert_int_equal(made, 0);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 0);
	assert_int_equal(st.unacked_msgs, 3);
	assert_int_equal(st.unacked_points, 25);

	assert_int_equal(queue_next_unacked(q, 0, &m), SUIDO_OK);
	assert_int_equal(m.seq, 1);
	char want[64];
	snprintf(want, sizeof want, "gw1:%lld:1", (long long)queue_epoch(q));
	assert_string_equal(m.id, want);
	assert_int_equal(profile_decode(m.payload, m.len, NULL, &pm, err, sizeof err), SUIDO_OK);
	assert_string_equal(pm->id, want);
	assert_string_equal(pm->utility, "demo");
	assert_int_equal(pm->n_points, 10);
	assert_int_equal(pm->n_items, 2);
	assert_string_equal(pm->items[pm->points[0].item].name, "水位(m)");
	assert_true(pm->points[0].t_ms == 1795100400000LL && pm->points[0].v == 0.5);
	assert_true(pm->points[9].v == 9.5);
	profile_msg_free(pm);

	assert_int_equal(queue_ack(q, m.id, 6000, &seq), SUIDO_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(queue_ack(q, m.id, 6000, &seq), SUIDO_ERR_EXISTS);
	assert_int_equal(queue_ack(q, "gw2:1:1", 6000, &seq), SUIDO_ERR_NOTFOUND);
	assert_int_equal(queue_ack(q, "gw1:1:999", 6000, &seq), SUIDO_ERR_NOTFOUND);
	free(m.payload);
	assert_int_equal(queue_next_unacked(q, 0, &m), SUIDO_OK);
	assert_int_equal(m.seq, 2);
	free(m.payload);
	assert_int_equal(queue_next_unacked(q, 3, &m), SUIDO_ERR_NOTFOUND);
	queue_close(q);
}

/* Several messages in one transaction: consecutive seqs, the same cuts as
 * one at a time, a cap on how many; acks recorded in one transaction, each
 * once, unknown seqs left alone. */
static void test_batches(void **state)
{
	struct queue *q = NULL;
	struct queue_msg m;
	struct queue_stats st;
	char err[256];
	size_t made = 0;
	struct queue_ack_rec acks[4] = {{1, 7000, 0, 0}, {2, 7000, 1, 0}, {1, 7001, 0, 0},
					{99, 7000, 0, 0}};

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	add_points(q, 25, 1795100400000LL);
	assert_int_equal(queue_intake_commit(q, "aa", "f.csv", 1, "{}"), SUIDO_OK);
	assert_int_equal(queue_make_messages(q, 10, 2, 5000, &made), SUIDO_OK);
	assert_int_equal(made, 2);
	assert_int_equal(queue_next_seq(q), 3);
	assert_int_equal(queue_make_messages(q, 10, 64, 5000, &made), SUIDO_OK);
	assert_int_equal(made, 1);
	assert_int_equal(queue_make_messages(q, 10, 64, 5000, &made), SUIDO_OK);
	assert_int_equal(made, 0);
	assert_int_equal(queue_next_seq(q), 4);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 0);
	assert_int_equal(st.unacked_msgs, 3);
	assert_int_equal(st.unacked_points, 25);
	assert_int_equal(queue_get_message(q, 3, &m), SUIDO_OK);
	assert_int_equal(m.n_points, 5);
	free(m.payload);

	assert_int_equal(queue_ack_many(q, acks, 4), SUIDO_OK);
	assert_int_equal(acks[0].fresh, 1);
	assert_int_equal(acks[1].fresh, 1);
	assert_int_equal(acks[2].fresh, 0); /* the same message again */
	assert_int_equal(acks[3].fresh, 0); /* not in the queue */
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.unacked_msgs, 1);
	assert_int_equal(st.acked_msgs, 2);
	assert_int_equal(queue_next_unacked(q, 0, &m), SUIDO_OK);
	assert_int_equal(m.seq, 3);
	free(m.payload);
	queue_close(q);
	/* durable: a reopened queue knows the acks and the next seq */
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_next_seq(q), 4);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.acked_msgs, 2);
	queue_close(q);
}

/* Collects every message's points in order (decoded from the payloads). */
struct seen_pts {
	int64_t t[4096];
	double v[4096];
	char item[4096][16];
	char text[4096][16];
	size_t n;
};

static void drain(struct queue *q, size_t max_points, struct seen_pts *out, size_t *msgs)
{
	struct queue_msg m;
	struct profile_msg *pm = NULL;
	char err[256];
	uint64_t after = 0;
	int made = 1;

	while (made)
		assert_int_equal(queue_make_message(q, max_points, 5000, &made), SUIDO_OK);
	*msgs = 0;
	while (queue_next_unacked(q, after, &m) == SUIDO_OK) {
		assert_int_equal(profile_decode(m.payload, m.len, NULL, &pm, err, sizeof err),
				 SUIDO_OK);
		assert_true(pm->n_points <= max_points);
		for (size_t i = 0; i < pm->n_points; i++) {
			size_t k = out->n++;
			assert_true(k < 4096);
			out->t[k] = pm->points[i].t_ms;
			out->v[k] = pm->points[i].v;
			snprintf(out->item[k], 16, "%s", pm->items[pm->points[i].item].id);
			snprintf(out->text[k], 16, "%s", pm->points[i].text ? pm->points[i].text : "");
		}
		profile_msg_free(pm);
		after = m.seq;
		free(m.payload);
		++*msgs;
	}
}

/* Pending points live in chunks of QCHUNK_MAX_POINTS: a file larger than
 * a chunk, cut into messages that end inside chunks, comes out whole, in
 * order, texts included, and nothing stays pending. */
static void test_chunk_boundaries(void **state)
{
	struct queue *q = NULL;
	struct queue_stats st;
	struct seen_pts *got = calloc(1, sizeof *got);
	char err[256];
	size_t msgs = 0;

	assert_non_null(got);
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_intake_begin(q), SUIDO_OK);
	for (int i = 0; i < 2500; i++) {
		if (i % 100 == 7)
			assert_int_equal(queue_intake_text(q, &B, 1000LL * i, "停止", 6), SUIDO_OK);
		else
			assert_int_equal(queue_intake_point(q, i % 2 ? &B : &A, 1000LL * i, i + 0.25),
					 SUIDO_OK);
	}
	assert_int_equal(queue_intake_commit(q, "cc", "big.csv", 1, "{}"), SUIDO_OK);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 2500);
	/* a second, small file after it: its points come after the first's */
	add_points(q, 3, 9000000);
	assert_int_equal(queue_intake_commit(q, "dd", "small.csv", 2, "{}"), SUIDO_OK);
	drain(q, 700, got, &msgs);
	assert_int_equal(msgs, 4); /* 2503 = 700 + 700 + 700 + 403 */
	assert_int_equal(got->n, 2503);
	for (int i = 0; i < 2500; i++) {
		assert_int_equal(got->t[i], 1000LL * i);
		if (i % 100 == 7) {
			assert_string_equal(got->text[i], "停止");
		} else {
			assert_true(got->v[i] == i + 0.25);
			assert_string_equal(got->item[i], i % 2 ? "w.b" : "w.a");
		}
	}
	assert_int_equal(got->t[2500], 9000000);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 0);
	assert_int_equal(st.unacked_points, 2503);
	queue_close(q);
	free(got);
}

/* A queue of schema version 3 (one row per pending point) keeps every
 * pending point, in order, when opened by this version. */
static void test_migrate_v3(void **state)
{
	struct queue *q = NULL;
	struct seen_pts *got = calloc(1, sizeof *got);
	sqlite3 *raw = NULL;
	char err[256], sql[160];
	size_t msgs = 0;

	assert_non_null(got);
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	add_points(q, 2, 0); /* registers the items */
	assert_int_equal(queue_intake_commit(q, "ee", "items.csv", 1, "{}"), SUIDO_OK);
	queue_close(q);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
				      "DROP TABLE pending;"
				      "CREATE TABLE points(seq INTEGER PRIMARY KEY, item TEXT NOT NULL,"
				      " t INTEGER NOT NULL, v REAL NOT NULL, s TEXT);"
				      "UPDATE meta SET value='3' WHERE key='schema_version';"
				      "BEGIN;",
				      NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 1500; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO points(item,t,v,s) VALUES('%s', %d, %d.5, %s)",
			 i % 3 ? "w.a" : "w.b", 5000 - i, i, i == 42 ? "'運転'" : "NULL");
		assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	drain(q, 1000, got, &msgs);
	assert_int_equal(got->n, 1500);
	for (int i = 0; i < 1500; i++) {
		assert_int_equal(got->t[i], 5000 - i); /* taken order, not time order */
		assert_string_equal(got->item[i], i % 3 ? "w.a" : "w.b");
		if (i == 42)
			assert_string_equal(got->text[i], "運転");
		else
			assert_true(got->v[i] == i + 0.5);
	}
	queue_close(q);
	free(got);
}

/* A file of more distinct items than one chunk names (QCHUNK_ITEMS_MAX):
 * its points are split over more chunks and all come out, in order. */
static void test_many_items_per_file(void **state)
{
	enum { N_ITEMS = 700 };
	static char ids[N_ITEMS][16];
	static struct mapping_item items[N_ITEMS];
	struct queue *q = NULL;
	struct seen_pts *got = calloc(1, sizeof *got);
	char err[256];
	size_t msgs = 0;

	assert_non_null(got);
	for (int i = 0; i < N_ITEMS; i++) {
		snprintf(ids[i], sizeof ids[i], "i.%d", i);
		items[i] = (struct mapping_item){ids[i], ids[i], "", ""};
	}
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_intake_begin(q), SUIDO_OK);
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < N_ITEMS; i++)
			assert_int_equal(queue_intake_point(q, &items[i], 60000LL * r, i), SUIDO_OK);
	assert_int_equal(queue_intake_commit(q, "ff", "wide.csv", 1, "{}"), SUIDO_OK);
	drain(q, 1000, got, &msgs);
	assert_int_equal(got->n, 3 * N_ITEMS);
	for (int k = 0; k < 3 * N_ITEMS; k++) {
		assert_int_equal(got->t[k], 60000LL * (k / N_ITEMS));
		assert_true(got->v[k] == k % N_ITEMS);
	}
	queue_close(q);
	free(got);
}

/* A message that cannot be made (a damaged chunk) does not hold back the
 * ones before it in the same transaction; a NaN is refused at intake. */
static void test_damaged_chunk(void **state)
{
	struct queue *q = NULL;
	struct queue_stats st;
	sqlite3 *raw = NULL;
	char err[256];
	size_t made = 9;

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	add_points(q, 3000, 0);
	assert_int_equal(queue_intake_point(q, &A, 1, NAN), SUIDO_ERR_INVALID);
	assert_int_equal(queue_intake_commit(q, "gg", "three.csv", 1, "{}"), SUIDO_OK);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "UPDATE pending SET data = x'0102'"
					   " WHERE seq = (SELECT max(seq) FROM pending)",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(queue_make_messages(q, 1000, 64, 5000, &made), SUIDO_ERR_DB);
	assert_int_equal(made, 2);
	assert_int_equal(queue_next_seq(q), 3);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.unacked_msgs, 2);
	assert_int_equal(st.pending_points, 1000); /* the damaged chunk stays */
	queue_close(q);
}

static void test_ids_never_reused(void **state)
{
	struct queue *q = NULL;
	struct queue_msg m;
	char err[256];
	int64_t n, epoch;
	int made;
	uint64_t seq;

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	epoch = queue_epoch(q);
	add_points(q, 4, 0);
	assert_int_equal(queue_intake_commit(q, "bb", "g.csv", 1, "{}"), SUIDO_OK);
	assert_int_equal(queue_make_message(q, 10, 1, &made), SUIDO_OK);
	assert_int_equal(queue_next_unacked(q, 0, &m), SUIDO_OK);
	assert_int_equal(queue_ack(q, m.id, 100, &seq), SUIDO_OK);
	free(m.payload);
	assert_int_equal(queue_purge_acked(q, 200, &n), SUIDO_OK);
	assert_int_equal(n, 1);
	queue_close(q);

	/* reopen: same epoch, next message gets seq 2 */
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_true(queue_epoch(q) == epoch);
	add_points(q, 1, 0);
	assert_int_equal(queue_intake_commit(q, "cc", "h.csv", 1, "{}"), SUIDO_OK);
	assert_int_equal(queue_make_message(q, 10, 1, &made), SUIDO_OK);
	assert_int_equal(queue_next_unacked(q, 0, &m), SUIDO_OK);
	assert_int_equal(m.seq, 2);
	free(m.payload);
	queue_close(q);

	/* another gateway may not take this queue over */
	assert_int_equal(queue_open(db, "demo", "gw2", &q, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "belongs to gateway \"gw1\""));
}

static void test_abort_leaves_nothing(void **state)
{
	struct queue *q = NULL;
	struct queue_file qf;
	struct queue_stats st;
	char err[256];

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	add_points(q, 7, 0);
	queue_intake_abort(q);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 0);
	assert_int_equal(queue_file_lookup(q, "dd", &qf), SUIDO_ERR_NOTFOUND);
	add_points(q, 2, 0);
	assert_int_equal(queue_intake_commit(q, "dd", "x.csv", 42, "{\"r\":1}"), SUIDO_OK);
	assert_int_equal(queue_file_lookup(q, "dd", &qf), SUIDO_OK);
	assert_string_equal(qf.name, "x.csv");
	assert_string_equal(qf.receipt, "{\"r\":1}");
	assert_true(qf.received_ms == 42);
	free(qf.receipt);
	/* the same file twice is refused by the queue itself */
	add_points(q, 1, 0);
	assert_int_not_equal(queue_intake_commit(q, "dd", "x.csv", 43, "{}"), SUIDO_OK);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.pending_points, 2);
	queue_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunk_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_items_per_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
