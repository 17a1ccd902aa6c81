/*
 * Which FTP uploads finished, from vsftpd's own account of them. vsftpd
 * writes an upload in place under its final name, so the file alone cannot
 * tell a finished upload from one still running or cut off; vsftpd's log
 * can: one line per transfer once it ended, "OK UPLOAD" or "FAIL UPLOAD" in
 * its own format (vsftpd_log_file), completion status c or i in the wu-ftpd
 * xferlog format (xferlog_std_format). This module parses both formats and
 * follows the log file: it reads only new lines, survives rotation (the old
 * file is drained first) and truncation, caps every line, and remembers how
 * far it got in a small position file so a restart neither misses nor
 * repeats more than the entries not yet consumed.
 *
 * vsftpd logs names lossily: every byte it finds unprintable (anything
 * outside printable ASCII, so every byte of a Japanese name) becomes '?',
 * and the xferlog format also writes a space as '_'. ftplog_name_matches
 * says whether a real file name fits a logged one.
 */
#ifndef SUIDO_GATEWAY_FTPLOG_H
#define SUIDO_GATEWAY_FTPLOG_H

#include <stddef.h>
#include <stdint.h>

#define FTPLOG_USER_MAX 64
#define FTPLOG_PATH_MAX 1024
#define FTPLOG_LINE_MAX 8192 /* longer lines are skipped (and counted) */

enum ftplog_status {
	FTPLOG_COMPLETE, /* OK UPLOAD / completion status c */
	FTPLOG_FAILED,   /* FAIL UPLOAD / completion status i */
};

enum ftplog_format { FTPLOG_VSFTPD, FTPLOG_XFERLOG };

struct ftplog_entry {
	enum ftplog_status status;
	enum ftplog_format format;
	char user[FTPLOG_USER_MAX + 1];
	char path[FTPLOG_PATH_MAX + 1]; /* as logged: inside the user's jail, starts with '/' */
	uint64_t bytes;                 /* bytes received (= the file's size, binary storage) */
};

/*
 * Parses one log line line[0..len) (no newline; need not be NUL-terminated)
 * in either format. Returns 1 and fills *out for an upload entry, 0 for any
 * other line of a known shape (logins, downloads, connections), -1 for a
 * line that is neither (malformed, over a cap, an anonymous upload).
 */
int ftplog_parse(const char *line, size_t len, struct ftplog_entry *out);

/*
 * Nonzero when the file name name could be the one e logged as logged (the
 * last component of e->path): equal length, and equal bytes except that '?'
 * stands for any byte and, in the xferlog format, '_' for a space too.
 */
int ftplog_name_matches(const struct ftplog_entry *e, const char *logged, const char *name);

struct ftplog;

/*
 * Follows the log at log_path (which need not exist yet), resuming at the
 * position saved in pos_path (a file this module owns; none: from the start
 * of the log). When the saved position belongs to another file (rotated
 * while the gateway was down) or lies past the end (truncated), it starts
 * at the beginning of the current file. SUIDO_OK and *out (free with
 * ftplog_free), or SUIDO_ERR_NOMEM / _IO with detail in err.
 */
int ftplog_open(const char *log_path, const char *pos_path, struct ftplog **out, char *err,
		size_t errlen);
void ftplog_free(struct ftplog *f);

/*
 * The oldest upload entry not yet consumed, reading new lines as needed
 * (without blocking); other lines are passed over. Returns 1 and fills *out
 * (the same entry until ftplog_consume), 0 when there is none now (the log
 * is read to its end), or -1 on a read error (logged; try again later).
 */
int ftplog_peek(struct ftplog *f, struct ftplog_entry *out);

/* Drops the entry ftplog_peek returned; the next peek reads on. */
void ftplog_consume(struct ftplog *f);

/*
 * Saves the position after the last consumed entry to pos_path (durably:
 * fsutil_write_atomic), when it changed. SUIDO_OK, _FULL or _IO with detail
 * in err. Call it only once what the consumed entries asked for is done.
 */
int ftplog_save(struct ftplog *f, char *err, size_t errlen);

struct ftplog_counts {
	uint64_t entries;   /* upload entries consumed */
	uint64_t skipped;   /* malformed or overlong lines */
	uint64_t rotations; /* the file was replaced or truncated */
};

void ftplog_counts(const struct ftplog *f, struct ftplog_counts *out);

#endif
