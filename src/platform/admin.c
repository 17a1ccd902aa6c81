/*
 * The admin REST API (admin.h): routes /admin/v1/ requests, decides who may
 * do what, turns JSON bodies into registry calls and registry records into
 * JSON answers. The registry enforces the data's own rules (kinds, links,
 * id syntax) and writes the audit rows; this file enforces the tenant
 * boundaries, which is why every handler starts with its authorization
 * check and why a record of another tenant answers as if it did not exist.
 */
#include "admin.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "suido/error.h"
#include "suido/log.h"
#include "suido/totp.h"

#define PREFIX "/admin/v1/"
#define SEG_MAX 5     /* /admin/v1/utilities/{u}/grants/{app} has 4 */
#define SEG_LEN REG_ID_MAX /* a decoded path segment and its NUL: ids and names */
#define AUDIT_DEFAULT 100
#define AUDIT_MAX 1000

struct admin {
	struct registry *r;
	const struct password_policy *policy;
	const struct password_blocklist *blocklist;
	char *issuer;
};

enum method { M_GET = 1, M_POST = 2, M_PUT = 4, M_PATCH = 8, M_DELETE = 16, M_OTHER = 32 };

/* One request being answered. */
struct call {
	struct admin *a;
	const struct http_request *rq;
	struct http_response *out;
	enum method m;
	int op;                  /* 1: the operator */
	struct reg_user me;      /* a user principal as the registry has it now */
	enum reg_kind tkind;     /* the kind of me.tenant */
	char actor[REG_ACTOR_MAX];
	char seg[SEG_MAX][SEG_LEN];
	size_t nseg;
};

int admin_create(struct registry *r, const struct password_policy *policy,
		 const struct password_blocklist *blocklist, const char *issuer,
		 struct admin **out)
{
	struct admin *a;

	*out = NULL;
	if (!issuer || !*issuer)
		return SUIDO_ERR_INVALID;
	a = calloc(1, sizeof *a);
	if (!a)
		return SUIDO_ERR_NOMEM;
	a->issuer = strdup(issuer);
	if (!a->issuer) {
		free(a);
		return SUIDO_ERR_NOMEM;
	}
	a->r = r;
	a->policy = policy;
	a->blocklist = blocklist;
	*out = a;
	return SUIDO_OK;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	free(a->issuer);
	free(a);
}

/* ---- answers ------------------------------------------------------------ */

static void fail(struct call *c, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct call *c, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_error(c->out, status, code, msg);
}

static void nomem(struct call *c)
{
	fail(c, 503, "unavailable", "The platform is out of memory; try again.");
}

/* A 403 by one of this file's rules, recorded in the audit log (who tried
 * what) so that probing across tenants leaves a trace. */
static void refuse(struct call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct call *c, const char *fmt, ...)
{
	char msg[512], path[512];
	json_t *d;
	char *dt = NULL;
	va_list ap;
	size_t pl = c->rq->path_len < sizeof path - 1 ? c->rq->path_len : sizeof path - 1;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_error(c->out, 403, "forbidden", msg);
	memcpy(path, c->rq->path, pl);
	path[pl] = '\0';
	d = json_pack("{s:s, s:s}", "method", c->rq->method, "reason", msg);
	if (d)
		dt = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (registry_audit(c->a->r, c->actor, "admin.refused", path, dt ? dt : "{}",
			   c->rq->now_ms) != SUIDO_OK)
		log_warn("admin", "could not record a refused request of %s in the audit log",
			 c->actor);
	free(dt);
}

/* Maps a registry error to an answer; what names the object ("application
 * \"x\""). err is the registry's detail (never secret). */
static void reg_fail(struct call *c, int rc, const char *err, const char *what)
{
	const char *sep = err && *err ? ": " : "";

	if (!err)
		err = "";
	switch (rc) {
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_LIMIT:
		fail(c, 400, "invalid_request", "%s: invalid%s%s", what, sep, err);
		break;
	case SUIDO_ERR_NOTFOUND:
		fail(c, 404, "not_found", "%s was not found", what);
		break;
	case SUIDO_ERR_EXISTS:
		fail(c, 409, "exists", "%s already exists%s%s", what, sep, err);
		break;
	case SUIDO_ERR_PERM:
		fail(c, 403, "forbidden", "%s: refused%s%s", what, sep, err);
		break;
	case SUIDO_ERR_DB:
		log_error("admin", "registry (%s): %s", what, err);
		fail(c, 503, "unavailable", "The registry is unavailable; try again.");
		break;
	case SUIDO_ERR_NOMEM:
		nomem(c);
		break;
	default:
		log_error("admin", "registry (%s): %s: %s", what, suido_strerror(rc), err);
		fail(c, 500, "internal", "Internal error.");
		break;
	}
}

/* Sends j (taken) with status. When secret_key is given, that member holds
 * a secret: its text and the serialised copy are wiped before release. */
static void reply(struct call *c, unsigned status, json_t *j, const char *secret_key)
{
	char *text;

	if (!j) {
		nomem(c);
		return;
	}
	text = json_dumps(j, JSON_COMPACT);
	if (secret_key) {
		json_t *s = json_object_get(j, secret_key);
		if (json_is_string(s)) /* jansson's own malloc'ed copy, wiped in place */
			OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(j);
	if (!text) {
		nomem(c);
		return;
	}
	strbuf_reset(&c->out->body);
	strbuf_puts(&c->out->body, text);
	if (secret_key)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (c->out->body.failed) {
		nomem(c);
		return;
	}
	c->out->status = status;
	c->out->ctype = NULL;
}

static void no_content(struct call *c)
{
	strbuf_reset(&c->out->body);
	c->out->status = 204;
}

/* ---- JSON views of registry records -------------------------------------- */

static json_t *tenant_json(const struct reg_tenant *t)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "id", t->id, "kind", registry_kind_name(t->kind),
			 "name", t->name, "created_ms", (json_int_t)t->created_ms);
}

static json_t *uris_json(const char *text)
{
	json_t *u = json_loads(text, 0, NULL);

	if (!json_is_array(u)) {
		json_decref(u);
		u = json_array();
	}
	return u;
}

static json_t *app_json(const struct reg_app *a)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:I}", "id", a->id, "vendor", a->vendor,
			 "name", a->name, "redirect_uris", uris_json(a->redirect_uris), "revoked",
			 a->revoked, "created_ms", (json_int_t)a->created_ms);
}

static json_t *grant_json(const struct reg_grant *g)
{
	json_t *s = json_loads(g->scope, 0, NULL);

	if (!s)
		s = json_object();
	return json_pack("{s:s, s:s, s:o, s:I}", "app", g->app, "utility", g->utility, "scope", s,
			 "granted_ms", (json_int_t)g->granted_ms);
}

static const char *role_name(enum reg_role r)
{
	return r == REG_ROLE_ADMIN ? "admin" : "general";
}

static json_t *user_json(const struct reg_user *u)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:I, s:I}",
			 "login", u->login, "tenant", u->tenant, "name_kanji", u->name_kanji,
			 "name_kana", u->name_kana, "name_romaji", u->name_romaji, "mail", u->mail,
			 "phone", u->phone, "role", role_name(u->role), "otp_required",
			 u->otp_required, "totp_enrolled", u->totp_enrolled, "must_change",
			 u->must_change, "disabled", u->disabled, "created_ms",
			 (json_int_t)u->created_ms, "password_set_ms",
			 (json_int_t)u->password_set_ms);
}

