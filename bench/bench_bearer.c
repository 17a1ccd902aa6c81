/*
 * bench_bearer: the bearer figure (issue 5: what bearer token validation
 * costs an AP request).
 *
 *   bench_bearer DIR [SECONDS] [ROUNDS]
 *     In the empty directory DIR: a platform store (platform.db, the store
 *     API) holding utility "bench" with no items; a registry (registry.db)
 *     with that utility, a vendor linked to it and its application
 *     "bench-app" granted all of it ({"all":true}); the AP interface
 *     (api_start on 127.0.0.1, a port the kernel picks, plain HTTP, the
 *     platform's defaults: 4 worker threads, no access log) with the OpenID
 *     provider and the admin API attached (api_attach), as the platform
 *     starts them (issuer http://127.0.0.1:PORT). The access token is a real
 *     one: client credentials at the provider's token endpoint
 *     (oidc_handle, POST /oidc/token, HTTP Basic), RS256, scope ap.read.
 *     ROUNDS (default 7) rounds each spend SECONDS (default 1) in each of
 *     two phases, on this one thread, alternating in slices of 25 ms so
 *     that both see the same load on a shared machine:
 *       check:   oidc_check_access_token of that token in a loop (signature,
 *                issuer, audience, typ, exp / nbf, then the registry's
 *                application look-up), each call checked to succeed;
 *       request: GET /ap/v1/utilities/bench/items with
 *                "Authorization: Bearer <token>" through libcurl on one easy
 *                handle (one keep-alive connection, TCP_NODELAY), each answer
 *                checked to be 200 {"items":[]}.
 *     After a checked warm-up of 200 requests (which opens the connection
 *     and the worker threads' stores), prints one line
 *       "check_us=C request_us=R fraction=F check_cpu_us=CC request_cpu_us=RC
 *        cpu_fraction=FC checks=N requests=M connects=K token_bytes=B
 *        fractions=f1,f2,.."
 *     where C and R are the medians of the rounds' mean wall time per call
 *     and per request (a round's time in a phase ÷ its calls), F the median
 *     of the per-round fractions C / R, CC, RC and FC the same in this
 *     process's CPU time (client and server both run here, so RC is the
 *     whole request's CPU: curl, the kernel's loopback, libmicrohttpd and
 *     the AP interface), and K the TCP connections curl opened during the
 *     timed phases (0: the connection was kept alive throughout).
 *
 * libcurl is loaded with dlopen, as in bench_query.c: the benchmark helpers
 * are linked by the project's CMakeLists.txt with the platform and gateway
 * modules only.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bench_util.h"
#include "admin.h"
#include "api.h"
#include "metrics.h"
#include "oidc.h"
#include "registry.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/store.h"
#include "suido/timeutil.h"

#define ROUNDS_MAX 31
#define CLIENT "bench-app"
#define UTILITY "bench"
#define WARMUP 200
#define SLICE_S 0.025 /* seconds of one phase before switching to the other */
#define EMPTY "{\"items\":[]}"

struct body {
	char data[4096];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = size * n;

