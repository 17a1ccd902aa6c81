/*
 * Point blocks (ptblock.h): the codec of the store's point rows.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ptblock.h"
#include "suido/error.h"

enum { TAG_NUMBER = 0, TAG_TEXT = 1, TAG_NAN = 2 };

static int put_varint(struct strbuf *out, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;

	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return strbuf_append(out, b, n);
}

static int put_value(struct strbuf *out, const struct ptblock_point *p)
{
	unsigned char b[9];
	uint64_t bits;
	int rc;

	if (p->text) {
		if ((rc = strbuf_putc(out, TAG_TEXT)) != SUIDO_OK ||
		    (rc = put_varint(out, p->text_len)) != SUIDO_OK)
			return rc;
		return strbuf_append(out, p->text, p->text_len);
	}
	if (isnan(p->v))
		return strbuf_putc(out, TAG_NAN);
	memcpy(&bits, &p->v, sizeof bits);
	b[0] = TAG_NUMBER;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)(bits >> (8 * i));
	return strbuf_append(out, b, sizeof b);
}

int ptblock_append(struct strbuf *out, int new_block, int64_t prev_t_ms,
		   const struct ptblock_point *p, size_t n)
{
	size_t entry_len = out->len;
	int fresh = new_block, rc = SUIDO_OK;
	int64_t prev = prev_t_ms;

	for (size_t i = 0; i < n; i++) {
		if (p[i].text && p[i].text_len > PTBLOCK_TEXT_MAX) {
			rc = SUIDO_ERR_LIMIT;
			break;
		}
		if (fresh && i == 0) {
			rc = strbuf_putc(out, PTBLOCK_VERSION);
		} else if (p[i].t_ms <= prev) {
			rc = SUIDO_ERR_LIMIT;
		} else {
			/* unsigned difference: no overflow for any int64 pair */
			rc = put_varint(out, (uint64_t)p[i].t_ms - (uint64_t)prev - 1);
		}
		if (rc == SUIDO_OK)
			rc = put_value(out, &p[i]);
		if (rc != SUIDO_OK)
			break;
		prev = p[i].t_ms;
	}
	if (rc < 0) /* strbuf's allocation failure */
		rc = SUIDO_ERR_NOMEM;
	if (rc != SUIDO_OK)
		out->len = entry_len;
	if (out->data)
		out->data[out->len] = '\0';
	return rc;
}

/* Reads a minimal LEB128 varint of at most 10 octets. 0 on success. */
static int get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t r = 0;

	for (int i = 0; i < 10; i++) {
		if (p >= end)
			return -1;
		unsigned char c = *p++;
		if (i == 9 && c > 1)
			return -1; /* more than 64 bits */
		r |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (c == 0 && i > 0)
				return -1; /* redundant trailing group */
			*pp = p;
			*v = r;
			return 0;
		}
	}
	return -1;
}

int ptblock_decode(const void *data, size_t len, int64_t t0, int64_t t1, int64_t n,
		   int64_t from_ms, int64_t to_ms, ptblock_fn fn, void *ctx, int *stopped,
		   char *err, size_t errlen)
{
	const unsigned char *p = data, *end = len ? p + len : p;
	int64_t t = t0, i = 0;
	const char *why;

	if (stopped)
		*stopped = 0;
	if (n < 1 || n > PTBLOCK_MAX_POINTS * 64 || t1 < t0) {
		why = "row's n or time range";
		goto bad;
	}
	if (len < 1 || *p++ != PTBLOCK_VERSION) {
		why = "version";
		goto bad;
	}
	for (; p < end; i++) {
		struct ptblock_point pt = {0};
		uint64_t u;

		if (i > 0) {
			if (get_varint(&p, end, &u) != 0) {
				why = "time delta";
				goto bad;
			}
			if ((uint64_t)t1 - (uint64_t)t <= u) {
				why = "time beyond t1";
				goto bad;
			}
			t = (int64_t)((uint64_t)t + u + 1);
		}
		if (p >= end) {
			why = "missing value";
			goto bad;
		}
		switch (*p++) {
		case TAG_NUMBER: {
			uint64_t bits = 0;
			if (end - p < 8) {
				why = "short number";
				goto bad;
			}
			for (int k = 0; k < 8; k++)
				bits |= (uint64_t)p[k] << (8 * k);
			p += 8;
			memcpy(&pt.v, &bits, sizeof bits);
			if (isnan(pt.v)) {
				why = "NaN stored as a number";
				goto bad;
			}
			break;
		}
		case TAG_TEXT:
			if (get_varint(&p, end, &u) != 0 || u > PTBLOCK_TEXT_MAX ||
			    u > (uint64_t)(end - p)) {
				why = "text length";
				goto bad;
			}
			pt.text = (const char *)p;
			pt.text_len = (size_t)u;
			p += u;
			break;
		case TAG_NAN:
			pt.v = NAN;
			break;
		default:
			why = "value tag";
			goto bad;
		}
		if (i >= n) {
			why = "more points than the row's n";
			goto bad;
		}
		pt.t_ms = t;
		if (t >= from_ms && (t < to_ms || to_ms == INT64_MAX) && fn && fn(ctx, &pt)) {
			if (stopped)
				*stopped = 1;
			return SUIDO_OK;
		}
	}
	if (i != n || t != t1) {
		why = i != n ? "fewer points than the row's n" : "last time is not t1";
		goto bad;
	}
	return SUIDO_OK;
bad:
	if (err && errlen)
		snprintf(err, errlen, "damaged point block (t0 %lld): %s at octet %zu",
			 (long long)t0, why, (size_t)(p - (const unsigned char *)data));
	return SUIDO_ERR_INVALID;
}