/* What `suido app client-config` writes: everything a vendor's application
 * needs to sign users in and call the AP interface, like keycloak.json. */
static json_t *client_config(struct call *c, const struct reg_app *a, const char *secret)
{
	const char *iss = c->a->issuer;
	int il = (int)strlen(iss);
	char disc[1024];

	/* OpenID Connect Discovery 4: the issuer without a trailing slash,
	 * then the well-known path */
	while (il > 0 && iss[il - 1] == '/')
		il--;
	snprintf(disc, sizeof disc, "%.*s/.well-known/openid-configuration", il, iss);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:[sss], s:[sss]}", "issuer", iss,
			 "discovery", disc, "client_id", a->id, "client_secret", secret,
			 "redirect_uris", uris_json(a->redirect_uris),
			 "token_endpoint_auth_method", "client_secret_basic", "grant_types",
			 "authorization_code", "refresh_token", "client_credentials", "scopes",
			 "openid", "profile", "ap.read");
}

/* ---- request parsing ------------------------------------------------------ */

/* Registry identifier syntax (registry.h), checked here so that the answer
 * names the field. */
static int id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= REG_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '-' && ch != '_' && ch != '.')))
			return 0;
	}
	return 1;
}

#define ID_RULE "1-63 characters of a-z 0-9 - _ . starting with a letter or digit"

/* The body as a JSON object with only the allowed members. NULL after an
 * answer (415, 400) was written. */
