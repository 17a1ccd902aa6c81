/* Tests for the platform's commands at the gateway (command.h): a command
 * signed with the platform's data-protection key under kid "platform" for
 * this gateway is accepted and its effect recorded in the queue; unsigned,
 * wrongly signed, wrongly named, misaddressed, malformed, oversized and
 * replayed commands are refused with the state unchanged, also after the
 * queue is reopened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "command.h"
#include "queue.h"
#include "suido/error.h"
#include "suido/jose.h"
#include "suido/timeutil.h"

static char dir[64], db[128];
static EVP_PKEY *pk_platform, *pk_other;
static struct jose_key *platform, *other;

static int setup(void **state)
{
	(void)state;
	timeutil_set_zone("Asia/Tokyo");
	pk_platform = EVP_RSA_gen(2048);
	pk_other = EVP_RSA_gen(2048);
	assert_non_null(pk_platform);
	assert_non_null(pk_other);
	assert_int_equal(jose_key_from_pkey(pk_platform, &platform, NULL, 0), SUIDO_OK);
	assert_int_equal(jose_key_from_pkey(pk_other, &other, NULL, 0), SUIDO_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	jose_key_free(platform);
	jose_key_free(other);
	EVP_PKEY_free(pk_platform);
	EVP_PKEY_free(pk_other);
	return 0;
}

static int each_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/suido-command-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/queue.db", dir);
	return 0;
}

static int each_teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* A JWS of json signed with key under kid (NULL: no kid); caller frees. */
static char *sign(const char *json, const struct jose_key *key, const char *kid)
{
	char *jws = NULL;
	assert_int_equal(jose_sign(json, strlen(json), key, kid, 0, &jws, NULL, 0), SUIDO_OK);
	return jws;
}

static char *cmd_json(const char *utility, const char *gateway, long long seq, const char *rest)
{
	static char buf[1024];
	snprintf(buf, sizeof buf,
		 "{\"profile\":\"suido.command/1\",\"utility\":\"%s\",\"gateway\":\"%s\","
		 "\"seq\":%lld,\"issued\":\"2026-11-22T08:00:00Z\",%s}",
		 utility, gateway, seq, rest);
	return buf;
}

static struct command_verifier *verifier(int with_key, int allow_unsigned, int64_t epoch)
{
	struct command_verifier *v = NULL;
	char err[256];
	assert_int_equal(command_verifier_new(with_key ? pk_platform : NULL, allow_unsigned, "demo",
					      "gw1", epoch, &v, err, sizeof err),
			 SUIDO_OK);
	return v;
}

/* decode of a command signed by the platform under kid "platform" */
static int decode_signed(struct command_verifier *v, const char *json, struct command *c,
			 char *err, size_t errlen)
{
	char *jws = sign(json, platform, "platform");
	int rc = command_decode(v, jws, strlen(jws), c, err, errlen);
	free(jws);
	return rc;
}

static void test_accept_and_persist(void **state)
{
	struct command_verifier *v = verifier(1, 0, 7);
	struct queue *q = NULL;
	struct queue_control st;
	struct command c;
	char err[256];

	(void)state;
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_control_get(q, &st), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 0);
	assert_int_equal(st.sending, QUEUE_SENDING_UNSET);

	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 100, "\"command\":\"start\","
								    "\"interval_s\":60,\"x-new\":[1]"),
				       &c, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(c.kind, COMMAND_START);
	assert_int_equal(c.seq, 100);
	assert_int_equal(c.interval_s, 60);
	assert_int_equal(c.verified, 1);
	assert_int_equal(c.issued_ms, 1795334400000LL);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 100);
	assert_int_equal(st.sending, QUEUE_SENDING_ON);
	assert_int_equal(st.interval_s, 60);

	/* the same command again (the retained one after a reconnect) and an
	 * older one are refused, the state kept */
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_ERR_EXISTS);
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 99, "\"command\":\"stop\""), &c,
				       err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_ERR_EXISTS);
	assert_non_null(strstr(err, "not greater"));
	assert_int_equal(st.sending, QUEUE_SENDING_ON);

	/* a newer stop applies; a resend changes only the seq */
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 101, "\"command\":\"stop\""), &c,
				       err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_OK);
	assert_int_equal(st.sending, QUEUE_SENDING_OFF);
	assert_int_equal(st.interval_s, 60);
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 102, "\"command\":\"resend\","
								    "\"from_seq\":3,\"to_seq\":9,"
								    "\"epoch\":7"),
				       &c, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(c.kind, COMMAND_RESEND);
	assert_int_equal(c.from_seq, 3);
	assert_int_equal(c.to_seq, 9);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 102);
	assert_int_equal(st.sending, QUEUE_SENDING_OFF);
	queue_close(q);

	/* after a restart: the state is kept, and old commands are still refused */
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_control_get(q, &st), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 102);
	assert_int_equal(st.sending, QUEUE_SENDING_OFF);
	assert_int_equal(st.interval_s, 60);
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 100, "\"command\":\"start\","
								    "\"interval_s\":60"),
				       &c, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_ERR_EXISTS);
	assert_int_equal(queue_control_get(q, &st), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 102);
	assert_int_equal(st.sending, QUEUE_SENDING_OFF);
	/* a newer start with another interval */
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 1795300000123LL,
						   "\"command\":\"start\",\"interval_s\":5"),
				       &c, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(command_accept(q, &c, &st, err, sizeof err), SUIDO_OK);
	queue_close(q);
	assert_int_equal(queue_open(db, "demo", "gw1", &q, err, sizeof err), SUIDO_OK);
	assert_int_equal(queue_control_get(q, &st), SUIDO_OK);
	assert_int_equal(st.cmd_seq, 1795300000123LL);
	assert_int_equal(st.sending, QUEUE_SENDING_ON);
	assert_int_equal(st.interval_s, 5);
	queue_close(q);
	command_verifier_free(v);
}

