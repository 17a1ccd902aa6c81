/*
 * Unit tests of the admin REST API (admin.h) over a registry in a mkdtemp
 * directory: requests are built by hand and handed to admin_handle, the
 * answers' statuses and JSON bodies asserted. Covered: every endpoint as
 * the operator; the authorization rules for a utility's administrator (A
 * against the users and grants of B), a vendor's administrator, a general
 * user, a disabled or demoted user and an unknown principal; the client
 * configuration and its secret (which the registry then accepts); password
 * change with the policy's Japanese and English refusal; the audit log with
 * its actors and the refused requests; malformed JSON, duplicate keys, the
 * wrong content type, unknown fields and query parameters (400 naming
 * them), 404 / 405 answers.
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
#include <jansson.h>

#include "admin.h"
#include "suido/totp.h"
#include "http.h"
#include "registry.h"
#include "suido/error.h"
#include "suido/password.h"

#define T0 1795300000000ULL
#define ISSUER "https://id.suido.example"
#define JSON "application/json"

struct fx {
	char dir[64];
	struct registry *r;
	struct admin *a;
	struct password_policy policy;
	uint64_t now;
	/* users made by the fixture: admin and general of utility ua, admin
	 * of utility ub, admin of vendor va */
	struct admin_principal op, ua_admin, ua_general, ub_admin, va_admin;
	char ub_user[REG_ID_MAX];   /* a general user of ub */
	char ua_general_otp[REG_OTP_TEXT];
	/* the last answer */
	struct http_response res;
	json_t *j;
};

static void add_tenant(struct fx *f, const char *id, enum reg_kind k)
{
	struct reg_tenant t = {0};

	snprintf(t.id, sizeof t.id, "%s", id);
	snprintf(t.name, sizeof t.name, "%s の名前", id);
	t.kind = k;
	assert_int_equal(registry_tenant_add(f->r, "config", &t, T0, NULL, 0), SUIDO_OK);
}

static void add_user(struct fx *f, const char *tenant, enum reg_role role,
		     struct admin_principal *p, char otp[REG_OTP_TEXT])
{
	struct reg_user u = {0};
	char tmp[REG_OTP_TEXT];