static json_t *body_object(struct call *c, const char *const *allowed)
{
	const struct http_request *rq = c->rq;
	json_error_t je;
	const char *key;
	json_t *o, *v;

	if (!http_content_type_is(rq, "application/json")) {
		fail(c, 415, "unsupported_media_type",
		     "The body must be JSON with Content-Type: application/json (got %s).",
		     rq->content_type ? rq->content_type : "none");
		return NULL;
	}
	if (!rq->body || rq->body_len == 0) {
		fail(c, 400, "invalid_request", "A JSON object body is required.");
		return NULL;
	}
	o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		fail(c, 400, "invalid_request", "Malformed JSON body at line %d, column %d: %s",
		     je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		fail(c, 400, "invalid_request", "The body must be a JSON object.");
		return NULL;
	}
	json_object_foreach(o, key, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i]) {
			char list[256] = "";
			for (i = 0; allowed[i]; i++) {
				size_t l = strlen(list);
				snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", allowed[i]);
			}
			fail(c, 400, "invalid_request",
			     "Unknown field \"%.64s\" in the body (allowed: %s).", key,
			     *list ? list : "none");
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* An action without a body: none, or an empty JSON object. 0, or -1 after
 * an answer. */
static int no_body(struct call *c)
{
	static const char *const none[] = {NULL};
	json_t *o;

	if (!c->rq->body || c->rq->body_len == 0)
		return 0;
	o = body_object(c, none);
	json_decref(o);
	return o ? 0 : -1;
}

/* Member name of o as a string into out. 0 ok (*present says whether it was
 * there), -1 after a 400. */
static int field_str(struct call *c, json_t *o, const char *name, int required, char *out,
		     size_t outlen, int *present)
{
	json_t *v = json_object_get(o, name);

	if (present)
		*present = v != NULL;
	if (!v) {
		if (required) {
			fail(c, 400, "invalid_request", "Field \"%s\" is required.", name);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		fail(c, 400, "invalid_request", "Field \"%s\" must be a string.", name);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		fail(c, 400, "invalid_request", "Field \"%s\" must not contain a NUL character.",
		     name);
		return -1;
	}
	if (json_string_length(v) >= outlen) {
		fail(c, 400, "invalid_request", "Field \"%s\" is too long (at most %zu bytes).",
		     name, outlen - 1);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A required identifier member. */
static int field_id(struct call *c, json_t *o, const char *name, char out[REG_ID_MAX])
{
	char tmp[SEG_LEN];

	if (field_str(c, o, name, 1, tmp, sizeof tmp, NULL) != 0)
		return -1;
	if (!id_ok(tmp)) {
		fail(c, 400, "invalid_request", "Field \"%s\" must be an identifier: " ID_RULE ".",
		     name);
		return -1;
	}
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}

static int field_bool(struct call *c, json_t *o, const char *name, int *out, int *present)
{
	json_t *v = json_object_get(o, name);

	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		fail(c, 400, "invalid_request", "Field \"%s\" must be true or false.", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int field_role(struct call *c, json_t *o, enum reg_role *out, int *present)
{
	json_t *v = json_object_get(o, "role");
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	*present = v != NULL;
	if (!v)
		return 0;
	if (strcmp(s, "admin") == 0) {
		*out = REG_ROLE_ADMIN;
		return 0;
	}
	if (strcmp(s, "general") == 0) {
		*out = REG_ROLE_GENERAL;
		return 0;
	}
	fail(c, 400, "invalid_request", "Field \"role\" must be \"admin\" or \"general\".");
	return -1;
}

/* redirect_uris: an array of strings, serialised for the registry (which
 * checks each URI). */
static int field_uris(struct call *c, json_t *o, char out[REG_URIS_MAX])
{
	json_t *v = json_object_get(o, "redirect_uris"), *u;
	size_t i;
	char *text;

	if (!v) {
		fail(c, 400, "invalid_request", "Field \"redirect_uris\" is required.");
		return -1;
	}
	if (!json_is_array(v)) {
		fail(c, 400, "invalid_request",
		     "Field \"redirect_uris\" must be an array of URI strings.");
		return -1;
	}
	json_array_foreach(v, i, u) {
		if (!json_is_string(u) || strlen(json_string_value(u)) != json_string_length(u)) {
			fail(c, 400, "invalid_request", "Field \"redirect_uris[%zu]\" must be a string.",
			     i);
			return -1;
		}
	}
	text = json_dumps(v, JSON_COMPACT);
	if (!text) {
		nomem(c);
		return -1;
	}
	if (strlen(text) >= REG_URIS_MAX) {
		free(text);
		fail(c, 400, "invalid_request", "Field \"redirect_uris\" is too long (at most %d bytes of JSON).",
		     REG_URIS_MAX - 1);
		return -1;
	}
	memcpy(out, text, strlen(text) + 1);
	free(text);
	return 0;
}

/* scope: {"all":true} or {"items":[..],"facilities":[..]}, serialised. */
static int field_scope(struct call *c, json_t *o, char out[REG_SCOPE_MAX])
{
	json_t *s = json_object_get(o, "scope"), *v;
	const char *key;
	char *text;

	if (!s) {
		fail(c, 400, "invalid_request", "Field \"scope\" is required.");
		return -1;
	}
	if (!json_is_object(s)) {
		fail(c, 400, "invalid_request",
		     "Field \"scope\" must be {\"all\":true} or {\"items\":[...],\"facilities\":[...]}.");
		return -1;
	}
	if (json_object_get(s, "all")) {
		if (!json_is_true(json_object_get(s, "all")) || json_object_size(s) != 1) {
			fail(c, 400, "invalid_request",
			     "Field \"scope.all\" must be true and stand alone (no items or facilities with it).");
			return -1;
		}
	} else {
		json_object_foreach(s, key, v) {
			size_t i;
			json_t *e;
			if (strcmp(key, "items") != 0 && strcmp(key, "facilities") != 0) {
				fail(c, 400, "invalid_request",
				     "Unknown field \"scope.%.64s\" (allowed: all, items, facilities).",
				     key);
				return -1;
			}
			if (!json_is_array(v)) {
				fail(c, 400, "invalid_request",
				     "Field \"scope.%s\" must be an array of strings.", key);
				return -1;
			}
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) || json_string_length(e) == 0 ||
				    strlen(json_string_value(e)) != json_string_length(e)) {
					fail(c, 400, "invalid_request",
					     "Field \"scope.%s[%zu]\" must be a non-empty string.", key,
					     i);
					return -1;
				}
			}
		}
	}
	text = json_dumps(s, JSON_COMPACT);
	if (!text) {
		nomem(c);
		return -1;
	}
	if (strlen(text) >= REG_SCOPE_MAX) {
		free(text);
		fail(c, 400, "invalid_request", "Field \"scope\" is too long (at most %d bytes of JSON).",
		     REG_SCOPE_MAX - 1);
		return -1;
	}
	memcpy(out, text, strlen(text) + 1);
	free(text);
	return 0;
}

/* Refuses query parameters other than allowed (a typo'd filter must not
 * silently list everything). 0, or -1 after a 400. */
static int query_check(struct call *c, const char *const *allowed)
{
	const char *q = c->rq->query ? c->rq->query : "";

	while (*q) {
		size_t n = strcspn(q, "&"), k = strcspn(q, "=&"), i;
		for (i = 0; allowed[i]; i++)
			if (strlen(allowed[i]) == k && memcmp(q, allowed[i], k) == 0)
				break;
		if (n > 0 && !allowed[i]) {
			fail(c, 400, "invalid_request", "Unknown query parameter \"%.*s\".",
			     (int)(k > 64 ? 64 : k), q);
			return -1;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* Query parameter name into out; *present 0 when absent. 0, or -1 after a
 * 400. */
static int query_get(struct call *c, const char *name, char *out, size_t outlen, int *present)
{
	const char *q = c->rq->query ? c->rq->query : "";
	int rc = http_form_get(q, strlen(q), name, out, outlen);

	*present = rc == SUIDO_OK;
	if (rc == SUIDO_OK || rc == SUIDO_ERR_NOTFOUND)
		return 0;
	fail(c, 400, "invalid_request", "Query parameter \"%s\" is %s.", name,
	     rc == SUIDO_ERR_LIMIT ? "too long" : "repeated or badly encoded");
	return -1;
}

/* An identifier filter from the query ("" when absent). */
static int query_id(struct call *c, const char *name, char out[REG_ID_MAX])
{
	char tmp[SEG_LEN];
	int present;

	out[0] = '\0';
	if (query_get(c, name, tmp, sizeof tmp, &present) != 0)
		return -1;
	if (!present)
		return 0;
	if (!id_ok(tmp)) {
		fail(c, 400, "invalid_request",
		     "Query parameter \"%s\" must be an identifier: " ID_RULE ".", name);
		return -1;
	}
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}

static int query_int(struct call *c, const char *name, long long lo, long long hi,
		     long long *out)
{
	char tmp[32], *end = NULL;
	int present;
	long long v;

	if (query_get(c, name, tmp, sizeof tmp, &present) != 0)
		return -1;
	if (!present)
		return 0;
	v = strtoll(tmp, &end, 10);
	if (!tmp[0] || *end || tmp[0] == '+' || tmp[0] == ' ' || v < lo || v > hi) {
		fail(c, 400, "invalid_request",
		     "Query parameter \"%s\" must be an integer from %lld to %lld.", name, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* 1 when the method is one of mask (HEAD counts as GET); else a 405 with
 * Allow and 0. */
static int allow(struct call *c, unsigned mask)
{
	char list[64] = "";

	if (c->m & mask)
		return 1;
	if (mask & M_GET)
		strcat(list, "GET, HEAD, ");
	if (mask & M_POST)
		strcat(list, "POST, ");
	if (mask & M_PUT)
		strcat(list, "PUT, ");
	if (mask & M_PATCH)
		strcat(list, "PATCH, ");
	if (mask & M_DELETE)
		strcat(list, "DELETE, ");
	list[strlen(list) - 2] = '\0';
	fail(c, 405, "method_not_allowed", "This resource answers %s.", list);
	http_response_header(c->out, "Allow", "%s", list);
	return 0;
}

static int is_admin(const struct call *c)
{
	return c->op || c->me.role == REG_ROLE_ADMIN;
}

/* ---- tenants -------------------------------------------------------------- */

static int cb_tenant(void *ctx, const struct reg_tenant *t)
{
	return json_array_append_new(ctx, tenant_json(t)) == 0 ? 0 : SUIDO_ERR_NOMEM;
}

static void tenants(struct call *c)
{
	static const char *const q_list[] = {"kind", NULL};
	static const char *const f_add[] = {"id", "kind", "name", NULL};
	struct reg_tenant t;
	char err[256] = "", kind[16];
	int present, rc;
	json_t *arr, *o;

	if (c->nseg == 2) {
		if (!allow(c, M_GET))
			return;
		/* another tenant reads as unknown to a tenant's administrator */
		if (!c->op && strcmp(c->seg[1], c->me.tenant) != 0) {
			fail(c, 404, "not_found", "tenant \"%s\" was not found", c->seg[1]);
			return;
		}
		rc = registry_tenant_get(c->a->r, c->seg[1], &t);
		if (rc != SUIDO_OK) {
			snprintf(err, sizeof err, "tenant \"%s\"", c->seg[1]);
			reg_fail(c, rc, NULL, err);
			return;
		}
		reply(c, 200, tenant_json(&t), NULL);
		return;
	}
	if (!allow(c, M_GET | M_POST))
		return;
	if (c->m == M_GET) {
		enum reg_kind k = REG_OPERATOR;
		if (query_check(c, q_list) != 0 || query_get(c, "kind", kind, sizeof kind, &present) != 0)
			return;
		if (present && registry_kind_parse(kind, &k) != SUIDO_OK) {
			fail(c, 400, "invalid_request",
			     "Query parameter \"kind\" must be utility, vendor or operator.");
			return;
		}
		if (!(arr = json_array())) {
			nomem(c);
			return;
		}
		if (c->op) {
			rc = registry_tenant_list(c->a->r, present ? (int)k : -1, cb_tenant, arr);
		} else {
			rc = registry_tenant_get(c->a->r, c->me.tenant, &t);
			if (rc == SUIDO_OK && (!present || t.kind == k))
				rc = cb_tenant(arr, &t);
			else if (rc == SUIDO_OK || rc == SUIDO_ERR_NOTFOUND)
				rc = SUIDO_OK;
		}
		if (rc != SUIDO_OK) {
			json_decref(arr);
			reg_fail(c, rc, NULL, "the tenant list");
			return;
		}
		reply(c, 200, json_pack("{s:o}", "tenants", arr), NULL);
		return;
	}
	if (!c->op) {
		refuse(c, "Only the operator adds tenants.");
		return;
	}
	if (!(o = body_object(c, f_add)))
		return;
	memset(&t, 0, sizeof t);
	if (field_id(c, o, "id", t.id) != 0 ||
	    field_str(c, o, "kind", 1, kind, sizeof kind, NULL) != 0 ||
	    field_str(c, o, "name", 1, t.name, sizeof t.name, NULL) != 0)
		goto done;
	if (registry_kind_parse(kind, &t.kind) != SUIDO_OK) {
		fail(c, 400, "invalid_request",
		     "Field \"kind\" must be \"utility\", \"vendor\" or \"operator\".");
		goto done;
	}
	t.created_ms = (int64_t)c->rq->now_ms;
	rc = registry_tenant_add(c->a->r, c->actor, &t, c->rq->now_ms, err, sizeof err);
	if (rc != SUIDO_OK) {
		char what[128];
		snprintf(what, sizeof what, "tenant \"%s\"", t.id);
		reg_fail(c, rc, err, what);
		goto done;
	}
	registry_tenant_get(c->a->r, t.id, &t);
	reply(c, 201, tenant_json(&t), NULL);
done:
	json_decref(o);
}

/* ---- links ---------------------------------------------------------------- */

static int cb_link(void *ctx, const struct reg_link *l)
{
	return json_array_append_new(ctx, json_pack("{s:s, s:s}", "utility", l->utility, "vendor",
						      l->vendor)) == 0
		       ? 0
		       : SUIDO_ERR_NOMEM;
}

static json_t *gateway_json(const struct reg_gateway *g)
{
	return json_pack("{s:s, s:s, s:s?, s:I}", "id", g->id, "utility", g->utility, "vendor",
			 g->vendor[0] ? g->vendor : NULL, "created_ms", (json_int_t)g->created_ms);
}

/* A gateway is the business of its utility, of the vendor that built it and
 * of the operator. */
static int gateway_visible(const struct call *c, const struct reg_gateway *g)
{
	return c->op || strcmp(g->utility, c->me.tenant) == 0 ||
	       (g->vendor[0] && strcmp(g->vendor, c->me.tenant) == 0);
}

struct gw_list {
	const struct call *c;
	json_t *arr;
};

static int cb_gateway(void *ctx, const struct reg_gateway *g)
{
	struct gw_list *l = ctx;

	if (gateway_visible(l->c, g) && json_array_append_new(l->arr, gateway_json(g)) != 0)
		return SUIDO_ERR_NOMEM;
	return 0;
}

/* GET /gateways[?utility=], GET /gateways/{id}, PATCH /gateways/{id}
 * {"vendor": V} (the operator records who built it). Registration on the GW
 * interface stays platform.conf's [gateway ID]. */
static void gateways(struct call *c)
{
	static const char *const q_list[] = {"utility", NULL};
	static const char *const f_patch[] = {"vendor", NULL};
	char u[REG_ID_MAX], v[REG_ID_MAX], err[256] = "", what[128];
	struct reg_gateway g;
	struct gw_list l = {c, NULL};
	json_t *o;
	int rc;

	if (c->nseg == 1) {
		if (!allow(c, M_GET) || query_check(c, q_list) != 0 || query_id(c, "utility", u) != 0)
			return;
		if (!(l.arr = json_array())) {
			nomem(c);
			return;
		}
		rc = registry_gateway_list(c->a->r, *u ? u : NULL, cb_gateway, &l);
		if (rc != SUIDO_OK) {
			json_decref(l.arr);
			reg_fail(c, rc, NULL, "the gateway list");
			return;
		}
		reply(c, 200, json_pack("{s:o}", "gateways", l.arr), NULL);
		return;
	}
	if (!allow(c, M_GET | M_PATCH))
		return;
	snprintf(what, sizeof what, "gateway \"%s\"", c->seg[1]);
	if (registry_gateway_get(c->a->r, c->seg[1], &g) != SUIDO_OK || !gateway_visible(c, &g)) {
		fail(c, 404, "not_found", "No such gateway.");
		return;
	}
	if (c->m == M_GET) {
		reply(c, 200, gateway_json(&g), NULL);
		return;
	}
	if (!c->op) {
		refuse(c, "Only the operator records which vendor built a gateway.");
		return;
	}
	if (!(o = body_object(c, f_patch)))
		return;
	if (field_id(c, o, "vendor", v) == 0) {
		rc = registry_gateway_set_vendor(c->a->r, c->actor, c->seg[1], v, c->rq->now_ms, err,
						 sizeof err);
		if (rc == SUIDO_OK)
			rc = registry_gateway_get(c->a->r, c->seg[1], &g);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 200, gateway_json(&g), NULL);
	}
	json_decref(o);
}

static void links(struct call *c)
{
	static const char *const q_list[] = {"utility", "vendor", NULL};
	static const char *const f_add[] = {"utility", "vendor", NULL};
	char u[REG_ID_MAX], v[REG_ID_MAX], err[256] = "", what[192];
	json_t *arr = NULL, *o = NULL;
	int rc;

	if (c->nseg == 3) {
		if (!allow(c, M_DELETE))
			return;
		if (!c->op) {
			refuse(c, "Only the operator removes vendor links.");
			return;
		}
		snprintf(what, sizeof what, "the link of vendor \"%s\" to utility \"%s\"", c->seg[2],
			 c->seg[1]);
		rc = registry_link_remove(c->a->r, c->actor, c->seg[1], c->seg[2], c->rq->now_ms,
					  err, sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			no_content(c);
		return;
	}
	if (c->nseg != 1) {
		fail(c, 404, "not_found", "No such admin resource.");
		return;
	}
	if (!allow(c, M_GET | M_POST))
		return;
	if (c->m == M_POST) {
		if (!c->op) {
			refuse(c, "Only the operator links vendors to utilities.");
			return;
		}
		if (!(o = body_object(c, f_add)))
			return;
		if (field_id(c, o, "utility", u) == 0 && field_id(c, o, "vendor", v) == 0) {
			snprintf(what, sizeof what, "the link of vendor \"%s\" to utility \"%s\"", v,
				 u);
			rc = registry_link_add(c->a->r, c->actor, u, v, c->rq->now_ms, err,
					       sizeof err);
			if (rc != SUIDO_OK)
				reg_fail(c, rc, err, what);
			else
				reply(c, 201, json_pack("{s:s, s:s}", "utility", u, "vendor", v), NULL);
		}
		json_decref(o);
		return;
	}
	if (query_check(c, q_list) != 0 || query_id(c, "utility", u) != 0 ||
	    query_id(c, "vendor", v) != 0)
		return;
	if (!(arr = json_array())) {
		nomem(c);
		goto done;
	}
	/* a tenant's administrator sees the links that involve its tenant */
	if (!c->op && c->tkind != REG_UTILITY && c->tkind != REG_VENDOR)
		goto answer;
	if (!c->op && c->tkind == REG_UTILITY) {
		if (*u && strcmp(u, c->me.tenant) != 0)
			goto answer;
		snprintf(u, sizeof u, "%s", c->me.tenant);
	}
	if (!c->op && c->tkind == REG_VENDOR) {
		if (*v && strcmp(v, c->me.tenant) != 0)
			goto answer;
		snprintf(v, sizeof v, "%s", c->me.tenant);
	}
	rc = registry_link_list(c->a->r, *u ? u : NULL, *v ? v : NULL, cb_link, arr);
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, NULL, "the link list");
		goto done;
	}
answer:
	reply(c, 200, json_pack("{s:O}", "links", arr), NULL);
done:
	json_decref(arr);
}

/* ---- applications --------------------------------------------------------- */

static int cb_app(void *ctx, const struct reg_app *a)
{
	return json_array_append_new(ctx, app_json(a)) == 0 ? 0 : SUIDO_ERR_NOMEM;
}

/* The application of seg[1] into *app when the principal may see it; else
 * an answer (404 for another vendor's) and -1. */
static int app_visible(struct call *c, struct reg_app *app, char *what, size_t wlen)
{
	int rc;

	snprintf(what, wlen, "application \"%s\"", c->seg[1]);
	rc = registry_app_get(c->a->r, c->seg[1], app);
	if (rc == SUIDO_OK && !c->op && strcmp(app->vendor, c->me.tenant) != 0)
		rc = SUIDO_ERR_NOTFOUND;
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, NULL, what);
		return -1;
	}
	return 0;
}

static void applications(struct call *c)
{
	static const char *const q_list[] = {"vendor", NULL};
	static const char *const f_add[] = {"id", "vendor", "name", "redirect_uris", NULL};
	static const char *const f_patch[] = {"redirect_uris", NULL};
	char err[256] = "", what[128], secret[REG_SECRET_TEXT] = "", v[REG_ID_MAX];
	struct reg_app app;
	json_t *o = NULL, *arr;
	int rc;

	if (!c->op && c->tkind != REG_VENDOR) {
		refuse(c, "Applications are administered by the operator and by their vendor.");
		return;
	}
	if (c->nseg == 1) {
		if (!allow(c, M_GET | M_POST))
			return;
		if (c->m == M_GET) {
			if (query_check(c, q_list) != 0 || query_id(c, "vendor", v) != 0)
				return;
			if (!(arr = json_array())) {
				nomem(c);
				return;
			}
			rc = SUIDO_OK;
			if (c->op || !*v || strcmp(v, c->me.tenant) == 0)
				rc = registry_app_list(c->a->r, c->op ? (*v ? v : NULL) : c->me.tenant,
						       cb_app, arr);
			if (rc != SUIDO_OK) {
				json_decref(arr);
				reg_fail(c, rc, NULL, "the application list");
				return;
			}
			reply(c, 200, json_pack("{s:o}", "applications", arr), NULL);
			return;
		}
		if (!(o = body_object(c, f_add)))
			return;
		memset(&app, 0, sizeof app);
		if (field_id(c, o, "id", app.id) != 0 || field_id(c, o, "vendor", app.vendor) != 0 ||
		    field_str(c, o, "name", 1, app.name, sizeof app.name, NULL) != 0 ||
		    field_uris(c, o, app.redirect_uris) != 0)
			goto done;
		if (!c->op && strcmp(app.vendor, c->me.tenant) != 0) {
			refuse(c, "A vendor registers applications of its own only (vendor \"%s\").",
			       c->me.tenant);
			goto done;
		}
		snprintf(what, sizeof what, "application \"%s\"", app.id);
		rc = registry_app_add(c->a->r, c->actor, &app, secret, c->rq->now_ms, err,
				      sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 201, client_config(c, &app, secret), "client_secret");
		goto done;
	}
	if (c->nseg == 2) {
		if (!allow(c, M_GET | M_PATCH) || app_visible(c, &app, what, sizeof what) != 0)
			return;
		if (c->m == M_GET) {
			reply(c, 200, app_json(&app), NULL);
			return;
		}
		if (!(o = body_object(c, f_patch)) || field_uris(c, o, app.redirect_uris) != 0)
			goto done;
		rc = registry_app_set_redirect_uris(c->a->r, c->actor, app.id, app.redirect_uris,
						    c->rq->now_ms, err, sizeof err);
		if (rc == SUIDO_OK)
			rc = registry_app_get(c->a->r, app.id, &app);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 200, app_json(&app), NULL);
		goto done;
	}
	if (c->nseg != 3 || (strcmp(c->seg[2], "secret") != 0 && strcmp(c->seg[2], "revoke") != 0 &&
			     strcmp(c->seg[2], "reinstate") != 0)) {
		fail(c, 404, "not_found", "No such admin resource.");
		return;
	}
	if (!allow(c, M_POST))
		return;
	if (strcmp(c->seg[2], "secret") != 0 && !c->op) {
		refuse(c, "Only the operator revokes or reinstates applications.");
		return;
	}
	if (app_visible(c, &app, what, sizeof what) != 0 || no_body(c) != 0)
		return;
	if (strcmp(c->seg[2], "secret") == 0) {
		rc = registry_app_rotate_secret(c->a->r, c->actor, app.id, secret, c->rq->now_ms,
						err, sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 200, client_config(c, &app, secret), "client_secret");
		goto done;
	}
	rc = registry_app_set_revoked(c->a->r, c->actor, app.id,
				      strcmp(c->seg[2], "revoke") == 0, c->rq->now_ms, err,
				      sizeof err);
	if (rc == SUIDO_OK)
		rc = registry_app_get(c->a->r, app.id, &app);
	if (rc != SUIDO_OK)
		reg_fail(c, rc, err, what);
	else
		reply(c, 200, app_json(&app), NULL);
done:
	OPENSSL_cleanse(secret, sizeof secret);
	json_decref(o);
}

/* ---- grants --------------------------------------------------------------- */

static int cb_grant(void *ctx, const struct reg_grant *g)
{
	return json_array_append_new(ctx, grant_json(g)) == 0 ? 0 : SUIDO_ERR_NOMEM;
}

static void grants(struct call *c)
{
	static const char *const q_list[] = {"app", "utility", NULL};
	static const char *const f_put[] = {"scope", NULL};
	char app[REG_ID_MAX], u[REG_ID_MAX], err[256] = "", what[192];
	struct reg_grant *g = NULL;
	json_t *o = NULL, *arr;
	int rc;

	if (!c->op && c->tkind != REG_UTILITY) {
		refuse(c, "Grants are administered by the operator and by the utility that gives "
			  "them.");
		return;
	}
	if (c->nseg == 1) { /* GET /grants */
		if (!allow(c, M_GET))
			return;
		if (query_check(c, q_list) != 0 || query_id(c, "app", app) != 0 ||
		    query_id(c, "utility", u) != 0)
			return;
		if (!(arr = json_array())) {
			nomem(c);
			return;
		}
		rc = SUIDO_OK;
		if (!c->op && *u && strcmp(u, c->me.tenant) != 0)
			; /* another utility's grants: none to show */
		else
			rc = registry_grant_list(c->a->r, *app ? app : NULL,
						 c->op ? (*u ? u : NULL) : c->me.tenant, cb_grant,
						 arr);
		if (rc != SUIDO_OK) {
			json_decref(arr);
			reg_fail(c, rc, NULL, "the grant list");
			return;
		}
		reply(c, 200, json_pack("{s:o}", "grants", arr), NULL);
		return;
	}
	/* /utilities/{utility}/grants/{app} */
	if (!allow(c, M_PUT | M_DELETE))
		return;
	if (!c->op && strcmp(c->seg[1], c->me.tenant) != 0) {
		refuse(c, "A utility administers its own grants only (utility \"%s\").",
		       c->me.tenant);
		return;
	}
	snprintf(what, sizeof what, "the grant of utility \"%s\" to application \"%s\"", c->seg[1],
		 c->seg[3]);
	if (c->m == M_DELETE) {
		rc = registry_grant_revoke(c->a->r, c->actor, c->seg[3], c->seg[1], c->rq->now_ms,
					   err, sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			no_content(c);
		return;
	}
	if (!(g = calloc(1, sizeof *g))) {
		nomem(c);
		return;
	}
	if (!(o = body_object(c, f_put)) || field_scope(c, o, g->scope) != 0)
		goto done;
	rc = registry_grant_set(c->a->r, c->actor, c->seg[3], c->seg[1], g->scope, c->rq->now_ms,
				err, sizeof err);
	if (rc == SUIDO_OK)
		rc = registry_grant_get(c->a->r, c->seg[3], c->seg[1], g);
	if (rc != SUIDO_OK)
		reg_fail(c, rc, err, what);
	else
		reply(c, 200, grant_json(g), NULL);
done:
	json_decref(o);
	free(g);
}

/* ---- users ---------------------------------------------------------------- */

static int cb_user(void *ctx, const struct reg_user *u)
{
	return json_array_append_new(ctx, user_json(u)) == 0 ? 0 : SUIDO_ERR_NOMEM;
}

static const char *const user_fields[] = {"name_kanji", "name_kana", "name_romaji", "mail",
					  "phone", NULL};

/* The string members of a user (names, mail, phone) present in o, into u;
 * *n counts those present. */
static int user_strings(struct call *c, json_t *o, struct reg_user *u, int required, int *n)
{
	char *dst[] = {u->name_kanji, u->name_kana, u->name_romaji, u->mail, u->phone};
	size_t len[] = {sizeof u->name_kanji, sizeof u->name_kana, sizeof u->name_romaji,
			sizeof u->mail, sizeof u->phone};

	for (size_t i = 0; user_fields[i]; i++) {
		int present;
		/* every name is required of a new user; mail and phone may wait */
		if (field_str(c, o, user_fields[i], required && i < 3, dst[i], len[i], &present) != 0)
			return -1;
		*n += present;
	}
	return 0;
}

/* The user of seg[1] when the principal may see it (404 for another
 * tenant's, so that its existence is not revealed). */
static int user_visible(struct call *c, struct reg_user *u, char *what, size_t wlen)
{
	int rc;

	snprintf(what, wlen, "user \"%s\"", c->seg[1]);
	rc = registry_user_get(c->a->r, c->seg[1], u);
	if (rc == SUIDO_OK && !c->op && strcmp(u->tenant, c->me.tenant) != 0)
		rc = SUIDO_ERR_NOTFOUND;
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, NULL, what);
		return -1;
	}
	return 0;
}

static void users(struct call *c)
{
	static const char *const q_list[] = {"tenant", NULL};
	static const char *const f_add[] = {"tenant", "name_kanji", "name_kana", "name_romaji",
					    "mail", "phone", "role", "otp_required", NULL};
	static const char *const f_patch[] = {"name_kanji", "name_kana", "name_romaji", "mail",
					      "phone", "role", "otp_required", "disabled", NULL};
	char err[256] = "", what[128], otp[REG_OTP_TEXT] = "", t[REG_ID_MAX];
	struct reg_user *u = NULL;
	json_t *o = NULL, *arr, *j;
	int rc, n = 0, present;

	if (!(u = calloc(1, sizeof *u))) {
		nomem(c);
		return;
	}
	if (c->nseg == 1) {
		if (!allow(c, M_GET | M_POST))
			goto done;
		if (c->m == M_GET) {
			if (query_check(c, q_list) != 0 || query_id(c, "tenant", t) != 0)
				goto done;
			if (!(arr = json_array())) {
				nomem(c);
				goto done;
			}
			rc = SUIDO_OK;
			if (c->op || !*t || strcmp(t, c->me.tenant) == 0)
				rc = registry_user_list(c->a->r, c->op ? (*t ? t : NULL) : c->me.tenant,
							cb_user, arr);
			if (rc != SUIDO_OK) {
				json_decref(arr);
				reg_fail(c, rc, NULL, "the user list");
				goto done;
			}
			reply(c, 200, json_pack("{s:o}", "users", arr), NULL);
			goto done;
		}
		if (!(o = body_object(c, f_add)))
			goto done;
		if (field_id(c, o, "tenant", u->tenant) != 0 || user_strings(c, o, u, 1, &n) != 0 ||
		    field_role(c, o, &u->role, &present) != 0 ||
		    field_bool(c, o, "otp_required", &u->otp_required, &present) != 0)
			goto done;
		if (!c->op && strcmp(u->tenant, c->me.tenant) != 0) {
			refuse(c, "An administrator adds users to its own tenant only (\"%s\").",
			       c->me.tenant);
			goto done;
		}
		snprintf(what, sizeof what, "a user of tenant \"%s\"", u->tenant);
		rc = registry_user_add(c->a->r, c->actor, u, otp, c->rq->now_ms, err, sizeof err);
		if (rc == SUIDO_OK)
			registry_user_get(c->a->r, u->login, u);
		if (rc != SUIDO_OK) {
			reg_fail(c, rc, err, what);
			goto done;
		}
		j = user_json(u);
		if (j && json_object_set_new(j, "one_time_password", json_string(otp)) != 0) {
			json_decref(j);
			j = NULL;
		}
		reply(c, 201, j, "one_time_password");
		goto done;
	}
	if (c->nseg == 2) {
		if (!allow(c, M_GET | M_PATCH) || user_visible(c, u, what, sizeof what) != 0)
			goto done;
		if (c->m == M_GET) {
			reply(c, 200, user_json(u), NULL);
			goto done;
		}
		if (!(o = body_object(c, f_patch)) || user_strings(c, o, u, 0, &n) != 0)
			goto done;
		if (field_role(c, o, &u->role, &present) != 0)
			goto done;
		n += present;
		if (field_bool(c, o, "otp_required", &u->otp_required, &present) != 0)
			goto done;
		n += present;
		if (field_bool(c, o, "disabled", &u->disabled, &present) != 0)
			goto done;
		n += present;
		if (n == 0) {
			fail(c, 400, "invalid_request",
			     "The body changes nothing: give at least one of name_kanji, name_kana, "
			     "name_romaji, mail, phone, role, otp_required, disabled.");
			goto done;
		}
		rc = registry_user_update(c->a->r, c->actor, u, c->rq->now_ms, err, sizeof err);
		if (rc == SUIDO_OK)
			rc = registry_user_get(c->a->r, u->login, u);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 200, user_json(u), NULL);
		goto done;
	}
	if (c->nseg == 3 && strcmp(c->seg[2], "totp") == 0) {
		/* The operator provisions a TOTP secret (the sheet handed to the user
		 * with the one-time password); shown once. */
		unsigned char sec[TOTP_SECRET_BYTES];
		char b32[TOTP_BASE32_MAX], *uri = NULL;
		if (!allow(c, M_POST))
			goto done;
		if (!c->op) {
			refuse(c, "Only the operator provisions a TOTP secret.");
			goto done;
		}
		if (no_body(c) != 0)
			goto done;
		snprintf(what, sizeof what, "user \"%s\"", c->seg[1]);
		rc = totp_secret_generate(sec);
		if (rc == SUIDO_OK)
			rc = totp_secret_to_base32(sec, sizeof sec, b32, sizeof b32);
		if (rc == SUIDO_OK)
			rc = totp_uri(c->seg[1], sec, sizeof sec, &uri);
		OPENSSL_cleanse(sec, sizeof sec);
		if (rc == SUIDO_OK)
			rc = registry_totp_set(c->a->r, c->actor, c->seg[1], b32, c->rq->now_ms, err,
					       sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, what);
		else
			reply(c, 200, json_pack("{s:s, s:s, s:s}", "login", c->seg[1], "secret", b32,
						"otpauth_uri", uri),
			      "secret");
		OPENSSL_cleanse(b32, sizeof b32);
		if (uri) {
			OPENSSL_cleanse(uri, strlen(uri));
			free(uri);
		}
		goto done;
	}
	if (c->nseg != 3 || strcmp(c->seg[2], "password-reset") != 0) {
		fail(c, 404, "not_found", "No such admin resource.");
		goto done;
	}
	if (!allow(c, M_POST))
		goto done;
	/* FAQ 8: a forgotten password is reset by the operator only */
	if (!c->op) {
		refuse(c, "Only the operator resets a forgotten password.");
		goto done;
	}
	if (no_body(c) != 0)
		goto done;
	snprintf(what, sizeof what, "user \"%s\"", c->seg[1]);
	rc = registry_user_reset_password(c->a->r, c->actor, c->seg[1], otp, c->rq->now_ms, err,
					  sizeof err);
	if (rc != SUIDO_OK)
		reg_fail(c, rc, err, what);
	else
		reply(c, 200, json_pack("{s:s, s:s}", "login", c->seg[1], "one_time_password", otp),
		      "one_time_password");
done:
	OPENSSL_cleanse(otp, sizeof otp);
	json_decref(o);
	free(u);
}

/* ---- me ------------------------------------------------------------------- */

/* Wipes a password member's text in jansson's copy before release. */
static void wipe_str(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

/* The user's own TOTP enrolment: POST /me/totp makes a pending secret and
 * its otpauth:// URI (for the authenticator app's QR code); POST
 * /me/totp/confirm {"code"} makes it the user's secret once a code of it
 * verifies, and answers the recovery codes, shown once. */
static void me_totp(struct call *c)
{
	static const char *const f_confirm[] = {"code", NULL};
	char b32[TOTP_BASE32_MAX], err[256] = "", codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT];
	char *uri = NULL;
	json_t *o, *code, *arr;
	int rc;

	if (!allow(c, M_POST))
		return;
	if (c->op) {
		fail(c, 403, "forbidden", "The operator has no one-time codes here.");
		return;
	}
	if (c->nseg == 2) {
		if (no_body(c) != 0)
			return;
		rc = registry_totp_begin(c->a->r, c->actor, c->me.login, b32, sizeof b32, &uri,
					 c->rq->now_ms, err, sizeof err);
		if (rc != SUIDO_OK)
			reg_fail(c, rc, err, "the enrolment");
		else
			reply(c, 200, json_pack("{s:s, s:s}", "secret", b32, "otpauth_uri", uri),
			      "secret");
		OPENSSL_cleanse(b32, sizeof b32);
		if (uri) {
			OPENSSL_cleanse(uri, strlen(uri));
			free(uri);
		}
		return;
	}
	if (strcmp(c->seg[2], "confirm") != 0) {
		fail(c, 404, "not_found", "No such admin resource.");
		return;
	}
	if (!(o = body_object(c, f_confirm)))
		return;
	code = json_object_get(o, "code");
	if (!json_is_string(code)) {
		fail(c, 400, "invalid_request", "Field \"code\" is required and must be a string.");
		json_decref(o);
		return;
	}
	rc = registry_totp_confirm(c->a->r, c->actor, c->me.login, json_string_value(code), codes,
				   c->rq->now_ms, err, sizeof err);
	json_decref(o);
	if (rc == SUIDO_ERR_PERM) {
		fail(c, 422, "invalid_code", "The code does not match the pending secret.");
		return;
	}
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, err, "the enrolment");
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < TOTP_RECOVERY_COUNT; i++)
		json_array_append_new(arr, json_string(codes[i]));
	OPENSSL_cleanse(codes, sizeof codes);
	reply(c, 200, arr ? json_pack("{s:b, s:o}", "totp_enrolled", 1, "recovery_codes", arr) : NULL,
	      NULL);
}

