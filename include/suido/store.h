/*
 * The platform's storage: utilities, gateways, the item master, measurement
 * points and the ids of received messages. One front (store_*) over
 * interchangeable backends given as const vtables (struct store_ops); SQLite
 * is the embedded default, PostgreSQL comes later behind the same contract.
 *
 * Tenant isolation: every query path takes the utility as a required
 * argument and only ever returns that utility's rows. Item ids are unique per
 * utility, never globally, so no lookup by item alone exists.
 *
 * Threads: a struct store is used by one thread at a time. The platform opens
 * one for ingest and one per HTTP worker; backends allow that concurrency.
 */
#ifndef SUIDO_STORE_H
#define SUIDO_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct store_item {
	const char *id;       /* unique within the utility */
	const char *name;
	const char *unit;     /* "" when none */
	const char *facility; /* "" when none */
};

struct store_point {
	int64_t t_ms;     /* UTC milliseconds */
	double v;         /* the value when text is NULL (NaN when stored as NaN) */
	const char *text; /* NULL for a number; else the text value (borrowed) */
};

/* A deposited file (the file store, seed 000 ファイル蓄積): its metadata. */
struct store_file {
	const char *id;        /* 32 lowercase hex digits, unique within the utility */
	const char *name;      /* base name as deposited (untrusted, checked by the caller) */
	int64_t size;          /* bytes of the content */
	const char *sha256;    /* 64 lowercase hex digits of the content */
	const char *sender;    /* "gateway:<id>" or "application:<id>" */
	int64_t received_ms;
};

/* Query callbacks: strings are borrowed for the call only. Return 0 to go
 * on, nonzero to stop (the query then returns SUIDO_OK). */
typedef int (*store_item_fn)(void *ctx, const struct store_item *item);
typedef int (*store_point_fn)(void *ctx, const struct store_point *p);
/* The signed original of a message: data[len], borrowed for the call only. */
typedef void (*store_original_fn)(void *ctx, const void *data, size_t len);
/* A gateway's state change (monitoring): strings borrowed for the call. */
struct store_gateway_event {
	const char *gateway;
	int64_t t_ms;
	const char *from, *to; /* state names */
	const char *reason;
};
typedef int (*store_event_fn)(void *ctx, const struct store_gateway_event *e);
/* A message seq; return as store_item_fn. */
typedef int (*store_seq_fn)(void *ctx, uint64_t seq);
/* A file's metadata; return as store_item_fn. */
typedef int (*store_file_fn)(void *ctx, const struct store_file *f);

struct store_ops {
	const char *name;
	void (*close)(void *impl);
	int (*begin)(void *impl);
	int (*commit)(void *impl);
	int (*rollback)(void *impl);
	int (*put_utility)(void *impl, const char *utility, const char *name);
	int (*put_gateway)(void *impl, const char *utility, const char *gateway);
	int (*gateway_utility)(void *impl, const char *gateway, char *utility, size_t len);
	int (*put_message)(void *impl, const char *utility, const char *gateway,
			   const char *msg_id, int64_t received_ms, size_t n_points,
			   const void *original, size_t original_len);
	int (*get_original)(void *impl, const char *utility, const char *msg_id,
			    store_original_fn fn, void *ctx);
	int (*put_item)(void *impl, const char *utility, const struct store_item *item,
			int64_t *item_key);
	int (*put_point)(void *impl, int64_t item_key, int64_t t_ms, double v);
	int (*put_text)(void *impl, int64_t item_key, int64_t t_ms, const char *text);
	int (*list_items)(void *impl, const char *utility, store_item_fn fn, void *ctx);
	int (*get_item)(void *impl, const char *utility, const char *item, store_item_fn fn,
			void *ctx);
	int (*values)(void *impl, const char *utility, const char *item, int64_t from_ms,
		      int64_t to_ms, size_t limit, store_point_fn fn, void *ctx);
	int (*latest)(void *impl, const char *utility, const char *item, store_point_fn fn,
		      void *ctx);
	int (*integrity_check)(void *impl, char *err, size_t errlen);
	int (*count_points)(void *impl, const char *utility, int64_t *out);
	int (*put_file)(void *impl, const char *utility, const struct store_file *f,
			const void *content, size_t len, const void *original, size_t olen);
	int (*list_files)(void *impl, const char *utility, store_file_fn fn, void *ctx);
	int (*get_file)(void *impl, const char *utility, const char *id, store_file_fn meta,
			store_original_fn content, store_original_fn original, void *ctx);
	int (*put_gateway_event)(void *impl, const char *utility,
				 const struct store_gateway_event *e);
	int (*list_gateway_events)(void *impl, const char *utility, const char *gateway,
				   size_t limit, store_event_fn fn, void *ctx);
	int (*recent_seqs)(void *impl, const char *utility, const char *gateway, int64_t epoch,
			   size_t limit, store_seq_fn fn, void *ctx);
};

/* The SQLite backend (store_sqlite.c). */
extern const struct store_ops store_sqlite_ops;

/*
 * Opens (creating if needed) the SQLite database at path: WAL journal,
 * synchronous=FULL, foreign keys on, schema created or checked (a database
 * from a newer schema version is refused). Returns SUIDO_OK and *out (caller
 * closes with store_close), or SUIDO_ERR_DB / _IO / _NOMEM with detail in err.
 */
int store_open_sqlite(const char *path, struct store **out, char *err, size_t errlen);

/* Closes and frees; tolerates NULL. An open transaction is rolled back. */
void store_close(struct store *s);

/* Backend name ("sqlite"). */
const char *store_backend(const struct store *s);

/* Transactions. begin/commit/rollback return SUIDO_OK or SUIDO_ERR_DB;
 * SUIDO_ERR_FULL when the disk is full. Every put_* below must run inside one. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* Registers (or renames) a utility; idempotent. */
