/*
 * Server-side sessions (session.h). An open-addressing table with linear
 * probing, keyed by the SHA-256 of the 32-byte session id (uniformly
 * distributed, so its first bytes are the slot), twice as many slots as
 * sessions allowed, deletion by backward shift (no tombstones to pile up).
 * The id itself never enters the table; the CSRF token is an HMAC of the id
 * under a server key and is not stored either. A request's id is accepted
 * only in its one canonical base64url form, so two spellings of one id do
 * not exist.
 */
#include "suido/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "suido/error.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define CSRF_LABEL "suido-csrf"

_Static_assert(SESSION_ID_TEXT == sodium_base64_ENCODED_LEN(SESSION_ID_BYTES, B64),
	       "id text size");

struct slot {
	unsigned char digest[crypto_hash_sha256_BYTES];
	unsigned char used;
	char user[SESSION_USER_MAX + 1];
	uint64_t created;
	uint64_t last;
};

struct session_table {
	pthread_mutex_t mu;
	struct session_config c;
	unsigned char key[SESSION_KEY_BYTES];
	struct slot *slots;
	size_t mask;   /* slots - 1; slots is a power of two */
	size_t count;
};

void session_config_defaults(struct session_config *c)
{
	c->idle_ms = 30 * 60 * 1000;
	c->absolute_ms = 12 * 3600 * 1000;
	c->max_sessions = 16384;
	c->max_per_user = 16;
}

int session_table_create(const struct session_config *c, const unsigned char *key,
			 struct session_table **out)
{
	struct session_table *t;
	size_t n = 1;

	*out = NULL;
	if (c->idle_ms == 0 || c->absolute_ms == 0 || c->idle_ms > c->absolute_ms ||
	    c->max_sessions == 0 || c->max_sessions > SESSION_MAX_SESSIONS_CAP ||
	    c->max_per_user == 0)
		return SUIDO_ERR_INVALID;
	if (sodium_init() < 0)
		return SUIDO_ERR_CONFIG;
	while (n < 2 * c->max_sessions)
		n *= 2;
	t = calloc(1, sizeof *t);
	if (!t)
		return SUIDO_ERR_NOMEM;
	t->slots = calloc(n, sizeof *t->slots);
	if (!t->slots || pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->slots);
		free(t);
		return SUIDO_ERR_NOMEM;
	}
	t->c = *c;
	t->mask = n - 1;
	if (key)
		memcpy(t->key, key, SESSION_KEY_BYTES);
	else
		randombytes_buf(t->key, sizeof t->key);
	*out = t;
	return SUIDO_OK;
}

