/*
 * The in-flight window of the gateway (sender.h).
 */
#include "sender.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/log.h"

struct flight {
	uint64_t seq;
	int64_t sent_ms;
	int resend; /* published for a resend request: not repeated on timeout */
};

/* A resend request being served: next..to remain. */
struct resend_range {
	uint64_t from, to, next;
	uint64_t published, not_held;
};

struct sender {
	struct queue *q;
	struct archive *archive; /* or NULL */
	struct link *l;
	const struct gwseal *seal;
	unsigned window;
	int64_t ack_timeout_ms;
	struct flight *fl; /* window slots, unordered */
	unsigned n;
	uint64_t last_seq;   /* highest seq published on this connection */
	uint64_t generation; /* link generation the state belongs to */
	int sending;
	struct resend_range rr[SENDER_RESEND_RANGES]; /* FIFO, rr[0] served */
	unsigned n_rr;
	unsigned n_resend;   /* slots of fl[] holding resends */
	unsigned resend_cap; /* at most this many resends in flight: half the window */
	int turn_resend;     /* fresh data and resends take free slots in turn */
	struct sender_counts counts;
	/* acks received, not yet recorded in the queue (sender_flush_acks) */
	struct queue_ack_rec *acks;
	size_t n_acks, cap_acks;
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
	s->resend_cap = window / 2 ? window / 2 : 1;
	s->sending = 1;
	return s;
}

