/* Tests for the JSON data profile (profile.h): round trip, exact numbers and
 * instants, and a clear located error for each kind of malformed message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

static const char *VALID =
	"{\"profile\":\"suido.data/1\",\"id\":\"gw1:1763600000:42\",\"utility\":\"demo\","
	"\"gateway\":\"gw1\",\"sent\":\"2026-11-20T01:00:00Z\",\"items\":[{\"id\":\"h.1\","
	"\"name\":\"配水池水位(m)\",\"unit\":\"m\",\"facility\":\"配水池\"}],\"points\":"
	"[[0,\"2026-11-19T15:00:00Z\",4.5],[0,\"2026-11-20T01:00:00+09:00\",0.47]],"
	"\"future\":1}";

static int setup(void **state)
{
	timeutil_set_zone("Asia/Tokyo");
	return 0;
}

static void test_decode_valid(void **state)
{
	struct profile_msg *m = NULL;
	char err[256];

	assert_int_equal(profile_decode(VALID, strlen(VALID), NULL, &m, err, sizeof err), SUIDO_OK);
	assert_string_equal(m->id, "gw1:1763600000:42");
	assert_string_equal(m->utility, "demo");
	assert_int_equal(m->n_items, 1);
	assert_string_equal(m->items[0].name, "配水池水位(m)");
	assert_int_equal(m->n_points, 2);
	assert_true(m->points[0].t_ms == 1795100400000LL); /* 2026-11-19T15:00:00Z */
	assert_true(m->points[1].t_ms == 1795104000000LL); /* 2026-11-19T16:00:00Z */
	assert_true(m->points[0].v == 4.5 && m->points[1].v == 0.47);
	profile_msg_free(m);
}

static void test_round_trip(void **state)
{
	struct profile_msg *m = NULL, *m2 = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256];

	assert_int_equal(profile_decode(VALID, strlen(VALID), NULL, &m, err, sizeof err), SUIDO_OK);
	m->points[1].v = 0.1 + 0.2; /* needs 17 digits to round-trip */
	assert_int_equal(profile_encode(m, &sb), 0);
	assert_non_null(strstr(sb.data, "\"2026-11-19T16:00:00Z\",0.30000000000000004]"));
	assert_int_equal(profile_decode(sb.data, sb.len, NULL, &m2, err, sizeof err), SUIDO_OK);
	assert_true(m2->points[1].v == 0.1 + 0.2);
	assert_string_equal(m2->items[0].facility, "配水池");
	profile_msg_free(m);
	profile_msg_free(m2);
	strbuf_free(&sb);
}

static void expect_invalid(const char *json, const char *want)
{
	struct profile_msg *m = NULL;
	char err[256] = "";
	int rc = profile_decode(json, strlen(json), NULL, &m, err, sizeof err);

	assert_int_equal(rc, SUIDO_ERR_INVALID);
	assert_null(m);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

#define HEAD "{\"profile\":\"suido.data/1\",\"id\":\"g:1:1\",\"utility\":\"u\",\"gateway\":\"g\","

static void test_decode_errors(void **state)
{
	expect_invalid("{", "not JSON");
	expect_invalid("[]", "not a JSON object");
	expect_invalid("{\"profile\":\"other/1\"}", "profile");
	expect_invalid(HEAD "\"items\":[],\"points\":[[0,\"2026-11-19T15:00:00Z\",1]]}",
		       "points[0][0]: not an index");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00\",1]]}",
		       "points[0][1]: not an ISO 8601 instant with offset");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00Z\",true]]}",
		       "points[0][2]: not a finite number or a string");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00Z\",\"\\u0000\"]]}",
		       "\\u0000 is not allowed");
	{
		static char big[3000];
		int n = snprintf(big, sizeof big, "%s", HEAD "\"items\":[{\"id\":\"a\",\"name\":"
					"\"n\"}],\"points\":[[0,\"2026-11-19T15:00:00Z\",\"");
		memset(big + n, 'x', PROFILE_VALUE_TEXT_MAX + 1);
		strcpy(big + n + PROFILE_VALUE_TEXT_MAX + 1, "\"]]}");
		expect_invalid(big, "points[0][2]: text longer than 2048 bytes");
	}
	expect_invalid(HEAD "\"items\":[{\"id\":\"a/b\",\"name\":\"n\"}],\"points\":[]}",
		       "items[0].id: not a valid item id");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"},{\"id\":\"a\",\"name\":\"m\"}],"
			    "\"points\":[]}",
		       "items[1].id: repeats items[0]");
	expect_invalid("{\"profile\":\"suido.data/1\",\"id\":\"other:1:1\",\"utility\":\"u\","
		       "\"gateway\":\"g\",\"items\":[],\"points\":[]}",
		       "id: expected \"g:<epoch>:<seq>\"");
	expect_invalid(HEAD "\"items\":[],\"points\":[],\"points\":[]}", "duplicate");
}

