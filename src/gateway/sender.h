/*
 * What the gateway sends and when (seed 003 3.3, 定周期-データ送付): keeps up
 * to `window` unacknowledged messages in flight, in sequence order; resends a
 * message whose ack has not come within ack_timeout_ms, and everything
 * unacknowledged after each reconnect. The queue stays the only truth: the
 * sender's in-memory state is a cache that a restart or reconnect discards.
 *
 * The platform steers it (docs/protocol.md "Commands"): while sending is
 * off nothing is published, not even a resend after a timeout (acks are
 * still recorded). A resend request publishes the held messages of a seq
 * range again, acknowledged or not, in order, once each: it never takes
 * more than half of the window (at least one slot), so the normal sending
 * keeps at least the other half and is not starved; a resend that is not
 * acknowledged within ack_timeout_ms frees its slot and is not repeated
 * (the platform asks again if it still misses it). Resend requests are
 * served while sending is off too: the platform asked for them explicitly.
 * They live in memory only: a restart drops what is left of them. Messages
 * already evacuated from the queue (archive.h) are served from their
 * archive file, streamed, when an archive is set.
 */
#ifndef SUIDO_GATEWAY_SENDER_H
#define SUIDO_GATEWAY_SENDER_H

#include <stdint.h>

#include "archive.h"
#include "gwseal.h"
#include "link.h"
#include "queue.h"

struct sender;

/* queue, link and seal are borrowed for the sender's life. seal NULL: messages
 * go out as the queue holds them (plaintext); otherwise each publish, first
 * send and resend alike, is sealed anew. NULL on allocation failure. */
struct sender *sender_new(struct queue *q, struct link *l, const struct gwseal *seal,
			  unsigned window, int64_t ack_timeout_ms);
void sender_free(struct sender *s);

/* Publishes what is due at now_ms (monotonic). Returns SUIDO_OK or the queue's
 * error (the caller logs it and goes on; nothing is lost). */
int sender_step(struct sender *s, int64_t now_ms);

/* Handles an ack from the platform (call from the link's ack callback):
 * frees the message's window slot at once and keeps the ack for
 * sender_flush_acks, which records it in the queue. wall_ms is the
 * wall-clock time recorded as the ack time. */
void sender_ack(struct sender *s, const char *msg_id, enum profile_ack_status st,
		const char *reason, int64_t wall_ms);

/*
 * Records the acks kept since the last call in the queue, in one transaction
 * (call after each link_loop, and before freeing the sender). An ack lost to
 * a crash before this costs a resend that the platform answers "duplicate".
 * SUIDO_OK, or the queue's error (the acks are then dropped and logged: the
 * messages are resent and acked again).
 */
int sender_flush_acks(struct sender *s);

/* Turns the publishing of data messages on or off (start / stop). */
void sender_set_sending(struct sender *s, int on);

/* 1 while sending is on. */
int sender_sending(const struct sender *s);

#define SENDER_RESEND_RANGES 16 /* resend requests waiting at once */

/*
 * Queues a resend of the messages from_seq..to_seq (from <= to; the caller
 * bounds the range). Requests are served one after the other in the order
 * they came. SUIDO_OK, or SUIDO_ERR_LIMIT when SENDER_RESEND_RANGES are
 * already waiting (the request is dropped; the caller logs it).
 */
int sender_resend(struct sender *s, uint64_t from_seq, uint64_t to_seq);

/* Serves resend requests for evacuated messages from a (borrowed for the
 * sender's life; NULL: only what the queue holds). */
void sender_set_archive(struct sender *s, struct archive *a);

/* Messages published and not yet acknowledged on this connection (resends
 * requested by the platform included). */
unsigned sender_inflight(const struct sender *s);

/* Counters since start. resent: after an ack timeout or a reconnect;
 * requested: published again for a resend request (from_archive of them
 * read from an archive file); not_held: asked for by a resend request but
 * neither in the queue nor in a readable archive. */
struct sender_counts {
	uint64_t published, resent, acked, duplicates, rejected_acks, requested, not_held,
		from_archive;
};
void sender_counts(const struct sender *s, struct sender_counts *out);

#endif
