/*
 * The gateway's primary data store (seed 003 section 5, 一次データ蓄積): a
 * SQLite database (WAL, synchronous=FULL) holding every accepted point until
 * the platform has acknowledged the message that carried it, and then for a
 * retention period so a resend can still be served.
 *
 * Life of a point: queue_intake_point() inside one transaction per file
 * (committed with the file's record and receipt) -> queue_make_message()
 * moves the oldest pending points into one encoded message with the next
 * sequence number, atomically -> the sender publishes it, as often as needed
 * -> queue_ack() marks it acknowledged -> after the retention period
 * archive.c writes it to an archive file and queue_archive_commit() indexes
 * that file and drops it from the queue (データ退避).
 *
 * Message ids are "{gateway}:{epoch}:{seq}"; epoch is fixed when the database
 * is created and seq only grows, so an id is never reused.
 * A struct queue is used by one thread.
 */
#ifndef SUIDO_GATEWAY_QUEUE_H
#define SUIDO_GATEWAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "suido/mapping.h"
#include "suido/profile.h"

struct queue;

/*
 * Opens or creates the queue at path for gateway (whose utility is utility;
 * both are copied into every message). SUIDO_OK and *out (close with
 * queue_close), or SUIDO_ERR_DB / _IO / _NOMEM with detail in err. A queue
 * created for another gateway is refused (SUIDO_ERR_CONFIG).
 */
int queue_open(const char *path, const char *utility, const char *gateway, struct queue **out,
	       char *err, size_t errlen);
void queue_close(struct queue *q);

int64_t queue_epoch(const struct queue *q);

/* What the queue remembers of a file it took. */
struct queue_file {
	char sha256[65];
	char name[256];
	int64_t received_ms;
	char *receipt; /* the receipt JSON; owned, free with free() */
};

/*
 * Looks a file up by content hash. SUIDO_OK fills *out, SUIDO_ERR_NOTFOUND
 * when never taken, SUIDO_ERR_DB.
 */
int queue_file_lookup(struct queue *q, const char *sha256_hex, struct queue_file *out);

/* Starts the transaction that takes one file. SUIDO_OK or SUIDO_ERR_DB/_FULL. */
int queue_intake_begin(struct queue *q);

/* Adds a point inside the intake transaction. SUIDO_OK, _DB, _FULL, _NOMEM;
 * SUIDO_ERR_INVALID for a NaN or infinite v (the data profile has neither). */
int queue_intake_point(struct queue *q, const struct mapping_item *item, int64_t t_ms, double v);

/* Adds a text point text[len] (copied; UTF-8 without NUL, at most
 * PROFILE_VALUE_TEXT_MAX bytes: the caller checks) inside the intake
 * transaction. As above. */
int queue_intake_text(struct queue *q, const struct mapping_item *item, int64_t t_ms,
		      const char *text, size_t len);

/*
 * Records the file (hash, name, receipt text) and commits everything added
 * since queue_intake_begin. SUIDO_OK, or an error after which nothing of the
 * file is in the queue (the transaction was rolled back).
 */
int queue_intake_commit(struct queue *q, const char *sha256_hex, const char *name,
			int64_t received_ms, const char *receipt);

/* Rolls back the intake transaction; tolerates none being open. */
void queue_intake_abort(struct queue *q);

/*
 * Moves up to max_points of the oldest pending points into a new message
 * stamped now_ms. *made is 1 when a message was made, 0 when nothing was
 * pending. SUIDO_OK, _DB, _FULL, _NOMEM.
 */
int queue_make_message(struct queue *q, size_t max_points, int64_t now_ms, int *made);

/*
 * queue_make_message up to max_msgs times in one transaction (one commit for
 * the lot): *made receives how many messages were made (0 when nothing was
 * pending). On an error while making one, the ones made before it are kept
 * (committed, counted in *made) and the error is returned; on a failed
 * commit none is. Same returns.
 */
