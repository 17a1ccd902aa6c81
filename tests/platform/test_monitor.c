/*
 * Unit tests of gateway monitoring (monitor.h) and platform commands
 * (command.h), with time injected: the states online / silent / offline and
 * their events, the JSON views and metrics; commands checked, queued in
 * order, signed as a JWS the platform's public key verifies, with seqs that
 * only grow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "command.h"
#include "gaps.h"
#include "monitor.h"
#include "platconf.h"
#include "suido/error.h"
#include "suido/jose.h"

#define T0 1795300000000LL /* 2026-11-22T... in ms */

struct events {
	char log[1024];
	size_t n;
};

static void on_event(void *ctx, const char *utility, const char *gateway,
		     enum monitor_state from, enum monitor_state to, const char *reason, int64_t t)
{
	struct events *e = ctx;
	size_t l = strlen(e->log);

	(void)t;
	snprintf(e->log + l, sizeof e->log - l, "%s/%s:%s>%s(%s);", utility, gateway,
		 monitor_state_name(from), monitor_state_name(to), reason);
	e->n++;
}

struct view_copy {
	char state[16];
	int sending;
	unsigned interval_s;
	char health[128];
	size_t n;
};

static int copy_view(void *ctx, const struct monitor_view *v)
{
	struct view_copy *c = ctx;

	snprintf(c->state, sizeof c->state, "%s", monitor_state_name(v->state));
	c->sending = v->sending;
	c->interval_s = v->interval_s;
	snprintf(c->health, sizeof c->health, "%s", v->health);
	c->n++;
	return 0;
}

static void test_states(void **state)
{
	struct plat_gateway gws[2] = {
		{"gw1", "u1", PLAT_FORMAT_PLAIN, NULL, 1, 60},
		{"gw2", "u2", PLAT_FORMAT_PLAIN, NULL, 1, 60},
	};
	struct plat_config cfg = {0};
	struct monitor *m;
	struct events ev = {"", 0};
	struct view_copy v = {"", 0, 0, "", 0};
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	cfg.gateways = gws;
	cfg.n_gateways = 2;
	cfg.health_interval_s = 60;
	cfg.silent_intervals = 3;
	m = monitor_new(&cfg, T0);
	assert_non_null(m);
	/* not heard: offline, no event (that is the initial state) */
	monitor_tick(m, T0 + 1000, on_event, &ev);
	assert_int_equal(ev.n, 0);
	/* status online: online */
	monitor_status(m, &gws[0], 1, T0 + 2000);
	monitor_tick(m, T0 + 2000, on_event, &ev);
	assert_string_equal(ev.log, "u1/gw1:offline>online(connected);");
	/* reports keep it online; no data for 3 x 60 s after connecting: silent */
	monitor_health(m, &gws[0], "{\"cpu_percent\":1}", 17, T0 + 60000);
	monitor_health(m, &gws[0], "{\"cpu_percent\":1}", 17, T0 + 120000);
	monitor_health(m, &gws[0], "{\"cpu_percent\":2}", 17, T0 + 180000);
	monitor_tick(m, T0 + 181000, on_event, &ev);
	assert_int_equal(ev.n, 1);
	monitor_tick(m, T0 + 183000, on_event, &ev);
	assert_int_equal(ev.n, 2);
	assert_non_null(strstr(ev.log, "u1/gw1:online>silent(no data for 181 s (3 intervals of 60 s));"));
	/* data: online again */
	monitor_data(m, &gws[0], T0 + 184000);
	monitor_tick(m, T0 + 184000, on_event, &ev);
	assert_non_null(strstr(ev.log, "u1/gw1:silent>online(data arriving);"));
	/* stopped by command: no data is fine */
	monitor_sending(m, &gws[0], 0, 0, T0 + 185000);
	monitor_health(m, &gws[0], "{\"cpu_percent\":3}", 17, T0 + 400000);
	monitor_tick(m, T0 + 400000, on_event, &ev);
	assert_int_equal(ev.n, 3);
	/* nothing heard for 3 health intervals: offline */
	monitor_tick(m, T0 + 400000 + 181000, on_event, &ev);
	assert_non_null(strstr(ev.log, "u1/gw1:online>offline(nothing heard for 181 s);"));
	/* a report brings it back; the last will (status offline) takes it down */
	monitor_health(m, &gws[0], "{\"cpu_percent\":4}", 17, T0 + 600000);
	monitor_tick(m, T0 + 600000, on_event, &ev);
	monitor_status(m, &gws[0], 0, T0 + 601000);
	monitor_tick(m, T0 + 601000, on_event, &ev);
	assert_non_null(strstr(ev.log, "u1/gw1:online>offline(status offline);"));
	assert_null(strstr(ev.log, "gw2"));

	/* views: only the asked utility, with the last report as given */
	assert_int_equal(monitor_each(m, "u1", copy_view, &v), SUIDO_OK);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.state, "offline");
	assert_int_equal(v.sending, 0);
	assert_int_equal(v.interval_s, 60);
	assert_string_equal(v.health, "{\"cpu_percent\":4}");
	v.n = 0;
	assert_int_equal(monitor_each(m, "nobody", copy_view, &v), SUIDO_OK);
	assert_int_equal(v.n, 0);
	/* a report over the cap is not kept cut */
	{
		char big[MONITOR_HEALTH_MAX + 10];
		memset(big, 'x', sizeof big);
		monitor_health(m, &gws[1], big, sizeof big, T0 + 700000);
		v.n = 0;
		assert_int_equal(monitor_each(m, "u2", copy_view, &v), SUIDO_OK);
		assert_string_equal(v.health, "");
	}
	monitor_render_metrics(m, &sb);
	assert_non_null(strstr(sb.data, "suido_platform_gateway_state{utility=\"u1\",gateway=\"gw1\","
					 "state=\"offline\"} 1\n"));
	assert_non_null(strstr(sb.data, "suido_platform_gateway_state{utility=\"u1\",gateway=\"gw1\","
					 "state=\"online\"} 0\n"));
	strbuf_free(&sb);
	monitor_free(m);
}

