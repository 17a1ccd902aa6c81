/*
 * Unit tests of textenc.h: the real CP932 and UTF-8-with-BOM samples,
 * detection, U+FFFD replacement with the exact physical line of a broken
 * byte, and the name helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/textenc.h"

#define SAMPLES SUIDO_SOURCE_DIR "/../shared/samples/csv/"
#define FFFD "\xef\xbf\xbd"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static void test_cp932_sample_auto(void **state)
{
	struct textenc_result r;
	size_t len;
	unsigned char *buf = slurp(SAMPLES "haisuichi_2026112x_cp932.csv", &len);

	(void)state;
	assert_int_equal(textenc_decode(buf, len, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_CP932);
	assert_int_equal(r.n_bad_lines, 0);
	assert_null(r.bad_lines);
	assert_int_equal(strlen(r.text), r.len);
	assert_true(strncmp(r.text,
			    "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),"
			    "残留塩素(mg/L),濁度(度)\r\n2026/11/20 0:00,4.50,423.0,",
			    strlen("日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),"
				   "残留塩素(mg/L),濁度(度)\r\n2026/11/20 0:00,4.50,423.0,")) == 0);
	assert_int_equal(count_char(r.text, '\n'), 49);
	assert_non_null(strstr(r.text, "2026/11/21 23:00,4.62,427.3,259.8,0.42,0.057\r\n"));
	assert_null(strstr(r.text, FFFD));
	textenc_result_free(&r);
	free(buf);
}

static void test_cp932_billing_sample(void **state)
{
	struct textenc_result r;
	size_t len;
	unsigned char *buf = slurp(SAMPLES "ryokin_kenshin_202611_cp932.csv", &len);

	(void)state;
	assert_int_equal(textenc_decode(buf, len, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_CP932);
	assert_int_equal(r.n_bad_lines, 0);
	assert_non_null(strstr(r.text, "100200300,山田 太郎,\"東京都千代田区丸の内1-1-1、1号室\","
					"M-20000,2026/11/10,3351,3322,29,\"6,320\"\r\n"));
	textenc_result_free(&r);
	/* the same bytes forced to UTF-8 are mostly U+FFFD, on every line */
	assert_int_equal(textenc_decode(buf, len, TEXTENC_UTF8, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8);
	assert_non_null(strstr(r.text, FFFD));
	assert_int_equal(r.n_bad_lines, 11);
	assert_int_equal(r.bad_lines[0], 1);
	assert_int_equal(r.bad_lines[10], 11);
	textenc_result_free(&r);
	free(buf);
}

