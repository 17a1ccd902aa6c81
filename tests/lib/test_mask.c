/* Tests for data masking (mask.h): key files, both token modes, known
 * answers computed independently with python3-cryptography (AESSIV, AESGCM,
 * HKDF), and every refusal with its code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/mask.h"

/* Key bytes 0..63: id and tokens below come from python3-cryptography. */
#define KAT_ID "fdeab9ac"
#define KAT_FILE                                                                          \
	"suido-mask-key/1 fdeab9ac "                                                      \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+" \
	"Pw==\n"

static struct mask_key *kat_key(void)
{
	unsigned char raw[64];
	struct mask_key *k = NULL;

	for (int i = 0; i < 64; i++)
		raw[i] = (unsigned char)i;
	assert_int_equal(mask_key_from_bytes(raw, sizeof raw, &k, NULL, 0), SUIDO_OK);
	return k;
}

static struct mask_key *new_key(void)
{
	struct mask_key *k = NULL;
	char err[128];

	assert_int_equal(mask_key_generate(&k, err, sizeof err), SUIDO_OK);
	return k;
}

static char *mask(const struct mask_key *k, enum mask_mode mode, const char *v, size_t n)
{
	char *tok = NULL, err[128] = "";
	int rc = mask_value(k, mode, v, n, &tok, err, sizeof err);

	if (rc != SUIDO_OK)
		fail_msg("mask_value: %s", err);
	assert_true(mask_is_token(tok, strlen(tok)));
	return tok;
}

static int unmask_rc(const struct mask_key *k, const char *tok)
{
	char *clear = (char *)1;
	size_t len = 99;
	int rc = mask_unmask(k, tok, strlen(tok), &clear, &len, NULL, 0);

	if (rc == SUIDO_OK)
		free(clear);
	else
		assert_null(clear);
	return rc;
}

static void expect_clear(const struct mask_key *k, const char *tok, const char *v, size_t n)
{
	char *clear = NULL, err[128] = "";
	size_t len = 0;
	int rc = mask_unmask(k, tok, strlen(tok), &clear, &len, err, sizeof err);

	if (rc != SUIDO_OK)
		fail_msg("mask_unmask %s: %s", tok, err);
	assert_int_equal(len, n);
	assert_memory_equal(clear, v, n);
	assert_int_equal(clear[n], '\0');
	free(clear);
}

static void test_known_answers(void **state)
{
	struct mask_key *k = kat_key();
	const char *name = "\xe6\xb0\xb4\xe9\x81\x93 \xe5\xa4\xaa\xe9\x83\x8e"; /* 水道 太郎 */
	const char *addr = "\xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd\xe5\x8d\x83\xe4\xbb\xa3\xe7\x94"
			   "\xb0\xe5\x8c\xba" "1-1"; /* 東京都千代田区1-1 */
	char *t;

	assert_string_equal(mask_key_id(k), KAT_ID);
	t = mask(k, MASK_DETERMINISTIC, "0012345678", 10);
	assert_string_equal(t, "~m1.s.fdeab9ac.jdrIVg8Fu6Fl3MatIJsUYcyRbQtQxEJ2_YE");
	free(t);
	t = mask(k, MASK_DETERMINISTIC, name, strlen(name));
	assert_string_equal(t, "~m1.s.fdeab9ac.8HEPwyn4oEDuHhgnFcvTPhqjR-WtgLHyzodFjJc");
	free(t);
	/* GCM with the nonce 100..111, made by python3-cryptography */
	expect_clear(k, "~m1.r.fdeab9ac.ZGVmZ2hpamtsbW5v9zOgkP4j40xjaVpcpygMV5du9-yJq4J_WoNcFTJqfc0wy9CQTU4Kpw",
		     addr, strlen(addr));
	mask_key_free(k);
}

