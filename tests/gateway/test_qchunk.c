/*
 * Unit tests of the chunks of pending points (qchunk.h): exact bytes, round
 * trips of items (the per-chunk dictionary, its growth and its cap), numbers
 * (signed zero, infinities, extremes, denormals, NaN), texts and times to
 * both ends of int64, the writer's refusals that leave it as it was, reset
 * and reuse, the decoder's early stop, every damage the decoder must report,
 * and every octet of a valid chunk overwritten.
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

#include "qchunk.h"
#include "suido/error.h"
#include "suido/strbuf.h"

/* What the decoder delivered, copied out of the callbacks (the strings stay
 * pointers into the chunk, which outlives the copies). */
struct seen {
	size_t count, cap;
	size_t stop_at; /* fn returns nonzero on this call (1-based); 0 = never */
	struct qchunk_point *p;
};

static int collect(void *ctx, const struct qchunk_point *p)
{
	struct seen *s = ctx;

	if (s->count == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->p = realloc(s->p, s->cap * sizeof *s->p);
		assert_non_null(s->p);
	}
	s->p[s->count++] = *p;
	return s->stop_at && s->count == s->stop_at;
}

static void seen_free(struct seen *s)
{
	free(s->p);
	memset(s, 0, sizeof *s);
}

static int decode_all(const void *data, size_t len, int64_t n, struct seen *s, char *err,
		      size_t errlen)
{
	int stopped = 7, rc;

	seen_free(s);
	rc = qchunk_decode(data, len, n, collect, s, &stopped, err, errlen);
	assert_int_equal(stopped, 0);
	return rc;
}

static int decode_buf(const struct strbuf *b, int64_t n, struct seen *s, char *err,
		      size_t errlen)
{
	return decode_all(b->data, b->len, n, s, err, errlen);
}

static int same_double(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof a) == 0;
}

/* Asserts that p[0..n) went through the decoder unchanged. */
static void assert_points(const struct seen *s, const struct qchunk_point *p, size_t n)
{
	assert_int_equal(s->count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s->p[i].item_len, p[i].item_len);
		assert_memory_equal(s->p[i].item, p[i].item, p[i].item_len);
		assert_true(s->p[i].t_ms == p[i].t_ms);
		if (p[i].text) {
			assert_non_null(s->p[i].text);
			assert_int_equal(s->p[i].text_len, p[i].text_len);
			if (p[i].text_len)
				assert_memory_equal(s->p[i].text, p[i].text, p[i].text_len);
		} else {
			assert_null(s->p[i].text);
			assert_int_equal(s->p[i].text_len, 0);
			assert_true(same_double(s->p[i].v, p[i].v));
		}
	}
}

/* Writes p[0..n) point by point into w (as it is), returns nothing. */
static void add_all(struct qchunk_writer *w, const struct qchunk_point *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(qchunk_writer_add(w, &p[i]), SUIDO_OK);
}

/* Encodes p[0..n) as a new chunk, decodes it back and compares. */
static void round_trip(const struct qchunk_point *p, size_t n)
{
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	add_all(&w, p, n);
	assert_int_equal(w.n, n);
	if (decode_buf(&w.buf, (int64_t)n, &s, err, sizeof err) != SUIDO_OK)
		fail_msg("round trip of %zu points refused: %s", n, err);
	assert_points(&s, p, n);
	seen_free(&s);
	qchunk_writer_free(&w);
}

/* Asserts that the decoder refuses data[len] against n with a message
 * naming why; the same with NULL fn, stopped and err. */
static void assert_refused(const void *data, size_t len, int64_t n, const char *why)
{
	struct seen s = {0};
	char err[160] = "";
	int stopped = 7, rc;

	rc = qchunk_decode(data, len, n, collect, &s, &stopped, err, sizeof err);

	seen_free(&s); /* before any assertion, which would leave this call */
	assert_int_equal(rc, SUIDO_ERR_INVALID);
	assert_int_equal(stopped, 0);
	assert_true(err[0] != '\0');
	if (why && !strstr(err, why))
		fail_msg("\"%s\" does not say \"%s\"", err, why);
	assert_int_equal(qchunk_decode(data, len, n, NULL, NULL, NULL, NULL, 0), SUIDO_ERR_INVALID);
}

#define NUM(item, t, v) ((struct qchunk_point){(item), strlen(item), (t), (v), NULL, 0})
#define TXT(item, t, s) ((struct qchunk_point){(item), strlen(item), (t), 0, (s), strlen(s)})

