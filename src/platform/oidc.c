/*
 * The OpenID Connect provider (oidc.h). Endpoints:
 *   GET  /.well-known/openid-configuration   discovery
 *   GET  /oidc/jwks                          the published signing keys
 *   GET  /oidc/authorize                     validates the request, then the sign-in page
 *                                            (or a code at once for a live session)
 *   POST /oidc/authorize                     the sign-in form: password, TOTP, first-login
 *                                            password change; then a code
 *   POST /oidc/token                         authorization_code (+PKCE S256), refresh_token
 *                                            (rotation), client_credentials
 *   GET|POST /oidc/userinfo                  claims of the signed-in user
 *   POST /oidc/revoke                        RFC 7009
 *   GET|POST /oidc/logout                    end session (RP-initiated logout)
 * Errors follow RFC 6749 5.2 at the token endpoint, RFC 6749 4.1.2.1 by
 * redirect once the client and redirect URI are known, and a page before.
 */
#include "oidc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "signin.h"
#include "suido/b64url.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"

#define KEY_BITS 2048
#define KEY_FILE_MAX (64u * 1024u)
#define KIDS_MAX 64                /* key files considered in keys_dir */
#define LEEWAY_S 30                /* clock skew allowed on exp / nbf / iat */
#define PENDING_TTL_S 600          /* first factor's proof for the password change */
#define LOGIN_COOKIE "__Host-suido_login"
#define LOGIN_COOKIE_AGE_S 3600
#define HTML_TYPE "text/html; charset=utf-8"
#define URI_MAX 1024
#define STATE_MAX 512
#define FIELD_MAX 1024
#define SCOPES_SUPPORTED "openid profile email phone ap.read"

struct oidc {
	struct oidc_config c;
	char issuer[OIDC_ISSUER_MAX];
	char audience[OIDC_ISSUER_MAX + 16];
	char keys_dir[512];
	int external;
	pthread_rwlock_t lock;      /* guards current and published */
	pthread_mutex_t rotating;   /* one rotation at a time */
	struct jwt_key *current;    /* signs (NULL with an external issuer) */
	struct jwt_key *previous;   /* still published */
	struct jwt_keyset *published;
	struct session_table *sessions;
	struct lockout *lockout;
	unsigned char pending_key[32];
};

void oidc_config_defaults(struct oidc_config *c)
{
	memset(c, 0, sizeof *c);
	c->rotate_s = 30u * 86400u;
	c->access_ttl_s = 300;
	c->id_ttl_s = 300;
	c->refresh_ttl_s = 30u * 86400u;
	c->code_ttl_s = 60;
	session_config_defaults(&c->sessions);
	lockout_policy_defaults(&c->lockout);
	password_policy_defaults(&c->policy);
}

int oidc_owns(const char *path, size_t len)
{
	static const char wk[] = "/.well-known/openid-configuration";
	return (len == sizeof wk - 1 && memcmp(path, wk, len) == 0) ||
	       (len > 6 && memcmp(path, "/oidc/", 6) == 0);
}

int oidc_is_admin_client(const struct oidc *o, const char *client)
{
	return client && *client && oidc_scope_has(o->c.admin_clients, client);
}

int oidc_scope_has(const char *scope, const char *s)
{
	size_t n = strlen(s);

	while (scope && *scope) {
		size_t w;
		while (*scope == ' ')
			scope++;
		w = strcspn(scope, " ");
		if (w == n && memcmp(scope, s, n) == 0)
			return 1;
		scope += w;
	}
	return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static void random_b64(char *out, size_t outlen, size_t bytes)
{
	unsigned char raw[48];

	if (bytes > sizeof raw || RAND_bytes(raw, (int)bytes) != 1)
		fatal("oidc", "the random generator failed");
	if (b64url_encode(raw, bytes, out, outlen) == 0)
		fatal("oidc", "random buffer too small");
	OPENSSL_cleanse(raw, sizeof raw);
}

/* Appends s percent-encoded (everything but RFC 3986 unreserved). */
static void pct_encode(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			strbuf_putc(sb, (char)c);
		} else {
			strbuf_putc(sb, '%');
			strbuf_putc(sb, hex[c >> 4]);
			strbuf_putc(sb, hex[c & 15]);
		}
	}
}

/* A form field from the query (GET) or body (POST); "" when absent.
 * Returns 0, or -1 when present but unusable (twice, bad encoding, too long). */
static int field_get(const struct http_request *rq, const char *name, char *out, size_t outlen)
{
	int rc;

	if (strcmp(rq->method, "POST") == 0)
		rc = http_form_get(rq->body, rq->body_len, name, out, outlen);
	else
		rc = http_form_get(rq->query, strlen(rq->query), name, out, outlen);
	if (rc == SUIDO_ERR_NOTFOUND) {
		out[0] = '\0';
		return 0;
	}
	return rc == SUIDO_OK ? 0 : -1;
}

static void json_reply(struct http_response *out, unsigned status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	out->status = status;
	out->ctype = NULL;
	if (s) {
		strbuf_puts(&out->body, s);
		free(s);
	} else {
		http_error(out, 500, "internal", "Out of memory.");
	}
	json_decref(j);
}

/* RFC 6749 5.2 error at the token, revocation and userinfo endpoints. */
static void oauth_error(struct http_response *out, unsigned status, const char *code,
			const char *desc)
{
	json_reply(out, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
	if (status == 401)
		http_response_header(out, "WWW-Authenticate", "Basic realm=\"suido\"");
}

static void page(struct http_response *out, unsigned status)
{
	out->status = status;
	out->ctype = HTML_TYPE;
	http_response_header(out, "Content-Security-Policy",
			     /* no form-action: Chromium applies it to the redirect that
			      * follows the sign-in POST, i.e. to the client's address */
			     "default-src 'none'; style-src 'unsafe-inline'; "
			     "frame-ancestors 'none'; base-uri 'none'");
	http_response_header(out, "X-Frame-Options", "DENY");
	http_response_header(out, "Referrer-Policy", "no-referrer");
}

static void message_page(struct http_response *out, unsigned status, enum signin_lang l,
			 const char *title, const char *msg)
{
	strbuf_reset(&out->body);
	signin_message_page(&out->body, l, title, msg);
	page(out, status);
}

/* ---- signing keys ------------------------------------------------------- */

/* The creation time of a kid "kYYYYMMDDhhmmss-xxxx" (seconds), or 0. */
static int64_t kid_time(const char *kid)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof tm);
	if (kid[0] != 'k' || strlen(kid) < 15)
		return 0;
	end = strptime(kid + 1, "%Y%m%d%H%M%S", &tm);
	if (!end || end != kid + 15)
		return 0;
	return (int64_t)timegm(&tm);
}

static int kid_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int key_load(struct oidc *o, const char *kid, struct jwt_key **out, char *err,
		    size_t errlen)
{
	char name[JWT_KID_MAX + 8], *pem = NULL;
	size_t len = 0;
	int rc;

	snprintf(name, sizeof name, "%s.pem", kid);
	rc = fsutil_read_file(o->keys_dir, name, KEY_FILE_MAX, &pem, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = jwt_key_from_pem(kid, pem, len, out, err, errlen);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

static int key_make(struct oidc *o, uint64_t now_ms, struct jwt_key **out, char *err,
		    size_t errlen)
{
	char kid[JWT_KID_MAX], name[JWT_KID_MAX + 8], *pem = NULL;
	unsigned char r[2];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	int rc;
	mode_t old;

	gmtime_r(&t, &tm);
	if (RAND_bytes(r, 2) != 1)
		fatal("oidc", "the random generator failed");
	strftime(kid, sizeof kid, "k%Y%m%d%H%M%S", &tm);
	snprintf(kid + strlen(kid), sizeof kid - strlen(kid), "-%02x%02x", r[0], r[1]);
	rc = jwt_key_generate(kid, KEY_BITS, out);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, "cannot make a signing key: %s", suido_strerror(rc));
		return rc;
	}
	rc = jwt_key_private_pem(*out, &pem);
	if (rc == SUIDO_OK) {
		snprintf(name, sizeof name, "%s.pem", kid);
		old = umask(077);
		rc = fsutil_write_atomic(o->keys_dir, name, pem, strlen(pem), err, errlen);
		umask(old);
		jwt_pem_free(pem);
	}
	if (rc != SUIDO_OK) {
		jwt_key_free(*out);
		*out = NULL;
		return rc;
	}
	log_info("oidc", "new signing key %s", kid);
	return SUIDO_OK;
}

