/*
 * Internals of the store module shared between its front (store.c) and its
 * backends (store_sqlite.c, later store_pg.c); nothing outside lib/store*.c
 * includes this. Each backend provides its const ops table (store.h) and an
 * open function returning its private handle, which the front wraps.
 */
#ifndef SUIDO_STORE_INT_H
#define SUIDO_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

/* Opens the SQLite backend's handle for path (see store_open_sqlite).
 * Returns SUIDO_OK and *impl (closed with store_sqlite_ops.close), or
 * SUIDO_ERR_DB / _IO / _NOMEM with detail in err. */
int store_sqlite_open(const char *path, void **impl, char *err, size_t errlen);

/* Maps a failed SQLite call (rc) on db to the library's codes, logging the
 * engine's message under what: SUIDO_ERR_FULL, _NOMEM or _DB. */
int store_sqlite_fail(sqlite3 *db, int rc, const char *what);

#endif