static void me(struct call *c)
{
	static const char *const f_pw[] = {"current", "new", NULL};
	json_t *o, *cur, *nw, *j;
	char err[256] = "";
	int rc, mc = 0, reason = 0;

	if (c->nseg == 1) {
		if (!allow(c, M_GET))
			return;
		if (c->op) {
			reply(c, 200, json_pack("{s:s, s:s}", "kind", "operator", "actor", c->actor),
			      NULL);
			return;
		}
		j = user_json(&c->me);
		if (j && (json_object_set_new(j, "kind", json_string("user")) != 0 ||
			  json_object_set_new(j, "tenant_kind",
					      json_string(registry_kind_name(c->tkind))) != 0)) {
			json_decref(j);
			j = NULL;
		}
		reply(c, 200, j, NULL);
		return;
	}
	if ((c->nseg == 2 || c->nseg == 3) && strcmp(c->seg[1], "totp") == 0) {
		me_totp(c);
		return;
	}
	if (c->nseg != 2 || strcmp(c->seg[1], "password") != 0) {
		fail(c, 404, "not_found", "No such admin resource.");
		return;
	}
	if (!allow(c, M_POST))
		return;
	if (c->op) {
		fail(c, 403, "forbidden",
		     "The operator authenticates with the admin token and has no password here.");
		return;
	}
	if (!(o = body_object(c, f_pw)))
		return;
	cur = json_object_get(o, "current");
	nw = json_object_get(o, "new");
	if (!json_is_string(cur) || !json_is_string(nw)) {
		fail(c, 400, "invalid_request", "Field \"%s\" is required and must be a string.",
		     !json_is_string(cur) ? "current" : "new");
		goto done;
	}
	rc = registry_user_check_password(c->a->r, c->me.login, json_string_value(cur),
					  json_string_length(cur), &mc);
	if (rc == SUIDO_ERR_PERM) {
		refuse(c, "The current password is wrong.");
		goto done;
	}
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, NULL, "the current password");
		goto done;
	}
	rc = registry_user_set_password(c->a->r, c->actor, c->me.login, json_string_value(nw),
					json_string_length(nw), c->a->policy, c->a->blocklist,
					&reason, c->rq->now_ms, err, sizeof err);
	if (rc == SUIDO_ERR_PERM && reason != PASSWORD_ACCEPTABLE) {
		reply(c, 422,
		      json_pack("{s:s, s:i, s:s, s:s}", "error", "password_policy", "reason", reason,
				"message", password_reason_en(reason), "message_ja",
				password_reason_ja(reason)),
		      NULL);
	} else if (rc != SUIDO_OK) {
		reg_fail(c, rc, err, "the new password");
	} else {
		no_content(c);
	}
