/*
 * Chunks of pending points: how the gateway's queue (queue.c) keeps points
 * that were taken but are not yet in a message. One row of
 * pending(seq, n, data) holds up to QCHUNK_MAX_POINTS points in the order
 * they were taken, so a file of a million rows costs about ten thousand rows
 * instead of ten million, and cutting a message reads a few rows.
 *
 *   chunk   = version *point
 *   version = %x01
 *   point   = item time value
 *   item    = varint k                      ; k < items named so far in this chunk:
 *                                           ;   the k-th of them again
 *           / varint k varint len *OCTET    ; k = items named so far: a new item id
 *   time    = varint zigzag(t - t_prev)     ; t_prev = 0 for the first point
 *   value   = %x00 8OCTET                   ; a number, IEEE 754 binary64 little-endian
 *           / %x01 varint len *OCTET        ; a text value (UTF-8)
 *           / %x02                          ; not a number
 *   varint  = unsigned LEB128, at most 10 octets, minimal
 *
 * The row's n is the number of points (1..QCHUNK_MAX_POINTS); the decoder
 * checks the blob against it, and that the encoding is the one the writer
 * makes (an id is named once per chunk, varints minimal, one NaN). A chunk is
 * written once by a qchunk_writer and read whole.
 */
#ifndef SUIDO_GATEWAY_QCHUNK_H
#define SUIDO_GATEWAY_QCHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "suido/strbuf.h"

#define QCHUNK_VERSION 1
#define QCHUNK_MAX_POINTS 1000
#define QCHUNK_ITEM_MAX 256   /* bytes of an item id */
#define QCHUNK_TEXT_MAX 65536 /* bytes of a text value */
#define QCHUNK_ITEMS_MAX 512  /* distinct items in one chunk */

struct qchunk_point {
	const char *item; /* item_len bytes, not NUL-terminated */
	size_t item_len;
	int64_t t_ms;
	double v;         /* when text is NULL; NaN kept */
	const char *text; /* NULL for a number; else text_len bytes */
	size_t text_len;
};

/* Builds one chunk. Zero-initialise; reuse after qchunk_writer_reset. */
struct qchunk_writer {
	struct strbuf buf;  /* the chunk so far (owned) */
	size_t n;           /* points in it */
	int64_t prev_t;
	/* the items named so far: open addressing over their ids */
	struct qchunk_name {
		const char *id; /* copy, owned */
		size_t len;
		uint32_t index;
	} *names;
	size_t names_cap, n_names;
};

/* Appends a point. SUIDO_OK, SUIDO_ERR_LIMIT (item id, text, the chunk's
 * distinct items or its QCHUNK_MAX_POINTS points over their caps: the caller
 * writes the chunk out before it is full), SUIDO_ERR_NOMEM; on an error the
 * writer is as before the call. */
int qchunk_writer_add(struct qchunk_writer *w, const struct qchunk_point *p);

/* Empties the writer for the next chunk (keeps its memory). */
void qchunk_writer_reset(struct qchunk_writer *w);

/* Frees the writer's memory; tolerates a zeroed writer. */
void qchunk_writer_free(struct qchunk_writer *w);

/* Called for each point; strings point into the chunk (borrowed for the
 * call). Return 0 to go on, nonzero to stop. */
typedef int (*qchunk_fn)(void *ctx, const struct qchunk_point *p);

/*
 * Decodes chunk data[len] whose row says it holds n points, calling fn for
 * each in order (fn may be NULL: check only). Stops when fn returns nonzero
 * (*stopped = 1; stopped may be NULL). SUIDO_OK, SUIDO_ERR_INVALID when the
 * chunk is damaged or disagrees with n (detail in err), SUIDO_ERR_NOMEM.
 */
int qchunk_decode(const void *data, size_t len, int64_t n, qchunk_fn fn, void *ctx,
		  int *stopped, char *err, size_t errlen);

#endif
