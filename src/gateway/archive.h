/*
 * Evacuation of the primary data store (seed 003 5-1 No.4, データ退避):
 * acknowledged messages older than the retention period leave the queue for
 * compressed archive files, and a resend request for them is still served
 * from there.
 *
 * An archive is STATE_DIR/archive/<epoch>-<first seq>-<last seq>.jsonl.gz, a
 * gzip stream of JSON lines: a header
 *   {"format":"suido.archive/1","gateway":..,"epoch":..}
 * then one line per message, in seq order:
 *   {"id":..,"seq":..,"created":ms,"acked":ms,"n_points":..,"len":..,
 *    "payload":"<the message as the queue held it, a JSON string>"}
 * and a trailer {"end":"suido.archive/1","count":..,"first_seq":..,"last_seq":..}
 * (a file without it is torn).
 * The index is the queue's archives table (queue.h): file, range, count,
 * size, SHA-256 of the file, creation time.
 *
 * Order of an evacuation, safe against a crash at any point: the file is
 * written durably (temporary file, fsync, rename, fsync of the directory),
 * then one queue transaction indexes it and deletes its messages. A crash in
 * between leaves the messages in the queue and an unindexed file, which the
 * next evacuation of the same range replaces atomically (same name) and
 * archive_open removes otherwise. Expired archives leave the index first,
 * then the disk. A struct archive is used by one thread.
 */
#ifndef SUIDO_GATEWAY_ARCHIVE_H
#define SUIDO_GATEWAY_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define ARCHIVE_MAX_MSGS 10000          /* messages per archive file at most */
#define ARCHIVE_MAX_BYTES (8u << 20)    /* payload bytes per file (plus one message) */
#define ARCHIVE_LINE_MAX (64u << 20)    /* a line read back longer than this: corrupt */

struct archive;

/*
 * Opens the archive directory dir (created when missing) of queue q (borrowed
 * for the archive's life), removing files of q's epoch that the index does
 * not know (left by a crash before their index row) and temporary files.
 * SUIDO_OK and *out (free with archive_close), or SUIDO_ERR_IO / _NOMEM / _DB
 * with detail in err.
 */
int archive_open(const char *dir, struct queue *q, struct archive **out, char *err,
		 size_t errlen);

/* Frees; tolerates NULL. */
void archive_close(struct archive *a);

/*
 * Writes the next archive file of messages acknowledged before
 * older_than_ms (at most ARCHIVE_MAX_MSGS messages, about ARCHIVE_MAX_BYTES
 * of payload; see queue_evacuable) and then drops them from the queue. now_ms
 * is recorded as the file's creation time. *n receives the messages
 * evacuated (0: nothing to do) and *more 1 when more are waiting. SUIDO_OK;
 * SUIDO_ERR_FULL (no room for the file: nothing changed), _IO, _DB, _LIMIT (a
 * message too large for a line), _NOMEM, with detail in err. On any error
 * the messages are still in the queue.
 */
int archive_evacuate(struct archive *a, int64_t older_than_ms, int64_t now_ms, size_t *n,
		     int *more, char *err, size_t errlen);

/*
 * Deletes archives written before created_before_ms (at most 100 a call):
 * index row first, then the file. *n receives how many. SUIDO_OK, or _DB /
 * _IO with detail in err.
 */
int archive_expire(struct archive *a, int64_t created_before_ms, size_t *n, char *err,
		   size_t errlen);

/*
 * The archived message with the smallest seq in from_seq..to_seq, read by
 * streaming the file that holds it (one line in memory; consecutive calls
 * for increasing seqs continue in the same file). The file is checked first
 * against the SHA-256 of the index.
 * SUIDO_OK fills *out (out->payload owned: free()), SUIDO_ERR_NOTFOUND when
 * no archive holds one; SUIDO_ERR_INVALID when the file that should hold it
 * is missing or corrupt (err says which and why; *bad_last receives the last
 * seq that file covers, so the caller can go on after it); _DB, _NOMEM.
 */
int archive_next(struct archive *a, uint64_t from_seq, uint64_t to_seq, struct queue_msg *out,
		 uint64_t *bad_last, char *err, size_t errlen);

/*
 * Failure injection for tests: with on set, archive_evacuate stops with
 * SUIDO_ERR_IO right after the file is durable and before the index is
 * written, leaving everything as a crash at that point would.
 */
void archive_fail_before_index(struct archive *a, int on);

#endif