done:
	wipe_str(o, "current");
	wipe_str(o, "new");
	json_decref(o);
}

/* ---- audit ---------------------------------------------------------------- */

struct audit_ctx {
	json_t *arr;
	int64_t last;
};

static int cb_audit(void *ctx, const struct reg_audit *e)
{
	struct audit_ctx *ac = ctx;
	json_t *d = e->detail ? json_loads(e->detail, 0, NULL) : NULL;

	if (!d)
		d = e->detail ? json_string(e->detail) : json_null();
	ac->last = e->seq;
	return json_array_append_new(ac->arr,
				     json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:o}", "seq",
					       (json_int_t)e->seq, "at_ms", (json_int_t)e->at_ms,
					       "actor", e->actor, "action", e->action, "target",
					       e->target, "detail", d)) == 0
		       ? 0
		       : SUIDO_ERR_NOMEM;
}

static void audit(struct call *c)
{
	static const char *const q_list[] = {"after", "limit", NULL};
	long long after = 0, limit = AUDIT_DEFAULT;
	struct audit_ctx ac;
	int rc;

	if (c->nseg != 1) {
		fail(c, 404, "not_found", "No such admin resource.");
		return;
	}
	if (!allow(c, M_GET))
		return;
	if (!c->op) {
		refuse(c, "Only the operator reads the audit log.");
		return;
	}
	if (query_check(c, q_list) != 0 || query_int(c, "after", 0, INT64_MAX, &after) != 0 ||
	    query_int(c, "limit", 1, AUDIT_MAX, &limit) != 0)
		return;
	ac.arr = json_array();
	ac.last = after;
	if (!ac.arr) {
		nomem(c);
		return;
	}
	rc = registry_audit_list(c->a->r, after, (size_t)limit, cb_audit, &ac);
	if (rc != SUIDO_OK) {
		json_decref(ac.arr);
		reg_fail(c, rc, NULL, "the audit log");
		return;
	}
	reply(c, 200, json_pack("{s:o, s:I}", "entries", ac.arr, "next_after", (json_int_t)ac.last),
	      NULL);
}

