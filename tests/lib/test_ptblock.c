/*
 * Unit tests of the point-block codec (lib/ptblock.h): exact bytes, round
 * trips of numbers (signed zero, infinities, extremes, denormals, NaN), text
 * and large time gaps, the append refusals that leave the buffer as it was,
 * continuation bytes, the window and early stop of the decoder, every damage
 * the decoder must report, and every byte of a valid block overwritten.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/ptblock.h"
#include "suido/error.h"
#include "suido/strbuf.h"

#define MAXPTS 64

/* What the decoder delivered, copied out of the callbacks. */
struct seen {
	size_t count;
	size_t stop_at; /* fn returns nonzero on this call (1-based); 0 = never */
	struct ptblock_point p[MAXPTS];
};

static int collect(void *ctx, const struct ptblock_point *p)
{
	struct seen *s = ctx;

	assert_true(s->count < MAXPTS);
	s->p[s->count++] = *p;
	return s->stop_at && s->count == s->stop_at;
}

static int decode_all(const struct strbuf *b, int64_t t0, int64_t t1, int64_t n,
		      struct seen *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	return ptblock_decode(b->data, b->len, t0, t1, n, INT64_MIN, INT64_MAX, collect, s, NULL,
			      err, errlen);
}

static int same_double(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof a) == 0;
}

/* Asserts that p[0..n) went through the decoder unchanged. */
static void assert_points(const struct seen *s, const struct ptblock_point *p, size_t n)
{
	assert_int_equal(s->count, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(s->p[i].t_ms == p[i].t_ms);
		if (p[i].text) {
			assert_non_null(s->p[i].text);
			assert_int_equal(s->p[i].text_len, p[i].text_len);
			assert_memory_equal(s->p[i].text, p[i].text, p[i].text_len);
		} else {
			assert_null(s->p[i].text);
			assert_true(same_double(s->p[i].v, p[i].v));
		}
	}
}

/* Encodes p[0..n) as a new block, decodes it back and compares. */
static void round_trip(const struct ptblock_point *p, size_t n)
{
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";

	assert_int_equal(ptblock_append(&b, 1, 0, p, n), SUIDO_OK);
	assert_int_equal(decode_all(&b, p[0].t_ms, p[n - 1].t_ms, (int64_t)n, &s, err, sizeof err),
			 SUIDO_OK);
	assert_points(&s, p, n);
	strbuf_free(&b);
}

/* Asserts that the decoder refuses data[len] against the row (t0, t1, n),
 * with a message naming why, and delivers no point before the damage when
 * the row itself is wrong. */
static void assert_refused(const void *data, size_t len, int64_t t0, int64_t t1, int64_t n,
			   const char *why)
{
	struct seen s = {0};
	char err[160] = "";
	int stopped = 7;

	assert_int_equal(ptblock_decode(data, len, t0, t1, n, INT64_MIN, INT64_MAX, collect, &s,
					&stopped, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(stopped, 0);
	assert_true(err[0] != '\0');
	if (why && !strstr(err, why))
		fail_msg("\"%s\" does not say \"%s\"", err, why);
	/* a NULL err is tolerated */
	assert_int_equal(ptblock_decode(data, len, t0, t1, n, INT64_MIN, INT64_MAX, NULL, NULL,
					NULL, NULL, 0),
			 SUIDO_ERR_INVALID);
}

static void test_exact_bytes(void **state)
{
	static const unsigned char want[] = {
		0x01,                                                 /* version */
		0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,                   /* 1.0 at t0 */
		0x00, 0x01, 0x02, 'a', 'b',                           /* +1: "ab" */
		0x80, 0x01, 0x02,                                     /* +129: NaN */
		0x00, 0x01, 0x00,                                     /* +1: "" */
	};
	const struct ptblock_point p[] = {
		{1000, 1.0, NULL, 0},
		{1001, 0, "ab", 2},
		{1130, NAN, NULL, 0},
		{1131, 0, "", 0},
	};
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, p, 4), SUIDO_OK);
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.data, want, sizeof want);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(decode_all(&b, 1000, 1131, 4, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, p, 4);
	/* the empty text is a text, not a number */
	assert_non_null(s.p[3].text);
	assert_true(s.p[3].text >= b.data && s.p[3].text <= b.data + b.len);
	/* new_block ignores prev_t_ms; n = 0 appends nothing */
	strbuf_reset(&b);
	assert_int_equal(ptblock_append(&b, 1, INT64_MAX, p, 4), SUIDO_OK);
	assert_memory_equal(b.data, want, sizeof want);
	assert_int_equal(ptblock_append(&b, 1, 0, p, 0), SUIDO_OK);
	assert_int_equal(ptblock_append(&b, 0, 5000, p, 0), SUIDO_OK);
	assert_int_equal(b.len, sizeof want);
	strbuf_free(&b);
}

