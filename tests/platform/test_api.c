/*
 * Unit tests of the AP interface (api.h): the server runs in this process
 * on a loopback port chosen by the kernel, over a SQLite store filled
 * through the store API in a mkdtemp directory, and is queried with libcurl.
 * Access tokens come from the OpenID provider (oidc.h) attached to the
 * server, by client credentials over HTTP, for two applications each
 * granted one utility in a registry of the same directory.
 * Covered: the exact JSON shapes, pagination that visits every point once,
 * the 401/403 matrix (including a token of application A on B's item of the
 * same id), 400/404/405/413/414 answers, keep-alive, aggregates in Asia/Tokyo whose day and
 * month buckets start at 15:00 UTC, /metrics counters, /healthz, concurrent
 * clients over the worker pool, data committed after start, and the 503
 * answers when the store cannot be opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api.h"
#include "metrics.h"
#include "suido/error.h"
#include "suido/store.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

/* Access tokens of applications app-a (granted u-a) and app-b (granted
 * u-b), got from the provider's token endpoint with client credentials. */
#define TOKEN_A E.token_a
#define AUTH_A E.auth_a
#define AUTH_B E.auth_b
#define JSON_TYPE "application/json; charset=utf-8"
#define N_FLOW 98 /* points of utility A's "flow" */

struct env {
	char dir[64];
	char path[128];
	struct api_config cfg;
	struct registry *reg;
	struct oidc *oidc;
	struct admin *admin;
	char token_a[4096], auth_a[4200], auth_b[4200];
	char secret_a[REG_SECRET_TEXT], secret_b[REG_SECRET_TEXT];
	struct metrics *m;
	struct api *api;
	int opens;          /* store_open calls */
	int fail_open;      /* make store_open fail */
	char base[64];      /* http://127.0.0.1:port */
};

static struct env E;

static int open_store(void *ctx, struct store **out)
{
	struct env *e = ctx;
	char err[256];

	__atomic_add_fetch(&e->opens, 1, __ATOMIC_SEQ_CST);
	if (e->fail_open)
		return SUIDO_ERR_IO;
	return store_open_sqlite(e->path, out, err, sizeof err);
}


static int64_t t_of(const char *iso)
{
	int64_t ms;
	char err[128];

	if (timeutil_parse(iso, strlen(iso), "iso8601", &ms, err, sizeof err) != SUIDO_OK)
		fail_msg("parse %s: %s", iso, err);
	return ms;
}

/*
 * Utility u-a: "flow" every 30 min for 48 h from 2026-11-19T15:00:00Z
 * (midnight JST) with v = i + 0.5, plus 242 at 2026-11-30T14:30:00Z (still
 * November in Tokyo) and 1000 at 2026-11-30T15:00:00Z (December 1st in
 * Tokyo); "level" without points; "水位 1" with one point.
 * Utility u-b: its own "flow" (v = 7) and "secret-b".
 */
static void populate(const char *path)
{
	struct store *s = NULL;
	char err[256];
	int64_t k_flow, k_level, k_suii, k_bflow, k_secret;
	struct store_item flow = {"flow", "Flow", "m3/h", "Plant 1"};
	struct store_item level = {"level", "Level \"L1\"", "m", ""};
	struct store_item suii = {"水位 1", "水位", "m", "浄水場"};
	struct store_item bflow = {"flow", "B flow", "L/s", "B plant"};
	struct store_item secret = {"secret-b", "Secret", "", ""};
	int64_t t0 = t_of("2026-11-19T15:00:00Z");

	assert_int_equal(store_open_sqlite(path, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_begin(s), SUIDO_OK);
	assert_int_equal(store_put_utility(s, "u-a", "Utility A"), SUIDO_OK);
	assert_int_equal(store_put_utility(s, "u-b", "Utility B"), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-a", &flow, &k_flow), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-a", &level, &k_level), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-a", &suii, &k_suii), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-b", &bflow, &k_bflow), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-b", &secret, &k_secret), SUIDO_OK);
	for (int i = 0; i < 96; i++)
		assert_int_equal(store_put_point(s, k_flow, t0 + i * 1800000LL, i + 0.5), SUIDO_OK);
	assert_int_equal(store_put_point(s, k_flow, t_of("2026-11-30T14:30:00Z"), 242), SUIDO_OK);
	assert_int_equal(store_put_point(s, k_flow, t_of("2026-11-30T15:00:00Z"), 1000), SUIDO_OK);
	assert_int_equal(store_put_point(s, k_suii, t_of("2026-11-20T00:00:00.250Z"), -0.25),
			 SUIDO_OK);
	assert_int_equal(store_put_point(s, k_bflow, t0, 7), SUIDO_OK);
	assert_int_equal(store_put_point(s, k_secret, t0, 8), SUIDO_OK);
	assert_int_equal(store_commit(s), SUIDO_OK);
	store_close(s);
}

