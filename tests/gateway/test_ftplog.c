/* Tests for vsftpd log parsing and following (ftplog.h): both formats as
 * vsftpd 3.0 writes them (the lines below are copied from a real run),
 * lossy names, a line written in pieces, rotation by rename, truncation,
 * an overlong line, and resuming from the saved position without repeating
 * or missing an entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ftplog.h"
#include "suido/error.h"

static char dir[64], logp[128], posp[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/suido-ftplog-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(logp, sizeof logp, "%s/vsftpd.log", dir);
	snprintf(posp, sizeof posp, "%s/log.pos", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static int parse(const char *line, struct ftplog_entry *e)
{
	return ftplog_parse(line, strlen(line), e);
}

static void test_parse_vsftpd(void **state)
{
	struct ftplog_entry e;

	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 5451] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/t.csv\", 8 bytes, 11.78Kbyte/sec", &e), 1);
	assert_int_equal(e.status, FTPLOG_COMPLETE);
	assert_int_equal(e.format, FTPLOG_VSFTPD);
	assert_string_equal(e.user, "alice");
	assert_string_equal(e.path, "/t.csv");
	assert_int_equal(e.bytes, 8);
	assert_int_equal(parse("Sun Nov 22 07:18:05 2026 [pid 5883] [alice] FAIL UPLOAD: Client "
			       "\"127.0.0.1\", \"/half.csv\", 100000 bytes, 218470.36Kbyte/sec",
			       &e), 1);
	assert_int_equal(e.status, FTPLOG_FAILED);
	assert_int_equal(e.bytes, 100000);
	/* quotes and spaces in a name: it ends at the last quote */
	assert_int_equal(parse("Sun Nov  2 07:18:05 2026 [pid 5838] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/????????? \"q\", 1 bytes, x.csv\", 8 bytes, "
			       "43.40Kbyte/sec\r", &e), 1);
	assert_string_equal(e.path, "/????????? \"q\", 1 bytes, x.csv");
	assert_int_equal(e.bytes, 8);
	/* other lines */
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 5450] CONNECT: Client "
			       "\"127.0.0.1\"", &e), 0);
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 5449] [alice] OK LOGIN: Client "
			       "\"127.0.0.1\"", &e), 0);
	assert_int_equal(parse("Sun Nov 22 07:17:25 2026 [pid 5451] [alice] OK DOWNLOAD: Client "
			       "\"127.0.0.1\", \"/receipts/t.json\", 8 bytes, 1.00Kbyte/sec", &e), 0);
	/* malformed */
	assert_int_equal(parse("", &e), -1);
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 1] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"t.csv\", 8 bytes, 1Kbyte/sec", &e), -1); /* relative */
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 1] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/t.csv\", -8 bytes, 1Kbyte/sec", &e), -1);
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 1] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/t.csv\", 99999999999999999999999 bytes, 1K", &e),
			 -1);
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 1] [al ice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/t.csv\", 8 bytes, 1Kbyte/sec", &e), -1);
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 [pid 1] [alice] OK UPLOAD: Client "
			       "\"127.0.0.1\", \"/t.csv", &e), -1);
}

static void test_parse_xferlog(void **state)
{
	struct ftplog_entry e;

	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 1 127.0.0.1 8 /t.csv b _ i g alice ftp "
			       "0 * c", &e), 1);
	assert_int_equal(e.status, FTPLOG_COMPLETE);
	assert_int_equal(e.format, FTPLOG_XFERLOG);
	assert_string_equal(e.user, "alice");
	assert_string_equal(e.path, "/t.csv");
	assert_int_equal(e.bytes, 8);
	assert_int_equal(parse("Sun Nov  2 07:18:05 2026 1 127.0.0.1 100000 /half.csv a _ i g "
			       "alice ftp 0 * i", &e), 1);
	assert_int_equal(e.status, FTPLOG_FAILED);
	assert_int_equal(e.bytes, 100000);
	/* a name with spaces (other servers) lies between the fixed fields */
	assert_int_equal(parse("Sun Nov 22 07:17:19 2026 1 127.0.0.1 8 /a b.csv b _ i r bob ftp "
			       "0 * c", &e), 1);
	assert_string_equal(e.path, "/a b.csv");
	assert_string_equal(e.user, "bob");
	/* a download is not ours; anonymous and broken lines are malformed */
	assert_int_equal(parse("Sun Nov 22 07:17:25 2026 1 127.0.0.1 8 /receipts/t.json b _ o g "
			       "alice ftp 0 * c", &e), 0);
	assert_int_equal(parse("Sun Nov 22 07:17:25 2026 1 127.0.0.1 8 /t.csv b _ i a "
			       "me@x ftp 0 * c", &e), -1);
	assert_int_equal(parse("Sun Nov 22 07:17:25 2026 1 127.0.0.1 8 /t.csv b _ i g alice ftp "
			       "0 * x", &e), -1);
	assert_int_equal(parse("b _ i g alice ftp 0 * c", &e), -1);
	assert_int_equal(parse("Sun Nov 22 07:17:25 2026 1 127.0.0.1 x8 /t.csv b _ i g alice ftp "
			       "0 * c", &e), -1);
}