static void test_commands(void **state)
{
	struct command_queue *q = command_queue_new();
	struct command c = {COMMAND_START, "u1", "gw1", 60, 0, 0, "test"}, got;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	struct jose_key *key = NULL;
	char err[256], *jws = NULL, *payload = NULL, *kid = NULL;
	uint64_t last = 0, seq = 0, seq2 = 0;
	size_t plen = 0;
	json_t *j;

	(void)state;
	assert_non_null(q);
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_OK);
	c.kind = COMMAND_RESEND;
	c.from_seq = 5;
	c.to_seq = 3;
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_ERR_INVALID);
	c.to_seq = 5 + COMMAND_RESEND_MAX;
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_ERR_INVALID);
	c.to_seq = 9;
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_OK);
	c.kind = COMMAND_START;
	c.interval_s = 0;
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_ERR_INVALID);
	c.interval_s = 60;
	snprintf(c.gateway, sizeof c.gateway, "bad/id");
	assert_int_equal(command_post(q, &c, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(command_take(q, &got), 1);
	assert_int_equal(got.kind, COMMAND_START);
	assert_int_equal(command_take(q, &got), 1);
	assert_int_equal(got.kind, COMMAND_RESEND);
	assert_int_equal(command_take(q, &got), 0);
	assert_int_equal(command_parse_kind("stop"), COMMAND_STOP);
	assert_int_equal(command_parse_kind("reboot"), -1);

	/* signed: the platform's public key verifies it, kid "platform" */
	assert_non_null(kc);
	assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048), 1);
	assert_int_equal(EVP_PKEY_keygen(kc, &pk), 1);
	assert_int_equal(jose_key_from_pkey(pk, &key, err, sizeof err), SUIDO_OK);
	assert_int_equal(command_sign(&got, key, T0, &last, &seq, &jws, err, sizeof err), SUIDO_OK);
	assert_int_equal(seq, (uint64_t)T0);
	assert_int_equal(jose_verify(jws, strlen(jws), key, 0, &payload, &plen, &kid, err,
				     sizeof err),
			 SUIDO_OK);
	assert_string_equal(kid, "platform");
	j = json_loadb(payload, plen, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "profile")), "suido.command/1");
	assert_string_equal(json_string_value(json_object_get(j, "command")), "resend");
	assert_int_equal(json_integer_value(json_object_get(j, "from_seq")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "to_seq")), 9);
	assert_string_equal(json_string_value(json_object_get(j, "gateway")), "gw1");
	json_decref(j);
	free(jws);
	/* the clock did not move (or went back): the seq still grows */
	assert_int_equal(command_sign(&got, key, T0 - 5000, &last, &seq2, &jws, err, sizeof err),
			 SUIDO_OK);
	assert_true(seq2 == seq + 1);
	free(jws);
	free(payload);
	free(kid);
	jose_key_free(key);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(kc);
	command_queue_free(q);
}