/* Tenants u-a and u-b (utilities), vendor v linked to both, app-a granted
 * u-a and app-b granted u-b (all items). */
static int provision(struct registry *r)
{
	struct reg_tenant t = {"u-a", REG_UTILITY, "Utility A", 0};
	struct reg_app app;
	uint64_t now = timeutil_now_ms();
	char err[256];

	if (registry_tenant_add(r, "test", &t, now, err, sizeof err) != SUIDO_OK)
		goto fail;
	snprintf(t.id, sizeof t.id, "u-b");
	if (registry_tenant_add(r, "test", &t, now, err, sizeof err) != SUIDO_OK)
		goto fail;
	snprintf(t.id, sizeof t.id, "v");
	t.kind = REG_VENDOR;
	if (registry_tenant_add(r, "test", &t, now, err, sizeof err) != SUIDO_OK ||
	    registry_link_add(r, "test", "u-a", "v", now, err, sizeof err) != SUIDO_OK ||
	    registry_link_add(r, "test", "u-b", "v", now, err, sizeof err) != SUIDO_OK)
		goto fail;
	memset(&app, 0, sizeof app);
	snprintf(app.id, sizeof app.id, "app-a");
	snprintf(app.vendor, sizeof app.vendor, "v");
	snprintf(app.name, sizeof app.name, "A");
	snprintf(app.redirect_uris, sizeof app.redirect_uris, "[]");
	if (registry_app_add(r, "test", &app, E.secret_a, now, err, sizeof err) != SUIDO_OK)
		goto fail;
	snprintf(app.id, sizeof app.id, "app-b");
	if (registry_app_add(r, "test", &app, E.secret_b, now, err, sizeof err) != SUIDO_OK ||
	    registry_grant_set(r, "test", "app-a", "u-a", "{\"all\":true}", now, err,
			       sizeof err) != SUIDO_OK ||
	    registry_grant_set(r, "test", "app-b", "u-b", "{\"all\":true}", now, err,
			       sizeof err) != SUIDO_OK)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "provision: %s\n", err);
	return -1;
}

static size_t on_token(char *p, size_t size, size_t n, void *ctx)
{
	strbuf_append(ctx, p, size * n);
	return size * n;
}

/* An access token for client id by client credentials at the real endpoint. */
static int client_token(const char *id, const char *secret, char *out, size_t outlen)
{
	struct strbuf url = STRBUF_INIT, body = STRBUF_INIT;
	CURL *c = curl_easy_init();
	json_t *j = NULL;
	int rc = -1;

	strbuf_printf(&url, "%s/oidc/token", E.base);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_USERNAME, id);
	curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_token);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(c) == CURLE_OK && body.data &&
	    (j = json_loads(body.data, 0, NULL)) &&
	    json_is_string(json_object_get(j, "access_token")) &&
	    strlen(json_string_value(json_object_get(j, "access_token"))) < outlen) {
		snprintf(out, outlen, "%s", json_string_value(json_object_get(j, "access_token")));
		rc = 0;
	} else {
		fprintf(stderr, "token for %s: %s\n", id, body.data ? body.data : "(none)");
	}
	json_decref(j);
	curl_easy_cleanup(c);
	strbuf_free(&url);
	strbuf_free(&body);
	return rc;
}

