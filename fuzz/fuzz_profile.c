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
#include "profile_same.h"
#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

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