static void test_exact_bytes(void **state)
{
	static const unsigned char want[] = {
		0x01,                                     /* version */
		0x00, 0x01, 'a',                          /* new item 0 "a" */
		0xd0, 0x0f,                               /* zigzag(+1000) = 2000 */
		0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,       /* 1.0 */
		0x01, 0x02, 'b', 'c',                     /* new item 1 "bc" */
		0x01,                                     /* zigzag(-1) = 1 */
		0x01, 0x02, 'x', 'y',                     /* text "xy" */
		0x00,                                     /* item 0 again */
		0x82, 0x02,                               /* zigzag(+129) = 258 */
		0x02,                                     /* NaN */
		0x01,                                     /* item 1 again */
		0x00,                                     /* same time */
		0x01, 0x00,                               /* text "" */
		0x00,                                     /* item 0 */
		0x81, 0x02,                               /* zigzag(-129) = 257 */
		0x00, 0, 0, 0, 0, 0, 0, 0, 0x80,          /* -0.0 */
	};
	const struct qchunk_point p[] = {
		NUM("a", 1000, 1.0),
		TXT("bc", 999, "xy"),
		NUM("a", 1128, NAN),
		TXT("bc", 1128, ""),
		NUM("a", 999, -0.0),
	};
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	add_all(&w, p, 5);
	assert_int_equal(w.n, 5);
	assert_int_equal(w.buf.len, sizeof want);
	assert_memory_equal(w.buf.data, want, sizeof want);
	assert_int_equal(w.buf.data[w.buf.len], '\0');
	assert_int_equal(decode_buf(&w.buf, 5, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, p, 5);
	/* the strings are borrowed from the chunk: an item named once, texts
	 * where they lie (the empty text is a text, not a number) */
	assert_ptr_equal(s.p[0].item, w.buf.data + 3);
	assert_ptr_equal(s.p[2].item, s.p[0].item);
	assert_ptr_equal(s.p[4].item, s.p[0].item);
	assert_ptr_equal(s.p[1].item, w.buf.data + 17);
	assert_ptr_equal(s.p[3].item, s.p[1].item);
	assert_ptr_equal(s.p[1].text, w.buf.data + 22);
	assert_non_null(s.p[3].text);
	assert_true(s.p[3].text >= w.buf.data && s.p[3].text <= w.buf.data + w.buf.len);
	assert_true(signbit(s.p[4].v));
	/* a NULL fn only checks */
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 5, NULL, NULL, NULL, err, sizeof err),
			 SUIDO_OK);
	seen_free(&s);
	qchunk_writer_free(&w);
	/* freeing twice, or a zeroed writer, is harmless */
	qchunk_writer_free(&w);
	assert_int_equal(w.buf.len, 0);
	assert_int_equal(w.n, 0);
}

static void test_numbers(void **state)
{
	static const double vals[] = {
		0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, INFINITY, -INFINITY, DBL_MAX, -DBL_MAX,
		DBL_MIN, -DBL_MIN, DBL_MIN / 2, 4.9406564584124654e-324, -4.9406564584124654e-324,
		DBL_EPSILON, 123456789.0625,
	};
	enum { NV = sizeof vals / sizeof *vals };
	static const char *const items[] = {"x", "y", "z"};
	struct qchunk_point p[NV];
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";
	double nans[4];
	uint64_t bits;

	(void)state;
	for (size_t i = 0; i < NV; i++)
		p[i] = NUM(items[i % 3], (int64_t)i * 7 - 50, vals[i]);
	round_trip(p, NV);
	/* -0.0 keeps its sign, the bits are little-endian */
	assert_int_equal(qchunk_writer_add(&w, &p[1]), SUIDO_OK);
	assert_memory_equal(w.buf.data + w.buf.len - 9, "\x00\0\0\0\0\0\0\0\x80", 9);
	assert_int_equal(decode_buf(&w.buf, 1, &s, err, sizeof err), SUIDO_OK);
	assert_true(s.p[0].v == 0.0 && signbit(s.p[0].v));
	/* every NaN (quiet, negative, signalling, with a payload) is the one
	 * octet 0x02 */
	nans[0] = NAN;
	nans[1] = -NAN;
	bits = 0x7ff0000000000001ULL;
	memcpy(&nans[2], &bits, sizeof bits);
	bits = 0xfff8000000000123ULL;
	memcpy(&nans[3], &bits, sizeof bits);
	for (size_t i = 0; i < 4; i++) {
		const struct qchunk_point q = NUM("k", 0, nans[i]);

		assert_true(isnan(nans[i]));
		qchunk_writer_reset(&w);
		assert_int_equal(qchunk_writer_add(&w, &q), SUIDO_OK);
		assert_int_equal(w.buf.len, 6);
		assert_memory_equal(w.buf.data, "\x01\x00\x01k\x00\x02", 6);
		assert_int_equal(decode_buf(&w.buf, 1, &s, err, sizeof err), SUIDO_OK);
		assert_int_equal(s.count, 1);
		assert_true(isnan(s.p[0].v));
		assert_null(s.p[0].text);
	}
	seen_free(&s);
	qchunk_writer_free(&w);
}

/* Asserts a refused add left the writer as it was: same bytes, same n. */
static void assert_add_refused(struct qchunk_writer *w, const struct qchunk_point *p, int want)
{
	size_t len = w->buf.len, n = w->n, names = w->n_names;
	int64_t prev = w->prev_t;
	char *copy = malloc(len + 1);

	assert_non_null(copy);
	if (len)
		memcpy(copy, w->buf.data, len + 1);
	assert_int_equal(qchunk_writer_add(w, p), want);
	assert_int_equal(w->buf.len, len);
	assert_int_equal(w->n, n);
	assert_int_equal(w->n_names, names);
	assert_true(w->prev_t == prev);
	assert_int_equal(w->buf.failed, 0);
	if (len)
		assert_memory_equal(w->buf.data, copy, len + 1); /* NUL-terminated too */
	free(copy);
}

