/*
 * Unit tests of the OpenID Connect provider (oidc.h) over a registry and a
 * keys directory in a mkdtemp directory. Requests are built by hand (GET
 * with a query, POST with a form body, the Cookie header carried from the
 * Set-Cookie answers, HTTP Basic at the token endpoint) and handed to
 * oidc_handle; time moves only through rq->now_ms. Covered: the sign-in
 * throttle (per account, per source, no password work while delayed); the
 * first-login password change with the policy's Japanese refusals and the
 * password history; TOTP skew, window and replay; session idle and absolute
 * expiry; codes (single use with family revocation, expiry, PKCE,
 * redirect_uri), authorization request errors, refresh token expiry and
 * reuse, client authentication, CSRF of the sign-in form; access token
 * checks against the injected clock, a revoked application and a disabled
 * user; key rotation with the JWK set and the retired key's file.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "http.h"
#include "oidc.h"
#include "registry.h"
#include "suido/error.h"
#include "suido/b64url.h"
#include "suido/jwt.h"
#include "suido/lockout.h"
#include "suido/password.h"
#include "suido/totp.h"

#define T0 1795300000000ULL /* ms since the epoch, 2026-11-22 */
#define MIN_MS (60ULL * 1000ULL)
#define ISSUER "https://id.suido.example"
#define APP "va-portal"
#define CB "https://app.example/cb"
#define CB2 "https://app.example/cb2"
#define VERIFIER "verifier-0123456789-abcdefghijklmnopqrstuvwxyz.ABC~"
#define FORM "application/x-www-form-urlencoded"
#define TOTP_B32 "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#define PW1 "Kawa-Nagare#2031x"
#define PW2 "Sora-Hikari#4812y"
#define PW3 "Umi-Kaze#7305zq"
#define BLOCKED "Mizuumi-Kanri2024"
#define S1 "192.0.2.10"
#define S2 "198.51.100.20"
#define LOGIN_COOKIE "__Host-suido_login="
#define SESSION_COOKIE "__Host-suido_session="

struct fx {
	char dir[64];
	char keys[96];
	struct registry *r;
	struct oidc *o;
	struct oidc_config c;
	struct password_blocklist *bl;
	char secret[REG_SECRET_TEXT];
	char challenge[64];
	uint64_t now;
	/* the browser: its sign-in form's cookie and CSRF token, its session */
	char login_cookie[128];
	char csrf[64];
	char session[128];
	char state[32];
	/* the last answer */
	struct http_response res;
	json_t *j;
};

/* ---- fixture ---------------------------------------------------------- */

static void add_tenant(struct fx *f, const char *id, enum reg_kind k)
{
	struct reg_tenant t = {0};

	snprintf(t.id, sizeof t.id, "%s", id);
	snprintf(t.name, sizeof t.name, "%s の名前", id);
	t.kind = k;
	assert_int_equal(registry_tenant_add(f->r, "config", &t, T0, NULL, 0), SUIDO_OK);
}