static void test_numbers(void **state)
{
	static const double vals[] = {
		0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, INFINITY, -INFINITY, DBL_MAX, -DBL_MAX,
		DBL_MIN, -DBL_MIN, DBL_MIN / 2, 4.9406564584124654e-324, -4.9406564584124654e-324,
		DBL_EPSILON, 123456789.0625,
	};
	struct ptblock_point p[sizeof vals / sizeof *vals];
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";
	double nans[3];
	uint64_t bits;

	(void)state;
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
		p[i] = (struct ptblock_point){(int64_t)i * 7 - 50, vals[i], NULL, 0};
	round_trip(p, sizeof vals / sizeof *vals);
	/* -0.0 keeps its sign */
	assert_int_equal(ptblock_append(&b, 1, 0, &p[1], 1), SUIDO_OK);
	assert_int_equal(decode_all(&b, 0, 0, 1, &s, err, sizeof err), SUIDO_OK);
	assert_true(s.p[0].v == 0.0 && signbit(s.p[0].v));
	/* every NaN (quiet, negative, with a payload) is the one octet 0x02 */
	nans[0] = NAN;
	nans[1] = -NAN;
	bits = 0x7ff0000000000001ULL; /* signalling, payload 1 */
	memcpy(&nans[2], &bits, sizeof bits);
	for (size_t i = 0; i < 3; i++) {
		struct ptblock_point q = {42, nans[i], NULL, 0};

		assert_true(isnan(nans[i]));
		strbuf_reset(&b);
		assert_int_equal(ptblock_append(&b, 1, 0, &q, 1), SUIDO_OK);
		assert_int_equal(b.len, 2);
		assert_memory_equal(b.data, "\x01\x02", 2);
		assert_int_equal(decode_all(&b, 42, 42, 1, &s, err, sizeof err), SUIDO_OK);
		assert_int_equal(s.count, 1);
		assert_true(isnan(s.p[0].v));
		assert_null(s.p[0].text);
		assert_true(s.p[0].t_ms == 42);
	}
	strbuf_free(&b);
}

static void test_text(void **state)
{
	char *big = malloc(PTBLOCK_TEXT_MAX + 1);
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";
	size_t before;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', PTBLOCK_TEXT_MAX + 1);
	big[0] = '<';
	big[PTBLOCK_TEXT_MAX - 1] = '>';
	{
		const struct ptblock_point p[] = {
			{-5, 0, "", 0},
			{-4, 0, "正常", strlen("正常")},
			{10, 3.5, NULL, 0},
			{11, 0, "a\0b", 3}, /* the codec keeps bytes, NUL included */
			{12, 0, big, PTBLOCK_TEXT_MAX},
			{13, 0, "異常あり", strlen("異常あり")},
		};

		round_trip(p, 6);
		/* the longest text's length is the three octets 80 80 04 */
		assert_int_equal(ptblock_append(&b, 1, 0, &p[4], 1), SUIDO_OK);
		assert_int_equal(b.len, 1 + 1 + 3 + PTBLOCK_TEXT_MAX);
		assert_memory_equal(b.data, "\x01\x01\x80\x80\x04<", 6);
	}
	/* one octet over the limit: refused, out as on entry */
	strbuf_reset(&b);
	assert_int_equal(strbuf_puts(&b, "kept"), 0);
	{
		const struct ptblock_point p[] = {
			{1, 1.0, NULL, 0},
			{2, 0, big, PTBLOCK_TEXT_MAX + 1},
		};

		before = b.len;
		assert_int_equal(ptblock_append(&b, 1, 0, p, 2), SUIDO_ERR_LIMIT);
		assert_int_equal(b.len, before);
		assert_string_equal(b.data, "kept");
		assert_int_equal(ptblock_append(&b, 0, 0, p, 2), SUIDO_ERR_LIMIT);
		assert_int_equal(b.len, before);
		assert_int_equal(ptblock_append(&b, 1, 0, &p[1], 1), SUIDO_ERR_LIMIT);
		assert_int_equal(b.len, before);
		assert_string_equal(b.data, "kept");
		assert_int_equal(b.failed, 0);
	}
	/* a block holding a longer text is refused by the decoder */
	strbuf_reset(&b);
	assert_int_equal(strbuf_append(&b, "\x01\x01\x81\x80\x04", 5), 0);
	assert_int_equal(strbuf_append(&b, big, PTBLOCK_TEXT_MAX + 1), 0);
	assert_int_equal(decode_all(&b, 0, 0, 1, &s, err, sizeof err), SUIDO_ERR_INVALID);
	assert_non_null(strstr(err, "text length"));
	strbuf_free(&b);
	free(big);
}