	snprintf(u.tenant, sizeof u.tenant, "%s", tenant);
	snprintf(u.name_kanji, sizeof u.name_kanji, "水道 太郎");
	snprintf(u.name_kana, sizeof u.name_kana, "すいどう たろう");
	snprintf(u.name_romaji, sizeof u.name_romaji, "Suido Taro");
	u.role = role;
	assert_int_equal(registry_user_add(f->r, "config", &u, otp ? otp : tmp, T0, NULL, 0),
			 SUIDO_OK);
	if (p) {
		p->kind = ADMIN_USER;
		snprintf(p->login, sizeof p->login, "%s", u.login);
		snprintf(p->tenant, sizeof p->tenant, "%s", tenant);
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char path[128], err[256];
	struct admin_principal ubu;

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/suido-admin-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof path, "%s/registry.db", f->dir);
	if (registry_open(path, &f->r, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_open: %s", err);
	password_policy_defaults(&f->policy);
	assert_int_equal(admin_create(f->r, &f->policy, NULL, ISSUER, &f->a), SUIDO_OK);
	f->now = T0;
	f->op.kind = ADMIN_OPERATOR;
	add_tenant(f, "op", REG_OPERATOR);
	add_tenant(f, "ua", REG_UTILITY);
	add_tenant(f, "ub", REG_UTILITY);
	add_tenant(f, "va", REG_VENDOR);
	add_tenant(f, "vb", REG_VENDOR);
	add_user(f, "ua", REG_ROLE_ADMIN, &f->ua_admin, NULL);
	add_user(f, "ua", REG_ROLE_GENERAL, &f->ua_general, f->ua_general_otp);
	add_user(f, "ub", REG_ROLE_ADMIN, &f->ub_admin, NULL);
	add_user(f, "ub", REG_ROLE_GENERAL, &ubu, NULL);
	snprintf(f->ub_user, sizeof f->ub_user, "%s", ubu.login);
	add_user(f, "va", REG_ROLE_ADMIN, &f->va_admin, NULL);
	http_response_init(&f->res);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[160];
	static const char *const files[] = {"registry.db", "registry.db-wal", "registry.db-shm",
					    "registry.db-journal"};

	json_decref(f->j);
	http_response_free(&f->res);
	admin_free(f->a);
	registry_close(f->r);
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One request; the answer stays in f->res (and f->j when JSON). Returns
 * the status. */
static unsigned req_ct(struct fx *f, const struct admin_principal *who, const char *method,
		       const char *target, const char *ctype, const char *body)
{
	struct http_request rq = {0};
	char path[512];
	const char *q = strchr(target, '?');

	snprintf(path, sizeof path, "%.*s", q ? (int)(q - target) : (int)strlen(target), target);
	rq.method = method;
	rq.path = path;
	rq.path_len = strlen(path);
	rq.query = q ? q + 1 : "";
	rq.content_type = body ? ctype : NULL;
	rq.source = "127.0.0.1";
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.now_ms = f->now += 1000;
	json_decref(f->j);
	f->j = NULL;
	http_response_free(&f->res);
	http_response_init(&f->res);
	admin_handle(f->a, who, &rq, &f->res);
	if (f->res.body.len)
		f->j = json_loadb(f->res.body.data, f->res.body.len, 0, NULL);
	return f->res.status;
}

static unsigned req(struct fx *f, const struct admin_principal *who, const char *method,
		    const char *target, const char *body)
{
	return req_ct(f, who, method, target, JSON, body);
}

static const char *jstr(struct fx *f, const char *key)
{
	const char *s = json_string_value(json_object_get(f->j, key));

	if (!s)
		fail_msg("answer has no string \"%s\": %s", key,
			 f->res.body.data ? f->res.body.data : "(empty)");
	return s;
}

static const char *message(struct fx *f)
{
	return jstr(f, "message");
}

static size_t list_len(struct fx *f, const char *key)
{
	json_t *a = json_object_get(f->j, key);

	if (!json_is_array(a))
		fail_msg("answer has no array \"%s\": %s", key,
			 f->res.body.data ? f->res.body.data : "(empty)");
	return json_array_size(a);
}

/* The header name's value in the last answer, NULL when absent. */
static const char *header(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->res.n_headers; i++)
		if (strcmp(f->res.headers[i].name, name) == 0)
			return f->res.headers[i].value;
	return NULL;
}

/* 1 when some member key of the list's elements equals val. */
static int list_has(struct fx *f, const char *list, const char *key, const char *val)
{
	json_t *a = json_object_get(f->j, list), *e;
	size_t i;

	json_array_foreach(a, i, e)
		if (strcmp(json_string_value(json_object_get(e, key)) ?: "", val) == 0)
			return 1;
	return 0;
}

static void link_and_app(struct fx *f, const char *u, const char *v, const char *app)
{
	struct reg_app a = {0};
	char secret[REG_SECRET_TEXT];

	if (!registry_linked(f->r, u, v))
		assert_int_equal(registry_link_add(f->r, "config", u, v, T0, NULL, 0), SUIDO_OK);
	snprintf(a.id, sizeof a.id, "%s", app);
	snprintf(a.vendor, sizeof a.vendor, "%s", v);
	snprintf(a.name, sizeof a.name, "app %s", app);
	snprintf(a.redirect_uris, sizeof a.redirect_uris, "[\"https://%s.example/cb\"]", app);
	assert_int_equal(registry_app_add(f->r, "config", &a, secret, T0, NULL, 0), SUIDO_OK);
}

/* ---- the operator ------------------------------------------------------- */

static void test_unauthenticated(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req(f, NULL, "GET", "/admin/v1/tenants", NULL), 401);
	assert_string_equal(jstr(f, "error"), "unauthorized");
	assert_non_null(header(f, "WWW-Authenticate"));
	assert_string_equal(header(f, "WWW-Authenticate"), "Bearer realm=\"suido\"");
}

static void test_tenants(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants", NULL), 200);
	assert_int_equal(list_len(f, "tenants"), 5);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants?kind=vendor", NULL), 200);
	assert_int_equal(list_len(f, "tenants"), 2);
	assert_true(list_has(f, "tenants", "id", "va") && list_has(f, "tenants", "id", "vb"));
	assert_int_equal(req(f, &f->op, "HEAD", "/admin/v1/tenants?kind=utility", NULL), 200);
	assert_int_equal(list_len(f, "tenants"), 2);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants?kind=city", NULL), 400);
	assert_non_null(strstr(message(f), "kind"));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants?knd=vendor", NULL), 400);
	assert_non_null(strstr(message(f), "\"knd\""));

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"uc\",\"kind\":\"utility\",\"name\":\"C市水道局\"}"),
			 201);
	assert_string_equal(jstr(f, "id"), "uc");
	assert_string_equal(jstr(f, "kind"), "utility");
	assert_string_equal(jstr(f, "name"), "C市水道局");
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/uc", NULL), 200);
	assert_string_equal(jstr(f, "name"), "C市水道局");
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"uc\",\"kind\":\"vendor\",\"name\":\"x\"}"),
			 409);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/nobody", NULL), 404);

	/* bodies: refused with the field or the place named */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"ud\",\"kind\":\"utility\",\"name\":\"x\",\"colour\":1}"),
			 400);
	assert_non_null(strstr(message(f), "\"colour\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"ud\",\"kind\":\"utility\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"name\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"UD!\",\"kind\":\"utility\",\"name\":\"x\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"id\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"ud\",\"kind\":\"city\",\"name\":\"x\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"kind\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"ud\",\"kind\":\"utility\",\"name\":7}"),
			 400);
	assert_non_null(strstr(message(f), "\"name\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants", "{\"id\":\"ud\",\"kind\":"),
			 400);
	assert_non_null(strstr(message(f), "Malformed JSON"));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"ud\",\"id\":\"ue\",\"kind\":\"utility\",\"name\":\"x\"}"),
			 400);
	assert_non_null(strstr(message(f), "duplicate"));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants", "[1,2]"), 400);
	assert_non_null(strstr(message(f), "object"));
	assert_int_equal(req_ct(f, &f->op, "POST", "/admin/v1/tenants",
				"application/x-www-form-urlencoded", "id=ud&kind=utility&name=x"),
			 415);
	assert_string_equal(jstr(f, "error"), "unsupported_media_type");
	assert_int_equal(req_ct(f, &f->op, "POST", "/admin/v1/tenants", NULL,
				"{\"id\":\"ud\",\"kind\":\"utility\",\"name\":\"x\"}"),
			 415);
	assert_int_equal(req_ct(f, &f->op, "POST", "/admin/v1/tenants",
				"application/json; charset=utf-8",
				"{\"id\":\"ud\",\"kind\":\"utility\",\"name\":\"x\"}"),
			 201);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants", NULL), 415);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants", ""), 400);
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/tenants/ud", NULL), 405);
	assert_string_equal(header(f, "Allow"), "GET, HEAD");
}