static void test_utf8_bom_sample(void **state)
{
	struct textenc_result r;
	size_t len;
	unsigned char *buf = slurp(SAMPLES "pump_station_long_utf8bom.csv", &len);

	(void)state;
	assert_int_equal(textenc_decode(buf, len, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8_BOM);
	assert_int_equal(r.len, len - 3);
	assert_memory_equal(r.text, buf + 3, len - 3);
	assert_true(strncmp(r.text, "timestamp,station,item,value,unit\n", 34) == 0);
	assert_int_equal(r.n_bad_lines, 0);
	textenc_result_free(&r);
	/* asking for UTF-8 still drops the BOM */
	assert_int_equal(textenc_decode(buf, len, TEXTENC_UTF8, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8_BOM);
	assert_true(strncmp(r.text, "timestamp,", 10) == 0);
	textenc_result_free(&r);
	free(buf);
}

/* A real CP932 header with a lead byte cut off by a comma in line 3. */
static void test_cp932_broken_byte_line3(void **state)
{
	struct textenc_result r;
	size_t len, n = 0;
	unsigned char *sample = slurp(SAMPLES "haisuichi_2026112x_cp932.csv", &len);
	unsigned char *buf = malloc(len + 1);
	unsigned char *p = sample;
	const char *l3;

	(void)state;
	assert_non_null(buf);
	/* copy lines 1-2, then "2026/11/20 1:00" + 0x81 + rest of line 3 ... */
	for (int lines = 0; lines < 2; lines++) {
		unsigned char *nl = memchr(p, '\n', len - (size_t)(p - sample));
		assert_non_null(nl);
		p = nl + 1;
	}
	n = (size_t)(p - sample);
	memcpy(buf, sample, n);
	memcpy(buf + n, p, 15); /* "2026/11/20 1:00" */
	buf[n + 15] = 0x81;
	memcpy(buf + n + 16, p + 15, len - n - 15);

	assert_int_equal(textenc_decode(buf, len + 1, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_CP932);
	assert_int_equal(r.n_bad_lines, 1);
	assert_int_equal(r.bad_lines[0], 3);
	assert_true(textenc_line_is_bad(&r, 3));
	assert_false(textenc_line_is_bad(&r, 2));
	assert_false(textenc_line_is_bad(&r, 4));
	/* only the bad byte is lost: the comma after it survives */
	l3 = strstr(r.text, "2026/11/20 1:00" FFFD ",4.36,427.3,247.2,0.41,0.065\r\n");
	assert_non_null(l3);
	assert_non_null(strstr(r.text, "2026/11/20 2:00,4.20,"));
	assert_int_equal(count_char(r.text, '\n'), 49);
	textenc_result_free(&r);
	free(buf);
	free(sample);
}

static void test_bad_lines_sorted_unique(void **state)
{
	/* CP932 text with bad bytes on lines 2 (twice), 4 and a cut-off lead
	 * byte at the very end (line 5). A lone CR is not a line end. */
	static const unsigned char in[] = "\x93\xfa\x8e\x9e\n"       /* 日時 */
					  "a\x81,b\xff\r\n"          /* line 2 */
					  "c\rd\n"                   /* line 3 */
					  "\x82,e\n"                 /* line 4 */
					  "\x93\xfa\x82";            /* line 5 */
	struct textenc_result r;

	(void)state;
	assert_int_equal(textenc_decode(in, sizeof(in) - 1, TEXTENC_CP932, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_CP932);
	assert_int_equal(r.n_bad_lines, 3);
	assert_int_equal(r.bad_lines[0], 2);
	assert_int_equal(r.bad_lines[1], 4);
	assert_int_equal(r.bad_lines[2], 5);
	assert_string_equal(r.text, "日時\na" FFFD ",b" FFFD "\r\nc\rd\n" FFFD ",e\n日" FFFD);
	assert_int_equal(r.len, strlen(r.text));
	textenc_result_free(&r);
}

static void test_utf8_invalid(void **state)
{
	/* line 1 good; line 2 a truncated 3-byte sequence then ASCII (one
	 * U+FFFD for the maximal subpart); line 3 overlong '/' and a surrogate */
	static const unsigned char in[] = "ok,é\n"
					  "x\xe6\x97,y\n"
					  "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80\n";
	struct textenc_result r;

	(void)state;
	assert_int_equal(textenc_decode(in, sizeof(in) - 1, TEXTENC_UTF8, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8);
	assert_string_equal(r.text, "ok,é\nx" FFFD ",y\n" FFFD FFFD "|" FFFD FFFD FFFD "|" FFFD
				    FFFD FFFD FFFD "\n");
	assert_int_equal(r.n_bad_lines, 2);
	assert_int_equal(r.bad_lines[0], 2);
	assert_int_equal(r.bad_lines[1], 3);
	textenc_result_free(&r);
}

static void test_detection(void **state)
{
	struct textenc_result r;
	/* "水位" in UTF-8 and in CP932 */
	static const unsigned char u8[] = "\xe6\xb0\xb4\xe4\xbd\x8d,1\n";
	static const unsigned char sj[] = "\x90\x85\x88\xca,1\n";
	/* UTF-8 with one stray byte still has fewer errors as UTF-8 */
	static const unsigned char u8bad[] = "\xe6\xb0\xb4\xe4\xbd\x8d,\xff\n";

	(void)state;
	assert_int_equal(textenc_decode(u8, sizeof(u8) - 1, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8);
	assert_string_equal(r.text, "水位,1\n");
	textenc_result_free(&r);

	assert_int_equal(textenc_decode(sj, sizeof(sj) - 1, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_CP932);
	assert_string_equal(r.text, "水位,1\n");
	textenc_result_free(&r);

	assert_int_equal(textenc_decode(u8bad, sizeof(u8bad) - 1, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8);
	assert_string_equal(r.text, "水位," FFFD "\n");
	assert_int_equal(r.n_bad_lines, 1);
	textenc_result_free(&r);

	/* empty input and a bare BOM */
	assert_int_equal(textenc_decode((const unsigned char *)"", 0, TEXTENC_AUTO, &r), SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8);
	assert_non_null(r.text);
	assert_string_equal(r.text, "");
	textenc_result_free(&r);
	assert_int_equal(textenc_decode((const unsigned char *)"\xef\xbb\xbf", 3, TEXTENC_AUTO, &r),
			 SUIDO_OK);
	assert_int_equal(r.enc, TEXTENC_UTF8_BOM);
	assert_int_equal(r.len, 0);
	textenc_result_free(&r);
	textenc_result_free(&r); /* tolerates a zeroed struct */
}

static void test_names(void **state)
{
	enum textenc e;

	(void)state;
	assert_string_equal(textenc_name(TEXTENC_UTF8), "utf-8");
	assert_string_equal(textenc_name(TEXTENC_UTF8_BOM), "utf-8-bom");
	assert_string_equal(textenc_name(TEXTENC_CP932), "cp932");
	assert_string_equal(textenc_name(TEXTENC_AUTO), "auto");
	assert_int_equal(textenc_parse("Shift_JIS", &e), 0);
	assert_int_equal(e, TEXTENC_CP932);
	assert_int_equal(textenc_parse("SJIS", &e), 0);
	assert_int_equal(e, TEXTENC_CP932);
	assert_int_equal(textenc_parse("windows-31j", &e), 0);
	assert_int_equal(e, TEXTENC_CP932);
	assert_int_equal(textenc_parse("UTF8", &e), 0);
	assert_int_equal(e, TEXTENC_UTF8);
	assert_int_equal(textenc_parse("utf-8-bom", &e), 0);
	assert_int_equal(e, TEXTENC_UTF8_BOM);
	assert_int_equal(textenc_parse("auto", &e), 0);
	assert_int_equal(e, TEXTENC_AUTO);
	assert_int_equal(textenc_parse("euc-jp", &e), -1);
	assert_true(textenc_is_binary((const unsigned char *)"a\0b", 3));
	assert_false(textenc_is_binary((const unsigned char *)"abc", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cp932_sample_auto),
		cmocka_unit_test(test_cp932_billing_sample),
		cmocka_unit_test(test_utf8_bom_sample),
		cmocka_unit_test(test_cp932_broken_byte_line3),
		cmocka_unit_test(test_bad_lines_sorted_unique),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