static int setup(void **state)
{
	static const char block[] = "# test list\npassword\n" BLOCKED "\n";
	struct fx *f = calloc(1, sizeof *f);
	struct reg_app a = {0};
	char path[128], err[256];
	unsigned char md[32];

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/suido-oidc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->keys, sizeof f->keys, "%s/keys", f->dir);
	snprintf(path, sizeof path, "%s/registry.db", f->dir);
	if (registry_open(path, &f->r, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_open: %s", err);
	add_tenant(f, "ua", REG_UTILITY);
	add_tenant(f, "va", REG_VENDOR);
	assert_int_equal(registry_link_add(f->r, "config", "ua", "va", T0, NULL, 0), SUIDO_OK);
	snprintf(a.id, sizeof a.id, APP);
	snprintf(a.vendor, sizeof a.vendor, "va");
	snprintf(a.name, sizeof a.name, "検針ポータル");
	snprintf(a.redirect_uris, sizeof a.redirect_uris, "[\"" CB "\", \"" CB2 "\"]");
	if (registry_app_add(f->r, "config", &a, f->secret, T0, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_app_add: %s", err);
	/* the utility's grant is the consent: codes for its users only with it */
	assert_int_equal(registry_grant_set(f->r, "config", APP, "ua", "{\"all\":true}", T0, err,
					    sizeof err),
			 SUIDO_OK);
	assert_int_equal(password_blocklist_from_text(block, strlen(block), &f->bl, NULL, 0),
			 SUIDO_OK);

	oidc_config_defaults(&f->c);
	f->c.issuer = ISSUER;
	f->c.keys_dir = f->keys;
	f->c.registry = f->r;
	f->c.blocklist = f->bl;

	EVP_Digest(VERIFIER, strlen(VERIFIER), md, NULL, EVP_sha256(), NULL);
	assert_int_equal(b64url_encode(md, sizeof md, f->challenge, sizeof f->challenge), 43);
	f->now = T0;
	http_response_init(&f->res);
	*state = f;
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			rm_dir(path);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	json_decref(f->j);
	http_response_free(&f->res);
	oidc_free(f->o);
	registry_close(f->r);
	password_blocklist_free(f->bl);
	rm_dir(f->dir);
	free(f);
	return 0;
}

/* Starts the provider with f->c (after a test's changes to it). */
static void start(struct fx *f)
{
	char err[256];

	if (oidc_create(&f->c, f->now, &f->o, err, sizeof err) != SUIDO_OK)
		fail_msg("oidc_create: %s", err);
}

/* A user of utility ua with names none of the test passwords contain. With
 * pw, the one-time password is replaced by pw (must_change 0); otherwise
 * the one-time password is written to otp. */
static void add_user(struct fx *f, const char *pw, char login[REG_ID_MAX],
		     char otp[REG_OTP_TEXT])
{
	struct reg_user u = {0};
	char tmp[REG_OTP_TEXT], err[256];
	int reason = -1;

	snprintf(u.tenant, sizeof u.tenant, "ua");
	snprintf(u.name_kanji, sizeof u.name_kanji, "山田 花子");
	snprintf(u.name_kana, sizeof u.name_kana, "やまだ はなこ");
	snprintf(u.name_romaji, sizeof u.name_romaji, "Yamada Hanako");
	if (registry_user_add(f->r, "config", &u, otp ? otp : tmp, T0, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_user_add: %s", err);
	snprintf(login, REG_ID_MAX, "%s", u.login);
	if (pw &&
	    registry_user_set_password(f->r, "config", u.login, pw, strlen(pw), &f->c.policy,
				       f->bl, &reason, T0, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_user_set_password: %s (reason %d)", err, reason);
}

/* ---- requests ------------------------------------------------------------ */

/* One request at f->now; the answer stays in f->res (and f->j when JSON).
 * Returns the status. */
static unsigned call(struct fx *f, const char *method, const char *target, const char *body,
		     const char *cookie, const char *auth, const char *source)
{
	struct http_request rq = {0};
	char path[512];
	const char *q = strchr(target, '?');

	snprintf(path, sizeof path, "%.*s", q ? (int)(q - target) : (int)strlen(target), target);
	rq.method = method;
	rq.path = path;
	rq.path_len = strlen(path);
	rq.query = q ? q + 1 : "";
	rq.content_type = body ? FORM : NULL;
	rq.authorization = auth;
	rq.cookie = cookie;
	rq.source = source ? source : S1;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.now_ms = f->now;
	json_decref(f->j);
	f->j = NULL;
	http_response_free(&f->res);
	http_response_init(&f->res);
	oidc_handle(f->o, &rq, &f->res);
	assert_int_not_equal(f->res.status, 0);
	if (f->res.body.len && !f->res.ctype)
		f->j = json_loadb(f->res.body.data, f->res.body.len, 0, NULL);
	return f->res.status;
}

/* The header name's value in the last answer (the n-th of that name), NULL
 * when absent. */
static const char *header_n(struct fx *f, const char *name, int n)
{
	for (size_t i = 0; i < f->res.n_headers; i++)
		if (strcasecmp(f->res.headers[i].name, name) == 0 && n-- == 0)
			return f->res.headers[i].value;
	return NULL;
}

static const char *header(struct fx *f, const char *name)
{
	return header_n(f, name, 0);
}

static const char *body(struct fx *f)
{
	return f->res.body.data ? f->res.body.data : "";
}

static void assert_body_has(struct fx *f, const char *s)
{
	if (!strstr(body(f), s))
		fail_msg("the answer (%u) lacks \"%s\": %s", f->res.status, s, body(f));
}

static const char *jstr(struct fx *f, const char *key)
{
	const char *s = json_string_value(json_object_get(f->j, key));

	if (!s)
		fail_msg("answer %u has no string \"%s\": %s", f->res.status, key, body(f));
	return s;
}

/* The value of name="<field>" value="..." in the page into out ("" when
 * absent). The values read here (base64url, login IDs) need no unescaping. */
static void page_field(struct fx *f, const char *field, char *out, size_t outlen)
{
	char pat[80];
	const char *p, *end;

	snprintf(pat, sizeof pat, "name=\"%s\" value=\"", field);
	out[0] = '\0';
	p = strstr(body(f), pat);
	if (!p)
		return;
	p += strlen(pat);
	end = strchr(p, '"');
	assert_non_null(end);
	assert_true((size_t)(end - p) < outlen);
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
}

/* "name=value" of the Set-Cookie of that name with a non-empty value, into
 * out; 0 when there is none. */
static int set_cookie(struct fx *f, const char *prefix, char *out, size_t outlen)
{
	const char *v;

	for (int i = 0; (v = header_n(f, "Set-Cookie", i)) != NULL; i++) {
		size_t n = strcspn(v, ";");
		if (strncmp(v, prefix, strlen(prefix)) == 0 && n > strlen(prefix)) {
			assert_true(n < outlen);
			snprintf(out, outlen, "%.*s", (int)n, v);
			return 1;
		}
	}
	return 0;
}

/* The decoded query parameter of the Location header into out; 0 when absent. */
static int loc_param(struct fx *f, const char *name, char *out, size_t outlen)
{
	const char *loc = header(f, "Location"), *q;

	if (!loc || !(q = strchr(loc, '?')))
		return 0;
	return http_form_get(q + 1, strlen(q + 1), name, out, outlen) == SUIDO_OK;
}

static void pct(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		assert_true(n + 4 < outlen);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

/* The authorization request's parameters (query or form body). */
static void authz_params(struct fx *f, char *out, size_t outlen, const char *redirect,
			 const char *challenge)
{
	char uri[256];

	pct(uri, sizeof uri, redirect);
	snprintf(f->state, sizeof f->state, "st-%llu", (unsigned long long)(f->now % 100000));
	snprintf(out, outlen,
		 "client_id=" APP "&redirect_uri=%s&response_type=code&scope=openid%%20profile"
		 "&state=%s&nonce=n-0S6_WzA2Mj%s%s%s",
		 uri, f->state, challenge ? "&code_challenge=" : "", challenge ? challenge : "",
		 challenge ? "&code_challenge_method=S256" : "");
}

/* GET /oidc/authorize (with the session cookie when there is one). */
static unsigned authorize_get(struct fx *f, const char *redirect)
{
	char params[1024], target[1100];

	authz_params(f, params, sizeof params, redirect, f->challenge);
	snprintf(target, sizeof target, "/oidc/authorize?%s", params);
	return call(f, "GET", target, NULL, f->session[0] ? f->session : NULL, NULL, S1);
}

/* 1 when the last answer is the sign-in form, keeping its cookie and CSRF token. */
static int is_signin_form(struct fx *f)
{
	if (f->res.status != 200 && f->res.status != 429 && f->res.status != 403)
		return 0;
	if (!strstr(body(f), "name=\"password\"") || header(f, "Location"))
		return 0;
	page_field(f, "csrf", f->csrf, sizeof f->csrf);
	assert_int_equal(strlen(f->csrf), 43);
	assert_true(set_cookie(f, LOGIN_COOKIE, f->login_cookie, sizeof f->login_cookie));
	return 1;
}

/* A fresh sign-in form (no session). */
static void get_form(struct fx *f)
{
	char keep[sizeof f->session];

	memcpy(keep, f->session, sizeof keep);
	f->session[0] = '\0';
	assert_int_equal(authorize_get(f, CB), 200);
	assert_true(is_signin_form(f));
	memcpy(f->session, keep, sizeof keep);
}

/* POSTs the sign-in form with the browser's cookie and CSRF token. */
static unsigned post_signin(struct fx *f, const char *login, const char *pw, const char *otp,
			    const char *source)
{
	char params[1024], p[300], b[2048];

	authz_params(f, params, sizeof params, CB, f->challenge);
	pct(p, sizeof p, pw);
	snprintf(b, sizeof b, "%s&csrf=%s&login_id=%s&password=%s&otp=%s", params, f->csrf, login,
		 p, otp ? otp : "");
	return call(f, "POST", "/oidc/authorize", b, f->login_cookie, NULL, source);
}

/* A fresh form, then the sign-in; the answer stays in f->res. */
static unsigned signin(struct fx *f, const char *login, const char *pw, const char *otp,
		       const char *source)
{
	get_form(f);
	return post_signin(f, login, pw, otp, source);
}

/* Asserts a 303 to redirect with a code, the state and iss; the code into code. */
static void assert_code(struct fx *f, const char *redirect, char code[128])
{
	const char *loc = header(f, "Location");
	char v[256];

	if (f->res.status != 303 || !loc)
		fail_msg("expected a redirect with a code, got %u: %s", f->res.status, body(f));
	assert_int_equal(strncmp(loc, redirect, strlen(redirect)), 0);
	assert_int_equal(loc[strlen(redirect)], '?');
	assert_true(loc_param(f, "code", code, 128));
	assert_int_equal(strlen(code), 43);
	assert_true(loc_param(f, "state", v, sizeof v));
	assert_string_equal(v, f->state);
	assert_true(loc_param(f, "iss", v, sizeof v));
	assert_string_equal(v, ISSUER);
	assert_false(loc_param(f, "error", v, sizeof v));
}

/* A successful sign-in: the code, and the session cookie kept. */
static void signin_ok(struct fx *f, const char *login, const char *pw, const char *otp,
		      char code[128])
{
	signin(f, login, pw, otp, S1);
	assert_code(f, CB, code);
	assert_true(set_cookie(f, SESSION_COOKIE, f->session, sizeof f->session));
}

static void basic(struct fx *f, const char *secret, char *out, size_t outlen)
{
	char raw[160];
	unsigned char enc[256];

	snprintf(raw, sizeof raw, APP ":%s", secret ? secret : f->secret);
	EVP_EncodeBlock(enc, (const unsigned char *)raw, (int)strlen(raw));
	snprintf(out, outlen, "Basic %s", (const char *)enc);
}

static unsigned token_post(struct fx *f, const char *b)
{
	char auth[300];

	basic(f, NULL, auth, sizeof auth);
	return call(f, "POST", "/oidc/token", b, NULL, auth, S1);
}

static unsigned exchange(struct fx *f, const char *code, const char *redirect,
			 const char *verifier)
{
	char b[1024], uri[256];

	pct(uri, sizeof uri, redirect);
	snprintf(b, sizeof b,
		 "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", code,
		 uri, verifier);
	return token_post(f, b);
}

static unsigned refresh(struct fx *f, const char *rt)
{
	char b[256];

	snprintf(b, sizeof b, "grant_type=refresh_token&refresh_token=%s", rt);
	return token_post(f, b);
}

static void assert_oauth_error(struct fx *f, unsigned status, const char *error)
{
	if (f->res.status != status)
		fail_msg("expected %u %s, got %u: %s", status, error, f->res.status, body(f));
	assert_string_equal(jstr(f, "error"), error);
}

/* A token answer: access, refresh (may be NULL) copied out. */
static void assert_tokens(struct fx *f, char *access, size_t alen, char *rt, size_t rlen)
{
	if (f->res.status != 200)
		fail_msg("expected tokens, got %u: %s", f->res.status, body(f));
	assert_string_equal(jstr(f, "token_type"), "Bearer");
	snprintf(access, alen, "%s", jstr(f, "access_token"));
	if (rt)
		snprintf(rt, rlen, "%s", jstr(f, "refresh_token"));
}

static void totp_at(uint64_t now_ms, int64_t offset_s, char code[TOTP_DIGITS + 1])
{
	unsigned char k[TOTP_SECRET_MAX];
	size_t klen = 0;

	assert_int_equal(totp_secret_from_base32(TOTP_B32, strlen(TOTP_B32), k, &klen), SUIDO_OK);
	assert_int_equal(totp_generate(k, klen, (int64_t)(now_ms / 1000) + offset_s, code),
			 SUIDO_OK);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The kid of a JWT's header. */
static void jwt_kid(const char *tok, char *out, size_t outlen)
{
	char b64[512];
	unsigned char raw[512];
	size_t n = strcspn(tok, ".");
	json_t *h;
	int len;

	assert_true(n + 4 < sizeof b64);
	for (size_t i = 0; i < n; i++)
		b64[i] = tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = '\0';
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	assert_true(len > 0);
	raw[len] = '\0';
	h = json_loads((const char *)raw, 0, NULL);
	assert_non_null(h);
	assert_non_null(json_string_value(json_object_get(h, "kid")));
	snprintf(out, outlen, "%s", json_string_value(json_object_get(h, "kid")));
	json_decref(h);
}

/* ---- 1. the sign-in throttle ---------------------------------------------------- */

static void test_lockout(void **state)
{
	struct fx *f = *state;
	char a[REG_ID_MAX], b[REG_ID_MAX], code[128], ra[16];
	double slowest_fast = 0, fastest_slow = 1e9, t;

	lockout_policy_defaults(&f->c.lockout); /* account_free 5, then 1 s doubling */
	f->c.lockout.source_budget = 8;         /* per 15 min: spent by 8 failures here */
	start(f);
	add_user(f, PW1, a, NULL);
	add_user(f, PW2, b, NULL);

	/* 5 free failures of a from S1 (the source spends 5 of 8) */
	for (int i = 0; i < 5; i++) {
		get_form(f);
		t = mono_ms();
		assert_int_equal(post_signin(f, a, "Wrong-Password#1", NULL, S1), 200);
		t = mono_ms() - t;
		fastest_slow = t < fastest_slow ? t : fastest_slow;
		assert_true(is_signin_form(f));
		assert_body_has(f, "id=\"error\"");
		assert_body_has(f, "ログインID、パスワードまたはワンタイムパスワードが正しくありません");
		assert_null(header(f, "Retry-After"));
	}
	/* the 6th is delayed, the correct password included, before any hashing */
	f->now += 1;
	get_form(f);
	t = mono_ms();
	assert_int_equal(post_signin(f, a, PW1, NULL, S1), 429);
	t = mono_ms() - t;
	slowest_fast = t;
	assert_true(is_signin_form(f));
	assert_body_has(f, "id=\"error\"");
	assert_body_has(f, "試行回数が多すぎます。1 秒後にもう一度お試しください。");
	assert_non_null(header(f, "Retry-After"));
	assert_string_equal(header(f, "Retry-After"), "1");
	assert_null(header(f, "Location"));
	assert_false(set_cookie(f, SESSION_COOKIE, f->session, sizeof f->session));
	/* the account, from another address too; upper case is the same account */
	f->now += 1;
	get_form(f);
	t = mono_ms();
	assert_int_equal(post_signin(f, a, PW1, NULL, S2), 429);
	t = mono_ms() - t;
	slowest_fast = t > slowest_fast ? t : slowest_fast;
	assert_string_equal(header(f, "Retry-After"), "1");
	{
		char upper[REG_ID_MAX];
		for (size_t i = 0; i <= strlen(a); i++)
			upper[i] = (a[i] >= 'a' && a[i] <= 'z') ? (char)(a[i] - 32) : a[i];
		get_form(f);
		assert_int_equal(post_signin(f, upper, PW1, NULL, S2), 429);
	}
	/* no Argon2id verification ran for the refused attempts: each took a
	 * fraction of one wrong password's time */
	if (!(slowest_fast * 3 < fastest_slow))
		fail_msg("a delayed attempt took %.1f ms, a checked one %.1f ms", slowest_fast,
			 fastest_slow);
	/* another login from S1 is not affected (budget 8, 5 spent) */
	f->now += 1;
	signin(f, b, PW2, NULL, S1);
	assert_code(f, CB, code);
	f->session[0] = '\0';
	/* past the delay (1 s after the 5th failure) the password works */
	f->now = T0 + 1500;
	signin(f, a, PW1, NULL, S1);
	assert_code(f, CB, code);
	f->session[0] = '\0';
	/* b fails 3 times from S1: the source's budget (8) is spent */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(signin(f, b, "Wrong-Password#2", NULL, S1), 200);
		assert_body_has(f, "id=\"error\"");
	}
	/* now every login from S1 waits, one without failures of its own too */
	assert_int_equal(signin(f, b, PW2, NULL, S1), 429);
	snprintf(ra, sizeof ra, "%s", header(f, "Retry-After"));
	assert_true(atoi(ra) > 60 && atoi(ra) <= 113); /* 15 min / 8 */
	assert_int_equal(signin(f, a, PW1, NULL, S1), 429);
	assert_int_equal(signin(f, "ua-9999", "Anything#123abc", NULL, S1), 429);
	/* while b from another address signs in */
	signin(f, b, PW2, NULL, S2);
	assert_code(f, CB, code);
	/* and S1 again after its Retry-After */
	f->now += (uint64_t)atoi(ra) * 1000;
	f->session[0] = '\0';
	signin(f, a, PW1, NULL, S1);
	assert_code(f, CB, code);
}

/* ---- 2. first-login password change and the history ---------------------------- */

static void assert_change_page(struct fx *f, const char *reason_ja, char pending[256])
{
	if (f->res.status != 200 || !strstr(body(f), "name=\"new_password\""))
		fail_msg("expected the change page, got %u: %s", f->res.status, body(f));
	assert_body_has(f, "パスワードの変更");
	assert_null(header(f, "Location"));
	if (reason_ja) {
		char want[512];
		snprintf(want, sizeof want, "id=\"error\">%s</p>", reason_ja);
		assert_body_has(f, want);
	} else {
		assert_null(strstr(body(f), "id=\"error\""));
	}
	page_field(f, "pending", pending, 256);
	assert_true(strlen(pending) > 20);
}

static unsigned post_change(struct fx *f, const char *pending, const char *p1, const char *p2)
{
	char params[1024], e1[200], e2[200], b[2048];

	authz_params(f, params, sizeof params, CB, f->challenge);
	pct(e1, sizeof e1, p1);
	pct(e2, sizeof e2, p2);
	snprintf(b, sizeof b, "%s&csrf=%s&pending=%s&new_password=%s&new_password2=%s", params,
		 f->csrf, pending, e1, e2);
	return call(f, "POST", "/oidc/authorize", b, f->login_cookie, NULL, S1);
}

static void test_password_change_and_history(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], otp[REG_OTP_TEXT], otp2[REG_OTP_TEXT], pending[256], code[128];
	char err[256];
	struct reg_user u;
	int reason = -1;

	start(f);
	add_user(f, NULL, login, otp);
	assert_int_equal(registry_user_get(f->r, login, &u), SUIDO_OK);
	assert_int_equal(u.must_change, 1);

	/* the one-time password leads to the change page, not to a code */
	signin(f, login, otp, NULL, S1);
	assert_change_page(f, NULL, pending);
	assert_false(set_cookie(f, SESSION_COOKIE, f->session, sizeof f->session));
	/* refused: the one-time password again, a blocklisted one, a short one,
	 * two that differ; the Japanese reason on the page each time */
	post_change(f, pending, otp, otp);
	assert_change_page(f, password_reason_ja(PASSWORD_REUSED), pending);
	post_change(f, pending, BLOCKED, BLOCKED);
	assert_change_page(f, password_reason_ja(PASSWORD_COMMON), pending);
	post_change(f, pending, "Ab1!x", "Ab1!x");
	assert_change_page(f, password_reason_ja(PASSWORD_TOO_SHORT), pending);
	post_change(f, pending, PW1, PW2);
	assert_change_page(f, "新しいパスワードが一致しません。", pending);
	assert_int_equal(registry_user_get(f->r, login, &u), SUIDO_OK);
	assert_int_equal(u.must_change, 1);
	/* a forged or altered pending proof is refused */
	{
		char forged[256];
		snprintf(forged, sizeof forged, "%s", pending);
		forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
		assert_int_equal(post_change(f, forged, PW1, PW1), 403);
		assert_null(header(f, "Location"));
	}
	/* the proof is bound to this browser's form cookie: from another
	 * browser (a fresh form) it is refused */
	{
		char keep_cookie[sizeof f->login_cookie], keep_csrf[sizeof f->csrf];
		memcpy(keep_cookie, f->login_cookie, sizeof keep_cookie);
		memcpy(keep_csrf, f->csrf, sizeof keep_csrf);
		get_form(f);
		assert_int_equal(post_change(f, pending, PW1, PW1), 403);
		assert_null(header(f, "Location"));
		memcpy(f->login_cookie, keep_cookie, sizeof keep_cookie);
		memcpy(f->csrf, keep_csrf, sizeof keep_csrf);
	}
	/* a good one: signed in, code, state and iss */
	f->now += 1000;
	post_change(f, pending, PW1, PW1);
	assert_code(f, CB, code);
	assert_true(set_cookie(f, SESSION_COOKIE, f->session, sizeof f->session));
	assert_int_equal(registry_user_get(f->r, login, &u), SUIDO_OK);
	assert_int_equal(u.must_change, 0);
	/* used once: the same proof cannot set another password (must_change is
	 * gone and the password it was made for changed) */
	{
		char keep[sizeof f->session];
		memcpy(keep, f->session, sizeof keep);
		f->session[0] = '\0';
		assert_int_equal(post_change(f, pending, PW2, PW2), 403);
		assert_null(header(f, "Location"));
		memcpy(f->session, keep, sizeof keep);
	}

	/* the one-time password no longer signs in; the new one does */
	f->session[0] = '\0';
	assert_int_equal(signin(f, login, otp, NULL, S1), 200);
	assert_body_has(f, "id=\"error\"");
	signin(f, login, PW1, NULL, S1);
	assert_code(f, CB, code);

	/* history: a later change to the previous password is refused */
	assert_int_equal(registry_user_set_password(f->r, "user:x", login, PW2, strlen(PW2),
						    &f->c.policy, f->bl, &reason, f->now, err,
						    sizeof err),
			 SUIDO_OK);
	reason = -1;
	assert_int_equal(registry_user_set_password(f->r, "user:x", login, PW1, strlen(PW1),
						    &f->c.policy, f->bl, &reason, f->now, err,
						    sizeof err),
			 SUIDO_ERR_PERM);
	assert_int_equal(reason, PASSWORD_REUSED);

	/* and through the page: after the operator's reset, neither earlier
	 * password may be chosen again */
	assert_int_equal(registry_user_reset_password(f->r, "operator", login, otp2, f->now, err,
						      sizeof err),
			 SUIDO_OK);
	f->now += 1000;
	f->session[0] = '\0';
	signin(f, login, otp2, NULL, S1);
	assert_change_page(f, NULL, pending);
	post_change(f, pending, PW1, PW1);
	assert_change_page(f, password_reason_ja(PASSWORD_REUSED), pending);
	post_change(f, pending, PW2, PW2);
	assert_change_page(f, password_reason_ja(PASSWORD_REUSED), pending);
	post_change(f, pending, PW3, PW3);
	assert_code(f, CB, code);
}

/* ---- 3. TOTP ------------------------------------------------------------------------ */

/* A user of a utility that has not granted the application: no code
 * (access_denied), and nothing signed in. */
static void test_no_grant_no_code(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], err[256];

	start(f);
	add_user(f, PW1, login, NULL);
	assert_int_equal(registry_grant_revoke(f->r, "config", APP, "ua", T0, err, sizeof err),
			 SUIDO_OK);
	signin(f, login, PW1, NULL, S1);
	assert_int_equal(f->res.status, 303);
	assert_non_null(header(f, "Location"));
	assert_non_null(strstr(header(f, "Location"), "error=access_denied"));
	assert_null(strstr(header(f, "Location"), "code="));
}

static void test_totp(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128], otp[TOTP_DIGITS + 1], plus[TOTP_DIGITS + 1];
	char err[256];
	struct reg_user u;

	start(f);
	add_user(f, PW1, login, NULL);
	if (registry_totp_set(f->r, "config", login, TOTP_B32, T0, err, sizeof err) != SUIDO_OK)
		fail_msg("registry_totp_set: %s", err);
	assert_int_equal(registry_user_get(f->r, login, &u), SUIDO_OK);
	assert_int_equal(u.totp_enrolled, 1);
	/* the middle of a step, so that ±30 s and ±60 s are whole steps away */
	f->now = (T0 / 30000 + 10) * 30000 + 15000;

	/* without a code, or with a wrong one: refused */
	assert_int_equal(signin(f, login, PW1, NULL, S1), 200);
	assert_body_has(f, "id=\"error\"");
	/* one step behind: accepted */
	totp_at(f->now, -30, otp);
	f->session[0] = '\0';
	signin_ok(f, login, PW1, otp, code);
	/* one step ahead: accepted (a later step than the last used) */
	totp_at(f->now, +30, plus);
	f->session[0] = '\0';
	signin_ok(f, login, PW1, plus, code);
	/* the same code again: a replay, refused */
	f->session[0] = '\0';
	assert_int_equal(signin(f, login, PW1, plus, S1), 200);
	assert_body_has(f, "id=\"error\"");
	assert_null(header(f, "Location"));
	/* ten minutes on: two steps either side are outside the window */
	f->now += 10 * MIN_MS;
	totp_at(f->now, -60, otp);
	assert_int_equal(signin(f, login, PW1, otp, S1), 200);
	assert_body_has(f, "id=\"error\"");
	totp_at(f->now, +60, otp);
	assert_int_equal(signin(f, login, PW1, otp, S1), 200);
	assert_body_has(f, "id=\"error\"");
	/* a wrong password with the right code is refused, and does not use the code */
	totp_at(f->now, 0, otp);
	assert_int_equal(signin(f, login, "Wrong-Password#1", otp, S1), 200);
	assert_body_has(f, "id=\"error\"");
	/* the current code then works (the refusals above were the window's) */
	signin_ok(f, login, PW1, otp, code);
}

/* ---- 4. sessions ---------------------------------------------------------------------- */

static void test_sessions(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128];
	uint64_t t;

	start(f);
	add_user(f, PW1, login, NULL);
	signin_ok(f, login, PW1, NULL, code);

	/* 29 minutes later: a code at once */
	f->now += 29 * MIN_MS;
	authorize_get(f, CB);
	assert_code(f, CB, code);
	/* prompt=login asks for the form even so */
	{
		char params[1024], target[1100];
		authz_params(f, params, sizeof params, CB, f->challenge);
		snprintf(target, sizeof target, "/oidc/authorize?%s&prompt=login", params);
		assert_int_equal(call(f, "GET", target, NULL, f->session, NULL, S1), 200);
		assert_true(is_signin_form(f));
	}
	/* idle: 31 minutes after the last use, the form again */
	f->now += 31 * MIN_MS;
	assert_int_equal(authorize_get(f, CB), 200);
	assert_true(is_signin_form(f));
	/* and it stays ended */
	f->now += 1000;
	assert_int_equal(authorize_get(f, CB), 200);
	assert_true(is_signin_form(f));

	/* absolute: used every 20 minutes, the session still ends after 12 h */
	f->session[0] = '\0';
	signin_ok(f, login, PW1, NULL, code);
	t = f->now;
	for (int i = 1; i <= 35; i++) {
		f->now = t + (uint64_t)i * 20 * MIN_MS; /* up to 11 h 40 min */
		authorize_get(f, CB);
		assert_code(f, CB, code);
	}
	f->now = t + 12 * 60 * MIN_MS + MIN_MS; /* 21 min after the last use */
	assert_int_equal(authorize_get(f, CB), 200);
	assert_true(is_signin_form(f));
	/* prompt=none without a session: login_required to the client */
	{
		char params[1024], target[1100], v[64];
		authz_params(f, params, sizeof params, CB, f->challenge);
		snprintf(target, sizeof target, "/oidc/authorize?%s&prompt=none", params);
		assert_int_equal(call(f, "GET", target, NULL, f->session, NULL, S1), 303);
		assert_true(loc_param(f, "error", v, sizeof v));
		assert_string_equal(v, "login_required");
	}
}

/* ---- 5. codes and tokens ---------------------------------------------------------------- */

/* A signed-in user with a session (for codes without a password each). */
static void signed_in_user(struct fx *f, char login[REG_ID_MAX])
{
	char code[128];

	start(f);
	add_user(f, PW1, login, NULL);
	signin_ok(f, login, PW1, NULL, code);
}

static void new_code(struct fx *f, const char *redirect, char code[128])
{
	authorize_get(f, redirect);
	assert_code(f, redirect, code);
}

static void test_code_reuse_revokes_family(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128], access[2048], rt[128], rt2[128];

	signed_in_user(f, login);
	new_code(f, CB, code);
	f->now += 1000;
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, rt, sizeof rt);
	assert_non_null(json_string_value(json_object_get(f->j, "id_token")));
	assert_string_equal(jstr(f, "scope"), "openid profile");
	/* the family works: rotate once */
	f->now += 1000;
	refresh(f, rt);
	assert_tokens(f, access, sizeof access, rt2, sizeof rt2);
	/* the code again: refused, and what it gave is revoked */
	f->now += 1000;
	exchange(f, code, CB, VERIFIER);
	assert_oauth_error(f, 400, "invalid_grant");
	f->now += 1000;
	refresh(f, rt2);
	assert_oauth_error(f, 400, "invalid_grant");

	/* a second code is not affected by the first one's reuse */
	new_code(f, CB, code);
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, rt, sizeof rt);
	refresh(f, rt);
	assert_tokens(f, access, sizeof access, rt2, sizeof rt2);
}

static void test_code_expiry_pkce_redirect(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128], access[2048];

	signed_in_user(f, login);
	/* within code_ttl_s (60 s): good */
	new_code(f, CB, code);
	f->now += 59 * 1000;
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, NULL, 0);
	/* after it: invalid_grant */
	new_code(f, CB, code);
	f->now += 61 * 1000;
	exchange(f, code, CB, VERIFIER);
	assert_oauth_error(f, 400, "invalid_grant");
	/* PKCE: another verifier of a valid form, and none */
	new_code(f, CB, code);
	exchange(f, code, CB, "verifier-0123456789-abcdefghijklmnopqrstuvwxyz.ABD~");
	assert_oauth_error(f, 400, "invalid_grant");
	new_code(f, CB, code);
	exchange(f, code, CB, "");
	assert_oauth_error(f, 400, "invalid_grant");
	/* the code was taken by the failed attempt: the right verifier is late */
	exchange(f, code, CB, VERIFIER);
	assert_oauth_error(f, 400, "invalid_grant");
	/* redirect_uri: another registered one than the code's */
	new_code(f, CB, code);
	exchange(f, code, CB2, VERIFIER);
	assert_oauth_error(f, 400, "invalid_grant");
	new_code(f, CB2, code);
	exchange(f, code, CB2, VERIFIER);
	assert_tokens(f, access, sizeof access, NULL, 0);
}