/* The kids of keys_dir, sorted (oldest first); returns the count. */
static size_t list_kids(const char *dir, char *kids[KIDS_MAX])
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL && n < KIDS_MAX) {
		size_t len = strlen(e->d_name);
		if (len < 5 || len - 4 >= JWT_KID_MAX || strcmp(e->d_name + len - 4, ".pem") != 0 ||
		    kid_time(e->d_name) == 0)
			continue;
		kids[n] = strndup(e->d_name, len - 4);
		if (kids[n])
			n++;
	}
	closedir(d);
	qsort(kids, n, sizeof *kids, kid_cmp);
	return n;
}

/* Publishes current (and previous): a fresh keyset swapped in under the lock. */
static int publish(struct oidc *o, struct jwt_key *current, struct jwt_key *previous)
{
	struct jwt_keyset *ks = NULL;
	int rc = jwt_keyset_create(&ks);

	if (rc == SUIDO_OK)
		rc = jwt_keyset_add(ks, current);
	if (rc == SUIDO_OK && previous)
		rc = jwt_keyset_add(ks, previous);
	if (rc != SUIDO_OK) {
		jwt_keyset_free(ks);
		return rc;
	}
	pthread_rwlock_wrlock(&o->lock);
	jwt_key_free(o->previous);
	if (o->current != previous)
		jwt_key_free(o->current);
	jwt_keyset_free(o->published);
	o->current = current;
	o->previous = previous;
	o->published = ks;
	pthread_rwlock_unlock(&o->lock);
	return SUIDO_OK;
}

/* Removes key files older than the two published. */
static void retire(struct oidc *o)
{
	char *kids[KIDS_MAX];
	size_t n = list_kids(o->keys_dir, kids);

	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n) {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s.pem", o->keys_dir, kids[i]);
			if (unlink(path) == 0)
				log_info("oidc", "signing key %s retired", kids[i]);
		}
		free(kids[i]);
	}
}

static int keys_start(struct oidc *o, uint64_t now_ms, char *err, size_t errlen)
{
	char *kids[KIDS_MAX];
	size_t n;
	struct jwt_key *cur = NULL, *prev = NULL;
	int rc;

	rc = fsutil_mkdirs(o->keys_dir, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	chmod(o->keys_dir, 0700);
	n = list_kids(o->keys_dir, kids);
	rc = SUIDO_OK;
	if (n > 0 && (int64_t)(now_ms / 1000) - kid_time(kids[n - 1]) < (int64_t)o->c.rotate_s) {
		rc = key_load(o, kids[n - 1], &cur, err, errlen);
		if (rc == SUIDO_OK && n > 1 && key_load(o, kids[n - 2], &prev, NULL, 0) != SUIDO_OK)
			prev = NULL;
	} else {
		if (n > 0 && key_load(o, kids[n - 1], &prev, NULL, 0) != SUIDO_OK)
			prev = NULL;
		rc = key_make(o, now_ms, &cur, err, errlen);
	}
	for (size_t i = 0; i < n; i++)
		free(kids[i]);
	if (rc == SUIDO_OK)
		rc = publish(o, cur, prev);
	if (rc != SUIDO_OK) {
		jwt_key_free(cur);
		jwt_key_free(prev);
		return rc;
	}
	retire(o);
	return SUIDO_OK;
}

int oidc_rotate(struct oidc *o, uint64_t now_ms, char *err, size_t errlen)
{
	struct jwt_key *cur = NULL;
	int rc;

	if (o->external) {
		suido_errf(err, errlen, "the tokens come from an external issuer");
		return SUIDO_ERR_CONFIG;
	}
	pthread_mutex_lock(&o->rotating);
	rc = key_make(o, now_ms, &cur, err, errlen);
	/* the current key becomes the previous one; publish() frees the old
	 * previous under the lock (o->current only changes here, one rotation at
	 * a time, and at start) */
	if (rc == SUIDO_OK && (rc = publish(o, cur, o->current)) != SUIDO_OK)
		jwt_key_free(cur);
	if (rc == SUIDO_OK)
		retire(o);
	pthread_mutex_unlock(&o->rotating);
	return rc;
}

static int external_start(struct oidc *o, char *err, size_t errlen)
{
	char *doc = NULL;
	size_t len = 0;
	int rc = fsutil_read_path(o->c.external_jwks, JWKS_MAX_BYTES, &doc, &len, err, errlen);

	if (rc != SUIDO_OK)
		return rc;
	rc = jwt_keyset_from_jwks(doc, len, &o->published, err, errlen);
	free(doc);
	return rc;
}

int oidc_create(const struct oidc_config *c, uint64_t now_ms, struct oidc **out, char *err,
		size_t errlen)
{
	struct oidc *o = calloc(1, sizeof *o);
	int rc;

	*out = NULL;
	if (!o)
		return SUIDO_ERR_NOMEM;
	o->c = *c;
	pthread_rwlock_init(&o->lock, NULL);
	pthread_mutex_init(&o->rotating, NULL);
	o->external = c->external_issuer != NULL;
	rc = SUIDO_ERR_CONFIG;
	if (snprintf(o->issuer, sizeof o->issuer, "%s",
		     o->external ? c->external_issuer : c->issuer ? c->issuer : "") >=
		    (int)sizeof o->issuer ||
	    !o->issuer[0]) {
		suido_errf(err, errlen, "[oidc] issuer is missing or too long");
		goto fail;
	}
	if (c->audience)
		snprintf(o->audience, sizeof o->audience, "%s", c->audience);
	else
		snprintf(o->audience, sizeof o->audience, "%s/ap/v1", o->issuer);
	if (RAND_bytes(o->pending_key, sizeof o->pending_key) != 1)
		fatal("oidc", "the random generator failed");
	if (o->external) {
		if (!c->external_jwks) {
			suido_errf(err, errlen, "[oidc] external_jwks is required with external_issuer");
			goto fail;
		}
		rc = external_start(o, err, errlen);
		if (rc != SUIDO_OK)
			goto fail;
		*out = o;
		return SUIDO_OK;
	}
	if (!c->registry || !c->keys_dir ||
	    snprintf(o->keys_dir, sizeof o->keys_dir, "%s", c->keys_dir) >= (int)sizeof o->keys_dir) {
		suido_errf(err, errlen, "[oidc] keys_dir is missing or too long");
		goto fail;
	}
	rc = session_table_create(&c->sessions, NULL, &o->sessions);
	if (rc == SUIDO_OK)
		rc = lockout_create(&c->lockout, &o->lockout);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, "[oidc] session or lockout settings: %s", suido_strerror(rc));
		goto fail;
	}
	rc = keys_start(o, now_ms, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	*out = o;
	return SUIDO_OK;
fail:
	oidc_free(o);
	return rc;
}

