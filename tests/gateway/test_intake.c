/* Tests for taking files from the spool (intake.h): every kind of bad input
 * gets a receipt naming file, line and reason, the good rows of the same file
 * are queued, and nothing else is lost or blocked. Uses the real demo mapping
 * and a real queue database in a temporary directory. */
#include <jansson.h>
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

#include "intake.h"
#include "queue.h"
#include "suido/conf.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/mask.h"
#include "suido/profile.h"
#include "suido/textenc.h"
#include "suido/timeutil.h"

struct fixture {
	char dir[256], spool[300], done[300], rejected[300], receipts[300];
	struct conf *conf;
	struct mapping *map;
	struct queue *q;
	struct intake_ctx ic;
	struct mask_key *key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[512], db[400];

	timeutil_set_zone("Asia/Tokyo");
	strcpy(f->dir, "/tmp/suido-intake-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->spool, sizeof f->spool, "%s/spool", f->dir);
	snprintf(f->done, sizeof f->done, "%s/done", f->dir);
	snprintf(f->rejected, sizeof f->rejected, "%s/rejected", f->dir);
	snprintf(f->receipts, sizeof f->receipts, "%s/receipts", f->dir);
	fsutil_mkdirs(f->spool, err, sizeof err);
	fsutil_mkdirs(f->done, err, sizeof err);
	fsutil_mkdirs(f->rejected, err, sizeof err);
	fsutil_mkdirs(f->receipts, err, sizeof err);
	assert_int_equal(conf_load(SUIDO_SOURCE_DIR "/etc/mapping-demo.conf", &f->conf, err,
				   sizeof err),
			 SUIDO_OK);
	assert_int_equal(mapping_load(f->conf, &f->map, err, sizeof err), SUIDO_OK);
	snprintf(db, sizeof db, "%s/queue.db", f->dir);
	assert_int_equal(queue_open(db, "demo", "gw1", &f->q, err, sizeof err), SUIDO_OK);
	assert_int_equal(mask_key_generate(&f->key, err, sizeof err), SUIDO_OK);
	f->ic = (struct intake_ctx){f->map, f->q, "gw1", f->spool, f->done, f->rejected,
				    f->receipts, 4096, TEXTENC_AUTO, 1000, f->key};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[400];

	queue_close(f->q);
	mask_key_free(f->key);
	mapping_free(f->map);
	conf_free(f->conf);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void put(struct fixture *f, const char *name, const void *data, size_t len)
{
	char err[256];
	assert_int_equal(fsutil_write_atomic(f->spool, name, data, len, err, sizeof err), SUIDO_OK);
}

static json_t *receipt(struct fixture *f, const char *name)
{
	char path[512];
	json_error_t je;
	json_t *j;

	snprintf(path, sizeof path, "%s/%s.receipt.json", f->receipts, name);
	j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("no receipt for %s: %s", name, je.text);
	assert_string_equal(json_string_value(json_object_get(j, "file")), name);
	return j;
}

static int exists(const char *dir, const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int64_t pending(struct fixture *f)
{
	struct queue_stats st;
	assert_int_equal(queue_stats(f->q, &st), SUIDO_OK);
	return st.pending_points;
}

/* Asserts that the receipt lists an error on line with reason containing want. */
static void has_error(json_t *r, long line, const char *want)
{
	json_t *errs = json_object_get(r, "errors"), *e;
	size_t i;

	json_array_foreach(errs, i, e)
	{
		if (json_integer_value(json_object_get(e, "line")) == line &&
		    strstr(json_string_value(json_object_get(e, "reason")), want))
			return;
	}
	char *dump = json_dumps(errs, 0);
	fail_msg("no error on line %ld with \"%s\" in %s", line, want, dump);
}

#define HEADER_CP932 "\x93\xfa\x8e\x9e,\x94\x7a\x90\x85\x92\x72\x90\x85\x88\xca(m),\x97\xac\x93\xfc\x97\xac\x97\xca(m3/h),\x97\xac\x8f\x6f\x97\xac\x97\xca(m3/h),\x8e\x63\x97\xaf\x89\x96\x91\x66(mg/L),\x91\xf7\x93\x78(\x93\x78)\r\n"

static void test_good_file(void **state)
{
	struct fixture *f = *state;
	const char data[] = HEADER_CP932 "2026/11/20 0:00,4.50,423.0,234.7,0.47,0.052\r\n"
					 "2026/11/20 1:00,4.36,\"1,427.3\",247.2,0.41,0.065\r\n";
	struct intake_result res;
	char err[256];

	put(f, "good.csv", data, sizeof data - 1);
	assert_int_equal(intake_file(&f->ic, "good.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_ACCEPTED);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.points, 10);
	assert_string_equal(res.layout, "haisuichi");
	assert_int_equal(pending(f), 10);
	json_t *r = receipt(f, "good.csv");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "accepted");
	assert_string_equal(json_string_value(json_object_get(r, "encoding")), "cp932");
	json_decref(r);
	assert_true(exists(f->done, "good.csv"));
	assert_false(exists(f->spool, "good.csv"));
}

static void test_bad_rows_keep_good_rows(void **state)
{
	struct fixture *f = *state;
	/* line 2 good, 3 broken CP932 bytes, 4 short row, 5 bad number,
	 * 6 impossible date, 7 good, 8 unterminated quote */
	const char data[] = HEADER_CP932 "2026/11/20 0:00,4.50,423.0,234.7,0.47,0.052\r\n"
					 "2026/11/20 1:00,4.36,427.3,\x81\x20,0.41,0.065\r\n"
					 "2026/11/20 2:00,4.20,428.7,250.2,0.41\r\n"
					 "2026/11/20 3:00,4.04,12a,290.5,0.41,0.057\r\n"
					 "2026/02/30 4:00,3.90,439.0,333.8,0.46,0.062\r\n"
					 "2026/11/20 5:00,3.78,420.9,387.7,0.49,0.059\r\n"
					 "2026/11/20 6:00,\"3.68,422.4\r\n";
	struct intake_result res;
	char err[256];

	put(f, "mixed.csv", data, sizeof data - 1);
	assert_int_equal(intake_file(&f->ic, "mixed.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_PARTIAL);
	assert_int_equal(res.rows, 7);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.rejected, 5);
	assert_int_equal(pending(f), 10);
	json_t *r = receipt(f, "mixed.csv");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "partial");
	has_error(r, 3, "invalid byte sequence");
	has_error(r, 4, "expected 6 fields, got 5");
	has_error(r, 5, "12a");
	has_error(r, 6, "2026/02/30");
	has_error(r, 8, "quote");
	json_decref(r);
	assert_true(exists(f->done, "mixed.csv"));
}

static void test_refused_files(void **state)
{
	struct fixture *f = *state;
	struct intake_result res;
	char err[256], big[5000];
	const char bin[] = "\x93\xfa\x8e\x9e,a\r\n\0\0\x01\x02";

	put(f, "unknown.csv", "foo,bar\r\n1,2\r\n", 14);
	assert_int_equal(intake_file(&f->ic, "unknown.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_REJECTED);
	json_t *r = receipt(f, "unknown.csv");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "rejected");
	assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "layout"));
	json_decref(r);
	assert_true(exists(f->rejected, "unknown.csv"));

	memset(big, 'x', sizeof big);
	put(f, "big.csv", big, sizeof big);
	assert_int_equal(intake_file(&f->ic, "big.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_REJECTED);
	r = receipt(f, "big.csv");
	assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "larger"));
	json_decref(r);

	put(f, "bin.dat", bin, sizeof bin - 1);
	assert_int_equal(intake_file(&f->ic, "bin.dat", 1000, &res, err, sizeof err), SUIDO_OK);
	r = receipt(f, "bin.dat");
	assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "binary"));
	json_decref(r);

	put(f, "empty.csv", "", 0);
	assert_int_equal(intake_file(&f->ic, "empty.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_REJECTED);
	json_decref(receipt(f, "empty.csv"));

	assert_int_equal(pending(f), 0);
	/* a vanished file is not an error */
	assert_int_equal(intake_file(&f->ic, "nope.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_GONE);
}

static void test_duplicate_and_recovery(void **state)
{
	struct fixture *f = *state;
	const char data[] = HEADER_CP932 "2026/11/20 0:00,4.50,423.0,234.7,0.47,0.052\r\n";
	struct intake_result res;
	char err[256], path[512];

	put(f, "a.csv", data, sizeof data - 1);
	assert_int_equal(intake_file(&f->ic, "a.csv", 1000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(pending(f), 5);

	/* the same content again, under another name: reported, not stored */
	put(f, "b.csv", data, sizeof data - 1);
	assert_int_equal(intake_file(&f->ic, "b.csv", 2000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_DUPLICATE);
	json_t *r = receipt(f, "b.csv");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "duplicate");
	assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "a.csv"));
	json_decref(r);
	assert_int_equal(pending(f), 5);

	/* a crash after the queue commit, before the receipt and the move: the
	 * file is still in the spool and has no receipt; taking it again writes
	 * the stored receipt and stores nothing twice */
	snprintf(path, sizeof path, "%s/a.csv.receipt.json", f->receipts);
	assert_int_equal(unlink(path), 0);
	put(f, "a.csv", data, sizeof data - 1);
	assert_int_equal(intake_file(&f->ic, "a.csv", 3000, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_ACCEPTED);
	r = receipt(f, "a.csv");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "accepted");
	json_decref(r);
	assert_int_equal(pending(f), 5);
	assert_false(exists(f->spool, "a.csv"));
}

/* Counts the occurrences of needle in the bytes of file dir/name. */
static size_t count_in_file(const char *dir, const char *name, const char *needle)
{
	char path[512], *buf;
	size_t n = 0, len;
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(fp = fopen(path, "rb")))
		return 0;
	buf = malloc(64 << 20);
	assert_non_null(buf);
	len = fread(buf, 1, 64 << 20, fp);
	fclose(fp);
	for (size_t i = 0; i + strlen(needle) <= len; i++)
		n += memcmp(buf + i, needle, strlen(needle)) == 0;
	free(buf);
	return n;
}

/* The billing sample's personal columns are masked before they are queued:
 * the queue's files never hold them in clear, the queued message carries
 * tokens the key holder opens, and equal customer numbers give equal tokens. */
static void test_billing_masked(void **state)
{
	struct fixture *f = *state;
	static const char *const clear[] = {"100200300", "山田 太郎", "山田", "1-1-1"};
	struct intake_result res;
	struct queue_msg qm;
	struct profile_msg *m = NULL;
	char err[512], *raw = NULL;
	size_t rawlen = 0, n_masked = 0;
	int made = 0;
	char *det = NULL;
	int seen_det = 0;

	f->ic.max_file_bytes = 1 << 20;
	assert_int_equal(fsutil_read_file(SUIDO_SOURCE_DIR "/../shared/samples/csv",
					  "ryokin_kenshin_202611_cp932.csv", 1 << 20, &raw, &rawlen,
					  err, sizeof err),
			 SUIDO_OK);
	/* one customer with two meters: two rows with the same customer number */
	put(f, "billing.csv", raw, rawlen);
	assert_int_equal(intake_file(&f->ic, "billing.csv", 1, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(res.status, INTAKE_ACCEPTED);
	assert_int_equal(res.points, 70);
	assert_int_equal(queue_make_message(f->q, 1000, 2, &made), SUIDO_OK);
	assert_true(made);
	assert_int_equal(queue_next_unacked(f->q, 0, &qm), SUIDO_OK);
	assert_int_equal(profile_decode(qm.payload, strlen(qm.payload), NULL, &m, err, sizeof err),
			 SUIDO_OK);
	/* deterministic: the same number masked again gives the same token */
	assert_int_equal(mask_value(f->key, MASK_DETERMINISTIC, "100200300", 9, &det, err,
				    sizeof err),
			 SUIDO_OK);
	for (size_t i = 0; i < m->n_points; i++) {
		const struct profile_point *p = &m->points[i];
		const char *name = m->items[p->item].name;
		char *open = NULL;
		size_t olen = 0;

		if (!p->text)
			continue;
		n_masked++;
		assert_true(mask_is_token(p->text, strlen(p->text)));
		assert_int_equal(mask_unmask(f->key, p->text, strlen(p->text), &open, &olen, err,
					     sizeof err),
				 SUIDO_OK);
		if (strcmp(name, "お客様番号") == 0) {
			assert_int_equal(strncmp(p->text, "~m1.s.", 6), 0);
			if (strcmp(open, "100200300") == 0) {
				assert_string_equal(p->text, det);
				seen_det = 1;
			}
		} else {
			assert_int_equal(strncmp(p->text, "~m1.r.", 6), 0);
		}
		if (strcmp(name, "氏名") == 0 && strcmp(m->items[p->item].facility, "M-20000") == 0)
			assert_string_equal(open, "山田 太郎");
		free(open);
	}
	assert_int_equal(n_masked, 30);
	assert_true(seen_det);
	free(det);
	/* nothing in clear anywhere in the queue's files */
	for (size_t k = 0; k < sizeof clear / sizeof *clear; k++) {
		assert_int_equal(count_in_file(f->dir, "queue.db", clear[k]), 0);
		assert_int_equal(count_in_file(f->dir, "queue.db-wal", clear[k]), 0);
		assert_int_equal(strstr(qm.payload, clear[k]) == NULL, 1);
	}
	free(qm.payload);
	profile_msg_free(m);
	free(raw);
}

/* A mask column with no key: the file is not taken, nothing is queued. */
static void test_mask_needs_key(void **state)
{
	struct fixture *f = *state;
	struct intake_result res;
	char err[512];
	static const char csv[] = "お客様番号,氏名,住所,メーター番号,検針日,今回指針,前回指針,"
				   "使用水量(m3),請求額(円)\n1,a,b,M-1,2026/02/28,10,5,5,1\n";

	f->ic.mask_key = NULL;
	put(f, "nokey.csv", csv, strlen(csv));
	assert_int_not_equal(intake_file(&f->ic, "nokey.csv", 1, &res, err, sizeof err), SUIDO_OK);
	assert_int_equal(pending(f), 0);
	assert_true(exists(f->spool, "nokey.csv"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rows_keep_good_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_billing_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_needs_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