static void test_links(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links",
			     "{\"utility\":\"ua\",\"vendor\":\"va\"}"),
			 201);
	assert_string_equal(jstr(f, "utility"), "ua");
	assert_string_equal(jstr(f, "vendor"), "va");
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links",
			     "{\"utility\":\"ub\",\"vendor\":\"va\"}"),
			 201);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links",
			     "{\"utility\":\"ub\",\"vendor\":\"vb\"}"),
			 201);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links",
			     "{\"utility\":\"ua\",\"vendor\":\"va\"}"),
			 409);
	/* wrong kinds: refused by the registry's rule */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links",
			     "{\"utility\":\"va\",\"vendor\":\"ua\"}"),
			 403);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/links", "{\"utility\":\"ua\"}"), 400);
	assert_non_null(strstr(message(f), "\"vendor\""));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/links", NULL), 200);
	assert_int_equal(list_len(f, "links"), 3);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/links?vendor=va", NULL), 200);
	assert_int_equal(list_len(f, "links"), 2);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/links?utility=ub&vendor=vb", NULL), 200);
	assert_int_equal(list_len(f, "links"), 1);
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/links/ub/vb", NULL), 204);
	assert_int_equal(f->res.body.len, 0);
	assert_false(registry_linked(f->r, "ub", "vb"));
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/links/ub/vb", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/links", NULL), 200);
	assert_int_equal(list_len(f, "links"), 2);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/links/ua", NULL), 404);
}

static void test_applications(void **state)
{
	struct fx *f = *state;
	char secret[REG_SECRET_TEXT], secret2[REG_SECRET_TEXT];
	json_t *v;

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"meter-app\",\"vendor\":\"va\",\"name\":\"検針アプリ\","
			     "\"redirect_uris\":[\"https://meter.example/cb\",\"http://127.0.0.1:8080/cb\"]}"),
			 201);
	assert_string_equal(jstr(f, "issuer"), ISSUER);
	assert_string_equal(jstr(f, "discovery"), ISSUER "/.well-known/openid-configuration");
	assert_string_equal(jstr(f, "client_id"), "meter-app");
	assert_string_equal(jstr(f, "token_endpoint_auth_method"), "client_secret_basic");
	v = json_object_get(f->j, "redirect_uris");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "http://127.0.0.1:8080/cb");
	v = json_object_get(f->j, "grant_types");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "authorization_code");
	assert_string_equal(json_string_value(json_array_get(v, 2)), "client_credentials");
	v = json_object_get(f->j, "scopes");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 2)), "ap.read");
	assert_int_equal(strlen(jstr(f, "client_secret")), REG_SECRET_TEXT - 1);
	snprintf(secret, sizeof secret, "%s", jstr(f, "client_secret"));
	assert_int_equal(registry_app_authenticate(f->r, "meter-app", secret), SUIDO_OK);

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"meter-app\",\"vendor\":\"va\",\"name\":\"x\","
			     "\"redirect_uris\":[\"https://meter.example/cb\"]}"),
			 409);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"bad-app\",\"vendor\":\"va\",\"name\":\"x\","
			     "\"redirect_uris\":[\"http://meter.example/cb\"]}"),
			 400);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"bad-app\",\"vendor\":\"va\",\"name\":\"x\","
			     "\"redirect_uris\":\"https://meter.example/cb\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"redirect_uris\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"bad-app\",\"vendor\":\"va\",\"name\":\"x\","
			     "\"redirect_uris\":[\"https://a.example/cb\",5]}"),
			 400);
	assert_non_null(strstr(message(f), "redirect_uris[1]"));
	/* an application belongs to a vendor */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications",
			     "{\"id\":\"bad-app\",\"vendor\":\"ua\",\"name\":\"x\","
			     "\"redirect_uris\":[\"https://a.example/cb\"]}"),
			 403);

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/applications/meter-app", NULL), 200);
	assert_string_equal(jstr(f, "vendor"), "va");
	assert_string_equal(jstr(f, "name"), "検針アプリ");
	assert_false(json_is_true(json_object_get(f->j, "revoked")));
	assert_null(json_object_get(f->j, "client_secret"));
	assert_null(strstr(f->res.body.data, secret));
	link_and_app(f, "ub", "vb", "other-app");
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/applications", NULL), 200);
	assert_int_equal(list_len(f, "applications"), 2);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/applications?vendor=vb", NULL), 200);
	assert_int_equal(list_len(f, "applications"), 1);
	assert_true(list_has(f, "applications", "id", "other-app"));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/applications/none", NULL), 404);

	assert_int_equal(req(f, &f->op, "PATCH", "/admin/v1/applications/meter-app",
			     "{\"redirect_uris\":[\"https://meter.example/cb2\"]}"),
			 200);
	v = json_object_get(f->j, "redirect_uris");
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "https://meter.example/cb2");
	assert_true(registry_app_redirect_ok(f->r, "meter-app", "https://meter.example/cb2"));
	assert_int_equal(req(f, &f->op, "PATCH", "/admin/v1/applications/meter-app",
			     "{\"name\":\"new\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"name\""));

	/* rotation: a new configuration, the old secret stops working */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/meter-app/secret", NULL),
			 200);
	snprintf(secret2, sizeof secret2, "%s", jstr(f, "client_secret"));
	assert_string_not_equal(secret, secret2);
	assert_string_equal(jstr(f, "client_id"), "meter-app");
	assert_int_equal(registry_app_authenticate(f->r, "meter-app", secret), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_authenticate(f->r, "meter-app", secret2), SUIDO_OK);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/meter-app/secret",
			     "{\"force\":true}"),
			 400);
	assert_non_null(strstr(message(f), "\"force\""));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/applications/meter-app/secret", NULL),
			 405);
	assert_string_equal(header(f, "Allow"), "POST");

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/meter-app/revoke", NULL),
			 200);
	assert_true(json_is_true(json_object_get(f->j, "revoked")));
	assert_int_equal(registry_app_authenticate(f->r, "meter-app", secret2), SUIDO_ERR_PERM);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/meter-app/reinstate",
			     "{}"),
			 200);
	assert_false(json_is_true(json_object_get(f->j, "revoked")));
	assert_int_equal(registry_app_authenticate(f->r, "meter-app", secret2), SUIDO_OK);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/meter-app/delete", NULL),
			 404);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/applications/none/revoke", NULL), 404);
}

