/*
 * The isolation matrix of the AP interface (api.h): which application reads
 * which utility's data. Three utilities share item ids ("flow" and "level"
 * in all three), three vendors own five applications, and the registry
 * grants: app1 all of u1; app2 all of u1 and u2; app3 items ["flow"] of u2;
 * app4 facility "Plant B" of u3; app5 nothing (its vendor is linked to u1).
 * For every (application, utility, item id) triple, over the union of the
 * ids of all utilities plus one that exists nowhere, the item, its latest
 * value and its values answer 200 with exactly that utility's data when the
 * grant's scope covers the item, 404 when the scope covers an id the
 * utility lacks, and 403 insufficient_scope otherwise (an ungranted utility
 * or an id outside a restricted scope, whether or not the item exists). The
 * expectation is computed here from the scope rules of registry.h, not by
 * calling registry_scope_allows. Also: the item and latest lists hold
 * exactly the granted items; files and gateways are 403 for a restricted
 * scope; a changed scope, a revoked grant, a vendor unlinked (which revokes
 * its grants, and a new link does not bring them back) answer 403 at the
 * next request, a revoked application 401 invalid_token. The server runs in
 * this process on a loopback port over a SQLite store in a mkdtemp
 * directory; tokens come by client credentials from the attached provider.
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
#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "metrics.h"
#include "monitor.h"
#include "platconf.h"
#include "suido/error.h"
#include "suido/store.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define N_UTIL 3
#define N_APP 5
#define MAX_LIST 4
#define SCOPE_HDR "Bearer realm=\"suido\", error=\"insufficient_scope\", scope=\"ap.read\""
#define INVALID_HDR "Bearer realm=\"suido\", error=\"invalid_token\""

/* An item of the fixture: two points, v1 at T0 and v2 (the latest) an hour
 * later; the values differ between utilities so a leak would show. */
struct fx_item {
	const char *util, *id, *facility;
	double v1, v2;
};

static const struct fx_item ITEMS[] = {
	{"u1", "flow", "Plant A", 101, 102},      {"u1", "level", "Plant A", 111, 112},
	{"u1", "pressure", "Plant B", 121, 122},  {"u1", "chlorine", "Plant B", 131, 132},
	{"u2", "flow", "Plant A", 201, 202},      {"u2", "level", "Plant B", 211, 212},
	{"u2", "turbidity", "Plant B", 221, 222}, {"u3", "flow", "Plant B", 301, 302},
	{"u3", "level", "Plant A", 311, 312},     {"u3", "ph", "Plant B", 321, 322},
	/* an item whose id is a facility name: a facility grant must not match it */
	{"u3", "Plant B", "Plant A", 331, 332},
	/* an item of no facility: no facility grant covers it */
	{"u3", "meter", "", 341, 342},
};
#define N_ITEMS (sizeof ITEMS / sizeof ITEMS[0])

/* Every id of any utility, and one no utility has. */
static const char *const IDS[] = {"flow",      "level", "pressure", "chlorine", "turbidity",
				  "ph",        "Plant B", "meter",   "ghost"};
#define N_IDS (sizeof IDS / sizeof IDS[0])

static const char *const UTILS[N_UTIL] = {"u1", "u2", "u3"};

struct fx_app {
	const char *id, *vendor;
};

static const struct fx_app APPS[N_APP] = {
	{"app1", "v1"}, {"app2", "v2"}, {"app3", "v3"}, {"app4", "v3"}, {"app5", "v1"},
};

/* The grants as this test understands them (and sets them). */
struct fx_grant {
	int live;
	int all;
	const char *items[MAX_LIST];
	const char *facilities[MAX_LIST];
};

static struct fx_grant GRANT[N_APP][N_UTIL];
static int REVOKED[N_APP]; /* applications revoked by the test: 401 everywhere */