void oidc_free(struct oidc *o)
{
	if (!o)
		return;
	jwt_key_free(o->current);
	jwt_key_free(o->previous);
	jwt_keyset_free(o->published);
	session_table_free(o->sessions);
	lockout_free(o->lockout);
	OPENSSL_cleanse(o->pending_key, sizeof o->pending_key);
	pthread_rwlock_destroy(&o->lock);
	pthread_mutex_destroy(&o->rotating);
	free(o);
}

/* Signs claims with the current key (consumes claims). */
static int sign(struct oidc *o, const char *typ, json_t *claims, char **tok)
{
	int rc;

	pthread_rwlock_rdlock(&o->lock);
	rc = jwt_sign(o->current, typ, claims, tok);
	pthread_rwlock_unlock(&o->lock);
	json_decref(claims);
	return rc;
}

/* ---- tokens ----------------------------------------------------------- */

static int mint_access(struct oidc *o, const char *client, const struct reg_user *u,
		       const char *scope, int64_t auth_time_ms, uint64_t now_ms, char **tok)
{
	char jti[32];
	int64_t now = (int64_t)(now_ms / 1000);
	json_t *c;

	random_b64(jti, sizeof jti, 16);
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", o->issuer, "aud",
		      o->audience, "sub", u ? u->login : client, "client_id", client, "iat",
		      (json_int_t)now, "nbf", (json_int_t)now, "exp",
		      (json_int_t)(now + (int64_t)o->c.access_ttl_s), "jti", jti, "scope", scope);
	if (!c)
		return SUIDO_ERR_NOMEM;
	if (u) {
		json_object_set_new(c, "tenant", json_string(u->tenant));
		json_object_set_new(c, "auth_time", json_integer(auth_time_ms / 1000));
	}
	return sign(o, "at+jwt", c, tok);
}

static int mint_id(struct oidc *o, const char *client, const struct reg_user *u,
		   const char *nonce, int64_t auth_time_ms, const char *access, uint64_t now_ms,
		   char **tok)
{
	char at_hash[JWT_HALF_HASH_TEXT];
	int64_t now = (int64_t)(now_ms / 1000);
	json_t *c;

	if (jwt_half_hash(access, strlen(access), at_hash) != SUIDO_OK)
		return SUIDO_ERR_NOMEM;
	c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", o->issuer, "sub",
		      u->login, "aud", client, "iat", (json_int_t)now, "exp",
		      (json_int_t)(now + (int64_t)o->c.id_ttl_s), "auth_time",
		      (json_int_t)(auth_time_ms / 1000), "azp", client, "at_hash", at_hash);
	if (!c)
		return SUIDO_ERR_NOMEM;
	if (nonce && *nonce)
		json_object_set_new(c, "nonce", json_string(nonce));
	return sign(o, "JWT", c, tok);
}

enum oidc_refusal oidc_check_access_token(struct oidc *o, const char *tok, size_t len,
					  uint64_t now_ms, struct oidc_principal *p,
					  enum jwt_reason *why)
{
	struct jwt_expect e = { .issuer = o->issuer, .audience = o->audience,
				.typ = o->external ? NULL : "at+jwt",
				.now = (int64_t)(now_ms / 1000), .leeway = LEEWAY_S };
	json_t *claims = NULL, *v;
	const char *client = NULL, *sub, *scope;
	struct reg_app app;
	int rc;

	memset(p, 0, sizeof *p);
	*why = JWT_VALID;
	pthread_rwlock_rdlock(&o->lock);
	rc = jwt_verify(o->published, tok, len, &e, &claims, why);
	pthread_rwlock_unlock(&o->lock);
	if (rc != SUIDO_OK)
		return OIDC_TOKEN_INVALID;
	v = json_object_get(claims, "client_id");
	if (!json_is_string(v))
		v = json_object_get(claims, "azp");
	if (json_is_string(v))
		client = json_string_value(v);
	if (!client || strlen(client) >= sizeof p->client) {
		json_decref(claims);
		return OIDC_TOKEN_NO_CLIENT;
	}
	snprintf(p->client, sizeof p->client, "%s", client);
	scope = json_string_value(json_object_get(claims, "scope"));
	if (scope && strlen(scope) >= sizeof p->scope) {
		/* cut short, "ap.readonly" could read as "ap.read" */
		json_decref(claims);
		*why = JWT_BAD_CLAIMS;
		return OIDC_TOKEN_INVALID;
	}
	snprintf(p->scope, sizeof p->scope, "%s", scope ? scope : "");
	sub = json_string_value(json_object_get(claims, "sub"));
	if (!o->external && json_is_string(json_object_get(claims, "tenant")) && sub &&
	    strlen(sub) < sizeof p->user)
		snprintf(p->user, sizeof p->user, "%s", sub);
	json_decref(claims);
	/* an external issuer's client too must be a registered, unrevoked
	 * application (docs/oidc.md): a revoked one is refused here, at once */
	if (registry_app_get(o->c.registry, p->client, &app) != SUIDO_OK || app.revoked)
		return OIDC_TOKEN_APP_REVOKED;
	if (p->user[0]) {
		struct reg_user u;
		if (registry_user_get(o->c.registry, p->user, &u) != SUIDO_OK || u.disabled)
			return OIDC_TOKEN_USER_DISABLED;
		snprintf(p->tenant, sizeof p->tenant, "%s", u.tenant);
	}
	return OIDC_TOKEN_OK;
}

/* ---- discovery and keys -------------------------------------------------- */

static void discovery(struct oidc *o, struct http_response *out)
{
	char ep[7][OIDC_ISSUER_MAX + 32];
	static const char *const names[7] = { "authorize", "token",  "userinfo", "jwks",
					      "revoke",    "logout", NULL };

	for (int i = 0; names[i]; i++)
		snprintf(ep[i], sizeof ep[i], "%s/oidc/%s", o->issuer, names[i]);
	json_reply(out, 200,
		   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s,s],"
			     " s:[s], s:[s], s:[s,s], s:[s], s:[s,s,s,s,s], s:b, s:[s,s],"
			     " s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s], s:b, s:[s,s]}",
			     "issuer", o->issuer, "authorization_endpoint", ep[0],
			     "token_endpoint", ep[1], "userinfo_endpoint", ep[2], "jwks_uri",
			     ep[3], "revocation_endpoint", ep[4], "end_session_endpoint", ep[5],
			     "response_types_supported", "code", "response_modes_supported",
			     "query", "grant_types_supported", "authorization_code",
			     "refresh_token", "client_credentials", "subject_types_supported",
			     "public", "id_token_signing_alg_values_supported", "RS256",
			     "token_endpoint_auth_methods_supported", "client_secret_basic",
			     "client_secret_post", "code_challenge_methods_supported", "S256",
			     "scopes_supported", "openid", "profile", "email", "phone", "ap.read",
			     "authorization_response_iss_parameter_supported", 1,
			     "ui_locales_supported", "ja", "en", "claims_supported", "iss", "sub",
			     "aud", "exp", "iat", "auth_time", "nonce", "name", "name#ja-Kana-JP",
			     "name#ja-Latn", "preferred_username", "email", "phone_number",
			     "tenant", "request_parameter_supported", 0,
			     "revocation_endpoint_auth_methods_supported", "client_secret_basic",
			     "client_secret_post"));
}

static void jwks(struct oidc *o, struct http_response *out)
{
	char *doc = NULL;
	int rc;

	pthread_rwlock_rdlock(&o->lock);
	rc = jwt_keyset_to_jwks(o->published, &doc);
	pthread_rwlock_unlock(&o->lock);
	if (rc != SUIDO_OK) {
		http_error(out, 500, "internal", "Out of memory.");
		return;
	}
	out->status = 200;
	out->ctype = "application/jwk-set+json";
	strbuf_puts(&out->body, doc);
	free(doc);
}

