/*
 * What the gateway sends and when (seed 003 3.3, 定周期-データ送付): keeps up
 * to `window` unacknowledged messages in flight, in sequence order; resends a
 * message whose ack has not come within ack_timeout_ms, and everything
 * unacknowledged after each reconnect. The queue stays the only truth: the
 * sender's in-memory state is a cache that a restart or reconnect discards.
 */
#ifndef SUIDO_GATEWAY_SENDER_H
#define SUIDO_GATEWAY_SENDER_H

#include <stdint.h>

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

/* Handles an ack from the platform (call from the link's ack callback).
 * wall_ms is the wall-clock time recorded as the ack time. */
void sender_ack(struct sender *s, const char *msg_id, enum profile_ack_status st,
		const char *reason, int64_t wall_ms);

/* Messages published and not yet acknowledged on this connection. */
unsigned sender_inflight(const struct sender *s);

/* Counters since start. */
struct sender_counts {
	uint64_t published, resent, acked, duplicates, rejected_acks;
};
void sender_counts(const struct sender *s, struct sender_counts *out);

#endif
