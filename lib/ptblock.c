/*
 * Point blocks (ptblock.h): the codec of the store's point rows.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ptblock.h"
#include "suido/error.h"
#include "suido/pcodec.h"

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
			rc = pcodec_put_varint(out, (uint64_t)p[i].t_ms - (uint64_t)prev - 1);
		}
		if (rc == SUIDO_OK)
			rc = pcodec_put_value(out, p[i].v, p[i].text, p[i].text_len);
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
			if (pcodec_get_varint(&p, end, &u) != 0) {
				why = "time delta";
				goto bad;
			}
			if ((uint64_t)t1 - (uint64_t)t <= u) {
				why = "time beyond t1";
				goto bad;
			}
			t = (int64_t)((uint64_t)t + u + 1);
		}
		if ((why = pcodec_get_value(&p, end, PTBLOCK_TEXT_MAX, &pt.v, &pt.text,
					    &pt.text_len)) != NULL)
			goto bad;
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