/* ---- dispatch ------------------------------------------------------------- */

static enum method method_of(const char *m)
{
	if (!m)
		return M_OTHER;
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return M_GET;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "PUT") == 0)
		return M_PUT;
	if (strcmp(m, "PATCH") == 0)
		return M_PATCH;
	if (strcmp(m, "DELETE") == 0)
		return M_DELETE;
	return M_OTHER;
}

/* Splits the path after PREFIX into decoded segments. 0, or -1 after an
 * answer. */
static int split_path(struct call *c)
{
	const char *p = c->rq->path;
	size_t len = c->rq->path_len, pl = strlen(PREFIX), i;

	if (!p || len <= pl || memcmp(p, PREFIX, pl) != 0) {
		fail(c, 404, "not_found", "No such admin resource.");
		return -1;
	}
	p += pl;
	len -= pl;
	for (c->nseg = 0;; c->nseg++) {
		const char *slash = memchr(p, '/', len);
		size_t n = slash ? (size_t)(slash - p) : len;
		int rc;
		if (n == 0 || c->nseg == SEG_MAX) {
			fail(c, 404, "not_found", "No such admin resource.");
			return -1;
		}
		rc = http_segment_decode(p, n, c->seg[c->nseg], SEG_LEN);
		if (rc != SUIDO_OK) {
			fail(c, 400, "invalid_request", "Path segment %zu is %s.", c->nseg + 3,
			     rc == SUIDO_ERR_LIMIT ? "too long" : "badly percent-encoded");
			return -1;
		}
		if (!slash) {
			c->nseg++;
			return 0;
		}
		i = n + 1;
		p += i;
		len -= i;
	}
}

