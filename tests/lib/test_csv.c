/*
 * Unit tests of csv.h: RFC 4180 quoting, line ends, physical line numbers,
 * the resynchronisation after a malformed record, the caps, and a real
 * sample read through textenc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suido/csv.h"
#include "suido/error.h"
#include "suido/strbuf.h"
#include "suido/textenc.h"

#define SAMPLES SUIDO_SOURCE_DIR "/../shared/samples/csv/"

struct rd {
	struct csv_reader *r;
	struct csv_record rec;
	char err[128];
};

static void rd_open(struct rd *d, const char *text, size_t len, const struct csv_limits *lim)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(csv_reader_new(text, len, lim, &d->r), SUIDO_OK);
}

static enum csv_status rd_next(struct rd *d)
{
	return csv_next(d->r, &d->rec, d->err, sizeof(d->err));
}

/* Expects a record whose fields joined with '|' are want. */
static void expect_rec(struct rd *d, const char *want, unsigned long line, unsigned long last)
{
	char got[512];
	size_t o = 0;

	assert_int_equal(rd_next(d), CSV_RECORD);
	for (size_t i = 0; i < d->rec.n_fields; i++) {
		assert_int_equal(strlen(d->rec.fields[i]), d->rec.lens[i]);
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? "|" : "",
				      d->rec.fields[i]);
	}
	got[o] = '\0';
	assert_string_equal(got, want);
	assert_int_equal(d->rec.line, line);
	assert_int_equal(d->rec.last_line, last);
}

static void expect_bad(struct rd *d, const char *why, unsigned long line)
{
	assert_int_equal(rd_next(d), CSV_BAD);
	assert_string_equal(d->err, why);
	assert_int_equal(d->rec.line, line);
	assert_int_equal(d->rec.last_line, line);
}

#define OPEN(d, s, lim) rd_open((d), (s), sizeof(s) - 1, (lim))

static void test_line_ends(void **state)
{
	struct rd d;

	(void)state;
	OPEN(&d, "a,b,c\nd,e,f\r\ng,h,i", NULL);
	expect_rec(&d, "a|b|c", 1, 1);
	expect_rec(&d, "d|e|f", 2, 2);
	expect_rec(&d, "g|h|i", 3, 3); /* final record without line end */
	assert_int_equal(rd_next(&d), CSV_END);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* blank lines are skipped but counted; empty fields are kept */
	OPEN(&d, "\n\r\nx,,\n\n,\r\n", NULL);
	expect_rec(&d, "x||", 3, 3);
	expect_rec(&d, "|", 5, 5);
	assert_int_equal(d.rec.n_fields, 2);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* a lone CR is data, not a line end */
	OPEN(&d, "a\rb,c\n", NULL);
	expect_rec(&d, "a\rb|c", 1, 1);
	csv_reader_free(d.r);

	OPEN(&d, "", NULL);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);
	OPEN(&d, "\n\n\r\n", NULL);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);
}

static void test_quoting(void **state)
{
	struct rd d;

	(void)state;
	OPEN(&d,
	     "1,\"6,320\",\"say \"\"hi\"\"\"\r\n"
	     "2,\"multi\nline\r\nfield\",x\n"
	     "3,\"\",\"\"\"\"\n"
	     "\"4\"\n",
	     NULL);
	expect_rec(&d, "1|6,320|say \"hi\"", 1, 1);
	expect_rec(&d, "2|multi\nline\r\nfield|x", 2, 4);
	expect_rec(&d, "3||\"", 5, 5);
	assert_int_equal(d.rec.lens[1], 0);
	assert_int_equal(d.rec.lens[2], 1);
	expect_rec(&d, "4", 6, 6);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* a quoted field ending the input without a line end */
	OPEN(&d, "a,\"b\nc\"", NULL);
	expect_rec(&d, "a|b\nc", 1, 2);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);
}

static void test_malformed_resync(void **state)
{
	struct rd d;

	(void)state;
	OPEN(&d,
	     "h1,h2,h3\n"
	     "1,ab\"c,3\n"        /* line 2: quote inside unquoted field */
	     "2,\"x\"y,3\n"       /* line 3: text after closing quote */
	     "3,ok,3\n",
	     NULL);
	expect_rec(&d, "h1|h2|h3", 1, 1);
	expect_bad(&d, "quote inside unquoted field at column 2", 2);
	expect_bad(&d, "text after closing quote at column 2", 3);
	expect_rec(&d, "3|ok|3", 4, 4);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* A stray opening quote costs only its own line, not the good rows up
	 * to the next quote in the file. */
	OPEN(&d,
	     "1,\"abc,1\n"
	     "2,x,2\n"
	     "3,\"y\",3\n",
	     NULL);
	expect_bad(&d, "text after closing quote at column 2", 1);
	expect_rec(&d, "2|x|2", 2, 2);
	expect_rec(&d, "3|y|3", 3, 3);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* unterminated quote: reported on its line, the rest is still read */
	OPEN(&d, "a,b\n1,\"open\n2,x\n3,y", NULL);
	expect_rec(&d, "a|b", 1, 1);
	expect_bad(&d, "unterminated quoted field", 2);
	expect_rec(&d, "2|x", 3, 3);
	expect_rec(&d, "3|y", 4, 4);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* a bad last line without a line end */
	OPEN(&d, "a\nb\"", NULL);
	expect_rec(&d, "a", 1, 1);
	expect_bad(&d, "quote inside unquoted field at column 1", 2);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* err may be omitted */
	OPEN(&d, "x\"\ny\n", NULL);
	assert_int_equal(csv_next(d.r, &d.rec, NULL, 0), CSV_BAD);
	assert_int_equal(csv_next(d.r, &d.rec, NULL, 0), CSV_RECORD);
	assert_string_equal(d.rec.fields[0], "y");
	csv_reader_free(d.r);
}

