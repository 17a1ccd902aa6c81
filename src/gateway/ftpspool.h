/*
 * Files that existing systems upload over FTP (seed 003 section 6.4),
 * through vsftpd with one virtual account per sending system, each locked
 * into ROOT/<user> (docs/ftp.md). vsftpd writes an upload in place, so a
 * file there is taken only once vsftpd's log (ftplog.h) reports its
 * transfer ended:
 *
 *   OK UPLOAD   -> the file (same size as logged, no upload holding its
 *                  lock, ending in a line end unless that check is off) is
 *                  renamed into the sender's staging spool STATE/ftp/<user>/,
 *                  which holds complete files only, and taken from there by
 *                  the normal intake (intake_file) with the sender's own
 *                  receipts directory STATE/receipts/ftp/<user>/ and a copy
 *                  of every receipt in ROOT/<user>/receipts/ for the sender
 *                  to download;
 *   FAIL UPLOAD -> the partial file is moved to rejected/ with a receipt
 *                  "upload incomplete" (intake_reject); nothing is queued.
 *
 * A file for which no entry ever comes (vsftpd itself was killed) is
 * refused the same way once unchanged for stale_ms. The log position is
 * saved only after the entries before it were acted on, and every action
 * is idempotent (a file already moved is simply not there), so a crash at
 * any point neither loses an upload nor takes one twice.
 */
#ifndef SUIDO_GATEWAY_FTPSPOOL_H
#define SUIDO_GATEWAY_FTPSPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "gwconf.h"
#include "intake.h"
#include "spool.h"

struct ftpspool;

/*
 * Sets up FTP intake for cfg (cfg->root must be set) with state under
 * state_dir (on the same file system as cfg->root: files are renamed, not
 * copied). base is the intake context of the gateway's own spool; each
 * sender gets a copy with its own directories. cfg and base are borrowed
 * for the life of the ftpspool. SUIDO_OK and *out (free with
 * ftpspool_free), or SUIDO_ERR_CONFIG / _IO / _NOMEM with detail in err.
 */
int ftpspool_open(const struct gw_ftp *cfg, const char *state_dir,
		  const struct intake_ctx *base, struct ftpspool **out, char *err,
		  size_t errlen);
void ftpspool_free(struct ftpspool *s);

/*
 * Reads new log entries and acts on them (stage or refuse the files), then,
 * when the log is read to its end, looks for abandoned uploads. now_ms is
 * monotonic. Operational problems are logged and retried at the next call.
 */
void ftpspool_poll(struct ftpspool *s, int64_t now_ms);

/* The senders known so far; for each, its staging spool and the intake
 * context and origin to take its files with (intake_file_from; all borrowed
 * until ftpspool_free). */
size_t ftpspool_senders(const struct ftpspool *s);
struct spool *ftpspool_spool(struct ftpspool *s, size_t i);
const struct intake_ctx *ftpspool_intake(const struct ftpspool *s, size_t i);
const struct intake_origin *ftpspool_origin(const struct ftpspool *s, size_t i);

/* Staged files waiting to be taken, over all senders. */
size_t ftpspool_ready_count(const struct ftpspool *s);

#endif
