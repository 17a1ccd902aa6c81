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
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
