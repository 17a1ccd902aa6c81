/* Tests for portal passwords (password.h): Argon2id hash and verify, the
 * needs-rehash check, and every policy refusal with its reason code, on the
 * blocklist the repository ships (etc/password-blocklist.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "suido/error.h"
#include "suido/password.h"

static struct password_blocklist *shipped;

static int load_shipped(void **state)
{
	char path[4096], err[256] = "";

	(void)state;
	snprintf(path, sizeof path, "%s/etc/password-blocklist.txt", SUIDO_SOURCE_DIR);
	if (password_blocklist_load(path, &shipped, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "blocklist: %s\n", err);
		return -1;
	}
	return 0;
}

static int free_shipped(void **state)
{
	(void)state;
	password_blocklist_free(shipped);
	return 0;
}

/* The verdict of the default policy (with the shipped list) on s. */
static enum password_reason verdict_with(const struct password_policy *p,
					 const struct password_subject *sub, const char *s,
					 size_t len)
{
	enum password_reason r = (enum password_reason)-1;

	assert_int_equal(password_check(p, shipped, sub, s, len, &r), SUIDO_OK);
	return r;
}

static enum password_reason verdict(const char *s)
{
	struct password_policy p;

	password_policy_defaults(&p);
	return verdict_with(&p, NULL, s, strlen(s));
}

static void test_defaults_and_messages(void **state)
{
	struct password_policy p;

	(void)state;
	password_policy_defaults(&p);
	assert_int_equal(p.min_chars, 12);
	assert_int_equal(p.max_bytes, 256);
	assert_int_equal(p.min_classes, 3);
	assert_int_equal(p.history, 5);
	/* Every reason has its own English and Japanese message. */
	for (int i = 0; i < PASSWORD_REASON_COUNT; i++) {
		assert_non_null(password_reason_en(i));
		assert_non_null(password_reason_ja(i));
		assert_true((unsigned char)password_reason_ja(i)[0] >= 0x80); /* Japanese */
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(password_reason_en(i), password_reason_en(j));
			assert_string_not_equal(password_reason_ja(i), password_reason_ja(j));
		}
	}
	assert_string_equal(password_reason_en(PASSWORD_REASON_COUNT), "unknown reason");
	assert_string_equal(password_reason_en(-1), "unknown reason");
	assert_string_equal(password_reason_ja(99), "不明な理由");
}