static void test_key_file(void **state)
{
	struct mask_key *k = NULL, *k2 = NULL;
	char text[MASK_KEY_TEXT_MAX], dir[] = "/tmp/test_mask.XXXXXX", path[64], err[160];
	struct stat st;

	assert_int_equal(mask_key_parse(KAT_FILE, strlen(KAT_FILE), &k, err, sizeof err), SUIDO_OK);
	assert_string_equal(mask_key_id(k), KAT_ID);
	assert_int_equal(mask_key_format(k, text, sizeof text), SUIDO_OK);
	assert_string_equal(text, KAT_FILE);
	assert_int_equal(mask_key_format(k, text, 20), SUIDO_ERR_LIMIT);
	mask_key_free(k);

	/* CRLF is tolerated, nothing else */
	{
		char crlf[MASK_KEY_TEXT_MAX];
		size_t n = strlen(KAT_FILE);
		memcpy(crlf, KAT_FILE, n - 1);
		memcpy(crlf + n - 1, "\r\n", 3);
		assert_int_equal(mask_key_parse(crlf, n + 1, &k, NULL, 0), SUIDO_OK);
		mask_key_free(k);
		assert_int_equal(mask_key_parse(KAT_FILE, strlen(KAT_FILE) - 1, &k, NULL, 0), SUIDO_OK);
		mask_key_free(k);
		memcpy(crlf, KAT_FILE, n);
		crlf[n] = '\n';
		assert_int_equal(mask_key_parse(crlf, n + 1, &k, NULL, 0), SUIDO_ERR_INVALID);
		memcpy(crlf, KAT_FILE, n);
		crlf[18] = '0'; /* id of another key */
		assert_int_equal(mask_key_parse(crlf, n, &k, err, sizeof err), SUIDO_ERR_INVALID);
		assert_non_null(strstr(err, "damaged"));
		memcpy(crlf, KAT_FILE, n);
		crlf[30] = '*'; /* not base64 */
		assert_int_equal(mask_key_parse(crlf, n, &k, NULL, 0), SUIDO_ERR_INVALID);
		memcpy(crlf, KAT_FILE, n);
		crlf[n - 4] = 'x'; /* "Px==": non-canonical trailing bits */
		assert_int_equal(mask_key_parse(crlf, n, &k, NULL, 0), SUIDO_ERR_INVALID);
		memcpy(crlf, KAT_FILE, n);
		crlf[15] = '2'; /* suido-mask-key/2 */
		assert_int_equal(mask_key_parse(crlf, n, &k, NULL, 0), SUIDO_ERR_INVALID);
		assert_null(k);
	}
	assert_int_equal(mask_key_from_bytes((const unsigned char *)"short", 5, &k, NULL, 0),
			 SUIDO_ERR_INVALID);

	/* save: 0600, never over an existing key; load gives the same key */
	assert_non_null(mkdtemp(dir));
	k = new_key();
	assert_int_equal(mask_key_save(k, dir, "mask.key", err, sizeof err), SUIDO_OK);
	snprintf(path, sizeof path, "%s/mask.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mask_key_save(k, dir, "mask.key", err, sizeof err), SUIDO_ERR_EXISTS);
	assert_int_equal(mask_key_load(dir, "mask.key", &k2, err, sizeof err), SUIDO_OK);
	assert_string_equal(mask_key_id(k), mask_key_id(k2));
	{
		char *t = mask(k, MASK_RANDOMIZED, "x", 1);
		expect_clear(k2, t, "x", 1);
		free(t);
	}
	mask_key_free(k2);
	assert_int_equal(mask_key_load(dir, "absent.key", &k2, NULL, 0), SUIDO_ERR_NOTFOUND);
	mask_key_free(k);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_deterministic(void **state)
{
	struct mask_key *k = new_key(), *other = new_key();
	char *a = mask(k, MASK_DETERMINISTIC, "C-000123", 8);
	char *b = mask(k, MASK_DETERMINISTIC, "C-000123", 8);
	char *c = mask(k, MASK_DETERMINISTIC, "C-000124", 8);
	char *d = mask(other, MASK_DETERMINISTIC, "C-000123", 8);
	char prefix[32];

	assert_string_equal(a, b); /* equal values join */
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d); /* not across keys */
	snprintf(prefix, sizeof prefix, "~m1.s.%s.", mask_key_id(k));
	assert_memory_equal(a, prefix, strlen(prefix));
	/* safe in CSV and JSON without quoting */
	assert_null(strpbrk(a, ",\"' \t\r\n\\;="));
	expect_clear(k, a, "C-000123", 8);
	expect_clear(other, d, "C-000123", 8);
	free(a), free(b), free(c), free(d);
	mask_key_free(k);
	mask_key_free(other);
}

static void test_randomized(void **state)
{
	struct mask_key *k = new_key();
	const char bin[] = {'a', 0, 'b', (char)0xff, 0};
	char *a = mask(k, MASK_RANDOMIZED, "C-000123", 8);
	char *b = mask(k, MASK_RANDOMIZED, "C-000123", 8);
	char *c = mask(k, MASK_RANDOMIZED, bin, sizeof bin);

	assert_string_not_equal(a, b);
	assert_memory_equal(a, "~m1.r.", 6);
	expect_clear(k, a, "C-000123", 8);
	expect_clear(k, b, "C-000123", 8);
	expect_clear(k, c, bin, sizeof bin);
	free(a), free(b), free(c);
	mask_key_free(k);
}

static void test_sizes(void **state)
{
	struct mask_key *k = new_key();
	char *big = malloc(MASK_MAX_CLEAR + 1), *t = NULL;

	assert_non_null(big);
	memset(big, 'x', MASK_MAX_CLEAR + 1);
	assert_int_equal(mask_value(k, MASK_DETERMINISTIC, "", 0, &t, NULL, 0), SUIDO_ERR_INVALID);
	assert_null(t);
	assert_int_equal(mask_value(k, MASK_RANDOMIZED, big, MASK_MAX_CLEAR + 1, &t, NULL, 0),
			 SUIDO_ERR_LIMIT);
	assert_null(t);
	for (int mode = 0; mode < 2; mode++) {
		t = mask(k, (enum mask_mode)mode, big, MASK_MAX_CLEAR);
		expect_clear(k, t, big, MASK_MAX_CLEAR);
		free(t);
		t = mask(k, (enum mask_mode)mode, "1", 1);
		expect_clear(k, t, "1", 1);
		free(t);
	}
	free(big);
	mask_key_free(k);
}

static void test_refusals(void **state)
{
	struct mask_key *k = new_key(), *other = new_key();
	char *s = mask(k, MASK_DETERMINISTIC, "0312345678-tel", 14);
	char *r = mask(k, MASK_RANDOMIZED, "0312345678-tel", 14);
	char buf[256];

	/* another key: told apart by the id */
	assert_int_equal(unmask_rc(other, s), SUIDO_ERR_NOTFOUND);
	assert_int_equal(unmask_rc(other, r), SUIDO_ERR_NOTFOUND);
	/* another key that claims the same id (collision, forged id) */
	snprintf(buf, sizeof buf, "%s", s);
	memcpy(buf + 6, mask_key_id(other), 8);
	assert_int_equal(unmask_rc(other, buf), SUIDO_ERR_DECRYPT);
	snprintf(buf, sizeof buf, "%s", r);
	memcpy(buf + 6, mask_key_id(other), 8);
	assert_int_equal(unmask_rc(other, buf), SUIDO_ERR_DECRYPT);

	/* tampering: each body character changed in turn */
	for (const char *t = s;; t = r) {
		size_t n = strlen(t);
		for (size_t i = 15; i < n; i++) {
			snprintf(buf, sizeof buf, "%s", t);
			buf[i] = buf[i] == 'A' ? 'B' : 'A';
			int rc = unmask_rc(k, buf);
			/* the last character may turn non-canonical: malformed, not forged */
			if (!(rc == SUIDO_ERR_DECRYPT || (i == n - 1 && rc == SUIDO_ERR_INVALID)))
				fail_msg("tampered char %zu of %s: rc %d", i, t, rc);
		}
		if (t == r)
			break;
	}
	/* the mode is authenticated: a body moved to the other mode fails */
	snprintf(buf, sizeof buf, "%s", s);
	buf[4] = 'r';
	assert_int_equal(unmask_rc(k, buf), SUIDO_ERR_DECRYPT);
	snprintf(buf, sizeof buf, "%s", r);
	buf[4] = 's';
	assert_int_equal(unmask_rc(k, buf), SUIDO_ERR_DECRYPT);

	/* malformed */
	const char *bad[] = {
		"", "~m1.", "~m1.s.", "~m1.s.0123abcd.", "~m2.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAA",
		"~m1.x.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAA", "~m1.s.0123ABCD.AAAAAAAAAAAAAAAAAAAAAAAA",
		"~m1.s.0123abc.AAAAAAAAAAAAAAAAAAAAAAAAA", "~m1.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAAA=",
		"~m1.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAAA+", "~m1.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAAA",
		"~m1.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAA", /* 16 bytes: a tag, no value */
		"~m1.s.0123abcd.AAAAAAAAAAAAAAAAAAAAAAB", /* non-canonical trailing bits */
		"~m1.r.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 28 bytes, no value */
		"plain text", "~m1.s.0123abcd.AAAA AAAAAAAAAAAAAAAAAAA",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (mask_is_token(bad[i], strlen(bad[i])))
			fail_msg("mask_is_token accepted \"%s\"", bad[i]);
		if (unmask_rc(k, bad[i]) != SUIDO_ERR_INVALID)
			fail_msg("mask_unmask did not refuse \"%s\" as invalid", bad[i]);
	}
	/* a token must be the whole field */
	snprintf(buf, sizeof buf, "%s,", s);
	assert_false(mask_is_token(buf, strlen(buf)));
	assert_true(mask_is_token(buf, strlen(s)));
	/* a shortened token: a valid shape, fails authentication */
	snprintf(buf, sizeof buf, "%s", s);
	buf[strlen(buf) - 4] = '\0';
	assert_int_equal(unmask_rc(k, buf), SUIDO_ERR_DECRYPT);
	free(s), free(r);
	mask_key_free(k);
	mask_key_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers), cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_deterministic), cmocka_unit_test(test_randomized),
		cmocka_unit_test(test_sizes),         cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