static void test_time_gaps(void **state)
{
	const int64_t g62 = (int64_t)1 << 62;
	/* deltas of 0, 1, 2^62 - 1 and ~2^62 from the bottom of the range */
	const struct ptblock_point low[] = {
		{INT64_MIN + 1, 1.0, NULL, 0},
		{INT64_MIN + 2, 2.0, NULL, 0},
		{INT64_MIN + 4, 0, "t", 1},
		{INT64_MIN + 4 + g62, NAN, NULL, 0},
		{INT64_MIN + 5 + g62 + (g62 - 200), -1.0, NULL, 0}, /* -195 */
		{-1, 0.0, NULL, 0},
		{0, 0.5, NULL, 0},
	};
	/* ... and up to the top: to_ms = INT64_MAX is no upper bound, so a point
	 * at INT64_MAX is read; any smaller to_ms leaves it out */
	const struct ptblock_point high[] = {
		{0, 1.0, NULL, 0},
		{1 + g62, 2.0, NULL, 0},
		{INT64_MAX - 1, 3.0, NULL, 0},
		{INT64_MAX, 4.0, NULL, 0},
	};
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";

	(void)state;
	round_trip(low, sizeof low / sizeof *low);
	/* a delta of 2^62 is nine octets: eight 0x80 then 0x40 */
	{
		const struct ptblock_point p[] = {{0, 0, "", 0}, {1 + g62, 0, "", 0}};

		assert_int_equal(ptblock_append(&b, 1, 0, p, 2), SUIDO_OK);
		assert_int_equal(b.len, 3 + 9 + 2);
		assert_memory_equal(b.data + 3, "\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
		assert_int_equal(decode_all(&b, 0, 1 + g62, 2, &s, err, sizeof err), SUIDO_OK);
		assert_points(&s, p, 2);
	}
	strbuf_reset(&b);
	assert_int_equal(ptblock_append(&b, 1, 0, high, 4), SUIDO_OK);
	assert_int_equal(decode_all(&b, 0, INT64_MAX, 4, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, high, 4);
	memset(&s, 0, sizeof s);
	assert_int_equal(ptblock_decode(b.data, b.len, 0, INT64_MAX, 4, INT64_MIN, INT64_MAX - 1,
					collect, &s, NULL, err, sizeof err), SUIDO_OK);
	assert_points(&s, high, 2); /* [.., INT64_MAX - 1): neither of the top two */
	strbuf_free(&b);
}

/* Two points as far apart as int64 times go: the encoder writes the delta
 * (2^64 - 3, ten octets) and the decoder must read it back. */
static void test_time_extremes(void **state)
{
	const struct ptblock_point wide[] = {
		{INT64_MIN, 1.0, NULL, 0},
		{INT64_MAX - 1, 2.0, NULL, 0},
	};
	const struct ptblock_point half[] = {
		{INT64_MIN, 1.0, NULL, 0},
		{0, 2.0, NULL, 0}, /* delta 2^63 - 1 = INT64_MAX */
	};
	struct strbuf b = STRBUF_INIT;
	struct seen s;
	char err[160] = "";

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, wide, 2), SUIDO_OK);
	assert_int_equal(b.len, 10 + 10 + 9);
	assert_memory_equal(b.data + 10, "\xfd\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
	err[0] = '\0';
	if (decode_all(&b, INT64_MIN, INT64_MAX - 1, 2, &s, err, sizeof err) != SUIDO_OK)
		fail_msg("delta 2^64-3 written but not read: %s", err);
	assert_points(&s, wide, 2);
	strbuf_reset(&b);
	assert_int_equal(ptblock_append(&b, 1, 0, half, 2), SUIDO_OK);
	err[0] = '\0';
	if (decode_all(&b, INT64_MIN, 0, 2, &s, err, sizeof err) != SUIDO_OK)
		fail_msg("delta 2^63-1 written but not read: %s", err);
	assert_points(&s, half, 2);
	strbuf_free(&b);
}

static void test_order_refused(void **state)
{
	const struct ptblock_point eq[] = {{5, 1.0, NULL, 0}, {6, 2.0, NULL, 0}, {6, 3.0, NULL, 0}};
	const struct ptblock_point down[] = {{5, 1.0, NULL, 0}, {4, 2.0, NULL, 0}};
	const struct ptblock_point wrap[] = {{INT64_MAX, 1.0, NULL, 0}, {INT64_MIN, 2.0, NULL, 0}};
	const struct ptblock_point one[] = {{100, 1.0, NULL, 0}};
	struct strbuf b = STRBUF_INIT;

	(void)state;
	assert_int_equal(strbuf_puts(&b, "\x01\x02"), 0);
	assert_int_equal(ptblock_append(&b, 1, 0, eq, 3), SUIDO_ERR_LIMIT);
	assert_int_equal(b.len, 2);
	assert_int_equal(ptblock_append(&b, 1, 0, down, 2), SUIDO_ERR_LIMIT);
	assert_int_equal(b.len, 2);
	assert_int_equal(ptblock_append(&b, 1, 0, wrap, 2), SUIDO_ERR_LIMIT);
	assert_int_equal(b.len, 2);
	/* continuing: the first time must exceed prev_t_ms */
	assert_int_equal(ptblock_append(&b, 0, 100, one, 1), SUIDO_ERR_LIMIT);
	assert_int_equal(ptblock_append(&b, 0, 101, one, 1), SUIDO_ERR_LIMIT);
	assert_int_equal(ptblock_append(&b, 0, INT64_MAX, one, 1), SUIDO_ERR_LIMIT);
	assert_int_equal(ptblock_append(&b, 0, 5, down, 2), SUIDO_ERR_LIMIT);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\x01\x02", 3); /* NUL-terminated as on entry */
	assert_int_equal(b.failed, 0);
	assert_int_equal(ptblock_append(&b, 0, 99, one, 1), SUIDO_OK);
	assert_int_equal(b.len, 2 + 1 + 9);
	assert_memory_equal(b.data + 2, "\x00\x00", 2);
	strbuf_free(&b);
	/* refused into an empty buffer: still empty */
	assert_int_equal(ptblock_append(&b, 1, 0, eq, 3), SUIDO_ERR_LIMIT);
	assert_int_equal(b.len, 0);
	strbuf_free(&b);
}

/* A buffer that cannot grow: the error is SUIDO_ERR_NOMEM (enum suido_err,
 * never negative) and out->len is as on entry. */
static void test_nomem(void **state)
{
	const struct ptblock_point p[] = {{1, 1.0, NULL, 0}, {2, 0, "abcdefgh", 8}};
	struct strbuf b = STRBUF_INIT;

	(void)state;
	b.limit = 12;
	assert_int_equal(strbuf_puts(&b, "ab"), 0);
	assert_int_equal(ptblock_append(&b, 1, 0, p, 2), SUIDO_ERR_NOMEM);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "ab");
	strbuf_free(&b);
}