static void test_hash_verify(void **state)
{
	const char *pw = "水道の合言葉 Tokyo-2024";
	char phc[PASSWORD_HASH_MAX], phc2[PASSWORD_HASH_MAX];
	char big[PASSWORD_MAX_BYTES_CAP + 1];

	(void)state;
	assert_int_equal(password_hash(pw, strlen(pw), phc), SUIDO_OK);
	assert_true(strncmp(phc, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
	assert_int_equal(password_verify(phc, pw, strlen(pw)), SUIDO_OK);
	/* A wrong password, a prefix of it, one byte more, and the empty one. */
	assert_int_equal(password_verify(phc, "水道の合言葉 Tokyo-2025", strlen(pw)), SUIDO_ERR_PERM);
	assert_int_equal(password_verify(phc, pw, strlen(pw) - 1), SUIDO_ERR_PERM);
	assert_int_equal(password_verify(phc, "水道の合言葉 Tokyo-20244", strlen(pw) + 1),
			 SUIDO_ERR_PERM);
	assert_int_equal(password_verify(phc, "", 0), SUIDO_ERR_PERM);
	/* Salted: the same password hashes differently, and both verify. */
	assert_int_equal(password_hash(pw, strlen(pw), phc2), SUIDO_OK);
	assert_string_not_equal(phc, phc2);
	assert_int_equal(password_verify(phc2, pw, strlen(pw)), SUIDO_OK);
	/* A tampered hash does not verify. */
	phc2[strlen(phc2) - 2] = phc2[strlen(phc2) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(password_verify(phc2, pw, strlen(pw)), SUIDO_ERR_PERM);
	/* Not ours: refused without verifying. */
	assert_int_equal(password_verify("", pw, strlen(pw)), SUIDO_ERR_INVALID);
	assert_int_equal(password_verify(NULL, pw, strlen(pw)), SUIDO_ERR_INVALID);
	assert_int_equal(password_verify("$2y$10$abcdefghijklmnopqrstuv", pw, strlen(pw)),
			 SUIDO_ERR_INVALID);
	assert_int_equal(password_verify("$argon2i$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
					 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					 pw, strlen(pw)),
			 SUIDO_ERR_INVALID);
	/* Caps. */
	memset(big, 'a', sizeof big);
	assert_int_equal(password_hash(big, sizeof big, phc2), SUIDO_ERR_LIMIT);
	assert_string_equal(phc2, "");
	assert_int_equal(password_verify(phc, big, sizeof big), SUIDO_ERR_LIMIT);
	/* Embedded NUL bytes are part of the password, not its end. */
	assert_int_equal(password_hash("ab\0cd", 5, phc2), SUIDO_OK);
	assert_int_equal(password_verify(phc2, "ab\0cd", 5), SUIDO_OK);
	assert_int_equal(password_verify(phc2, "ab\0ce", 5), SUIDO_ERR_PERM);
	assert_int_equal(password_verify_dummy(pw, strlen(pw)), SUIDO_ERR_PERM);
}

static void test_needs_rehash(void **state)
{
	char phc[PASSWORD_HASH_MAX], weak[crypto_pwhash_STRBYTES], other[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(password_hash("x", 1, phc), SUIDO_OK);
	assert_int_equal(password_needs_rehash(phc), 0);
	/* Argon2id with smaller parameters (an older setting): upgrade. */
	assert_int_equal(crypto_pwhash_str_alg(weak, "x", 1, 1, 8u << 20,
					       crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_int_equal(password_needs_rehash(weak), 1);
	assert_int_equal(password_verify(weak, "x", 1), SUIDO_OK); /* still verifies */
	/* Argon2i (whose minimum is 3 passes) at our memory: another algorithm,
	 * upgrade, and not verified by us. */
	assert_int_equal(crypto_pwhash_str_alg(other, "x", 1, 3, PASSWORD_MEMLIMIT,
					       crypto_pwhash_ALG_ARGON2I13),
			 0);
	assert_int_equal(password_needs_rehash(other), 1);
	assert_int_equal(password_verify(other, "x", 1), SUIDO_ERR_INVALID);
	/* Another parallelism, which libsodium's own check lets through
	 * (found by fuzz/fuzz_password.c). */
	{
		char p4[PASSWORD_HASH_MAX];
		char *p1;

		strcpy(p4, phc);
		p1 = strstr(p4, ",p=1$");
		assert_non_null(p1);
		p1[3] = '4';
		assert_int_equal(password_needs_rehash(p4), 1);
	}
	assert_int_equal(password_needs_rehash(""), 1);
	assert_int_equal(password_needs_rehash(NULL), 1);
	assert_int_equal(password_needs_rehash("$argon2id$garbage"), 1);
}

static void test_length_and_encoding(void **state)
{
	struct password_policy p;
	char buf[300];

	(void)state;
	password_policy_defaults(&p);
	/* 256 bytes pass the cap (and are then judged on), 257 do not. */
	memset(buf, 'a', sizeof buf);
	memcpy(buf, "Zz9!", 4);
	assert_int_equal(verdict_with(&p, NULL, buf, 256), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict_with(&p, NULL, buf, 257), PASSWORD_TOO_LONG);
	/* The minimum counts code points: 11 kanji are 33 bytes and too short;
	 * 12 code points of kanji, upper case and digits are enough. */
	assert_int_equal(verdict("東京都水道局の合言葉A"), PASSWORD_TOO_SHORT);
	assert_int_equal(verdict("東京都水道局の合言葉A1"), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict("Ab1!efghijk"), PASSWORD_TOO_SHORT);
	assert_int_equal(verdict("Ab1!efghijkl"), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict(""), PASSWORD_TOO_SHORT);
	p.min_chars = 20;
	assert_int_equal(verdict_with(&p, NULL, "Ab1!efghijklmnopqrs", 19), PASSWORD_TOO_SHORT);
	password_policy_defaults(&p);
	/* Invalid UTF-8: overlong '/', a lone continuation byte, a surrogate,
	 * above U+10FFFF, truncated at the end, a bare 0xff. */
	assert_int_equal(verdict("Abcdefgh123!\xc0\xaf"), PASSWORD_BAD_UTF8);
	assert_int_equal(verdict("Abcdefgh123!\x80"), PASSWORD_BAD_UTF8);
	assert_int_equal(verdict("Abcdefgh123!\xed\xa0\x80"), PASSWORD_BAD_UTF8);
	assert_int_equal(verdict("Abcdefgh123!\xf4\x90\x80\x80"), PASSWORD_BAD_UTF8);
	assert_int_equal(verdict("Abcdefgh123!\xe6\xb0"), PASSWORD_BAD_UTF8);
	assert_int_equal(verdict("\xff" "Abcdefgh123!"), PASSWORD_BAD_UTF8);
	/* Controls: tab, newline, NUL, DEL, U+0085 (C1). Checked before the length. */
	assert_int_equal(verdict("Abcdefgh\t123!"), PASSWORD_CONTROL_CHAR);
	assert_int_equal(verdict("Abcdefgh123!\n"), PASSWORD_CONTROL_CHAR);
	assert_int_equal(verdict_with(&p, NULL, "Abcdefgh\0" "123!", 13), PASSWORD_CONTROL_CHAR);
	assert_int_equal(verdict("Abcdefgh\x7f" "123!"), PASSWORD_CONTROL_CHAR);
	assert_int_equal(verdict("Abcdefgh\xc2\x85" "123!"), PASSWORD_CONTROL_CHAR);
	assert_int_equal(verdict("\t"), PASSWORD_CONTROL_CHAR);
	/* Spaces (ASCII and ideographic) are allowed. */
	assert_int_equal(verdict("correct Horse 7 battery"), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict("水道　の　合言葉　Tokyo"), PASSWORD_ACCEPTABLE);
	/* A policy beyond the hard cap is a caller's error. */
	enum password_reason r = PASSWORD_ACCEPTABLE;
	p.max_bytes = PASSWORD_MAX_BYTES_CAP + 1;
	assert_int_equal(password_check(&p, NULL, NULL, "x", 1, &r), SUIDO_ERR_INVALID);
}

static void test_classes(void **state)
{
	struct password_policy p;

	(void)state;
	password_policy_defaults(&p);
	/* One or two classes are refused by the default (3 of 5). */
	assert_int_equal(verdict("correcthorsebatterystaple"), PASSWORD_FEW_CLASSES);
	assert_int_equal(verdict("correcthorse battery"), PASSWORD_FEW_CLASSES);
	assert_int_equal(verdict("CorrectHorseBatteryStaple"), PASSWORD_FEW_CLASSES);
	assert_int_equal(verdict("とうきょうとすいどうきょく"), PASSWORD_FEW_CLASSES);
	assert_int_equal(verdict("とうきょうとすいどうきょく2024"), PASSWORD_FEW_CLASSES);
	/* Three classes of each kind of combination pass. */
	assert_int_equal(verdict("CorrectHorseBattery7"), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict("correct-horse-battery7"), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict("とうきょうとすいどうきょく2024!"), PASSWORD_ACCEPTABLE);
	/* Configurable: 0 turns the rule off (NIST SP 800-63B), 5 wants all. */
	p.min_classes = 0;
	assert_int_equal(verdict_with(&p, NULL, "correcthorsebatterystaple", 25),
			 PASSWORD_ACCEPTABLE);
	p.min_classes = 5;
	assert_int_equal(verdict_with(&p, NULL, "CorrectHorse7!", 14), PASSWORD_FEW_CLASSES);
	assert_int_equal(verdict_with(&p, NULL, "CorrectHorse7!水", 17), PASSWORD_ACCEPTABLE);
}

static void test_blocklist(void **state)
{
	struct password_policy p;
	struct password_blocklist *b = NULL;
	const char text[] = "# comment\r\nDragon\r\n\r\ndragon\nmonkey\nZEBRA";
	enum password_reason r;
	char err[128];

	(void)state;
	assert_true(password_blocklist_count(shipped) >= 1000);
	assert_int_equal(password_blocklist_count(NULL), 0);
	/* With digits and symbols around a listed word, any case. */
	assert_int_equal(verdict("Password1234!"), PASSWORD_COMMON);
	assert_int_equal(verdict("!!Qwerty123456"), PASSWORD_COMMON);
	assert_int_equal(verdict("Iloveyou2024!"), PASSWORD_COMMON);
	assert_int_equal(verdict("Suido2024!!!"), PASSWORD_COMMON);
	assert_int_equal(verdict("パスワード20240101!"), PASSWORD_COMMON);
	/* A listed word inside other letters is not "common". */
	assert_int_equal(verdict("Mypassword1234!"), PASSWORD_ACCEPTABLE);
	password_policy_defaults(&p);
	p.min_chars = 6;
	p.min_classes = 0;
	assert_int_equal(verdict_with(&p, NULL, "dragon", 6), PASSWORD_COMMON);
	assert_int_equal(verdict_with(&p, NULL, "DRAGON", 6), PASSWORD_COMMON);
	assert_int_equal(verdict_with(&p, NULL, "WinnieThePooh", 13), PASSWORD_COMMON);
	assert_int_equal(verdict_with(&p, NULL, "1qaz2wsx3edc", 12), PASSWORD_COMMON);
	/* Full width (as an IME types it) is folded to ASCII first. */
	assert_int_equal(verdict_with(&p, NULL, "ＰＡＳＳＷＯＲＤ１２３", 33), PASSWORD_COMMON);
	/* Without a list there is no COMMON verdict. */
	assert_int_equal(password_check(&p, NULL, NULL, "dragon", 6, &r), SUIDO_OK);
	assert_int_equal(r, PASSWORD_ACCEPTABLE);
	/* Parsing: comments, blank lines, CRLF, duplicates after folding. */
	assert_int_equal(password_blocklist_from_text(text, strlen(text), &b, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(password_blocklist_count(b), 3);
	assert_int_equal(password_check(&p, b, NULL, "zebra!", 6, &r), SUIDO_OK);
	assert_int_equal(r, PASSWORD_COMMON);
	assert_int_equal(password_check(&p, b, NULL, "# comment", 9, &r), SUIDO_OK);
	assert_int_equal(r, PASSWORD_ACCEPTABLE);
	password_blocklist_free(b);
	password_blocklist_free(NULL);
	/* An empty list is fine; a missing file is NOTFOUND. */
	assert_int_equal(password_blocklist_from_text("", 0, &b, NULL, 0), SUIDO_OK);
	assert_int_equal(password_blocklist_count(b), 0);
	password_blocklist_free(b);
	assert_int_equal(password_blocklist_load("/nonexistent/list.txt", &b, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_null(b);
	assert_int_equal(password_blocklist_load("/", &b, err, sizeof err), SUIDO_ERR_INVALID);
}

static void test_login_and_names(void **state)
{
	const char *names[] = {"Taro Yamada", "山田　太郎", "ヤマダ タロウ", "taro.yamada"};
	struct password_subject s = {"u00123", names, 4, NULL, 0};
	struct password_policy p;

	(void)state;
	password_policy_defaults(&p);
#define V(pw) verdict_with(&p, &s, pw, strlen(pw))
	assert_int_equal(V("Xu00123-secret!"), PASSWORD_HAS_LOGIN);
	assert_int_equal(V("XU00123-secret!"), PASSWORD_HAS_LOGIN);
	assert_int_equal(V("Ｕ００１２３-secret!"), PASSWORD_HAS_LOGIN);
	assert_int_equal(V("Yamada#Secure7"), PASSWORD_HAS_NAME);       /* a word */
	assert_int_equal(V("taroyamada#Secure7"), PASSWORD_HAS_NAME);   /* joined */
	assert_int_equal(V("My山田太郎Pass1!"), PASSWORD_HAS_NAME);      /* joined kanji */
	assert_int_equal(V("ヤマダ9River!xy"), PASSWORD_HAS_NAME);       /* kana word */
	assert_int_equal(V("Secure7!Taro Yamada"), PASSWORD_HAS_NAME);  /* whole */
	/* Words under 3 code points are not searched for (Windows' rule):
	 * "山田" alone, "u0" are allowed. */
	assert_int_equal(V("山田River#2024x"), PASSWORD_ACCEPTABLE);
	assert_int_equal(V("Tar#River2024x"), PASSWORD_ACCEPTABLE);
	/* Unrelated: accepted. */
	assert_int_equal(V("Kawasaki#River7"), PASSWORD_ACCEPTABLE);
	/* The login ID as the whole password, in another case. */
	s.login = "abcdefghij12!";
	assert_int_equal(V("ABCDEFGHIJ12!"), PASSWORD_HAS_LOGIN);
	/* Invalid UTF-8 in a name is skipped, not a crash. */
	const char *bad[] = {"\xff\xfe", NULL, ""};
	s.names = bad;
	s.nnames = 3;
	assert_int_equal(V("Kawasaki#River7"), PASSWORD_ACCEPTABLE);
#undef V
}

static void test_history(void **state)
{
	const char *old[] = {"Kawasaki#River1", "Kawasaki#River2", "Kawasaki#River3"};
	char h[3][PASSWORD_HASH_MAX];
	const char *hist[4];
	struct password_subject s = {"u00123", NULL, 0, hist, 3};
	struct password_policy p;
	enum password_reason r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(password_hash(old[i], strlen(old[i]), h[i]), SUIDO_OK);
		hist[i] = h[i];
	}
	password_policy_defaults(&p);
	assert_int_equal(verdict_with(&p, &s, old[0], strlen(old[0])), PASSWORD_REUSED);
	assert_int_equal(verdict_with(&p, &s, old[2], strlen(old[2])), PASSWORD_REUSED);
	assert_int_equal(verdict_with(&p, &s, "Kawasaki#River4", 15), PASSWORD_ACCEPTABLE);
	/* Only the newest p.history entries count. */
	p.history = 2;
	assert_int_equal(verdict_with(&p, &s, old[2], strlen(old[2])), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict_with(&p, &s, old[1], strlen(old[1])), PASSWORD_REUSED);
	p.history = 0;
	assert_int_equal(verdict_with(&p, &s, old[0], strlen(old[0])), PASSWORD_ACCEPTABLE);
	/* NULL entries are skipped; a damaged entry gives no verdict. */
	password_policy_defaults(&p);
	hist[0] = NULL;
	assert_int_equal(verdict_with(&p, &s, old[0], strlen(old[0])), PASSWORD_ACCEPTABLE);
	assert_int_equal(verdict_with(&p, &s, old[1], strlen(old[1])), PASSWORD_REUSED);
	hist[0] = "$2y$10$notours";
	r = PASSWORD_TOO_LONG;
	assert_int_equal(password_check(&p, shipped, &s, old[2], strlen(old[2]), &r),
			 SUIDO_ERR_INVALID);
	assert_int_equal(r, PASSWORD_TOO_LONG); /* untouched */
	/* Earlier rules still win over a damaged history. */
	assert_int_equal(verdict_with(&p, &s, "short", 5), PASSWORD_TOO_SHORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_messages), cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_needs_rehash),          cmocka_unit_test(test_length_and_encoding),
		cmocka_unit_test(test_classes),               cmocka_unit_test(test_blocklist),
		cmocka_unit_test(test_login_and_names),       cmocka_unit_test(test_history),
	};
	return cmocka_run_group_tests(tests, load_shipped, free_shipped);
}