static void test_authorize_request_errors(void **state)
{
	struct fx *f = *state;
	char params[1024], target[1200], v[256];

	start(f);
	/* an unregistered redirect_uri: a 400 page, never a redirect */
	authz_params(f, params, sizeof params, "https://evil.example/cb", f->challenge);
	snprintf(target, sizeof target, "/oidc/authorize?%s", params);
	assert_int_equal(call(f, "GET", target, NULL, NULL, NULL, S1), 400);
	assert_null(header(f, "Location"));
	assert_string_equal(f->res.ctype, "text/html; charset=utf-8");
	assert_body_has(f, "戻り先アドレスが登録されていません");
	assert_null(strstr(body(f), "evil.example"));
	/* a registered one with a different suffix is another URI */
	authz_params(f, params, sizeof params, CB "/x", f->challenge);
	snprintf(target, sizeof target, "/oidc/authorize?%s", params);
	assert_int_equal(call(f, "GET", target, NULL, NULL, NULL, S1), 400);
	assert_null(header(f, "Location"));
	/* an unknown client */
	assert_int_equal(call(f, "GET",
			      "/oidc/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fapp."
			      "example%2Fcb&response_type=code&scope=openid",
			      NULL, NULL, NULL, S1),
			 400);
	assert_null(header(f, "Location"));
	/* no code_challenge: invalid_request to the client, with state and iss */
	authz_params(f, params, sizeof params, CB, NULL);
	snprintf(target, sizeof target, "/oidc/authorize?%s", params);
	assert_int_equal(call(f, "GET", target, NULL, NULL, NULL, S1), 303);
	assert_int_equal(strncmp(header(f, "Location"), CB "?", strlen(CB) + 1), 0);
	assert_true(loc_param(f, "error", v, sizeof v));
	assert_string_equal(v, "invalid_request");
	assert_true(loc_param(f, "state", v, sizeof v));
	assert_string_equal(v, f->state);
	assert_true(loc_param(f, "iss", v, sizeof v));
	assert_string_equal(v, ISSUER);
	assert_false(loc_param(f, "code", v, sizeof v));
	/* plain instead of S256 */
	snprintf(target, sizeof target, "/oidc/authorize?%s&code_challenge=%s"
		 "&code_challenge_method=plain", params, f->challenge);
	assert_int_equal(call(f, "GET", target, NULL, NULL, NULL, S1), 303);
	assert_true(loc_param(f, "error", v, sizeof v));
	assert_string_equal(v, "invalid_request");
}

