/*
 * Durable file operations (fsutil.h). A failed fsync of durable data is an
 * error the caller must not retry past: the caller decides, the module
 * reports exactly what failed.
 */
#include "suido/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suido/error.h"

static int io_err(int e, char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
	return (e == ENOSPC || e == EDQUOT) ? SUIDO_ERR_FULL : SUIDO_ERR_IO;
}

int fsutil_fsync_dir(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = SUIDO_OK;

	if (fd < 0)
		return io_err(errno, err, errlen, "open directory", path);
	if (fsync(fd) != 0)
		rc = io_err(errno, err, errlen, "fsync directory", path);
	close(fd);
	return rc;
}

int fsutil_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			char *err, size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	const char *p = data;
	int fd = -1, rc = SUIDO_ERR_IO;
	size_t off = 0;

	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >= (int)sizeof tmp ||
	    snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst) {
		snprintf(err, errlen, "path too long: %s/%s", dir, name);
		return SUIDO_ERR_INVALID;
	}
	unlink(tmp); /* a leftover of a crashed earlier run of this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err(errno, err, errlen, "create", tmp);
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = io_err(errno, err, errlen, "write", tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = io_err(errno, err, errlen, "fsync", tmp);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = io_err(errno, err, errlen, "close", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) != 0) {
		rc = io_err(errno, err, errlen, "rename", dst);
		goto fail;
	}
	return fsutil_fsync_dir(dir, err, errlen);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int fsutil_move(const char *from_dir, const char *from_name, const char *to_dir,
		const char *to_name, char *err, size_t errlen)
{
	char src[PATH_MAX], dst[PATH_MAX];
	int rc;

	if (snprintf(src, sizeof src, "%s/%s", from_dir, from_name) >= (int)sizeof src ||
	    snprintf(dst, sizeof dst, "%s/%s", to_dir, to_name) >= (int)sizeof dst) {
		snprintf(err, errlen, "path too long: %s", from_name);
		return SUIDO_ERR_INVALID;
	}
	if (rename(src, dst) != 0)
		return io_err(errno, err, errlen, "rename", src);
	rc = fsutil_fsync_dir(to_dir, err, errlen);
	if (rc == SUIDO_OK && strcmp(from_dir, to_dir) != 0)
		rc = fsutil_fsync_dir(from_dir, err, errlen);
	return rc;
}

int fsutil_mkdirs(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof path) {
		snprintf(err, errlen, "bad directory path");
		return SUIDO_ERR_INVALID;
	}
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] == '/' || path[i] == '\0') {
			char c = path[i];
			path[i] = '\0';
			if (mkdir(path, 0750) != 0 && errno != EEXIST)
				return io_err(errno, err, errlen, "mkdir", path);
			path[i] = c;
		}
	}
	return SUIDO_OK;
}

int fsutil_read_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
		     char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int fd, rc = SUIDO_ERR_IO;

	*out = NULL;
	*len = 0;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		snprintf(err, errlen, "path too long: %s", name);
		return SUIDO_ERR_INVALID;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return SUIDO_ERR_NOTFOUND;
		if (errno == ELOOP) {
			snprintf(err, errlen, "%s: is a symbolic link", name);
			return SUIDO_ERR_INVALID;
		}
		return io_err(errno, err, errlen, "open", path);
	}
	if (fstat(fd, &st) != 0) {
		rc = io_err(errno, err, errlen, "stat", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", name);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	*len = (size_t)st.st_size;
	if ((size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes, more than the limit of %zu", name,
			 (long long)st.st_size, max);
		rc = SUIDO_ERR_LIMIT;
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_err(errno, err, errlen, "read", path);
			goto done;
		}
		if (n == 0)
			break; /* truncated while we read: take what is there */
		off += (size_t)n;
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	buf = NULL;
	rc = SUIDO_OK;
done:
	free(buf);
	close(fd);
	return rc;
}

int fsutil_read_path(const char *path, size_t max, char **out, size_t *len, char *err,
		     size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	*out = NULL;
	*len = 0;
	if (!slash)
		return fsutil_read_file(".", path, max, out, len, err, errlen);
	if ((size_t)(slash - path) >= sizeof dir) {
		snprintf(err, errlen, "path too long: %s", path);
		return SUIDO_ERR_INVALID;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return fsutil_read_file(slash == path ? "/" : dir, slash + 1, max, out, len, err, errlen);
}