static void test_text(void **state)
{
	char *big = malloc(QCHUNK_TEXT_MAX + 1);
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	assert_non_null(big);
	memset(big, 'x', QCHUNK_TEXT_MAX + 1);
	big[0] = '<';
	big[QCHUNK_TEXT_MAX - 1] = '>';
	{
		const struct qchunk_point p[] = {
			TXT("s", -5, ""),
			TXT("状態", -4, "正常"),
			NUM("s", 10, 3.5),
			{"s", 1, 11, 0, "a\0b", 3}, /* the codec keeps bytes, NUL included */
			{"状態", strlen("状態"), 12, 0, big, QCHUNK_TEXT_MAX},
			TXT("s", 13, "異常あり"),
			TXT("s", 14, ""),
		};

		round_trip(p, 7);
		/* the longest text's length is the three octets 80 80 04 */
		add_all(&w, &p[4], 1);
		assert_int_equal(w.buf.len,
				 1 + 1 + 1 + strlen("状態") + 1 + 1 + 3 + QCHUNK_TEXT_MAX);
		assert_memory_equal(w.buf.data + 3 + strlen("状態") + 1, "\x01\x80\x80\x04<", 5);
		/* one octet over the limit: refused, the writer as it was */
		{
			const struct qchunk_point over = {"s", 1, 20, 0, big, QCHUNK_TEXT_MAX + 1};
			const struct qchunk_point overnew = {"new", 3, 20, 0, big,
							     QCHUNK_TEXT_MAX + 1};

			assert_add_refused(&w, &over, SUIDO_ERR_LIMIT);
			assert_add_refused(&w, &overnew, SUIDO_ERR_LIMIT);
		}
		/* and the next add still works: "s" is new (index 1), time from 12 */
		assert_int_equal(qchunk_writer_add(&w, &p[2]), SUIDO_OK);
		assert_memory_equal(w.buf.data + w.buf.len - 13, "\x01\x01s\x03\x00", 5); /* -2 */
		assert_int_equal(w.n, 2);
		assert_int_equal(decode_buf(&w.buf, 2, &s, err, sizeof err), SUIDO_OK);
		{
			const struct qchunk_point q[] = {p[4], p[2]};

			assert_points(&s, q, 2);
		}
	}
	/* into an empty writer: still empty, no version octet */
	qchunk_writer_free(&w);
	{
		const struct qchunk_point over = {"s", 1, 20, 0, big, QCHUNK_TEXT_MAX + 1};

		assert_add_refused(&w, &over, SUIDO_ERR_LIMIT);
		assert_int_equal(w.buf.len, 0);
	}
	/* a chunk holding a longer text is refused by the decoder */
	{
		struct strbuf b = STRBUF_INIT;

		assert_int_equal(strbuf_append(&b, "\x01\x00\x01s\x00\x01\x81\x80\x04", 9), 0);
		assert_int_equal(strbuf_append(&b, big, QCHUNK_TEXT_MAX + 1), 0);
		assert_refused(b.data, b.len, 1, "text length");
		/* the same at the limit is fine */
		memcpy(b.data + 6, "\x80\x80\x04", 3);
		b.len--;
		assert_int_equal(decode_buf(&b, 1, &s, err, sizeof err), SUIDO_OK);
		assert_int_equal(s.p[0].text_len, QCHUNK_TEXT_MAX);
		assert_ptr_equal(s.p[0].text, b.data + 9);
		strbuf_free(&b);
	}
	seen_free(&s);
	qchunk_writer_free(&w);
	free(big);
}