/* ---- client authentication ------------------------------------------------ */

/* Base64 (standard) decode of s into out; -1 when malformed or too long. */
static int b64_decode(const char *s, size_t n, char *out, size_t outlen)
{
	int len;
	size_t pad = 0;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= outlen)
		return -1;
	len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	len -= (int)pad;
	out[len] = '\0';
	return (memchr(out, '\0', (size_t)len) != NULL) ? -1 : len;
}

/*
 * Authenticates the client of a token or revocation request: HTTP Basic
 * (RFC 6749 2.3.1, both parts form-urlencoded) or client_id and
 * client_secret in the body, never both. Writes client; returns 0, or -1
 * after answering 401 invalid_client (400 invalid_request when malformed).
 */
static int client_auth(struct oidc *o, const struct http_request *rq, struct http_response *out,
		       char client[REG_ID_MAX])
{
	char secret[256] = "", body_id[REG_ID_MAX] = "", body_secret[256] = "";
	int in_body = 0, rc = 0;

	if (http_form_get(rq->body, rq->body_len, "client_id", body_id, sizeof body_id) ==
	    SUIDO_OK)
		in_body = 1;
	if (http_form_get(rq->body, rq->body_len, "client_secret", body_secret,
			  sizeof body_secret) == SUIDO_OK)
		in_body |= 2;
	if (rq->authorization && strncasecmp(rq->authorization, "Basic ", 6) == 0) {
		char dec[600], *colon;
		const char *b = rq->authorization + 6;
		while (*b == ' ')
			b++;
		if ((in_body & 2) || b64_decode(b, strlen(b), dec, sizeof dec) < 0 ||
		    !(colon = strchr(dec, ':'))) {
			oauth_error(out, 400, "invalid_request", "Malformed client authentication.");
			return -1;
		}
		*colon = '\0';
		if (http_segment_decode(dec, strlen(dec), client, REG_ID_MAX) != SUIDO_OK ||
		    http_segment_decode(colon + 1, strlen(colon + 1), secret, sizeof secret) !=
			    SUIDO_OK ||
		    ((in_body & 1) && strcmp(body_id, client) != 0))
			rc = -1;
		OPENSSL_cleanse(dec, sizeof dec);
	} else if (in_body == 3) {
		snprintf(client, REG_ID_MAX, "%s", body_id);
		snprintf(secret, sizeof secret, "%s", body_secret);
	} else {
		rc = -1;
	}
	if (rc == 0 && registry_app_authenticate(o->c.registry, client, secret) != SUIDO_OK)
		rc = -1;
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(body_secret, sizeof body_secret);
	if (rc != 0)
		oauth_error(out, 401, "invalid_client", "Client authentication failed.");
	return rc;
}

/* ---- the authorization endpoint ------------------------------------------ */

struct authz {
	char client_id[REG_ID_MAX];
	char redirect_uri[URI_MAX];
	char response_type[32];
	char scope[OIDC_SCOPE_MAX];
	char state[STATE_MAX];
	char nonce[256];
	char code_challenge[64];
	char code_challenge_method[16];
	char ui_locales[64];
	char prompt[32];
};

static struct signin_request as_form(const struct authz *a)
{
	struct signin_request f = { a->client_id,      a->redirect_uri,
				    a->response_type,  a->scope,
				    a->state,          a->nonce,
				    a->code_challenge, a->code_challenge_method,
				    a->ui_locales };
	return f;
}

/* Redirects to the client: code or error, state and iss (RFC 9207). */
static void redirect(struct oidc *o, struct http_response *out, const struct authz *a,
		     const char *code, const char *error, const char *desc)
{
	struct strbuf sb = STRBUF_INIT;

	sb.limit = 4096;
	strbuf_puts(&sb, a->redirect_uri);
	strbuf_putc(&sb, strchr(a->redirect_uri, '?') ? '&' : '?');
	if (code) {
		strbuf_puts(&sb, "code=");
		pct_encode(&sb, code);
	} else {
		strbuf_puts(&sb, "error=");
		pct_encode(&sb, error);
		strbuf_puts(&sb, "&error_description=");
		pct_encode(&sb, desc);
	}
	if (a->state[0]) {
		strbuf_puts(&sb, "&state=");
		pct_encode(&sb, a->state);
	}
	strbuf_puts(&sb, "&iss=");
	pct_encode(&sb, o->issuer);
	if (sb.failed || http_response_header(out, "Location", "%s", sb.data) != SUIDO_OK) {
		http_error(out, 500, "internal", "The redirect does not fit.");
	} else {
		out->status = 303;
		out->ctype = HTML_TYPE;
	}
	strbuf_free(&sb);
}

static int b64url_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/*
 * Reads and validates an authorization request. Returns 0 when valid; 1
 * after answering with an error page (client or redirect URI unusable: never
 * redirect to an unchecked URI); 2 after redirecting an error to the client.
 */
static int authz_read(struct oidc *o, const struct http_request *rq, struct http_response *out,
		      enum signin_lang l, struct authz *a)
{
	struct reg_app app;
	char requested[OIDC_SCOPE_MAX];
	const char *s;

	memset(a, 0, sizeof *a);
	if (field_get(rq, "client_id", a->client_id, sizeof a->client_id) ||
	    field_get(rq, "redirect_uri", a->redirect_uri, sizeof a->redirect_uri) ||
	    !a->client_id[0] || !a->redirect_uri[0] ||
	    registry_app_get(o->c.registry, a->client_id, &app) != SUIDO_OK || app.revoked ||
	    !registry_app_redirect_ok(o->c.registry, a->client_id, a->redirect_uri)) {
		message_page(out, 400, l, l == SIGNIN_EN ? "Request refused" : "要求を受け付けられません",
			     l == SIGNIN_EN ? "The application or its return address is not registered "
					      "(client_id / redirect_uri)."
					    : "アプリケーションまたは戻り先アドレスが登録されていません"
					      "（client_id / redirect_uri）。");
		return 1;
	}
	if (field_get(rq, "response_type", a->response_type, sizeof a->response_type) ||
	    field_get(rq, "scope", requested, sizeof requested) ||
	    field_get(rq, "state", a->state, sizeof a->state) ||
	    field_get(rq, "nonce", a->nonce, sizeof a->nonce) ||
	    field_get(rq, "code_challenge", a->code_challenge, sizeof a->code_challenge) ||
	    field_get(rq, "code_challenge_method", a->code_challenge_method,
		      sizeof a->code_challenge_method) ||
	    field_get(rq, "ui_locales", a->ui_locales, sizeof a->ui_locales) ||
	    field_get(rq, "prompt", a->prompt, sizeof a->prompt)) {
		redirect(o, out, a, NULL, "invalid_request",
			 "A parameter is repeated, badly encoded or too long.");
		return 2;
	}
	if (strcmp(a->response_type, "code") != 0) {
		redirect(o, out, a, NULL, "unsupported_response_type",
			 "Only the authorization code flow (response_type=code) is supported.");
		return 2;
	}
	if (!a->code_challenge[0] || strcmp(a->code_challenge_method, "S256") != 0 ||
	    !b64url_chars(a->code_challenge, 43, 43)) {
		redirect(o, out, a, NULL, "invalid_request",
			 "PKCE is required: code_challenge (43 characters) with "
			 "code_challenge_method=S256.");
		return 2;
	}
	/* the scope granted: the supported scopes asked for, in our order */
	for (s = SCOPES_SUPPORTED; *s;) {
		size_t w = strcspn(s, " ");
		char one[32];
		snprintf(one, sizeof one, "%.*s", (int)w, s);
		if (oidc_scope_has(requested, one)) {
			if (a->scope[0])
				strncat(a->scope, " ", sizeof a->scope - strlen(a->scope) - 1);
			strncat(a->scope, one, sizeof a->scope - strlen(a->scope) - 1);
		}
		s += w;
		while (*s == ' ')
			s++;
	}
	if (!a->scope[0]) {
		redirect(o, out, a, NULL, "invalid_scope", "No supported scope was asked for.");
		return 2;
	}
	return 0;
}