/* Rules of the streaming decoder that the fuzz oracle also holds it to. */
/* Text values: decoded as owned strings, encoded back as JSON strings,
 * mixed freely with numbers. */
static void test_text_values(void **state)
{
	static const char json[] = HEAD "\"items\":[{\"id\":\"a\",\"name\":\"氏名\"},"
				   "{\"id\":\"b\",\"name\":\"n\"}],\"points\":[[0,"
				   "\"2026-11-19T15:00:00Z\",\"~m1.r.0a1b2c3d.QUJD\"],[1,"
				   "\"2026-11-19T15:00:00Z\",12],[0,\"2026-11-19T16:00:00Z\","
				   "\"運転 \\\"A\\\"\"],[0,\"2026-11-19T17:00:00Z\",\"12\"]]}";
	struct profile_msg *m = NULL, *m2 = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256];

	(void)state;
	if (profile_decode(json, strlen(json), NULL, &m, err, sizeof err) != SUIDO_OK)
		fail_msg("%s", err);
	assert_int_equal(m->n_points, 4);
	assert_string_equal(m->points[0].text, "~m1.r.0a1b2c3d.QUJD");
	assert_null(m->points[1].text);
	assert_true(m->points[1].v == 12);
	assert_string_equal(m->points[2].text, "運転 \"A\"");
	assert_string_equal(m->points[3].text, "12"); /* a string stays a string */
	assert_int_equal(profile_encode(m, &sb), 0);
	assert_int_equal(profile_decode(sb.data, sb.len, NULL, &m2, err, sizeof err), SUIDO_OK);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(!m->points[i].text, !m2->points[i].text);
		if (m->points[i].text)
			assert_string_equal(m->points[i].text, m2->points[i].text);
	}
	assert_non_null(strstr(sb.data, ",\"12\"]"));
	profile_msg_free(m);
	profile_msg_free(m2);
	strbuf_free(&sb);
}

