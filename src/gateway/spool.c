/*
 * inotify-driven spool watcher (spool.h). The ready set is small (files
 * waiting in one directory), so a plain array with linear de-duplication is
 * enough; it is capped so a flood of names cannot exhaust memory (past the
 * cap, names are picked up by the rescan that follows an overflow).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "suido/error.h"
#include "suido/log.h"

#define SPOOL_READY_MAX 100000

struct ready {
	char *name;
	int64_t not_before_ms;
};

struct spool {
	int fd;
	char *dir;
	struct ready *r;
	size_t n, cap;
	int overflowed;
};

static int add(struct spool *s, const char *name, int64_t not_before)
{
	if (name[0] == '.' || name[0] == '\0')
		return SUIDO_OK;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->r[i].name, name) == 0) {
			if (not_before > s->r[i].not_before_ms)
				s->r[i].not_before_ms = not_before;
			return SUIDO_OK;
		}
	}
	if (s->n >= SPOOL_READY_MAX) {
		s->overflowed = 1;
		return SUIDO_OK;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *np = realloc(s->r, nc * sizeof *s->r);
		if (!np)
			return SUIDO_ERR_NOMEM;
		s->r = np;
		s->cap = nc;
	}
	s->r[s->n].name = strdup(name);
	if (!s->r[s->n].name)
		return SUIDO_ERR_NOMEM;
	s->r[s->n].not_before_ms = not_before;
	s->n++;
	return SUIDO_OK;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct ready *)a)->name, ((const struct ready *)b)->name);
}

static int scan(struct spool *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	int rc = SUIDO_OK;

	if (!d)
		return SUIDO_ERR_IO;
	while ((e = readdir(d)) && rc == SUIDO_OK)
		if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN || e->d_type == DT_LNK)
			rc = add(s, e->d_name, 0);
	closedir(d);
	/* Oldest names first is what senders expect of date-stamped files. */
	if (s->n > 1)
		qsort(s->r, s->n, sizeof *s->r, cmp_name);
	return rc;
}

int spool_open(const char *dir, struct spool **out, char *err, size_t errlen)
{
	struct spool *s = calloc(1, sizeof *s);

	*out = NULL;
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return SUIDO_ERR_NOMEM;
	}
	s->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->fd < 0 || inotify_add_watch(s->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		snprintf(err, errlen, "watch %s: %s", dir, strerror(errno));
		spool_free(s);
		return SUIDO_ERR_IO;
	}
	if (scan(s) != SUIDO_OK) {
		snprintf(err, errlen, "scan %s: %s", dir, strerror(errno));
		spool_free(s);
		return SUIDO_ERR_IO;
	}
	*out = s;
	return SUIDO_OK;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->n; i++)
		free(s->r[i].name);
	free(s->r);
	free(s->dir);
	free(s);
}

int spool_poll(struct spool *s)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int rc = SUIDO_OK;

	while ((n = read(s->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				s->overflowed = 1;
			else if (ev->len && !(ev->mask & IN_ISDIR) && rc == SUIDO_OK)
				rc = add(s, ev->name, 0);
			p += sizeof *ev + ev->len;
		}
	}
	if (s->overflowed) {
		log_warn("spool", "%s: event queue overflowed; rescanning", s->dir);
		s->overflowed = 0;
		if (scan(s) != SUIDO_OK)
			log_error("spool", "rescan of %s failed: %s", s->dir, strerror(errno));
	}
	return rc;
}

int spool_take(struct spool *s, int64_t now_ms, char *name, size_t len)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].not_before_ms > now_ms)
			continue;
		snprintf(name, len, "%s", s->r[i].name);
		free(s->r[i].name);
		memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof *s->r);
		s->n--;
		return 1;
	}
	return 0;
}

int spool_defer(struct spool *s, const char *name, int64_t not_before_ms)
{
	return add(s, name, not_before_ms);
}

size_t spool_ready_count(const struct spool *s)
{
	return s->n;
}
