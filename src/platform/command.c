/*
 * Platform commands to gateways (command.h).
 */
#include "command.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define QUEUE_MAX 10000

struct command_queue {
	pthread_mutex_t lock;
	struct command *v; /* ring */
	size_t head, n, cap;
};

static const char *const names[] = {"start", "stop", "resend"};

const char *command_kind_name(enum command_kind k)
{
	return names[k];
}

int command_parse_kind(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

struct command_queue *command_queue_new(void)
{
	struct command_queue *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q);
		return NULL;
	}
	return q;
}

void command_queue_free(struct command_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q->v);
	free(q);
}

static int check(const struct command *c, char *err, size_t errlen)
{
	if (!profile_name_valid(c->utility) || !profile_name_valid(c->gateway)) {
		snprintf(err, errlen, "not a valid utility or gateway id");
		return SUIDO_ERR_INVALID;
	}
	switch (c->kind) {
	case COMMAND_START:
		if (c->interval_s < 1 || c->interval_s > COMMAND_INTERVAL_MAX) {
			snprintf(err, errlen, "interval_s must be between 1 and %u",
				 COMMAND_INTERVAL_MAX);
			return SUIDO_ERR_INVALID;
		}
		return SUIDO_OK;
	case COMMAND_STOP:
		return SUIDO_OK;
	case COMMAND_RESEND:
		if (c->from_seq < 1 || c->to_seq < c->from_seq ||
		    c->to_seq - c->from_seq >= COMMAND_RESEND_MAX) {
			snprintf(err, errlen, "from_seq and to_seq must satisfy 1 <= from_seq <= "
				 "to_seq < from_seq + %u", COMMAND_RESEND_MAX);
			return SUIDO_ERR_INVALID;
		}
		return SUIDO_OK;
	}
	snprintf(err, errlen, "unknown command");
	return SUIDO_ERR_INVALID;
}

int command_post(struct command_queue *q, const struct command *c, char *err, size_t errlen)
{
	int rc = check(c, err, errlen);

	if (rc != SUIDO_OK)
		return rc;
	pthread_mutex_lock(&q->lock);
	if (q->n >= QUEUE_MAX) {
		pthread_mutex_unlock(&q->lock);
		snprintf(err, errlen, "too many commands waiting");
		return SUIDO_ERR_LIMIT;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct command *v = malloc(cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&q->lock);
			snprintf(err, errlen, "out of memory");
			return SUIDO_ERR_NOMEM;
		}
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = *c;
	q->n++;
	pthread_mutex_unlock(&q->lock);
	return SUIDO_OK;
}

int command_take(struct command_queue *q, struct command *out)
{
	int got = 0;

	pthread_mutex_lock(&q->lock);
	if (q->n) {
		*out = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		got = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

int command_sign(const struct command *c, const struct jose_key *platform, int64_t now_ms,
		 uint64_t *last, uint64_t *seq, char **jws, char *err, size_t errlen)
{
	struct strbuf sb = STRBUF_INIT;
	char t[32];
	int rc;

	*jws = NULL;
	*seq = now_ms > 0 && (uint64_t)now_ms > *last ? (uint64_t)now_ms : *last + 1;
	*last = *seq;
	timeutil_format_utc(now_ms, t);
	strbuf_puts(&sb, "{\"profile\":\"suido.command/1\",\"utility\":");
	strbuf_json_str(&sb, c->utility, strlen(c->utility));
	strbuf_puts(&sb, ",\"gateway\":");
	strbuf_json_str(&sb, c->gateway, strlen(c->gateway));
	strbuf_printf(&sb, ",\"seq\":%" PRIu64 ",\"issued\":\"%s\",\"command\":\"%s\"", *seq, t,
		      names[c->kind]);
	if (c->kind == COMMAND_START)
		strbuf_printf(&sb, ",\"interval_s\":%u", c->interval_s);
	else if (c->kind == COMMAND_RESEND)
		strbuf_printf(&sb, ",\"from_seq\":%" PRIu64 ",\"to_seq\":%" PRIu64, c->from_seq,
			      c->to_seq);
	strbuf_putc(&sb, '}');
	if (sb.failed) {
		strbuf_free(&sb);
		snprintf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	rc = jose_sign(sb.data, sb.len, platform, "platform", 0, jws, err, errlen);
	strbuf_free(&sb);
	return rc;
}