static void test_decoder_rules(void **state)
{
	struct profile_msg *m = NULL;
	char err[256];
	/* members in any order, escapes, surrogate pairs, unknown nested members */
	const char *ok = "{\"points\":[[1,\"2026-11-19T15:00:00+0900\",-1.5e-3]],\"items\":[{\"id\":"
			 "\"a\",\"name\":\"x\\\"y\\u914d\",\"more\":{\"k\":[true,null,{}]}},{\"id\":"
			 "\"b\\ud83d\\ude00\",\"name\":\"n\"}],\"gateway\":\"g\",\"utility\":\"u\","
			 "\"id\":\"g:1:1\",\"profile\":\"suido.data/1\"}";
	assert_int_equal(profile_decode(ok, strlen(ok), NULL, &m, err, sizeof err), SUIDO_OK);
	assert_string_equal(m->items[0].name, "x\"y\xe9\x85\x8d");
	assert_string_equal(m->items[1].id, "b\xf0\x9f\x98\x80");
	assert_int_equal(m->points[0].item, 1);
	assert_true(m->points[0].v == -1.5e-3);
	assert_true(m->points[0].t_ms == 1795068000000LL); /* 2026-11-19T06:00:00Z */
	profile_msg_free(m);

	expect_invalid(HEAD "\"items\":[],\"points\":[],\"x\":{\"a\":1,\"a\":2}}", "duplicate");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00Z\",99999999999999999999]]}",
		       "too big integer");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00Z\",1e999]]}",
		       "overflow");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\\u0000\",\"name\":\"n\"}],\"points\":[]}",
		       "\\u0000");
	expect_invalid(HEAD "\"items\":[{\"id\":\"\\ud800\",\"name\":\"n\"}],\"points\":[]}",
		       "surrogate");
	expect_invalid(HEAD "\"items\":[{\"id\":\"\xc0\xaf\",\"name\":\"n\"}],\"points\":[]}",
		       "UTF-8");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0.0,"
			    "\"2026-11-19T15:00:00Z\",1]]}",
		       "not an index");
	expect_invalid(HEAD "\"items\":[{\"id\":\"a\",\"name\":\"n\"}],\"points\":[[0,"
			    "\"2026-11-19T15:00:00Z\",1,2]]}",
		       "not an array of 3");
	expect_invalid(HEAD "\"items\":[],\"points\":[]} x", "end of file expected");
	expect_invalid(HEAD "\"items\":[],\"points\":[],\"x\":01}", "not JSON");
	/* a raw NUL is never JSON, even where jansson 2.14 would let it pass */
	const char nul[] = HEAD "\"items\":[],\"points\":[],\"x\":1\0}";
	assert_int_equal(profile_decode(nul, sizeof nul - 1, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
}

static void test_limits(void **state)
{
	struct profile_limits lim = {0, 0, 1};
	struct profile_msg *m = NULL;
	char err[256];

	assert_int_equal(profile_decode(VALID, strlen(VALID), &lim, &m, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	lim.max_points = 0;
	lim.max_bytes = 10;
	assert_int_equal(profile_decode(VALID, strlen(VALID), &lim, &m, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_null(m);
}

static void test_ack(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char id[PROFILE_ID_MAX + 1], reason[64];
	enum profile_ack_status st;

	assert_int_equal(profile_ack_encode("gw1:1:2", PROFILE_ACK_REJECTED, "bad \"x\"", &sb), 0);
	assert_int_equal(profile_ack_decode(sb.data, sb.len, id, sizeof id, &st, reason,
					    sizeof reason),
			 SUIDO_OK);
	assert_string_equal(id, "gw1:1:2");
	assert_int_equal(st, PROFILE_ACK_REJECTED);
	assert_string_equal(reason, "bad \"x\"");
	assert_int_equal(profile_ack_decode("{}", 2, id, sizeof id, &st, reason, sizeof reason),
			 SUIDO_ERR_INVALID);
	strbuf_free(&sb);
}

static void test_msg_id(void **state)
{
	char gw[65];
	int64_t e;
	uint64_t s;

	assert_int_equal(profile_msg_id_parse("demo-gw1:1763600000:7", gw, sizeof gw, &e, &s),
			 SUIDO_OK);
	assert_string_equal(gw, "demo-gw1");
	assert_true(e == 1763600000 && s == 7);
	assert_int_equal(profile_msg_id_parse("gw:1", gw, sizeof gw, &e, &s), SUIDO_ERR_INVALID);
	assert_int_equal(profile_msg_id_parse("gw:x:1", gw, sizeof gw, &e, &s), SUIDO_ERR_INVALID);
	assert_int_equal(profile_msg_id_parse("g w:1:1", gw, sizeof gw, &e, &s), SUIDO_ERR_INVALID);
	assert_int_equal(profile_msg_id_parse("gw:1:1x", gw, sizeof gw, &e, &s), SUIDO_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid), cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_text_values),
		cmocka_unit_test(test_decode_errors), cmocka_unit_test(test_decoder_rules),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ack), cmocka_unit_test(test_msg_id),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