static int group_setup(void **state)
{
	char err[256], p[160];
	struct oidc_config oc;

	(void)state;
	if (timeutil_set_zone("Asia/Tokyo") != SUIDO_OK)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	snprintf(E.dir, sizeof E.dir, "/tmp/suido-api-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	snprintf(E.path, sizeof E.path, "%s/platform.db", E.dir);
	populate(E.path);
	snprintf(p, sizeof p, "%s/registry.db", E.dir);
	if (registry_open(p, &E.reg, err, sizeof err) != SUIDO_OK || provision(E.reg) != 0)
		return -1;
	E.cfg = (struct api_config){
		.listen_addr = "127.0.0.1",
		.port = 0,
		.threads = 3,
		.page_default = 10,
		.page_max = 50,
		.registry = E.reg,
		.store_open = open_store,
		.store_ctx = &E,
	};
	E.m = metrics_new();
	if (!E.m)
		return -1;
	if (api_start(&E.cfg, E.m, &E.api, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "api_start: %s\n", err);
		return -1;
	}
	snprintf(E.base, sizeof E.base, "http://127.0.0.1:%u", (unsigned)api_port(E.api));
	oidc_config_defaults(&oc);
	snprintf(p, sizeof p, "%s/keys", E.dir);
	oc.issuer = E.base;
	oc.keys_dir = p;
	oc.registry = E.reg;
	if (oidc_create(&oc, timeutil_now_ms(), &E.oidc, err, sizeof err) != SUIDO_OK ||
	    admin_create(E.reg, &oc.policy, NULL, E.base, &E.admin) != SUIDO_OK) {
		fprintf(stderr, "oidc_create: %s\n", err);
		return -1;
	}
	api_attach(E.api, E.oidc, E.admin);
	if (client_token("app-a", E.secret_a, E.token_a, sizeof E.token_a) != 0 ||
	    client_token("app-b", E.secret_b, E.auth_b + 22, sizeof E.auth_b - 22) != 0)
		return -1;
	snprintf(E.auth_a, sizeof E.auth_a, "Authorization: Bearer %s", E.token_a);
	memcpy(E.auth_b, "Authorization: Bearer ", 22);
	return 0;
}

static int group_teardown(void **state)
{
	char p[160];

	(void)state;
	api_stop(E.api);
	admin_free(E.admin);
	oidc_free(E.oidc);
	registry_close(E.reg);
	metrics_free(E.m);
	unlink(E.path);
	snprintf(p, sizeof p, "%s-wal", E.path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", E.path);
	unlink(p);
	rmdir(E.dir);
	curl_global_cleanup();
	return 0;
}

struct answer {
	long status;
	struct strbuf body;
	struct strbuf headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	strbuf_append(ctx, p, size * n);
	return size * n;
}

static void answer_free(struct answer *a)
{
	strbuf_free(&a->body);
	strbuf_free(&a->headers);
}

/* Sends method (NULL = GET) to base + target with an optional header line.
 * Returns the curl result; no cmocka assert, so threads may call it. */
static CURLcode try_request_to(const char *base, const char *method, const char *target,
			       const char *header, struct answer *a)
{
	CURL *c;
	struct curl_slist *h = NULL;
	struct strbuf url = STRBUF_INIT;
	CURLcode rc;

	memset(a, 0, sizeof *a);
	c = curl_easy_init();
	if (!c)
		return CURLE_FAILED_INIT;
	strbuf_puts(&url, base);
	strbuf_puts(&url, target);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	if (method && strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (method && strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
	} else if (method && strncmp(method, "GET+", 4) == 0) {
		/* a GET carrying a body of that many bytes */
		size_t n = (size_t)atol(method + 4);
		char *big = malloc(n + 1);
		if (big) {
			memset(big, 'x', n);
			big[n] = '\0';
			curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, big);
			free(big);
		}
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
	} else if (method) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (header) {
		h = curl_slist_append(NULL, header);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	if (!a->body.data)
		strbuf_puts(&a->body, "");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	strbuf_free(&url);
	return rc;
}

static void request_to(const char *base, const char *method, const char *target,
		       const char *header, struct answer *a)
{
	assert_int_equal(try_request_to(base, method, target, header, a), CURLE_OK);
}

static void request(const char *method, const char *target, const char *header,
		    struct answer *a)
{
	request_to(E.base, method, target, header, a);
}

/* The value of header name in the answer ("" when absent), in buf. */
static const char *header_of(const struct answer *a, const char *name, char *buf, size_t len)
{
	const char *p = a->headers.data;
	size_t n = strlen(name);

	buf[0] = '\0';
	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (l > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(l - (size_t)(v - p)), v);
			return buf;
		}
		p = eol ? eol + 2 : p + l;
	}
	return buf;
}

/* GET with token A, expecting status and (when body != NULL) exactly body. */
static void expect(const char *target, const char *header, long status, const char *body)
{
	struct answer a;
	char ct[128];

	request(NULL, target, header, &a);
	if (a.status != status)
		fail_msg("%s: status %ld, expected %ld: %s", target, a.status, status, a.body.data);
	assert_string_equal(header_of(&a, "Content-Type", ct, sizeof ct), JSON_TYPE);
	if (body)
		assert_string_equal(a.body.data, body);
	answer_free(&a);
}

/* GET expecting an error answer of that status and code. */
static void expect_error(const char *target, const char *header, long status, const char *code)
{
	struct answer a;
	json_t *j, *msg;
	json_error_t je;

	request(NULL, target, header, &a);
	if (a.status != status)
		fail_msg("%s: status %ld, expected %ld: %s", target, a.status, status, a.body.data);
	j = json_loads(a.body.data, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")), code);
	msg = json_object_get(j, "message");
	assert_true(json_is_string(msg) && json_string_length(msg) > 0);
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);
	answer_free(&a);
}

static void test_healthz(void **state)
{
	struct answer a;

	(void)state;
	expect("/healthz", NULL, 200, "{\"status\":\"ok\",\"store\":\"sqlite\"}");
	request("HEAD", "/healthz", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body.data, "");
	answer_free(&a);
}

/* Answers keep the connection open: three requests, one connection. */
static void test_keep_alive(void **state)
{
	CURL *c = curl_easy_init();
	struct strbuf body = STRBUF_INIT;
	char url[128];
	long status = 0, connects = -1;

	(void)state;
	assert_non_null(c);
	snprintf(url, sizeof url, "%s/healthz", E.base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		assert_int_equal(status, 200);
		assert_int_equal(connects, i == 0 ? 1 : 0);
	}
	curl_easy_cleanup(c);
	strbuf_free(&body);
}

static void test_items(void **state)
{
	(void)state;
	expect("/ap/v1/utilities/u-a/items", AUTH_A, 200,
	       "{\"items\":["
	       "{\"id\":\"flow\",\"name\":\"Flow\",\"unit\":\"m3/h\",\"facility\":\"Plant 1\"},"
	       "{\"id\":\"level\",\"name\":\"Level \\\"L1\\\"\",\"unit\":\"m\",\"facility\":\"\"},"
	       "{\"id\":\"水位 1\",\"name\":\"水位\",\"unit\":\"m\",\"facility\":\"浄水場\"}]}");
	expect("/ap/v1/utilities/u-a/items/flow", AUTH_A, 200,
	       "{\"id\":\"flow\",\"name\":\"Flow\",\"unit\":\"m3/h\",\"facility\":\"Plant 1\"}");
	/* percent-encoded UTF-8 and space */
	expect("/ap/v1/utilities/u-a/items/%E6%B0%B4%E4%BD%8D%201", AUTH_A, 200,
	       "{\"id\":\"水位 1\",\"name\":\"水位\",\"unit\":\"m\",\"facility\":\"浄水場\"}");
	expect_error("/ap/v1/utilities/u-a/items/nope", AUTH_A, 404, "not_found");
	/* B's item is not A's, by id or otherwise */
	expect_error("/ap/v1/utilities/u-a/items/secret-b", AUTH_A, 404, "not_found");
	expect("/ap/v1/utilities/u-b/items", AUTH_B, 200,
	       "{\"items\":["
	       "{\"id\":\"flow\",\"name\":\"B flow\",\"unit\":\"L/s\",\"facility\":\"B plant\"},"
	       "{\"id\":\"secret-b\",\"name\":\"Secret\",\"unit\":\"\",\"facility\":\"\"}]}");
}

static void test_values_shape(void **state)
{
	const char *two = "{\"values\":[{\"t\":\"2026-11-19T15:00:00Z\",\"v\":0.5},"
			  "{\"t\":\"2026-11-19T15:30:00Z\",\"v\":1.5}],\"next\":null}";

	(void)state;
	expect("/ap/v1/utilities/u-a/items/flow/values"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z",
	       AUTH_A, 200, two);
	/* the same range with offsets: %2B, a raw "+" (decoded to a space), "-" */
	expect("/ap/v1/utilities/u-a/items/flow/values"
	       "?from=2026-11-20T00:00:00%2B09:00&to=2026-11-20T01:00:00+09:00",
	       AUTH_A, 200, two);
	expect("/ap/v1/utilities/u-a/items/flow/values"
	       "?from=2026-11-19T14:00:00-01:00&to=2026-11-20T01:00:00%2B0900",
	       AUTH_A, 200, two);
	/* milliseconds and a negative value */
	expect("/ap/v1/utilities/u-a/items/%E6%B0%B4%E4%BD%8D%201/values"
	       "?from=2026-11-19T00:00:00Z&to=2026-11-21T00:00:00Z",
	       AUTH_A, 200,
	       "{\"values\":[{\"t\":\"2026-11-20T00:00:00.250Z\",\"v\":-0.25}],\"next\":null}");
	/* half-open: to is excluded; an empty range is an empty list */
	expect("/ap/v1/utilities/u-a/items/flow/values"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T15:30:00Z",
	       AUTH_A, 200,
	       "{\"values\":[{\"t\":\"2026-11-19T15:00:00Z\",\"v\":0.5}],\"next\":null}");
	expect("/ap/v1/utilities/u-a/items/level/values"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T15:30:00Z",
	       AUTH_A, 200, "{\"values\":[],\"next\":null}");
	/* B's "flow" is another series */
	expect("/ap/v1/utilities/u-b/items/flow/values"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-29T15:30:00Z",
	       AUTH_B, 200,
	       "{\"values\":[{\"t\":\"2026-11-19T15:00:00Z\",\"v\":7}],\"next\":null}");

	expect_error("/ap/v1/utilities/u-a/items/nope/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/flow/values?to=2026-11-19T16:00:00Z", AUTH_A, 400,
		     "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values?from=2026-11-19T16:00:00Z", AUTH_A,
		     400, "bad_request");
	/* no zone: ambiguous, refused */
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00&to=2026-11-19T16:00:00Z", AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-02-30T15:00:00Z&to=2026-11-19T16:00:00Z", AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T17:00:00Z&to=2026-11-19T16:00:00Z", AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&limit=0", AUTH_A, 400,
		     "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&limit=51", AUTH_A, 400,
		     "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&limit=5x", AUTH_A, 400,
		     "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&cursor=abc", AUTH_A, 400,
		     "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/values"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&cursor=1", AUTH_A, 400,
		     "bad_request");
}

