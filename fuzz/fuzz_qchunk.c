/*
 * libFuzzer target for the chunks of pending points (src/gateway/qchunk.h).
 * The first 2 octets make the row and the stop, the rest is the blob:
 *
 *   0, 1  n = 1 + ((octet 1 & 7) << 8 | octet 0) % 1100
 *   1     fn stops after (octet 1 >> 3) points (0: never)
 *
 * The blob (an exact-size copy, so ASan sees overreads) is decoded twice:
 * without a stop (the reference) and with it. The decoder's promises are
 * checked, not just survived: at most n points, items and texts within the
 * blob and their caps, OK means exactly n points, a stop is reported and
 * delivers the reference's first points; and a chunk that decodes is
 * re-encoded by a fresh writer (and again after a reset) to the very same
 * bytes, the encoding being canonical (minimal varints, items named once in
 * first-use order, one form of NaN). The gateway module is compiled in here
 * (the fuzz build links only the library).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/gateway/qchunk.c"

#define HDR 2
#define MAXN 1100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const unsigned char *blob;
	size_t len;
	int64_t n;
	size_t stop_at, count;
	struct qchunk_point *p;
	const struct qchunk_point *ref; /* the stopped run compares with these */
	size_t ref_count;
};

static int same_point(const struct qchunk_point *a, const struct qchunk_point *b)
{
	if (a->item != b->item || a->item_len != b->item_len || a->t_ms != b->t_ms ||
	    a->text != b->text || a->text_len != b->text_len)
		return 0;
	if (a->text)
		return 1;
	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) && isnan(b->v);
	return memcmp(&a->v, &b->v, sizeof a->v) == 0;
}

static int within(const struct run *r, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	return u && u >= r->blob && n <= r->len && u + n <= r->blob + r->len;
}

static int on_point(void *ctx, const struct qchunk_point *p)
{
	struct run *r = ctx;

	if ((int64_t)r->count >= r->n || r->count >= MAXN)
		abort(); /* more than the row's n */
	if (p->item_len < 1 || p->item_len > QCHUNK_ITEM_MAX || !within(r, p->item, p->item_len))
		abort();
	if (p->text) {
		if (p->text_len > QCHUNK_TEXT_MAX || !within(r, p->text, p->text_len))
			abort();
	} else if (p->text_len != 0) {
		abort();
	}
	if (r->ref) {
		/* the stopped run: the reference's points, in order */
		if (r->count >= r->ref_count || !same_point(p, &r->ref[r->count]))
			abort();
	}
	r->p[r->count++] = *p;
	return r->stop_at && r->count == r->stop_at;
}

/* Re-encodes the reference's points; they must give the blob back. */
static void check_round_trip(const struct run *r)
{
	struct qchunk_writer w = {0};

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->count; i++)
			if (qchunk_writer_add(&w, &r->p[i]) != SUIDO_OK)
				abort();
		if (w.n != r->count || w.buf.len != r->len || memcmp(w.buf.data, r->blob, r->len))
			abort();
		qchunk_writer_reset(&w); /* the second pass reuses the writer */
	}
	qchunk_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qchunk_point full[MAXN], part[MAXN];
	struct run r = {0}, s = {0};
	unsigned char *blob;
	char err[160];
	int rc, src, stopped;

	if (size < HDR)
		return 0;
	r.n = 1 + (((data[1] & 7) << 8 | data[0]) % MAXN);
	r.len = size - HDR;
	blob = malloc(r.len ? r.len : 1);
	if (!blob)
		return 0;
	memcpy(blob, data + HDR, r.len);
	r.blob = blob;
	s = r;

	/* the reference: no stop */
	r.p = full;
	stopped = 7;
	err[0] = '\0';
	rc = qchunk_decode(blob, r.len, r.n, on_point, &r, &stopped, err, sizeof err);
	if (stopped != 0)
		abort();
	if (rc == SUIDO_OK) {
		if ((int64_t)r.count != r.n)
			abort();
		check_round_trip(&r);
	} else if (rc != SUIDO_ERR_INVALID || err[0] == '\0') {
		abort();
	}
	/* the same with fn NULL: the same verdict */
	if (qchunk_decode(blob, r.len, r.n, NULL, NULL, NULL, NULL, 0) != rc)
		abort();

	/* with the stop: the reference's first points, then the stop */
	s.stop_at = data[1] >> 3;
	s.p = part;
	s.ref = full;
	s.ref_count = r.count;
	stopped = 7;
	err[0] = '\0';
	src = qchunk_decode(blob, s.len, s.n, on_point, &s, &stopped, err, sizeof err);
	if (stopped == 1) {
		if (src != SUIDO_OK || s.stop_at == 0 || s.count != s.stop_at)
			abort();
	} else if (stopped != 0) {
		abort();
	} else if (src != rc || s.count != r.count || (s.stop_at && s.count >= s.stop_at)) {
		abort(); /* no stop: the reference's verdict and points */
	} else if (src != SUIDO_OK && err[0] == '\0') {
		abort();
	}
	free(blob);
	return 0;
}