static void test_refuses_bad_signatures(void **state)
{
	struct command_verifier *v = verifier(1, 0, 7);
	struct command c;
	char err[256], *jws;
	const char *json = cmd_json("demo", "gw1", 5, "\"command\":\"start\",\"interval_s\":60");

	(void)state;
	/* unsigned: the JSON itself */
	assert_int_equal(command_decode(v, json, strlen(json), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "not signed"));
	/* signed with another key (a gateway's) under kid "platform" */
	jws = sign(json, other, "platform");
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "signature"));
	free(jws);
	/* the platform's key under another kid, and without one */
	jws = sign(json, platform, "gw1");
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "kid"));
	free(jws);
	jws = sign(json, platform, NULL);
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(jws);
	/* tampered: one character of the signature changed */
	jws = sign(json, platform, "platform");
	jws[strlen(jws) - 5] = jws[strlen(jws) - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(jws);
	/* not a JWS at all */
	assert_int_equal(command_decode(v, "start", 5, &c, err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_int_equal(command_decode(v, "a.b.c", 5, &c, err, sizeof err), SUIDO_ERR_SIGNATURE);
	command_verifier_free(v);

	/* no key and unsigned not allowed: nothing is accepted */
	v = verifier(0, 0, 7);
	assert_false(command_verifier_usable(v));
	jws = sign(json, platform, "platform");
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_int_equal(command_decode(v, json, strlen(json), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(jws);
	command_verifier_free(v);

	/* unsigned allowed (plain test setups): the JSON is accepted, marked so */
	v = verifier(0, 1, 7);
	assert_true(command_verifier_usable(v));
	assert_int_equal(command_decode(v, json, strlen(json), &c, err, sizeof err), SUIDO_OK);
	assert_int_equal(c.verified, 0);
	command_verifier_free(v);
	/* with a key as well, a JWS must still verify */
	v = verifier(1, 1, 7);
	jws = sign(json, other, "platform");
	assert_int_equal(command_decode(v, jws, strlen(jws), &c, err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(jws);
	command_verifier_free(v);
}

static void test_refuses_other_addressee(void **state)
{
	struct command_verifier *v = verifier(1, 0, 7);
	struct command c;
	char err[256];

	(void)state;
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw2", 5, "\"command\":\"stop\""), &c,
				       err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(decode_signed(v, cmd_json("other", "gw1", 5, "\"command\":\"stop\""), &c,
				       err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 5, "\"command\":\"resend\","
								  "\"from_seq\":1,\"to_seq\":2,"
								  "\"epoch\":8"),
				       &c, err, sizeof err),
			 SUIDO_ERR_PERM);
	command_verifier_free(v);
}

static void test_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"profile\":\"suido.command/2\",\"utility\":\"demo\",\"gateway\":\"gw1\",\"seq\":1,"
		"\"issued\":\"2026-11-22T08:00:00Z\",\"command\":\"stop\"}",
		/* duplicate member */
		"{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\",\"seq\":1,"
		"\"seq\":2,\"issued\":\"2026-11-22T08:00:00Z\",\"command\":\"stop\"}",
		/* seq missing, zero, negative, a string, a float */
		"{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\","
		"\"issued\":\"2026-11-22T08:00:00Z\",\"command\":\"stop\"}",
		NULL,
	};
	static const char *const bad_rest[] = {
		"\"command\":\"start\"",                       /* no interval */
		"\"command\":\"start\",\"interval_s\":0",
		"\"command\":\"start\",\"interval_s\":86401",
		"\"command\":\"start\",\"interval_s\":\"60\"",
		"\"command\":\"reboot\"",
		"\"command\":1",
		"\"command\":\"resend\",\"from_seq\":5",
		"\"command\":\"resend\",\"from_seq\":5,\"to_seq\":4",
		"\"command\":\"resend\",\"from_seq\":0,\"to_seq\":4",
		"\"command\":\"resend\",\"from_seq\":1,\"to_seq\":4,\"epoch\":\"7\"",
		NULL,
	};
	struct command_verifier *v = verifier(1, 0, 7);
	struct command c;
	char err[256], buf[512];

	(void)state;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(decode_signed(v, bad[i], &c, err, sizeof err), SUIDO_ERR_INVALID);
	for (int i = 0; bad_rest[i]; i++)
		assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 5, bad_rest[i]), &c, err,
					       sizeof err),
				 SUIDO_ERR_INVALID);
	static const char *const seqs[] = {"0", "-3", "\"5\"", "5.5", "null"};
	for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++) {
		snprintf(buf, sizeof buf,
			 "{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\","
			 "\"seq\":%s,\"issued\":\"2026-11-22T08:00:00Z\",\"command\":\"stop\"}",
			 seqs[i]);
		assert_int_equal(decode_signed(v, buf, &c, err, sizeof err), SUIDO_ERR_INVALID);
	}
	static const char *const issued[] = {"2026-11-22T08:00:00", "yesterday", "2026-13-01T00:00:00Z"};
	for (size_t i = 0; i < sizeof issued / sizeof *issued; i++) {
		snprintf(buf, sizeof buf,
			 "{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\","
			 "\"seq\":5,\"issued\":\"%s\",\"command\":\"stop\"}",
			 issued[i]);
		assert_int_equal(decode_signed(v, buf, &c, err, sizeof err), SUIDO_ERR_INVALID);
	}
	/* an offset instead of Z is fine */
	snprintf(buf, sizeof buf,
		 "{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\","
		 "\"seq\":5,\"issued\":\"2026-11-22T17:00:00+09:00\",\"command\":\"stop\"}");
	assert_int_equal(decode_signed(v, buf, &c, err, sizeof err), SUIDO_OK);
	assert_int_equal(c.issued_ms, 1795334400000LL);
	command_verifier_free(v);
}

