/*
 * bench_signin: the signin figure (issue 5: password sign-ins per second,
 * bounded by Argon2id, with the parameters reported).
 *
 *   bench_signin DIR [SECONDS] [THREADS] [ROUNDS]
 *     In the empty directory DIR: a registry (registry.db) with a utility
 *     tenant, a vendor, one application with a loopback redirect URI, and
 *     THREADS users (default 2: one per core here), each with a password set
 *     through registry_user_set_password (no one-time password left, no
 *     TOTP); and the OpenID provider (oidc_create, default oidc_config, keys
 *     in DIR/keys). Each thread signs in its own user, with its own source
 *     address, through the provider's real authorization endpoint driven
 *     in-process (oidc_handle with struct http_request): GET /oidc/authorize
 *     (a code + PKCE S256 request) answers the sign-in page with the
 *     pre-session cookie and the CSRF token, then POST /oidc/authorize with
 *     that cookie, the token, the request's hidden fields, login ID and
 *     password must answer 303 to the redirect URI with a code. One sign-in
 *     is that GET and that POST.
 *     The reference: libsodium's crypto_pwhash (Argon2id v1.3,
 *     PASSWORD_OPSLIMIT passes, PASSWORD_MEMLIMIT bytes, 32-byte output) on
 *     the same number of threads. ROUNDS (default 5) rounds alternate
 *     SECONDS (default 2) of the reference with SECONDS of sign-ins; each
 *     rate is operations per wall-clock second over all threads. Prints one
 *     line
 *       "alg=argon2id opslimit=O memlimit_mib=M parallelism=1 threads=T
 *        rounds=R seconds=S signins_per_s=X hashes_per_s=Y ratio=Q
 *        signins=A,B,.. hashes=.. ratios=.. signin_cpu_ms=C hash_cpu_ms=D
 *        get_ms=G post_ms=P"
 *     where X and Y are the medians of the per-round rates (listed after),
 *     Q the median of the per-round ratios sign-ins/s ÷ hashes/s (a round's
 *     two phases run back to back, so a shared machine's load changes
 *     between rounds cancel out), signin_cpu_ms / hash_cpu_ms the medians of
 *     the process's CPU time per operation, and get_ms / post_ms the mean
 *     wall time of one GET and one POST of the last round (per thread).
 * The sign-in throttle (lockout.h) charges each attempt up front and
 * refunds it on success, and every sign-in here succeeds (each is checked),
 * so it never delays one: the provider keeps the default lockout policy, as
 * the platform does, and each thread still has its own user and its own
 * source address (192.0.2.N). The provider's log lines
 * (one per sign-in) go to DIR/oidc.log.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "oidc.h"
#include "registry.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/password.h"
#include "suido/timeutil.h"

#define THREADS_MAX 16
#define ROUNDS_MAX 15
#define CLIENT "bench-app"
#define REDIRECT "http://127.0.0.1:9/cb"
#define LOGIN_COOKIE "__Host-suido_login"

static const char pw_base[] = "Kawasaki#River7!"; /* + the thread's digit */

/* A fixed, well-formed S256 challenge: the bench never redeems the code. */
static const char query[] =
	"client_id=" CLIENT "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code"
	"&scope=openid%20profile&state=bench-state&nonce=bench-nonce"
	"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

/* Appends s percent-encoded (all but unreserved). */
static void pct(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			strbuf_putc(sb, (char)c);
		else
			strbuf_printf(sb, "%%%02X", c);
	}
}

static const char *header(const struct http_response *r, const char *name, const char *prefix)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, name) == 0 &&
		    strncmp(r->headers[i].value, prefix, strlen(prefix)) == 0)
			return r->headers[i].value;
	return NULL;
}

struct worker {
	struct oidc *oidc;
	int reference;            /* 1: crypto_pwhash; 0: sign-ins */
	double seconds;
	char login[REG_ID_MAX];
	char password[32];
	char source[32];
	long n;
	double get_s, post_s;     /* time spent in each half of the sign-ins */
	const char *failed;       /* what went wrong, NULL when nothing */
};

