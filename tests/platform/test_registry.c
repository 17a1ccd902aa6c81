/*
 * Unit tests of the registry (registry.h) on a database in a fresh temporary
 * directory, with time injected: tenant kinds and ids, vendor links and the
 * grants they allow, scopes, applications' secrets and redirect URIs, users'
 * login IDs, one-time and chosen passwords with the policy and history, TOTP
 * with skew, replay and recovery codes, authorization codes and refresh token
 * rotation with reuse detection, the append-only audit log, and a reopen.
 * Argon2id costs about 70 ms a hash: the tests keep to a few dozen.
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
#include <sqlite3.h>

#include "registry.h"
#include "suido/error.h"
#include "suido/password.h"
#include "suido/totp.h"

#define T0 1795300000000ULL /* ms since the epoch, 2026-11-22 */
#define OP "operator"

struct fix {
	char dir[64];
	char path[128];
	struct registry *r;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof *f);
	char err[256] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_registry.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/registry.db", f->dir);
	assert_int_equal(registry_open(f->path, &f->r, err, sizeof err), SUIDO_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[160];

	registry_close(f->r);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void tenant(struct registry *r, const char *id, enum reg_kind kind)
{
	struct reg_tenant t = {0};
	char err[256] = "";

	snprintf(t.id, sizeof t.id, "%s", id);
	t.kind = kind;
	snprintf(t.name, sizeof t.name, "名前 %s", id);
	assert_int_equal(registry_tenant_add(r, OP, &t, T0, err, sizeof err), SUIDO_OK);
}

static void app(struct registry *r, const char *id, const char *vendor, const char *uris,
		char secret[REG_SECRET_TEXT])
{
	struct reg_app a = {0};
	char err[256] = "";

	snprintf(a.id, sizeof a.id, "%s", id);
	snprintf(a.vendor, sizeof a.vendor, "%s", vendor);
	snprintf(a.name, sizeof a.name, "App %s", id);
	snprintf(a.redirect_uris, sizeof a.redirect_uris, "%s", uris);
	assert_int_equal(registry_app_add(r, OP, &a, secret, T0, err, sizeof err), SUIDO_OK);
}

static void user(struct registry *r, const char *tenant_id, const char *kanji,
		 struct reg_user *u, char otp[REG_OTP_TEXT])
{
	char err[256] = "";

	memset(u, 0, sizeof *u);
	snprintf(u->tenant, sizeof u->tenant, "%s", tenant_id);
	snprintf(u->name_kanji, sizeof u->name_kanji, "%s", kanji);
	snprintf(u->name_kana, sizeof u->name_kana, "すいどう たろう");
	snprintf(u->name_romaji, sizeof u->name_romaji, "Taro Suido");
	snprintf(u->mail, sizeof u->mail, "taro@example.jp");
	snprintf(u->phone, sizeof u->phone, "+81 3-1234-5678");
	assert_int_equal(registry_user_add(r, OP, u, otp, T0, err, sizeof err), SUIDO_OK);
}

static int count_cb(void *ctx, const struct reg_tenant *t)
{
	(void)t;
	(*(int *)ctx)++;
	return 0;
}

/* ---- audit helpers ---- */

struct audit_log {
	int64_t last_seq;
	size_t n;
	int gaps;
	char actions[4096];
	char all[16384];
};

static int audit_cb(void *ctx, const struct reg_audit *a)
{
	struct audit_log *l = ctx;
	size_t k = strlen(l->actions), m = strlen(l->all);

	if (a->seq != l->last_seq + 1)
		l->gaps++;
	l->last_seq = a->seq;
	l->n++;
	snprintf(l->actions + k, sizeof l->actions - k, "%s;", a->action);
	snprintf(l->all + m, sizeof l->all - m, "%s|%s|%s|%s\n", a->actor, a->action, a->target,
		 a->detail);
	return 0;
}

static void audit_read(struct registry *r, struct audit_log *l)
{
	memset(l, 0, sizeof *l);
	assert_int_equal(registry_audit_list(r, 0, 100000, audit_cb, l), SUIDO_OK);
	assert_int_equal(l->gaps, 0);
}

/* ---- tests ---- */

static void test_tenants(void **state)
{
	struct fix *f = *state;
	struct reg_tenant t = {0}, got;
	struct audit_log log;
	enum reg_kind k;
	char err[256] = "";
	int n = 0;

	assert_int_equal(registry_kind_parse("utility", &k), SUIDO_OK);
	assert_int_equal(k, REG_UTILITY);
	assert_int_equal(registry_kind_parse("admin", &k), SUIDO_ERR_INVALID);
	assert_string_equal(registry_kind_name(REG_VENDOR), "vendor");

	tenant(f->r, "platform", REG_OPERATOR);
	tenant(f->r, "tokyo", REG_UTILITY);
	tenant(f->r, "acme", REG_VENDOR);

	/* An id is taken by any kind. */
	snprintf(t.id, sizeof t.id, "tokyo");
	t.kind = REG_VENDOR;
	snprintf(t.name, sizeof t.name, "x");
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_EXISTS);

	/* Id syntax, name cleanliness, kind range. */
	const char *bad_ids[] = {"Tokyo", "-x", ".x", "a b", "a/b", "", "東京"};
	for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
		snprintf(t.id, sizeof t.id, "%s", bad_ids[i]);
		t.kind = REG_UTILITY;
		assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err),
				 SUIDO_ERR_INVALID);
	}
	memset(t.id, 'a', sizeof t.id); /* no NUL within REG_ID_MAX */
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(t.id, sizeof t.id, "osaka");
	snprintf(t.name, sizeof t.name, "a\x01b");
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(t.name, sizeof t.name, "a\xc3(");
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(t.name, sizeof t.name, "\xc2\x85");
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(t.name, sizeof t.name, "%s", "");
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(t.name, sizeof t.name, "大阪市水道局");
	t.kind = (enum reg_kind)7;
	assert_int_equal(registry_tenant_add(f->r, OP, &t, T0, err, sizeof err), SUIDO_ERR_INVALID);
	t.kind = REG_UTILITY;
	assert_int_equal(registry_tenant_add(f->r, "", &t, T0, err, sizeof err), SUIDO_ERR_INVALID);

	/* ensure: same kind is OK without an audit row, another kind EXISTS. */
	audit_read(f->r, &log);
	assert_int_equal(log.n, 3);
	snprintf(t.id, sizeof t.id, "tokyo");
	assert_int_equal(registry_tenant_ensure(f->r, "config", &t, T0, err, sizeof err), SUIDO_OK);
	audit_read(f->r, &log);
	assert_int_equal(log.n, 3);
	t.kind = REG_VENDOR;
	assert_int_equal(registry_tenant_ensure(f->r, "config", &t, T0, err, sizeof err),
			 SUIDO_ERR_EXISTS);
	snprintf(t.id, sizeof t.id, "osaka");
	t.kind = REG_UTILITY;
	assert_int_equal(registry_tenant_ensure(f->r, "config", &t, T0 + 5, err, sizeof err),
			 SUIDO_OK);
	audit_read(f->r, &log);
	assert_int_equal(log.n, 4);
	assert_non_null(strstr(log.all, "config|tenant.add|osaka|"));

	assert_int_equal(registry_tenant_get(f->r, "osaka", &got), SUIDO_OK);
	assert_int_equal(got.kind, REG_UTILITY);
	assert_string_equal(got.name, "大阪市水道局");
	assert_int_equal(got.created_ms, (int64_t)T0 + 5);
	assert_int_equal(registry_tenant_get(f->r, "nagoya", &got), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_tenant_list(f->r, REG_UTILITY, count_cb, &n), SUIDO_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(registry_tenant_list(f->r, -1, count_cb, &n), SUIDO_OK);
	assert_int_equal(n, 4);
}