	if (b->len + add >= sizeof b->data)
		return 0; /* a minimal answer is tiny: anything bigger is wrong */
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static int open_store(void *ctx, struct store **out)
{
	char err[256];

	return store_open_sqlite(ctx, out, err, sizeof err);
}

/* The store: utility UTILITY and nothing else. */
static void populate(const char *path)
{
	struct store *st = NULL;
	char err[512];
	int rc;

	if (store_open_sqlite(path, &st, err, sizeof err) != SUIDO_OK)
		bench_die("%s: %s", path, err);
	rc = store_begin(st);
	if (rc == SUIDO_OK)
		rc = store_put_utility(st, UTILITY, "ベンチ市水道局");
	if (rc == SUIDO_OK)
		rc = store_commit(st);
	if (rc != SUIDO_OK)
		bench_die("populate: %s", suido_strerror(rc));
	store_close(st);
}

/* Tenant UTILITY, vendor v linked to it, CLIENT granted all of it. */
static void provision(struct registry *r, char secret[REG_SECRET_TEXT], uint64_t now)
{
	struct reg_tenant t = {UTILITY, REG_UTILITY, "ベンチ市水道局", 0};
	struct reg_app app;
	char err[256] = "";

	memset(&app, 0, sizeof app);
	snprintf(app.id, sizeof app.id, CLIENT);
	snprintf(app.vendor, sizeof app.vendor, "v");
	snprintf(app.name, sizeof app.name, "ベンチアプリ");
	snprintf(app.redirect_uris, sizeof app.redirect_uris, "[]");
	if (registry_tenant_add(r, "config", &t, now, err, sizeof err) != SUIDO_OK)
		bench_die("tenant: %s", err);
	snprintf(t.id, sizeof t.id, "v");
	snprintf(t.name, sizeof t.name, "ベンチ株式会社");
	t.kind = REG_VENDOR;
	if (registry_tenant_add(r, "config", &t, now, err, sizeof err) != SUIDO_OK ||
	    registry_link_add(r, "config", UTILITY, "v", now, err, sizeof err) != SUIDO_OK ||
	    registry_app_add(r, "config", &app, secret, now, err, sizeof err) != SUIDO_OK ||
	    registry_grant_set(r, "config", CLIENT, UTILITY, "{\"all\":true}", now, err,
			       sizeof err) != SUIDO_OK)
		bench_die("provision: %s", err);
}

/* An access token for CLIENT by client credentials at the provider's token
 * endpoint, in-process. Returns it (caller frees). */
static char *client_token(struct oidc *o, const char *secret)
{
	char pair[REG_ID_MAX + REG_SECRET_TEXT + 1], b64[256], authz[300];
	static const char form[] = "grant_type=client_credentials";
	struct http_request rq;
	struct http_response out;
	json_t *j = NULL;
	const char *tok;
	char *ret = NULL;

	snprintf(pair, sizeof pair, "%s:%s", CLIENT, secret);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pair, (int)strlen(pair));
	snprintf(authz, sizeof authz, "Basic %s", b64);
	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.path = "/oidc/token";
	rq.path_len = strlen(rq.path);
	rq.query = "";
	rq.content_type = "application/x-www-form-urlencoded";
	rq.authorization = authz;
	rq.source = "127.0.0.1";
	rq.body = form;
	rq.body_len = sizeof form - 1;
	rq.now_ms = (uint64_t)timeutil_now_ms();
	http_response_init(&out);
	oidc_handle(o, &rq, &out);
	if (out.status == 200 && out.body.data && (j = json_loads(out.body.data, 0, NULL)) &&
	    (tok = json_string_value(json_object_get(j, "access_token"))))
		ret = strdup(tok);
	if (!ret)
		bench_die("token endpoint: HTTP %u: %.300s", out.status, out.body.data ? out.body.data : "");
	json_decref(j);
	http_response_free(&out);
	return ret;
}

