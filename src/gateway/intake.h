/*
 * Taking one file from the spool (seed 003 section 6, データ取得): read it
 * (size-capped, no symlinks), refuse binary files, decode CP932 / UTF-8,
 * parse CSV, recognise the layout by the header, map each row, and keep
 * every accepted point in the durable queue together with the file's hash
 * and receipt in one transaction. Only then is the receipt written and the
 * file moved to done/ (or rejected/), so a crash at any point is repaired by
 * taking the file again: its hash is known, nothing is stored twice.
 */
#ifndef SUIDO_GATEWAY_INTAKE_H
#define SUIDO_GATEWAY_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "suido/mapping.h"
#include "suido/textenc.h"

struct mask_key;

struct intake_ctx {
	const struct mapping *mapping; /* borrowed */
	struct queue *queue;           /* borrowed */
	const char *gateway;
	const char *spool_dir;
	const char *done_dir;
	const char *rejected_dir;
	const char *receipts_dir;
	size_t max_file_bytes;
	enum textenc encoding;         /* TEXTENC_AUTO to detect */
	size_t max_errors;             /* row errors listed in a receipt; 0 = 1000 */
	const struct mask_key *mask_key; /* borrowed; required when mapping_masks(mapping) */
};

enum intake_status {
	INTAKE_ACCEPTED,  /* every row taken */
	INTAKE_PARTIAL,   /* some rows rejected, the rest taken */
	INTAKE_REJECTED,  /* nothing taken: refused file or every row bad */
	INTAKE_DUPLICATE, /* the same content was taken before: nothing stored */
	INTAKE_GONE,      /* the file vanished before it was read */
};

struct intake_result {
	enum intake_status status;
	long rows;       /* data rows seen (header excluded) */
	long accepted;
	long rejected;
	size_t points;
	char layout[64];
};

/*
 * Takes spool_dir/name. Returns SUIDO_OK when the file is dealt with (its
 * receipt written to receipts_dir/<name>.receipt.json and the file moved out
 * of the spool), filling *res. Returns SUIDO_ERR_FULL (disk full), _DB, _IO
 * or _NOMEM when it could not finish: the file stays in the spool, nothing of
 * it counts as taken, and the caller tries again later. err says why.
 */
int intake_file(const struct intake_ctx *c, const char *name, int64_t now_ms,
		struct intake_result *res, char *err, size_t errlen);

const char *intake_status_name(enum intake_status s);

#endif