static void test_scope(void **state)
{
	(void)state;
	assert_true(registry_scope_allows("{\"all\":true}", "x", ""));
	assert_true(registry_scope_allows("{\"items\":[\"a\",\"b\"]}", "b", "f"));
	assert_false(registry_scope_allows("{\"items\":[\"a\",\"b\"]}", "c", "f"));
	assert_true(registry_scope_allows("{\"items\":[],\"facilities\":[\"浄水場\"]}", "c",
					  "浄水場"));
	assert_false(registry_scope_allows("{\"facilities\":[\"浄水場\"]}", "c", ""));
	assert_false(registry_scope_allows("{\"facilities\":[\"浄水場\"]}", "c", "配水池"));
	assert_false(registry_scope_allows("{}", "c", "f"));
	/* parsed once: all, sets, malformed */
	{
		struct reg_scope *all = registry_scope_parse("{\"all\":true}");
		struct reg_scope *some = registry_scope_parse(
			"{\"items\":[\"a\",\"b\"],\"facilities\":[\"浄水場\"]}");
		assert_non_null(all);
		assert_non_null(some);
		assert_true(registry_scope_all(all));
		assert_false(registry_scope_all(some));
		assert_true(registry_scope_has(all, "zz", ""));
		assert_true(registry_scope_has(some, "a", ""));
		assert_true(registry_scope_has(some, "q", "浄水場"));
		assert_false(registry_scope_has(some, "q", "配水池"));
		assert_false(registry_scope_has(some, "q", ""));
		assert_null(registry_scope_parse("{\"all\":1}"));
		assert_false(registry_scope_has(NULL, "a", ""));
		assert_false(registry_scope_all(NULL));
		registry_scope_free(all);
		registry_scope_free(some);
		registry_scope_free(NULL);
	}

	const char *bad[] = {
		"{\"all\":false}",
		"{\"all\":1}",
		"{\"all\":true,\"items\":[]}",
		"{\"items\":\"a\"}",
		"{\"items\":[1]}",
		"{\"items\":[\"\"]}",
		"{\"items\":[\"a\\u0001\"]}",
		"{\"other\":[]}",
		"{\"items\":[\"a\"],\"items\":[\"b\"]}",
		"[\"a\"]",
		"not json",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(registry_scope_allows(bad[i], "a", "a"));

	/* Over the cap. */
	char *big = malloc(REG_SCOPE_MAX + 16);
	size_t n = 0;

	assert_non_null(big);
	n += (size_t)sprintf(big, "{\"items\":[\"a\"");
	while (n < REG_SCOPE_MAX + 4)
		n += (size_t)sprintf(big + n, ",\"b\"");
	sprintf(big + n, "]}");
	assert_false(registry_scope_allows(big, "a", ""));
	free(big);
}

static int count_link(void *ctx, const struct reg_link *l)
{
	assert_true(strcmp(l->utility, "tokyo") == 0 || strcmp(l->vendor, "beta") == 0);
	(*(int *)ctx)++;
	return 0;
}

static void test_links_grants(void **state)
{
	struct fix *f = *state;
	struct reg_grant g;
	struct reg_app a = {0};
	char err[256] = "", secret[REG_SECRET_TEXT];

	tenant(f->r, "tokyo", REG_UTILITY);
	tenant(f->r, "osaka", REG_UTILITY);
	tenant(f->r, "acme", REG_VENDOR);
	tenant(f->r, "beta", REG_VENDOR);

	/* Kinds: utility first, vendor second. */
	assert_int_equal(registry_link_add(f->r, OP, "acme", "tokyo", T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "osaka", T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "nobody", T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_ERR_EXISTS);
	assert_int_equal(registry_linked(f->r, "tokyo", "acme"), 1);
	assert_int_equal(registry_linked(f->r, "osaka", "acme"), 0);
	assert_int_equal(registry_linked(f->r, "tokyo", "beta"), 0);
	{
		int n = 0;
		assert_int_equal(registry_link_add(f->r, OP, "osaka", "beta", T0, err, sizeof err),
				 SUIDO_OK);
		assert_int_equal(registry_link_list(f->r, NULL, NULL, count_link, &n), SUIDO_OK);
		assert_int_equal(n, 2);
		n = 0;
		assert_int_equal(registry_link_list(f->r, "tokyo", NULL, count_link, &n), SUIDO_OK);
		assert_int_equal(n, 1);
		n = 0;
		assert_int_equal(registry_link_list(f->r, "tokyo", "beta", count_link, &n), SUIDO_OK);
		assert_int_equal(n, 0);
		assert_int_equal(registry_link_remove(f->r, OP, "osaka", "beta", T0, err, sizeof err),
				 SUIDO_OK);
	}

	/* Only a vendor owns applications. */
	snprintf(a.id, sizeof a.id, "meter");
	snprintf(a.vendor, sizeof a.vendor, "tokyo");
	snprintf(a.name, sizeof a.name, "Meter");
	snprintf(a.redirect_uris, sizeof a.redirect_uris, "[]");
	assert_int_equal(registry_app_add(f->r, OP, &a, secret, T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	app(f->r, "meter", "acme", "[]", secret);
	app(f->r, "other", "beta", "[]", secret);

	/* A grant needs the link. */
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "osaka", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_grant_set(f->r, OP, "other", "tokyo", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "acme", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_grant_set(f->r, OP, "ghost", "tokyo", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"all\":false}", T0, err,
					    sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"items\":[2]}", T0, err,
					    sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo",
					    "{ \"items\" : [\"flow-1\"], \"facilities\": [\"A\"] }",
					    T0 + 1, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_OK);
	assert_string_equal(g.scope, "{\"facilities\":[\"A\"],\"items\":[\"flow-1\"]}");
	assert_int_equal(g.granted_ms, (int64_t)T0 + 1);
	assert_true(registry_scope_allows(g.scope, "flow-1", ""));
	assert_true(registry_scope_allows(g.scope, "x", "A"));
	assert_false(registry_scope_allows(g.scope, "x", "B"));
	/* Replacing the scope. */
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"all\":true}", T0 + 2,
					    err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_OK);
	assert_string_equal(g.scope, "{\"all\":true}");

	/* Unlinking revokes the grant. */
	assert_int_equal(registry_link_remove(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_link_remove(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_PERM);

	/* A revoked application holds no grant and gets none. */
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{}", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 1, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 0, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_OK);
	assert_int_equal(registry_grant_revoke(f->r, OP, "meter", "tokyo", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_grant_revoke(f->r, OP, "meter", "tokyo", T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
}

static int app_count(void *ctx, const struct reg_app *a)
{
	(void)a;
	(*(int *)ctx)++;
	return 0;
}

/* A JSON array of n https URIs. */
static void uri_list(char list[2048], int n)
{
	size_t k = (size_t)sprintf(list, "[");

	for (int i = 0; i < n; i++)
		k += (size_t)sprintf(list + k, "%s\"https://a.example/%d\"", i ? "," : "", i);
	sprintf(list + k, "]");
}

static void test_apps(void **state)
{
	struct fix *f = *state;
	struct reg_app a = {0};
	char err[256] = "", s1[REG_SECRET_TEXT], s2[REG_SECRET_TEXT], s3[REG_SECRET_TEXT];
	int n = 0;

	tenant(f->r, "acme", REG_VENDOR);
	tenant(f->r, "beta", REG_VENDOR);
	app(f->r, "meter", "acme",
	    "[\"https://meter.example/cb\", \"http://127.0.0.1:8080/cb\","
	    " \"http://[::1]/cb\", \"http://localhost/cb?x=1\"]",
	    s1);
	app(f->r, "other", "acme", "[]", s3);
	assert_int_equal(strlen(s1), 43);
	assert_int_equal(strspn(s1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			 43);
	assert_string_not_equal(s1, s3);

	assert_int_equal(registry_app_authenticate(f->r, "meter", s1), SUIDO_OK);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s3), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_authenticate(f->r, "meter", ""), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_authenticate(f->r, "ghost", s1), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_authenticate(f->r, "other", s3), SUIDO_OK);

	/* Rotation: the old secret stops at once. */
	assert_int_equal(registry_app_rotate_secret(f->r, OP, "meter", s2, T0, err, sizeof err),
			 SUIDO_OK);
	assert_string_not_equal(s1, s2);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s1), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s2), SUIDO_OK);
	assert_int_equal(registry_app_rotate_secret(f->r, OP, "ghost", s1, T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);

	/* Revoked: refused with the right secret. */
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 1, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s2), SUIDO_ERR_PERM);
	assert_int_equal(registry_app_get(f->r, "meter", &a), SUIDO_OK);
	assert_int_equal(a.revoked, 1);
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 0, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s2), SUIDO_OK);

	/* Redirect URIs: exact match only. */
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://meter.example/cb"), 1);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "http://[::1]/cb"), 1);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://meter.example/cb/"), 0);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://meter.example/"), 0);
	assert_int_equal(registry_app_redirect_ok(f->r, "other", "https://meter.example/cb"), 0);

	const char *bad[] = {
		"[\"http://meter.example/cb\"]",
		"[\"https://meter.example/cb#frag\"]",
		"[\"http://127.0.0.1.evil.example/cb\"]",
		"[\"http://localhost.evil.example/\"]",
		"[\"https://user@meter.example/cb\"]",
		"[\"https:///cb\"]",
		"[\"https://a.example:99999999/\"]",
		"[\"ftp://meter.example/\"]",
		"[\"/cb\"]",
		"[\"https://meter.example/a b\"]",
		"[1]",
		"{\"uri\":\"https://a.example/\"}",
		"https://a.example/",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(registry_app_set_redirect_uris(f->r, OP, "meter", bad[i], T0, err,
								sizeof err),
				 SUIDO_ERR_INVALID);
	/* 16 URIs are fine, 17 are not. */
	char list[2048];

	uri_list(list, 17);
	assert_int_equal(registry_app_set_redirect_uris(f->r, OP, "meter", list, T0, err,
							sizeof err),
			 SUIDO_ERR_INVALID);
	uri_list(list, 16);
	assert_int_equal(registry_app_set_redirect_uris(f->r, OP, "meter", list, T0, err,
							sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://a.example/15"), 1);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://a.example/16"), 0);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://meter.example/cb"), 0);

	assert_int_equal(registry_app_get(f->r, "ghost", &a), SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_app_list(f->r, "acme", app_count, &n), SUIDO_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(registry_app_list(f->r, "beta", app_count, &n), SUIDO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(registry_app_list(f->r, NULL, app_count, &n), SUIDO_OK);
	assert_int_equal(n, 2);
}

static void put_refresh(struct registry *r, const char *token, const char *client,
			const char *login, char family[REG_SECRET_TEXT], const char *code,
			uint64_t expires)
{
	struct reg_refresh rt = {0};
	char err[256] = "";

	snprintf(rt.client, sizeof rt.client, "%s", client);
	snprintf(rt.login, sizeof rt.login, "%s", login);
	snprintf(rt.scope, sizeof rt.scope, "openid");
	snprintf(rt.family, sizeof rt.family, "%s", family);
	rt.auth_time_ms = (int64_t)T0;
	rt.expires_ms = (int64_t)expires;
	assert_int_equal(registry_refresh_put(r, token, &rt, code, T0, err, sizeof err), SUIDO_OK);
	assert_int_equal(strlen(rt.family), 43);
	memcpy(family, rt.family, REG_SECRET_TEXT);
}

static void test_users_passwords(void **state)
{
	struct fix *f = *state;
	struct reg_user u1, u2, got;
	struct password_policy pol;
	struct audit_log log;
	char otp1[REG_OTP_TEXT], otp2[REG_OTP_TEXT], otp3[REG_OTP_TEXT], fam[REG_SECRET_TEXT] = "";
	char err[256] = "";
	struct reg_refresh out;
	int reason = -1, mc = -1, reused = -1;
	const char *p1 = "Kawa-no-nagare-42", *p2 = "Mizu/to/hikari/77";

	password_policy_defaults(&pol);
	tenant(f->r, "tokyo", REG_UTILITY);
	user(f->r, "tokyo", "水道 太郎", &u1, otp1);
	user(f->r, "tokyo", "水道 太郎", &u2, otp2);
	/* Same names, two users, numbered in order. */
	assert_string_equal(u1.login, "tokyo-0001");
	assert_string_equal(u2.login, "tokyo-0002");
	assert_int_equal(u1.must_change, 1);
	assert_int_equal(strlen(otp1), 16);
	assert_string_not_equal(otp1, otp2);
	{
		enum password_reason why = PASSWORD_TOO_LONG;

		assert_int_equal(password_check(&pol, NULL, NULL, otp1, strlen(otp1), &why),
				 SUIDO_OK);
		assert_int_equal(why, PASSWORD_ACCEPTABLE);
		assert_null(strpbrk(otp1, "0O1lI"));
	}
	{
		struct reg_user bad = u1;
		char otp[REG_OTP_TEXT];

		snprintf(bad.tenant, sizeof bad.tenant, "nagoya");
		assert_int_equal(registry_user_add(f->r, OP, &bad, otp, T0, err, sizeof err),
				 SUIDO_ERR_NOTFOUND);
		snprintf(bad.tenant, sizeof bad.tenant, "tokyo");
		snprintf(bad.mail, sizeof bad.mail, "no-at-sign");
		assert_int_equal(registry_user_add(f->r, OP, &bad, otp, T0, err, sizeof err),
				 SUIDO_ERR_INVALID);
	}

	/* The one-time password signs in and says it must change. */
	assert_int_equal(registry_user_check_password(f->r, u1.login, otp1, strlen(otp1), &mc),
			 SUIDO_OK);
	assert_int_equal(mc, 1);
	/* Unknown login, malformed login, wrong password: PERM alike. */
	assert_int_equal(registry_user_check_password(f->r, "tokyo-0099", otp1, strlen(otp1), &mc),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_user_check_password(f->r, "Not A Login", otp1, strlen(otp1), &mc),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_user_check_password(f->r, u1.login, otp2, strlen(otp2), &mc),
			 SUIDO_ERR_PERM);

	/* Policy refusals, with their reason. */
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, "short", 5,
						    &pol, NULL, &reason, T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_TOO_SHORT);
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login,
						    "xx-tokyo-0001-Yy", 16, &pol, NULL, &reason, T0,
						    err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_HAS_LOGIN);
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login,
						    "Suido-Taro-2024x", 16, &pol, NULL, &reason, T0,
						    err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_HAS_NAME);
	/* The one-time password itself cannot become the password. */
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, otp1,
						    strlen(otp1), &pol, NULL, &reason, T0, err,
						    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_REUSED);

	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, p1,
						    strlen(p1), &pol, NULL, &reason, T0 + 10, err,
						    sizeof err),
			 SUIDO_OK);
	assert_int_equal(reason, PASSWORD_ACCEPTABLE);
	assert_int_equal(registry_user_get(f->r, u1.login, &got), SUIDO_OK);
	assert_int_equal(got.must_change, 0);
	assert_int_equal(got.password_set_ms, (int64_t)T0 + 10);
	assert_int_equal(registry_user_check_password(f->r, u1.login, p1, strlen(p1), &mc),
			 SUIDO_OK);
	assert_int_equal(mc, 0);
	assert_int_equal(registry_user_check_password(f->r, u1.login, otp1, strlen(otp1), &mc),
			 SUIDO_ERR_PERM);

	/* History: p1 cannot come back after p2. */
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, p2,
						    strlen(p2), &pol, NULL, &reason, T0 + 20, err,
						    sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, p1,
						    strlen(p1), &pol, NULL, &reason, T0 + 30, err,
						    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_REUSED);
	/* ... unless the policy keeps no history. */
	pol.history = 0;
	reason = -1;
	assert_int_equal(registry_user_set_password(f->r, "user:tokyo-0001", u1.login, p1,
						    strlen(p1), &pol, NULL, &reason, T0 + 30, err,
						    sizeof err),
			 SUIDO_OK);
	assert_int_equal(reason, PASSWORD_ACCEPTABLE);
	password_policy_defaults(&pol);

	/* The operator's reset: a fresh one-time password, must_change, the
	 * user's refresh tokens revoked. */
	put_refresh(f->r, "rt-before-reset", "meter", u1.login, fam, NULL, T0 + 3600000);
	assert_int_equal(registry_user_reset_password(f->r, OP, u1.login, otp3, T0 + 40, err,
						      sizeof err),
			 SUIDO_OK);
	assert_int_equal(strlen(otp3), 16);
	assert_int_equal(registry_user_get(f->r, u1.login, &got), SUIDO_OK);
	assert_int_equal(got.must_change, 1);
	assert_int_equal(registry_refresh_use(f->r, "rt-before-reset", T0 + 50, &out, &reused),
			 SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);
	assert_int_equal(registry_user_check_password(f->r, u1.login, p1, strlen(p1), &mc),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_user_check_password(f->r, u1.login, otp3, strlen(otp3), &mc),
			 SUIDO_OK);
	assert_int_equal(mc, 1);
	assert_int_equal(registry_user_reset_password(f->r, OP, "tokyo-0099", otp3, T0, err,
						      sizeof err),
			 SUIDO_ERR_NOTFOUND);

	/* Update: names, role, disabled; tenant and login unchanged. */
	got = u2;
	snprintf(got.tenant, sizeof got.tenant, "elsewhere");
	snprintf(got.name_kanji, sizeof got.name_kanji, "水道 花子");
	got.role = REG_ROLE_ADMIN;
	got.disabled = 1;
	assert_int_equal(registry_user_update(f->r, OP, &got, T0, err, sizeof err), SUIDO_OK);
	assert_int_equal(registry_user_get(f->r, u2.login, &got), SUIDO_OK);
	assert_string_equal(got.tenant, "tokyo");
	assert_string_equal(got.name_kanji, "水道 花子");
	assert_int_equal(got.role, REG_ROLE_ADMIN);
	assert_int_equal(got.disabled, 1);
	/* A disabled user's right password is refused. */
	assert_int_equal(registry_user_check_password(f->r, u2.login, otp2, strlen(otp2), &mc),
			 SUIDO_ERR_PERM);
	snprintf(got.login, sizeof got.login, "tokyo-0077");
	assert_int_equal(registry_user_update(f->r, OP, &got, T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);

	/* Audit rows, and no secret in them. */
	audit_read(f->r, &log);
	assert_non_null(strstr(log.actions, "user.add;user.add;"));
	assert_non_null(strstr(log.all, "user:tokyo-0001|user.password|tokyo-0001|"));
	assert_non_null(strstr(log.all, "operator|user.reset|tokyo-0001|{\"refresh_families_revoked\":1}"));
	assert_non_null(strstr(log.actions, "user.update;"));
	assert_null(strstr(log.all, otp1));
	assert_null(strstr(log.all, otp3));
	assert_null(strstr(log.all, p1));
	assert_null(strstr(log.all, "$argon2id"));
}

static void totp_code(const char *b32, uint64_t at_ms, char code[TOTP_DIGITS + 1])
{
	unsigned char secret[TOTP_SECRET_MAX];
	size_t n = 0;

	assert_int_equal(totp_secret_from_base32(b32, strlen(b32), secret, &n), SUIDO_OK);
	assert_int_equal(totp_generate(secret, n, (int64_t)(at_ms / 1000), code), SUIDO_OK);
}

static void test_totp(void **state)
{
	struct fix *f = *state;
	struct reg_user u, got;
	struct audit_log log;
	char otp[REG_OTP_TEXT], err[256] = "", code[TOTP_DIGITS + 1], b32[TOTP_BASE32_MAX];
	char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT], lower[TOTP_RECOVERY_TEXT];
	char *uri = NULL;
	const char *secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
	const uint64_t t1 = T0 + 3600000;

	tenant(f->r, "tokyo", REG_UTILITY);
	user(f->r, "tokyo", "水道 太郎", &u, otp);
	assert_int_equal(registry_totp_check(f->r, u.login, "123456", T0), SUIDO_ERR_PERM);
	assert_int_equal(registry_totp_set(f->r, OP, u.login, "not base32!", T0, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(registry_totp_set(f->r, OP, u.login, secret, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_user_get(f->r, u.login, &got), SUIDO_OK);
	assert_int_equal(got.totp_enrolled, 1);

	/* The current step, once. */
	totp_code(secret, T0, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0), SUIDO_OK);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0 + 1000), SUIDO_ERR_PERM);
	/* One step behind the clock is accepted, one ahead too. */
	totp_code(secret, T0 + 30000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0 + 60000), SUIDO_OK);
	totp_code(secret, T0 + 120000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0 + 90000), SUIDO_OK);
	/* An earlier step than the last accepted one is a replay. */
	totp_code(secret, T0 + 90000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0 + 90000), SUIDO_ERR_PERM);
	/* Two steps either side are refused. */
	totp_code(secret, t1 - 60000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1), SUIDO_ERR_PERM);
	totp_code(secret, t1 + 60000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1), SUIDO_ERR_PERM);
	totp_code(secret, t1, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1), SUIDO_OK);
	assert_int_equal(registry_totp_check(f->r, "tokyo-0099", code, t1), SUIDO_ERR_PERM);

	/* Enrolment: pending until a right code confirms it. */
	assert_int_equal(registry_totp_begin(f->r, "user:tokyo-0001", u.login, b32, sizeof b32, &uri,
					     T0, err, sizeof err),
			 SUIDO_OK);
	assert_non_null(uri);
	assert_true(strncmp(uri, "otpauth://totp/suido:tokyo-0001?secret=", 39) == 0);
	assert_non_null(strstr(uri, b32));
	free(uri);
	assert_int_equal(strlen(b32), 32);
	/* The old secret still works until the confirmation. */
	totp_code(secret, t1 + 300000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1 + 300000), SUIDO_OK);
	totp_code(b32, t1 + 600000, code);
	code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
	assert_int_equal(registry_totp_confirm(f->r, "user:tokyo-0001", u.login, code, codes,
					       t1 + 600000, err, sizeof err),
			 SUIDO_ERR_PERM);
	totp_code(b32, t1 + 600000, code);
	assert_int_equal(registry_totp_confirm(f->r, "user:tokyo-0001", u.login, code, codes,
					       t1 + 600000, err, sizeof err),
			 SUIDO_OK);
	/* Nothing left to confirm. */
	assert_int_equal(registry_totp_confirm(f->r, "user:tokyo-0001", u.login, code, codes,
					       t1 + 600000, err, sizeof err),
			 SUIDO_ERR_PERM);
	/* The confirming code is spent; the old secret is gone. */
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1 + 600000), SUIDO_ERR_PERM);
	totp_code(secret, t1 + 630000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1 + 630000), SUIDO_ERR_PERM);
	totp_code(b32, t1 + 630000, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, t1 + 630000), SUIDO_OK);

	/* Recovery codes: each works once, as typed loosely. */
	assert_int_equal(strlen(codes[0]), 11);
	assert_int_equal(registry_totp_check(f->r, u.login, codes[0], t1), SUIDO_OK);
	assert_int_equal(registry_totp_check(f->r, u.login, codes[0], t1), SUIDO_ERR_PERM);
	for (size_t i = 0; i < sizeof lower; i++)
		lower[i] = (char)((codes[1][i] >= 'A' && codes[1][i] <= 'Z') ? codes[1][i] + 32
									   : codes[1][i]);
	assert_int_equal(registry_totp_check(f->r, u.login, lower, t1), SUIDO_OK);
	assert_int_equal(registry_totp_check(f->r, u.login, "ABCDE-FGHIJ", t1), SUIDO_ERR_PERM);

	audit_read(f->r, &log);
	assert_non_null(strstr(log.actions, "totp.set;totp.begin;totp.confirm;totp.recovery;"
					    "totp.recovery;"));
	assert_null(strstr(log.all, secret));
	assert_null(strstr(log.all, b32));
	assert_null(strstr(log.all, codes[2]));
}