/* One checked request; returns the new connections curl opened for it. */
static long request(struct bench_curl *c, CURL *h, struct body *b)
{
	long code = 0, nconn = 0;
	CURLcode rc;

	b->len = 0;
	b->data[0] = '\0';
	rc = c->easy_perform(h);
	if (rc != CURLE_OK)
		bench_die("GET: %s", c->easy_strerror(rc));
	c->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	c->easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
	if (code != 200 || strcmp(b->data, EMPTY) != 0)
		bench_die("GET: HTTP %ld: %.300s", code, b->data);
	return nconn;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	double seconds = argc > 2 ? atof(argv[2]) : 1.0;
	int rounds = argc > 3 ? atoi(argv[3]) : 7;
	double check_us[ROUNDS_MAX], request_us[ROUNDS_MAX], fraction[ROUNDS_MAX];
	double check_cpu[ROUNDS_MAX], request_cpu[ROUNDS_MAX], cpu_fraction[ROUNDS_MAX];
	char db[4096], regpath[4096], keys[4096], url[256], issuer[64], *token, *auth;
	char secret[REG_SECRET_TEXT], err[512] = "";
	struct registry *reg = NULL;
	struct metrics *m = NULL;
	struct api *api = NULL;
	struct oidc *oidc = NULL;
	struct admin *admin = NULL;
	struct oidc_config oc;
	struct api_config ac;
	struct oidc_principal who;
	enum jwt_reason why;
	struct bench_curl c;
	struct curl_slist *hdr = NULL;
	struct body b;
	CURL *h;
	long checks = 0, requests = 0, connects = 0;
	uint64_t now = (uint64_t)timeutil_now_ms();
	FILE *log;

	if (!dir || seconds <= 0 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: bench_bearer DIR [SECONDS] [ROUNDS (1-%d)]\n", ROUNDS_MAX);
		return 64;
	}
	snprintf(db, sizeof db, "%s/platform.log", dir);
	if (!(log = fopen(db, "a")))
		bench_die("%s: cannot open", db);
	log_set_stream(log);
	if (timeutil_set_zone("Asia/Tokyo") != SUIDO_OK)
		bench_die("no Asia/Tokyo time zone");
	snprintf(db, sizeof db, "%s/platform.db", dir);
	populate(db);
	snprintf(regpath, sizeof regpath, "%s/registry.db", dir);
	if (registry_open(regpath, &reg, err, sizeof err) != SUIDO_OK)
		bench_die("%s: %s", regpath, err);
	provision(reg, secret, now);
	ac = (struct api_config){
		.listen_addr = "127.0.0.1",
		.port = 0,
		.threads = 4,          /* the platform's [http] threads default */
		.page_default = 10000, /* [http] page_default */
		.page_max = 100000,    /* [http] page_max */
		.registry = reg,
		.store_open = open_store,
		.store_ctx = db,
	};
	if (!(m = metrics_new()))
		bench_die("out of memory");
	if (api_start(&ac, m, &api, err, sizeof err) != SUIDO_OK)
		bench_die("api_start: %s", err);
	snprintf(issuer, sizeof issuer, "http://127.0.0.1:%u", (unsigned)api_port(api));
	oidc_config_defaults(&oc);
	snprintf(keys, sizeof keys, "%s/keys", dir);
	oc.issuer = issuer;
	oc.keys_dir = keys;
	oc.registry = reg;
	if (oidc_create(&oc, now, &oidc, err, sizeof err) != SUIDO_OK)
		bench_die("oidc_create: %s", err);
	if (admin_create(reg, &oc.policy, NULL, issuer, &admin) != SUIDO_OK)
		bench_die("admin_create: out of memory");
	api_attach(api, oidc, admin);
	token = client_token(oidc, secret);
	if (oidc_check_access_token(oidc, token, strlen(token), (uint64_t)timeutil_now_ms(), &who,
				    &why) != OIDC_TOKEN_OK ||
	    strcmp(who.client, CLIENT) != 0 || !oidc_scope_has(who.scope, "ap.read"))
		bench_die("the provider's token does not check (%s)", jwt_reason_text(why));

	bench_curl_load(&c);
	if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = c.easy_init()))
		bench_die("curl init failed");
	if (!(auth = malloc(strlen(token) + 32)))
		bench_die("out of memory");
	sprintf(auth, "Authorization: Bearer %s", token);
	hdr = c.slist_append(hdr, auth);
	snprintf(url, sizeof url, "%s/ap/v1/utilities/" UTILITY "/items", issuer);
	c.easy_setopt(h, CURLOPT_URL, url);
	c.easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	c.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	c.easy_setopt(h, CURLOPT_WRITEDATA, &b);
	c.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	c.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	for (int i = 0; i < WARMUP; i++)
		request(&c, h, &b);

	for (int k = 0; k < rounds; k++) {
		long nc = 0, nr = 0;
		double tc = 0, tr = 0, cc = 0, cr = 0;
		/* Slices of SLICE_S each, alternating, so both phases of a round
		 * see the same load on a shared machine. */
		while (tc < seconds || tr < seconds) {
			double t0 = bench_mono_s(), c0 = bench_cpu_s(), end = t0 + SLICE_S, t;
			do {
				if (oidc_check_access_token(oidc, token, strlen(token),
							    (uint64_t)timeutil_now_ms(), &who,
							    &why) != OIDC_TOKEN_OK)
					bench_die("oidc_check_access_token refused the token (%s)",
					    jwt_reason_text(why));
				nc++;
			} while ((t = bench_mono_s()) < end);
			tc += t - t0;
			cc += bench_cpu_s() - c0;
			t0 = bench_mono_s();
			c0 = bench_cpu_s();
			end = t0 + SLICE_S;
			do {
				connects += request(&c, h, &b);
				nr++;
			} while ((t = bench_mono_s()) < end);
			tr += t - t0;
			cr += bench_cpu_s() - c0;
		}
		check_us[k] = 1e6 * tc / nc;
		request_us[k] = 1e6 * tr / nr;
		fraction[k] = check_us[k] / request_us[k];
		check_cpu[k] = 1e6 * cc / nc;
		request_cpu[k] = 1e6 * cr / nr;
		cpu_fraction[k] = check_cpu[k] / request_cpu[k];
		checks += nc;
		requests += nr;
	}
	printf("check_us=%.2f request_us=%.2f fraction=%.4f check_cpu_us=%.2f request_cpu_us=%.2f "
	       "cpu_fraction=%.4f checks=%ld requests=%ld connects=%ld token_bytes=%zu fractions=",
	       bench_median(check_us, rounds), bench_median(request_us, rounds), bench_median(fraction, rounds),
	       bench_median(check_cpu, rounds), bench_median(request_cpu, rounds), bench_median(cpu_fraction, rounds),
	       checks, requests, connects, strlen(token));
	for (int k = 0; k < rounds; k++)
		printf("%s%.4f", k ? "," : "", fraction[k]);
	putchar('\n');

	c.easy_cleanup(h);
	c.slist_free_all(hdr);
	free(auth);
	free(token);
	api_stop(api);
	admin_free(admin);
	oidc_free(oidc);
	registry_close(reg);
	metrics_free(m);
	fclose(log);
	return 0;
}