static void test_grants(void **state)
{
	struct fx *f = *state;
	struct reg_grant g;

	link_and_app(f, "ua", "va", "app1");
	link_and_app(f, "ub", "va", "app2");
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app1",
			     "{\"scope\":{\"all\":true}}"),
			 200);
	assert_string_equal(jstr(f, "app"), "app1");
	assert_string_equal(jstr(f, "utility"), "ua");
	assert_true(json_is_true(json_object_get(json_object_get(f->j, "scope"), "all")));
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ub/grants/app2",
			     "{\"scope\":{\"items\":[\"flow-1\"],\"facilities\":[\"浄水場\"]}}"),
			 200);
	assert_int_equal(registry_grant_get(f->r, "app2", "ub", &g), SUIDO_OK);
	assert_true(registry_scope_allows(g.scope, "flow-1", ""));
	assert_true(registry_scope_allows(g.scope, "p-9", "浄水場"));
	assert_false(registry_scope_allows(g.scope, "p-9", "配水池"));
	/* the scope replaced */
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ub/grants/app2",
			     "{\"scope\":{\"items\":[\"flow-2\"]}}"),
			 200);
	assert_int_equal(registry_grant_get(f->r, "app2", "ub", &g), SUIDO_OK);
	assert_false(registry_scope_allows(g.scope, "flow-1", ""));

	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app1",
			     "{\"scope\":{\"all\":false}}"),
			 400);
	assert_non_null(strstr(message(f), "scope.all"));
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app1",
			     "{\"scope\":{\"itemz\":[]}}"),
			 400);
	assert_non_null(strstr(message(f), "scope.itemz"));
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app1",
			     "{\"scope\":{\"items\":[1]}}"),
			 400);
	assert_non_null(strstr(message(f), "scope.items[0]"));
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app1", "{}"), 400);
	assert_non_null(strstr(message(f), "\"scope\""));
	/* no link from app2's vendor... va is linked to ua: use an unlinked
	 * vendor's application */
	link_and_app(f, "ub", "vb", "app3");
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/app3",
			     "{\"scope\":{\"all\":true}}"),
			 403);
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ua/grants/nope",
			     "{\"scope\":{\"all\":true}}"),
			 404);

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/grants", NULL), 200);
	assert_int_equal(list_len(f, "grants"), 2);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/grants?utility=ub", NULL), 200);
	assert_int_equal(list_len(f, "grants"), 1);
	assert_true(list_has(f, "grants", "app", "app2"));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/grants?app=app1", NULL), 200);
	assert_int_equal(list_len(f, "grants"), 1);
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/utilities/ua/grants/app1", NULL), 204);
	assert_int_equal(registry_grant_get(f->r, "app1", "ua", &g), SUIDO_ERR_NOTFOUND);
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/utilities/ua/grants/app1", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/utilities/ua/grants/app1", NULL), 405);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/utilities/ua/grantz/app1", NULL), 404);
}

static void test_users(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], otp[REG_OTP_TEXT];
	int mc = 0;

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"山田 花子\",\"name_kana\":\"やまだ はなこ\","
			     "\"name_romaji\":\"Yamada Hanako\",\"mail\":\"hanako@ua.example\","
			     "\"phone\":\"03-1234-5678\",\"role\":\"admin\",\"otp_required\":true}"),
			 201);
	snprintf(login, sizeof login, "%s", jstr(f, "login"));
	assert_int_equal(strncmp(login, "ua-", 3), 0);
	snprintf(otp, sizeof otp, "%s", jstr(f, "one_time_password"));
	assert_true(strlen(otp) > 8);
	assert_string_equal(jstr(f, "role"), "admin");
	assert_string_equal(jstr(f, "tenant"), "ua");
	assert_true(json_is_true(json_object_get(f->j, "otp_required")));
	assert_true(json_is_true(json_object_get(f->j, "must_change")));
	assert_int_equal(registry_user_check_password(f->r, login, otp, strlen(otp), &mc), SUIDO_OK);
	assert_int_equal(mc, 1);

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/users?tenant=ua", NULL), 200);
	assert_int_equal(list_len(f, "users"), 3);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/users", NULL), 200);
	assert_int_equal(list_len(f, "users"), 6);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/users?tenant=ua&role=admin", NULL), 400);
	assert_non_null(strstr(message(f), "\"role\""));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/users?tenant=ua&tenant=ub", NULL), 400);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/users/ua-9999", NULL), 404);
	{
		char path[128];
		snprintf(path, sizeof path, "/admin/v1/users/%s", login);
		assert_int_equal(req(f, &f->op, "GET", path, NULL), 200);
		assert_string_equal(jstr(f, "name_kanji"), "山田 花子");
		assert_string_equal(jstr(f, "mail"), "hanako@ua.example");
		assert_null(json_object_get(f->j, "one_time_password"));
		assert_int_equal(req(f, &f->op, "PATCH", path,
				     "{\"name_kanji\":\"山田 華子\",\"role\":\"general\","
				     "\"disabled\":true,\"otp_required\":false}"),
				 200);
		assert_string_equal(jstr(f, "name_kanji"), "山田 華子");
		assert_string_equal(jstr(f, "name_kana"), "やまだ はなこ");
		assert_string_equal(jstr(f, "role"), "general");
		assert_true(json_is_true(json_object_get(f->j, "disabled")));
		assert_false(json_is_true(json_object_get(f->j, "otp_required")));
		assert_int_equal(req(f, &f->op, "PATCH", path, "{}"), 400);
		assert_non_null(strstr(message(f), "changes nothing"));
		assert_int_equal(req(f, &f->op, "PATCH", path, "{\"role\":\"owner\"}"), 400);
		assert_non_null(strstr(message(f), "\"role\""));
		assert_int_equal(req(f, &f->op, "PATCH", path, "{\"disabled\":\"yes\"}"), 400);
		assert_non_null(strstr(message(f), "\"disabled\""));
		assert_int_equal(req(f, &f->op, "PATCH", path, "{\"tenant\":\"ub\"}"), 400);
		assert_non_null(strstr(message(f), "\"tenant\""));
		assert_int_equal(req(f, &f->op, "PATCH", path, "{\"phone\":\"call me\"}"), 400);
		assert_int_equal(req(f, &f->op, "PATCH", path, "{\"disabled\":false}"), 200);

		/* the operator's reset: a new one-time password */
		snprintf(path, sizeof path, "/admin/v1/users/%s/password-reset", login);
		assert_int_equal(req(f, &f->op, "POST", path, NULL), 200);
		assert_string_equal(jstr(f, "login"), login);
		assert_string_not_equal(jstr(f, "one_time_password"), otp);
		assert_int_equal(registry_user_check_password(f->r, login, otp, strlen(otp), &mc),
				 SUIDO_ERR_PERM);
		snprintf(otp, sizeof otp, "%s", jstr(f, "one_time_password"));
		assert_int_equal(registry_user_check_password(f->r, login, otp, strlen(otp), &mc),
				 SUIDO_OK);
		assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users/ua-9999/password-reset",
				     NULL),
				 404);
	}
	/* bodies */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\",\"login\":\"ua-0100\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"login\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"name_kanji\":\"x\",\"name_kana\":\"x\",\"name_romaji\":\"x\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"tenant\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"tenant\":\"nowhere\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\"}"),
			 404);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\",\"otp_required\":1}"),
			 400);
	assert_non_null(strstr(message(f), "\"otp_required\""));
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"a\\u0000b\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\"}"),
			 400); /* jansson refuses \u0000 at parse */
	assert_non_null(strstr(message(f), "u0000"));
}