void session_table_free(struct session_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	sodium_memzero(t->key, sizeof t->key);
	free(t->slots);
	free(t);
}

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static int is_b64url(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/* Decodes an id of exactly 43 base64url characters in canonical form (the
 * two spare bits zero) into raw. Returns 0 or -1. */
static int id_decode(const char *id, unsigned char raw[SESSION_ID_BYTES])
{
	char again[SESSION_ID_TEXT];
	size_t n;

	if (!id || strnlen(id, SESSION_ID_TEXT) != SESSION_ID_CHARS)
		return -1;
	for (size_t i = 0; i < SESSION_ID_CHARS; i++)
		if (!is_b64url(id[i]))
			return -1;
	if (sodium_base642bin(raw, SESSION_ID_BYTES, id, SESSION_ID_CHARS, NULL, &n, NULL, B64) !=
		    0 ||
	    n != SESSION_ID_BYTES)
		return -1;
	sodium_bin2base64(again, sizeof again, raw, SESSION_ID_BYTES, B64);
	if (memcmp(again, id, SESSION_ID_CHARS) != 0) {
		sodium_memzero(raw, SESSION_ID_BYTES);
		return -1;
	}
	return 0;
}

static int id_digest(const char *id, unsigned char d[crypto_hash_sha256_BYTES])
{
	unsigned char raw[SESSION_ID_BYTES];

	if (id_decode(id, raw) != 0)
		return -1;
	crypto_hash_sha256(d, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

static size_t home(const struct session_table *t, const unsigned char *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof h);
	return (size_t)h & t->mask;
}

/* The slot of digest d, or SIZE_MAX. */
static size_t find(const struct session_table *t, const unsigned char *d)
{
	for (size_t i = home(t, d);; i = (i + 1) & t->mask) {
		const struct slot *s = &t->slots[i];

		if (!s->used)
			return SIZE_MAX;
		if (sodium_memcmp(s->digest, d, sizeof s->digest) == 0)
			return i;
	}
}

/* Empties slot i and moves later members of its probe run back into the
 * hole (Knuth 6.4 algorithm R), so that every lookup still reaches them. An
 * entry may move into slot i itself: callers scanning the table re-read i. */
static void remove_at(struct session_table *t, size_t i)
{
	size_t j = i;

	sodium_memzero(&t->slots[i], sizeof t->slots[i]);
	t->count--;
	for (;;) {
		size_t h;

		j = (j + 1) & t->mask;
		if (!t->slots[j].used)
			return;
		h = home(t, t->slots[j].digest);
		/* Leave slot j where it is when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		t->slots[i] = t->slots[j];
		sodium_memzero(&t->slots[j], sizeof t->slots[j]);
		i = j;
	}
}

static int expired(const struct session_table *t, const struct slot *s, uint64_t now)
{
	return since(now, s->last) >= t->c.idle_ms || since(now, s->created) >= t->c.absolute_ms;
}

static void sweep(struct session_table *t, uint64_t now)
{
	for (size_t i = 0; i <= t->mask;) {
		if (t->slots[i].used && expired(t, &t->slots[i], now))
			remove_at(t, i); /* re-read slot i: something may have moved in */
		else
			i++;
	}
}

static int user_ok(const char *user)
{
	size_t n;

	if (!user)
		return 0;
	n = strnlen(user, SESSION_USER_MAX + 1);
	return n >= 1 && n <= SESSION_USER_MAX;
}

int session_create(struct session_table *t, const char *user, uint64_t now_ms,
		   char id[SESSION_ID_TEXT])
{
	unsigned char raw[SESSION_ID_BYTES], d[crypto_hash_sha256_BYTES], lru[sizeof d];
	size_t mine = 0, i;
	uint64_t lru_last = UINT64_MAX;
	int rc = SUIDO_OK;

	id[0] = '\0';
	if (!user_ok(user))
		return SUIDO_ERR_INVALID;
	pthread_mutex_lock(&t->mu);
	/* Expired sessions go first (a scan a sign-in can afford: the
	 * Argon2id before it costs far more); then the user's live sessions are
	 * counted and the least recently used one makes room. */
	sweep(t, now_ms);
	for (i = 0; i <= t->mask; i++) {
		const struct slot *s = &t->slots[i];

		if (s->used && strcmp(s->user, user) == 0) {
			mine++;
			if (s->last < lru_last) {
				lru_last = s->last;
				memcpy(lru, s->digest, sizeof lru);
			}
		}
	}
	if (mine >= t->c.max_per_user && (i = find(t, lru)) != SIZE_MAX)
		remove_at(t, i);
	if (t->count >= t->c.max_sessions) {
		rc = SUIDO_ERR_FULL;
		goto out;
	}
	do {
		randombytes_buf(raw, sizeof raw);
		crypto_hash_sha256(d, raw, sizeof raw);
	} while (find(t, d) != SIZE_MAX); /* 2^-256: never, but cheap to be sure */
	for (i = home(t, d); t->slots[i].used; i = (i + 1) & t->mask)
		;
	memcpy(t->slots[i].digest, d, sizeof d);
	t->slots[i].used = 1;
	memcpy(t->slots[i].user, user, strlen(user) + 1);
	t->slots[i].created = now_ms;
	t->slots[i].last = now_ms;
	t->count++;
	sodium_bin2base64(id, SESSION_ID_TEXT, raw, sizeof raw, B64);
out:
	pthread_mutex_unlock(&t->mu);
	sodium_memzero(raw, sizeof raw);
	return rc;
}

static int lookup(struct session_table *t, const char *id, uint64_t now_ms, int touch,
		  struct session_info *info)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	struct slot *s;
	size_t i;
	int rc = SUIDO_ERR_NOTFOUND;

	if (info)
		memset(info, 0, sizeof *info);
	if (id_digest(id, d) != 0)
		return SUIDO_ERR_NOTFOUND;
	pthread_mutex_lock(&t->mu);
	i = find(t, d);
	if (i == SIZE_MAX)
		goto out;
	s = &t->slots[i];
	if (expired(t, s, now_ms)) {
		remove_at(t, i);
		goto out;
	}
	if (touch && now_ms > s->last)
		s->last = now_ms;
	if (info) {
		uint64_t idle = s->last + t->c.idle_ms, abs = s->created + t->c.absolute_ms;

		memcpy(info->user, s->user, sizeof info->user);
		info->created_ms = s->created;
		info->last_used_ms = s->last;
		info->expires_ms = idle < abs ? idle : abs;
	}
	rc = SUIDO_OK;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int session_lookup(struct session_table *t, const char *id, uint64_t now_ms,
		   struct session_info *info)
{
	return lookup(t, id, now_ms, 0, info);
}

int session_touch(struct session_table *t, const char *id, uint64_t now_ms,
		  struct session_info *info)
{
	return lookup(t, id, now_ms, 1, info);
}

int session_revoke(struct session_table *t, const char *id)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	size_t i;

	if (id_digest(id, d) != 0)
		return SUIDO_ERR_NOTFOUND;
	pthread_mutex_lock(&t->mu);
	i = find(t, d);
	if (i != SIZE_MAX)
		remove_at(t, i);
	pthread_mutex_unlock(&t->mu);
	return i == SIZE_MAX ? SUIDO_ERR_NOTFOUND : SUIDO_OK;
}

int session_revoke_user(struct session_table *t, const char *user, const char *keep_id,
			size_t *count)
{
	unsigned char keep[crypto_hash_sha256_BYTES];
	int has_keep = keep_id && id_digest(keep_id, keep) == 0;
	size_t n = 0;

	if (count)
		*count = 0;
	if (!user_ok(user))
		return SUIDO_ERR_INVALID;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i <= t->mask;) {
		struct slot *s = &t->slots[i];

		if (s->used && strcmp(s->user, user) == 0 &&
		    !(has_keep && sodium_memcmp(s->digest, keep, sizeof keep) == 0)) {
			remove_at(t, i); /* re-read slot i */
			n++;
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&t->mu);
	if (count)
		*count = n;
	return SUIDO_OK;
}

size_t session_count(struct session_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static int csrf_compute(const struct session_table *t, const char *id, char out[SESSION_CSRF_TEXT])
{
	unsigned char raw[SESSION_ID_BYTES], mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	if (id_decode(id, raw) != 0)
		return -1;
	crypto_auth_hmacsha256_init(&st, t->key, sizeof t->key);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)CSRF_LABEL, strlen(CSRF_LABEL));
	crypto_auth_hmacsha256_update(&st, raw, sizeof raw);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(out, SESSION_CSRF_TEXT, mac, sizeof mac, B64);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(mac, sizeof mac);
	sodium_memzero(&st, sizeof st);
	return 0;
}