struct env {
	char dir[64];
	char path[128];
	struct api_config cfg;
	struct plat_config pc;
	struct registry *reg;
	struct oidc *oidc;
	struct admin *admin;
	struct monitor *mon;
	struct metrics *m;
	struct api *api;
	char base[64];
	char secret[N_APP][REG_SECRET_TEXT];
	char auth[N_APP][4200]; /* "Authorization: Bearer <token>" */
};

static struct env E;
static int64_t T0;

static int open_store(void *ctx, struct store **out)
{
	struct env *e = ctx;
	char err[256];

	return store_open_sqlite(e->path, out, err, sizeof err);
}

static int populate(void)
{
	struct store *s = NULL;
	char err[256];
	int64_t k;
	int ok = 0;

	if (store_open_sqlite(E.path, &s, err, sizeof err) != SUIDO_OK || store_begin(s) != SUIDO_OK)
		goto out;
	for (int u = 0; u < N_UTIL; u++)
		if (store_put_utility(s, UTILS[u], UTILS[u]) != SUIDO_OK)
			goto out;
	for (size_t i = 0; i < N_ITEMS; i++) {
		struct store_item it = {ITEMS[i].id, ITEMS[i].id, "m3/h", ITEMS[i].facility};
		if (store_put_item(s, ITEMS[i].util, &it, &k) != SUIDO_OK ||
		    store_put_point(s, k, T0, ITEMS[i].v1) != SUIDO_OK ||
		    store_put_point(s, k, T0 + 3600000, ITEMS[i].v2) != SUIDO_OK)
			goto out;
	}
	ok = store_commit(s) == SUIDO_OK;
out:
	if (!ok)
		fprintf(stderr, "populate: %s\n", err);
	store_close(s);
	return ok ? 0 : -1;
}

/* The scope JSON of a fixture grant. */
static void scope_json(const struct fx_grant *g, char *out, size_t len)
{
	json_t *j = json_object(), *items = json_array(), *facs = json_array();

	if (g->all) {
		json_object_set_new(j, "all", json_true());
		json_decref(items);
		json_decref(facs);
	} else {
		for (int i = 0; i < MAX_LIST && g->items[i]; i++)
			json_array_append_new(items, json_string(g->items[i]));
		for (int i = 0; i < MAX_LIST && g->facilities[i]; i++)
			json_array_append_new(facs, json_string(g->facilities[i]));
		json_object_set_new(j, "items", items);
		json_object_set_new(j, "facilities", facs);
	}
	char *s = json_dumps(j, JSON_COMPACT);
	snprintf(out, len, "%s", s ? s : "");
	free(s);
	json_decref(j);
}

static int set_grant(int app, int util, const struct fx_grant *g)
{
	char scope[512], err[256];

	GRANT[app][util] = *g;
	GRANT[app][util].live = 1;
	scope_json(g, scope, sizeof scope);
	if (registry_grant_set(E.reg, "test", APPS[app].id, UTILS[util], scope, timeutil_now_ms(),
			       err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "grant %s %s: %s\n", APPS[app].id, UTILS[util], err);
		return -1;
	}
	return 0;
}

