/* Tests for TOTP (totp.h): the SHA-1 rows of RFC 6238 appendix B, the ±1
 * step window, replay, the enrolment URI, base32, and recovery codes. The
 * clock is a parameter: no test sleeps.
 *
 * Run with arguments it is the helper of tests/integration/test_totp_oathtool.sh,
 * which holds these functions against oathtool (an independent
 * implementation):
 *   test_totp --code HEXSECRET UNIXTIME        prints the code
 *   test_totp --uri LOGIN HEXSECRET            prints the otpauth:// URI
 *   test_totp --verify HEXSECRET UNIXTIME CODE LASTSTEP
 *                                              prints "ok STEP", "replay",
 *                                              "wrong" or "invalid"          */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/hex.h"
#include "suido/totp.h"

static const unsigned char rfc_secret[] = "12345678901234567890"; /* 20 bytes + NUL */
#define RFC_LEN 20

static void test_rfc6238_vectors(void **state)
{
	/* RFC 6238 appendix B, mode SHA1. The RFC prints 8 digits; the 6-digit
	 * code is the same dynamic-truncation value mod 10^6, its last 6. */
	static const struct {
		int64_t t;
		const char *code8;
	} rows[] = {
		{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000LL, "65353130"},
	};
	char out[TOTP_DIGITS + 1];
	int64_t step = -5;

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		assert_int_equal(totp_generate(rfc_secret, RFC_LEN, rows[i].t, out), SUIDO_OK);
		assert_string_equal(out, rows[i].code8 + 2);
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, rows[i].code8 + 2, rows[i].t, -1,
					     &step),
				 SUIDO_OK);
		assert_int_equal(step, rows[i].t / 30);
	}
	assert_int_equal(totp_step(59), 1);
	assert_int_equal(totp_step(60), 2);
}

static void test_skew(void **state)
{
	const int64_t now = 1234567890; /* step 41152263, 0 s into the step */
	char c[5][TOTP_DIGITS + 1];
	int64_t step = 0;

	(void)state;
	for (int d = -2; d <= 2; d++)
		assert_int_equal(totp_generate(rfc_secret, RFC_LEN, now + 30 * d, c[d + 2]),
				 SUIDO_OK);
	/* ±1 step accepted, each reporting its own step. */
	for (int d = -1; d <= 1; d++) {
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[d + 2], now, -1, &step),
				 SUIDO_OK);
		assert_int_equal(step, now / 30 + d);
	}
	/* ±2 refused, at either end of the current step. */
	step = 7;
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[0], now, -1, &step), SUIDO_ERR_PERM);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[4], now, -1, &step), SUIDO_ERR_PERM);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[0], now + 29, -1, &step),
			 SUIDO_ERR_PERM);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[4], now + 29, -1, &step),
			 SUIDO_ERR_PERM);
	assert_int_equal(step, 7); /* untouched on refusal */
	/* The previous step's code leaves the window when the next step begins. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[1], now + 29, -1, &step), SUIDO_OK);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[1], now + 30, -1, &step),
			 SUIDO_ERR_PERM);
	/* Another secret's code is wrong. */
	assert_int_equal(totp_verify((const unsigned char *)"12345678901234567891", RFC_LEN, c[2],
				     now, -1, &step),
			 SUIDO_ERR_PERM);
	/* Step 0: no step -1 to look at. */
	assert_int_equal(totp_generate(rfc_secret, RFC_LEN, 5, c[0]), SUIDO_OK);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, c[0], 5, -1, &step), SUIDO_OK);
	assert_int_equal(step, 0);
}