int store_put_utility(struct store *s, const char *utility, const char *name);

/* Registers a gateway owned by utility; idempotent. SUIDO_ERR_EXISTS when the
 * gateway is registered to another utility. */
int store_put_gateway(struct store *s, const char *utility, const char *gateway);

/* Copies the utility owning gateway into utility[len]; SUIDO_ERR_NOTFOUND. */
int store_gateway_utility(struct store *s, const char *gateway, char *utility, size_t len);

/*
 * Records a received message id (unique over the whole store, forever) and,
 * when original is not NULL, its signed original original[original_len] as
 * received (for a sealed gateway: the verified JWS compact serialization, so
 * the stored values can be verified again later; NULL for a plaintext one).
 * SUIDO_OK, SUIDO_ERR_EXISTS when the id was stored before (a resend: the
 * caller answers "duplicate" and stores nothing else), SUIDO_ERR_NOTFOUND
 * when gateway is not registered to utility.
 */
int store_put_message(struct store *s, const char *utility, const char *gateway,
		      const char *msg_id, int64_t received_ms, size_t n_points,
		      const void *original, size_t original_len);

/*
 * Calls fn once with the signed original stored with message msg_id of
 * utility. SUIDO_ERR_NOTFOUND when utility has no such message (another
 * utility's message is not found either) or it was stored without one.
 */
int store_get_original(struct store *s, const char *utility, const char *msg_id,
		       store_original_fn fn, void *ctx);

/* Inserts or updates (name, unit, facility) an item of utility; *item_key
 * receives the backend key to pass to store_put_point. */
int store_put_item(struct store *s, const char *utility, const struct store_item *item,
		   int64_t *item_key);

/* Stores a point; a second point for the same item and instant replaces it
 * (whether number or text). */
int store_put_point(struct store *s, int64_t item_key, int64_t t_ms, double v);

/* Stores a text point (a status word, a masked token; text is copied, at most
 * PROFILE_VALUE_TEXT_MAX bytes by the ingest's decoder), replacing as above. */
int store_put_text(struct store *s, int64_t item_key, int64_t t_ms, const char *text);

/* Calls fn for each item of utility, ordered by id. SUIDO_OK or _DB. */
int store_list_items(struct store *s, const char *utility, store_item_fn fn, void *ctx);

/* Calls fn once for item of utility; SUIDO_ERR_NOTFOUND when there is none. */
int store_get_item(struct store *s, const char *utility, const char *item, store_item_fn fn,
		   void *ctx);

/*
 * Calls fn for the points of utility's item with from_ms <= t < to_ms in
 * ascending time order, at most limit of them (0 = no limit).
 * SUIDO_ERR_NOTFOUND when the item does not exist for that utility.
 */
int store_values(struct store *s, const char *utility, const char *item, int64_t from_ms,
		 int64_t to_ms, size_t limit, store_point_fn fn, void *ctx);

/* Calls fn once with the newest point of the item (fn's return value is
 * ignored); SUIDO_ERR_NOTFOUND when no item or no point. */
int store_latest(struct store *s, const char *utility, const char *item, store_point_fn fn,
		 void *ctx);

/* Runs the backend's integrity check; SUIDO_OK or SUIDO_ERR_DB with detail. */
int store_integrity_check(struct store *s, char *err, size_t errlen);

/* Number of points stored for utility. */
int store_count_points(struct store *s, const char *utility, int64_t *out);

/*
 * The file store. store_put_file records file f of utility with its content
 * content[len] and the sealed original[olen] as received (kept so that the
 * sender's signature can be verified again later), inside a transaction.
 * SUIDO_OK; SUIDO_ERR_EXISTS when utility already has a file with f->id (a
 * resend of the same deposit: the caller answers as for the first one);
 * SUIDO_ERR_NOTFOUND for an unknown utility; SUIDO_ERR_FULL; SUIDO_ERR_DB.
 */
int store_put_file(struct store *s, const char *utility, const struct store_file *f,
		   const void *content, size_t len, const void *original, size_t olen);

/* Calls fn for each file of utility, newest first. SUIDO_OK or _DB. */
int store_list_files(struct store *s, const char *utility, store_file_fn fn, void *ctx);

/*
 * Calls meta (may be NULL), then content (may be NULL) with the file's
 * bytes, then original (may be NULL) with the sealed original, for file id
 * of utility. SUIDO_ERR_NOTFOUND when utility has no such file (another
 * utility's file is not found either).
 */
int store_get_file(struct store *s, const char *utility, const char *id, store_file_fn meta,
		   store_original_fn content, store_original_fn original, void *ctx);

/*
 * Calls fn with the seqs of the newest limit messages stored from utility's
 * gateway in epoch (parsed from their ids "{gateway}:{epoch}:{seq}"; messages
 * stored before schema version 6 have none), highest first. SUIDO_OK or _DB.
 */
int store_recent_seqs(struct store *s, const char *utility, const char *gateway, int64_t epoch,
		      size_t limit, store_seq_fn fn, void *ctx);

/* Keeps a gateway's state change (append-only; in its own transaction when
 * none is open). SUIDO_OK, SUIDO_ERR_NOTFOUND (gateway not registered to
 * utility), _FULL, _DB. */
int store_put_gateway_event(struct store *s, const char *utility,
			    const struct store_gateway_event *e);

/* Calls fn for the newest limit (1..10,000) events of utility's gateway,
 * newest first. SUIDO_OK (none is no error) or _DB. */
int store_list_gateway_events(struct store *s, const char *utility, const char *gateway,
			      size_t limit, store_event_fn fn, void *ctx);

#endif