static void test_refresh_expiry_and_reuse(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128], access[2048], rt[128], rt2[128], rt3[128];

	signed_in_user(f, login);
	/* reuse: a rotated token presented again revokes the family */
	new_code(f, CB, code);
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, rt, sizeof rt);
	f->now += 1000;
	refresh(f, rt);
	assert_tokens(f, access, sizeof access, rt2, sizeof rt2);
	assert_string_not_equal(rt, rt2);
	f->now += 1000;
	refresh(f, rt);
	assert_oauth_error(f, 400, "invalid_grant");
	refresh(f, rt2); /* the legitimate holder's newer token is gone too */
	assert_oauth_error(f, 400, "invalid_grant");

	/* expiry: refresh_ttl_s (30 days) after it was issued */
	new_code(f, CB, code);
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, rt, sizeof rt);
	new_code(f, CB, code);
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, rt3, sizeof rt3);
	f->now += f->c.refresh_ttl_s * 1000 - 1000;
	refresh(f, rt3); /* one second before: good */
	assert_tokens(f, access, sizeof access, rt2, sizeof rt2);
	f->now += 2000;
	refresh(f, rt); /* one second after: refused */
	assert_oauth_error(f, 400, "invalid_grant");
	refresh(f, rt2); /* the rotated one lives its own 30 days */
	assert_tokens(f, access, sizeof access, rt3, sizeof rt3);
}