static void test_replay(void **state)
{
	const int64_t now = 2000000000;
	const int64_t t = now / 30;
	char prev[TOTP_DIGITS + 1], cur[TOTP_DIGITS + 1], next[TOTP_DIGITS + 1];
	int64_t step = -1, last;

	(void)state;
	assert_int_equal(totp_generate(rfc_secret, RFC_LEN, now - 30, prev), SUIDO_OK);
	assert_int_equal(totp_generate(rfc_secret, RFC_LEN, now, cur), SUIDO_OK);
	assert_int_equal(totp_generate(rfc_secret, RFC_LEN, now + 30, next), SUIDO_OK);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, cur, now, -1, &step), SUIDO_OK);
	last = step;
	assert_int_equal(last, t);
	/* The same code again, in the same step and in the next: refused. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, cur, now, last, &step), SUIDO_ERR_EXISTS);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, cur, now + 30, last, &step),
			 SUIDO_ERR_EXISTS);
	/* An older step's code after a newer one was used: refused. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, prev, now, last, &step),
			 SUIDO_ERR_EXISTS);
	/* The next step's code is new. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, next, now, last, &step), SUIDO_OK);
	assert_int_equal(step, t + 1);
	last = step;
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, cur, now, last, &step), SUIDO_ERR_EXISTS);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, next, now + 30, last, &step),
			 SUIDO_ERR_EXISTS);
	/* A wrong code is wrong, not a replay. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, strcmp(cur, "000000") ? "000000" : "000001",
				     now, last, &step),
			 SUIDO_ERR_PERM);
}

static void test_invalid(void **state)
{
	int64_t step = 3;
	char out[TOTP_DIGITS + 1];

	(void)state;
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "12345", 59, -1, &step), SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "1234567", 59, -1, &step),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "28708a", 59, -1, &step),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, " 287082", 59, -1, &step),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "", 59, -1, &step), SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, NULL, 59, -1, &step), SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "287082", -1, -1, &step),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, 0, "287082", 59, -1, &step), SUIDO_ERR_INVALID);
	assert_int_equal(totp_verify(rfc_secret, TOTP_SECRET_MAX + 1, "287082", 59, -1, &step),
			 SUIDO_ERR_INVALID);
	assert_int_equal(step, 3);
	assert_int_equal(totp_generate(rfc_secret, RFC_LEN, -1, out), SUIDO_ERR_INVALID);
	assert_int_equal(totp_generate(rfc_secret, 0, 59, out), SUIDO_ERR_INVALID);
}

static void test_base32_and_secret(void **state)
{
	unsigned char s1[TOTP_SECRET_BYTES], s2[TOTP_SECRET_BYTES], back[TOTP_SECRET_MAX];
	char text[80], big[TOTP_BASE32_MAX + 2];
	size_t n = 99;

	(void)state;
	assert_int_equal(totp_secret_to_base32(rfc_secret, RFC_LEN, text, sizeof text), SUIDO_OK);
	assert_string_equal(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	assert_int_equal(totp_secret_to_base32(rfc_secret, RFC_LEN, text, 32), SUIDO_ERR_LIMIT);
	assert_int_equal(totp_secret_to_base32(rfc_secret, 0, text, sizeof text), SUIDO_ERR_INVALID);
	assert_int_equal(totp_secret_from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 32, back, &n),
			 SUIDO_OK);
	assert_int_equal(n, RFC_LEN);
	assert_memory_equal(back, rfc_secret, RFC_LEN);
	/* As a user may type it back from the screen: with spaces. */
	assert_int_equal(totp_secret_from_base32("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", 39, back,
						 &n),
			 SUIDO_OK);
	assert_int_equal(n, RFC_LEN);
	assert_memory_equal(back, rfc_secret, RFC_LEN);
	/* Lower case; padding all or none ("foo"). */
	assert_int_equal(totp_secret_from_base32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 32, back, &n),
			 SUIDO_OK);
	assert_memory_equal(back, rfc_secret, RFC_LEN);
	assert_int_equal(totp_secret_from_base32("MZXW6===", 8, back, &n), SUIDO_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(back, "foo", 3);
	assert_int_equal(totp_secret_from_base32("MZXW6", 5, back, &n), SUIDO_OK);
	assert_int_equal(n, 3);
	/* Refusals. */
	assert_int_equal(totp_secret_from_base32("MZXW6=", 6, back, &n), SUIDO_ERR_INVALID);
	assert_int_equal(totp_secret_from_base32("GEZDGNB!", 8, back, &n), SUIDO_ERR_INVALID);
	assert_int_equal(n, 0);
	assert_int_equal(totp_secret_from_base32("", 0, back, &n), SUIDO_ERR_INVALID);
	assert_int_equal(totp_secret_from_base32("GEZD\0GNB", 8, back, &n), SUIDO_ERR_INVALID);
	memset(big, 'A', sizeof big);
	assert_int_equal(totp_secret_from_base32(big, sizeof big, back, &n), SUIDO_ERR_LIMIT);
	/* Fresh secrets: 20 bytes, different each time, round-trip. */
	assert_int_equal(totp_secret_generate(s1), SUIDO_OK);
	assert_int_equal(totp_secret_generate(s2), SUIDO_OK);
	assert_memory_not_equal(s1, s2, sizeof s1);
	assert_int_equal(totp_secret_to_base32(s1, sizeof s1, text, sizeof text), SUIDO_OK);
	assert_int_equal(strlen(text), 32);
	assert_int_equal(totp_secret_from_base32(text, strlen(text), back, &n), SUIDO_OK);
	assert_int_equal(n, sizeof s1);
	assert_memory_equal(back, s1, sizeof s1);
}

