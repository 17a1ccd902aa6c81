/*
 * libFuzzer target for the XML data profile (profile_xml.h): arbitrary bytes
 * are decoded (profile_xml_decode must refuse or decode, never crash or
 * leak); a decoded message must encode to XML and to JSON (profile_encode),
 * and both must decode back to the very same message (values bit for bit,
 * -0 == 0), so the two formats carry the same content. Any disagreement
 * traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "profile_same.h"
#include "suido/error.h"
#include "suido/profile.h"
#include "suido/profile_xml.h"
#include "suido/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct profile_limits lim = {1 << 20, 1000, 10000};
	/* re-encoded text may be longer than the input (escapes, instants) */
	struct profile_limits relim = {0, 1000, 10000};
	struct profile_msg *m = NULL, *mx = NULL, *mj = NULL;
	struct strbuf xml = STRBUF_INIT, json = STRBUF_INIT;
	char err[256];

	if (!init) {
		timeutil_set_zone("Asia/Tokyo");
		init = 1;
	}
	if (profile_xml_decode((const char *)data, size, &lim, &m, err, sizeof err) != SUIDO_OK) {
		if (m)
			__builtin_trap(); /* *out must stay NULL on failure */
		return 0;
	}
	if (profile_xml_encode(m, &xml, err, sizeof err) != SUIDO_OK)
		__builtin_trap(); /* whatever XML carried, XML can carry again */
	if (profile_xml_decode(xml.data, xml.len, &relim, &mx, err, sizeof err) != SUIDO_OK ||
	    !same_msg(m, mx))
		__builtin_trap();
	if (profile_encode(m, &json) != 0 ||
	    profile_decode(json.data, json.len, &relim, &mj, err, sizeof err) != SUIDO_OK ||
	    !same_msg(m, mj))
		__builtin_trap();
	profile_msg_free(mj);
	profile_msg_free(mx);
	profile_msg_free(m);
	strbuf_free(&json);
	strbuf_free(&xml);
	return 0;
}