static void test_client_credentials(void **state)
{
	struct fx *f = *state;
	char auth[300], access[2048];
	struct oidc_principal p;
	enum jwt_reason why;

	start(f);
	/* the right secret: an access token, no refresh token */
	assert_int_equal(token_post(f, "grant_type=client_credentials"), 200);
	assert_tokens(f, access, sizeof access, NULL, 0);
	assert_null(json_object_get(f->j, "refresh_token"));
	assert_string_equal(jstr(f, "scope"), "ap.read");
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), f->now, &p, &why),
			 OIDC_TOKEN_OK);
	assert_string_equal(p.client, APP);
	assert_string_equal(p.user, "");
	/* a wrong secret: 401 invalid_client with a Basic challenge */
	basic(f, "wrong-secret-0123456789abcdefghijklmnopqrstu", auth, sizeof auth);
	assert_int_equal(call(f, "POST", "/oidc/token", "grant_type=client_credentials", NULL,
			      auth, S1),
			 401);
	assert_oauth_error(f, 401, "invalid_client");
	assert_non_null(header(f, "WWW-Authenticate"));
	assert_int_equal(strncmp(header(f, "WWW-Authenticate"), "Basic", 5), 0);
	assert_null(json_object_get(f->j, "access_token"));
	/* no authentication at all */
	assert_int_equal(call(f, "POST", "/oidc/token", "grant_type=client_credentials", NULL,
			      NULL, S1),
			 401);
	assert_oauth_error(f, 401, "invalid_client");
	/* the secret in the body is accepted as well */
	{
		char b[256];
		snprintf(b, sizeof b, "grant_type=client_credentials&client_id=" APP
			 "&client_secret=%s", f->secret);
		assert_int_equal(call(f, "POST", "/oidc/token", b, NULL, NULL, S1), 200);
	}
}