static int provision(void)
{
	static const char *const vendors[] = {"v1", "v2", "v3"};
	static const char *const links[][2] = {
		{"u1", "v1"}, {"u1", "v2"}, {"u2", "v2"}, {"u2", "v3"}, {"u3", "v3"},
	};
	uint64_t now = timeutil_now_ms();
	struct reg_tenant t;
	struct reg_app app;
	char err[256] = "";

	for (int i = 0; i < N_UTIL + 3; i++) {
		memset(&t, 0, sizeof t);
		snprintf(t.id, sizeof t.id, "%s", i < N_UTIL ? UTILS[i] : vendors[i - N_UTIL]);
		snprintf(t.name, sizeof t.name, "%s", t.id);
		t.kind = i < N_UTIL ? REG_UTILITY : REG_VENDOR;
		if (registry_tenant_add(E.reg, "test", &t, now, err, sizeof err) != SUIDO_OK)
			goto fail;
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (registry_link_add(E.reg, "test", links[i][0], links[i][1], now, err,
				      sizeof err) != SUIDO_OK)
			goto fail;
	for (int i = 0; i < N_APP; i++) {
		memset(&app, 0, sizeof app);
		snprintf(app.id, sizeof app.id, "%s", APPS[i].id);
		snprintf(app.vendor, sizeof app.vendor, "%s", APPS[i].vendor);
		snprintf(app.name, sizeof app.name, "%s", APPS[i].id);
		snprintf(app.redirect_uris, sizeof app.redirect_uris, "[]");
		if (registry_app_add(E.reg, "test", &app, E.secret[i], now, err, sizeof err) !=
		    SUIDO_OK)
			goto fail;
	}
	if (set_grant(0, 0, &(struct fx_grant){.all = 1}) != 0 ||
	    set_grant(1, 0, &(struct fx_grant){.all = 1}) != 0 ||
	    set_grant(1, 1, &(struct fx_grant){.all = 1}) != 0 ||
	    set_grant(2, 1, &(struct fx_grant){.items = {"flow"}}) != 0 ||
	    set_grant(3, 2, &(struct fx_grant){.facilities = {"Plant B"}}) != 0)
		return -1;
	return 0;
fail:
	fprintf(stderr, "provision: %s\n", err);
	return -1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	strbuf_append(ctx, p, size * n);
	return size * n;
}

/* "Authorization: Bearer <token>" of client id, by client credentials. */
static int client_auth(const char *id, const char *secret, char *out, size_t outlen)
{
	struct strbuf url = STRBUF_INIT, body = STRBUF_INIT;
	CURL *c = curl_easy_init();
	json_t *j = NULL, *tok;
	int rc = -1;

	strbuf_printf(&url, "%s/oidc/token", E.base);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_USERNAME, id);
	curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(c) == CURLE_OK && body.data &&
	    (j = json_loads(body.data, 0, NULL)) &&
	    json_is_string(tok = json_object_get(j, "access_token")) &&
	    (size_t)snprintf(out, outlen, "Authorization: Bearer %s", json_string_value(tok)) <
		    outlen)
		rc = 0;
	else
		fprintf(stderr, "token for %s: %s\n", id, body.data ? body.data : "(none)");
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
	if (timeutil_set_zone("Asia/Tokyo") != SUIDO_OK ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if (timeutil_parse("2026-11-19T15:00:00Z", 20, "iso8601", &T0, err, sizeof err) !=
	    SUIDO_OK)
		return -1;
	snprintf(E.dir, sizeof E.dir, "/tmp/suido-authz-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	snprintf(E.path, sizeof E.path, "%s/platform.db", E.dir);
	snprintf(p, sizeof p, "%s/registry.db", E.dir);
	if (populate() != 0 || registry_open(p, &E.reg, err, sizeof err) != SUIDO_OK ||
	    provision() != 0)
		return -1;
	/* no gateways: GET .../gateways answers an empty list when allowed */
	E.mon = monitor_new(&E.pc, timeutil_now_ms());
	E.m = metrics_new();
	if (!E.mon || !E.m)
		return -1;
	E.cfg = (struct api_config){
		.listen_addr = "127.0.0.1",
		.threads = 2,
		.page_default = 10,
		.page_max = 50,
		.registry = E.reg,
		.store_open = open_store,
		.store_ctx = &E,
		.monitor = E.mon,
	};
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
	for (int i = 0; i < N_APP; i++)
		if (client_auth(APPS[i].id, E.secret[i], E.auth[i], sizeof E.auth[i]) != 0)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	api_stop(E.api);
	admin_free(E.admin);
	oidc_free(E.oidc);
	registry_close(E.reg);
	monitor_free(E.mon);
	metrics_free(E.m);
	/* the store, the registry (with -wal / -shm) and the provider's keys */
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", E.dir);
	curl_global_cleanup();
	return 0;
}

struct answer {
	long status;
	struct strbuf body;
	struct strbuf headers;
};

static void answer_free(struct answer *a)
{
	strbuf_free(&a->body);
	strbuf_free(&a->headers);
}

/* GET base + target with the header line; asserts the transfer worked. */
static void get(const char *target, const char *header, struct answer *a)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct strbuf url = STRBUF_INIT;

	memset(a, 0, sizeof *a);
	assert_non_null(c);
	strbuf_printf(&url, "%s%s", E.base, target);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	h = curl_slist_append(NULL, header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	if (!a->body.data)
		strbuf_puts(&a->body, "");
	if (!a->headers.data)
		strbuf_puts(&a->headers, "");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	strbuf_free(&url);
}

/* The WWW-Authenticate header's value ("" when absent), in buf. */
static const char *www_auth(const struct answer *a, char *buf, size_t len)
{
	static const char name[] = "WWW-Authenticate:";
	const char *p = a->headers.data;

	buf[0] = '\0';
	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (l >= sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
			const char *v = p + sizeof name - 1;
			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(l - (size_t)(v - p)), v);
			break;
		}
		p = eol ? eol + 2 : p + l;
	}
	return buf;
}