static void test_continuation(void **state)
{
	const struct ptblock_point p[] = {
		{1000, 1.0, NULL, 0},     {2000, 0, "on", 2},       {2001, NAN, NULL, 0},
		{9000, -3.0, NULL, 0},    {1000000, 0, "off", 3},
	};
	struct strbuf b = STRBUF_INIT, all = STRBUF_INIT;
	struct seen s;
	char err[160] = "";
	size_t first;

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, p, 3), SUIDO_OK);
	first = b.len;
	assert_int_equal(decode_all(&b, 1000, 2001, 3, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(ptblock_append(&b, 0, 2001, p + 3, 2), SUIDO_OK);
	/* the concatenation is one block: the row's t1 and n updated */
	assert_int_equal(decode_all(&b, 1000, 1000000, 5, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, p, 5);
	/* and the same bytes as writing the five at once */
	assert_int_equal(ptblock_append(&all, 1, 0, p, 5), SUIDO_OK);
	assert_int_equal(all.len, b.len);
	assert_memory_equal(all.data, b.data, b.len);
	/* point by point as well */
	strbuf_reset(&all);
	assert_int_equal(ptblock_append(&all, 1, 0, p, 1), SUIDO_OK);
	for (size_t i = 1; i < 5; i++)
		assert_int_equal(ptblock_append(&all, 0, p[i - 1].t_ms, p + i, 1), SUIDO_OK);
	assert_int_equal(all.len, b.len);
	assert_memory_equal(all.data, b.data, b.len);
	/* the old row (t1, n) no longer matches the grown blob */
	assert_refused(b.data, b.len, 1000, 2001, 3, NULL);
	assert_refused(b.data, b.len, 1000, 1000000, 3, "more points");
	/* nor the new row the old blob */
	assert_refused(b.data, first, 1000, 1000000, 5, NULL);
	strbuf_free(&b);
	strbuf_free(&all);
}

static void test_window(void **state)
{
	const struct ptblock_point p[] = {
		{10, 1.0, NULL, 0}, {20, 2.0, NULL, 0}, {30, 0, "c", 1},
		{40, 4.0, NULL, 0}, {50, 5.0, NULL, 0},
	};
	static const struct {
		int64_t from, to;
		size_t first, count;
	} w[] = {
		{INT64_MIN, INT64_MAX, 0, 5}, {20, 40, 1, 2}, {10, 11, 0, 1}, {0, 10, 0, 0},
		{50, 51, 4, 1},               {51, 1000, 0, 0}, {30, 30, 0, 0}, {40, 20, 0, 0},
		{11, 50, 1, 3},               {INT64_MIN, 31, 0, 3},
	};
	struct strbuf b = STRBUF_INIT;
	char err[160] = "";

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, p, 5), SUIDO_OK);
	for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
		struct seen s = {0};
		int stopped = 7;

		assert_int_equal(ptblock_decode(b.data, b.len, 10, 50, 5, w[i].from, w[i].to, collect,
						&s, &stopped, err, sizeof err),
				 SUIDO_OK);
		assert_int_equal(stopped, 0);
		assert_points(&s, p + w[i].first, w[i].count);
	}
	/* a NULL fn only checks */
	assert_int_equal(ptblock_decode(b.data, b.len, 10, 50, 5, INT64_MIN, INT64_MAX, NULL, NULL,
					NULL, err, sizeof err),
			 SUIDO_OK);
	/* points out of the window are checked all the same: damage after it
	 * (a bad tag on the last point) is reported */
	b.data[b.len - 9] = 0x07;
	{
		struct seen s = {0};

		assert_int_equal(ptblock_decode(b.data, b.len, 10, 50, 5, 0, 15, collect, &s, NULL,
						err, sizeof err),
				 SUIDO_ERR_INVALID);
		assert_non_null(strstr(err, "value tag"));
		assert_int_equal(s.count, 1);
	}
	strbuf_free(&b);
}