static void test_me(void **state)
{
	struct fx *f = *state;
	char body[256];
	int mc = 1;
	const char *login = f->ua_general.login;

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/me", NULL), 200);
	assert_string_equal(jstr(f, "kind"), "operator");
	assert_int_equal(req(f, &f->ua_general, "GET", "/admin/v1/me", NULL), 200);
	assert_string_equal(jstr(f, "kind"), "user");
	assert_string_equal(jstr(f, "login"), login);
	assert_string_equal(jstr(f, "tenant"), "ua");
	assert_string_equal(jstr(f, "tenant_kind"), "utility");
	assert_string_equal(jstr(f, "role"), "general");

	/* a wrong current password */
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password",
			     "{\"current\":\"wrong\",\"new\":\"Kawa-no-nagare-2026\"}"),
			 403);
	/* the policy's refusal in both languages */
	snprintf(body, sizeof body, "{\"current\":\"%s\",\"new\":\"short1A\"}", f->ua_general_otp);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password", body), 422);
	assert_string_equal(jstr(f, "error"), "password_policy");
	assert_int_equal(json_integer_value(json_object_get(f->j, "reason")), PASSWORD_TOO_SHORT);
	assert_string_equal(jstr(f, "message"), password_reason_en(PASSWORD_TOO_SHORT));
	assert_string_equal(jstr(f, "message_ja"), password_reason_ja(PASSWORD_TOO_SHORT));
	snprintf(body, sizeof body, "{\"current\":\"%s\",\"new\":\"%s-Xy9zz\"}", f->ua_general_otp,
		 login);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password", body), 422);
	assert_int_equal(json_integer_value(json_object_get(f->j, "reason")), PASSWORD_HAS_LOGIN);
	/* accepted */
	snprintf(body, sizeof body, "{\"current\":\"%s\",\"new\":\"Kawa-no-nagare-2026\"}",
		 f->ua_general_otp);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password", body), 204);
	assert_int_equal(registry_user_check_password(f->r, login, "Kawa-no-nagare-2026", 19, &mc),
			 SUIDO_OK);
	assert_int_equal(mc, 0);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password",
			     "{\"current\":\"Kawa-no-nagare-2026\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"new\""));
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/password",
			     "{\"current\":\"Kawa-no-nagare-2026\",\"new\":\"x\",\"again\":\"x\"}"),
			 400);
	assert_non_null(strstr(message(f), "\"again\""));
	/* the operator has no password here */
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/me/password",
			     "{\"current\":\"a\",\"new\":\"b\"}"),
			 403);
	assert_int_equal(req(f, &f->ua_general, "GET", "/admin/v1/me/password", NULL), 405);
	assert_int_equal(req(f, &f->ua_general, "GET", "/admin/v1/me/other", NULL), 404);
}

/* The audit row of action with seq > after, as JSON, or NULL. */
static json_t *audit_find(struct fx *f, const char *action, const char *actor)
{
	json_t *e;
	size_t i;

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?limit=1000", NULL), 200);
	json_array_foreach(json_object_get(f->j, "entries"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "action")) ?: "", action) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "actor")) ?: "", actor) == 0)
			return e;
	return NULL;
}

static void test_audit(void **state)
{
	struct fx *f = *state;
	char actor[96];
	int64_t next;

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/tenants",
			     "{\"id\":\"uc\",\"kind\":\"utility\",\"name\":\"C\"}"),
			 201);
	assert_non_null(audit_find(f, "tenant.add", "operator"));
	/* a change by a tenant's administrator names the user */
	assert_int_equal(req(f, &f->ua_admin, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\"}"),
			 201);
	snprintf(actor, sizeof actor, "user:%s", f->ua_admin.login);
	assert_non_null(audit_find(f, "user.add", actor));
	/* no secret in the log */
	assert_null(strstr(f->res.body.data, "one_time_password"));
	/* a refused request leaves a trace */
	assert_int_equal(req(f, &f->ua_admin, "GET", "/admin/v1/audit", NULL), 403);
	assert_non_null(audit_find(f, "admin.refused", actor));

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?limit=2", NULL), 200);
	assert_int_equal(list_len(f, "entries"), 2);
	next = json_integer_value(json_object_get(f->j, "next_after"));
	assert_int_equal(next, 2);
	{
		char path[96];
		snprintf(path, sizeof path, "/admin/v1/audit?after=%lld&limit=1", (long long)next);
		assert_int_equal(req(f, &f->op, "GET", path, NULL), 200);
		assert_int_equal(list_len(f, "entries"), 1);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(f->j, "entries"), 0), "seq")),
				 next + 1);
	}
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit", NULL), 200);
	assert_true(list_len(f, "entries") > 5 && list_len(f, "entries") <= 100);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?limit=0", NULL), 400);
	assert_non_null(strstr(message(f), "\"limit\""));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?limit=1001", NULL), 400);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?after=-1", NULL), 400);
	assert_non_null(strstr(message(f), "\"after\""));
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?after=x", NULL), 400);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/audit?since=1", NULL), 400);
	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/audit", "{}"), 405);
}