static void code_put(struct registry *r, const char *code, uint64_t expires)
{
	struct reg_code c = {0};
	char err[256] = "";

	snprintf(c.client, sizeof c.client, "meter");
	snprintf(c.login, sizeof c.login, "tokyo-0001");
	snprintf(c.redirect_uri, sizeof c.redirect_uri, "https://meter.example/cb");
	snprintf(c.challenge, sizeof c.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	snprintf(c.nonce, sizeof c.nonce, "n-0S6_WzA2Mj");
	snprintf(c.scope, sizeof c.scope, "openid profile");
	c.auth_time_ms = (int64_t)T0;
	c.expires_ms = (int64_t)expires;
	assert_int_equal(registry_code_put(r, code, &c, err, sizeof err), SUIDO_OK);
}

static void test_oidc(void **state)
{
	struct fix *f = *state;
	struct reg_code c;
	struct reg_refresh out;
	struct audit_log log;
	char err[256] = "", fam[REG_SECRET_TEXT] = "", fam2[REG_SECRET_TEXT] = "", s[REG_SECRET_TEXT];
	int reused = -1;

	tenant(f->r, "acme", REG_VENDOR);
	app(f->r, "meter", "acme", "[\"https://meter.example/cb\"]", s);

	/* A code: once, unexpired. */
	code_put(f->r, "code-1", T0 + 60000);
	{
		struct reg_code dup = {0};

		snprintf(dup.client, sizeof dup.client, "meter");
		snprintf(dup.login, sizeof dup.login, "tokyo-0001");
		assert_int_equal(registry_code_put(f->r, "code-1", &dup, err, sizeof err),
				 SUIDO_ERR_EXISTS);
	}
	assert_int_equal(registry_code_take(f->r, "code-x", T0, &c), SUIDO_ERR_PERM);
	assert_int_equal(registry_code_take(f->r, "code-1", T0 + 1000, &c), SUIDO_OK);
	assert_string_equal(c.client, "meter");
	assert_string_equal(c.login, "tokyo-0001");
	assert_string_equal(c.redirect_uri, "https://meter.example/cb");
	assert_string_equal(c.nonce, "n-0S6_WzA2Mj");
	assert_string_equal(c.scope, "openid profile");
	assert_int_equal(c.expires_ms, (int64_t)T0 + 60000);
	/* The token it gave dies when the code is presented again. */
	put_refresh(f->r, "rt-from-code-1", "meter", "tokyo-0001", fam, "code-1", T0 + 3600000);
	assert_int_equal(registry_code_take(f->r, "code-1", T0 + 2000, &c), SUIDO_ERR_PERM);
	assert_int_equal(registry_refresh_use(f->r, "rt-from-code-1", T0 + 3000, &out, &reused),
			 SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);
	/* Expired. */
	code_put(f->r, "code-2", T0 + 60000);
	assert_int_equal(registry_code_take(f->r, "code-2", T0 + 60000, &c), SUIDO_ERR_PERM);

	/* Rotation: each token once; a used one presented again kills the
	 * family, the live successor included. */
	memset(fam, 0, sizeof fam);
	put_refresh(f->r, "rt-1", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	assert_int_equal(registry_refresh_use(f->r, "rt-1", T0 + 1000, &out, &reused), SUIDO_OK);
	assert_int_equal(reused, 0);
	assert_string_equal(out.family, fam);
	assert_string_equal(out.client, "meter");
	assert_string_equal(out.login, "tokyo-0001");
	assert_string_equal(out.scope, "openid");
	put_refresh(f->r, "rt-2", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	assert_int_equal(registry_refresh_use(f->r, "rt-2", T0 + 2000, &out, &reused), SUIDO_OK);
	put_refresh(f->r, "rt-3", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	assert_int_equal(registry_refresh_use(f->r, "rt-1", T0 + 3000, &out, &reused),
			 SUIDO_ERR_PERM);
	assert_int_equal(reused, 1);
	assert_int_equal(registry_refresh_use(f->r, "rt-3", T0 + 4000, &out, &reused),
			 SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);
	{
		struct reg_refresh rt = {0};

		snprintf(rt.client, sizeof rt.client, "meter");
		snprintf(rt.login, sizeof rt.login, "tokyo-0001");
		memcpy(rt.family, fam, sizeof fam);
		rt.expires_ms = (int64_t)T0 + 3600000;
		assert_int_equal(registry_refresh_put(f->r, "rt-4", &rt, NULL, T0, err, sizeof err),
				 SUIDO_ERR_PERM);
		snprintf(rt.family, sizeof rt.family, "nosuchfamily");
		assert_int_equal(registry_refresh_put(f->r, "rt-4", &rt, NULL, T0, err, sizeof err),
				 SUIDO_ERR_NOTFOUND);
	}
	/* Unknown and expired. */
	assert_int_equal(registry_refresh_use(f->r, "rt-none", T0, &out, &reused), SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);
	memset(fam, 0, sizeof fam);
	put_refresh(f->r, "rt-short", "meter", "tokyo-0001", fam, NULL, T0 + 1000);
	assert_int_equal(registry_refresh_use(f->r, "rt-short", T0 + 1000, &out, &reused),
			 SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);

	/* Revocation by token: only by its client. */
	memset(fam, 0, sizeof fam);
	put_refresh(f->r, "rt-a", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	assert_int_equal(registry_refresh_revoke(f->r, "rt-a", "other", T0), SUIDO_OK);
	assert_int_equal(registry_refresh_revoke(f->r, "rt-unknown", NULL, T0), SUIDO_OK);
	assert_int_equal(registry_refresh_use(f->r, "rt-a", T0, &out, &reused), SUIDO_OK);
	put_refresh(f->r, "rt-b", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	assert_int_equal(registry_refresh_revoke(f->r, "rt-b", "meter", T0), SUIDO_OK);
	assert_int_equal(registry_refresh_use(f->r, "rt-b", T0, &out, &reused), SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);

	/* Every family of a user. */
	memset(fam, 0, sizeof fam);
	put_refresh(f->r, "rt-u1", "meter", "tokyo-0001", fam, NULL, T0 + 3600000);
	put_refresh(f->r, "rt-u2", "meter", "tokyo-0002", fam2, NULL, T0 + 3600000);
	assert_string_not_equal(fam, fam2);
	assert_int_equal(registry_refresh_revoke_user(f->r, "tokyo-0001", T0), SUIDO_OK);
	assert_int_equal(registry_refresh_use(f->r, "rt-u1", T0, &out, &reused), SUIDO_ERR_PERM);
	/* Revoking the application revokes its tokens. */
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 1, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 0, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_refresh_use(f->r, "rt-u2", T0, &out, &reused), SUIDO_ERR_PERM);
	assert_int_equal(reused, 0);

	audit_read(f->r, &log);
	assert_non_null(strstr(log.all, "oidc|code.reuse|meter|{\"login\":\"tokyo-0001\","
					"\"refresh_families_revoked\":1}"));
	assert_non_null(strstr(log.all, "oidc|refresh.reuse|meter|"));
	assert_non_null(strstr(log.all, "oidc|refresh.revoke_user|tokyo-0001|"));
	assert_non_null(strstr(log.all, "operator|app.revoke|meter|{\"refresh_families_revoked\":1}"));
	assert_null(strstr(log.all, "rt-1"));
	assert_null(strstr(log.all, "code-1"));
}

static void test_audit(void **state)
{
	struct fix *f = *state;
	struct audit_log log;
	char err[256] = "", s1[REG_SECRET_TEXT], s2[REG_SECRET_TEXT];
	sqlite3 *db = NULL;
	int64_t seq_before;

	tenant(f->r, "tokyo", REG_UTILITY);
	tenant(f->r, "acme", REG_VENDOR);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	app(f->r, "meter", "acme", "[]", s1);
	assert_int_equal(registry_app_rotate_secret(f->r, OP, "meter", s2, T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_set_redirect_uris(f->r, OP, "meter",
							"[\"https://m.example/\"]", T0, err,
							sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_revoke(f->r, OP, "meter", "tokyo", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{}", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_link_remove(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_app_set_revoked(f->r, OP, "meter", 1, T0, err, sizeof err),
			 SUIDO_OK);
	/* Refused changes leave no row. */
	assert_int_equal(registry_link_remove(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_audit(f->r, "admin-api", "admin.refused", "tokyo",
					"{\"why\":\"csrf\"}", T0 + 7),
			 SUIDO_OK);
	assert_int_equal(registry_audit(f->r, "admin-api", "x", "t", "[1]", T0), SUIDO_ERR_INVALID);
	assert_int_equal(registry_audit(f->r, "admin-api", "x", "t", "{", T0), SUIDO_ERR_INVALID);

	audit_read(f->r, &log);
	assert_string_equal(log.actions, "tenant.add;tenant.add;link.add;app.add;app.secret;"
					 "app.redirect_uris;grant.set;grant.revoke;grant.set;"
					 "link.remove;app.revoke;admin.refused;");
	assert_int_equal(log.last_seq, 12);
	assert_non_null(strstr(log.all, "operator|link.remove|tokyo|{\"grants_revoked\":1,"
					"\"vendor\":\"acme\"}"));
	assert_non_null(strstr(log.all, "admin-api|admin.refused|tokyo|{\"why\":\"csrf\"}"));
	assert_null(strstr(log.all, s1));
	assert_null(strstr(log.all, s2));
	/* after / limit. */
	memset(&log, 0, sizeof log);
	log.last_seq = 10;
	assert_int_equal(registry_audit_list(f->r, 10, 1, audit_cb, &log), SUIDO_OK);
	assert_int_equal(log.n, 1);
	assert_string_equal(log.actions, "app.revoke;");
	seq_before = 12;

	/* Append-only, even to someone with the file. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET actor = 'nobody'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 1", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	audit_read(f->r, &log);
	assert_int_equal(log.n, 12);
	assert_int_equal(log.last_seq, seq_before);
	assert_null(strstr(log.all, "nobody"));
}

static int count_gw(void *ctx, const struct reg_gateway *g)
{
	(void)g;
	(*(int *)ctx)++;
	return 0;
}

/* Gateways: recorded for their utility (idempotent, never moved to another),
 * the builder vendor set by the operator, listed per utility. */
static void test_gateways(void **state)
{
	struct fix *f = *state;
	struct reg_gateway g;
	char err[256] = "";
	int n = 0;

	tenant(f->r, "u1", REG_UTILITY);
	tenant(f->r, "u2", REG_UTILITY);
	tenant(f->r, "v1", REG_VENDOR);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "GW.1", "u1", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "GW.1", "u1", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "GW.1", "u2", T0, err, sizeof err),
			 SUIDO_ERR_EXISTS);
	assert_non_null(strstr(err, "belongs to u1"));
	assert_int_equal(registry_gateway_ensure(f->r, "config", "gw2", "v1", T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "bad/id", "u1", T0, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(registry_gateway_ensure(f->r, "config", "gw3", "u2", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_gateway_get(f->r, "GW.1", &g), SUIDO_OK);
	assert_string_equal(g.utility, "u1");
	assert_string_equal(g.vendor, "");
	assert_int_equal(registry_gateway_set_vendor(f->r, OP, "GW.1", "u2", T0, err, sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(registry_gateway_set_vendor(f->r, OP, "nope", "v1", T0, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(registry_gateway_set_vendor(f->r, OP, "GW.1", "v1", T0, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(registry_gateway_get(f->r, "GW.1", &g), SUIDO_OK);
	assert_string_equal(g.vendor, "v1");
	assert_int_equal(registry_gateway_list(f->r, "u1", count_gw, &n), SUIDO_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(registry_gateway_list(f->r, NULL, count_gw, &n), SUIDO_OK);
	assert_int_equal(n, 2);
}

static void test_reopen(void **state)
{
	struct fix *f = *state;
	struct reg_user u, got;
	struct reg_grant g;
	struct reg_tenant t;
	struct reg_refresh out;
	struct audit_log before, after;
	char err[256] = "", s[REG_SECRET_TEXT], otp[REG_OTP_TEXT], code[TOTP_DIGITS + 1];
	char fam[REG_SECRET_TEXT] = "";
	const char *secret = "JBSWY3DPEHPK3PXP";
	int mc = -1, reused = -1;
	sqlite3 *db = NULL;
	struct registry *r2 = NULL;

	tenant(f->r, "tokyo", REG_UTILITY);
	tenant(f->r, "acme", REG_VENDOR);
	assert_int_equal(registry_link_add(f->r, OP, "tokyo", "acme", T0, err, sizeof err),
			 SUIDO_OK);
	app(f->r, "meter", "acme", "[\"https://m.example/cb\"]", s);
	assert_int_equal(registry_grant_set(f->r, OP, "meter", "tokyo", "{\"items\":[\"a\"]}", T0,
					    err, sizeof err),
			 SUIDO_OK);
	user(f->r, "tokyo", "水道 太郎", &u, otp);
	assert_int_equal(registry_totp_set(f->r, OP, u.login, secret, T0, err, sizeof err),
			 SUIDO_OK);
	totp_code(secret, T0, code);
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0), SUIDO_OK);
	put_refresh(f->r, "rt-1", "meter", u.login, fam, NULL, T0 + 3600000);
	audit_read(f->r, &before);

	/* A second handle on the same file sees the same state at once. */
	assert_int_equal(registry_open(f->path, &r2, err, sizeof err), SUIDO_OK);
	assert_int_equal(registry_linked(r2, "tokyo", "acme"), 1);
	registry_close(r2);

	registry_close(f->r);
	f->r = NULL;
	assert_int_equal(registry_open(f->path, &f->r, err, sizeof err), SUIDO_OK);
	assert_int_equal(registry_tenant_get(f->r, "acme", &t), SUIDO_OK);
	assert_int_equal(t.kind, REG_VENDOR);
	assert_int_equal(registry_linked(f->r, "tokyo", "acme"), 1);
	assert_int_equal(registry_app_authenticate(f->r, "meter", s), SUIDO_OK);
	assert_int_equal(registry_app_redirect_ok(f->r, "meter", "https://m.example/cb"), 1);
	assert_int_equal(registry_grant_get(f->r, "meter", "tokyo", &g), SUIDO_OK);
	assert_string_equal(g.scope, "{\"items\":[\"a\"]}");
	assert_int_equal(registry_user_get(f->r, u.login, &got), SUIDO_OK);
	assert_string_equal(got.name_kanji, "水道 太郎");
	assert_int_equal(got.totp_enrolled, 1);
	assert_int_equal(registry_user_check_password(f->r, u.login, otp, strlen(otp), &mc),
			 SUIDO_OK);
	assert_int_equal(mc, 1);
	/* The last TOTP step survives: still a replay. */
	assert_int_equal(registry_totp_check(f->r, u.login, code, T0), SUIDO_ERR_PERM);
	assert_int_equal(registry_refresh_use(f->r, "rt-1", T0, &out, &reused), SUIDO_OK);
	assert_string_equal(out.family, fam);
	audit_read(f->r, &after);
	assert_int_equal(after.n, before.n);
	assert_string_equal(after.all, before.all);
	/* The numbering goes on. */
	user(f->r, "tokyo", "水道 次郎", &u, otp);
	assert_string_equal(u.login, "tokyo-0002");

	/* A database that is not a registry is refused. */
	char other[160];

	snprintf(other, sizeof other, "%s/other.db", f->dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(registry_open(other, &r2, err, sizeof err), SUIDO_ERR_DB);
	assert_null(r2);
	assert_non_null(strstr(err, "not a registry"));
	snprintf(other, sizeof other, "%s/missing/dir/x.db", f->dir);
	assert_int_not_equal(registry_open(other, &r2, err, sizeof err), SUIDO_OK);
	assert_null(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tenants, setup, teardown),
		cmocka_unit_test(test_scope),
		cmocka_unit_test_setup_teardown(test_links_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oidc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateways, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
