/* Tests for evacuation (archive.h) and the intake guard (intake.h): old
 * acknowledged messages are written to an archive file and indexed before
 * they leave the queue; a failure between the two leaves them in the queue
 * and is repaired; a resend range is read back byte for byte; a corrupt
 * archive is refused with a clear error; expired archives go; intake pauses
 * and resumes with the space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archive.h"
#include "intake.h"
#include "queue.h"
#include "suido/error.h"
#include "suido/timeutil.h"

static char dir[64], db[128], adir[128];

static int setup(void **state)
{
	timeutil_set_zone("Asia/Tokyo");
	strcpy(dir, "/tmp/suido-archive-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/queue.db", dir);
	snprintf(adir, sizeof adir, "%s/archive", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static const struct mapping_item A = {"w.a", "水位(m)", "m", "配水池"};

/* A queue with n messages of 3 points each (seq 1..n); those with
 * ack_mask bit (seq-1) set are acknowledged at acked_ms. Their payloads are
 * copied to saved[seq]. */
static struct queue *make_queue(int n, unsigned ack_mask, int64_t acked_ms, char **saved)
{
	struct queue *q = NULL;
	char err[256], id[64];
	int made;
	uint64_t seq;

	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_intake_begin(q), SUIDO_OK);
	for (int i = 0; i < n * 3; i++)
		assert_int_equal(queue_intake_point(q, &A, 1795100400000LL + i * 1000, i + 0.25),
				 SUIDO_OK);
	assert_int_equal(queue_intake_commit(q, "aa", "f.csv", 1, "{}"), SUIDO_OK);
	for (int i = 0; i < n; i++) {
		assert_int_equal(queue_make_message(q, 3, 100 + i, &made), SUIDO_OK);
		assert_int_equal(made, 1);
	}
	for (int s = 1; s <= n; s++) {
		struct queue_msg m;
		assert_int_equal(queue_get_message(q, (uint64_t)s, &m), SUIDO_OK);
		if (saved)
			saved[s] = m.payload;
		else
			free(m.payload);
		if (ack_mask & (1u << (s - 1))) {
			snprintf(id, sizeof id, "gw1:%lld:%d", (long long)queue_epoch(q), s);
			assert_int_equal(queue_ack(q, id, acked_ms, &seq), SUIDO_OK);
		}
	}
	return q;
}

static int file_exists(const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", adir, name);
	return stat(path, &st) == 0;
}

static void test_evacuate_and_reload(void **state)
{
	char *saved[8] = {0}, err[512], name[96];
	struct queue *q = make_queue(5, 0x1f, 1000, saved);
	struct archive *a = NULL;
	struct queue_stats st;
	struct queue_msg m;
	size_t n;
	int more;
	uint64_t bad;

	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	/* not yet old enough: nothing moves */
	assert_int_equal(archive_evacuate(a, 1000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(queue_archive_count(q), 0);
	assert_int_equal(archive_evacuate(a, 1001, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 5);
	assert_int_equal(more, 0);
	snprintf(name, sizeof name, "%lld-1-5.jsonl.gz", (long long)queue_epoch(q));
	assert_true(file_exists(name));
	assert_int_equal(queue_archive_count(q), 1);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.acked_msgs, 0);
	assert_int_equal(queue_get_message(q, 3, &m), SUIDO_ERR_NOTFOUND);
	/* read back, in order, byte for byte, continuing in the open file */
	for (uint64_t s = 1; s <= 5; s++) {
		assert_int_equal(archive_next(a, s, 5, &m, &bad, err, sizeof err), SUIDO_OK);
		assert_int_equal(m.seq, s);
		assert_int_equal(m.n_points, 3);
		assert_string_equal(m.payload, saved[s]);
		assert_int_equal(m.len, strlen(saved[s]));
		free(m.payload);
	}
	/* backwards reopens the file; beyond the range: nothing */
	assert_int_equal(archive_next(a, 2, 2, &m, &bad, err, sizeof err), SUIDO_OK);
	assert_int_equal(m.seq, 2);
	free(m.payload);
	assert_int_equal(archive_next(a, 6, 9, &m, &bad, err, sizeof err), SUIDO_ERR_NOTFOUND);
	/* nothing left to evacuate; ids still never reused */
	assert_int_equal(archive_evacuate(a, 99999, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(queue_next_seq(q), 6);
	archive_close(a);
	queue_close(q);
	for (int i = 0; i < 8; i++)
		free(saved[i]);
}

/* A message not acknowledged splits the ranges: no file spans it. */
static void test_ranges_skip_unacked(void **state)
{
	char err[512], name[96];
	struct queue *q = make_queue(5, 0x1b /* 1 2 4 5 */, 1000, NULL);
	struct archive *a = NULL;
	struct queue_msg m;
	size_t n;
	int more;
	uint64_t bad;

	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 2);
	snprintf(name, sizeof name, "%lld-4-5.jsonl.gz", (long long)queue_epoch(q));
	assert_true(file_exists(name));
	assert_int_equal(queue_get_message(q, 3, &m), SUIDO_OK); /* stays */
	free(m.payload);
	assert_int_equal(archive_next(a, 3, 5, &m, &bad, err, sizeof err), SUIDO_OK);
	assert_int_equal(m.seq, 4);
	free(m.payload);
	assert_int_equal(archive_next(a, 3, 3, &m, &bad, err, sizeof err), SUIDO_ERR_NOTFOUND);
	archive_close(a);
	queue_close(q);
}

/* A crash between the durable file and the index: the messages are still in
 * the queue; evacuating again replaces the file under the same name; a
 * restart removes an unindexed file. */
static void test_failure_between_steps(void **state)
{
	char err[512], name[96];
	struct queue *q = make_queue(4, 0xf, 1000, NULL);
	struct archive *a = NULL;
	struct queue_stats st;
	size_t n;
	int more;

	snprintf(name, sizeof name, "%lld-1-4.jsonl.gz", (long long)queue_epoch(q));
	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	archive_fail_before_index(a, 1);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_ERR_IO);
	assert_true(file_exists(name));
	assert_int_equal(queue_archive_count(q), 0);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.acked_msgs, 4);
	/* restart: the unindexed file is swept, the messages are still held */
	archive_close(a);
	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	assert_false(file_exists(name));
	/* fail again, then the second evacuation of the same range replaces it */
	archive_fail_before_index(a, 1);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_ERR_IO);
	archive_fail_before_index(a, 0);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 4);
	assert_true(file_exists(name));
	assert_int_equal(queue_archive_count(q), 1);
	assert_int_equal(queue_stats(q, &st), SUIDO_OK);
	assert_int_equal(st.acked_msgs, 0);
	/* an indexed file survives a restart */
	archive_close(a);
	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	assert_true(file_exists(name));
	archive_close(a);
	queue_close(q);
}