static void test_items(void **state)
{
	char *id = malloc(QCHUNK_ITEM_MAX + 1);
	char names[6][QCHUNK_ITEM_MAX + 1];
	struct qchunk_point p[300];
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	assert_non_null(id);
	memset(id, 'i', QCHUNK_ITEM_MAX + 1);
	/* ids of 1 to QCHUNK_ITEM_MAX octets, some alike but for one octet or
	 * their length, one with a NUL, one in UTF-8 */
	memset(names, 'n', sizeof names);
	names[1][QCHUNK_ITEM_MAX - 1] = 'm';
	snprintf(names[3], sizeof names[3], "配水池.水位");
	names[4][0] = '\0';
	names[4][1] = 'z';
	{
		const size_t lens[6] = {QCHUNK_ITEM_MAX, QCHUNK_ITEM_MAX, QCHUNK_ITEM_MAX - 1,
					strlen(names[3]), 2, 1};

		for (size_t i = 0; i < 300; i++) {
			size_t k = (i + i / 7) % 6;

			p[i] = (struct qchunk_point){names[k], lens[k],
						     1795100400000LL + (int64_t)i * 997 % 5000,
						     (double)i / 3, NULL, 0};
			if (i % 4 == 1) {
				p[i].text = names[(k + 1) % 6];
				p[i].text_len = lens[(k + 2) % 6];
			} else if (i % 11 == 3) {
				p[i].v = NAN;
			}
		}
		round_trip(p, 300);
		/* each id written once, the rest by index: 6 ids, 294 one-octet refs */
		add_all(&w, p, 300);
		{
			size_t want = 1 + 300;

			for (size_t k = 0; k < 6; k++)
				want += (lens[k] > 127 ? 2 : 1) + lens[k];
			for (size_t i = 0; i < 300; i++) {
				int64_t prev = i ? p[i - 1].t_ms : 0;
				uint64_t z = (uint64_t)p[i].t_ms - (uint64_t)prev;

				z = (z << 1) ^ (uint64_t)(-(int64_t)(z >> 63));
				do
					want++;
				while (z >>= 7);
				if (p[i].text)
					want += 1 + (p[i].text_len > 127 ? 2 : 1) + p[i].text_len;
				else
					want += isnan(p[i].v) ? 1 : 9;
			}
			assert_int_equal(w.buf.len, want);
			assert_int_equal(w.n_names, 6);
		}
	}
	/* the id at QCHUNK_ITEM_MAX octets: length 80 02 */
	qchunk_writer_reset(&w);
	{
		const struct qchunk_point at = {id, QCHUNK_ITEM_MAX, 0, 1.0, NULL, 0};
		const struct qchunk_point over = {id, QCHUNK_ITEM_MAX + 1, 5, 1.0, NULL, 0};
		const struct qchunk_point empty = {"", 0, 5, 1.0, NULL, 0};
		const struct qchunk_point empty_p = {id, 0, 5, 0, "t", 1};
		const struct qchunk_point next = NUM("q", 7, 2.0);

		assert_int_equal(qchunk_writer_add(&w, &at), SUIDO_OK);
		assert_memory_equal(w.buf.data, "\x01\x00\x80\x02", 4);
		assert_int_equal(w.buf.len, 4 + QCHUNK_ITEM_MAX + 1 + 9);
		/* over the cap, or empty: refused, the writer as it was */
		assert_add_refused(&w, &over, SUIDO_ERR_LIMIT);
		assert_add_refused(&w, &empty, SUIDO_ERR_LIMIT);
		assert_add_refused(&w, &empty_p, SUIDO_ERR_LIMIT);
		/* the one over the cap was not named: its first QCHUNK_ITEM_MAX
		 * octets are still the known item 0 */
		assert_int_equal(qchunk_writer_add(&w, &next), SUIDO_OK);
		assert_memory_equal(w.buf.data + w.buf.len - 13, "\x01\x01q\x0e", 4);
		assert_int_equal(qchunk_writer_add(&w, &at), SUIDO_OK);
		assert_memory_equal(w.buf.data + w.buf.len - 11, "\x00\x0d", 2); /* item 0, -7 */
		assert_int_equal(decode_buf(&w.buf, 3, &s, err, sizeof err), SUIDO_OK);
		{
			const struct qchunk_point q[] = {at, next, at};

			assert_points(&s, q, 3);
		}
	}
	/* refused into an empty writer: nothing written */
	qchunk_writer_free(&w);
	{
		const struct qchunk_point over = {id, QCHUNK_ITEM_MAX + 1, 5, 1.0, NULL, 0};
		const struct qchunk_point empty = {"", 0, 5, 1.0, NULL, 0};

		assert_add_refused(&w, &over, SUIDO_ERR_LIMIT);
		assert_add_refused(&w, &empty, SUIDO_ERR_LIMIT);
		assert_int_equal(w.buf.len, 0);
		assert_int_equal(qchunk_writer_add(&w, &empty), SUIDO_ERR_LIMIT);
	}
	seen_free(&s);
	qchunk_writer_free(&w);
	free(id);
}

/* More than 64 distinct items (the dictionary grows several times), up to
 * QCHUNK_ITEMS_MAX: the next new item is refused, a known one accepted. */
