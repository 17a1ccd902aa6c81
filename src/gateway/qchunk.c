/*
 * Chunks of pending points (qchunk.h): the writer with its per-chunk item
 * dictionary, and the checking decoder.
 */
#include "qchunk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/pcodec.h"

static uint64_t hash_id(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* The slot of id in the dictionary: its entry, or the free slot for it. */
static struct qchunk_name *slot(const struct qchunk_writer *w, const char *id, size_t len)
{
	size_t mask = w->names_cap - 1, h = (size_t)hash_id(id, len) & mask;

	while (w->names[h].id &&
	       (w->names[h].len != len || memcmp(w->names[h].id, id, len) != 0))
		h = (h + 1) & mask;
	return &w->names[h];
}

static int grow_names(struct qchunk_writer *w)
{
	size_t cap = w->names_cap ? w->names_cap * 2 : 64;
	struct qchunk_name *old = w->names, *nn = calloc(cap, sizeof *nn);
	size_t old_cap = w->names_cap;

	if (!nn)
		return SUIDO_ERR_NOMEM;
	w->names = nn;
	w->names_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].id)
			*slot(w, old[i].id, old[i].len) = old[i];
	free(old);
	return SUIDO_OK;
}

int qchunk_writer_add(struct qchunk_writer *w, const struct qchunk_point *p)
{
	size_t entry_len = w->buf.len;
	struct qchunk_name *e;
	int rc = SUIDO_OK, is_new;
	uint64_t z;

	if (p->item_len == 0 || p->item_len > QCHUNK_ITEM_MAX ||
	    (p->text && p->text_len > QCHUNK_TEXT_MAX) || w->n >= QCHUNK_MAX_POINTS)
		return SUIDO_ERR_LIMIT;
	if (2 * (w->n_names + 1) > w->names_cap && (rc = grow_names(w)) != SUIDO_OK)
		return rc;
	e = slot(w, p->item, p->item_len);
	is_new = e->id == NULL;
	if (is_new && w->n_names >= QCHUNK_ITEMS_MAX)
		return SUIDO_ERR_LIMIT;
	if (w->buf.len == 0)
		rc = strbuf_putc(&w->buf, QCHUNK_VERSION);
	if (rc == SUIDO_OK)
		rc = pcodec_put_varint(&w->buf, is_new ? w->n_names : e->index);
	if (rc == SUIDO_OK && is_new) {
		rc = pcodec_put_varint(&w->buf, p->item_len);
		if (rc == SUIDO_OK)
			rc = strbuf_append(&w->buf, p->item, p->item_len);
	}
	/* zigzag of the difference, computed without signed overflow */
	z = (uint64_t)p->t_ms - (uint64_t)w->prev_t;
	z = (z << 1) ^ (uint64_t)(-(int64_t)(z >> 63));
	if (rc == SUIDO_OK)
		rc = pcodec_put_varint(&w->buf, z);
	if (rc == SUIDO_OK)
		rc = pcodec_put_value(&w->buf, p->v, p->text, p->text_len);
	if (rc == SUIDO_OK && is_new) {
		char *copy = malloc(p->item_len);
		if (!copy) {
			rc = SUIDO_ERR_NOMEM;
		} else {
			memcpy(copy, p->item, p->item_len);
			*e = (struct qchunk_name){copy, p->item_len, (uint32_t)w->n_names++};
		}
	}
	if (rc != SUIDO_OK) {
		w->buf.len = entry_len;
		w->buf.failed = 0;
		if (w->buf.data)
			w->buf.data[entry_len] = '\0';
		return rc < 0 ? SUIDO_ERR_NOMEM : rc;
	}
	w->prev_t = p->t_ms;
	w->n++;
	return SUIDO_OK;
}

void qchunk_writer_reset(struct qchunk_writer *w)
{
	for (size_t i = 0; i < w->names_cap; i++) {
		free((void *)w->names[i].id);
		w->names[i].id = NULL;
	}
	w->n_names = 0;
	strbuf_reset(&w->buf);
	w->n = 0;
	w->prev_t = 0;
}

void qchunk_writer_free(struct qchunk_writer *w)
{
	qchunk_writer_reset(w);
	free(w->names);
	w->names = NULL;
	w->names_cap = 0;
	strbuf_free(&w->buf);
}

struct name_ref {
	const char *p;
	size_t len;
};

int qchunk_decode(const void *data, size_t len, int64_t n, qchunk_fn fn, void *ctx,
		  int *stopped, char *err, size_t errlen)
{
	const unsigned char *p = data, *end = len ? p + len : p;
	struct name_ref *names = NULL;
	size_t n_names = 0, cap = 0;
	int64_t i = 0;
	uint64_t t = 0;
	const char *why = NULL;
	int rc = SUIDO_OK;

	if (stopped)
		*stopped = 0;
	if (n < 1 || n > QCHUNK_MAX_POINTS) {
		why = "row's n";
		goto bad;
	}
	if (len < 1 || *p++ != QCHUNK_VERSION) {
		why = "version";
		goto bad;
	}
	for (; p < end; i++) {
		struct qchunk_point pt = {0};
		uint64_t k, u;

		if (i >= n) {
			why = "more points than the row's n";
			goto bad;
		}
		if (pcodec_get_varint(&p, end, &k) != 0 || k > n_names) {
			why = "item reference";
			goto bad;
		}
		if (k == n_names) {
			if (n_names >= QCHUNK_ITEMS_MAX) {
				why = "too many items";
				goto bad;
			}
			if (pcodec_get_varint(&p, end, &u) != 0 || u == 0 || u > QCHUNK_ITEM_MAX ||
			    u > (uint64_t)(end - p)) {
				why = "item id length";
				goto bad;
			}
			/* one spelling per chunk: a known id is named by its index */
			for (size_t j = 0; j < n_names; j++) {
				if (names[j].len == u && memcmp(names[j].p, p, u) == 0) {
					why = "item named twice";
					goto bad;
				}
			}
			if (n_names == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct name_ref *nn = realloc(names, nc * sizeof *nn);
				if (!nn) {
					rc = SUIDO_ERR_NOMEM;
					goto out;
				}
				names = nn;
				cap = nc;
			}
			names[n_names++] = (struct name_ref){(const char *)p, (size_t)u};
			p += u;
		}
		pt.item = names[k].p;
		pt.item_len = names[k].len;
		if (pcodec_get_varint(&p, end, &u) != 0) {
			why = "time";
			goto bad;
		}
		/* un-zigzag, then add modulo 2^64 (the writer subtracted so) */
		t += (u >> 1) ^ (uint64_t)(-(int64_t)(u & 1));
		pt.t_ms = (int64_t)t;
		if ((why = pcodec_get_value(&p, end, QCHUNK_TEXT_MAX, &pt.v, &pt.text,
					    &pt.text_len)) != NULL)
			goto bad;
		if (fn && fn(ctx, &pt)) {
			if (stopped)
				*stopped = 1;
			goto out;
		}
	}
	if (i != n) {
		why = "fewer points than the row's n";
		goto bad;
	}
	goto out;
bad:
	rc = SUIDO_ERR_INVALID;
	if (err && errlen)
		snprintf(err, errlen, "damaged chunk of pending points: %s at octet %zu", why,
			 (size_t)(p - (const unsigned char *)data));
out:
	free(names);
	return rc;
}
