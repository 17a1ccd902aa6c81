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

/* Where a file came from, when not simply dropped into the spool: an FTP
 * sender (docs/ftp.md). */
struct intake_origin {
	/* NULL, or a second directory every receipt is also written to,
	 * readable by all (mode 0644): the sender's receipts/ */
	const char *receipts_copy_dir;
	/* NULL, or prepended to the name the queue keeps for a file (which
	 * sender it came from, e.g. "ftp:alice/"; at most 40 bytes) */
	const char *record_prefix;
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

/*
 * intake_file for a file from origin o (NULL: as intake_file): the receipt
 * is also written to o->receipts_copy_dir, and the queue keeps the name
 * under o->record_prefix, so the same name from two senders is not taken
 * for a restart's repair. Same returns.
 */
int intake_file_from(const struct intake_ctx *c, const struct intake_origin *o,
		     const char *name, int64_t now_ms, struct intake_result *res, char *err,
		     size_t errlen);

/*
 * Refuses spool_dir/name without reading it as data (an upload that did not
 * finish): writes a receipt (also to o->receipts_copy_dir when o is set) of status rejected with reason, and moves the
 * file to rejected_dir (under a new name if one is taken there: nothing is
 * overwritten, nothing deleted). Nothing is queued. SUIDO_OK (*res filled,
 * INTAKE_GONE when the file was not there), or SUIDO_ERR_FULL / _IO with
 * detail in err (the file stays where it is).
 */
int intake_reject(const struct intake_ctx *c, const struct intake_origin *o,
		  const char *name, const char *reason,
		  int64_t now_ms, struct intake_result *res, char *err, size_t errlen);

const char *intake_status_name(enum intake_status s);

/*
 * Whether files may be taken now (seed 003 5-1: disk full). Intake pauses
 * when the file system of the state directory has less than min_free_bytes
 * free, when the queue takes more than max_queue_bytes, or when taking a
 * file hit a full disk (SUIDO_ERR_FULL); files then stay in the spool,
 * untouched. The pause is logged once at ERROR (the alert, also in the
 * health report) and checked again every INTAKE_GUARD_RETRY_MS; intake
 * resumes by itself (logged at INFO) once the space is back: after a disk
 * full, when the next file is taken. Plain struct owned by the caller; one
 * thread.
 */
#define INTAKE_GUARD_RETRY_MS 5000
#define INTAKE_GUARD_CHECK_MS 1000 /* how often the space is looked at while running */

enum intake_pause { INTAKE_RUNNING = 0, INTAKE_LOW_SPACE, INTAKE_QUEUE_LIMIT, INTAKE_DISK_FULL };

struct intake_guard {
	const char *state_dir;  /* borrowed */
	struct queue *queue;    /* borrowed; NULL: no queue bound */
	int64_t min_free_bytes; /* 0: no bound */
	int64_t max_queue_bytes; /* 0: no bound */
	enum intake_pause pause;
	int probing;            /* after a disk full: one try allowed to see if it is over */
	int64_t next_check_ms;  /* monotonic */
	char alert[384];        /* why intake is paused; "" while running */
};

void intake_guard_init(struct intake_guard *g, const char *state_dir, struct queue *q,
		       int64_t min_free_bytes, int64_t max_queue_bytes);

/* 1 when files may be taken at monotonic now_ms, 0 while paused. */
int intake_guard_allows(struct intake_guard *g, int64_t now_ms);

/* Taking a file failed with SUIDO_ERR_FULL (detail: why): pauses intake. */
void intake_guard_full(struct intake_guard *g, int64_t now_ms, const char *detail);

/* A file was taken: ends a pause after a disk full. */
void intake_guard_taken(struct intake_guard *g);

/* 1 while intake is paused. */
int intake_guard_paused(const struct intake_guard *g);

/* Why intake is paused, or NULL while it runs (borrowed until the next call). */
const char *intake_guard_alert(const struct intake_guard *g);

/* Bytes free for us on the file system of dir, -1 when unknown. */
int64_t intake_free_bytes(const char *dir);

#endif