/* May client have a code for login? A first-party admin client may; any
 * other only for a user of a utility that granted it, or of its own vendor
 * (the utility's grant is the consent). */
static int entitled(struct oidc *o, const char *client, const char *login)
{
	struct reg_user u;
	struct reg_tenant t;
	struct reg_app app;
	struct reg_grant *g;
	int ok;

	if (oidc_is_admin_client(o, client))
		return 1;
	if (registry_user_get(o->c.registry, login, &u) != SUIDO_OK ||
	    registry_tenant_get(o->c.registry, u.tenant, &t) != SUIDO_OK ||
	    registry_app_get(o->c.registry, client, &app) != SUIDO_OK || app.revoked)
		return 0;
	if (t.kind == REG_VENDOR)
		return strcmp(app.vendor, u.tenant) == 0;
	if (t.kind != REG_UTILITY || !(g = malloc(sizeof *g)))
		return 0;
	ok = registry_grant_get(o->c.registry, client, u.tenant, g) == SUIDO_OK;
	free(g);
	return ok;
}

/* Issues a code for login and redirects to the client. */
static void issue_code(struct oidc *o, struct http_response *out, const struct authz *a,
		       const char *login, int64_t auth_time_ms, uint64_t now_ms)
{
	struct reg_code c;
	char code[64];

	if (!entitled(o, a->client_id, login)) {
		log_info("oidc", "no code for %s: %s holds no grant of the user's utility",
			 login, a->client_id);
		redirect(o, out, a, NULL, "access_denied",
			 "The user's utility has not granted this application access.");
		return;
	}

	memset(&c, 0, sizeof c);
	snprintf(c.client, sizeof c.client, "%s", a->client_id);
	snprintf(c.login, sizeof c.login, "%s", login);
	snprintf(c.redirect_uri, sizeof c.redirect_uri, "%s", a->redirect_uri);
	snprintf(c.challenge, sizeof c.challenge, "%s", a->code_challenge);
	snprintf(c.nonce, sizeof c.nonce, "%s", a->nonce);
	snprintf(c.scope, sizeof c.scope, "%s", a->scope);
	c.auth_time_ms = auth_time_ms;
	c.expires_ms = (int64_t)(now_ms + o->c.code_ttl_s * 1000);
	random_b64(code, sizeof code, 32);
	if (registry_code_put(o->c.registry, code, &c, NULL, 0) != SUIDO_OK) {
		redirect(o, out, a, NULL, "server_error", "The code could not be stored.");
	} else {
		redirect(o, out, a, code, NULL, NULL);
	}
	OPENSSL_cleanse(code, sizeof code);
}

/* The sign-in form with a fresh pre-session cookie binding its CSRF token. */
static void show_signin(struct oidc *o, struct http_response *out, enum signin_lang l,
			const struct authz *a, const char *login, const char *error,
			unsigned status)
{
	char pre[SESSION_ID_TEXT], csrf[SESSION_CSRF_TEXT], cookie[SESSION_COOKIE_MAX];
	struct signin_request f = as_form(a);

	random_b64(pre, sizeof pre, SESSION_ID_BYTES);
	session_csrf_token(o->sessions, pre, csrf);
	session_cookie_format_named(LOGIN_COOKIE, pre, LOGIN_COOKIE_AGE_S, cookie, sizeof cookie);
	strbuf_reset(&out->body);
	signin_page(&out->body, l, "/oidc/authorize", &f, csrf, login, error);
	page(out, status);
	http_response_header(out, "Set-Cookie", "%s", cookie);
	OPENSSL_cleanse(pre, sizeof pre);
}

/* The proof of a passed first factor for the password change:
 * "<login>.<exp>.<b64url HMAC>", the HMAC over the login, the expiry, this
 * browser's pre-session cookie, the client, and the moment the one-time
 * password was set: replayed from another browser, for another client, or
 * once the password has changed, it no longer verifies. */
static void pending_mac(struct oidc *o, const char *login, uint64_t exp, const char *pre,
			const char *client, int64_t pw_set_ms, char *out, size_t outlen)
{
	unsigned char mac[32];
	char msg[REG_ID_MAX * 2 + SESSION_ID_TEXT + 64], b64[48];
	size_t maclen = 0;

	snprintf(msg, sizeof msg, "%s|%" PRIu64 "|%s|%s|%" PRId64, login, exp, pre, client,
		 pw_set_ms);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, o->pending_key, sizeof o->pending_key,
		       (const unsigned char *)msg, strlen(msg), mac, sizeof mac, &maclen))
		fatal("oidc", "HMAC failed");
	b64url_encode(mac, sizeof mac, b64, sizeof b64);
	snprintf(out, outlen, "%s.%" PRIu64 ".%s", login, exp, b64);
	OPENSSL_cleanse(msg, sizeof msg);
}

static void pending_make(struct oidc *o, const struct reg_user *u, const char *pre,
			 const char *client, uint64_t now_ms, char *out, size_t outlen)
{
	pending_mac(o, u->login, now_ms / 1000 + PENDING_TTL_S, pre, client, u->password_set_ms,
		    out, outlen);
}

/* The login a pending proof vouches for (0), or -1; the user must still have
 * the one-time password it was made for, and be enabled. */
static int pending_check(struct oidc *o, const char *p, const char *pre, const char *client,
			 uint64_t now_ms, char login[REG_ID_MAX])
{
	const char *dot1 = strchr(p, '.'), *dot2;
	char want[REG_ID_MAX * 2 + 128];
	unsigned long long exp;
	struct reg_user u;

	if (!dot1 || (size_t)(dot1 - p) >= REG_ID_MAX)
		return -1;
	dot2 = strchr(dot1 + 1, '.');
	if (!dot2)
		return -1;
	exp = strtoull(dot1 + 1, NULL, 10);
	snprintf(login, REG_ID_MAX, "%.*s", (int)(dot1 - p), p);
	if (registry_user_get(o->c.registry, login, &u) != SUIDO_OK || !u.must_change ||
	    u.disabled)
		return -1;
	pending_mac(o, login, exp, pre, client, u.password_set_ms, want, sizeof want);
	if (strlen(want) != strlen(p) || CRYPTO_memcmp(want, p, strlen(p)) != 0 ||
	    exp < now_ms / 1000)
		return -1;
	return 0;
}

/* A session cookie's user, when the session is live. */
static int live_session(struct oidc *o, const struct http_request *rq, struct session_info *si)
{
	char id[SESSION_ID_TEXT];
	int rc;

	if (!rq->cookie || session_cookie_parse(rq->cookie, strlen(rq->cookie), id) != SUIDO_OK)
		return 0;
	rc = session_touch(o->sessions, id, rq->now_ms, si);
	OPENSSL_cleanse(id, sizeof id);
	return rc == SUIDO_OK;
}

