/*
 * TOTP second factor (totp.h). liboath computes RFC 6238 codes and base32;
 * the window, the replay rule and the comparison are here. For a sign-in all
 * three candidate codes are computed and compared with sodium_memcmp whatever
 * matches, so the time taken tells nothing about which step (if any) the
 * code was for. Recovery codes are hashed with password.c's Argon2id.
 */
#include "suido/totp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "suido/error.h"
#include "suido/password.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_state = -1;

static void oath_start(void)
{
	oath_state = oath_init();
}

/* liboath must be initialised once before use; oath_init is not thread-safe. */
static int oath_ready(void)
{
	pthread_once(&oath_once, oath_start);
	return oath_state == OATH_OK;
}

int64_t totp_step(int64_t now)
{
	return now / TOTP_PERIOD;
}

int totp_secret_generate(unsigned char secret[TOTP_SECRET_BYTES])
{
	if (sodium_init() < 0)
		return SUIDO_ERR_CONFIG;
	randombytes_buf(secret, TOTP_SECRET_BYTES);
	return SUIDO_OK;
}

int totp_secret_to_base32(const unsigned char *secret, size_t len, char *out, size_t outlen)
{
	char *enc = NULL;
	size_t n = 0;
	int rc;

	if (outlen)
		out[0] = '\0';
	if (len == 0 || len > TOTP_SECRET_MAX)
		return SUIDO_ERR_INVALID;
	if (!oath_ready())
		return SUIDO_ERR_CONFIG;
	if (oath_base32_encode((const char *)secret, len, &enc, &n) != OATH_OK)
		return SUIDO_ERR_NOMEM;
	if (n + 1 > outlen) {
		rc = SUIDO_ERR_LIMIT;
	} else {
		memcpy(out, enc, n);
		out[n] = '\0';
		rc = SUIDO_OK;
	}
	sodium_memzero(enc, n);
	free(enc);
	return rc;
}

int totp_secret_from_base32(const char *text, size_t len, unsigned char out[TOTP_SECRET_MAX],
			    size_t *outlen)
{
	char *dec = NULL;
	size_t n = 0;
	int rc, orc;

	*outlen = 0;
	sodium_memzero(out, TOTP_SECRET_MAX);
	if (len > TOTP_BASE32_MAX)
		return SUIDO_ERR_LIMIT;
	/* liboath stops at nothing: an embedded NUL would be a character it
	 * refuses anyway, but say so here rather than rely on it. */
	if (memchr(text, '\0', len))
		return SUIDO_ERR_INVALID;
	if (!oath_ready())
		return SUIDO_ERR_CONFIG;
	orc = oath_base32_decode(text, len, &dec, &n);
	if (orc == OATH_MALLOC_ERROR)
		return SUIDO_ERR_NOMEM;
	if (orc != OATH_OK || n == 0) {
		rc = SUIDO_ERR_INVALID;
	} else if (n > TOTP_SECRET_MAX) {
		rc = SUIDO_ERR_LIMIT;
	} else {
		memcpy(out, dec, n);
		*outlen = n;
		rc = SUIDO_OK;
	}
	if (dec) {
		sodium_memzero(dec, n);
		free(dec);
	}
	return rc;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int totp_uri(const char *login, const unsigned char *secret, size_t len, char **out)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char params[] = "&issuer=" TOTP_ISSUER "&algorithm=SHA1&digits=6&period=30";
	char key[2 * TOTP_SECRET_MAX], *uri = NULL;
	size_t llen, o = 0, cap;
	int rc;

	*out = NULL;
	llen = login ? strnlen(login, TOTP_LOGIN_MAX + 1) : 0;
	if (llen == 0 || llen > TOTP_LOGIN_MAX)
		return SUIDO_ERR_INVALID;
	for (size_t i = 0; i < llen; i++)
		if ((unsigned char)login[i] < 0x20 || login[i] == 0x7f)
			return SUIDO_ERR_INVALID;
	rc = totp_secret_to_base32(secret, len, key, sizeof key);
	if (rc != SUIDO_OK)
		return rc == SUIDO_ERR_NOMEM ? rc : SUIDO_ERR_INVALID;
	cap = sizeof "otpauth://totp/" TOTP_ISSUER ":" + 3 * llen + sizeof "?secret=" + strlen(key) +
	      sizeof params;
	uri = malloc(cap);
	if (!uri) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	o = (size_t)snprintf(uri, cap, "otpauth://totp/%s:", TOTP_ISSUER);
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)login[i];

		if (unreserved(c)) {
			uri[o++] = (char)c;
		} else {
			uri[o++] = '%';
			uri[o++] = hex[c >> 4];
			uri[o++] = hex[c & 15];
		}
	}
	snprintf(uri + o, cap - o, "?secret=%s%s", key, params);
	*out = uri;
	rc = SUIDO_OK;
