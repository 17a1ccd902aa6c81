/*
 * Verifying and recording the platform's commands (command.h). The token is
 * bounded before anything reads it; the signature is checked before the
 * payload is parsed; the payload is parsed with jansson, refusing duplicate
 * members, and unknown members are ignored so the platform may add some.
 */
#include "command.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/jose.h"
#include "suido/timeutil.h"

#define COMMAND_PROFILE "suido.command/1"

struct command_verifier {
	struct jose_key *key; /* the platform's public key, or NULL */
	int allow_unsigned;
	char *utility;
	char *gateway;
	int64_t epoch;
};

int command_verifier_new(const EVP_PKEY *platform_key, int allow_unsigned, const char *utility,
			 const char *gateway, int64_t epoch, struct command_verifier **out,
			 char *err, size_t errlen)
{
	struct command_verifier *v = calloc(1, sizeof *v);
	int rc;

	*out = NULL;
	if (!v)
		return SUIDO_ERR_NOMEM;
	v->allow_unsigned = allow_unsigned;
	v->epoch = epoch;
	v->utility = strdup(utility);
	v->gateway = strdup(gateway);
	if (!v->utility || !v->gateway) {
		command_verifier_free(v);
		return SUIDO_ERR_NOMEM;
	}
	if (platform_key &&
	    (rc = jose_key_from_pkey(platform_key, &v->key, err, errlen)) != SUIDO_OK) {
		command_verifier_free(v);
		return rc;
	}
	*out = v;
	return SUIDO_OK;
}

void command_verifier_free(struct command_verifier *v)
{
	if (!v)
		return;
	jose_key_free(v->key);
	free(v->utility);
	free(v->gateway);
	free(v);
}

int command_verifier_usable(const struct command_verifier *v)
{
	return v->key != NULL || v->allow_unsigned;
}

const char *command_name(enum command_kind kind)
{
	switch (kind) {
	case COMMAND_START: return "start";
	case COMMAND_STOP: return "stop";
	case COMMAND_RESEND: return "resend";
	}
	return "?";
}

/* A JSON integer member in [min, max]: 1, absent: 0, anything else: -1. */
static int get_int(json_t *o, const char *name, json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *x = json_object_get(o, name);

	if (!x)
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < min || json_integer_value(x) > max)
		return -1;
	*out = json_integer_value(x);
	return 1;
}

static const char *get_str(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name)); /* NULL unless a string */
}

/* An ISO 8601 instant with Z or an offset (not local time). */
static int instant_ok(const char *s, int64_t *ms)
{
	size_t n = strlen(s);
	char why[128];

	if (n < 17 || n > 40 || timeutil_parse(s, n, "iso8601", ms, why, sizeof why) != SUIDO_OK)
		return 0;
	return s[n - 1] == 'Z' || strchr(s + 11, '+') || strchr(s + 11, '-');
}

static int decode_payload(const struct command_verifier *v, const char *text, size_t len,
			  struct command *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_int_t n = 0, from = 0, to = 0;
	const char *s;
	int rc = SUIDO_ERR_INVALID;

	if (!o || !json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object%s%s", o ? "" : ": ", o ? "" : je.text);
		goto done;
	}
	if (!(s = get_str(o, "profile")) || strcmp(s, COMMAND_PROFILE) != 0) {
		snprintf(err, errlen, "profile is not \"" COMMAND_PROFILE "\"");
		goto done;
	}
	if (!(s = get_str(o, "utility")) || !get_str(o, "gateway")) {
		snprintf(err, errlen, "utility and gateway must be strings");
		goto done;
	}
	if (strcmp(s, v->utility) != 0 || strcmp(get_str(o, "gateway"), v->gateway) != 0) {
		/* the names are JSON strings of any content: not echoed into the log */
		snprintf(err, errlen, "addressed to another utility or gateway, not %s/%s",
			 v->utility, v->gateway);
		rc = SUIDO_ERR_PERM;
		goto done;
	}
	if (get_int(o, "seq", 1, INT64_MAX, &n) != 1) {
		snprintf(err, errlen, "seq must be an integer of at least 1");
		goto done;
	}
	out->seq = n;
	if (!(s = get_str(o, "issued")) || !instant_ok(s, &out->issued_ms)) {
		snprintf(err, errlen, "issued must be an ISO 8601 instant with Z or an offset");
		goto done;
	}
	if (!(s = get_str(o, "command"))) {
		snprintf(err, errlen, "command must be a string");
		goto done;
	}
	if (strcmp(s, "start") == 0) {
		out->kind = COMMAND_START;
		if (get_int(o, "interval_s", 1, COMMAND_INTERVAL_MAX, &n) != 1) {
			snprintf(err, errlen, "start: interval_s must be an integer from 1 to %d",
				 COMMAND_INTERVAL_MAX);
			goto done;
		}
		out->interval_s = n;
	} else if (strcmp(s, "stop") == 0) {
		out->kind = COMMAND_STOP;
	} else if (strcmp(s, "resend") == 0) {
		out->kind = COMMAND_RESEND;
		if (get_int(o, "from_seq", 1, INT64_MAX, &from) != 1 ||
		    get_int(o, "to_seq", 1, INT64_MAX, &to) != 1 || to < from) {
			snprintf(err, errlen, "resend: from_seq and to_seq must be integers, "
					      "1 <= from_seq <= to_seq");
			goto done;
		}
		if (to - from >= COMMAND_RESEND_MAX) {
			snprintf(err, errlen, "resend: %lld..%lld asks for more than %d messages",
				 (long long)from, (long long)to, COMMAND_RESEND_MAX);
			rc = SUIDO_ERR_LIMIT;
			goto done;
		}
		switch (get_int(o, "epoch", 0, INT64_MAX, &n)) {
		case -1:
			snprintf(err, errlen, "resend: epoch must be an integer");
			goto done;
		case 1:
			if (n != v->epoch) {
				snprintf(err, errlen, "resend: for epoch %lld, the queue's is %lld",
					 (long long)n, (long long)v->epoch);
				rc = SUIDO_ERR_PERM;
				goto done;
			}
		}
		out->from_seq = (uint64_t)from;
		out->to_seq = (uint64_t)to;
	} else {
		snprintf(err, errlen, "unknown command (expected start, stop or resend)");
		goto done;
	}
	rc = SUIDO_OK;
done:
	json_decref(o);
	return rc;
}