static void test_stop(void **state)
{
	const struct ptblock_point p[] = {
		{10, 1.0, NULL, 0}, {20, 2.0, NULL, 0}, {30, 3.0, NULL, 0}, {40, 4.0, NULL, 0},
	};
	struct strbuf b = STRBUF_INIT;
	struct seen s = {0};
	char err[160] = "";
	int stopped = 0;

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, p, 4), SUIDO_OK);
	s.stop_at = 2;
	assert_int_equal(ptblock_decode(b.data, b.len, 10, 40, 4, INT64_MIN, INT64_MAX, collect, &s,
					&stopped, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(stopped, 1);
	assert_points(&s, p, 2);
	/* stopping at the last point, and with stopped NULL */
	memset(&s, 0, sizeof s);
	s.stop_at = 1;
	assert_int_equal(ptblock_decode(b.data, b.len, 10, 40, 4, 40, 41, collect, &s, NULL, err,
					sizeof err),
			 SUIDO_OK);
	assert_points(&s, p + 3, 1);
	/* a stop reads no further: damage after it goes unseen */
	b.len -= 3; /* the last number cut short */
	memset(&s, 0, sizeof s);
	s.stop_at = 3;
	stopped = 0;
	assert_int_equal(ptblock_decode(b.data, b.len, 10, 40, 4, INT64_MIN, INT64_MAX, collect, &s,
					&stopped, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(stopped, 1);
	assert_int_equal(s.count, 3);
	/* without the stop it is reported, after the points before it */
	memset(&s, 0, sizeof s);
	stopped = 7;
	assert_int_equal(ptblock_decode(b.data, b.len, 10, 40, 4, INT64_MIN, INT64_MAX, collect, &s,
					&stopped, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(stopped, 0);
	assert_int_equal(s.count, 3);
	assert_non_null(strstr(err, "short number"));
	strbuf_free(&b);
}

#define B(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})
#define NUM1 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f /* 1.0 */

static void test_refusals(void **state)
{
	(void)state;
	/* a good two-point block (t 100, 102) first, so the refusals below are
	 * each the one change they name */
	{
		struct seen s = {0};
		char err[160] = "";

		assert_int_equal(ptblock_decode(B(0x01, NUM1, 0x01, 0x02), 100, 102, 2, INT64_MIN,
						INT64_MAX, collect, &s, NULL, err, sizeof err),
				 SUIDO_OK);
		assert_int_equal(s.count, 2);
	}
	assert_refused(B(0x02, NUM1, 0x01, 0x02), 100, 102, 2, "version");
	assert_refused(B(0x00, NUM1, 0x01, 0x02), 100, 102, 2, "version");
	assert_refused("", 0, 100, 100, 1, "version");
	assert_refused(NULL, 0, 100, 100, 1, "version");
	assert_refused(B(0x01), 100, 100, 1, "fewer points");
	assert_refused(B(0x01, 0x00, 0, 0, 0, 0, 0, 0, 0xf0), 100, 100, 1, "short number");
	assert_refused(B(0x01, 0x00), 100, 100, 1, "short number");
	assert_refused(B(0x01, 0x01, 0x05, 'a', 'b'), 100, 100, 1, "text length");
	assert_refused(B(0x01, 0x01), 100, 100, 1, "text length");
	assert_refused(B(0x01, 0x01, 0x80), 100, 100, 1, "text length");
	assert_refused(B(0x01, 0x03), 100, 100, 1, "value tag");
	assert_refused(B(0x01, 0xff), 100, 100, 1, "value tag");
	assert_refused(B(0x01, NUM1, 0x00, 0x03), 100, 101, 2, "value tag");
	/* NaN has one form: a number holding NaN bits is damage */
	assert_refused(B(0x01, 0x00, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f), 100, 100, 1, "NaN");
	assert_refused(B(0x01, 0x00, 1, 0, 0, 0, 0, 0, 0xf0, 0xff), 100, 100, 1, "NaN");
	/* varints: minimal, at most ten octets, at most 64 bits */
	assert_refused(B(0x01, 0x02, 0x80, 0x00, 0x02), 100, 101, 2, "time delta");
	assert_refused(B(0x01, 0x02, 0x81, 0x00, 0x02), 100, 102, 2, "time delta");
	assert_refused(B(0x01, 0x01, 0x80, 0x00), 100, 100, 1, "text length");
	assert_refused(B(0x01, 0x01, 0x81, 0x00, 'a'), 100, 100, 1, "text length");
	assert_refused(B(0x01, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
			 0x01, 0x02),
		       INT64_MIN, INT64_MAX, 2, "time delta");
	assert_refused(B(0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
			 0x02),
		       INT64_MIN, INT64_MAX, 2, "time delta");
	assert_refused(B(0x01, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
			 0x02),
		       INT64_MIN, INT64_MAX, 2, "time delta");
	assert_refused(B(0x01, 0x02, 0x80), 100, 200, 2, "time delta");
	assert_refused(B(0x01, 0x02, 0x05), 100, 106, 2, "missing value");
	/* the row: n, t1, t0 */
	assert_refused(B(0x01, NUM1, 0x01, 0x02), 100, 102, 3, "fewer points");
	assert_refused(B(0x01, NUM1, 0x01, 0x02), 100, 102, 1, "more points");
	assert_refused(B(0x01, NUM1, 0x01, 0x02), 100, 103, 2, "not t1");
	assert_refused(B(0x01, NUM1, 0x01, 0x02), 99, 102, 2, "not t1");
	assert_refused(B(0x01, NUM1), 100, 101, 1, "not t1");
	assert_refused(B(0x01, NUM1, 0x01, 0x02), 100, 101, 2, "beyond t1");
	assert_refused(B(0x01, NUM1, 0x00, 0x02), 100, 100, 2, "beyond t1");
	assert_refused(B(0x01, NUM1), 100, 99, 1, "time range");
	assert_refused(B(0x01, NUM1), INT64_MAX, INT64_MIN, 1, "time range");
	assert_refused(B(0x01, NUM1), 100, 100, 0, "row's n");
	assert_refused(B(0x01, NUM1), 100, 100, -1, "row's n");
	assert_refused(B(0x01, NUM1), 100, 100, INT64_MIN, "row's n");
	assert_refused(B(0x01, NUM1), 100, 100, INT64_MAX, "row's n");
	/* a delta that would pass t1 by wrapping round int64 */
	assert_refused(B(0x01, NUM1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
			 0x02),
		       100, INT64_MAX, 2, "beyond t1");
	/* a trailing octet after the last point */
	assert_refused(B(0x01, NUM1, 0x00), 100, 100, 1, "beyond t1");
	assert_refused(B(0x01, NUM1, 0x00), 100, 101, 1, "missing value");
	/* a message fits a small err, NUL-terminated */
	{
		char err[8];

		memset(err, 'z', sizeof err);
		assert_int_equal(ptblock_decode(B(0x01, 0x03), 100, 100, 1, INT64_MIN, INT64_MAX,
						NULL, NULL, NULL, err, sizeof err),
				 SUIDO_ERR_INVALID);
		assert_int_equal(strlen(err), sizeof err - 1);
	}
}

struct flipped {
	const unsigned char *blob;
	size_t len, count;
	int64_t last;
};

static int check_flipped(void *ctx, const struct ptblock_point *p)
{
	struct flipped *f = ctx;

	/* times ascend within the row's range; a text lies within the block */
	assert_true(p->t_ms >= -3 && p->t_ms <= 70001);
	assert_true(f->count == 0 || p->t_ms > f->last);
	if (p->text) {
		assert_true((const unsigned char *)p->text >= f->blob);
		assert_true(p->text_len <= f->len);
		assert_true((const unsigned char *)p->text + p->text_len <= f->blob + f->len);
	} else {
		assert_int_equal(p->text_len, 0);
	}
	f->last = p->t_ms;
	f->count++;
	return 0;
}

/* Every octet of a valid 5-point block set to every other value, and every
 * truncation: decoded with the row's n, or refused with a message. */
static void test_every_byte(void **state)
{
	const struct ptblock_point p[] = {
		{-3, 2.5, NULL, 0},      {-2, 0, "正常", strlen("正常")},
		{200, NAN, NULL, 0},     {70000, -0.0, NULL, 0},
		{70001, 0, "", 0},
	};
	struct strbuf b = STRBUF_INIT;
	size_t ok = 0, refused = 0;

	(void)state;
	assert_int_equal(ptblock_append(&b, 1, 0, p, 5), SUIDO_OK);
	for (size_t i = 0; i < b.len; i++) {
		unsigned char *copy = malloc(b.len);
		int c0 = (unsigned char)b.data[i];

		assert_non_null(copy);
		for (int c = 0; c < 256; c++) {
			struct flipped s = {copy, b.len, 0, 0};
			char err[160] = "";
			int rc;

			if (c == c0)
				continue;
			memcpy(copy, b.data, b.len);
			copy[i] = (unsigned char)c;
			rc = ptblock_decode(copy, b.len, -3, 70001, 5, INT64_MIN, INT64_MAX,
					    check_flipped, &s, NULL, err, sizeof err);
			if (rc == SUIDO_OK) {
				assert_int_equal(s.count, 5);
				ok++;
			} else {
				assert_int_equal(rc, SUIDO_ERR_INVALID);
				assert_true(err[0] != '\0');
				assert_true(s.count <= 5);
				refused++;
			}
		}
		free(copy);
	}
	/* values' bytes (the 2.5, the text) change freely; the rest mostly not */
	assert_true(ok > 0 && refused > 0);
	for (size_t len = 0; len < b.len; len++) {
		unsigned char *cut = malloc(len ? len : 1);

		assert_non_null(cut);
		memcpy(cut, b.data, len);
		assert_refused(cut, len, -3, 70001, 5, NULL);
		free(cut);
	}
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_time_gaps),
		cmocka_unit_test(test_time_extremes),
		cmocka_unit_test(test_order_refused),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