out:
	sodium_memzero(key, sizeof key);
	return rc;
}

static int code_at(const unsigned char *secret, size_t len, int64_t step, char out[TOTP_DIGITS + 1])
{
	/* The step's first second: liboath divides it by the period again. */
	if (oath_totp_generate2((const char *)secret, len, (time_t)(step * TOTP_PERIOD), TOTP_PERIOD,
				0, TOTP_DIGITS, 0, out) != OATH_OK)
		return SUIDO_ERR_CONFIG;
	return SUIDO_OK;
}

int totp_generate(const unsigned char *secret, size_t len, int64_t now, char out[TOTP_DIGITS + 1])
{
	out[0] = '\0';
	if (now < 0 || len == 0 || len > TOTP_SECRET_MAX)
		return SUIDO_ERR_INVALID;
	if (!oath_ready())
		return SUIDO_ERR_CONFIG;
	return code_at(secret, len, totp_step(now), out);
}

int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
		int64_t last_step, int64_t *step)
{
	char want[TOTP_DIGITS + 1];
	int64_t t, best = -1;
	int replay = 0, rc = SUIDO_OK;

	if (now < 0 || len == 0 || len > TOTP_SECRET_MAX || !code)
		return SUIDO_ERR_INVALID;
	for (int i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return SUIDO_ERR_INVALID;
	if (code[TOTP_DIGITS] != '\0')
		return SUIDO_ERR_INVALID;
	if (!oath_ready())
		return SUIDO_ERR_CONFIG;
	t = totp_step(now);
	for (int64_t s = t - TOTP_SKEW; s <= t + TOTP_SKEW; s++) {
		int same;

		if (s < 0)
			continue;
		rc = code_at(secret, len, s, want);
		if (rc != SUIDO_OK)
			goto out;
		same = sodium_memcmp(want, code, TOTP_DIGITS) == 0;
		if (same && s > last_step)
			best = s; /* the loop ascends: the latest matching step wins */
		else if (same)
			replay = 1;
	}
	if (best >= 0)
		*step = best;
	rc = best >= 0 ? SUIDO_OK : replay ? SUIDO_ERR_EXISTS : SUIDO_ERR_PERM;
out:
	sodium_memzero(want, sizeof want);
	return rc;
}

int totp_recovery_generate(char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT],
			   char hashes[TOTP_RECOVERY_COUNT][PASSWORD_HASH_MAX])
{
	char bare[TOTP_RECOVERY_CHARS];
	int rc = SUIDO_OK;

	if (sodium_init() < 0)
		return SUIDO_ERR_CONFIG;
	for (int i = 0; i < TOTP_RECOVERY_COUNT && rc == SUIDO_OK; i++) {
		for (int k = 0; k < TOTP_RECOVERY_CHARS; k++)
			bare[k] = b32[randombytes_uniform(32)];
		memcpy(codes[i], bare, 5);
		codes[i][5] = '-';
		memcpy(codes[i] + 6, bare + 5, 5);
		codes[i][11] = '\0';
		rc = password_hash(bare, sizeof bare, hashes[i]);
	}
	sodium_memzero(bare, sizeof bare);
	if (rc != SUIDO_OK) {
		sodium_memzero(codes, sizeof(char[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT]));
		sodium_memzero(hashes, sizeof(char[TOTP_RECOVERY_COUNT][PASSWORD_HASH_MAX]));
	}
	return rc;
}

/* One typed character as a base32 one, or 0 when it is none. */
static char recovery_char(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == '0')
		c = 'O';
	else if (c == '1')
		c = 'I';
	else if (c == '8')
		c = 'B';
	return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') ? c : 0;
}

int totp_recovery_verify(const char *const *hashes, size_t n, const char *code, size_t len,
			 size_t *index)
{
	char bare[TOTP_RECOVERY_CHARS];
	size_t k = 0;
	int rc = SUIDO_ERR_INVALID;

	for (size_t i = 0; i < len; i++) {
		char c;

		if (code[i] == '-' || code[i] == ' ')
			continue;
		if (k == TOTP_RECOVERY_CHARS || !(c = recovery_char(code[i])))
			goto out;
		bare[k++] = c;
	}
	if (k != TOTP_RECOVERY_CHARS)
		goto out;
	rc = SUIDO_ERR_PERM;
	for (size_t i = 0; i < n; i++) {
		if (hashes[i] && password_verify(hashes[i], bare, sizeof bare) == SUIDO_OK) {
			*index = i;
			rc = SUIDO_OK;
			break;
		}
	}
out:
	sodium_memzero(bare, sizeof bare);
	return rc;
}
