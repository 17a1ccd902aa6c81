/*
 * FTP uploads to the staging spools (ftpspool.h). Everything here is a
 * rename or a refusal decided from vsftpd's log and the file's own state;
 * reading and mapping the data is intake.c's.
 */
#include "ftpspool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftplog.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"
#include "suido/timeutil.h"

#define SENDERS_MAX 4096
#define ENTRIES_PER_POLL 256
#define STALE_SCAN_MS 5000

struct sender {
	char name[40];
	char prefix[48];
	char dir[PATH_MAX];      /* ROOT/<user>: the sender's FTP jail */
	char stage[PATH_MAX];    /* STATE/ftp/<user>: complete uploads only */
	char receipts[PATH_MAX]; /* STATE/receipts/ftp/<user> */
	char copy[PATH_MAX];     /* ROOT/<user>/receipts: the sender's copies */
	struct spool *sp;
	struct intake_ctx ic;    /* spool_dir = stage */
	struct intake_ctx jail;  /* spool_dir = dir: for refusing unfinished uploads */
	struct intake_origin origin;
};

struct ftpspool {
	const struct gw_ftp *cfg;
	const struct intake_ctx *base;
	char state_ftp[PATH_MAX];
	struct ftplog *log;
	struct sender **senders;
	size_t n, cap;
	int64_t head_since; /* when the entry at the head was first put off; 0 none */
	int64_t next_stale_scan;
};

enum action { DONE, RETRY };

/* dir/name into out[PATH_MAX]; -1 when it does not fit. */
static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static int allowed(const struct ftpspool *s, const char *user)
{
	if (!gw_ftp_user_valid(user))
		return 0;
	if (!s->cfg->n_users)
		return 1;
	for (size_t i = 0; i < s->cfg->n_users; i++)
		if (strcmp(s->cfg->users[i], user) == 0)
			return 1;
	return 0;
}

static struct sender *find(struct ftpspool *s, const char *user)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->senders[i]->name, user) == 0)
			return s->senders[i];
	return NULL;
}

static void sender_free(struct sender *x)
{
	if (!x)
		return;
	spool_free(x->sp);
	free(x);
}

/* The sender user, set up on first sight. NULL when not one of ours. */
static struct sender *sender_get(struct ftpspool *s, const char *user, char *err, size_t errlen)
{
	struct sender *x = find(s, user);
	struct stat st;
	int n;

