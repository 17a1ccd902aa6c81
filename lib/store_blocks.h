/*
 * The SQLite backend's point storage (internal to lib/store*.c): an item's
 * points live in blocks (ptblock.h), one row per block of up to
 * PTBLOCK_MAX_POINTS points, in the table
 *
 *   blocks(block_key INTEGER PRIMARY KEY, item_key, t0, t1, n, data)
 *   UNIQUE INDEX blocks_item(item_key, t0)
 *
 * Invariant: the blocks of one item never overlap in time (for two of them
 * one's t1 is below the other's t0), so a range read walks blocks_item in
 * order and the newest point is in the block with the greatest t0.
 *
 * Writes are buffered: blocks_add keeps points in memory, blocks_flush
 * writes them inside the caller's open transaction (the store flushes
 * before COMMIT and before any read on the same handle), grouped per item:
 * points after the item's last block extend that block or start new ones;
 * points that fall inside existing blocks are merged with them (a later
 * point for the same item and instant replaces the earlier one, whether
 * number or text). blocks_discard drops the buffer (on ROLLBACK).
 *
 * A struct blocks belongs to one store handle and is used by one thread.
 */
#ifndef SUIDO_STORE_BLOCKS_H
#define SUIDO_STORE_BLOCKS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "suido/store.h"

#define BLOCKS_SQL                                                                         \
	"CREATE TABLE blocks("                                                             \
	" block_key INTEGER PRIMARY KEY,"                                                  \
	" item_key INTEGER NOT NULL,"                                                      \
	" t0 INTEGER NOT NULL,"                                                            \
	" t1 INTEGER NOT NULL,"                                                            \
	" n INTEGER NOT NULL,"                                                             \
	" data BLOB NOT NULL);"                                                            \
	"CREATE UNIQUE INDEX blocks_item ON blocks(item_key, t0);"

struct blocks;

/* Prepares the statements on db (whose schema has the blocks table).
 * SUIDO_OK and *out (free with blocks_close), SUIDO_ERR_DB / _NOMEM. */
int blocks_open(sqlite3 *db, struct blocks **out, char *err, size_t errlen);

/* Finalizes the statements and frees the buffer; tolerates NULL. */
void blocks_close(struct blocks *b);

/* Buffers a point of item_key: a number v when text is NULL, else the text
 * (NUL-terminated, copied; at most PTBLOCK_TEXT_MAX bytes). SUIDO_OK,
 * SUIDO_ERR_LIMIT (text too long), _NOMEM. Large buffers flush themselves
 * (then also SUIDO_ERR_DB / _FULL from the write). */
int blocks_add(struct blocks *b, int64_t item_key, int64_t t_ms, double v, const char *text);

/* Nonzero when points are buffered. */
int blocks_pending(const struct blocks *b);

/* Writes the buffered points (a transaction must be open) and empties the
 * buffer. SUIDO_OK, SUIDO_ERR_DB, _FULL, _NOMEM; on an error the buffer is
 * emptied too and the caller must roll back. */
int blocks_flush(struct blocks *b);

/* Drops the buffered points. */
void blocks_discard(struct blocks *b);

/* Calls fn for item_key's points with from_ms <= t < to_ms in ascending
 * time, at most limit (0 = no limit) of them; *n receives how many were
 * passed. Text is NUL-terminated and borrowed for the call. SUIDO_OK, or
 * SUIDO_ERR_DB (a damaged block is logged and reported as such). */
int blocks_values(struct blocks *b, int64_t item_key, int64_t from_ms, int64_t to_ms,
		  size_t limit, store_point_fn fn, void *ctx, size_t *n);

/* Calls fn once with item_key's newest point. SUIDO_OK, SUIDO_ERR_NOTFOUND
 * (no point), SUIDO_ERR_DB. */
int blocks_latest(struct blocks *b, int64_t item_key, store_point_fn fn, void *ctx);

/* Decodes every block of the database and checks it against its row and
 * its neighbours (no overlap). SUIDO_OK, or SUIDO_ERR_DB with detail. */
int blocks_check(sqlite3 *db, char *err, size_t errlen);

/* Schema step 6 -> 7, inside the migration's transaction: creates the blocks
 * table, moves every row of the old points table into blocks and drops it.
 * SUIDO_OK, SUIDO_ERR_DB / _FULL / _NOMEM with detail. */
int blocks_migrate_points(sqlite3 *db, char *err, size_t errlen);

#endif
