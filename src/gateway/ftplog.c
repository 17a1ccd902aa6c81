/*
 * Parsing and following vsftpd's log (ftplog.h). The follower holds one
 * fixed buffer of FTPLOG_LINE_MAX bytes: memory does not grow with the log,
 * and a line that does not fit is skipped to its end.
 */
#include "ftplog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"

#define POS_MAGIC "suido.ftplog-pos/1"

/* ---- parsing ---- */

static const char *find(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(s + i, needle, n) == 0)
			return s + i;
	return NULL;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A user name as vsftpd logs a virtual user: printable, no space or '/'. */
static int set_user(struct ftplog_entry *e, const char *s, size_t len)
{
	if (len == 0 || len > FTPLOG_USER_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return -1;
	memcpy(e->user, s, len);
	e->user[len] = '\0';
	return 0;
}

static int set_path(struct ftplog_entry *e, const char *s, size_t len)
{
	if (len < 2 || len > FTPLOG_PATH_MAX || s[0] != '/' || memchr(s, '\0', len))
		return -1;
	memcpy(e->path, s, len);
	e->path[len] = '\0';
	return 0;
}

/*
 * vsftpd's own format:
 * DATE [pid N] [user] OK UPLOAD: Client "1.2.3.4", "/name", 123 bytes, 4.56Kbyte/sec
 * The name is quoted but not escaped; nothing after it holds a quote, so
 * it ends at the line's last quote.
 */
static int parse_vsftpd(const char *line, size_t len, const char *pid, struct ftplog_entry *out)
{
	const char *end = line + len, *p = pid + 6, *q, *name, *last;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (end - p < 2 || p[0] != ']' || p[1] != ' ')
		return -1;
	p += 2;
	if (p >= end || *p != '[')
		return 0; /* CONNECT and other lines without a user */
	q = memchr(p, ']', (size_t)(end - p));
	if (!q || q + 1 >= end || q[1] != ' ')
		return -1;
	if (set_user(out, p + 1, (size_t)(q - p - 1)))
		return -1;
	p = q + 2;
	if ((size_t)(end - p) >= 11 && memcmp(p, "OK UPLOAD: ", 11) == 0) {
		out->status = FTPLOG_COMPLETE;
		p += 11;
	} else if ((size_t)(end - p) >= 13 && memcmp(p, "FAIL UPLOAD: ", 13) == 0) {
		out->status = FTPLOG_FAILED;
		p += 13;
	} else {
		return 0; /* logins, downloads, other commands */
	}
	if ((size_t)(end - p) < 8 || memcmp(p, "Client \"", 8) != 0)
		return -1;
	p += 8;
	q = memchr(p, '"', (size_t)(end - p));
	if (!q || (size_t)(end - q) < 4 || memcmp(q, "\", \"", 4) != 0)
		return -1;
	name = q + 4;
	for (last = end - 1; last >= name && *last != '"'; last--)
		;
	if (last < name)
		return -1;
	if (set_path(out, name, (size_t)(last - name)))
		return -1;
	p = last + 1;
	if ((size_t)(end - p) < 2 || p[0] != ',' || p[1] != ' ')
		return -1;
	p += 2;
	q = memchr(p, ' ', (size_t)(end - p));
	if (!q || parse_u64(p, (size_t)(q - p), &out->bytes))
		return -1;
	if ((size_t)(end - q) < 7 || memcmp(q, " bytes,", 7) != 0)
		return -1;
	out->format = FTPLOG_VSFTPD;
	return 1;
}

struct tok {
	const char *s;
	size_t len;
};

/*
 * wu-ftpd xferlog: 5 date fields, transfer-time, host, size, name, then
 * type, action, direction, access-mode, user, service, auth-method,
 * auth-user, completion. The name may hold spaces (other servers), so
 * fields are taken from both ends and the name is what lies between.
 */
static int parse_xferlog(const char *line, size_t len, struct ftplog_entry *out)
{
	struct tok left[8], right[9];
	const char *p = line, *end = line + len, *mid_s, *mid_e;
	size_t i;

	for (i = 0; i < 8; i++) {
		while (p < end && *p == ' ')
			p++;
		left[i].s = p;
		while (p < end && *p != ' ')
			p++;
		left[i].len = (size_t)(p - left[i].s);
		if (left[i].len == 0)
			return -1;
	}
	if (p >= end)
		return -1;
	mid_s = p + 1;
	p = end;
	for (i = 0; i < 9; i++) {
		const char *e;
		while (p > mid_s && p[-1] == ' ')
			p--;
		e = p;
		while (p > mid_s && p[-1] != ' ')
			p--;
		right[8 - i].s = p;
		right[8 - i].len = (size_t)(e - p);
		if (right[8 - i].len == 0)
			return -1;
	}
	if (p <= mid_s || p[-1] != ' ')
		return -1;
	mid_e = p - 1;
	if (mid_e <= mid_s)
		return -1;
	/* right: type action direction access user service auth authuser status */
	for (i = 0; i < 9; i++)
		if (i != 4 && i != 5 && i != 7 && right[i].len != 1)
			return -1;
	if (right[8].s[0] != 'c' && right[8].s[0] != 'i')
		return -1;
	if (right[2].s[0] != 'i')
		return right[2].s[0] == 'o' || right[2].s[0] == 'd' ? 0 : -1;
	if (right[3].s[0] == 'a')
		return -1; /* anonymous: never ours */
	if (parse_u64(left[7].s, left[7].len, &out->bytes))
		return -1;
	if (set_user(out, right[4].s, right[4].len))
		return -1;
	if (set_path(out, mid_s, (size_t)(mid_e - mid_s)))
		return -1;
	out->status = right[8].s[0] == 'c' ? FTPLOG_COMPLETE : FTPLOG_FAILED;
	out->format = FTPLOG_XFERLOG;
	return 1;
}

int ftplog_parse(const char *line, size_t len, struct ftplog_entry *out)
{
	const char *pid;

	memset(out, 0, sizeof *out);
	if (len > FTPLOG_LINE_MAX)
		return -1;
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return -1;
	/* The date never holds '[': the first " [pid " is vsftpd's header. */
	pid = find(line, len, " [pid ");
	if (pid)
		return parse_vsftpd(line, len, pid, out);
	return parse_xferlog(line, len, out);
}

int ftplog_name_matches(const struct ftplog_entry *e, const char *logged, const char *name)
{
	size_t n = strlen(logged);

	if (strlen(name) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (logged[i] == name[i] || logged[i] == '?')
			continue;
		if (e->format == FTPLOG_XFERLOG && logged[i] == '_' && name[i] == ' ')
			continue;
		return 0;
	}
	return 1;
}

/* ---- following ---- */

struct ftplog {
	char *log_path;
	char *pos_dir, *pos_name;
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;  /* file offset of buf[0]: everything before it is consumed */
	size_t len; /* bytes in buf */
	int skipping; /* inside a line longer than the buffer */
	/* the last bytes before off: if they change, the file was truncated and
	 * written again (copytruncate) even when it grew back past off */
	char tail[64];
	size_t tail_len;
	int have_head;
	size_t head_len;
	struct ftplog_entry head;
	/* where to resume when the log is first opened */
	int resume;
	dev_t resume_dev;
	ino_t resume_ino;
	off_t resume_off;
	/* what was last saved */
	int saved;
	dev_t saved_dev;
	ino_t saved_ino;
	off_t saved_off;
	int warned_missing;
	struct ftplog_counts counts;
	char buf[FTPLOG_LINE_MAX];
};

static void load_pos(struct ftplog *f)
{
	char *text = NULL, why[256];
	size_t len = 0;
	uintmax_t dev, ino;
	intmax_t off;

	if (fsutil_read_file(f->pos_dir, f->pos_name, 256, &text, &len, why, sizeof why) !=
	    SUIDO_OK)
		return;
	if (sscanf(text, POS_MAGIC " %ju %ju %jd", &dev, &ino, &off) == 3 && off >= 0) {
		f->resume = 1;
		f->resume_dev = (dev_t)dev;
		f->resume_ino = (ino_t)ino;
		f->resume_off = (off_t)off;
		f->saved = 1;
		f->saved_dev = f->resume_dev;
		f->saved_ino = f->resume_ino;
		f->saved_off = f->resume_off;
	} else {
		log_warn("ftplog", "%s/%s: not a position file; reading the log from its start",
			 f->pos_dir, f->pos_name);
	}
	free(text);
}

int ftplog_open(const char *log_path, const char *pos_path, struct ftplog **out, char *err,
		size_t errlen)
{
	struct ftplog *f = calloc(1, sizeof *f);
	const char *slash = strrchr(pos_path, '/');

	*out = NULL;
	if (!f)
		return SUIDO_ERR_NOMEM;
	f->fd = -1;
	f->log_path = strdup(log_path);
	f->pos_dir = slash ? strndup(pos_path, (size_t)(slash - pos_path)) : strdup(".");
	f->pos_name = strdup(slash ? slash + 1 : pos_path);
	if (!f->log_path || !f->pos_dir || !f->pos_name) {
		ftplog_free(f);
		snprintf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	if (slash && slash == pos_path) {
		free(f->pos_dir);
		if (!(f->pos_dir = strdup("/"))) {
			ftplog_free(f);
			return SUIDO_ERR_NOMEM;
		}
	}
	if (!f->pos_name[0]) {
		snprintf(err, errlen, "%s: not a file name", pos_path);
		ftplog_free(f);
		return SUIDO_ERR_IO;
	}
	load_pos(f);
	*out = f;
	return SUIDO_OK;
}

void ftplog_free(struct ftplog *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->log_path);
	free(f->pos_dir);
	free(f->pos_name);
	free(f);
}

static void drop(struct ftplog *f, size_t n)
{
	if (n >= sizeof f->tail) {
		memcpy(f->tail, f->buf + n - sizeof f->tail, sizeof f->tail);
		f->tail_len = sizeof f->tail;
	} else {
		size_t keep = f->tail_len + n > sizeof f->tail ? sizeof f->tail - n : f->tail_len;
		memmove(f->tail, f->tail + f->tail_len - keep, keep);
		memcpy(f->tail + keep, f->buf, n);
		f->tail_len = keep + n;
	}
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
	f->off += (off_t)n;
}

static void restart_at_zero(struct ftplog *f)
{
	f->off = 0;
	f->len = 0;
	f->skipping = 0;
	f->tail_len = 0;
}

/* Nonzero when the bytes before off are no longer what was read there. */
static int rewritten(struct ftplog *f)
{
	char now[sizeof f->tail];

	if (!f->tail_len || f->off < (off_t)f->tail_len)
		return 0;
	return pread(f->fd, now, f->tail_len, f->off - (off_t)f->tail_len) !=
		       (ssize_t)f->tail_len ||
	       memcmp(now, f->tail, f->tail_len) != 0;
}

/* Opens the log when it is not open. 1 opened now or before, 0 missing. */
static int ensure_open(struct ftplog *f)
{
	struct stat st;

	if (f->fd >= 0)
		return 1;
	f->fd = open(f->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (f->fd < 0) {
		if (errno != ENOENT || !f->warned_missing)
			log_debug("ftplog", "%s: %s (waiting for vsftpd to write it)", f->log_path,
				  strerror(errno));
		f->warned_missing = 1;
		return 0;
	}
	if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("ftplog", "%s: not a regular file", f->log_path);
		close(f->fd);
		f->fd = -1;
		return 0;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	restart_at_zero(f);
	if (f->resume && f->resume_dev == st.st_dev && f->resume_ino == st.st_ino &&
	    f->resume_off <= st.st_size) {
		if (lseek(f->fd, f->resume_off, SEEK_SET) == f->resume_off)
			f->off = f->resume_off;
		else
			lseek(f->fd, 0, SEEK_SET);
	} else if (f->resume) {
		log_warn("ftplog", "%s was rotated or truncated since the last position saved: "
				   "reading it from its start", f->log_path);
		f->counts.rotations++;
	}
	f->resume = 0;
	return 1;
}

/* Reads more of the log. >0 bytes read, 0 nothing new, -1 error. */
static int fill(struct ftplog *f)
{
	for (int tries = 0; tries < 2; tries++) {
		struct stat st;
		ssize_t n;

		if (!ensure_open(f))
			return 0;
		do
			n = read(f->fd, f->buf + f->len, sizeof f->buf - f->len);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			f->len += (size_t)n;
			return 1;
		}
		if (n < 0) {
			log_error("ftplog", "reading %s: %s", f->log_path, strerror(errno));
			return -1;
		}
		/* At the end of what we have open: was the file replaced or cut? */
		if (stat(f->log_path, &st) != 0)
			return 0; /* renamed away, the new one not there yet */
		if (st.st_dev != f->dev || st.st_ino != f->ino) {
			/* Rotated by rename: the old file is read to its end; a torn
			 * last line there was never a whole entry. */
			log_info("ftplog", "%s was rotated: following the new file", f->log_path);
			close(f->fd);
			f->fd = -1;
			f->counts.rotations++;
			continue;
		}
		if (st.st_size < f->off + (off_t)f->len || rewritten(f)) {
			log_info("ftplog", "%s was truncated: reading it from its start", f->log_path);
			if (lseek(f->fd, 0, SEEK_SET) != 0) {
				log_error("ftplog", "seeking %s: %s", f->log_path, strerror(errno));
				return -1;
			}
			restart_at_zero(f);
			f->counts.rotations++;
			continue;
		}
		return 0;
	}
	return 0;
}

int ftplog_peek(struct ftplog *f, struct ftplog_entry *out)
{
	if (f->have_head) {
		*out = f->head;
		return 1;
	}
	for (;;) {
		char *nl = memchr(f->buf, '\n', f->len);
		int r;

		if (nl) {
			size_t n = (size_t)(nl - f->buf);
			if (f->skipping) {
				f->skipping = 0;
				f->counts.skipped++;
				drop(f, n + 1);
				continue;
			}
			r = ftplog_parse(f->buf, n, &f->head);
			if (r == 1) {
				f->have_head = 1;
				f->head_len = n + 1;
				*out = f->head;
				return 1;
			}
			if (r < 0) {
				f->counts.skipped++;
				log_warn("ftplog", "%s: line at offset %jd not understood: skipped",
					 f->log_path, (intmax_t)f->off);
			}
			drop(f, n + 1);
			continue;
		}
		if (f->len == sizeof f->buf) {
			if (!f->skipping)
				log_warn("ftplog", "%s: line at offset %jd longer than %d bytes: "
						   "skipped", f->log_path, (intmax_t)f->off,
					 FTPLOG_LINE_MAX);
			f->skipping = 1;
			drop(f, f->len);
		}
		r = fill(f);
		if (r <= 0)
			return r;
	}
}

void ftplog_consume(struct ftplog *f)
{
	if (!f->have_head)
		return;
	drop(f, f->head_len);
	f->have_head = 0;
	f->counts.entries++;
}

int ftplog_save(struct ftplog *f, char *err, size_t errlen)
{
	char text[128];
	int n, rc;

	if (f->fd < 0)
		return SUIDO_OK;
	if (f->saved && f->saved_dev == f->dev && f->saved_ino == f->ino && f->saved_off == f->off)
		return SUIDO_OK;
	n = snprintf(text, sizeof text, POS_MAGIC " %ju %ju %jd\n", (uintmax_t)f->dev,
		     (uintmax_t)f->ino, (intmax_t)f->off);
	rc = fsutil_write_atomic(f->pos_dir, f->pos_name, text, (size_t)n, err, errlen);
	if (rc == SUIDO_OK) {
		f->saved = 1;
		f->saved_dev = f->dev;
		f->saved_ino = f->ino;
		f->saved_off = f->off;
	}
	return rc;
}

void ftplog_counts(const struct ftplog *f, struct ftplog_counts *out)
{
	*out = f->counts;
}
