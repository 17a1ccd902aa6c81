/*
 * The spool directory where existing systems (through vsftpd) drop CSV files.
 * A file is ready only once complete: when inotify reports it closed after
 * writing (IN_CLOSE_WRITE) or renamed into the directory (IN_MOVED_TO).
 * Files already present at start are taken as complete (an uploader should
 * write under a dot-name and rename, which vsftpd's and most senders' temp
 * handling does). Names starting with '.' are never taken. After an inotify
 * queue overflow the directory is rescanned.
 */
#ifndef SUIDO_GATEWAY_SPOOL_H
#define SUIDO_GATEWAY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Watches dir and queues the files already in it. SUIDO_OK and *out (free
 * with spool_free), or SUIDO_ERR_IO / _NOMEM with detail in err. */
int spool_open(const char *dir, struct spool **out, char *err, size_t errlen);
void spool_free(struct spool *s);

/* Reads pending inotify events without blocking. SUIDO_OK or _NOMEM. */
int spool_poll(struct spool *s);

/*
 * Copies the next ready name due at now_ms into name[len] and removes it from
 * the ready set. Returns 1, or 0 when nothing is due.
 */
int spool_take(struct spool *s, int64_t now_ms, char *name, size_t len);

/* Puts name back to be offered again at not_before_ms (a file that could not
 * be taken now, e.g. disk full). SUIDO_OK or _NOMEM. */
int spool_defer(struct spool *s, const char *name, int64_t not_before_ms);

/* Number of ready names (due or deferred). */
size_t spool_ready_count(const struct spool *s);

#endif