/* Reads a user principal from the registry (the token may outlive a role
 * change or a disabled account). 0, or -1 after an answer. */
static int load_user(struct call *c, const struct admin_principal *who)
{
	struct reg_tenant t;
	int rc = registry_user_get(c->a->r, who->login, &c->me);

	if (rc == SUIDO_ERR_NOTFOUND || (rc == SUIDO_OK && strcmp(c->me.tenant, who->tenant) != 0)) {
		fail(c, 401, "unauthorized", "The signed-in user is not known; sign in again.");
		http_response_header(c->out, "WWW-Authenticate", "Bearer realm=\"suido\"");
		return -1;
	}
	if (rc == SUIDO_OK)
		rc = registry_tenant_get(c->a->r, c->me.tenant, &t);
	if (rc != SUIDO_OK) {
		reg_fail(c, rc, NULL, "the signed-in user");
		return -1;
	}
	c->tkind = t.kind;
	if (c->me.disabled) {
		refuse(c, "This account is disabled.");
		return -1;
	}
	return 0;
}

void admin_handle(struct admin *a, const struct admin_principal *who,
		  const struct http_request *rq, struct http_response *out)
{
	struct call *c;
	const char *s0;

	if (!who) {
		http_error(out, 401, "unauthorized", "Authentication is required.");
		http_response_header(out, "WWW-Authenticate", "Bearer realm=\"suido\"");
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		http_error(out, 503, "unavailable", "The platform is out of memory; try again.");
		return;
	}
	c->a = a;
	c->rq = rq;
	c->out = out;
	c->m = method_of(rq->method);
	c->op = who->kind == ADMIN_OPERATOR;
	if (c->op)
		snprintf(c->actor, sizeof c->actor, "operator");
	else
		snprintf(c->actor, sizeof c->actor, "user:%s", who->login);
	if (c->m == M_OTHER) {
		fail(c, 405, "method_not_allowed", "Unsupported method.");
		http_response_header(out, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
		goto done;
	}
	if (split_path(c) != 0)
		goto done;
	if (!c->op && load_user(c, who) != 0)
		goto done;
	s0 = c->seg[0];
	if (strcmp(s0, "me") == 0) {
		me(c);
		goto done;
	}
	if (strcmp(s0, "tenants") != 0 && strcmp(s0, "links") != 0 &&
	    strcmp(s0, "applications") != 0 && strcmp(s0, "grants") != 0 &&
	    strcmp(s0, "utilities") != 0 && strcmp(s0, "users") != 0 && strcmp(s0, "audit") != 0 &&
	    strcmp(s0, "gateways") != 0) {
		fail(c, 404, "not_found", "No such admin resource.");
		goto done;
	}
	if (!is_admin(c)) {
		refuse(c, "A general user may reach only /admin/v1/me.");
		goto done;
	}
	if (strcmp(s0, "tenants") == 0 && c->nseg <= 2)
		tenants(c);
	else if (strcmp(s0, "links") == 0)
		links(c);
	else if (strcmp(s0, "applications") == 0 && c->nseg <= 3)
		applications(c);
	else if ((strcmp(s0, "grants") == 0 && c->nseg == 1) ||
		 (strcmp(s0, "utilities") == 0 && c->nseg == 4 && strcmp(c->seg[2], "grants") == 0))
		grants(c);
	else if (strcmp(s0, "users") == 0 && c->nseg <= 3)
		users(c);
	else if (strcmp(s0, "audit") == 0)
		audit(c);
	else if (strcmp(s0, "gateways") == 0 && c->nseg <= 2)
		gateways(c);
	else
		fail(c, 404, "not_found", "No such admin resource.");
done:
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}