/* GET expecting status; for an error, the code in the body and, for 401 and
 * 403, the matching WWW-Authenticate. Returns the parsed body (caller
 * decrefs). */
static json_t *expect(const char *target, int app, long status, const char *code)
{
	struct answer a;
	json_t *j;
	char wa[256];

	get(target, E.auth[app], &a);
	if (a.status != status)
		fail_msg("%s with %s: status %ld, expected %ld: %s", target, APPS[app].id, a.status,
			 status, a.body.data);
	j = json_loads(a.body.data, 0, NULL);
	if (!j)
		fail_msg("%s: not JSON: %s", target, a.body.data);
	if (code) {
		assert_string_equal(json_string_value(json_object_get(j, "error")), code);
		if (status == 403)
			assert_string_equal(www_auth(&a, wa, sizeof wa), SCOPE_HDR);
		if (status == 401)
			assert_string_equal(www_auth(&a, wa, sizeof wa), INVALID_HDR);
	}
	answer_free(&a);
	return j;
}

static const struct fx_item *find_item(int util, const char *id)
{
	for (size_t i = 0; i < N_ITEMS; i++)
		if (strcmp(ITEMS[i].util, UTILS[util]) == 0 && strcmp(ITEMS[i].id, id) == 0)
			return &ITEMS[i];
	return NULL;
}