static void test_many_items(void **state)
{
	enum { N = QCHUNK_ITEMS_MAX };
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "", (*ids)[16] = malloc(N * sizeof *ids);
	struct qchunk_point *p = malloc((N + 2) * sizeof *p);

	(void)state;
	assert_non_null(ids);
	assert_non_null(p);
	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "item.%zu", i);
		p[i] = NUM(ids[i], (int64_t)i, (double)i);
		assert_int_equal(qchunk_writer_add(&w, &p[i]), SUIDO_OK);
		assert_int_equal(w.n_names, i + 1);
		/* each new: its index is the count so far */
		if (i == 200)
			assert_memory_equal(w.buf.data + w.buf.len - 9 - 1 - 8 - 1 - 2,
					    "\xc8\x01\x08item.200", 11);
	}
	{
		const struct qchunk_point extra = NUM("one.too.many", 5000, 1.0);
		const struct qchunk_point known = NUM("item.200", 5001, 2.0);

		assert_add_refused(&w, &extra, SUIDO_ERR_LIMIT);
		assert_int_equal(qchunk_writer_add(&w, &known), SUIDO_OK);
		/* known item 200: the index C8 01, no id */
		assert_memory_equal(w.buf.data + w.buf.len - 9 - 2 - 2, "\xc8\x01", 2);
		assert_add_refused(&w, &extra, SUIDO_ERR_LIMIT);
		p[N] = known;
	}
	/* every item id is where it was: the last of each read back */
	assert_int_equal(decode_buf(&w.buf, N + 1, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, p, N + 1);
	assert_ptr_equal(s.p[N].item, s.p[200].item);
	/* the decoder refuses the (QCHUNK_ITEMS_MAX + 1)-th item */
	{
		struct strbuf b = STRBUF_INIT;

		assert_int_equal(strbuf_append(&b, w.buf.data, w.buf.len), 0);
		assert_int_equal(strbuf_append(&b, "\x80\x04\x01z\x00\x02", 6), 0); /* new 512 */
		assert_refused(b.data, b.len, N + 2, "too many items");
		/* while a reference to the last is fine */
		b.len -= 6;
		assert_int_equal(strbuf_append(&b, "\xff\x03\x00\x02", 4), 0); /* item 511 */
		assert_int_equal(decode_buf(&b, N + 2, &s, err, sizeof err), SUIDO_OK);
		assert_ptr_equal(s.p[N + 1].item, s.p[N - 1].item);
		strbuf_free(&b);
	}
	/* after a reset the dictionary starts again: index 0 */
	qchunk_writer_reset(&w);
	assert_int_equal(qchunk_writer_add(&w, &p[400]), SUIDO_OK);
	assert_memory_equal(w.buf.data, "\x01\x00\x08item.400", 11);
	seen_free(&s);
	qchunk_writer_free(&w);
	free(ids);
	free(p);
}