static void test_csrf(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], keep[sizeof f->login_cookie];

	start(f);
	add_user(f, PW1, login, NULL);
	get_form(f);
	/* without the form's cookie */
	memcpy(keep, f->login_cookie, sizeof keep);
	f->login_cookie[0] = '\0';
	{
		char params[1024], b[2048];
		authz_params(f, params, sizeof params, CB, f->challenge);
		snprintf(b, sizeof b, "%s&csrf=%s&login_id=%s&password=" PW1, params, f->csrf,
			 login);
		assert_int_equal(call(f, "POST", "/oidc/authorize", b, NULL, NULL, S1), 403);
		assert_null(header(f, "Location"));
		assert_body_has(f, "id=\"error\"");
		assert_body_has(f, "フォームの有効期限が切れました");
		assert_false(set_cookie(f, SESSION_COOKIE, f->session, sizeof f->session));
	}
	/* with the cookie and a wrong token */
	memcpy(f->login_cookie, keep, sizeof keep);
	f->csrf[0] = f->csrf[0] == 'A' ? 'B' : 'A';
	assert_int_equal(post_signin(f, login, PW1, NULL, S1), 403);
	assert_null(header(f, "Location"));
	assert_body_has(f, "フォームの有効期限が切れました");
	/* another form's token with this cookie */
	{
		char other[64];
		get_form(f);
		snprintf(other, sizeof other, "%s", f->csrf);
		get_form(f);
		snprintf(f->csrf, sizeof f->csrf, "%s", other);
		assert_int_equal(post_signin(f, login, PW1, NULL, S1), 403);
		assert_null(header(f, "Location"));
	}
	/* the matching pair signs in */
	{
		char code[128];
		get_form(f);
		post_signin(f, login, PW1, NULL, S1);
		assert_code(f, CB, code);
	}
}