/* ---- tenants' administrators ----------------------------------------------- */

static void test_utility_admin(void **state)
{
	struct fx *f = *state;
	const struct admin_principal *a = &f->ua_admin;
	char path[128];

	/* users: its own tenant's only; B's users do not exist for it */
	assert_int_equal(req(f, a, "GET", "/admin/v1/users", NULL), 200);
	assert_int_equal(list_len(f, "users"), 2);
	assert_false(list_has(f, "users", "tenant", "ub"));
	assert_int_equal(req(f, a, "GET", "/admin/v1/users?tenant=ub", NULL), 200);
	assert_int_equal(list_len(f, "users"), 0);
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ub_user);
	assert_int_equal(req(f, a, "GET", path, NULL), 404);
	assert_string_equal(jstr(f, "error"), "not_found");
	assert_int_equal(req(f, a, "PATCH", path, "{\"disabled\":true}"), 404);
	assert_int_equal(req(f, a, "GET", "/admin/v1/users/ub-9999", NULL), 404);
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ua_general.login);
	assert_int_equal(req(f, a, "GET", path, NULL), 200);
	assert_int_equal(req(f, a, "PATCH", path, "{\"mail\":\"g@ua.example\"}"), 200);
	assert_string_equal(jstr(f, "mail"), "g@ua.example");
	assert_int_equal(req(f, a, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ub\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\"}"),
			 403);
	assert_int_equal(req(f, a, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\",\"role\":\"admin\"}"),
			 201);
	assert_string_equal(jstr(f, "tenant"), "ua");
	/* FAQ 8: only the operator resets a password */
	snprintf(path, sizeof path, "/admin/v1/users/%s/password-reset", f->ua_general.login);
	assert_int_equal(req(f, a, "POST", path, NULL), 403);

	/* tenants: its own */
	assert_int_equal(req(f, a, "GET", "/admin/v1/tenants", NULL), 200);
	assert_int_equal(list_len(f, "tenants"), 1);
	assert_true(list_has(f, "tenants", "id", "ua"));
	assert_int_equal(req(f, a, "GET", "/admin/v1/tenants?kind=vendor", NULL), 200);
	assert_int_equal(list_len(f, "tenants"), 0);
	assert_int_equal(req(f, a, "GET", "/admin/v1/tenants/ua", NULL), 200);
	assert_int_equal(req(f, a, "GET", "/admin/v1/tenants/ub", NULL), 404);
	assert_int_equal(req(f, a, "POST", "/admin/v1/tenants",
			     "{\"id\":\"uz\",\"kind\":\"utility\",\"name\":\"x\"}"),
			 403);

	/* links: those involving it; no changes */
	link_and_app(f, "ua", "va", "app-a");
	link_and_app(f, "ub", "vb", "app-b");
	link_and_app(f, "ub", "va", "app-c");
	assert_int_equal(req(f, a, "GET", "/admin/v1/links", NULL), 200);
	assert_int_equal(list_len(f, "links"), 1);
	assert_true(list_has(f, "links", "utility", "ua"));
	assert_int_equal(req(f, a, "GET", "/admin/v1/links?utility=ub", NULL), 200);
	assert_int_equal(list_len(f, "links"), 0);
	assert_int_equal(req(f, a, "POST", "/admin/v1/links",
			     "{\"utility\":\"ua\",\"vendor\":\"vb\"}"),
			 403);
	assert_int_equal(req(f, a, "DELETE", "/admin/v1/links/ua/va", NULL), 403);
	assert_true(registry_linked(f->r, "ua", "va"));

	/* grants: its own utility's */
	assert_int_equal(req(f, a, "PUT", "/admin/v1/utilities/ua/grants/app-a",
			     "{\"scope\":{\"all\":true}}"),
			 200);
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/utilities/ub/grants/app-b",
			     "{\"scope\":{\"all\":true}}"),
			 200);
	assert_int_equal(req(f, a, "PUT", "/admin/v1/utilities/ub/grants/app-c",
			     "{\"scope\":{\"all\":true}}"),
			 403);
	assert_int_equal(req(f, a, "DELETE", "/admin/v1/utilities/ub/grants/app-b", NULL), 403);
	assert_int_equal(req(f, a, "GET", "/admin/v1/grants", NULL), 200);
	assert_int_equal(list_len(f, "grants"), 1);
	assert_true(list_has(f, "grants", "utility", "ua"));
	assert_int_equal(req(f, a, "GET", "/admin/v1/grants?utility=ub", NULL), 200);
	assert_int_equal(list_len(f, "grants"), 0);
	assert_int_equal(req(f, a, "DELETE", "/admin/v1/utilities/ua/grants/app-a", NULL), 204);

	/* applications and the audit log are not a utility's */
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications", NULL), 403);
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications/app-a", NULL), 403);
	assert_int_equal(req(f, a, "GET", "/admin/v1/audit", NULL), 403);

	/* B's administrator is held to B the same way */
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ua_general.login);
	assert_int_equal(req(f, &f->ub_admin, "GET", path, NULL), 404);
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ub_user);
	assert_int_equal(req(f, &f->ub_admin, "GET", path, NULL), 200);
	assert_int_equal(req(f, &f->ub_admin, "PUT", "/admin/v1/utilities/ua/grants/app-a",
			     "{\"scope\":{\"all\":true}}"),
			 403);
}