int queue_make_messages(struct queue *q, size_t max_points, size_t max_msgs, int64_t now_ms,
			size_t *made);

struct queue_msg {
	uint64_t seq;
	char id[PROFILE_ID_MAX + 1];
	char *payload; /* owned, free with free() */
	size_t len;
	size_t n_points;
};

/*
 * The unacknowledged message with the smallest seq greater than after_seq.
 * SUIDO_OK fills *out, SUIDO_ERR_NOTFOUND when there is none, SUIDO_ERR_DB.
 */
int queue_next_unacked(struct queue *q, uint64_t after_seq, struct queue_msg *out);

/* Loads message seq (acked or not). SUIDO_OK, _NOTFOUND, _DB. */
int queue_get_message(struct queue *q, uint64_t seq, struct queue_msg *out);

/*
 * The held message (acknowledged or not) with the smallest seq greater than
 * after_seq. SUIDO_OK fills *out, SUIDO_ERR_NOTFOUND when there is none,
 * SUIDO_ERR_DB. (Resend requests: what lies between after_seq and out->seq
 * was purged.)
 */
int queue_next_message(struct queue *q, uint64_t after_seq, struct queue_msg *out);

/* The seq the next message made will get (one more than the last made). */
uint64_t queue_next_seq(const struct queue *q);

/*
 * Marks the message with this id acknowledged at now_ms. *seq receives its
 * seq. SUIDO_OK, SUIDO_ERR_NOTFOUND (not ours, or already purged),
 * SUIDO_ERR_EXISTS (acknowledged before), SUIDO_ERR_DB.
 */
int queue_ack(struct queue *q, const char *msg_id, int64_t now_ms, uint64_t *seq);

/* One ack to record with queue_ack_many. */
struct queue_ack_rec {
	uint64_t seq;
	int64_t acked_ms;
	int duplicate; /* the caller's: the platform answered "duplicate" */
	int fresh;     /* out: 1 when this marked the message acknowledged */
};

/*
 * Marks the messages acks[i].seq acknowledged at acks[i].acked_ms, in one
 * transaction; a message already acknowledged, purged, or not in the queue
 * is left as it is (fresh = 0). SUIDO_OK, or SUIDO_ERR_DB / _FULL after
 * which nothing was recorded.
 */
int queue_ack_many(struct queue *q, struct queue_ack_rec *acks, size_t n);

struct queue_stats {
	int64_t pending_points;  /* accepted, not yet in a message */
	int64_t unacked_msgs;
	int64_t unacked_points;
	int64_t acked_msgs;      /* kept for resends */
	int64_t oldest_unacked_ms; /* creation time of the oldest unacked message, 0 if none */
	int64_t files;
};

int queue_stats(struct queue *q, struct queue_stats *out);

/*
 * The most recently taken file: its name (truncated to namelen) and when it
 * was received. SUIDO_OK, SUIDO_ERR_NOTFOUND (none taken yet: name "" and
 * *received_ms 0), SUIDO_ERR_DB.
 */
int queue_last_file(struct queue *q, char *name, size_t namelen, int64_t *received_ms);

/* When the last acknowledgement still held was recorded (wall ms), 0 when
 * none is held. -1 on a database error. */
int64_t queue_last_ack_ms(struct queue *q);

/*
 * What the platform last commanded (docs/protocol.md "Commands"), kept in
 * the meta table so that a restart keeps it and a replayed older command
 * is refused after a restart too. A fresh queue has cmd_seq 0, sending
 * QUEUE_SENDING_UNSET and interval_s 0.
 */
enum queue_sending {
	QUEUE_SENDING_UNSET = 0, /* no start or stop applied yet: [send] start decides */
	QUEUE_SENDING_ON,        /* a start was applied last */
	QUEUE_SENDING_OFF,       /* a stop was applied last */
};

struct queue_control {
	int64_t cmd_seq;          /* seq of the last command applied, 0 if none */
	enum queue_sending sending;
	int64_t interval_s;       /* of the last start applied, 0 if none */
};