struct asked {
	char log[512];
};

static void on_ask(void *ctx, const struct plat_gateway *gw, uint64_t from, uint64_t to)
{
	struct asked *a = ctx;
	size_t l = strlen(a->log);

	snprintf(a->log + l, sizeof a->log - l, "%s:%llu-%llu;", gw->id, (unsigned long long)from,
		 (unsigned long long)to);
}

static void test_gaps(void **state)
{
	struct plat_gateway gws[2] = {
		{"gw1", "u1", PLAT_FORMAT_PLAIN, NULL, 1, 60},
		{"gw2", "u1", PLAT_FORMAT_PLAIN, NULL, 1, 60},
	};
	struct plat_config cfg = {0};
	struct gaps *g;
	struct asked a = {""};

	(void)state;
	cfg.gateways = gws;
	cfg.n_gateways = 2;
	g = gaps_new(&cfg, 30000);
	assert_non_null(g);
	/* the first message after the start sets the base: nothing before is asked */
	gaps_seen(g, &gws[0], 100, 5, T0);
	gaps_seen(g, &gws[0], 100, 6, T0);
	gaps_seen(g, &gws[0], 100, 8, T0);
	gaps_seen(g, &gws[0], 100, 10, T0 + 1000);
	gaps_tick(g, T0 + 29000, on_ask, &a);
	assert_string_equal(a.log, "");           /* within the grace: the gateway resends first */
	gaps_tick(g, T0 + 30000, on_ask, &a);
	assert_string_equal(a.log, "gw1:7-9;");   /* 8 arrived but is in the range: a duplicate */
	gaps_seen(g, &gws[0], 100, 7, T0 + 31000);
	gaps_tick(g, T0 + 59000, on_ask, &a);
	assert_string_equal(a.log, "gw1:7-9;");   /* only after another grace */
	gaps_tick(g, T0 + 60000, on_ask, &a);
	assert_string_equal(a.log, "gw1:7-9;gw1:9-9;");
	gaps_seen(g, &gws[0], 100, 9, T0 + 62000);
	gaps_tick(g, T0 + 200000, on_ask, &a);
	assert_string_equal(a.log, "gw1:7-9;gw1:9-9;");   /* complete: nothing more */
	/* far ahead of the window: what was jumped over is asked for too */
	gaps_seen(g, &gws[0], 100, 11 + GAPS_WINDOW + 5, T0 + 300000);
	a.log[0] = '\0';
	gaps_tick(g, T0 + 330000, on_ask, &a);
	assert_string_equal(a.log, "gw1:11-16;gw1:17-4111;");
	/* an old epoch's message changes nothing; a new epoch starts at seq 1 */
	a.log[0] = '\0';
	gaps_seen(g, &gws[1], 7, 3, T0);
	gaps_seen(g, &gws[1], 6, 50, T0);
	gaps_seen(g, &gws[1], 8, 2, T0);
	gaps_tick(g, T0 + 40000, on_ask, &a);
	assert_string_equal(a.log, "gw2:1-1;");
	/* primed from the store after a restart: the holes it has are asked for */
	{
		static const uint64_t stored[] = {5, 1, 3};
		a.log[0] = '\0';
		assert_false(gaps_known(g, &gws[0], 200));
		gaps_prime(g, &gws[0], 200, stored, 3, T0);
		assert_true(gaps_known(g, &gws[0], 200));
		gaps_seen(g, &gws[0], 200, 6, T0);
		gaps_tick(g, T0 + 30000, on_ask, &a);
		assert_string_equal(a.log, "gw1:2-4;");
		/* an epoch the store holds nothing of: everything before is a gap */
		a.log[0] = '\0';
		gaps_prime(g, &gws[1], 300, NULL, 0, T0);
		gaps_seen(g, &gws[1], 300, 4, T0);
		gaps_tick(g, T0 + 30000, on_ask, &a);
		assert_string_equal(a.log, "gw2:1-3;");
	}
	gaps_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