/* ---- 6. access token checks -------------------------------------------------------------- */

static void test_access_token_checks(void **state)
{
	struct fx *f = *state;
	char login[REG_ID_MAX], code[128], access[2048];
	struct oidc_principal p;
	enum jwt_reason why;
	struct reg_user u;
	uint64_t t;

	signed_in_user(f, login);
	new_code(f, CB, code);
	f->now = (f->now / 1000 + 1) * 1000; /* T: a whole second */
	t = f->now;
	exchange(f, code, CB, VERIFIER);
	assert_tokens(f, access, sizeof access, NULL, 0);

	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t + 299 * 1000, &p,
						 &why),
			 OIDC_TOKEN_OK);
	assert_int_equal(why, JWT_VALID);
	assert_string_equal(p.client, APP);
	assert_string_equal(p.user, login);
	assert_true(oidc_scope_has(p.scope, "openid"));
	/* within the leeway after exp (T+300), then expired */
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t + 329 * 1000, &p,
						 &why),
			 OIDC_TOKEN_OK);
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access),
						 t + (300 + 31) * 1000, &p, &why),
			 OIDC_TOKEN_INVALID);
	assert_int_equal(why, JWT_EXPIRED);
	/* not yet valid well before it was issued */
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t - 60 * 1000, &p,
						 &why),
			 OIDC_TOKEN_INVALID);
	assert_int_equal(why, JWT_NOT_YET);
	/* a tampered signature */
	{
		char bad[2048];
		size_t n = strlen(access);
		snprintf(bad, sizeof bad, "%s", access);
		bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
		assert_int_equal(oidc_check_access_token(f->o, bad, n, t + 1000, &p, &why),
				 OIDC_TOKEN_INVALID);
		assert_int_equal(why, JWT_BAD_SIGNATURE);
	}
	/* userinfo takes it at T+10 s */
	f->now = t + 10 * 1000;
	{
		char auth[2100];
		snprintf(auth, sizeof auth, "Bearer %s", access);
		assert_int_equal(call(f, "GET", "/oidc/userinfo", NULL, NULL, auth, S1), 200);
		assert_string_equal(jstr(f, "sub"), login);
		assert_string_equal(jstr(f, "tenant"), "ua");
	}
	/* the application revoked: refused at once; reinstated: good again */
	assert_int_equal(registry_app_set_revoked(f->r, "operator", APP, 1, t, NULL, 0), SUIDO_OK);
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t + 10 * 1000, &p,
						 &why),
			 OIDC_TOKEN_APP_REVOKED);
	assert_int_equal(registry_app_set_revoked(f->r, "operator", APP, 0, t, NULL, 0), SUIDO_OK);
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t + 10 * 1000, &p,
						 &why),
			 OIDC_TOKEN_OK);
	/* the user disabled: refused */
	assert_int_equal(registry_user_get(f->r, login, &u), SUIDO_OK);
	u.disabled = 1;
	assert_int_equal(registry_user_update(f->r, "operator", &u, t, NULL, 0), SUIDO_OK);
	assert_int_equal(oidc_check_access_token(f->o, access, strlen(access), t + 10 * 1000, &p,
						 &why),
			 OIDC_TOKEN_USER_DISABLED);
}