/* Reads the control state. SUIDO_OK or SUIDO_ERR_DB. */
int queue_control_get(struct queue *q, struct queue_control *out);

/*
 * Replaces the control state in one durable transaction, only if
 * c->cmd_seq is greater than the stored one. SUIDO_OK, SUIDO_ERR_EXISTS (the
 * stored seq is not smaller: nothing written), SUIDO_ERR_DB / _FULL.
 */
int queue_control_set(struct queue *q, const struct queue_control *c);

/* Deletes acknowledged messages acknowledged before older_than_ms, without
 * archiving them. *n receives how many. SUIDO_OK or _DB. (The gateway
 * evacuates them with archive_evacuate instead.) */
int queue_purge_acked(struct queue *q, int64_t older_than_ms, int64_t *n);

/* The gateway id the queue belongs to (borrowed for the queue's life). */
const char *queue_gateway(const struct queue *q);

/* A held message as it is evacuated; everything borrowed for the call. */
struct queue_held {
	uint64_t seq;
	char id[PROFILE_ID_MAX + 1];
	int64_t created_ms;
	int64_t acked_ms;
	size_t n_points;
	const char *payload;
	size_t len;
};

/*
 * Calls each(ctx, m) for the next messages to evacuate: starting at the
 * smallest seq acknowledged before older_than_ms, every held message in seq
 * order, stopping before the first one that is not acknowledged before
 * older_than_ms (so a range first..last never straddles a message that
 * stays, and the ranges of two archive files never overlap), after max_msgs
 * messages, or once max_bytes of payload were passed (at least one message).
 * *n, *first, *last receive how many were passed and their seq range (0 when
 * none). An each() result other than SUIDO_OK stops and is returned.
 * SUIDO_OK, _DB, or each's error.
 */
int queue_evacuable(struct queue *q, int64_t older_than_ms, size_t max_msgs, size_t max_bytes,
		    int (*each)(void *ctx, const struct queue_held *m), void *ctx, size_t *n,
		    uint64_t *first, uint64_t *last);

/* One row of the archive index. */
struct queue_archive {
	char file[128];       /* name inside the archive directory */
	uint64_t first_seq, last_seq;
	int64_t n_msgs;       /* messages in the file (seqs of the range not in it were
			       * never held when it was written) */
	int64_t bytes;        /* size of the file */
	char sha256[65];      /* of the file, hex */
	int64_t created_ms;   /* when it was written */
};

/*
 * Indexes archive a (already durable on disk) and deletes the messages it
 * holds (seq first..last acknowledged before older_than_ms) in one
 * transaction. SUIDO_OK; SUIDO_ERR_INVALID when that is not a->n_msgs
 * messages (nothing changed); _DB, _FULL (nothing changed).
 */
int queue_archive_commit(struct queue *q, const struct queue_archive *a, int64_t older_than_ms);

/* The indexed archive with the smallest first_seq whose range meets
 * from_seq..to_seq. SUIDO_OK fills *out, SUIDO_ERR_NOTFOUND, SUIDO_ERR_DB. */
int queue_archive_find(struct queue *q, uint64_t from_seq, uint64_t to_seq,
		       struct queue_archive *out);

/* The index row of file. SUIDO_OK, SUIDO_ERR_NOTFOUND, SUIDO_ERR_DB. */
int queue_archive_get(struct queue *q, const char *file, struct queue_archive *out);

/* The oldest archive written before created_before_ms. As above. */
int queue_archive_oldest(struct queue *q, int64_t created_before_ms, struct queue_archive *out);

/* Removes file from the index (durably; the file itself is the caller's).
 * SUIDO_OK, _DB, _FULL. */
int queue_archive_forget(struct queue *q, const char *file);

/* Archive files indexed, -1 on a database error. */
int64_t queue_archive_count(struct queue *q);

/* Bytes the queue takes on disk (database and WAL), -1 when unknown. */
int64_t queue_disk_bytes(struct queue *q);

#endif