/* One sign-in (GET the form, POST it). Returns NULL or what failed. */
static const char *sign_in(struct worker *w, double *get_s, double *post_s)
{
	struct http_request rq;
	struct http_response out;
	struct strbuf body = STRBUF_INIT;
	char cookie[256], csrf[128];
	const char *v, *p, *e, *why = NULL;
	double t0 = bench_mono_s(), t1;

	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.path = "/oidc/authorize";
	rq.path_len = strlen(rq.path);
	rq.query = query;
	rq.source = w->source;
	rq.now_ms = (uint64_t)timeutil_now_ms();
	http_response_init(&out);
	oidc_handle(w->oidc, &rq, &out);
	if (out.status != 200 || !(v = header(&out, "Set-Cookie", LOGIN_COOKIE "=")) ||
	    !out.body.data || !(p = strstr(out.body.data, "name=\"csrf\" value=\"")) ||
	    !(e = strchr(p += 19, '"')) || (size_t)(e - p) >= sizeof csrf ||
	    strcspn(v, ";") >= sizeof cookie) {
		why = "GET /oidc/authorize did not answer the sign-in page with a cookie and csrf";
		goto out;
	}
	snprintf(csrf, sizeof csrf, "%.*s", (int)(e - p), p);
	snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(v, ";"), v);
	http_response_free(&out);
	t1 = bench_mono_s();
	*get_s += t1 - t0;

	strbuf_puts(&body, "csrf=");
	pct(&body, csrf);
	strbuf_putc(&body, '&');
	strbuf_puts(&body, query);
	strbuf_puts(&body, "&login_id=");
	pct(&body, w->login);
	strbuf_puts(&body, "&password=");
	pct(&body, w->password);
	strbuf_puts(&body, "&otp=");
	if (body.failed)
		bench_die("out of memory");
	rq.method = "POST";
	rq.query = "";
	rq.content_type = "application/x-www-form-urlencoded";
	rq.cookie = cookie;
	rq.body = body.data;
	rq.body_len = body.len;
	rq.now_ms = (uint64_t)timeutil_now_ms();
	http_response_init(&out);
	oidc_handle(w->oidc, &rq, &out);
	if (out.status != 303 || !(v = header(&out, "Location", REDIRECT "?code=")) ||
	    !header(&out, "Set-Cookie", SESSION_COOKIE_NAME "="))
		why = "POST /oidc/authorize did not sign in (no 303 with a code and a session)";
	*post_s += bench_mono_s() - t1;
out:
	if (why && out.status)
		fprintf(stderr, "bench_signin: HTTP %u: %.300s\n", out.status,
			out.body.data ? out.body.data : "");
	http_response_free(&out);
	strbuf_free(&body);
	return why;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double end = bench_mono_s() + w->seconds;
	unsigned char salt[crypto_pwhash_SALTBYTES], key[32];

	randombytes_buf(salt, sizeof salt);
	do {
		if (w->reference) {
			if (crypto_pwhash(key, sizeof key, w->password, strlen(w->password), salt,
					  PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT,
					  crypto_pwhash_ALG_ARGON2ID13) != 0) {
				w->failed = "crypto_pwhash failed (out of memory?)";
				break;
			}
		} else if ((w->failed = sign_in(w, &w->get_s, &w->post_s)) != NULL) {
			break;
		}
		w->n++;
	} while (bench_mono_s() < end);
	return NULL;
}

/* Runs one phase on every worker; returns operations per wall-clock second
 * and sets *cpu_ms to the process's CPU time per operation. */
