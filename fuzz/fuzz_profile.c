/*
 * libFuzzer target for the JSON data profile: the streaming decoder
 * (profile_decode) must agree with the jansson-based reference decoder of
 * fuzz/oracle_profile_jansson.h on every input (both refuse, or both decode
 * the same content); a decoded message must re-encode and decode to itself;
 * the ack decoder must not crash. Any disagreement traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oracle_profile_jansson.h"
#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Exact equality of two decoded messages (values bit for bit, -0 == 0). */
static int same_msg(const struct profile_msg *a, const struct profile_msg *b)
{
	if (!same_str(a->id, b->id) || !same_str(a->utility, b->utility) ||
	    !same_str(a->gateway, b->gateway) || a->sent_ms != b->sent_ms ||
	    a->n_items != b->n_items || a->n_points != b->n_points)
		return 0;
	for (size_t i = 0; i < a->n_items; i++)
		if (!same_str(a->items[i].id, b->items[i].id) ||
		    !same_str(a->items[i].name, b->items[i].name) ||
		    !same_str(a->items[i].unit, b->items[i].unit) ||
		    !same_str(a->items[i].facility, b->items[i].facility))
			return 0;
	for (size_t i = 0; i < a->n_points; i++) {
		const struct profile_point *p = &a->points[i], *q = &b->points[i];
		if (p->item != q->item || p->t_ms != q->t_ms || !p->text != !q->text)
			return 0;
		if (p->text && strcmp(p->text, q->text) != 0)
			return 0;
		if (memcmp(&p->v, &q->v, sizeof p->v) != 0 && !(p->v == 0 && q->v == 0))
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct profile_limits lim = {1 << 20, 1000, 10000};
	struct profile_msg *m = NULL, *ref = NULL, *m2 = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256], err2[256], id[PROFILE_ID_MAX + 1], reason[64];
	enum profile_ack_status st;
	int rc, rc_ref;

	if (!init) {
		timeutil_set_zone("Asia/Tokyo");
		init = 1;
	}
	profile_ack_decode((const char *)data, size, id, sizeof id, &st, reason, sizeof reason);
	rc = profile_decode((const char *)data, size, &lim, &m, err, sizeof err);
	if (memchr(data, '\0', size)) {
		/* A raw NUL is never valid JSON (RFC 8259). jansson 2.14 swallows one
		 * right after a number or literal, so it is no oracle here: ours
		 * must refuse, whatever jansson says. */
		if (rc == SUIDO_OK)
			__builtin_trap();
		profile_msg_free(m);
		return 0;
	}
	rc_ref = oracle_profile_decode((const char *)data, size, &lim, &ref, err2, sizeof err2);
	if ((rc == SUIDO_OK) != (rc_ref == SUIDO_OK))
		__builtin_trap(); /* one accepts what the other refuses */
	if (rc == SUIDO_OK) {
		if (!same_msg(m, ref))
			__builtin_trap();
		if (profile_encode(m, &sb) != 0 ||
		    profile_decode(sb.data, sb.len, &lim, &m2, err, sizeof err) != SUIDO_OK ||
		    !same_msg(m, m2))
			__builtin_trap();
	}
	profile_msg_free(m2);
	profile_msg_free(ref);
	profile_msg_free(m);
	strbuf_free(&sb);
	return 0;
}