void sender_free(struct sender *s)
{
	if (!s)
		return;
	free(s->acks);
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

void sender_set_sending(struct sender *s, int on)
{
	s->sending = on != 0;
}

int sender_sending(const struct sender *s)
{
	return s->sending;
}

void sender_set_archive(struct sender *s, struct archive *a)
{
	s->archive = a;
}

int sender_resend(struct sender *s, uint64_t from_seq, uint64_t to_seq)
{
	struct resend_range *r;

	assert(from_seq >= 1 && from_seq <= to_seq);
	if (s->n_rr == SENDER_RESEND_RANGES)
		return SUIDO_ERR_LIMIT;
	r = &s->rr[s->n_rr++];
	memset(r, 0, sizeof *r);
	r->from = from_seq;
	r->to = to_seq;
	r->next = from_seq;
	return SUIDO_OK;
}

static void range_not_held(struct sender *s, struct resend_range *r, uint64_t a, uint64_t b)
{
	log_warn("sender", "resend: seq %llu..%llu not held (neither in the queue nor in an "
			   "archive): not sent again",
		 (unsigned long long)a, (unsigned long long)b);
	r->not_held += b - a + 1;
	s->counts.not_held += b - a + 1;
}

static void range_done(struct sender *s)
{
	struct resend_range *r = &s->rr[0];

	log_info("sender", "resend of seq %llu..%llu done: %llu published again, %llu not held",
		 (unsigned long long)r->from, (unsigned long long)r->to,
		 (unsigned long long)r->published, (unsigned long long)r->not_held);
	memmove(&s->rr[0], &s->rr[1], (s->n_rr - 1) * sizeof *s->rr);
	s->n_rr--;
}

static void add_flight(struct sender *s, uint64_t seq, int64_t now_ms, int resend)
{
	s->fl[s->n].seq = seq;
	s->fl[s->n].sent_ms = now_ms;
	s->fl[s->n].resend = resend;
	s->n++;
	s->n_resend += resend != 0;
}

static void drop_flight(struct sender *s, unsigned i)
{
	s->n_resend -= s->fl[i].resend != 0;
	s->fl[i] = s->fl[--s->n];
}

/* One fresh message (the next unacknowledged one) into the window: 1 when
 * published, 0 when nothing to do, -1 with *rc on an error. */
static int step_fresh(struct sender *s, int64_t now_ms, int *rc)
{
	struct queue_msg m;

	if (!s->sending || s->n >= s->window)
		return 0;
	*rc = queue_next_unacked(s->q, s->last_seq, &m);
	if (*rc == SUIDO_ERR_NOTFOUND) {
		*rc = SUIDO_OK;
		return 0;
	}
	if (*rc != SUIDO_OK)
		return -1;
	if (publish(s, m.seq, &m) != SUIDO_OK) {
		*rc = SUIDO_OK; /* connection dropped: the next generation resends */
		return -1;
	}
	add_flight(s, m.seq, now_ms, 0);
	s->turn_resend = 1;
	s->last_seq = m.seq;
	s->counts.published++;
	return 1;
}

/*
 * The held message with the smallest seq in r->next..r->to, from the queue
 * or, for what was evacuated, from an archive. SUIDO_OK fills *m,
 * SUIDO_ERR_NOTFOUND when none, or the queue's error. A missing or corrupt
 * archive is logged here and its range counts as not held.
 */
static int next_held(struct sender *s, struct resend_range *r, struct queue_msg *m)
{
	struct queue_msg am;
	uint64_t from = r->next, hi, bad_last;
	char err[512];
	int rc = queue_next_message(s->q, r->next - 1, m);

	if (rc == SUIDO_OK && m->seq > r->to) {
		free(m->payload);
		rc = SUIDO_ERR_NOTFOUND;
	}
	if ((rc != SUIDO_OK && rc != SUIDO_ERR_NOTFOUND) || !s->archive)
		return rc;
	/* Before the next one in the queue, an archive may hold some. */
	hi = rc == SUIDO_OK ? m->seq - 1 : r->to;
	while (from <= hi) {
		int arc = archive_next(s->archive, from, hi, &am, &bad_last, err, sizeof err);
		if (arc == SUIDO_OK) {
			if (rc == SUIDO_OK)
				free(m->payload);
			*m = am;
			s->counts.from_archive++;
			return SUIDO_OK;
		}
		if (arc == SUIDO_ERR_NOTFOUND)
			break;
		if (arc != SUIDO_ERR_INVALID) {
			if (rc == SUIDO_OK)
				free(m->payload);
			return arc;
		}
		log_error("sender", "resend: %s: seq %llu..%llu of it not sent again", err,
			  (unsigned long long)from,
			  (unsigned long long)(bad_last < hi ? bad_last : hi));
		if (bad_last >= hi)
			break;
		from = bad_last + 1;
	}
	return rc;
}

/* One message of the oldest resend request into the window; as step_fresh. */
static int step_resend(struct sender *s, int64_t now_ms, int *rc)
{
	struct queue_msg m;

	while (s->n_rr && s->n < s->window && s->n_resend < s->resend_cap) {
		struct resend_range *r = &s->rr[0];
		*rc = next_held(s, r, &m);
		if (*rc != SUIDO_OK && *rc != SUIDO_ERR_NOTFOUND)
			return -1;
		if (*rc == SUIDO_ERR_NOTFOUND) {
			range_not_held(s, r, r->next, r->to);
			range_done(s);
			continue;
		}
		if (m.seq > r->next)
			range_not_held(s, r, r->next, m.seq - 1);
		if (publish(s, m.seq, &m) != SUIDO_OK) {
			*rc = SUIDO_OK; /* connection dropped: go on from here on the next one */
			r->next = m.seq;
			return -1;
		}
		add_flight(s, m.seq, now_ms, 1);
		s->turn_resend = 0;
		r->next = m.seq + 1;
		r->published++;
		s->counts.requested++;
		if (r->next > r->to)
			range_done(s);
		*rc = SUIDO_OK;
		return 1;
	}
	*rc = SUIDO_OK;
	return 0;
}

int sender_step(struct sender *s, int64_t now_ms)
{
	int rc = SUIDO_OK;

	if (!link_connected(s->l))
		return SUIDO_OK;
	if (s->generation != link_generation(s->l)) {
		/* New connection: whatever was in flight may be lost; start over
		 * from the oldest unacknowledged message. */
		s->generation = link_generation(s->l);
		s->n = 0;
		s->n_resend = 0;
		s->last_seq = 0;
	}
	for (unsigned i = 0; i < s->n; i++) {
		if (now_ms - s->fl[i].sent_ms < s->ack_timeout_ms)
			continue;
		if (s->fl[i].resend) {
			log_info("sender", "no ack within %lld ms for seq %llu sent again on request: "
					   "not repeated",
				 (long long)s->ack_timeout_ms, (unsigned long long)s->fl[i].seq);
			drop_flight(s, i--);
			continue;
		}
		if (!s->sending)
			continue; /* stopped: waits, resent once started again */
		rc = publish(s, s->fl[i].seq, NULL);
		if (rc == SUIDO_ERR_NOTFOUND) {
			/* acknowledged meanwhile and purged: drop the slot */
			drop_flight(s, i--);
			continue;
		}
		if (rc != SUIDO_OK)
			return rc;
		log_info("sender", "no ack within %lld ms: resent seq %llu",
			 (long long)s->ack_timeout_ms, (unsigned long long)s->fl[i].seq);
		s->fl[i].sent_ms = now_ms;
		s->counts.resent++;
	}
	/* Free slots go to fresh data and to resend requests in turn, so
	 * neither starves the other; resends never hold more than resend_cap. */
	for (;;) {
		int did;
		if (s->turn_resend) {
			did = step_resend(s, now_ms, &rc);
			if (did == 0)
				did = step_fresh(s, now_ms, &rc);
		} else {
			did = step_fresh(s, now_ms, &rc);
			if (did == 0)
				did = step_resend(s, now_ms, &rc);
		}
		if (did <= 0)
			return did < 0 ? rc : SUIDO_OK;
	}
}

void sender_ack(struct sender *s, const char *msg_id, enum profile_ack_status st,
		const char *reason, int64_t wall_ms)
{
	uint64_t seq = 0;

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
	{
		char gw[PROFILE_NAME_MAX + 1];
		int64_t epoch;
		if (profile_msg_id_parse(msg_id, gw, sizeof gw, &epoch, &seq) != SUIDO_OK ||
		    strcmp(gw, queue_gateway(s->q)) != 0 || epoch != queue_epoch(s->q))
			return; /* not one of ours (another epoch: a replaced queue) */
	}
	if (s->n_acks == s->cap_acks) {
		size_t cap = s->cap_acks ? s->cap_acks * 2 : 64;
		struct queue_ack_rec *na = realloc(s->acks, cap * sizeof *na);
		if (!na) {
			log_error("sender", "recording ack of %s failed: out of memory", msg_id);
			return; /* not recorded: the message is resent and acked again */
		}
		s->acks = na;
		s->cap_acks = cap;
	}
	s->acks[s->n_acks++] = (struct queue_ack_rec){seq, wall_ms, st == PROFILE_ACK_DUPLICATE, 0};
	/* The same seq may be in flight twice (sent normally and on request);
	 * each copy is answered. The normal one goes first: once acknowledged
	 * it has done its job. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < s->n; i++) {
			if (s->fl[i].seq == seq && s->fl[i].resend == pass) {
				drop_flight(s, i);
				return;
			}
		}
	}
}

int sender_flush_acks(struct sender *s)
{
	int rc;

	if (s->n_acks == 0)
		return SUIDO_OK;
	rc = queue_ack_many(s->q, s->acks, s->n_acks);
	if (rc == SUIDO_OK) {
		for (size_t i = 0; i < s->n_acks; i++) {
			s->counts.acked += s->acks[i].fresh;
			s->counts.duplicates += s->acks[i].fresh && s->acks[i].duplicate;
		}
	} else {
		/* Their window slots are gone: publish them again from the first of
		 * them on (the fresh-data walk restarts there; the platform answers
		 * "duplicate" and the acks come again). */
		uint64_t first = UINT64_MAX;
		for (size_t i = 0; i < s->n_acks; i++)
			if (s->acks[i].seq < first)
				first = s->acks[i].seq;
		if (first > 0 && first - 1 < s->last_seq)
			s->last_seq = first - 1;
		log_error("sender", "recording %zu acks failed (the messages are resent and acked "
				    "again): %s", s->n_acks, suido_strerror(rc));
	}
	s->n_acks = 0;
	return rc;
}

unsigned sender_inflight(const struct sender *s)
{
	return s->n;
}

void sender_counts(const struct sender *s, struct sender_counts *out)
{
	*out = s->counts;
}