/* Completes a sign-in: a new session (new id, cookie) and a code. */
static void signed_in(struct oidc *o, const struct http_request *rq, struct http_response *out,
		      const struct authz *a, const char *login)
{
	char id[SESSION_ID_TEXT], cookie[SESSION_COOKIE_MAX];

	if (session_create(o->sessions, login, rq->now_ms, id) != SUIDO_OK) {
		redirect(o, out, a, NULL, "temporarily_unavailable", "Too many sessions.");
		return;
	}
	session_cookie_format(id, o->c.sessions.absolute_ms / 1000, cookie, sizeof cookie);
	OPENSSL_cleanse(id, sizeof id);
	issue_code(o, out, a, login, (int64_t)rq->now_ms, rq->now_ms);
	http_response_header(out, "Set-Cookie", "%s", cookie);
	session_cookie_format_named(LOGIN_COOKIE, NULL, 0, cookie, sizeof cookie);
	http_response_header(out, "Set-Cookie", "%s", cookie);
	OPENSSL_cleanse(cookie, sizeof cookie);
	log_info("oidc", "sign-in: %s for %s", login, a->client_id);
}

static void authorize_post(struct oidc *o, const struct http_request *rq,
			   struct http_response *out, enum signin_lang l, const struct authz *a)
{
	const int en = l == SIGNIN_EN;
	const char *bad = en ? "The login ID, password or one-time code is wrong."
			     : "ログインID、パスワードまたはワンタイムパスワードが正しくありません。";
	char pre[SESSION_ID_TEXT], csrf[SESSION_CSRF_TEXT + 8], login[REG_ID_MAX],
		account[REG_ID_MAX], password[PASSWORD_MAX_BYTES_CAP + 1], otp[32],
		pending[REG_ID_MAX + 128];
	uint64_t retry = 0;
	struct reg_user u;
	int must_change = 0, ok;

	/* CSRF: the token must match the pre-session cookie of this browser */
	if (!rq->cookie ||
	    session_cookie_parse_named(LOGIN_COOKIE, rq->cookie, strlen(rq->cookie), pre) !=
		    SUIDO_OK ||
	    field_get(rq, "csrf", csrf, sizeof csrf) ||
	    session_csrf_check(o->sessions, pre, csrf) != SUIDO_OK) {
		show_signin(o, out, l, a, NULL,
			    en ? "The form has expired. Please sign in again."
			       : "フォームの有効期限が切れました。もう一度サインインしてください。",
			    403);
		return;
	}
	if (field_get(rq, "pending", pending, sizeof pending) == 0 && pending[0]) {
		/* step 2: the password change after a one-time password */
		char p1[PASSWORD_MAX_BYTES_CAP + 1], p2[PASSWORD_MAX_BYTES_CAP + 1];
		int reason = 0, rc;
		struct signin_request f = as_form(a);
		if (pending_check(o, pending, pre, a->client_id, rq->now_ms, login) != 0) {
			show_signin(o, out, l, a, NULL,
				    en ? "The form has expired. Please sign in again."
				       : "フォームの有効期限が切れました。もう一度サインインしてください。",
				    403);
			return;
		}
		if (field_get(rq, "new_password", p1, sizeof p1) ||
		    field_get(rq, "new_password2", p2, sizeof p2) || strcmp(p1, p2) != 0) {
			rc = SUIDO_ERR_INVALID;
		} else {
			char actor[REG_ACTOR_MAX];
			snprintf(actor, sizeof actor, "user:%s", login);
			rc = registry_user_set_password(o->c.registry, actor, login, p1, strlen(p1),
							&o->c.policy, o->c.blocklist, &reason,
							rq->now_ms, NULL, 0);
		}
		OPENSSL_cleanse(p1, sizeof p1);
		OPENSSL_cleanse(p2, sizeof p2);
		if (rc != SUIDO_OK) {
			const char *why = rc == SUIDO_ERR_INVALID
						  ? (en ? "The two new passwords differ."
							: "新しいパスワードが一致しません。")
					  : rc == SUIDO_ERR_PERM
						  ? (en ? password_reason_en(reason)
							: password_reason_ja(reason))
						  : (en ? "The password could not be changed."
							: "パスワードを変更できませんでした。");
			strbuf_reset(&out->body);
			signin_change_page(&out->body, l, "/oidc/authorize", &f, csrf, pending, why);
			page(out, 200);
			return;
		}
		/* the registry revoked the user's refresh families with the change */
		session_revoke_user(o->sessions, login, NULL, NULL);
		signed_in(o, rq, out, a, login);
		return;
	}
	/* step 1: login ID, password, one-time code */
	if (field_get(rq, "login_id", login, sizeof login) || !login[0] ||
	    field_get(rq, "password", password, sizeof password) ||
	    field_get(rq, "otp", otp, sizeof otp)) {
		OPENSSL_cleanse(password, sizeof password);
		show_signin(o, out, l, a, NULL, bad, 200);
		return;
	}
	for (size_t i = 0; i <= strlen(login); i++)
		account[i] = (char)((login[i] >= 'A' && login[i] <= 'Z') ? login[i] + 32 : login[i]);
	/* throttled before any hashing */
	if (lockout_check(o->lockout, account, rq->source, rq->now_ms, &retry) != SUIDO_OK) {
		char msg[256];
		OPENSSL_cleanse(password, sizeof password);
		snprintf(msg, sizeof msg,
			 en ? "Too many attempts. Try again in %llu seconds."
			    : "試行回数が多すぎます。%llu 秒後にもう一度お試しください。",
			 (unsigned long long)((retry + 999) / 1000));
		show_signin(o, out, l, a, login, msg, 429);
		http_response_header(out, "Retry-After", "%llu",
				     (unsigned long long)((retry + 999) / 1000));
		return;
	}
	ok = registry_user_check_password(o->c.registry, account, password, strlen(password),
					  &must_change) == SUIDO_OK &&
	     registry_user_get(o->c.registry, account, &u) == SUIDO_OK;
	OPENSSL_cleanse(password, sizeof password);
	if (ok && (u.otp_required || u.totp_enrolled))
		ok = otp[0] && registry_totp_check(o->c.registry, account, otp, rq->now_ms) ==
				       SUIDO_OK;
	OPENSSL_cleanse(otp, sizeof otp);
	if (!ok) {
		lockout_failure(o->lockout, account, rq->source, rq->now_ms);
		log_info("oidc", "sign-in refused for a login ID from %s", rq->source);
		show_signin(o, out, l, a, login, bad, 200);
		return;
	}
	lockout_success(o->lockout, account, rq->source, rq->now_ms);
	if (must_change) {
		struct signin_request f = as_form(a);
		pending_make(o, &u, pre, a->client_id, rq->now_ms, pending, sizeof pending);
		strbuf_reset(&out->body);
		signin_change_page(&out->body, l, "/oidc/authorize", &f, csrf, pending, NULL);
		page(out, 200);
		return;
	}
	signed_in(o, rq, out, a, account);
}

static void authorize(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	char loc[64] = "";
	enum signin_lang l;
	struct authz a;
	struct session_info si;

	field_get(rq, "ui_locales", loc, sizeof loc);
	l = signin_lang_pick(loc, rq->accept_language);
	if (strcmp(rq->method, "POST") == 0 &&
	    !http_content_type_is(rq, "application/x-www-form-urlencoded")) {
		message_page(out, 415, l, "415", "application/x-www-form-urlencoded");
		return;
	}
	if (authz_read(o, rq, out, l, &a) != 0)
		return;
	if (strcmp(rq->method, "POST") == 0) {
		authorize_post(o, rq, out, l, &a);
		return;
	}
	if (strcmp(a.prompt, "login") != 0 && live_session(o, rq, &si)) {
		struct reg_user u;
		/* a password set after the session began (a reset by the operator, a
		 * change elsewhere) ends it, on every instance */
		if (registry_user_get(o->c.registry, si.user, &u) == SUIDO_OK && !u.disabled &&
		    !u.must_change && u.password_set_ms <= (int64_t)si.created_ms) {
			issue_code(o, out, &a, si.user, (int64_t)si.created_ms, rq->now_ms);
			return;
		}
	}
	if (strcmp(a.prompt, "none") == 0) {
		redirect(o, out, &a, NULL, "login_required", "No signed-in session.");
		return;
	}
	show_signin(o, out, l, &a, NULL, NULL, 200);
}