int command_decode(const struct command_verifier *v, const void *msg, size_t len,
		   struct command *out, char *err, size_t errlen)
{
	const char *p = msg;
	char *payload = NULL, *kid = NULL, why[256];
	size_t plen = 0, i = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (len > COMMAND_MAX_BYTES) {
		snprintf(err, errlen, "%zu bytes, more than %d", len, COMMAND_MAX_BYTES);
		return SUIDO_ERR_LIMIT;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i < len && p[i] == '{') {
		if (!v->allow_unsigned) {
			snprintf(err, errlen, "not signed (a JWS compact serialization is required)");
			return SUIDO_ERR_SIGNATURE;
		}
		return decode_payload(v, p, len, out, err, errlen);
	}
	if (!v->key) {
		snprintf(err, errlen, "signed, but no [security] platform_certificate to verify it");
		return SUIDO_ERR_SIGNATURE;
	}
	rc = jose_verify(p, len, v->key, COMMAND_MAX_BYTES, &payload, &plen, &kid, why, sizeof why);
	if (rc == SUIDO_ERR_INVALID) {
		snprintf(err, errlen, "not a JWS compact serialization: %s", why);
		rc = SUIDO_ERR_SIGNATURE;
		goto done;
	}
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "signature refused: %s", why);
		if (rc != SUIDO_ERR_NOMEM)
			rc = SUIDO_ERR_SIGNATURE;
		goto done;
	}
	if (!kid || strcmp(kid, COMMAND_KID) != 0) {
		snprintf(err, errlen, "kid is not \"" COMMAND_KID "\"");
		rc = SUIDO_ERR_SIGNATURE;
		goto done;
	}
	rc = decode_payload(v, payload, plen, out, err, errlen);
	out->verified = rc == SUIDO_OK;
done:
	free(payload);
	free(kid);
	return rc;
}

int command_accept(struct queue *q, const struct command *c, struct queue_control *state,
		   char *err, size_t errlen)
{
	struct queue_control next;
	int rc;

	if ((rc = queue_control_get(q, state)) != SUIDO_OK) {
		snprintf(err, errlen, "reading the command state: %s", suido_strerror(rc));
		return rc;
	}
	if (c->seq <= state->cmd_seq) {
		snprintf(err, errlen, "seq %lld is not greater than %lld, the last applied",
			 (long long)c->seq, (long long)state->cmd_seq);
		return SUIDO_ERR_EXISTS;
	}
	next = *state;
	next.cmd_seq = c->seq;
	if (c->kind == COMMAND_START) {
		next.sending = QUEUE_SENDING_ON;
		next.interval_s = c->interval_s;
	} else if (c->kind == COMMAND_STOP) {
		next.sending = QUEUE_SENDING_OFF;
	}
	rc = queue_control_set(q, &next);
	if (rc == SUIDO_ERR_EXISTS) { /* cannot happen single-threaded; refused all the same */
		snprintf(err, errlen, "seq %lld is not greater than the last applied",
			 (long long)c->seq);
		return rc;
	}
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "recording the command: %s", suido_strerror(rc));
		return rc;
	}
	*state = next;
	return SUIDO_OK;
}
