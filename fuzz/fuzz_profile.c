/*
 * libFuzzer target for the JSON data profile decoder and the ack decoder:
 * arbitrary bytes must give SUIDO_OK or an error, never a crash, a leak or
 * undefined behaviour; a decoded message must re-encode and decode to the
 * same content.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct profile_limits lim = {1 << 20, 1000, 10000};
	struct profile_msg *m = NULL, *m2 = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256], id[PROFILE_ID_MAX + 1], reason[64];
	enum profile_ack_status st;

	if (!init) {
		timeutil_set_zone("Asia/Tokyo");
		init = 1;
	}
	profile_ack_decode((const char *)data, size, id, sizeof id, &st, reason, sizeof reason);
	if (profile_decode((const char *)data, size, &lim, &m, err, sizeof err) != SUIDO_OK)
		return 0;
	if (profile_encode(m, &sb) == 0 &&
	    profile_decode(sb.data, sb.len, &lim, &m2, err, sizeof err) == SUIDO_OK) {
		if (m2->n_points != m->n_points || m2->n_items != m->n_items)
			__builtin_trap();
		for (size_t i = 0; i < m->n_points; i++)
			if (m2->points[i].t_ms != m->points[i].t_ms ||
			    m2->points[i].item != m->points[i].item ||
			    memcmp(&m2->points[i].v, &m->points[i].v, sizeof(double)) != 0)
				if (!(m2->points[i].v == 0 && m->points[i].v == 0))
					__builtin_trap();
	}
	profile_msg_free(m2);
	profile_msg_free(m);
	strbuf_free(&sb);
	return 0;
}
