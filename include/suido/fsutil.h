/*
 * Durable file operations, in the one order that survives a crash at any
 * point: write a temporary file (O_CREAT|O_EXCL, 0600), fsync it, close,
 * rename over the target, fsync the directory. Receipts, generated
 * configuration and archives are written through here.
 */
#ifndef SUIDO_FSUTIL_H
#define SUIDO_FSUTIL_H

#include <stddef.h>

/*
 * Atomically replaces dir/name with data[0..len). Returns SUIDO_OK,
 * SUIDO_ERR_FULL (ENOSPC/EDQUOT: nothing changed), or SUIDO_ERR_IO with
 * detail in err. The temporary file never survives a failure.
 */
int fsutil_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			char *err, size_t errlen);

/* fsyncs the directory at path. SUIDO_OK or SUIDO_ERR_IO. */
int fsutil_fsync_dir(const char *path, char *err, size_t errlen);

/*
 * Renames from_dir/from_name to to_dir/to_name and fsyncs both directories.
 * SUIDO_OK or SUIDO_ERR_IO.
 */
int fsutil_move(const char *from_dir, const char *from_name, const char *to_dir,
		const char *to_name, char *err, size_t errlen);

/* Creates dir (and parents) with mode 0750 when missing. SUIDO_OK or _IO. */
int fsutil_mkdirs(const char *dir, char *err, size_t errlen);

/*
 * Reads the regular file dir/name (no symlinks followed) into a malloc'ed
 * buffer (caller frees), NUL-terminated. SUIDO_ERR_LIMIT when it is larger
 * than max bytes (*len then holds its size), SUIDO_ERR_NOTFOUND when gone,
 * SUIDO_ERR_INVALID when not a regular file, SUIDO_ERR_IO otherwise.
 */
int fsutil_read_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
		     char *err, size_t errlen);

/* fsutil_read_file of a path "dir/name", "/name" or "name" (in the working
 * directory); SUIDO_ERR_INVALID also for a directory part too long. */
int fsutil_read_path(const char *path, size_t max, char **out, size_t *len, char *err,
		     size_t errlen);

#endif