/* ---- 7. key rotation ------------------------------------------------------------------------ */

static int jwks_has(struct fx *f, const char *kid)
{
	json_t *keys, *k;
	size_t i;

	f->now += 1000;
	assert_int_equal(call(f, "GET", "/oidc/jwks", NULL, NULL, NULL, S1), 200);
	assert_string_equal(f->res.ctype, "application/jwk-set+json");
	f->j = json_loadb(f->res.body.data, f->res.body.len, 0, NULL);
	keys = json_object_get(f->j, "keys");
	assert_true(json_is_array(keys));
	json_array_foreach(keys, i, k) {
		const char *s = json_string_value(json_object_get(k, "kid"));
		if (s && strcmp(s, kid) == 0)
			return 1;
	}
	return 0;
}

static size_t jwks_count(struct fx *f)
{
	jwks_has(f, "");
	return json_array_size(json_object_get(f->j, "keys"));
}

static int key_file(struct fx *f, const char *kid)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s.pem", f->keys, kid);
	return stat(path, &st) == 0;
}

static void cc_token(struct fx *f, char *access, size_t len)
{
	assert_int_equal(token_post(f, "grant_type=client_credentials"), 200);
	assert_tokens(f, access, len, NULL, 0);
}

static void test_key_rotation(void **state)
{
	struct fx *f = *state;
	char tok1[2048], tok2[2048], tok3[2048], k1[JWT_KID_MAX], k2[JWT_KID_MAX],
		k3[JWT_KID_MAX], err[256];
	uint64_t t1, t2, t3;
	struct oidc_principal p;
	enum jwt_reason why;

	start(f);
	t1 = f->now;
	cc_token(f, tok1, sizeof tok1);
	jwt_kid(tok1, k1, sizeof k1);
	assert_true(key_file(f, k1));
	assert_true(jwks_has(f, k1));
	assert_int_equal(jwks_count(f), 1);

	/* a day later: a new key signs; both are published; the old token verifies */
	f->now = T0 + 86400ULL * 1000;
	if (oidc_rotate(f->o, f->now, err, sizeof err) != SUIDO_OK)
		fail_msg("oidc_rotate: %s", err);
	t2 = f->now;
	cc_token(f, tok2, sizeof tok2);
	jwt_kid(tok2, k2, sizeof k2);
	assert_string_not_equal(k1, k2);
	assert_true(jwks_has(f, k1));
	assert_true(jwks_has(f, k2));
	assert_int_equal(jwks_count(f), 2);
	assert_true(key_file(f, k1));
	assert_true(key_file(f, k2));
	assert_int_equal(oidc_check_access_token(f->o, tok1, strlen(tok1), t1 + 1000, &p, &why),
			 OIDC_TOKEN_OK);
	assert_int_equal(oidc_check_access_token(f->o, tok2, strlen(tok2), t2 + 1000, &p, &why),
			 OIDC_TOKEN_OK);

	/* a second rotation retires the oldest: its tokens and its file are gone */
	f->now = T0 + 2 * 86400ULL * 1000;
	if (oidc_rotate(f->o, f->now, err, sizeof err) != SUIDO_OK)
		fail_msg("oidc_rotate: %s", err);
	t3 = f->now;
	cc_token(f, tok3, sizeof tok3);
	jwt_kid(tok3, k3, sizeof k3);
	assert_string_not_equal(k3, k2);
	assert_string_not_equal(k3, k1);
	assert_false(jwks_has(f, k1));
	assert_true(jwks_has(f, k2));
	assert_true(jwks_has(f, k3));
	assert_int_equal(jwks_count(f), 2);
	assert_false(key_file(f, k1));
	assert_true(key_file(f, k2));
	assert_true(key_file(f, k3));
	assert_int_equal(oidc_check_access_token(f->o, tok1, strlen(tok1), t1 + 1000, &p, &why),
			 OIDC_TOKEN_INVALID);
	assert_int_equal(why, JWT_UNKNOWN_KID);
	assert_int_equal(oidc_check_access_token(f->o, tok2, strlen(tok2), t2 + 1000, &p, &why),
			 OIDC_TOKEN_OK);
	assert_int_equal(oidc_check_access_token(f->o, tok3, strlen(tok3), t3 + 1000, &p, &why),
			 OIDC_TOKEN_OK);

	/* a restart finds the two keys and keeps signing with the newest */
	oidc_free(f->o);
	f->o = NULL;
	f->now = t3 + 1000;
	start(f);
	cc_token(f, tok1, sizeof tok1);
	jwt_kid(tok1, k1, sizeof k1);
	assert_string_equal(k1, k3);
	assert_true(jwks_has(f, k2));
	assert_int_equal(oidc_check_access_token(f->o, tok2, strlen(tok2), t2 + 1000, &p, &why),
			 OIDC_TOKEN_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_change_and_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_grant_no_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_reuse_revokes_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_expiry_pkce_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorize_request_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_expiry_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_token_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_rotation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