static void test_uri(void **state)
{
	char *uri = NULL, login[TOTP_LOGIN_MAX + 2];

	(void)state;
	assert_int_equal(totp_uri("u00123", rfc_secret, RFC_LEN, &uri), SUIDO_OK);
	assert_string_equal(uri, "otpauth://totp/suido:u00123?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
				 "&issuer=suido&algorithm=SHA1&digits=6&period=30");
	free(uri);
	/* Everything but unreserved characters is percent-encoded, UTF-8 too. */
	assert_int_equal(totp_uri("yamada.t@市 役所/1?&=:", rfc_secret, RFC_LEN, &uri), SUIDO_OK);
	assert_string_equal(uri, "otpauth://totp/suido:yamada.t%40%E5%B8%82%20%E5%BD%B9%E6%89%80"
				 "%2F1%3F%26%3D%3A?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
				 "&issuer=suido&algorithm=SHA1&digits=6&period=30");
	free(uri);
	/* The longest login ID, every byte escaped. */
	memset(login, '%', TOTP_LOGIN_MAX);
	login[TOTP_LOGIN_MAX] = '\0';
	assert_int_equal(totp_uri(login, rfc_secret, RFC_LEN, &uri), SUIDO_OK);
	assert_int_equal(strlen(uri), strlen("otpauth://totp/suido:") + 3 * TOTP_LOGIN_MAX +
					      strlen("?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
						     "&issuer=suido&algorithm=SHA1&digits=6&period=30"));
	free(uri);
	/* Refusals. */
	login[TOTP_LOGIN_MAX] = 'x';
	login[TOTP_LOGIN_MAX + 1] = '\0';
	assert_int_equal(totp_uri(login, rfc_secret, RFC_LEN, &uri), SUIDO_ERR_INVALID);
	assert_int_equal(totp_uri("", rfc_secret, RFC_LEN, &uri), SUIDO_ERR_INVALID);
	assert_int_equal(totp_uri(NULL, rfc_secret, RFC_LEN, &uri), SUIDO_ERR_INVALID);
	assert_int_equal(totp_uri("a\nb", rfc_secret, RFC_LEN, &uri), SUIDO_ERR_INVALID);
	assert_int_equal(totp_uri("u1", rfc_secret, 0, &uri), SUIDO_ERR_INVALID);
	assert_null(uri);
}

static int is_b32(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
}