/* Walks [from, to) with limit (0 = default) and checks every point of the
 * series is seen exactly once, in order. */
static void walk(int limit, size_t expect_pages)
{
	struct strbuf target = STRBUF_INIT;
	char next[64] = "";
	int64_t prev = INT64_MIN;
	size_t seen = 0, pages = 0;
	char t0[32];
	size_t per = limit ? (size_t)limit : 10;

	timeutil_format_utc(t_of("2026-11-19T15:00:00Z"), t0);
	for (;;) {
		struct answer a;
		json_error_t je;
		json_t *j, *vals, *nx;
		size_t i;

		strbuf_reset(&target);
		strbuf_printf(&target,
			      "/ap/v1/utilities/u-a/items/flow/values"
			      "?from=2026-11-01T00:00:00Z&to=2027-01-01T00:00:00Z");
		if (limit)
			strbuf_printf(&target, "&limit=%d", limit);
		if (next[0])
			strbuf_printf(&target, "&cursor=%s", next);
		request(NULL, target.data, AUTH_A, &a);
		assert_int_equal(a.status, 200);
		j = json_loads(a.body.data, 0, &je);
		assert_non_null(j);
		vals = json_object_get(j, "values");
		nx = json_object_get(j, "next");
		assert_true(json_is_array(vals));
		pages++;
		for (i = 0; i < json_array_size(vals); i++) {
			const char *ts = json_string_value(json_object_get(json_array_get(vals, i), "t"));
			int64_t t;
			assert_non_null(ts);
			t = t_of(ts);
			assert_true(t > prev);
			prev = t;
			seen++;
		}
		if (json_is_null(nx)) {
			assert_true(json_array_size(vals) <= per);
			json_decref(j);
			answer_free(&a);
			break;
		}
		assert_true(json_is_string(nx));
		assert_int_equal(json_array_size(vals), per);
		snprintf(next, sizeof next, "%s", json_string_value(nx));
		json_decref(j);
		answer_free(&a);
		assert_true(pages < 100);
	}
	strbuf_free(&target);
	assert_int_equal(seen, N_FLOW);
	assert_int_equal(pages, expect_pages);
}