static void test_name_matches(void **state)
{
	struct ftplog_entry v = {.format = FTPLOG_VSFTPD}, x = {.format = FTPLOG_XFERLOG};

	assert_true(ftplog_name_matches(&v, "t.csv", "t.csv"));
	assert_false(ftplog_name_matches(&v, "t.csv", "t.csv2"));
	/* 配水池.csv: nine bytes of UTF-8 logged as '?' */
	assert_true(ftplog_name_matches(&v, "?????????.csv", "配水池.csv"));
	assert_false(ftplog_name_matches(&v, "????????.csv", "配水池.csv"));
	assert_true(ftplog_name_matches(&x, "a_b.csv", "a b.csv"));
	assert_true(ftplog_name_matches(&x, "a_b.csv", "a_b.csv"));
	assert_false(ftplog_name_matches(&v, "a_b.csv", "a b.csv"));
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

#define UP(user, name, n) \
	"Sun Nov 22 07:17:19 2026 [pid 1] [" user "] OK UPLOAD: Client \"127.0.0.1\", \"/" name \
	"\", " #n " bytes, 1.00Kbyte/sec\n"

/* Peeks and consumes the next entry; its path. */
static const char *next(struct ftplog *f)
{
	static struct ftplog_entry e;
	if (ftplog_peek(f, &e) != 1)
		return NULL;
	ftplog_consume(f);
	return e.path;
}

static void test_follow(void **state)
{
	struct ftplog *f = NULL;
	struct ftplog_entry e, e2;
	struct ftplog_counts c;
	char err[256], rotated[160], big[FTPLOG_LINE_MAX + 100];

	/* the log does not exist yet */
	assert_int_equal(ftplog_open(logp, posp, &f, err, sizeof err), SUIDO_OK);
	assert_int_equal(ftplog_peek(f, &e), 0);
	append(logp, "Sun Nov 22 07:17:19 2026 [pid 1] CONNECT: Client \"127.0.0.1\"\n" UP("a", "1.csv", 1));
	/* peek holds the entry until consumed */
	assert_int_equal(ftplog_peek(f, &e), 1);
	assert_int_equal(ftplog_peek(f, &e2), 1);
	assert_string_equal(e2.path, "/1.csv");
	ftplog_consume(f);
	assert_int_equal(ftplog_peek(f, &e), 0);
	/* a line written in two pieces is read once whole */
	append(logp, "Sun Nov 22 07:17:19 2026 [pid 1] [a] OK UPLOAD: Client \"127.0.0.1\", \"/2");
	assert_int_equal(ftplog_peek(f, &e), 0);
	append(logp, ".csv\", 2 bytes, 1.00Kbyte/sec\n");
	assert_string_equal(next(f), "/2.csv");
	/* an overlong line is skipped, the next one read */
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	append(logp, big);
	append(logp, UP("a", "3.csv", 3));
	assert_string_equal(next(f), "/3.csv");
	assert_int_equal(ftplog_save(f, err, sizeof err), SUIDO_OK);
	/* rotation by rename: the old file is read to its end first */
	append(logp, UP("a", "4.csv", 4));
	snprintf(rotated, sizeof rotated, "%s.1", logp);
	assert_int_equal(rename(logp, rotated), 0);
	append(logp, UP("a", "5.csv", 5));
	assert_string_equal(next(f), "/4.csv");
	assert_string_equal(next(f), "/5.csv");
	assert_null(next(f));
	/* truncation (copytruncate): read from the start again */
	assert_int_equal(truncate(logp, 0), 0);
	append(logp, UP("a", "6.csv", 6));
	assert_string_equal(next(f), "/6.csv");
	ftplog_counts(f, &c);
	assert_int_equal(c.entries, 6);
	assert_int_equal(c.skipped, 1);
	assert_int_equal(c.rotations, 2);
	assert_int_equal(ftplog_save(f, err, sizeof err), SUIDO_OK);
	/* an entry read but not consumed is not saved past */
	append(logp, UP("a", "7.csv", 7));
	assert_int_equal(ftplog_peek(f, &e), 1);
	assert_int_equal(ftplog_save(f, err, sizeof err), SUIDO_OK);
	ftplog_free(f);

	/* a restart resumes after 6.csv: 7.csv again, nothing before it */
	assert_int_equal(ftplog_open(logp, posp, &f, err, sizeof err), SUIDO_OK);
	assert_string_equal(next(f), "/7.csv");
	assert_null(next(f));
	assert_int_equal(ftplog_save(f, err, sizeof err), SUIDO_OK);
	ftplog_free(f);

	/* rotated while stopped: the new file from its start */
	assert_int_equal(rename(logp, rotated), 0);
	append(logp, UP("b", "8.csv", 8));
	assert_int_equal(ftplog_open(logp, posp, &f, err, sizeof err), SUIDO_OK);
	assert_string_equal(next(f), "/8.csv");
	assert_null(next(f));
	ftplog_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_vsftpd),
		cmocka_unit_test(test_parse_xferlog),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
