/*
 * libFuzzer target for what TOTP parses (totp.h): arbitrary bytes as base32
 * secret text, as a code, as a recovery code, and as the login ID of an
 * enrolment URI. Checked, not just survived: a decoded secret is 1..64 bytes
 * and survives encode/decode unchanged; a code that is not 6 digits is
 * INVALID and a 6-digit one is never; a recovery code is INVALID exactly
 * when it does not hold 10 base32 characters once hyphens and spaces are
 * dropped (with no stored hashes it is otherwise PERM); a URI is made
 * exactly for a login of 1..256 bytes without control bytes, and holds only
 * URI characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int recovery_shape(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-' || c == ' ')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '7') ||
		      c == '8'))
			return 0;
		k++;
	}
	return k == 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[20] = "12345678901234567890";
	unsigned char out[TOTP_SECRET_MAX], again[TOTP_SECRET_MAX];
	char text[2 * TOTP_SECRET_MAX + 8], *copy = malloc(size ? size : 1);
	char *cstr = malloc(size + 1), *uri = NULL;
	size_t n = 0, m = 0, idx = 0, llen;
	int64_t step = -7;
	int rc, digits;

	if (!copy || !cstr)
		abort();
	memcpy(copy, data, size);
	memcpy(cstr, data, size);
	cstr[size] = '\0';

	rc = totp_secret_from_base32(copy, size, out, &n);
	if (rc == SUIDO_OK) {
		if (n == 0 || n > TOTP_SECRET_MAX ||
		    totp_secret_to_base32(out, n, text, sizeof text) != SUIDO_OK ||
		    totp_secret_from_base32(text, strlen(text), again, &m) != SUIDO_OK || m != n ||
		    memcmp(out, again, n) != 0)
			abort();
	} else if (n != 0 || (rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_LIMIT)) {
		abort();
	}

	digits = strlen(cstr) == 6;
	for (size_t i = 0; digits && i < 6; i++)
		digits = cstr[i] >= '0' && cstr[i] <= '9';
	rc = totp_verify(key, sizeof key, cstr, 1234567890, -1, &step);
	if (digits ? rc == SUIDO_ERR_INVALID : rc != SUIDO_ERR_INVALID)
		abort();
	if ((rc == SUIDO_OK) != (step != -7))
		abort();

	rc = totp_recovery_verify(NULL, 0, copy, size, &idx);
	if (rc != (recovery_shape(copy, size) ? SUIDO_ERR_PERM : SUIDO_ERR_INVALID))
		abort();

	llen = strlen(cstr);
	rc = totp_uri(cstr, key, sizeof key, &uri);
	{
		int ok = llen >= 1 && llen <= TOTP_LOGIN_MAX;

		for (size_t i = 0; ok && i < llen; i++)
			ok = (unsigned char)cstr[i] >= 0x20 && cstr[i] != 0x7f;
		if ((rc == SUIDO_OK) != ok || (rc != SUIDO_OK && rc != SUIDO_ERR_INVALID))
			abort();
	}
	if (uri) {
		for (const char *p = uri; *p; p++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789-._~%:/?&=",
				    *p))
				abort();
		free(uri);
	}
	free(cstr);
	free(copy);
	return 0;
}