static void test_vendor_admin(void **state)
{
	struct fx *f = *state;
	const struct admin_principal *a = &f->va_admin;
	char secret[REG_SECRET_TEXT];

	link_and_app(f, "ub", "vb", "b-app");
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications",
			     "{\"id\":\"a-app\",\"vendor\":\"va\",\"name\":\"A\","
			     "\"redirect_uris\":[\"https://a.example/cb\"]}"),
			 201);
	snprintf(secret, sizeof secret, "%s", jstr(f, "client_secret"));
	assert_int_equal(registry_app_authenticate(f->r, "a-app", secret), SUIDO_OK);
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications",
			     "{\"id\":\"a-app2\",\"vendor\":\"vb\",\"name\":\"A\","
			     "\"redirect_uris\":[\"https://a.example/cb\"]}"),
			 403);
	assert_int_equal(registry_app_get(f->r, "a-app2", &(struct reg_app){0}),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications", NULL), 200);
	assert_int_equal(list_len(f, "applications"), 1);
	assert_true(list_has(f, "applications", "id", "a-app"));
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications?vendor=vb", NULL), 200);
	assert_int_equal(list_len(f, "applications"), 0);
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications/a-app", NULL), 200);
	assert_int_equal(req(f, a, "GET", "/admin/v1/applications/b-app", NULL), 404);
	assert_int_equal(req(f, a, "PATCH", "/admin/v1/applications/a-app",
			     "{\"redirect_uris\":[\"https://a.example/cb2\"]}"),
			 200);
	assert_int_equal(req(f, a, "PATCH", "/admin/v1/applications/b-app",
			     "{\"redirect_uris\":[\"https://a.example/cb2\"]}"),
			 404);
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications/a-app/secret", NULL), 200);
	assert_string_not_equal(jstr(f, "client_secret"), secret);
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications/b-app/secret", NULL), 404);
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications/a-app/revoke", NULL), 403);
	assert_int_equal(req(f, a, "POST", "/admin/v1/applications/a-app/reinstate", NULL), 403);
	/* grants are the utilities' */
	assert_int_equal(req(f, a, "GET", "/admin/v1/grants", NULL), 403);
	assert_int_equal(req(f, a, "PUT", "/admin/v1/utilities/ua/grants/a-app",
			     "{\"scope\":{\"all\":true}}"),
			 403);
	/* links: its own */
	assert_int_equal(registry_link_add(f->r, "config", "ua", "va", T0, NULL, 0), SUIDO_OK);
	assert_int_equal(req(f, a, "GET", "/admin/v1/links", NULL), 200);
	assert_int_equal(list_len(f, "links"), 1);
	assert_true(list_has(f, "links", "vendor", "va"));
	/* users of its own tenant */
	assert_int_equal(req(f, a, "GET", "/admin/v1/users", NULL), 200);
	assert_int_equal(list_len(f, "users"), 1);
	assert_int_equal(req(f, a, "GET", "/admin/v1/tenants/va", NULL), 200);
	assert_string_equal(jstr(f, "kind"), "vendor");
}

static void test_general_user(void **state)
{
	struct fx *f = *state;
	const struct admin_principal *g = &f->ua_general;
	static const char *const gets[] = {"/admin/v1/tenants", "/admin/v1/tenants/ua",
					   "/admin/v1/users", "/admin/v1/links",
					   "/admin/v1/applications", "/admin/v1/grants",
					   "/admin/v1/audit"};
	char path[128];

	for (size_t i = 0; i < sizeof gets / sizeof *gets; i++) {
		if (req(f, g, "GET", gets[i], NULL) != 403)
			fail_msg("%s answered %u", gets[i], f->res.status);
		assert_string_equal(jstr(f, "error"), "forbidden");
	}
	snprintf(path, sizeof path, "/admin/v1/users/%s", g->login);
	assert_int_equal(req(f, g, "GET", path, NULL), 403);
	assert_int_equal(req(f, g, "PATCH", path, "{\"role\":\"admin\"}"), 403);
	assert_int_equal(req(f, g, "POST", "/admin/v1/users",
			     "{\"tenant\":\"ua\",\"name_kanji\":\"x\",\"name_kana\":\"x\","
			     "\"name_romaji\":\"x\"}"),
			 403);
	assert_int_equal(req(f, g, "PUT", "/admin/v1/utilities/ua/grants/x",
			     "{\"scope\":{\"all\":true}}"),
			 403);
	assert_int_equal(req(f, g, "GET", "/admin/v1/me", NULL), 200);
}

static void test_principal_reread(void **state)
{
	struct fx *f = *state;
	struct admin_principal stale = f->ua_admin, ghost = f->ua_admin, wrong = f->ua_admin;
	struct reg_user u;
	char path[128];

	/* demoted: the registry's role rules, not the principal's */
	assert_int_equal(registry_user_get(f->r, f->ua_admin.login, &u), SUIDO_OK);
	u.role = REG_ROLE_GENERAL;
	assert_int_equal(registry_user_update(f->r, "operator", &u, T0, NULL, 0), SUIDO_OK);
	assert_int_equal(req(f, &stale, "GET", "/admin/v1/users", NULL), 403);
	assert_int_equal(req(f, &stale, "GET", "/admin/v1/me", NULL), 200);
	assert_string_equal(jstr(f, "role"), "general");
	/* disabled: nothing */
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ua_admin.login);
	assert_int_equal(req(f, &f->op, "PATCH", path, "{\"disabled\":true,\"role\":\"admin\"}"),
			 200);
	assert_int_equal(req(f, &stale, "GET", "/admin/v1/me", NULL), 403);
	assert_int_equal(req(f, &stale, "GET", "/admin/v1/users", NULL), 403);
	/* unknown login, or a tenant not the user's: not authenticated */
	snprintf(ghost.login, sizeof ghost.login, "ua-0999");
	assert_int_equal(req(f, &ghost, "GET", "/admin/v1/me", NULL), 401);
	assert_non_null(header(f, "WWW-Authenticate"));
	snprintf(wrong.login, sizeof wrong.login, "%s", f->ub_admin.login);
	assert_int_equal(req(f, &wrong, "GET", "/admin/v1/me", NULL), 401);
}

