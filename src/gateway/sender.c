/*
 * The in-flight window of the gateway (sender.h).
 */
#include "sender.h"

#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/log.h"

struct flight {
	uint64_t seq;
	int64_t sent_ms;
};

struct sender {
	struct queue *q;
	struct link *l;
	const struct gwseal *seal;
	unsigned window;
	int64_t ack_timeout_ms;
	struct flight *fl; /* window slots, unordered */
	unsigned n;
	uint64_t last_seq;   /* highest seq published on this connection */
	uint64_t generation; /* link generation the state belongs to */
	struct sender_counts counts;
};

struct sender *sender_new(struct queue *q, struct link *l, const struct gwseal *seal,
			  unsigned window, int64_t ack_timeout_ms)
{
	struct sender *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->fl = calloc(window, sizeof *s->fl);
	if (!s->fl) {
		free(s);
		return NULL;
	}
	s->q = q;
	s->l = l;
	s->seal = seal;
	s->window = window;
	s->ack_timeout_ms = ack_timeout_ms;
	return s;
}

void sender_free(struct sender *s)
{
	if (!s)
		return;
	free(s->fl);
	free(s);
}

static int publish(struct sender *s, uint64_t seq, struct queue_msg *preloaded)
{
	struct queue_msg m;
	int rc = SUIDO_OK;

	if (preloaded)
		m = *preloaded;
	else if ((rc = queue_get_message(s->q, seq, &m)) != SUIDO_OK)
		return rc;
	if (s->seal) {
		char *token = NULL, err[256];
		size_t toklen = 0;
		rc = gwseal_seal(s->seal, m.payload, m.len, &token, &toklen, err, sizeof err);
		if (rc == SUIDO_OK) {
			rc = link_publish_data(s->l, token, toklen);
		} else {
			/* Not sent, but counted as in flight: it is tried again after
			 * the ack timeout instead of in a tight loop. */
			log_error("sender", "sealing message seq %llu failed: %s",
				  (unsigned long long)m.seq, err);
			rc = SUIDO_OK;
		}
		free(token);
	} else {
		rc = link_publish_data(s->l, m.payload, m.len);
	}
	free(m.payload);
	return rc;
}

int sender_step(struct sender *s, int64_t now_ms)
{
	int rc;

	if (!link_connected(s->l))
		return SUIDO_OK;
	if (s->generation != link_generation(s->l)) {
		/* New connection: whatever was in flight may be lost; start over
		 * from the oldest unacknowledged message. */
		s->generation = link_generation(s->l);
		s->n = 0;
		s->last_seq = 0;
	}
	for (unsigned i = 0; i < s->n; i++) {
		if (now_ms - s->fl[i].sent_ms < s->ack_timeout_ms)
			continue;
		rc = publish(s, s->fl[i].seq, NULL);
		if (rc == SUIDO_ERR_NOTFOUND) {
			/* acknowledged meanwhile and purged: drop the slot */
			s->fl[i--] = s->fl[--s->n];
			continue;
		}
		if (rc != SUIDO_OK)
			return rc;
		log_info("sender", "no ack within %lld ms: resent seq %llu",
			 (long long)s->ack_timeout_ms, (unsigned long long)s->fl[i].seq);
		s->fl[i].sent_ms = now_ms;
		s->counts.resent++;
	}
	while (s->n < s->window) {
		struct queue_msg m;
		rc = queue_next_unacked(s->q, s->last_seq, &m);
		if (rc == SUIDO_ERR_NOTFOUND)
			break;
		if (rc != SUIDO_OK)
			return rc;
		rc = publish(s, m.seq, &m);
		if (rc != SUIDO_OK)
			return SUIDO_OK; /* connection dropped: the next generation resends */
		s->fl[s->n].seq = m.seq;
		s->fl[s->n].sent_ms = now_ms;
		s->n++;
		s->last_seq = m.seq;
		s->counts.published++;
	}
	return SUIDO_OK;
}

void sender_ack(struct sender *s, const char *msg_id, enum profile_ack_status st,
		const char *reason, int64_t wall_ms)
{
	uint64_t seq = 0;
	int rc;

	if (st == PROFILE_ACK_REJECTED) {
		/* The platform refused it. Keep it: dropping would lose data; it is
		 * resent after the ack timeout, and an operator sees this line. */
		if (*msg_id)
			log_error("sender", "platform rejected %s: %s", msg_id, reason);
		else /* refused before its id could be read: cannot be matched */
			log_error("sender", "platform rejected a message of ours without naming "
					    "it: %s", reason);
		s->counts.rejected_acks++;
		return;
	}
	rc = queue_ack(s->q, msg_id, wall_ms, &seq);
	if (rc == SUIDO_OK) {
		s->counts.acked++;
		if (st == PROFILE_ACK_DUPLICATE)
			s->counts.duplicates++;
	} else if (rc != SUIDO_ERR_EXISTS && rc != SUIDO_ERR_NOTFOUND) {
		log_error("sender", "recording ack of %s failed: %s", msg_id, suido_strerror(rc));
		return; /* not recorded: the message is resent and acked again */
	}
	for (unsigned i = 0; i < s->n; i++) {
		if (s->fl[i].seq == seq) {
			s->fl[i] = s->fl[--s->n];
			break;
		}
	}
}

unsigned sender_inflight(const struct sender *s)
{
	return s->n;
}

void sender_counts(const struct sender *s, struct sender_counts *out)
{
	*out = s->counts;
}
