/*
 * Unit tests of the GW interface ingest (ingest.h) with the sealed transport
 * (gwkeys.h): a CA made in a mkdtemp directory issues the platform's and four
 * gateways' data-protection certificates (one revoked, in the CRL; one
 * registered with format = plain), and ingest_store_batch is fed one batch of
 * messages sealed by lib/jose.c as a gateway would, unsealed, sealed under
 * another gateway's kid or key, from the revoked gateway, and bit-flipped.
 * Asserted: each ack (status, id, reason), the metrics, and that only the
 * legitimate messages are in the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwkeys.h"
#include "ingest.h"
#include "metrics.h"
#include "platconf.h"
#include "suido/ca.h"
#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/jose.h"
#include "suido/profile.h"
#include "suido/store.h"
#include "suido/strbuf.h"

#define N_GW 4 /* gw1, gw2 valid; gw3 revoked; gw4 plain */

struct env {
	char dir[64];
	struct jose_key *gw_key[N_GW];
	struct jose_key *platform_pub;
};

static struct env E;

static void write_file(const char *name, const char *text)
{
	char err[256];

	if (fsutil_write_atomic(E.dir, name, text, strlen(text), err, sizeof err) != SUIDO_OK)
		fail_msg("write %s: %s", name, err);
}

static struct jose_key *jose_of_key_pem(const char *pem)
{
	EVP_PKEY *k = NULL;
	struct jose_key *j = NULL;
	char err[256];

	assert_int_equal(cert_key_load_pem(pem, strlen(pem), &k, err, sizeof err), SUIDO_OK);
	assert_int_equal(jose_key_from_pkey(k, &j, err, sizeof err), SUIDO_OK);
	EVP_PKEY_free(k);
	return j;
}