static void test_corrupt_refused(void **state)
{
	char err[512] = "", name[96], path[256];
	struct queue *q = make_queue(3, 0x7, 1000, NULL);
	struct archive *a = NULL;
	struct queue_msg m;
	size_t n;
	int more;
	uint64_t bad = 0;
	FILE *f;
	int c;

	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	snprintf(name, sizeof name, "%lld-1-3.jsonl.gz", (long long)queue_epoch(q));
	snprintf(path, sizeof path, "%s/%s", adir, name);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 30, SEEK_SET), 0);
	c = fgetc(f);
	assert_true(c != EOF);
	assert_int_equal(fseek(f, 30, SEEK_SET), 0);
	fputc(c ^ 0xff, f); /* one byte changed */
	fclose(f);
	assert_int_equal(archive_next(a, 1, 3, &m, &bad, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err, name));
	assert_non_null(strstr(err, "corrupt"));
	/* missing altogether */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(archive_next(a, 2, 2, &m, &bad, err, sizeof err), SUIDO_ERR_INVALID);
	assert_non_null(strstr(err, name));
	archive_close(a);
	queue_close(q);
}

static void test_archive_retention(void **state)
{
	char err[512], name[96];
	struct queue *q = make_queue(2, 0x3, 1000, NULL);
	struct archive *a = NULL;
	size_t n;
	int more;

	assert_int_equal(archive_open(adir, q, &a, err, sizeof err), SUIDO_OK);
	assert_int_equal(archive_evacuate(a, 2000, 5000, &n, &more, err, sizeof err), SUIDO_OK);
	snprintf(name, sizeof name, "%lld-1-2.jsonl.gz", (long long)queue_epoch(q));
	assert_int_equal(archive_expire(a, 5000, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 0);
	assert_true(file_exists(name));
	assert_int_equal(archive_expire(a, 5001, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 1);
	assert_false(file_exists(name));
	assert_int_equal(queue_archive_count(q), 0);
	archive_close(a);
	queue_close(q);
}

static void test_intake_guard(void **state)
{
	struct intake_guard g;

	/* more free space asked for than any disk has: paused, with an alert */
	intake_guard_init(&g, dir, NULL, 1ll << 60, 0);
	assert_int_equal(intake_guard_allows(&g, 1000), 0);
	assert_true(intake_guard_paused(&g));
	assert_non_null(strstr(intake_guard_alert(&g), "min_free_bytes"));
	assert_int_equal(intake_guard_allows(&g, 1000 + INTAKE_GUARD_RETRY_MS - 1), 0);
	/* the space comes back: resumes at the next check */
	g.min_free_bytes = 1;
	assert_int_equal(intake_guard_allows(&g, 1000 + INTAKE_GUARD_RETRY_MS), 1);
	assert_false(intake_guard_paused(&g));
	assert_null(intake_guard_alert(&g));

	/* a real disk full: paused; after the retry time one try is allowed, and
	 * only a file taken ends the pause */
	intake_guard_init(&g, dir, NULL, 0, 0);
	assert_int_equal(intake_guard_allows(&g, 1000), 1);
	intake_guard_full(&g, 1000, "taking x.csv: no space");
	assert_int_equal(intake_guard_allows(&g, 2000), 0);
	assert_non_null(strstr(intake_guard_alert(&g), "disk full"));
	assert_int_equal(intake_guard_allows(&g, 1000 + INTAKE_GUARD_RETRY_MS), 1);
	assert_true(intake_guard_paused(&g));
	intake_guard_full(&g, 7000, "still full");
	assert_int_equal(intake_guard_allows(&g, 7001), 0);
	assert_int_equal(intake_guard_allows(&g, 7000 + INTAKE_GUARD_RETRY_MS), 1);
	intake_guard_taken(&g);
	assert_false(intake_guard_paused(&g));
	assert_int_equal(intake_guard_allows(&g, 20000), 1);
}

/* The queue bound: a queue larger than max_queue_bytes pauses intake. */
static void test_queue_bound(void **state)
{
	struct queue *q = make_queue(2, 0, 0, NULL);
	struct intake_guard g;

	assert_true(queue_disk_bytes(q) > 0);
	intake_guard_init(&g, dir, q, 0, 1);
	assert_int_equal(intake_guard_allows(&g, 1000), 0);
	assert_non_null(strstr(intake_guard_alert(&g), "max_queue_bytes"));
	g.max_queue_bytes = 1ll << 40;
	assert_int_equal(intake_guard_allows(&g, 1000 + INTAKE_GUARD_RETRY_MS), 1);
	queue_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_evacuate_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges_skip_unacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_between_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_archive_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