int session_csrf_token(const struct session_table *t, const char *id, char out[SESSION_CSRF_TEXT])
{
	out[0] = '\0';
	return csrf_compute(t, id, out) == 0 ? SUIDO_OK : SUIDO_ERR_INVALID;
}

int session_csrf_check(const struct session_table *t, const char *id, const char *token)
{
	char want[SESSION_CSRF_TEXT];
	int rc;

	/* The length is public (always 43); only the content is compared, in
	 * constant time. */
	if (!token || strnlen(token, SESSION_CSRF_TEXT) != SESSION_ID_CHARS ||
	    csrf_compute(t, id, want) != 0)
		return SUIDO_ERR_PERM;
	rc = sodium_memcmp(want, token, SESSION_ID_CHARS) == 0 ? SUIDO_OK : SUIDO_ERR_PERM;
	sodium_memzero(want, sizeof want);
	return rc;
}

int session_cookie_format(const char *id, uint64_t max_age_s, char *out, size_t outlen)
{
	return session_cookie_format_named(SESSION_COOKIE_NAME, id, max_age_s, out, outlen);
}

int session_cookie_format_named(const char *name, const char *id, uint64_t max_age_s, char *out,
				size_t outlen)
{
	unsigned char raw[SESSION_ID_BYTES];
	int n;

	if (outlen)
		out[0] = '\0';
	if (id) {
		if (id_decode(id, raw) != 0)
			return SUIDO_ERR_INVALID;
		sodium_memzero(raw, sizeof raw);
	}
	n = snprintf(out, outlen, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%llu",
		     name, id ? id : "", (unsigned long long)(id ? max_age_s : 0));
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			sodium_memzero(out, outlen);
		return SUIDO_ERR_LIMIT;
	}
	return SUIDO_OK;
}

static int is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

int session_cookie_parse(const char *header, size_t len, char id[SESSION_ID_TEXT])
{
	return session_cookie_parse_named(SESSION_COOKIE_NAME, header, len, id);
}

int session_cookie_parse_named(const char *name, const char *header, size_t len,
			       char id[SESSION_ID_TEXT])
{
	const size_t nlen = strlen(name);
	const char *val = NULL;
	size_t vlen = 0, found = 0, p = 0;

	id[0] = '\0';
	if (len > SESSION_COOKIE_HEADER_MAX)
		return SUIDO_ERR_LIMIT;
	/* cookie-pair *( ";" SP cookie-pair ) (RFC 6265 4.2.1), read leniently:
	 * any run of spaces and tabs around a pair, empty pairs skipped. */
	while (p < len) {
		size_t b = p, e, q;

		while (p < len && header[p] != ';')
			p++;
		e = p;
		p++; /* past ';' (or the end) */
		while (b < e && is_ows(header[b]))
			b++;
		while (e > b && is_ows(header[e - 1]))
			e--;
		q = b;
		while (q < e && header[q] != '=')
			q++;
		if (q == e || q - b != nlen || memcmp(header + b, name, nlen) != 0)
			continue;
		found++;
		val = header + q + 1;
		vlen = e - q - 1;
	}
	if (found == 0)
		return SUIDO_ERR_NOTFOUND;
	if (found > 1 || vlen != SESSION_ID_CHARS)
		return SUIDO_ERR_INVALID;
	for (size_t i = 0; i < vlen; i++)
		if (!is_b64url(val[i]))
			return SUIDO_ERR_INVALID;
	memcpy(id, val, vlen);
	id[vlen] = '\0';
	return SUIDO_OK;
}