static void test_recovery(void **state)
{
	char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT];
	char hashes[TOTP_RECOVERY_COUNT][PASSWORD_HASH_MAX];
	const char *h[TOTP_RECOVERY_COUNT];
	char typed[32];
	size_t idx = 99;

	(void)state;
	assert_int_equal(totp_recovery_generate(codes, hashes), SUIDO_OK);
	for (int i = 0; i < TOTP_RECOVERY_COUNT; i++) {
		assert_int_equal(strlen(codes[i]), 11);
		assert_int_equal(codes[i][5], '-');
		for (int k = 0; k < 11; k++)
			if (k != 5)
				assert_true(is_b32(codes[i][k]));
		assert_true(strncmp(hashes[i], "$argon2id$", 10) == 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(codes[i], codes[j]);
		h[i] = hashes[i];
	}
	/* As shown, and typed sloppily (lower case, no hyphen, spaces). */
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, codes[3], 11, &idx), SUIDO_OK);
	assert_int_equal(idx, 3);
	snprintf(typed, sizeof typed, " %.5s %s ", codes[9], codes[9] + 6);
	for (char *p = typed; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, typed, strlen(typed), &idx),
			 SUIDO_OK);
	assert_int_equal(idx, 9);
	/* Single use: the caller removes the hash; the code is then refused. */
	h[3] = NULL;
	idx = 99;
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, codes[3], 11, &idx),
			 SUIDO_ERR_PERM);
	assert_int_equal(idx, 99);
	/* 0, 1, 8 typed for O, I, B. */
	{
		const char *one = "ABCDE-FGHIO";
		char hh[PASSWORD_HASH_MAX];
		const char *hp[1] = {hh};

		assert_int_equal(password_hash("ABCDEFGHIO", 10, hh), SUIDO_OK);
		assert_int_equal(totp_recovery_verify(hp, 1, "a8cde-fgh10", 11, &idx), SUIDO_OK);
		assert_int_equal(idx, 0);
		assert_int_equal(totp_recovery_verify(hp, 1, one, 11, &idx), SUIDO_OK);
	}
	/* Malformed: no hash tried. */
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, "ABCDE-FGHI", 10, &idx),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, "ABCDE-FGHIJK", 12, &idx),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, "ABCDE-FGH!J", 11, &idx),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, "ABCDE-FGH9J", 11, &idx),
			 SUIDO_ERR_INVALID);
	assert_int_equal(totp_recovery_verify(h, TOTP_RECOVERY_COUNT, "", 0, &idx),
			 SUIDO_ERR_INVALID);
}

/* ---- helper mode for tests/integration/test_totp_oathtool.sh ---- */

static int secret_arg(const char *hex, unsigned char *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	if (n == 0 || n > TOTP_SECRET_MAX || strlen(hex) % 2 || hex_decode(hex, out, n) != 0)
		return -1;
	*len = n;
	return 0;
}

static int helper(int argc, char **argv)
{
	unsigned char secret[TOTP_SECRET_MAX];
	size_t len;
	char out[TOTP_DIGITS + 1], *uri = NULL;
	int64_t step = -1;
	int rc;

	if (argc == 4 && strcmp(argv[1], "--code") == 0 && secret_arg(argv[2], secret, &len) == 0 &&
	    totp_generate(secret, len, strtoll(argv[3], NULL, 10), out) == SUIDO_OK) {
		puts(out);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "--uri") == 0 && secret_arg(argv[3], secret, &len) == 0 &&
	    totp_uri(argv[2], secret, len, &uri) == SUIDO_OK) {
		puts(uri);
		free(uri);
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "--verify") == 0 && secret_arg(argv[2], secret, &len) == 0) {
		rc = totp_verify(secret, len, argv[4], strtoll(argv[3], NULL, 10),
				 strtoll(argv[5], NULL, 10), &step);
		if (rc == SUIDO_OK)
			printf("ok %lld\n", (long long)step);
		else
			puts(rc == SUIDO_ERR_EXISTS ? "replay" : rc == SUIDO_ERR_PERM ? "wrong" : "invalid");
		return 0;
	}
	fprintf(stderr, "usage: test_totp [--code HEX T | --uri LOGIN HEX | --verify HEX T CODE LAST]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors), cmocka_unit_test(test_skew),
		cmocka_unit_test(test_replay),          cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_base32_and_secret), cmocka_unit_test(test_uri),
		cmocka_unit_test(test_recovery),
	};
	if (argc > 1)
		return helper(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