static void test_pagination(void **state)
{
	(void)state;
	walk(7, 14);  /* 98 = 14 * 7: the 14th page is full and has no next */
	walk(0, 10);  /* default 10 */
	walk(50, 2);
	walk(49, 2);
}

static void test_latest(void **state)
{
	(void)state;
	expect("/ap/v1/utilities/u-a/items/flow/latest", AUTH_A, 200,
	       "{\"t\":\"2026-11-30T15:00:00Z\",\"v\":1000}");
	expect_error("/ap/v1/utilities/u-a/items/level/latest", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/nope/latest", AUTH_A, 404, "not_found");
	expect("/ap/v1/utilities/u-a/latest", AUTH_A, 200,
	       "{\"values\":[{\"item\":\"flow\",\"t\":\"2026-11-30T15:00:00Z\",\"v\":1000},"
	       "{\"item\":\"水位 1\",\"t\":\"2026-11-20T00:00:00.250Z\",\"v\":-0.25}]}");
	expect("/ap/v1/utilities/u-b/latest", AUTH_B, 200,
	       "{\"values\":[{\"item\":\"flow\",\"t\":\"2026-11-19T15:00:00Z\",\"v\":7},"
	       "{\"item\":\"secret-b\",\"t\":\"2026-11-19T15:00:00Z\",\"v\":8}]}");
}

static void expect_auth(const char *target, const char *header, long status,
			const char *www_auth, const char *code)
{
	struct answer a;
	char v[256];

	request(NULL, target, header, &a);
	if (a.status != status)
		fail_msg("%s: status %ld, expected %ld", target, a.status, status);
	assert_string_equal(header_of(&a, "WWW-Authenticate", v, sizeof v), www_auth);
	answer_free(&a);
	expect_error(target, header, status, code);
}

static void test_auth(void **state)
{
	const char *realm = "Bearer realm=\"suido\"";
	const char *invalid = "Bearer realm=\"suido\", error=\"invalid_token\"";
	const char *scope = "Bearer realm=\"suido\", error=\"insufficient_scope\", "
			    "scope=\"ap.read\"";
	char hdr[4300];
	uint64_t refused = metrics_get(E.m, MET_HTTP_UNAUTHORIZED);

	(void)state;
	/* no credentials */
	expect_auth("/ap/v1/utilities/u-a/items", NULL, 401, realm, "unauthorized");
	expect_auth("/ap/v1/utilities/u-a/items", "Authorization: Basic dTpw", 401, realm,
		    "unauthorized");
	expect_auth("/ap/v1/nothing-here", NULL, 401, realm, "unauthorized");
	/* a wrong token */
	expect_auth("/ap/v1/utilities/u-a/items", "Authorization: Bearer nope", 401, invalid,
		    "invalid_token");
	snprintf(hdr, sizeof hdr, "%sx", AUTH_A);
	expect_auth("/ap/v1/utilities/u-a/items", hdr, 401, invalid, "invalid_token");
	expect_auth("/ap/v1/utilities/u-a/items", "Authorization: Bearer ", 401, invalid,
		    "invalid_token");
	/* the scheme is case-insensitive */
	snprintf(hdr, sizeof hdr, "Authorization: bearer %s", TOKEN_A);
	expect("/ap/v1/utilities/u-a/items/flow", hdr, 200, NULL);
	/* A's token on B: 403 whatever the path, existing or not */
	expect_auth("/ap/v1/utilities/u-b/items", AUTH_A, 403, scope, "insufficient_scope");
	expect_auth("/ap/v1/utilities/u-b/items/flow", AUTH_A, 403, scope, "insufficient_scope");
	expect_auth("/ap/v1/utilities/u-b/items/flow/values"
		    "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z",
		    AUTH_A, 403, scope, "insufficient_scope");
	expect_auth("/ap/v1/utilities/u-b/latest", AUTH_A, 403, scope, "insufficient_scope");
	expect_auth("/ap/v1/utilities/u-b/items/secret-b/latest", AUTH_A, 403, scope,
		    "insufficient_scope");
	expect_auth("/ap/v1/utilities/no-such-utility/items", AUTH_A, 403, scope,
		    "insufficient_scope");
	expect_auth("/ap/v1/utilities/u-a/items", AUTH_B, 403, scope, "insufficient_scope");
	/* authenticated, unknown path: 404 */
	expect_error("/ap/v1/nothing-here", AUTH_A, 404, "not_found");
	/* each expect_auth made two requests */
	assert_int_equal(metrics_get(E.m, MET_HTTP_UNAUTHORIZED) - refused, 2 * 13);
}

static void test_errors(void **state)
{
	struct answer a;
	char v[128];
	char *longpath;

	(void)state;
	expect_error("/nope", NULL, 404, "not_found");
	expect_error("/healthz/x", NULL, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/flow/bogus", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/flow/values/x/y/z", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a", AUTH_A, 404, "not_found");
	/* a percent-encoded "/" stays inside the segment */
	expect_error("/ap/v1/utilities/u-a/items/flow%2Fvalues", AUTH_A, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items/%zz", AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/ab%4", AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/a%00b", AUTH_A, 400, "bad_request");

	request("POST", "/ap/v1/utilities/u-a/items", AUTH_A, &a);
	assert_int_equal(a.status, 405);
	assert_string_equal(header_of(&a, "Allow", v, sizeof v), "GET, HEAD");
	answer_free(&a);
	request("DELETE", "/healthz", NULL, &a);
	assert_int_equal(a.status, 405);
	answer_free(&a);
	/* a small body on a GET is skipped; a large one refused */
	request("GET+100", "/healthz", NULL, &a);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	request("GET+200000", "/healthz", NULL, &a);
	assert_int_equal(a.status, 413);
	answer_free(&a);

	longpath = malloc(3100);
	assert_non_null(longpath);
	strcpy(longpath, "/ap/v1/utilities/u-a/items/");
	memset(longpath + strlen(longpath), 'x', 3000);
	longpath[3027] = '\0';
	request(NULL, longpath, AUTH_A, &a);
	assert_int_equal(a.status, 414);
	answer_free(&a);
	free(longpath);
}

static void test_aggregate(void **state)
{
	(void)state;
	expect("/ap/v1/utilities/u-a/items/flow/aggregate"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T17:00:00Z&interval=1h",
	       AUTH_A, 200,
	       "{\"interval\":\"1h\",\"buckets\":["
	       "{\"t\":\"2026-11-19T15:00:00Z\",\"min\":0.5,\"max\":1.5,\"avg\":1,\"sum\":2,\"count\":2},"
	       "{\"t\":\"2026-11-19T16:00:00Z\",\"min\":2.5,\"max\":3.5,\"avg\":3,\"sum\":6,\"count\":2}"
	       "]}");
	/* Tokyo days start at 15:00 UTC */
	expect("/ap/v1/utilities/u-a/items/flow/aggregate"
	       "?from=2026-11-20T00:00:00%2B09:00&to=2026-11-22T00:00:00%2B09:00&interval=1d",
	       AUTH_A, 200,
	       "{\"interval\":\"1d\",\"buckets\":["
	       "{\"t\":\"2026-11-19T15:00:00Z\",\"min\":0.5,\"max\":47.5,\"avg\":24,\"sum\":1152,"
	       "\"count\":48},"
	       "{\"t\":\"2026-11-20T15:00:00Z\",\"min\":48.5,\"max\":95.5,\"avg\":72,\"sum\":3456,"
	       "\"count\":48}]}");
	/* Tokyo months: November holds the 96 points and the 242 at 23:30 on
	 * the 30th; the 1000 at midnight is December's */
	expect("/ap/v1/utilities/u-a/items/flow/aggregate"
	       "?from=2026-11-01T00:00:00%2B09:00&to=2027-01-01T00:00:00%2B09:00&interval=1mo",
	       AUTH_A, 200,
	       "{\"interval\":\"1mo\",\"buckets\":["
	       "{\"t\":\"2026-10-31T15:00:00Z\",\"min\":0.5,\"max\":242,\"avg\":50,\"sum\":4850,"
	       "\"count\":97},"
	       "{\"t\":\"2026-11-30T15:00:00Z\",\"min\":1000,\"max\":1000,\"avg\":1000,\"sum\":1000,"
	       "\"count\":1}]}");
	/* only non-empty buckets; 10m over one hour */
	expect("/ap/v1/utilities/u-a/items/flow/aggregate"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&interval=10m",
	       AUTH_A, 200,
	       "{\"interval\":\"10m\",\"buckets\":["
	       "{\"t\":\"2026-11-19T15:00:00Z\",\"min\":0.5,\"max\":0.5,\"avg\":0.5,\"sum\":0.5,"
	       "\"count\":1},"
	       "{\"t\":\"2026-11-19T15:30:00Z\",\"min\":1.5,\"max\":1.5,\"avg\":1.5,\"sum\":1.5,"
	       "\"count\":1}]}");
	expect("/ap/v1/utilities/u-a/items/level/aggregate"
	       "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&interval=1h",
	       AUTH_A, 200, "{\"interval\":\"1h\",\"buckets\":[]}");
	expect_error("/ap/v1/utilities/u-a/items/flow/aggregate"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&interval=2h",
		     AUTH_A, 400, "bad_request");
	expect_error("/ap/v1/utilities/u-a/items/flow/aggregate"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z",
		     AUTH_A, 400, "bad_request");
	/* 10-minute buckets over five years: more than 100,000 */
	expect_error("/ap/v1/utilities/u-a/items/flow/aggregate"
		     "?from=2022-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&interval=10m",
		     AUTH_A, 400, "range_too_large");
	/* ... while 1h over five years is fine */
	expect("/ap/v1/utilities/u-a/items/flow/aggregate"
	       "?from=2022-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&interval=1h",
	       AUTH_A, 200, NULL);
	expect_error("/ap/v1/utilities/u-a/items/nope/aggregate"
		     "?from=2026-11-19T15:00:00Z&to=2026-11-19T16:00:00Z&interval=1h",
		     AUTH_A, 404, "not_found");
}

/* The value of one metric in a /metrics answer. */
static long long metric_value(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof key, "\nsuido_platform_%s ", name);
	p = strstr(text, key);
	assert_non_null(p);
	return atoll(p + strlen(key));
}

static void test_metrics(void **state)
{
	struct answer a, b;
	char ct[128];
	long long req0, ok0, c4_0, un0;

	(void)state;
	request(NULL, "/metrics", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(header_of(&a, "Content-Type", ct, sizeof ct),
			    "text/plain; version=0.0.4");
	assert_non_null(strstr(a.body.data, "# TYPE suido_platform_http_requests_total counter"));
	req0 = metric_value(a.body.data, "http_requests_total");
	ok0 = metric_value(a.body.data, "http_responses_2xx_total");
	c4_0 = metric_value(a.body.data, "http_responses_4xx_total");
	un0 = metric_value(a.body.data, "http_auth_refused_total");
	expect("/healthz", NULL, 200, NULL);
	expect_error("/nope", NULL, 404, "not_found");
	expect_error("/ap/v1/utilities/u-a/items", NULL, 401, "unauthorized");
	expect_error("/ap/v1/utilities/u-b/items", AUTH_A, 403, "insufficient_scope");
	request(NULL, "/metrics", NULL, &b);
	/* the first /metrics is counted after it rendered, so +1 */
	assert_int_equal(metric_value(b.body.data, "http_requests_total"), req0 + 5);
	assert_int_equal(metric_value(b.body.data, "http_responses_2xx_total"), ok0 + 2);
	assert_int_equal(metric_value(b.body.data, "http_responses_4xx_total"), c4_0 + 3);
	assert_int_equal(metric_value(b.body.data, "http_auth_refused_total"), un0 + 2);
	answer_free(&a);
	answer_free(&b);
}

static void test_threads_and_stores(void **state)
{
	(void)state;
	/* New connections spread over the pool; each worker opens one store. */
	for (int i = 0; i < 30; i++)
		expect("/ap/v1/utilities/u-a/items/flow/latest", AUTH_A, 200, NULL);
	assert_true(E.opens >= 1);
	assert_true(E.opens <= (int)E.cfg.threads);
}

static void *hammer(void *arg)
{
	long *bad = arg;

	for (int i = 0; i < 25; i++) {
		struct answer a;
		CURLcode rc = try_request_to(E.base, NULL,
					     i % 2 ? "/ap/v1/utilities/u-a/items/flow/values"
						     "?from=2026-11-19T15:00:00Z"
						     "&to=2026-11-21T15:00:00Z&limit=50"
						   : "/ap/v1/utilities/u-a/latest",
					     AUTH_A, &a);
		if (rc != CURLE_OK || a.status != 200)
			(*bad)++;
		answer_free(&a);
	}
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	pthread_t th[4];
	long bad[4] = {0};

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &bad[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(bad[i], 0);
	}
	assert_true(E.opens <= (int)E.cfg.threads);
}

/* Values committed after the workers opened their stores are served. */
static void test_sees_new_data(void **state)
{
	struct store *s = NULL;
	struct store_item it = {"late", "Late item", "", ""};
	char err[256];
	int64_t key;

	(void)state;
	expect_error("/ap/v1/utilities/u-a/items/late/latest", AUTH_A, 404, "not_found");
	assert_int_equal(store_open_sqlite(E.path, &s, err, sizeof err), SUIDO_OK);
	assert_int_equal(store_begin(s), SUIDO_OK);
	assert_int_equal(store_put_item(s, "u-a", &it, &key), SUIDO_OK);
	assert_int_equal(store_put_point(s, key, t_of("2026-12-01T00:00:00Z"), 3.25), SUIDO_OK);
	assert_int_equal(store_commit(s), SUIDO_OK);
	store_close(s);
	for (int i = 0; i < 6; i++) /* reach every worker */
		expect("/ap/v1/utilities/u-a/items/late/latest", AUTH_A, 200,
		       "{\"t\":\"2026-12-01T00:00:00Z\",\"v\":3.25}");
}

static void test_store_unavailable(void **state)
{
	struct api_config cfg = E.cfg;
	struct api *api = NULL;
	struct answer a;
	char base[64], err[256];
	int opens;

	(void)state;
	E.fail_open = 1;
	opens = E.opens;
	cfg.threads = 1;
	assert_int_equal(api_start(&cfg, E.m, &api, err, sizeof err), SUIDO_OK);
	snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)api_port(api));
	/* before the provider is attached the AP answers 503 */
	request_to(base, NULL, "/ap/v1/utilities/u-a/items", AUTH_A, &a);
	assert_int_equal(a.status, 503);
	answer_free(&a);
	api_attach(api, E.oidc, E.admin);
	request_to(base, NULL, "/healthz", NULL, &a);
	assert_int_equal(a.status, 503);
	answer_free(&a);
	request_to(base, NULL, "/ap/v1/utilities/u-a/items", AUTH_A, &a);
	assert_int_equal(a.status, 503);
	answer_free(&a);
	/* auth is decided before the store is needed */
	request_to(base, NULL, "/ap/v1/utilities/u-a/items", NULL, &a);
	assert_int_equal(a.status, 401);
	answer_free(&a);
	assert_true(E.opens > opens);
	/* the store comes back: so does the answer */
	E.fail_open = 0;
	request_to(base, NULL, "/healthz", NULL, &a);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	api_stop(api);
}

static void test_start_errors(void **state)
{
	struct api_config cfg = E.cfg;
	struct api *api = NULL;
	char err[256];

	(void)state;
	cfg.threads = 0;
	assert_int_equal(api_start(&cfg, E.m, &api, err, sizeof err), SUIDO_ERR_CONFIG);
	assert_null(api);
	cfg = E.cfg;
	cfg.listen_addr = "localhost";
	assert_int_equal(api_start(&cfg, E.m, &api, err, sizeof err), SUIDO_ERR_CONFIG);
	cfg = E.cfg;
	cfg.page_max = 5; /* below page_default */
	assert_int_equal(api_start(&cfg, E.m, &api, err, sizeof err), SUIDO_ERR_CONFIG);
	cfg = E.cfg;
	cfg.port = api_port(E.api); /* taken */
	assert_int_equal(api_start(&cfg, E.m, &api, err, sizeof err), SUIDO_ERR_IO);
	assert_null(api);
	api_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_values_shape),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_latest),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_threads_and_stores),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_sees_new_data),
		cmocka_unit_test(test_store_unavailable),
		cmocka_unit_test(test_start_errors),
	};

	return cmocka_run_group_tests_name("api", tests, group_setup, group_teardown);
}
