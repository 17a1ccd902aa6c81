/*
 * libFuzzer target for the point-block decoder (lib/ptblock.h). The first 8
 * octets make the row and the query, the rest is the blob:
 *
 *   0     t0 = (int8) octet; with bit 6 of octet 2, INT64_MIN + octet
 *   1, 2  t1 = t0 + (octet 1 << (octet 2 & 63)), wrapping (so t1 < t0 too)
 *   3, 4  n = 1 + (big-endian 16 bits % 300)
 *   5     from = t0 + (int8) octet, wrapping; 0x80: INT64_MIN
 *   6     to = from + octet, wrapping; 0xff: INT64_MAX
 *   7     fn stops after this many points (0: never)
 *
 * The blob is decoded twice: over every time (the reference) and over the
 * window with the stop. The decoder's promises are checked, not just
 * survived: times ascend within [t0, t1] and the window, texts lie within
 * the blob, at most n points, OK means n points ending at t1, the windowed
 * run delivers exactly the reference's points in the window, a stop is
 * reported; and a block that decodes is re-encoded (whole and as a block
 * plus continuation) to the very same bytes, the encoding being canonical.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/ptblock.h"
#include "suido/error.h"
#include "suido/strbuf.h"

#define HDR 8
#define MAXN 300

struct run {
	const unsigned char *blob;
	size_t len;
	int64_t t0, t1, n, from, to;
	size_t stop_at;
	size_t count;
	struct ptblock_point *p; /* the reference's points (full run) */
	const struct ptblock_point *ref; /* the windowed run compares with these */
	size_t ref_count, ref_next;
};

static int same_point(const struct ptblock_point *a, const struct ptblock_point *b)
{
	if (a->t_ms != b->t_ms || a->text != b->text || a->text_len != b->text_len)
		return 0;
	if (a->text)
		return 1;
	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) && isnan(b->v);
	return memcmp(&a->v, &b->v, sizeof a->v) == 0;
}

/* The decoder's window: from <= t < to, where to == INT64_MAX has no bound. */
static int in_window(int64_t t, int64_t from, int64_t to)
{
	return t >= from && (t < to || to == INT64_MAX);
}

static int check_point(struct run *r, const struct ptblock_point *p)
{
	if (p->t_ms < r->t0 || p->t_ms > r->t1 || !in_window(p->t_ms, r->from, r->to))
		abort();
	if (r->count > 0 && p->t_ms <= r->p[r->count - 1].t_ms)
		abort();
	if ((int64_t)r->count >= r->n || r->count >= MAXN)
		abort(); /* more than the row's n */
	if (p->text) {
		const unsigned char *s = (const unsigned char *)p->text;

		if (s < r->blob || p->text_len > r->len || s + p->text_len > r->blob + r->len)
			abort();
		if (p->text_len > PTBLOCK_TEXT_MAX)
			abort();
	} else if (p->text_len != 0) {
		abort();
	}
	r->p[r->count++] = *p;
	return 0;
}

static int on_full(void *ctx, const struct ptblock_point *p)
{
	return check_point(ctx, p);
}

static int on_window(void *ctx, const struct ptblock_point *p)
{
	struct run *r = ctx;

	/* the next of the reference's points in the window, and no other */
	while (r->ref_next < r->ref_count && !in_window(r->ref[r->ref_next].t_ms, r->from, r->to))
		r->ref_next++;
	if (r->ref_next >= r->ref_count || !same_point(p, &r->ref[r->ref_next]))
		abort();
	r->ref_next++;
	check_point(r, p);
	return r->stop_at && r->count == r->stop_at;
}

/* Re-encodes the reference's points; they must give the blob back. */
static void check_round_trip(const struct run *r, size_t split)
{
	struct strbuf b = STRBUF_INIT;

	if (ptblock_append(&b, 1, 0, r->p, r->count) != SUIDO_OK)
		abort();
	if (b.len != r->len || memcmp(b.data, r->blob, r->len) != 0)
		abort();
	/* a block of the first split points, then the rest appended */
	strbuf_reset(&b);
	if (ptblock_append(&b, 1, 0, r->p, split) != SUIDO_OK ||
	    ptblock_append(&b, 0, r->p[split - 1].t_ms, r->p + split, r->count - split) !=
		    SUIDO_OK)
		abort();
	if (b.len != r->len || memcmp(b.data, r->blob, r->len) != 0)
		abort();
	strbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ptblock_point full[MAXN], win[MAXN];
	struct run r = {0}, w;
	unsigned char *blob;
	char err[160];
	int rc, wrc, stopped = 7;
	size_t n_in_window = 0;

	if (size < HDR)
		return 0;
	r.t0 = (data[2] & 0x40) ? INT64_MIN + data[0] : (int8_t)data[0];
	r.t1 = (int64_t)((uint64_t)r.t0 + ((uint64_t)data[1] << (data[2] & 63)));
	r.n = 1 + ((data[3] << 8 | data[4]) % MAXN);
	r.from = data[5] == 0x80 ? INT64_MIN
				 : (int64_t)((uint64_t)r.t0 + (uint64_t)(int64_t)(int8_t)data[5]);
	r.to = data[6] == 0xff ? INT64_MAX : (int64_t)((uint64_t)r.from + data[6]);
	r.stop_at = data[7];
	/* An exact-size copy, so reading past the end is caught by ASan. */
	r.len = size - HDR;
	blob = malloc(r.len ? r.len : 1);
	if (!blob)
		return 0;
	memcpy(blob, data + HDR, r.len);
	r.blob = blob;

	/* the reference: every time, no stop */
	w = r;
	r.from = INT64_MIN;
	r.to = INT64_MAX;
	r.stop_at = 0;
	r.p = full;
	err[0] = '\0';
	rc = ptblock_decode(blob, r.len, r.t0, r.t1, r.n, r.from, r.to, on_full, &r, &stopped, err,
			    sizeof err);
	if (stopped != 0)
		abort();
	if (rc == SUIDO_OK) {
		/* n points, from t0 to t1 (to = INT64_MAX: no upper bound) */
		if (r.count != (size_t)r.n || r.count == 0 || r.p[0].t_ms != r.t0)
			abort();
		if (r.p[r.count - 1].t_ms != r.t1)
			abort();
		check_round_trip(&r, 1 + data[7] % r.count);
	} else if (rc != SUIDO_ERR_INVALID || err[0] == '\0') {
		abort();
	}

	/* the window with the stop: the reference's points in it, in order */
	for (size_t i = 0; i < r.count; i++)
		n_in_window += in_window(r.p[i].t_ms, w.from, w.to);
	w.p = win;
	w.ref = full;
	w.ref_count = r.count;
	stopped = 7;
	err[0] = '\0';
	wrc = ptblock_decode(blob, w.len, w.t0, w.t1, w.n, w.from, w.to, on_window, &w, &stopped,
			     err, sizeof err);
	if (stopped == 1) {
		if (wrc != SUIDO_OK || w.stop_at == 0 || w.count != w.stop_at)
			abort();
	} else if (stopped != 0) {
		abort();
	} else if (wrc != rc) {
		abort(); /* without a stop, the window does not change the verdict */
	} else if (w.count != n_in_window || (w.stop_at && w.count >= w.stop_at)) {
		abort(); /* every point in the window before the end or the damage */
	} else if (wrc != SUIDO_OK && err[0] == '\0') {
		abort();
	}
	if (w.count > n_in_window)
		abort();
	free(blob);
	return 0;
}