static double phase(struct worker *w, int threads, int reference, double *cpu_ms)
{
	pthread_t th[THREADS_MAX];
	double t0 = bench_mono_s(), c0 = bench_cpu_s();
	long n = 0;

	for (int i = 0; i < threads; i++) {
		w[i].reference = reference;
		w[i].n = 0;
		w[i].get_s = w[i].post_s = 0;
		if (pthread_create(&th[i], NULL, run, &w[i]) != 0)
			bench_die("pthread_create failed");
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t0 = bench_mono_s() - t0;
	c0 = bench_cpu_s() - c0;
	for (int i = 0; i < threads; i++) {
		if (w[i].failed)
			bench_die("%s", w[i].failed);
		n += w[i].n;
	}
	*cpu_ms = 1e3 * c0 / n;
	return n / t0;
}

static void print_list(const char *key, const double *v, int n)
{
	printf(" %s=", key);
	for (int k = 0; k < n; k++)
		printf("%s%.3f", k ? "," : "", v[k]);
}

/* Tenant bench (utility), vendor v linked to it, application CLIENT. */
static void provision(struct registry *r, uint64_t now)
{
	struct reg_tenant t = {"bench", REG_UTILITY, "ベンチ市水道局", 0};
	struct reg_app app;
	char err[256] = "", secret[REG_SECRET_TEXT];

	memset(&app, 0, sizeof app);
	snprintf(app.id, sizeof app.id, CLIENT);
	snprintf(app.vendor, sizeof app.vendor, "v");
	snprintf(app.name, sizeof app.name, "ベンチアプリ");
	snprintf(app.redirect_uris, sizeof app.redirect_uris, "[\"" REDIRECT "\"]");
	if (registry_tenant_add(r, "config", &t, now, err, sizeof err) != SUIDO_OK)
		bench_die("tenant: %s", err);
	snprintf(t.id, sizeof t.id, "v");
	snprintf(t.name, sizeof t.name, "ベンチ株式会社");
	t.kind = REG_VENDOR;
	if (registry_tenant_add(r, "config", &t, now, err, sizeof err) != SUIDO_OK ||
	    registry_link_add(r, "config", "bench", "v", now, err, sizeof err) != SUIDO_OK ||
	    registry_app_add(r, "config", &app, secret, now, err, sizeof err) != SUIDO_OK ||
	    /* codes only for users of a utility that granted the client */
	    registry_grant_set(r, "config", app.id, "bench", "{\"all\":true}", now, err,
			       sizeof err) != SUIDO_OK)
		bench_die("provision: %s", err);
}

/* A user of tenant bench whose password is w->password (must_change 0). */
static void add_user(struct registry *r, struct password_policy *pol, struct worker *w, int i,
		     uint64_t now)
{
	struct reg_user u;
	char otp[REG_OTP_TEXT], err[256] = "";
	int reason = 0;

	memset(&u, 0, sizeof u);
	snprintf(u.tenant, sizeof u.tenant, "bench");
	snprintf(u.name_kanji, sizeof u.name_kanji, "水道 太郎%d", i);
	snprintf(u.name_kana, sizeof u.name_kana, "すいどう たろう");
	snprintf(u.name_romaji, sizeof u.name_romaji, "Suido Taro");
	if (registry_user_add(r, "config", &u, otp, now, err, sizeof err) != SUIDO_OK)
		bench_die("user: %s", err);
	snprintf(w->login, sizeof w->login, "%s", u.login);
	snprintf(w->password, sizeof w->password, "%s%d", pw_base, i);
	if (registry_user_set_password(r, "config", u.login, w->password, strlen(w->password), pol,
				       NULL, &reason, now, err, sizeof err) != SUIDO_OK)
		bench_die("password of %s: %s (reason %d)", u.login, err, reason);
	if (registry_user_get(r, u.login, &u) != SUIDO_OK || u.must_change || u.otp_required ||
	    u.totp_enrolled)
		bench_die("user %s is not a plain password user", u.login);
	snprintf(w->source, sizeof w->source, "192.0.2.%d", i + 1);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	int threads = argc > 3 ? atoi(argv[3]) : 2, rounds = argc > 4 ? atoi(argv[4]) : 5;
	double ours[ROUNDS_MAX], ref[ROUNDS_MAX], ratio[ROUNDS_MAX], cpu_o[ROUNDS_MAX], cpu_f[ROUNDS_MAX], get_s = 0, post_s = 0;
	struct worker w[THREADS_MAX];
	struct registry *reg = NULL;
	struct oidc *oidc = NULL;
	struct oidc_config oc;
	char path[4096], keys[4096], err[512] = "";
	uint64_t now = (uint64_t)timeutil_now_ms();
	FILE *log;
	long n = 0;

	if (!dir || seconds <= 0 || threads < 1 || threads > THREADS_MAX || rounds < 1 ||
	    rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: bench_signin DIR [SECONDS] [THREADS (1-%d)] [ROUNDS (1-%d)]\n",
			THREADS_MAX, ROUNDS_MAX);
		return 64;
	}
	if (sodium_init() < 0)
		bench_die("sodium_init failed");
	snprintf(path, sizeof path, "%s/oidc.log", dir);
	if (!(log = fopen(path, "a")))
		bench_die("%s: cannot open", path);
	log_set_stream(log);
	snprintf(path, sizeof path, "%s/registry.db", dir);
	if (registry_open(path, &reg, err, sizeof err) != SUIDO_OK)
		bench_die("%s: %s", path, err);
	oidc_config_defaults(&oc);
	provision(reg, now);
	memset(w, 0, sizeof w);
	for (int i = 0; i < threads; i++)
		add_user(reg, &oc.policy, &w[i], i, now);
	snprintf(keys, sizeof keys, "%s/keys", dir);
	oc.issuer = "https://platform.bench.example";
	oc.keys_dir = keys;
	oc.registry = reg;
	if (oidc_create(&oc, now, &oidc, err, sizeof err) != SUIDO_OK)
		bench_die("oidc_create: %s", err);
	for (int i = 0; i < threads; i++) {
		const char *why;
		w[i].oidc = oidc;
		w[i].seconds = seconds;
		if ((why = sign_in(&w[i], &get_s, &post_s)) != NULL) /* warm-up, checked */
			bench_die("%s: %s", w[i].login, why);
	}
	for (int k = 0; k < rounds; k++) {
		ref[k] = phase(w, threads, 1, &cpu_f[k]);
		ours[k] = phase(w, threads, 0, &cpu_o[k]);
		ratio[k] = ours[k] / ref[k];
	}
	get_s = post_s = 0;
	for (int i = 0; i < threads; i++) {
		get_s += w[i].get_s;
		post_s += w[i].post_s;
		n += w[i].n;
	}
	printf("alg=argon2id opslimit=%u memlimit_mib=%u parallelism=1 threads=%d rounds=%d "
	       "seconds=%.1f signins_per_s=%.2f hashes_per_s=%.2f ratio=%.3f",
	       PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT >> 20, threads, rounds, seconds,
	       bench_median(ours, rounds), bench_median(ref, rounds), bench_median(ratio, rounds));
	print_list("signins", ours, rounds);
	print_list("hashes", ref, rounds);
	print_list("ratios", ratio, rounds);
	printf(" signin_cpu_ms=%.2f hash_cpu_ms=%.2f get_ms=%.3f post_ms=%.2f\n",
	       bench_median(cpu_o, rounds), bench_median(cpu_f, rounds), 1e3 * get_s / n, 1e3 * post_s / n);
	oidc_free(oidc);
	registry_close(reg);
	fclose(log);
	return 0;
}