static void test_time_extremes(void **state)
{
	const struct qchunk_point p[] = {
		NUM("t", INT64_MIN, 1.0),
		NUM("t", INT64_MAX, 2.0),     /* up by 2^64 - 1, written as -1 */
		NUM("t", INT64_MIN, 3.0),     /* down: written as +1 */
		NUM("u", 0, 4.0),
		NUM("t", INT64_MAX, 5.0),
		NUM("u", INT64_MIN + 1, 6.0),
		NUM("t", -1, 7.0),
		NUM("u", INT64_MAX - 1, 8.0),
		NUM("t", INT64_MAX, 9.0),
		NUM("u", 1, 10.0),
		NUM("u", -1, 11.0),
		NUM("u", 0, 12.0),
	};
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	round_trip(p, sizeof p / sizeof *p);
	/* the first at INT64_MIN: zigzag is 2^64 - 1, ten octets; then the jumps
	 * to INT64_MAX and back are one octet each */
	add_all(&w, p, 3);
	assert_int_equal(w.buf.len, 1 + 3 + 10 + 9 + 1 + 1 + 9 + 1 + 1 + 9);
	assert_memory_equal(w.buf.data + 4, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
	assert_memory_equal(w.buf.data + 23, "\x00\x01", 2);
	assert_memory_equal(w.buf.data + 34, "\x00\x02", 2);
	/* a first point at INT64_MAX: zigzag 2^64 - 2 */
	qchunk_writer_reset(&w);
	add_all(&w, &p[1], 1);
	assert_memory_equal(w.buf.data + 4, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
	/* from 0 to INT64_MIN and back: each the ten-octet 2^64 - 1 (the
	 * differences -2^63 and 2^63 are one modulo 2^64) */
	qchunk_writer_reset(&w);
	add_all(&w, &p[3], 1);
	{
		const struct qchunk_point q[] = {p[3], p[0], p[3]};

		add_all(&w, q + 1, 2);
		assert_memory_equal(w.buf.data + 4, "\x00", 1);
		assert_memory_equal(w.buf.data + 14,
				    "\x01\x01t\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13);
		assert_memory_equal(w.buf.data + 36, "\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
				    11);
		assert_int_equal(decode_buf(&w.buf, 3, &s, err, sizeof err), SUIDO_OK);
		assert_points(&s, q, 3);
	}
	seen_free(&s);
	qchunk_writer_free(&w);
}

/* A buffer that cannot grow: SUIDO_ERR_NOMEM (never negative), the writer
 * as before, and the item of the failed add not named. */
static void test_nomem(void **state)
{
	const struct qchunk_point a = NUM("a", 1, 1.0), b = TXT("bb", 2, "0123456789");
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	w.buf.limit = 20;
	assert_int_equal(qchunk_writer_add(&w, &a), SUIDO_OK);
	assert_int_equal(w.buf.len, 1 + 3 + 1 + 9);
	assert_add_refused(&w, &b, SUIDO_ERR_NOMEM);
	w.buf.limit = 0;
	assert_int_equal(qchunk_writer_add(&w, &b), SUIDO_OK);
	assert_memory_equal(w.buf.data + 14, "\x01\x02" "bb\x02\x01\x0a", 7);
	assert_int_equal(decode_buf(&w.buf, 2, &s, err, sizeof err), SUIDO_OK);
	{
		const struct qchunk_point q[] = {a, b};

		assert_points(&s, q, 2);
	}
	/* the very first add failing leaves no version octet behind */
	qchunk_writer_free(&w);
	w.buf.limit = 5;
	assert_add_refused(&w, &b, SUIDO_ERR_NOMEM);
	assert_int_equal(w.buf.len, 0);
	assert_int_equal(w.n_names, 0);
	seen_free(&s);
	qchunk_writer_free(&w);
}

/* qchunk_writer_reset then reuse: the second chunk stands on its own, the
 * same bytes as a fresh writer's (item indexes and the time restart). */
static void test_reset(void **state)
{
	const struct qchunk_point first[] = {
		NUM("a", 100, 1.0), NUM("b", 200, 2.0), NUM("c", 300, 3.0), NUM("a", 400, 4.0),
	};
	const struct qchunk_point second[] = {
		NUM("c", 50, 5.0), TXT("a", 60, "x"), NUM("c", 70, NAN), NUM("d", 80, 6.0),
	};
	struct qchunk_writer w = {0}, fresh = {0};
	struct seen s = {0};
	char err[160] = "";

	(void)state;
	add_all(&w, first, 4);
	qchunk_writer_reset(&w);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.buf.len, 0);
	assert_int_equal(w.n_names, 0);
	add_all(&w, second, 4);
	add_all(&fresh, second, 4);
	assert_int_equal(w.buf.len, fresh.buf.len);
	assert_memory_equal(w.buf.data, fresh.buf.data, w.buf.len);
	assert_memory_equal(w.buf.data, "\x01\x00\x01" "c\x64", 5); /* c is item 0, +50 */
	assert_int_equal(decode_buf(&w.buf, 4, &s, err, sizeof err), SUIDO_OK);
	assert_points(&s, second, 4);
	/* a reset of an empty or zeroed writer, and reuse after free */
	qchunk_writer_reset(&w);
	qchunk_writer_reset(&w);
	qchunk_writer_free(&w);
	qchunk_writer_reset(&w);
	add_all(&w, second, 4);
	assert_memory_equal(w.buf.data, fresh.buf.data, fresh.buf.len);
	seen_free(&s);
	qchunk_writer_free(&w);
	qchunk_writer_free(&fresh);
}

static void test_stop(void **state)
{
	const struct qchunk_point p[] = {
		NUM("a", 10, 1.0), NUM("b", 20, 2.0), NUM("a", 30, 3.0), NUM("b", 40, 4.0),
	};
	struct qchunk_writer w = {0};
	struct seen s = {0};
	char err[160] = "";
	int stopped = 0;

	(void)state;
	add_all(&w, p, 4);
	s.stop_at = 2;
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 4, collect, &s, &stopped, err,
				       sizeof err),
			 SUIDO_OK);
	assert_int_equal(stopped, 1);
	assert_points(&s, p, 2);
	/* stopping at the last point, and with stopped NULL */
	seen_free(&s);
	s.stop_at = 4;
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 4, collect, &s, NULL, err,
				       sizeof err),
			 SUIDO_OK);
	assert_points(&s, p, 4);
	/* a stop reads no further: damage after it goes unseen */
	w.buf.len -= 3; /* the last number cut short */
	seen_free(&s);
	s.stop_at = 3;
	stopped = 0;
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 4, collect, &s, &stopped, err,
				       sizeof err),
			 SUIDO_OK);
	assert_int_equal(stopped, 1);
	assert_int_equal(s.count, 3);
	/* without the stop it is reported, after the points before it */
	seen_free(&s);
	stopped = 7;
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 4, collect, &s, &stopped, err,
				       sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(stopped, 0);
	assert_int_equal(s.count, 3);
	assert_non_null(strstr(err, "short number"));
	seen_free(&s);
	qchunk_writer_free(&w);
}

#define B(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})
#define NUM1 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f /* 1.0 */
#define NEWA 0x00, 0x01, 'a'                    /* new item 0 "a" */