/* ---- the token endpoint --------------------------------------------------- */

static void token_answer(struct oidc *o, struct http_response *out, const char *client,
			 const struct reg_user *u, const char *scope, const char *nonce,
			 int64_t auth_time_ms, const char *family, const char *code,
			 uint64_t now_ms)
{
	char *access = NULL, *id = NULL, refresh[64] = "";
	json_t *j;

	if (mint_access(o, client, u, scope, auth_time_ms, now_ms, &access) != SUIDO_OK ||
	    (u && oidc_scope_has(scope, "openid") &&
	     mint_id(o, client, u, nonce, auth_time_ms, access, now_ms, &id) != SUIDO_OK)) {
		free(access);
		oauth_error(out, 500, "server_error", "The tokens could not be signed.");
		return;
	}
	if (u) {
		struct reg_refresh rt;
		memset(&rt, 0, sizeof rt);
		snprintf(rt.client, sizeof rt.client, "%s", client);
		snprintf(rt.login, sizeof rt.login, "%s", u->login);
		snprintf(rt.scope, sizeof rt.scope, "%s", scope);
		snprintf(rt.family, sizeof rt.family, "%s", family ? family : "");
		rt.auth_time_ms = auth_time_ms;
		rt.expires_ms = (int64_t)(now_ms + o->c.refresh_ttl_s * 1000);
		random_b64(refresh, sizeof refresh, 32);
		/* the code it came from: a second use of the code revokes the family */
		if (registry_refresh_put(o->c.registry, refresh, &rt, code, now_ms, NULL, 0) !=
		    SUIDO_OK) {
			free(access);
			free(id);
			oauth_error(out, 500, "server_error", "The refresh token could not be stored.");
			return;
		}
	}
	j = json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "Bearer",
		      "expires_in", (json_int_t)o->c.access_ttl_s, "scope", scope);
	if (j && id)
		json_object_set_new(j, "id_token", json_string(id));
	if (j && refresh[0])
		json_object_set_new(j, "refresh_token", json_string(refresh));
	OPENSSL_cleanse(refresh, sizeof refresh);
	free(access);
	free(id);
	json_reply(out, 200, j);
	http_response_header(out, "Pragma", "no-cache");
}

static void grant_code(struct oidc *o, const struct http_request *rq, struct http_response *out,
		       const char *client)
{
	char code[128], uri[URI_MAX], verifier[160], want[64];
	unsigned char md[32];
	struct reg_code c;
	struct reg_user u;

	if (field_get(rq, "code", code, sizeof code) || !code[0] ||
	    field_get(rq, "redirect_uri", uri, sizeof uri) ||
	    field_get(rq, "code_verifier", verifier, sizeof verifier)) {
		oauth_error(out, 400, "invalid_request", "code, redirect_uri and code_verifier are "
							 "required once each.");
		return;
	}
	if (registry_code_take(o->c.registry, code, rq->now_ms, &c) != SUIDO_OK) {
		OPENSSL_cleanse(code, sizeof code);
		oauth_error(out, 400, "invalid_grant", "The code is unknown, used or expired.");
		return;
	}
	/* PKCE S256 (RFC 7636 4.6): verifier 43..128 unreserved characters */
	{
		size_t n = strlen(verifier);
		int ok = n >= 43 && n <= 128;
		for (size_t i = 0; ok && i < n; i++) {
			char ch = verifier[i];
			ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
			     ch == '~';
		}
		if (ok) {
			EVP_Digest(verifier, n, md, NULL, EVP_sha256(), NULL);
			b64url_encode(md, sizeof md, want, sizeof want);
		}
		if (!ok || strcmp(want, c.challenge) != 0) {
			OPENSSL_cleanse(code, sizeof code);
			oauth_error(out, 400, "invalid_grant", "The code_verifier does not match.");
			return;
		}
	}
	if (strcmp(c.client, client) != 0 || strcmp(c.redirect_uri, uri) != 0) {
		OPENSSL_cleanse(code, sizeof code);
		oauth_error(out, 400, "invalid_grant",
			    "The code was issued to another client or redirect_uri.");
		return;
	}
	if (registry_user_get(o->c.registry, c.login, &u) != SUIDO_OK || u.disabled) {
		OPENSSL_cleanse(code, sizeof code);
		oauth_error(out, 400, "invalid_grant", "The user is disabled.");
		return;
	}
	token_answer(o, out, client, &u, c.scope, c.nonce, c.auth_time_ms, NULL, code,
		     rq->now_ms);
	OPENSSL_cleanse(code, sizeof code);
}

static void grant_refresh(struct oidc *o, const struct http_request *rq,
			  struct http_response *out, const char *client)
{
	char token[128];
	struct reg_refresh rt;
	struct reg_user u;
	int reused = 0;

	if (field_get(rq, "refresh_token", token, sizeof token) || !token[0]) {
		oauth_error(out, 400, "invalid_request", "refresh_token is required once.");
		return;
	}
	if (registry_refresh_use(o->c.registry, token, rq->now_ms, &rt, &reused) != SUIDO_OK) {
		OPENSSL_cleanse(token, sizeof token);
		if (reused)
			log_warn("oidc", "a used refresh token of client %s came back: its family "
					 "is revoked", client);
		oauth_error(out, 400, "invalid_grant", "The refresh token is unknown, used, "
						       "revoked or expired.");
		return;
	}
	if (strcmp(rt.client, client) != 0) {
		registry_refresh_revoke(o->c.registry, token, NULL, rq->now_ms);
		OPENSSL_cleanse(token, sizeof token);
		oauth_error(out, 400, "invalid_grant", "The refresh token belongs to another client.");
		return;
	}
	OPENSSL_cleanse(token, sizeof token);
	if (registry_user_get(o->c.registry, rt.login, &u) != SUIDO_OK || u.disabled) {
		oauth_error(out, 400, "invalid_grant", "The user is disabled.");
		return;
	}
	token_answer(o, out, client, &u, rt.scope, NULL, rt.auth_time_ms, rt.family, NULL,
		     rq->now_ms);
}

static void grant_client(struct oidc *o, const struct http_request *rq,
			 struct http_response *out, const char *client)
{
	char scope[OIDC_SCOPE_MAX];

	if (field_get(rq, "scope", scope, sizeof scope)) {
		oauth_error(out, 400, "invalid_request", "scope is repeated or malformed.");
		return;
	}
	if (scope[0] && strcmp(scope, "ap.read") != 0) {
		oauth_error(out, 400, "invalid_scope", "Client credentials carry only ap.read.");
		return;
	}
	token_answer(o, out, client, NULL, "ap.read", NULL, 0, NULL, NULL, rq->now_ms);
}