static void test_caps(void **state)
{
	struct csv_limits lim = {3, 4, 12};
	struct rd d;

	(void)state;
	OPEN(&d,
	     "a,b,c\n"            /* 3 fields: ok */
	     "a,b,c,d\n"          /* 4 fields */
	     "abcd,\"wxyz\"\n"    /* fields of exactly 4 bytes: ok */
	     "abcde\n"            /* 5 bytes */
	     "\"ab\"\"cd\"\n"     /* 5 bytes after unquoting */
	     "abcd,abcd,ab\n"     /* 12 bytes: ok */
	     "abcd,abcd,abc\n"    /* 13 bytes */
	     "\"ab\nc\",abcd,abcd\n" /* 16 bytes over two lines */
	     "z\n",
	     &lim);
	expect_rec(&d, "a|b|c", 1, 1);
	expect_bad(&d, "too many fields (more than 3)", 2);
	expect_rec(&d, "abcd|wxyz", 3, 3);
	expect_bad(&d, "field too long at column 1 (more than 4 bytes)", 4);
	expect_bad(&d, "field too long at column 1 (more than 4 bytes)", 5);
	expect_rec(&d, "abcd|abcd|ab", 6, 6);
	expect_bad(&d, "record too long (more than 12 bytes)", 7);
	expect_bad(&d, "record too long (more than 12 bytes)", 8);
	/* resumed on line 9, the continuation of the bad quoted field */
	expect_bad(&d, "quote inside unquoted field at column 1", 9);
	expect_rec(&d, "z", 10, 10);
	assert_int_equal(rd_next(&d), CSV_END);
	csv_reader_free(d.r);

	/* defaults: 1024 fields */
	{
		struct strbuf sb = STRBUF_INIT;

		for (int i = 0; i < 1025; i++)
			strbuf_puts(&sb, i ? ",x" : "x");
		strbuf_puts(&sb, "\n");
		for (int i = 0; i < 1024; i++)
			strbuf_puts(&sb, i ? ",y" : "y");
		assert_false(sb.failed);
		rd_open(&d, sb.data, sb.len, NULL);
		expect_bad(&d, "too many fields (more than 1024)", 1);
		assert_int_equal(rd_next(&d), CSV_RECORD);
		assert_int_equal(d.rec.n_fields, 1024);
		assert_string_equal(d.rec.fields[1023], "y");
		csv_reader_free(d.r);
		strbuf_free(&sb);
	}

	/* an unterminated quote that runs into the record cap */
	OPEN(&d, "\"abcdefghijklmnop\nq\n", &lim);
	expect_bad(&d, "record too long (more than 12 bytes)", 1);
	expect_rec(&d, "q", 2, 2);
	csv_reader_free(d.r);
}

/* Many rows: counts and values come out right and the field table is reused. */
static void test_many_rows(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct rd d;
	size_t n = 0;
	double sum = 0;
	char **first = NULL;

	(void)state;
	for (int i = 0; i < 100000; i++)
		strbuf_printf(&sb, "2026/11/20 %d:00,%d,\"%d,000\",x\r\n", i % 24, i, i % 7);
	assert_false(sb.failed);
	rd_open(&d, sb.data, sb.len, NULL);
	while (rd_next(&d) == CSV_RECORD) {
		assert_int_equal(d.rec.n_fields, 4);
		assert_int_equal(d.rec.line, n + 1);
		sum += atof(d.rec.fields[1]);
		if (!first)
			first = d.rec.fields;
		assert_ptr_equal(d.rec.fields, first);
		n++;
	}
	assert_int_equal(n, 100000);
	assert_true(sum == 100000.0 * 99999.0 / 2);
	csv_reader_free(d.r);
	strbuf_free(&sb);
}

static void test_billing_sample(void **state)
{
	FILE *f = fopen(SAMPLES "ryokin_kenshin_202611_cp932.csv", "rb");
	unsigned char raw[8192];
	size_t n;
	struct textenc_result t;
	struct rd d;
	int rows = 0;
	enum csv_status st;

	(void)state;
	assert_non_null(f);
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(raw));
	assert_int_equal(textenc_decode(raw, n, TEXTENC_AUTO, &t), SUIDO_OK);
	rd_open(&d, t.text, t.len, NULL);
	expect_rec(&d,
		   "お客様番号|氏名|住所|メーター番号|検針日|今回指針|前回指針|使用水量(m3)|"
		   "請求額(円)",
		   1, 1);
	expect_rec(&d, "100200300|山田 太郎|東京都千代田区丸の内1-1-1、1号室|M-20000|2026/11/10|"
		       "3351|3322|29|6,320", 2, 2);
	rows = 1;
	while ((st = rd_next(&d)) == CSV_RECORD) {
		assert_int_equal(d.rec.n_fields, 9);
		rows++;
	}
	assert_int_equal(st, CSV_END);
	assert_int_equal(rows, 10);
	csv_reader_free(d.r);
	textenc_result_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_malformed_resync),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_many_rows),
		cmocka_unit_test(test_billing_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