static void test_refusals(void **state)
{
	(void)state;
	/* a good two-point chunk ("a" at 1: 1.0, "a" at 2: NaN) first, so the
	 * refusals below are each the one change they name */
	{
		struct seen s = {0};
		char err[160] = "";

		assert_int_equal(decode_all(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 2, &s, err,
					    sizeof err),
				 SUIDO_OK);
		assert_int_equal(s.count, 2);
		seen_free(&s);
	}
	assert_refused(B(0x02, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 2, "version");
	assert_refused(B(0x00, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 2, "version");
	assert_refused(B(0xff), 1, "version");
	assert_refused("", 0, 1, "version");
	assert_refused(NULL, 0, 1, "version");
	assert_refused(B(0x01), 1, "fewer points");
	/* item references beyond the names so far */
	assert_refused(B(0x01, 0x01, 0x02, NUM1), 1, "item reference");
	assert_refused(B(0x01, 0x7f, 0x02, NUM1), 1, "item reference");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x02, 0x02, 0x02), 2, "item reference");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0x01, 0x02, 0x02),
		       2, "item reference");
	assert_refused(B(0x01, 0x80), 1, "item reference");
	/* item ids: zero length, over the cap, cut short */
	assert_refused(B(0x01, 0x00, 0x00, 0x02, NUM1), 1, "item id length");
	assert_refused(B(0x01, 0x00, 0x03, 'a', 'b'), 1, "item id length");
	assert_refused(B(0x01, 0x00, 0x01), 1, "item id length");
	assert_refused(B(0x01, 0x00), 1, "item id length");
	assert_refused(B(0x01, 0x00, 0x80), 1, "item id length");
	{
		unsigned char b[4 + QCHUNK_ITEM_MAX + 1 + 2];

		memset(b, 'i', sizeof b);
		memcpy(b, "\x01\x00\x81\x02", 4); /* 257 */
		memcpy(b + sizeof b - 2, "\x00\x02", 2);
		assert_refused(b, sizeof b, 1, "item id length");
		memcpy(b + 1, "\x01\x00\x80\x02", 4); /* 256: fine */
		assert_int_equal(qchunk_decode(b + 1, sizeof b - 1, 1, NULL, NULL, NULL, NULL, 0),
				 SUIDO_OK);
	}
	/* times: cut short, non-minimal, over ten octets or 64 bits */
	assert_refused(B(0x01, NEWA), 1, "time");
	assert_refused(B(0x01, NEWA, 0x80), 1, "time");
	assert_refused(B(0x01, NEWA, 0xff, 0xff), 1, "time");
	assert_refused(B(0x01, NEWA, 0x82, 0x00, NUM1), 1, "time");
	assert_refused(B(0x01, NEWA, 0x80, 0x00, NUM1), 1, "time");
	assert_refused(B(0x01, NEWA, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
			 0x01, NUM1),
		       1, "time");
	assert_refused(B(0x01, NEWA, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
			 NUM1),
		       1, "time");
	assert_refused(B(0x01, NEWA, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81,
			 0x00, NUM1),
		       1, "time");
	assert_refused(B(0x01, NEWA, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
			 NUM1),
		       1, "time");
	/* ... while ten octets ending 01 are the largest, fine */
	assert_int_equal(qchunk_decode(B(0x01, NEWA, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0x01, NUM1),
				       1, NULL, NULL, NULL, NULL, 0),
			 SUIDO_OK);
	/* other varints non-minimal */
	assert_refused(B(0x01, 0x80, 0x00, 0x01, 'a', 0x02, NUM1), 1, "item reference");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x80, 0x00, 0x02, 0x02), 2, "item reference");
	assert_refused(B(0x01, 0x00, 0x81, 0x00, 'a', 0x02, NUM1), 1, "item id length");
	assert_refused(B(0x01, NEWA, 0x02, 0x01, 0x81, 0x00, 'x'), 1, "text length");
	assert_refused(B(0x01, NEWA, 0x02, 0x01, 0x80, 0x00), 1, "text length");
	/* values */
	assert_refused(B(0x01, NEWA, 0x02), 1, "missing value");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02), 2, "missing value");
	assert_refused(B(0x01, NEWA, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0xf0), 1, "short number");
	assert_refused(B(0x01, NEWA, 0x02, 0x00), 1, "short number");
	/* NaN has one form: a number holding NaN bits is damage */
	assert_refused(B(0x01, NEWA, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f), 1, "NaN");
	assert_refused(B(0x01, NEWA, 0x02, 0x00, 1, 0, 0, 0, 0, 0, 0xf0, 0xff), 1, "NaN");
	assert_refused(B(0x01, NEWA, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), 1,
		       "NaN");
	assert_refused(B(0x01, NEWA, 0x02, 0x03), 1, "value tag");
	assert_refused(B(0x01, NEWA, 0x02, 0x80), 1, "value tag");
	assert_refused(B(0x01, NEWA, 0x02, 0xff), 1, "value tag");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x03), 2, "value tag");
	assert_refused(B(0x01, NEWA, 0x02, 0x01, 0x05, 'a', 'b'), 1, "text length");
	assert_refused(B(0x01, NEWA, 0x02, 0x01, 0x01), 1, "text length");
	assert_refused(B(0x01, NEWA, 0x02, 0x01), 1, "text length");
	assert_refused(B(0x01, NEWA, 0x02, 0x01, 0x80), 1, "text length");
	/* the row's n against the points */
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 3, "fewer points");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 1, "more points");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), 0, "row's n");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), -1, "row's n");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), INT64_MIN, "row's n");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00, 0x02, 0x02), INT64_MAX, NULL);
	assert_refused(B(0x01, NEWA, 0x02, NUM1), INT64_MAX, NULL);
	/* a trailing octet after the last point */
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00), 1, "more points");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x00), 2, "time");
	/* a message fits a small err, NUL-terminated */
	{
		char err[8];

		memset(err, 'z', sizeof err);
		assert_int_equal(qchunk_decode(B(0x01, NEWA, 0x02, 0x03), 1, NULL, NULL, NULL, err,
					       sizeof err),
				 SUIDO_ERR_INVALID);
		assert_int_equal(strlen(err), sizeof err - 1);
		memset(err, 'z', sizeof err);
		assert_int_equal(qchunk_decode(B(0x01, NEWA, 0x02, 0x03), 1, NULL, NULL, NULL, err,
					       1),
				 SUIDO_ERR_INVALID);
		assert_int_equal(err[0], '\0');
		assert_int_equal(err[1], 'z');
	}
}

