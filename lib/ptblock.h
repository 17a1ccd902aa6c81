/*
 * Point blocks: the platform store's on-disk form of an item's points (one
 * row per block instead of one per point; docs/storage.md). A block holds
 * 1..PTBLOCK_MAX_POINTS points of one item in strictly ascending time:
 *
 *   block  = version point-0 *( delta point )
 *   version = %x01
 *   point  = %x00 8OCTET            ; a number: IEEE 754 binary64, little-endian
 *          / %x01 varint *OCTET     ; a text value: length, then its bytes (UTF-8)
 *          / %x02                   ; not a number (NaN)
 *   delta  = varint                 ; t(i) - t(i-1) - 1 (times strictly ascend)
 *   varint = unsigned LEB128, at most 10 octets, no redundant trailing zero groups
 *
 * The first point's time is not in the blob: it is the row's t0. The row
 * also keeps t1 (the last point's time) and n, and the decoder checks the
 * blob against both, so a damaged row is reported, never misread.
 * Appending points after t1 is appending bytes: ptblock_append encodes them
 * relative to t1 without reading the block.
 *
 * Internal to lib/store*.c (not installed under include/).
 */
#ifndef SUIDO_PTBLOCK_H
#define SUIDO_PTBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "suido/strbuf.h"

#define PTBLOCK_VERSION 1
/* A block is cut at this many points, or once its blob passes
 * PTBLOCK_TARGET_BYTES (so that most rows fit one 4 KiB page). */
#define PTBLOCK_MAX_POINTS 256
#define PTBLOCK_TARGET_BYTES 3000
/* Longest text value a block takes (the ingest's limit is smaller). */
#define PTBLOCK_TEXT_MAX 65536

struct ptblock_point {
	int64_t t_ms;
	double v;          /* when text is NULL; NaN is kept as NaN */
	const char *text;  /* NULL for a number; else text_len bytes (borrowed) */
	size_t text_len;
};

/*
 * Appends the encoding of p[0..n) to out (whatever out already holds is
 * kept). With new_block, the bytes start a block: the version octet, then
 * p[0] without its time (prev_t_ms is ignored). Otherwise they continue a
 * block whose last time is prev_t_ms, to be concatenated to its blob.
 * Times must ascend strictly (and exceed prev_t_ms when continuing).
 * SUIDO_OK, SUIDO_ERR_LIMIT (times not ascending, a text longer than
 * PTBLOCK_TEXT_MAX), SUIDO_ERR_NOMEM; on an error out->len is as on entry.
 */
int ptblock_append(struct strbuf *out, int new_block, int64_t prev_t_ms,
		   const struct ptblock_point *p, size_t n);

/* Called for each decoded point; text points into the block (borrowed for
 * the call). Return 0 to go on, nonzero to stop. */
typedef int (*ptblock_fn)(void *ctx, const struct ptblock_point *p);

/*
 * Decodes block data[len] whose row says it starts at t0, ends at t1 and
 * holds n points, calling fn for each point with from_ms <= t < to_ms, in
 * order; to_ms == INT64_MAX means no upper bound (a point at INT64_MAX
 * included). Stops early when fn returns nonzero (*stopped = 1; stopped may be
 * NULL), without reading the rest. Otherwise the whole block is checked,
 * points out of range included: SUIDO_OK, or SUIDO_ERR_INVALID when the
 * blob is damaged or disagrees with t0, t1, n (detail in err).
 */
int ptblock_decode(const void *data, size_t len, int64_t t0, int64_t t1, int64_t n,
		   int64_t from_ms, int64_t to_ms, ptblock_fn fn, void *ctx, int *stopped,
		   char *err, size_t errlen);

#endif