	if (x)
		return x;
	snprintf(err, errlen, "not an allowed account");
	if (!allowed(s, user) || s->n >= SENDERS_MAX)
		return NULL;
	if (!(x = calloc(1, sizeof *x))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(x->name, sizeof x->name, "%s", user);
	snprintf(x->prefix, sizeof x->prefix, "ftp:%s/", user);
	n = snprintf(x->dir, sizeof x->dir, "%s/%s", s->cfg->root, user);
	n |= snprintf(x->stage, sizeof x->stage, "%s/%s", s->state_ftp, user);
	n |= snprintf(x->receipts, sizeof x->receipts, "%s/ftp/%s", s->base->receipts_dir, user);
	n |= snprintf(x->copy, sizeof x->copy, "%s/receipts", x->dir);
	if (n < 0 || strlen(x->receipts) >= sizeof x->receipts - 1) {
		snprintf(err, errlen, "path too long");
		goto fail;
	}
	if (lstat(x->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", x->dir);
		goto fail;
	}
	if (fsutil_mkdirs(x->stage, err, errlen) != SUIDO_OK ||
	    fsutil_mkdirs(x->receipts, err, errlen) != SUIDO_OK)
		goto fail;
	if (lstat(x->copy, &st) != 0) {
		/* normally made by scripts/ftp.sh; readable by the FTP server's
		 * guest user, writable only by us */
		if (fsutil_mkdirs(x->copy, err, errlen) != SUIDO_OK)
			goto fail;
		if (chmod(x->copy, 0755) != 0) {
			snprintf(err, errlen, "chmod %s: %s", x->copy, strerror(errno));
			goto fail;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", x->copy);
		goto fail;
	}
	if (spool_open(x->stage, &x->sp, err, errlen) != SUIDO_OK)
		goto fail;
	x->ic = *s->base;
	x->ic.spool_dir = x->stage;
	x->ic.receipts_dir = x->receipts;
	x->origin.receipts_copy_dir = x->copy;
	x->origin.record_prefix = x->prefix;
	x->jail = x->ic;
	x->jail.spool_dir = x->dir;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		void *np = realloc(s->senders, nc * sizeof *s->senders);
		if (!np) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		s->senders = np;
		s->cap = nc;
	}
	s->senders[s->n++] = x;
	log_info("ftp", "sender %s: uploads in %s, receipts in %s and %s", user, x->dir,
		 x->receipts, x->copy);
	return x;
fail:
	sender_free(x);
	return NULL;
}

/* Adds every valid directory name under dir as a sender. */
static void add_from_dir(struct ftpspool *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char err[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!gw_ftp_user_valid(e->d_name) || !allowed(s, e->d_name) || find(s, e->d_name))
			continue;
		if (!sender_get(s, e->d_name, err, sizeof err))
			log_debug("ftp", "%s/%s: not a sender: %s", dir, e->d_name, err);
	}
	closedir(d);
}

int ftpspool_open(const struct gw_ftp *cfg, const char *state_dir,
		  const struct intake_ctx *base, struct ftpspool **out, char *err,
		  size_t errlen)
{
	struct ftpspool *s = NULL;
	struct stat a, b;
	char pos[PATH_MAX];
	int rc;

	*out = NULL;
	if (stat(cfg->root, &a) != 0 || !S_ISDIR(a.st_mode)) {
		snprintf(err, errlen, "[ftp] root %s: not a directory", cfg->root);
		return SUIDO_ERR_CONFIG;
	}
	if (stat(state_dir, &b) != 0 || a.st_dev != b.st_dev) {
		snprintf(err, errlen, "[ftp] root %s and state_dir %s must be on one file system "
				      "(uploads are renamed into the gateway's state)",
			 cfg->root, state_dir);
		return SUIDO_ERR_CONFIG;
	}
	if (!(s = calloc(1, sizeof *s)))
		return SUIDO_ERR_NOMEM;
	s->cfg = cfg;
	s->base = base;
	snprintf(s->state_ftp, sizeof s->state_ftp, "%s/ftp", state_dir);
	if ((rc = fsutil_mkdirs(s->state_ftp, err, errlen)) != SUIDO_OK)
		goto fail;
	if (join(pos, s->state_ftp, "log.pos")) {
		snprintf(err, errlen, "%s: path too long", state_dir);
		rc = SUIDO_ERR_CONFIG;
		goto fail;
	}
	if ((rc = ftplog_open(cfg->log, pos, &s->log, err, errlen)) != SUIDO_OK)
		goto fail;
	/* Staged leftovers first (a restart between staging and intake), then
	 * the configured or discovered senders. */
	add_from_dir(s, s->state_ftp);
	for (size_t i = 0; i < cfg->n_users; i++)
		if (!sender_get(s, cfg->users[i], err, errlen) && !find(s, cfg->users[i]))
			log_warn("ftp", "[ftp] users: %s: %s (taken up when it appears)",
				 cfg->users[i], err);
	if (!cfg->n_users)
		add_from_dir(s, cfg->root);
	log_info("ftp", "following %s: %zu senders under %s", cfg->log, s->n, cfg->root);
	*out = s;
	return SUIDO_OK;
fail:
	ftpspool_free(s);
	return rc;
}

void ftpspool_free(struct ftpspool *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		sender_free(s->senders[i]);
	free(s->senders);
	ftplog_free(s->log);
	free(s);
}

/* Nonzero when another process holds a lock on fd: vsftpd keeps a write
 * lock on a file while it receives it (lock_upload_files, its default). */
static int locked(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};

	return fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static int has_wildcards(const struct ftplog_entry *e, const char *logged)
{
	return strchr(logged, '?') || (e->format == FTPLOG_XFERLOG && strchr(logged, '_'));
}

/*
 * The file in x->dir the entry speaks of, into name[len]: the logged name
 * itself, or the one file whose name and size fit it. 0 found, -1 none.
 */
static int find_file(const struct sender *x, const struct ftplog_entry *e, const char *logged,
		     char *name, size_t len)
{
	DIR *d;
	struct dirent *de;
	int found = 0;

	if (!has_wildcards(e, logged) || !(d = opendir(x->dir))) {
		snprintf(name, len, "%s", logged);
		return 0;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (!ftplog_name_matches(e, logged, de->d_name))
			continue;
		if (join(path, x->dir, de->d_name) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->bytes)
			continue;
		if (found++) {
			log_warn("ftp", "%s: more than one file fits \"%s\" of %llu bytes in the "
					"log; left for the stale check", x->name, logged,
				 (unsigned long long)e->bytes);
			break;
		}
		snprintf(name, len, "%s", de->d_name);
	}
	closedir(d);
	return found == 1 ? 0 : -1;
}

static enum action refuse(struct sender *x, const char *name, const char *reason)
{
	struct intake_result res;
	char err[512];
	int rc = intake_reject(&x->jail, &x->origin, name, reason, timeutil_now_ms(), &res, err, sizeof err);

	if (rc != SUIDO_OK) {
		log_error("ftp", "%s: refusing %s failed, will retry: %s", x->name, name, err);
		return RETRY;
	}
	return DONE;
}

/* Renames a complete upload into the sender's staging spool, never over a
 * file staged before under the same name (that one is taken first). */
static enum action stage(struct sender *x, const char *name, uint64_t bytes)
{
	char from[PATH_MAX], to[PATH_MAX], err[512];

	if (join(from, x->dir, name) || join(to, x->stage, name))
		return DONE;
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		if (errno == ENOENT)
			return DONE;
		if (errno != EEXIST)
			log_error("ftp", "%s: staging %s: %s", x->name, name, strerror(errno));
		return RETRY;
	}
	if (fsutil_fsync_dir(x->stage, err, sizeof err) != SUIDO_OK ||
	    fsutil_fsync_dir(x->dir, err, sizeof err) != SUIDO_OK)
		fatal("ftp", "%s", err); /* durable state cannot be trusted any more */
	log_info("ftp", "%s: %s uploaded (%llu bytes): taking it", x->name, name,
		 (unsigned long long)bytes);
	return DONE;
}