static void token(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	char client[REG_ID_MAX], gt[48];

	if (strcmp(rq->method, "POST") != 0) {
		oauth_error(out, 405, "invalid_request", "The token endpoint takes POST.");
		return;
	}
	if (!http_content_type_is(rq, "application/x-www-form-urlencoded")) {
		oauth_error(out, 400, "invalid_request",
			    "The body must be application/x-www-form-urlencoded.");
		return;
	}
	if (field_get(rq, "grant_type", gt, sizeof gt) || !gt[0]) {
		oauth_error(out, 400, "invalid_request", "grant_type is required once.");
		return;
	}
	if (client_auth(o, rq, out, client) != 0)
		return;
	if (strcmp(gt, "authorization_code") == 0)
		grant_code(o, rq, out, client);
	else if (strcmp(gt, "refresh_token") == 0)
		grant_refresh(o, rq, out, client);
	else if (strcmp(gt, "client_credentials") == 0)
		grant_client(o, rq, out, client);
	else
		oauth_error(out, 400, "unsupported_grant_type", "Unsupported grant_type.");
}

/* ---- userinfo, revocation, end session ------------------------------------ */

static void bearer_error(struct http_response *out, unsigned status, const char *code,
			 const char *desc)
{
	json_reply(out, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
	http_response_header(out, "WWW-Authenticate",
			     "Bearer realm=\"suido\", error=\"%s\", error_description=\"%s\"", code,
			     desc);
}

static void userinfo(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	const char *tok;
	size_t len;
	struct oidc_principal p;
	enum jwt_reason why;
	struct reg_user u;
	json_t *j;

	if (http_bearer(rq->authorization, &tok, &len) != SUIDO_OK) {
		json_reply(out, 401, json_pack("{s:s}", "error", "invalid_request"));
		http_response_header(out, "WWW-Authenticate", "Bearer realm=\"suido\"");
		return;
	}
	if (oidc_check_access_token(o, tok, len, rq->now_ms, &p, &why) != OIDC_TOKEN_OK ||
	    !p.user[0] || registry_user_get(o->c.registry, p.user, &u) != SUIDO_OK) {
		bearer_error(out, 401, "invalid_token", "The access token is not valid.");
		return;
	}
	if (!oidc_scope_has(p.scope, "openid")) {
		bearer_error(out, 403, "insufficient_scope", "The openid scope is required.");
		return;
	}
	j = json_pack("{s:s, s:s}", "sub", u.login, "tenant", u.tenant);
	if (j && oidc_scope_has(p.scope, "profile")) {
		json_object_set_new(j, "name", json_string(u.name_kanji));
		json_object_set_new(j, "name#ja-Kana-JP", json_string(u.name_kana));
		json_object_set_new(j, "name#ja-Latn", json_string(u.name_romaji));
		json_object_set_new(j, "preferred_username", json_string(u.login));
		json_object_set_new(j, "role", json_string(u.role == REG_ROLE_ADMIN ? "admin"
										  : "general"));
	}
	if (j && oidc_scope_has(p.scope, "email") && u.mail[0])
		json_object_set_new(j, "email", json_string(u.mail));
	if (j && oidc_scope_has(p.scope, "phone") && u.phone[0])
		json_object_set_new(j, "phone_number", json_string(u.phone));
	json_reply(out, 200, j);
}

static void revocation(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	char client[REG_ID_MAX], token[JWT_MAX_BYTES + 1];

	if (strcmp(rq->method, "POST") != 0 ||
	    !http_content_type_is(rq, "application/x-www-form-urlencoded")) {
		oauth_error(out, 400, "invalid_request",
			    "POST an application/x-www-form-urlencoded body.");
		return;
	}
	if (client_auth(o, rq, out, client) != 0)
		return;
	if (field_get(rq, "token", token, sizeof token) || !token[0]) {
		oauth_error(out, 400, "invalid_request", "token is required once.");
		return;
	}
	/* A refresh token's family is revoked; an access token (a JWT) expires
	 * within access_ttl_s, and a revoked application or disabled user stops
	 * it at once (oidc_check_access_token). Unknown tokens: 200 all the same. */
	registry_refresh_revoke(o->c.registry, token, client, rq->now_ms);
	OPENSSL_cleanse(token, sizeof token);
	out->status = 200;
	strbuf_puts(&out->body, "{}");
}

static void logout(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	char id[SESSION_ID_TEXT], cookie[SESSION_COOKIE_MAX], uri[URI_MAX], state[STATE_MAX],
		client[REG_ID_MAX], loc[64] = "";
	enum signin_lang l;
	struct reg_app app;

	field_get(rq, "ui_locales", loc, sizeof loc);
	l = signin_lang_pick(loc, rq->accept_language);
	if (rq->cookie && session_cookie_parse(rq->cookie, strlen(rq->cookie), id) == SUIDO_OK) {
		session_revoke(o->sessions, id);
		OPENSSL_cleanse(id, sizeof id);
	}
	if (field_get(rq, "post_logout_redirect_uri", uri, sizeof uri) ||
	    field_get(rq, "state", state, sizeof state) ||
	    field_get(rq, "client_id", client, sizeof client))
		uri[0] = '\0';
	if (uri[0] && !client[0]) {
		/* the client from id_token_hint's aud (signature checked, expiry not) */
		char hint[JWT_MAX_BYTES + 1];
		struct jwt_expect e = { .issuer = o->issuer, .now = 0, .leeway = INT64_MAX / 4 };
		json_t *claims = NULL;
		enum jwt_reason why;
		if (field_get(rq, "id_token_hint", hint, sizeof hint) == 0 && hint[0]) {
			pthread_rwlock_rdlock(&o->lock);
			if (jwt_verify(o->published, hint, strlen(hint), &e, &claims, &why) ==
				    SUIDO_OK &&
			    json_is_string(json_object_get(claims, "aud")))
				snprintf(client, sizeof client, "%s",
					 json_string_value(json_object_get(claims, "aud")));
			pthread_rwlock_unlock(&o->lock);
			json_decref(claims);
		}
	}
	session_cookie_format(NULL, 0, cookie, sizeof cookie);
	if (uri[0] && client[0] && registry_app_redirect_ok(o->c.registry, client, uri) &&
	    registry_app_get(o->c.registry, client, &app) == SUIDO_OK && !app.revoked) {
		struct strbuf sb = STRBUF_INIT;
		sb.limit = 4096;
		strbuf_puts(&sb, uri);
		if (state[0]) {
			strbuf_putc(&sb, strchr(uri, '?') ? '&' : '?');
			strbuf_puts(&sb, "state=");
			pct_encode(&sb, state);
		}
		if (!sb.failed && http_response_header(out, "Location", "%s", sb.data) == SUIDO_OK) {
			out->status = 303;
			out->ctype = HTML_TYPE;
		}
		strbuf_free(&sb);
	}
	if (out->status != 303)
		message_page(out, 200, l, l == SIGNIN_EN ? "Signed out" : "サインアウト",
			     l == SIGNIN_EN ? "You have signed out." : "サインアウトしました。");
	http_response_header(out, "Set-Cookie", "%s", cookie);
}

void oidc_handle(struct oidc *o, const struct http_request *rq, struct http_response *out)
{
	const char *p = rq->path;
	size_t n = rq->path_len;

#define IS(s) (n == sizeof(s) - 1 && memcmp(p, s, n) == 0)
	if (o->external) {
		http_error(out, 404, "not_found",
			   "Tokens come from an external issuer; this platform's provider is off.");
		return;
	}
	if (IS("/.well-known/openid-configuration"))
		discovery(o, out);
	else if (IS("/oidc/jwks"))
		jwks(o, out);
	else if (IS("/oidc/authorize"))
		authorize(o, rq, out);
	else if (IS("/oidc/token"))
		token(o, rq, out);
	else if (IS("/oidc/userinfo"))
		userinfo(o, rq, out);
	else if (IS("/oidc/revoke"))
		revocation(o, rq, out);
	else if (IS("/oidc/logout"))
		logout(o, rq, out);
	else
		http_error(out, 404, "not_found", "No such endpoint of the OpenID provider.");
#undef IS
}