/* Gateways: listed with owner and builder; a utility's administrator sees its
 * own, the builder vendor's sees those it built, only the operator records
 * the builder; TOTP provisioning is the operator's too. */
static void test_gateways_and_totp(void **state)
{
	struct fx *f = *state;
	char path[128];

	assert_int_equal(registry_gateway_ensure(f->r, "config", "gw-a", "ua", T0, NULL, 0),
			 SUIDO_OK);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "gw-b", "ub", T0, NULL, 0),
			 SUIDO_OK);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/gateways", NULL), 200);
	assert_int_equal(list_len(f, "gateways"), 2);
	assert_int_equal(req(f, &f->ua_admin, "GET", "/admin/v1/gateways", NULL), 200);
	assert_int_equal(list_len(f, "gateways"), 1);
	assert_true(list_has(f, "gateways", "id", "gw-a"));
	assert_int_equal(req(f, &f->ua_admin, "GET", "/admin/v1/gateways/gw-b", NULL), 404);
	assert_int_equal(req(f, &f->ua_admin, "PATCH", "/admin/v1/gateways/gw-a",
			     "{\"vendor\":\"va\"}"),
			 403);
	assert_int_equal(req(f, &f->va_admin, "GET", "/admin/v1/gateways/gw-a", NULL), 404);
	assert_int_equal(req(f, &f->op, "PATCH", "/admin/v1/gateways/gw-a", "{\"vendor\":\"va\"}"),
			 200);
	assert_string_equal(jstr(f, "vendor"), "va");
	assert_int_equal(req(f, &f->va_admin, "GET", "/admin/v1/gateways/gw-a", NULL), 200);
	assert_int_equal(req(f, &f->op, "PATCH", "/admin/v1/gateways/gw-a", "{\"vendor\":\"ub\"}"),
			 403);
	/* TOTP provisioning */
	snprintf(path, sizeof path, "/admin/v1/users/%s/totp", f->ua_general.login);
	assert_int_equal(req(f, &f->ua_admin, "POST", path, NULL), 403);
	assert_int_equal(req(f, &f->op, "POST", path, NULL), 200);
	assert_int_equal(strlen(jstr(f, "secret")), 32);
	assert_non_null(strstr(jstr(f, "otpauth_uri"), "otpauth://totp/"));
	snprintf(path, sizeof path, "/admin/v1/users/%s", f->ua_general.login);
	assert_int_equal(req(f, &f->op, "GET", path, NULL), 200);
	assert_true(json_is_true(json_object_get(f->j, "totp_enrolled")));
}

/* A user's own TOTP enrolment: a pending secret with its URI, confirmed by a
 * code of it (a wrong code is 422), then ten recovery codes once. */
static void test_me_totp(void **state)
{
	struct fx *f = *state;
	unsigned char sec[TOTP_SECRET_MAX];
	size_t len = 0;
	char code[TOTP_DIGITS + 1], body[64], b32[TOTP_BASE32_MAX];

	assert_int_equal(req(f, &f->op, "POST", "/admin/v1/me/totp", NULL), 403);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/totp", NULL), 200);
	snprintf(b32, sizeof b32, "%s", jstr(f, "secret"));
	assert_non_null(strstr(jstr(f, "otpauth_uri"), "otpauth://totp/"));
	assert_int_equal(totp_secret_from_base32(b32, strlen(b32), sec, &len), SUIDO_OK);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/totp/confirm",
			     "{\"code\":\"000000\"}"),
			 422);
	/* the next request's clock is f->now + 1000 */
	assert_int_equal(totp_generate(sec, len, (int64_t)((f->now + 1000) / 1000), code), SUIDO_OK);
	snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
	assert_int_equal(req(f, &f->ua_general, "POST", "/admin/v1/me/totp/confirm", body), 200);
	assert_int_equal(list_len(f, "recovery_codes"), TOTP_RECOVERY_COUNT);
	assert_int_equal(req(f, &f->ua_general, "GET", "/admin/v1/me", NULL), 200);
	assert_true(json_is_true(json_object_get(f->j, "totp_enrolled")));
}

static void test_paths_and_methods(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1//tenants", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/widgets", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/ua/extra", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/a/b/c/d/e/f/g", NULL), 404);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/u%61", NULL), 200);
	assert_string_equal(jstr(f, "id"), "ua");
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/u%2", NULL), 400);
	assert_int_equal(req(f, &f->op, "GET", "/admin/v1/tenants/a%2Fb", NULL), 400);
	assert_int_equal(req(f, &f->op, "OPTIONS", "/admin/v1/tenants", NULL), 405);
	assert_non_null(header(f, "Allow"));
	assert_int_equal(req(f, &f->op, "PUT", "/admin/v1/users", "{}"), 405);
	assert_string_equal(header(f, "Allow"), "GET, HEAD, POST");
	assert_int_equal(req(f, &f->op, "DELETE", "/admin/v1/links", NULL), 405);
	assert_int_equal(req(f, &f->op, "PATCH", "/admin/v1/grants", "{}"), 405);
	assert_string_equal(header(f, "Allow"), "GET, HEAD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unauthenticated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_applications, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_me, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utility_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vendor_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_general_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_principal_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateways_and_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_me_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_and_methods, setup, teardown),
	};

	return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