/* The encoding is canonical: an item is named once, where first used. A
 * chunk naming an id a second time as a new item is not what any writer
 * writes (it would be a reference), so it is damage. */
static void test_item_named_twice(void **state)
{
	struct qchunk_writer w = {0};
	const struct qchunk_point p[] = {NUM("a", 1, 1.0), NUM("a", 2, NAN)};
	char err[160] = "";

	(void)state;
	add_all(&w, p, 2);
	assert_int_equal(w.buf.len, 1 + 3 + 1 + 9 + 1 + 1 + 1);
	assert_memory_equal(w.buf.data + 14, "\x00\x02\x02", 3);
	assert_int_equal(qchunk_decode(w.buf.data, w.buf.len, 2, NULL, NULL, NULL, err, sizeof err),
			 SUIDO_OK);
	qchunk_writer_free(&w);
	/* the same two points with "a" named again as item 1 */
	if (qchunk_decode(B(0x01, NEWA, 0x02, NUM1, 0x01, 0x01, 'a', 0x02, 0x02), 2, NULL, NULL,
			  NULL, NULL, 0) != SUIDO_ERR_INVALID)
		fail_msg("an id named again as a new item is accepted: not the canonical form");
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x01, 0x01, 'a', 0x02, 0x02), 2, NULL);
	/* ... even after other items */
	assert_refused(B(0x01, NEWA, 0x02, NUM1, 0x01, 0x01, 'b', 0x02, 0x02, 0x02, 0x02, 'b', 0x00,
			 0x02),
		       3, NULL);
}

struct flipped {
	const unsigned char *blob;
	size_t len, count;
};

static int check_flipped(void *ctx, const struct qchunk_point *p)
{
	struct flipped *f = ctx;
	const unsigned char *item = (const unsigned char *)p->item;

	/* the item and a text lie within the chunk, within their caps */
	assert_true(f->count < 6);
	assert_non_null(item);
	assert_true(p->item_len >= 1 && p->item_len <= QCHUNK_ITEM_MAX);
	assert_true(item > f->blob && item + p->item_len <= f->blob + f->len);
	if (p->text) {
		const unsigned char *t = (const unsigned char *)p->text;

		assert_true(p->text_len <= QCHUNK_TEXT_MAX);
		assert_true(t > f->blob && t + p->text_len <= f->blob + f->len);
	} else {
		assert_int_equal(p->text_len, 0);
	}
	f->count++;
	return 0;
}

/* Every octet of a valid 6-point chunk set to every other value, and every
 * truncation: decoded as 6 points, or refused with a message. */
static void test_every_byte(void **state)
{
	const struct qchunk_point p[] = {
		NUM("a", -3, 2.5),       TXT("水位", -2, "正常"), NUM("a", 200, NAN),
		NUM("b", 70000, -0.0),   TXT("水位", -70000, ""),  NUM("b", 70001, 1e-310),
	};
	struct qchunk_writer w = {0};
	size_t ok = 0, refused = 0;

	(void)state;
	add_all(&w, p, 6);
	for (size_t i = 0; i < w.buf.len; i++) {
		unsigned char *copy = malloc(w.buf.len);
		int c0 = (unsigned char)w.buf.data[i];

		assert_non_null(copy);
		for (int c = 0; c < 256; c++) {
			struct flipped f = {copy, w.buf.len, 0};
			char err[160] = "";
			int rc, stopped = 7;

			if (c == c0)
				continue;
			memcpy(copy, w.buf.data, w.buf.len);
			copy[i] = (unsigned char)c;
			rc = qchunk_decode(copy, w.buf.len, 6, check_flipped, &f, &stopped, err,
					   sizeof err);
			assert_int_equal(stopped, 0);
			if (rc == SUIDO_OK) {
				assert_int_equal(f.count, 6);
				ok++;
			} else {
				assert_int_equal(rc, SUIDO_ERR_INVALID);
				assert_true(err[0] != '\0');
				assert_non_null(strstr(err, "damaged chunk"));
				refused++;
			}
		}
		free(copy);
	}
	/* values' and ids' octets change freely; the structure mostly not */
	assert_true(ok > 0 && refused > 0);
	for (size_t len = 0; len < w.buf.len; len++) {
		unsigned char *cut = malloc(len ? len : 1);

		assert_non_null(cut);
		memcpy(cut, w.buf.data, len);
		assert_refused(cut, len, 6, NULL);
		free(cut);
	}
	qchunk_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_many_items),
		cmocka_unit_test(test_time_extremes),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_item_named_twice),
		cmocka_unit_test(test_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