static int setup(void **state)
{
	static const char *const gws[N_GW] = {"gw1", "gw2", "gw3", "gw4"};
	char path[128], name[64], serial[CA_SERIAL_HEX_SIZE], err[512];
	char *key_pem = NULL, *cert_pem = NULL, *crl = NULL;
	struct ca *ca = NULL;
	X509 *cert = NULL;

	(void)state;
	snprintf(E.dir, sizeof E.dir, "/tmp/suido-ingest-XXXXXX");
	assert_non_null(mkdtemp(E.dir));
	snprintf(path, sizeof path, "%s/ca", E.dir);
	assert_int_equal(ca_init(path, "test root", 3650, NULL, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_open(path, &ca, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_issue(ca, CA_PROFILE_PLATFORM, CERT_USE_DATA_PROTECTION, "platform",
				  NULL, 30, &key_pem, &cert_pem, serial, err, sizeof err),
			 SUIDO_OK);
	write_file("platform.key", key_pem);
	assert_int_equal(cert_load_pem(cert_pem, strlen(cert_pem), &cert, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(jose_key_from_pkey(X509_get0_pubkey(cert), &E.platform_pub, err,
					    sizeof err),
			 SUIDO_OK);
	X509_free(cert);
	cert_key_pem_free(key_pem);
	free(cert_pem);
	for (int i = 0; i < N_GW; i++) {
		assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_DATA_PROTECTION, gws[i],
					  NULL, 30, &key_pem, &cert_pem, serial, err, sizeof err),
				 SUIDO_OK);
		snprintf(name, sizeof name, "%s.crt", gws[i]);
		write_file(name, cert_pem);
		E.gw_key[i] = jose_of_key_pem(key_pem);
		if (i == 2)
			assert_int_equal(ca_revoke(ca, serial, CA_REASON_KEY_COMPROMISE, err,
						   sizeof err),
					 SUIDO_OK);
		cert_key_pem_free(key_pem);
		free(cert_pem);
	}
	assert_int_equal(ca_crl(ca, 30, &crl, err, sizeof err), SUIDO_OK);
	write_file("crl.pem", crl);
	free(crl);
	ca_close(ca);
	{
		char conf[2048];
		snprintf(conf, sizeof conf,
			 "[platform]\ndatabase = %s/platform.db\n"
			 "[security]\nkey = platform.key\nca = ca/ca.crt\ncrl = crl.pem\n"
			 "[utility demo]\n"
			 "[gateway gw1]\nutility = demo\ncertificate = gw1.crt\n"
			 "[gateway gw2]\nutility = demo\nformat = json\ncertificate = gw2.crt\n"
			 "[gateway gw3]\nutility = demo\ncertificate = gw3.crt\n"
			 "[gateway gw4]\nutility = demo\nformat = plain\n",
			 E.dir);
		write_file("platform.conf", conf);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	for (int i = 0; i < N_GW; i++)
		jose_key_free(E.gw_key[i]);
	jose_key_free(E.platform_pub);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The data message of gateway gw with sequence seq and one point. */
static char *message(const char *gw, int seq)
{
	char *s = malloc(512);

	assert_non_null(s);
	snprintf(s, 512,
		 "{\"profile\":\"suido.data/1\",\"id\":\"%s:1:%d\",\"utility\":\"demo\","
		 "\"gateway\":\"%s\",\"items\":[{\"id\":\"it.%d\",\"name\":\"n%d\"}],"
		 "\"points\":[[0,\"2026-11-22T00:00:00Z\",%d]]}",
		 gw, seq, gw, seq, seq, seq);
	return s;
}

static char *sealed(const char *plain, int signer, const char *kid)
{
	char *tok = NULL, err[256];

	assert_int_equal(jose_seal(plain, strlen(plain), E.gw_key[signer], kid, E.platform_pub,
				   0, &tok, err, sizeof err),
			 SUIDO_OK);
	return tok;
}

struct copied {
	char *data;
	size_t len;
};

static void copy_original(void *ctx, const void *data, size_t len)
{
	struct copied *c = ctx;

	c->data = malloc(len + 1);
	assert_non_null(c->data);
	memcpy(c->data, data, len);
	c->data[len] = '\0';
	c->len = len;
}

static void test_sealed_transport(void **state)
{
	enum { N = 10 };
	struct plat_config *cfg = NULL;
	struct gwkeys *keys = NULL;
	struct store *st = NULL;
	struct metrics *m = metrics_new();
	struct ingest *in = NULL;
	const char *topics[N];
	const void *payloads[N];
	size_t lens[N];
	char *owned[N] = {0};
	char ack_topic[N][256], path[128], err[512];
	struct strbuf acks[N];
	const char *gw1 = "suido/v1/demo/gw1/data";
	char *flip;
	int64_t points = -1;

	(void)state;
	assert_non_null(m);
	snprintf(path, sizeof path, "%s/platform.conf", E.dir);
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_OK);
	assert_int_equal(cfg->gateways[3].format, PLAT_FORMAT_PLAIN);
	assert_int_equal(gwkeys_load(cfg, &keys, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_open_sqlite(cfg->database, &st, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_begin(st), SUIDO_OK);
	assert_int_equal(store_put_utility(st, "demo", "demo"), SUIDO_OK);
	for (size_t i = 0; i < cfg->n_gateways; i++)
		assert_int_equal(store_put_gateway(st, "demo", cfg->gateways[i].id), SUIDO_OK);
	assert_int_equal(store_commit(st), SUIDO_OK);
	assert_int_equal(ingest_new(cfg, keys, st, m, &in, err, sizeof err), SUIDO_OK);

	char *m1 = message("gw1", 1), *m2 = message("gw1", 2), *m3 = message("gw3", 3);
	char *m4 = message("gw4", 4), *m5 = message("gw1", 5);
	/* 0 stored, 1 duplicate (a fresh token of the same message) */
	owned[0] = sealed(m1, 0, "gw1");
	owned[1] = sealed(m1, 0, "gw1");
	/* 2 unsealed */
	owned[2] = strdup(m2);
	/* 3 another registered gateway's seal on gw1's topic */
	owned[3] = sealed(m2, 1, "gw2");
	/* 4 another gateway's key under gw1's kid */
	owned[4] = sealed(m2, 1, "gw1");
	/* 5 the revoked gateway, correctly sealed */
	owned[5] = sealed(m3, 2, "gw3");
	/* 6 one character of the ciphertext changed */
	owned[6] = flip = sealed(m5, 0, "gw1");
	{
		char *p = strchr(strchr(strchr(strchr(flip, '.') + 1, '.') + 1, '.') + 1, '.');
		p -= 5; /* inside the ciphertext */
		*p = *p == 'A' ? 'B' : 'A';
	}
	/* 7 a plain gateway, unsealed: stored */
	owned[7] = strdup(m4);
	/* 8 sealed garbage from gw1: opened, then refused by the decoder */
	owned[8] = sealed("{not json", 0, "gw1");
	/* 9 an unregistered gateway */
	owned[9] = sealed(m1, 0, "ghost");
	for (int i = 0; i < N; i++) {
		assert_non_null(owned[i]);
		topics[i] = gw1;
		payloads[i] = owned[i];
		lens[i] = strlen(owned[i]);
		acks[i] = (struct strbuf){.limit = 4096};
	}
	topics[5] = "suido/v1/demo/gw3/data";
	topics[7] = "suido/v1/demo/gw4/data";
	topics[9] = "suido/v1/demo/ghost/data";
	assert_int_equal(ingest_store_batch(in, N, topics, payloads, lens, ack_topic, acks),
			 SUIDO_OK);

	static const struct {
		enum profile_ack_status st;
		const char *id, *reason;
	} want[N] = {
		{PROFILE_ACK_STORED, "gw1:1:1", ""},
		{PROFILE_ACK_DUPLICATE, "gw1:1:1", ""},
		{PROFILE_ACK_REJECTED, "", "not a sealed message"},
		{PROFILE_ACK_REJECTED, "", "signed as gw2 but came on gw1"},
		{PROFILE_ACK_REJECTED, "", "signature"},
		{PROFILE_ACK_REJECTED, "", "revoked"},
		{PROFILE_ACK_REJECTED, "", "sealed message refused"},
		{PROFILE_ACK_STORED, "gw4:1:4", ""},
		{PROFILE_ACK_REJECTED, "", "not JSON"},
		{PROFILE_ACK_REJECTED, "", "not registered"},
	};
	for (int i = 0; i < N; i++) {
		char id[PROFILE_ID_MAX + 1], reason[512];
		enum profile_ack_status s;
		assert_true(ack_topic[i][0] != '\0');
		assert_int_equal(profile_ack_decode(acks[i].data, acks[i].len, id, sizeof id, &s,
						    reason, sizeof reason),
				 SUIDO_OK);
		if (s != want[i].st || strcmp(id, want[i].id) != 0 ||
		    !strstr(reason, want[i].reason))
			fail_msg("message %d: ack %.*s", i, (int)acks[i].len, acks[i].data);
	}
	assert_string_equal(ack_topic[5], "suido/v1/demo/gw3/ack");
	assert_int_equal(metrics_get(m, MET_MSG_STORED), 2);
	assert_int_equal(metrics_get(m, MET_MSG_DUPLICATE), 1);
	assert_int_equal(metrics_get(m, MET_MSG_REFUSED_SECURITY), 5);
	assert_int_equal(metrics_get(m, MET_MSG_REJECTED), 7);
	assert_int_equal(store_count_points(st, "demo", &points), SUIDO_OK);
	assert_int_equal(points, 2);

	/* The stored sealed message keeps the JWS it was verified from, as the
	 * first token carried it (the duplicate's fresh seal changes nothing);
	 * the plain gateway's message has no original. */
	{
		char *jws = NULL, *pl = NULL;
		size_t n = 0;
		struct copied got = {0};
		assert_int_equal(jose_decrypt(owned[0], strlen(owned[0]), gwkeys_platform(keys), 0, &jws,
					      &n, err, sizeof err),
				 SUIDO_OK);
		assert_int_equal(store_get_original(st, "demo", "gw1:1:1", copy_original, &got),
				 SUIDO_OK);
		assert_int_equal(got.len, n);
		assert_memory_equal(got.data, jws, n);
		assert_int_equal(jose_verify(got.data, got.len, E.gw_key[0], 0, &pl, &n, NULL, err,
					     sizeof err),
				 SUIDO_OK);
		assert_string_equal(pl, m1);
		free(pl);
		free(jws);
		free(got.data);
		assert_int_equal(store_get_original(st, "demo", "gw4:1:4", copy_original, &got),
				 SUIDO_ERR_NOTFOUND);
	}

	for (int i = 0; i < N; i++) {
		free(owned[i]);
		strbuf_free(&acks[i]);
	}
	free(m1);
	free(m2);
	free(m3);
	free(m4);
	free(m5);
	ingest_free(in);
	store_close(st);
	gwkeys_free(keys);
	plat_config_free(cfg);
	metrics_free(m);
}

/* The ingest's item cache: an item whose name changes A -> B -> A ends as A
 * (a cached stale entry must not skip the third upsert), and its values all
 * land on the one item. */
struct name_seen {
	char name[32];
};

static int item_name(void *ctx, const struct store_item *it)
{
	snprintf(((struct name_seen *)ctx)->name, sizeof ((struct name_seen *)ctx)->name, "%s",
		 it->name);
	return 0;
}

static void test_item_cache(void **state)
{
	struct plat_config *cfg = NULL;
	struct gwkeys *keys = NULL;
	struct store *st = NULL;
	struct metrics *m = metrics_new();
	struct ingest *in = NULL;
	char path[128], err[512];
	static const char *const names[] = {"A", "B", "A", "A"};
	struct name_seen seen = {""};
	int64_t points = -1;

	(void)state;
	snprintf(path, sizeof path, "%s/platform.conf", E.dir);
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_OK);
	snprintf(path, sizeof path, "%s/cache.db", E.dir);
	free(cfg->database);
	cfg->database = strdup(path);
	assert_int_equal(gwkeys_load(cfg, &keys, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_open_sqlite(cfg->database, &st, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_begin(st), SUIDO_OK);
	assert_int_equal(store_put_utility(st, "demo", "demo"), SUIDO_OK);
	assert_int_equal(store_put_gateway(st, "demo", "gw4"), SUIDO_OK);
	assert_int_equal(store_commit(st), SUIDO_OK);
	assert_int_equal(ingest_new(cfg, keys, st, m, &in, err, sizeof err), SUIDO_OK);
	for (int k = 0; k < 4; k++) {
		char msg[512], ack_topic[1][256];
		const char *topic = "suido/v1/demo/gw4/data";
		const void *payload = msg;
		size_t len;
		struct strbuf ack = {.limit = 4096};

		snprintf(msg, sizeof msg,
			 "{\"profile\":\"suido.data/1\",\"id\":\"gw4:7:%d\",\"utility\":\"demo\","
			 "\"gateway\":\"gw4\",\"items\":[{\"id\":\"x\",\"name\":\"%s\"}],"
			 "\"points\":[[0,\"2026-11-22T00:0%d:00Z\",%d]]}",
			 k, names[k], k, k);
		len = strlen(msg);
		assert_int_equal(ingest_store_batch(in, 1, &topic, &payload, &len, ack_topic, &ack),
				 SUIDO_OK);
		assert_non_null(strstr(ack.data, "stored"));
		strbuf_free(&ack);
		assert_int_equal(store_get_item(st, "demo", "x", item_name, &seen), SUIDO_OK);
		assert_string_equal(seen.name, names[k]);
	}
	assert_int_equal(store_count_points(st, "demo", &points), SUIDO_OK);
	assert_int_equal(points, 4);
	ingest_free(in);
	store_close(st);
	gwkeys_free(keys);
	plat_config_free(cfg);
	metrics_free(m);
}

/* Configuration errors of the sealed transport. */
static void test_config(void **state)
{
	struct plat_config *cfg = NULL;
	char path[128], err[512];

	(void)state;
	snprintf(path, sizeof path, "%s/bad.conf", E.dir);
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[gateway gw1]\nutility = demo\ncertificate = gw1.crt\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "missing [security] section"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[gateway gw1]\nutility = demo\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "certificate: required key missing"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[gateway gw1]\nutility = demo\nformat = sealed\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "expected json, xml or plain"));
	/* static tokens and an application's utility moved to the registry: a
	 * clear message, not "unknown key"; a certificate needs the keys */
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[application a1]\nutility = demo\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "[application a1] utility: moved to the registry"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[application a1]\napi_token_sha256 = 12\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "api_token_sha256: moved to the registry"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "api_token_sha256 = 12\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "static tokens are gone"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[application a1]\ncertificate = a1.crt\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "key and ca are required when an application has a certificate"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[oidc]\nexternal_issuer = https://kc\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "external_jwks is required"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[oidc]\naccess_ttl_s = 5\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "[oidc] access_ttl_s"));
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[files]\nmax_bytes = 0\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "[files] max_bytes"));
	/* plain only: no keys needed, none loaded */
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[utility demo]\n"
			       "[gateway gw1]\nutility = demo\nformat = plain\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_OK);
	{
		struct gwkeys *k = NULL;
		assert_int_equal(gwkeys_load(cfg, &k, err, sizeof err), SUIDO_OK);
		assert_null(gwkeys_platform(k));
		gwkeys_free(k);
	}
	plat_config_free(cfg);
	/* a certificate file that is missing is a start-up error */
	write_file("bad.conf", "[platform]\ndatabase = x.db\n[security]\nkey = platform.key\n"
			       "ca = ca/ca.crt\n[utility demo]\n"
			       "[gateway gw1]\nutility = demo\ncertificate = nope.crt\n");
	assert_int_equal(plat_config_load(path, &cfg, err, sizeof err), SUIDO_OK);
	{
		struct gwkeys *k = NULL;
		assert_int_equal(gwkeys_load(cfg, &k, err, sizeof err), SUIDO_ERR_NOTFOUND);
		assert_non_null(strstr(err, "nope.crt"));
		assert_null(k);
	}
	plat_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_transport),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_item_cache),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