static void test_limits(void **state)
{
	struct command_verifier *v = verifier(1, 0, 7);
	struct command c;
	char err[256], *big, *pad, *rest;
	size_t n = COMMAND_MAX_BYTES;

	(void)state;
	/* a token over the cap is refused unread */
	big = malloc(n + 2);
	assert_non_null(big);
	memset(big, 'A', n + 1);
	big[n + 1] = '\0';
	assert_int_equal(command_decode(v, big, n + 1, &c, err, sizeof err), SUIDO_ERR_LIMIT);
	free(big);
	/* a well-signed command whose token is over the cap */
	pad = malloc(n + 1);
	rest = malloc(n + 64);
	assert_non_null(pad);
	assert_non_null(rest);
	memset(pad, 'x', n);
	pad[n] = '\0';
	snprintf(rest, n + 64, "\"command\":\"stop\",\"pad\":\"%s\"", pad);
	{
		char json[COMMAND_MAX_BYTES * 2];
		snprintf(json, sizeof json,
			 "{\"profile\":\"suido.command/1\",\"utility\":\"demo\",\"gateway\":\"gw1\","
			 "\"seq\":5,\"issued\":\"2026-11-22T08:00:00Z\",%s}",
			 rest);
		assert_int_equal(decode_signed(v, json, &c, err, sizeof err), SUIDO_ERR_LIMIT);
	}
	free(pad);
	free(rest);
	/* resend ranges are capped */
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 5, "\"command\":\"resend\","
								  "\"from_seq\":1,\"to_seq\":100000"),
				       &c, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(decode_signed(v, cmd_json("demo", "gw1", 5, "\"command\":\"resend\","
								  "\"from_seq\":1,\"to_seq\":100001"),
				       &c, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	command_verifier_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept_and_persist, each_setup, each_teardown),
		cmocka_unit_test(test_refuses_bad_signatures),
		cmocka_unit_test(test_refuses_other_addressee),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