static enum action route(struct ftpspool *s, const struct ftplog_entry *e)
{
	const char *logged = e->path + 1;
	char name[NAME_MAX + 1], path[PATH_MAX], reason[256], err[512];
	struct sender *x;
	struct stat st;
	unsigned char last = '\n';
	int fd;
	enum action act;

	if (!(x = sender_get(s, e->user, err, sizeof err))) {
		log_warn("ftp", "upload of %s by %s ignored: %s", e->path, e->user, err);
		return DONE;
	}
	if (strchr(logged, '/') || strlen(logged) > NAME_MAX)
		return DONE; /* not in the jail's top directory: nothing we take */
	if (find_file(x, e, logged, name, sizeof name) != 0)
		return DONE;
	if (join(path, x->dir, name))
		return DONE;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return DONE; /* taken before (a replay after a restart), or not a file */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->bytes) {
		/* not the file of this entry: a later upload under the same name */
		close(fd);
		return DONE;
	}
	if (locked(fd)) {
		/* vsftpd logs just before it closes the file; or this is a later
		 * upload of the same size still running */
		close(fd);
		return RETRY;
	}
	if (e->status == FTPLOG_COMPLETE && s->cfg->require_final_newline && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) != 1)
		last = 0;
	close(fd);
	if (name[0] == '.')
		return refuse(x, name, "file names starting with '.' are not taken");
	if (e->status == FTPLOG_FAILED) {
		snprintf(reason, sizeof reason,
			 "upload incomplete: the FTP transfer failed after %llu bytes",
			 (unsigned long long)e->bytes);
		return refuse(x, name, reason);
	}
	if (last != '\n') {
		snprintf(reason, sizeof reason,
			 "upload incomplete: the file (%llu bytes) does not end with a line end; "
			 "was the transfer cut off?", (unsigned long long)e->bytes);
		return refuse(x, name, reason);
	}
	act = stage(x, name, e->bytes);
	return act;
}

/* Uploads for which vsftpd never logged an end (it was killed, or its log
 * was lost): refused once unchanged for stale_ms and not locked. */
static void stale_scan(struct ftpspool *s)
{
	int64_t now = timeutil_now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct sender *x = s->senders[i];
		DIR *d = opendir(x->dir);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			char path[PATH_MAX], reason[256];
			struct stat st;
			int fd, busy;
			int64_t mtime_ms;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (join(path, x->dir, de->d_name))
				continue;
			fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				continue;
			if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
				close(fd);
				continue;
			}
			busy = locked(fd);
			close(fd);
			mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
			if (busy || now - mtime_ms < s->cfg->stale_ms)
				continue;
			snprintf(reason, sizeof reason,
				 "upload incomplete: the FTP server logged no end of this transfer "
				 "within %lld s (%lld bytes received)",
				 (long long)(s->cfg->stale_ms / 1000), (long long)st.st_size);
			refuse(x, de->d_name, reason);
		}
		closedir(d);
	}
}

void ftpspool_poll(struct ftpspool *s, int64_t now_ms)
{
	struct ftplog_entry e;
	char err[512];
	int r = 0, n = 0;

	while (n < ENTRIES_PER_POLL && (r = ftplog_peek(s->log, &e)) == 1) {
		if (route(s, &e) == RETRY) {
			if (!s->head_since)
				s->head_since = now_ms;
			if (now_ms - s->head_since < s->cfg->stale_ms)
				break; /* try again at the next poll; later entries wait */
			log_warn("ftp", "%s: %s still busy after %lld s: entry passed over",
				 e.user, e.path, (long long)(s->cfg->stale_ms / 1000));
		}
		s->head_since = 0;
		ftplog_consume(s->log);
		n++;
	}
	if (n && ftplog_save(s->log, err, sizeof err) != SUIDO_OK)
		log_error("ftp", "saving the log position: %s", err);
	/* Only with the log read to its end can a file without an entry be
	 * told from one whose entry is still to be read. */
	if (r == 0 && now_ms >= s->next_stale_scan) {
		stale_scan(s);
		s->next_stale_scan = now_ms + STALE_SCAN_MS;
	}
}

size_t ftpspool_senders(const struct ftpspool *s)
{
	return s->n;
}

struct spool *ftpspool_spool(struct ftpspool *s, size_t i)
{
	return s->senders[i]->sp;
}

const struct intake_ctx *ftpspool_intake(const struct ftpspool *s, size_t i)
{
	return &s->senders[i]->ic;
}

const struct intake_origin *ftpspool_origin(const struct ftpspool *s, size_t i)
{
	return &s->senders[i]->origin;
}

size_t ftpspool_ready_count(const struct ftpspool *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += spool_ready_count(s->senders[i]->sp);
	return n;
}