static int listed(const char *const *list, const char *s)
{
	for (int i = 0; i < MAX_LIST && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* The scope rules of registry.h, restated: an item is in scope when the
 * grant is of all items, its id is listed, or its (non-empty) facility is
 * listed. The expected status of one triple: 403 outside the scope (an
 * ungranted utility included), 404 for an id in scope the utility lacks. */
static long expected_status(int app, int util, const char *id)
{
	const struct fx_grant *g = &GRANT[app][util];
	const struct fx_item *it = find_item(util, id);

	if (REVOKED[app])
		return 401;
	if (!g->live)
		return 403;
	if (!g->all && !listed(g->items, id) &&
	    !(it && it->facility[0] && listed(g->facilities, it->facility)))
		return 403;
	return it ? 200 : 404;
}

static void item_path(char *out, size_t len, int util, const char *id, const char *rest)
{
	char *esc = curl_easy_escape(NULL, id, 0);

	assert_non_null(esc);
	snprintf(out, len, "/ap/v1/utilities/%s/items/%s%s", UTILS[util], esc, rest);
	curl_free(esc);
}

/* Checks .../items/{id}, .../latest and .../values for one triple; returns
 * the status seen. */
static long check_triple(int app, int util, const char *id)
{
	long want = expected_status(app, util, id);
	const char *code = want == 200   ? NULL
			   : want == 401 ? "invalid_token"
			   : want == 403 ? "insufficient_scope"
					 : "not_found";
	const struct fx_item *it = find_item(util, id);
	char path[256], t0[32], t1[32];
	json_t *j, *vals;

	timeutil_format_utc(T0, t0);
	timeutil_format_utc(T0 + 3600000, t1);

	item_path(path, sizeof path, util, id, "");
	j = expect(path, app, want, code);
	if (want == 200) {
		assert_string_equal(json_string_value(json_object_get(j, "id")), id);
		assert_string_equal(json_string_value(json_object_get(j, "facility")),
				    it->facility);
	}
	json_decref(j);

	item_path(path, sizeof path, util, id, "/latest");
	j = expect(path, app, want, code);
	if (want == 200) {
		assert_string_equal(json_string_value(json_object_get(j, "t")), t1);
		assert_true(json_number_value(json_object_get(j, "v")) == it->v2);
	}
	json_decref(j);

	item_path(path, sizeof path, util, id,
		  "/values?from=2026-11-19T00:00:00Z&to=2026-11-21T00:00:00Z");
	j = expect(path, app, want, code);
	if (want == 200) {
		vals = json_object_get(j, "values");
		assert_int_equal(json_array_size(vals), 2);
		assert_string_equal(json_string_value(json_object_get(json_array_get(vals, 0), "t")),
				    t0);
		assert_true(json_number_value(json_object_get(json_array_get(vals, 0), "v")) ==
			    it->v1);
		assert_true(json_number_value(json_object_get(json_array_get(vals, 1), "v")) ==
			    it->v2);
		assert_true(json_is_null(json_object_get(j, "next")));
	}
	json_decref(j);
	return want;
}

/* The ids of a list answer (member "items" with "id", or "values" with
 * "item"), sorted and joined by ",", compared with the expected ones. */
static void check_list(int app, int util, const char *what)
{
	int is_items = strcmp(what, "items") == 0;
	char path[128], want[256] = "", got[256] = "";
	const char *w[N_IDS], *g[N_IDS];
	size_t nw = 0, ng = 0;
	json_t *j, *arr, *e;
	size_t i;

	snprintf(path, sizeof path, "/ap/v1/utilities/%s/%s", UTILS[util], what);
	if (REVOKED[app]) {
		json_decref(expect(path, app, 401, "invalid_token"));
		return;
	}
	if (!GRANT[app][util].live) {
		json_decref(expect(path, app, 403, "insufficient_scope"));
		return;
	}
	for (i = 0; i < N_IDS; i++)
		if (expected_status(app, util, IDS[i]) == 200)
			w[nw++] = IDS[i];
	j = expect(path, app, 200, NULL);
	arr = json_object_get(j, is_items ? "items" : "values");
	assert_true(json_is_array(arr));
	json_array_foreach (arr, i, e) {
		const char *id = json_string_value(json_object_get(e, is_items ? "id" : "item"));
		assert_non_null(id);
		assert_true(ng < N_IDS);
		g[ng++] = id;
		if (!is_items) {
			const struct fx_item *it = find_item(util, id);
			assert_non_null(it);
			assert_true(json_number_value(json_object_get(e, "v")) == it->v2);
		}
	}
	/* both in IDS order, so that the comparison ignores the answer's order */
	for (i = 0; i < N_IDS; i++) {
		for (size_t k = 0; k < ng; k++)
			if (strcmp(g[k], IDS[i]) == 0)
				snprintf(got + strlen(got), sizeof got - strlen(got), "%s,", IDS[i]);
		for (size_t k = 0; k < nw; k++)
			if (strcmp(w[k], IDS[i]) == 0)
				snprintf(want + strlen(want), sizeof want - strlen(want), "%s,", IDS[i]);
	}
	if (strcmp(got, want) != 0 || ng != nw)
		fail_msg("%s with %s: listed [%s], expected [%s]", path, APPS[app].id, got, want);
	json_decref(j);
}

/* Files and gateways: 200 for a grant of all items, 403 for a restricted
 * grant or none. */
static void check_files_gateways(int app, int util)
{
	static const char *const rest[] = {"files", "files/1", "gateways", "gateways/gw1/events"};
	const struct fx_grant *g = &GRANT[app][util];
	char path[128];

	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		snprintf(path, sizeof path, "/ap/v1/utilities/%s/%s", UTILS[util], rest[i]);
		if (REVOKED[app]) {
			json_decref(expect(path, app, 401, "invalid_token"));
		} else if (!g->live || !g->all) {
			json_decref(expect(path, app, 403, "insufficient_scope"));
		} else if (i == 0 || i == 2) {
			json_t *j = expect(path, app, 200, NULL);
			assert_true(json_is_array(json_object_get(j, i == 0 ? "files" : "gateways")));
			json_decref(j);
		}
	}
}

/* The whole matrix for the current grants; prints one line per application:
 * per utility, per id of IDS, "+" 200 with data, "-" 403, "." 404, "x" 401. */
static size_t run_matrix(const char *title)
{
	size_t triples = 0, n200 = 0, n401 = 0, n403 = 0, n404 = 0;

	printf("isolation matrix (%s), ids:", title);
	for (size_t i = 0; i < N_IDS; i++)
		printf(" %s%s", IDS[i], i + 1 < N_IDS ? "," : "\n");
	for (int app = 0; app < N_APP; app++) {
		printf("  %-5s", APPS[app].id);
		for (int util = 0; util < N_UTIL; util++) {
			printf("  %s ", UTILS[util]);
			for (size_t i = 0; i < N_IDS; i++) {
				long st = check_triple(app, util, IDS[i]);
				putchar(st == 200 ? '+' : st == 401 ? 'x' : st == 403 ? '-' : '.');
				n200 += st == 200;
				n401 += st == 401;
				n403 += st == 403;
				n404 += st == 404;
				triples++;
			}
			check_list(app, util, "items");
			check_list(app, util, "latest");
			check_files_gateways(app, util);
		}
		putchar('\n');
	}
	printf("  %zu triples x 3 endpoints: %zu granted (200), %zu refused (403), %zu absent "
	       "(404), %zu revoked (401)\n",
	       triples, n200, n403, n404, n401);
	fflush(stdout);
	return triples;
}

static void test_matrix(void **state)
{
	(void)state;
	assert_int_equal(run_matrix("as provisioned"), N_APP * N_UTIL * N_IDS);
	/* the fixture is what it claims to be: every app but app5 reads
	 * something, and the restricted grants show some items, not all */
	assert_int_equal(expected_status(2, 1, "flow"), 200);
	assert_int_equal(expected_status(2, 1, "level"), 403);
	assert_int_equal(expected_status(3, 2, "ph"), 200);
	assert_int_equal(expected_status(3, 2, "Plant B"), 403);
	assert_int_equal(expected_status(3, 2, "meter"), 403);
	assert_int_equal(expected_status(1, 1, "ghost"), 404);
	assert_int_equal(expected_status(2, 1, "ghost"), 403);
	for (int u = 0; u < N_UTIL; u++)
		assert_false(GRANT[4][u].live);
}

/* Replacing a scope applies at the next request, to the same token. */
static void test_scope_change(void **state)
{
	(void)state;
	assert_int_equal(set_grant(2, 1, &(struct fx_grant){.items = {"level", "ghost"},
							 .facilities = {"Plant A"}}),
			 0);
	assert_int_equal(expected_status(2, 1, "flow"), 200); /* by its facility now */
	assert_int_equal(expected_status(2, 1, "turbidity"), 403);
	assert_int_equal(expected_status(2, 1, "ghost"), 404);
	for (int u = 0; u < N_UTIL; u++) {
		for (size_t i = 0; i < N_IDS; i++)
			check_triple(2, u, IDS[i]);
		check_list(2, u, "items");
		check_list(2, u, "latest");
		check_files_gateways(2, u);
	}
	assert_int_equal(set_grant(2, 1, &(struct fx_grant){.items = {"flow"}}), 0);
	check_list(2, 1, "items");
}

/* A revoked grant: 403 on the next request; the app's other grant stays. */
static void test_revoke_grant(void **state)
{
	char err[256];

	(void)state;
	check_triple(1, 1, "flow");
	assert_int_equal(expected_status(1, 1, "flow"), 200);
	assert_int_equal(registry_grant_revoke(E.reg, "test", "app2", "u2", timeutil_now_ms(), err,
					       sizeof err),
			 SUIDO_OK);
	GRANT[1][1].live = 0;
	for (size_t i = 0; i < N_IDS; i++) {
		assert_int_equal(check_triple(1, 1, IDS[i]), 403);
		assert_int_equal(check_triple(1, 0, IDS[i]), expected_status(1, 0, IDS[i]));
	}
	check_list(1, 1, "items");
	check_list(1, 1, "latest");
	check_files_gateways(1, 1);
	check_list(1, 0, "items");
}

/* Unlinking a vendor revokes the grants the utility gave its applications;
 * linking again does not bring them back. */
static void test_unlink_vendor(void **state)
{
	char err[256];
	uint64_t now = timeutil_now_ms();

	(void)state;
	assert_int_equal(check_triple(3, 2, "flow"), 200);
	assert_int_equal(check_triple(2, 1, "flow"), 200);
	assert_int_equal(registry_link_remove(E.reg, "test", "u3", "v3", now, err, sizeof err),
			 SUIDO_OK);
	GRANT[3][2].live = 0;
	for (size_t i = 0; i < N_IDS; i++)
		assert_int_equal(check_triple(3, 2, IDS[i]), 403);
	check_list(3, 2, "items");
	check_list(3, 2, "latest");
	/* v3's grant from u2 (app3) is another link's: untouched */
	assert_int_equal(check_triple(2, 1, "flow"), 200);
	/* a grant needs the link */
	assert_int_not_equal(registry_grant_set(E.reg, "test", "app4", "u3", "{\"all\":true}", now,
						err, sizeof err),
			     SUIDO_OK);
	assert_int_equal(registry_link_add(E.reg, "test", "u3", "v3", now, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(check_triple(3, 2, "flow"), 403);
	check_list(3, 2, "items");
}

/* A revoked application: its token is refused as invalid (401) at once,
 * on every utility, even where the grant is still recorded. */
static void test_revoke_app(void **state)
{
	char err[256], path[128];

	(void)state;
	assert_int_equal(check_triple(0, 0, "flow"), 200);
	assert_int_equal(registry_app_set_revoked(E.reg, "test", "app1", 1, timeutil_now_ms(), err,
						  sizeof err),
			 SUIDO_OK);
	for (int u = 0; u < N_UTIL; u++) {
		for (size_t i = 0; i < N_IDS; i++) {
			item_path(path, sizeof path, u, IDS[i], "/latest");
			json_decref(expect(path, 0, 401, "invalid_token"));
		}
		snprintf(path, sizeof path, "/ap/v1/utilities/%s/items", UTILS[u]);
		json_decref(expect(path, 0, 401, "invalid_token"));
	}
	/* the other applications are not affected */
	assert_int_equal(check_triple(1, 0, "flow"), 200);
	assert_int_equal(check_triple(4, 0, "flow"), 403);
	/* and the final state, everything once more */
	REVOKED[0] = 1;
	assert_int_equal(run_matrix("after the changes"), N_APP * N_UTIL * N_IDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),       cmocka_unit_test(test_scope_change),
		cmocka_unit_test(test_revoke_grant), cmocka_unit_test(test_unlink_vendor),
		cmocka_unit_test(test_revoke_app),
	};

	return cmocka_run_group_tests_name("authz", tests, group_setup, group_teardown);
}
