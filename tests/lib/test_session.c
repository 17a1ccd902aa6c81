/* Tests for server-side sessions (session.h): create / lookup / touch, idle
 * and absolute expiry, revocation of one session and of a user's, the id's
 * form and uniqueness, wrong and truncated ids, the per-user and table
 * limits, the CSRF token, and the cookie strings. The clock is a parameter:
 * no test sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/session.h"

#define T0 1700000000000ULL
#define MIN 60000ULL

static struct session_table *make(size_t max, size_t per_user)
{
	struct session_config c;
	struct session_table *t = NULL;
	static const unsigned char key[SESSION_KEY_BYTES] = "0123456789abcdef0123456789abcdef";

	session_config_defaults(&c);
	if (max)
		c.max_sessions = max;
	if (per_user)
		c.max_per_user = per_user;
	assert_int_equal(session_table_create(&c, key, &t), SUIDO_OK);
	return t;
}

static void test_config(void **state)
{
	struct session_config c;
	struct session_table *t = (struct session_table *)1;

	(void)state;
	session_config_defaults(&c);
	assert_int_equal(c.idle_ms, 30 * MIN);
	assert_int_equal(c.absolute_ms, 12 * 60 * MIN);
	c.idle_ms = c.absolute_ms + 1;
	assert_int_equal(session_table_create(&c, NULL, &t), SUIDO_ERR_INVALID);
	assert_null(t);
	session_config_defaults(&c);
	c.max_sessions = 0;
	assert_int_equal(session_table_create(&c, NULL, &t), SUIDO_ERR_INVALID);
	session_config_defaults(&c);
	assert_int_equal(session_table_create(&c, NULL, &t), SUIDO_OK);
	session_table_free(t);
	session_table_free(NULL);
}

static void test_create_lookup_touch(void **state)
{
	struct session_table *t = make(0, 0);
	struct session_info info;
	char id[SESSION_ID_TEXT];

	(void)state;
	assert_int_equal(session_create(t, "u-0001", T0, id), SUIDO_OK);
	assert_int_equal(session_count(t), 1);
	assert_int_equal(session_lookup(t, id, T0 + 1000, &info), SUIDO_OK);
	assert_string_equal(info.user, "u-0001");
	assert_int_equal(info.created_ms, T0);
	assert_int_equal(info.last_used_ms, T0); /* lookup does not touch */
	assert_int_equal(info.expires_ms, T0 + 30 * MIN);
	assert_int_equal(session_touch(t, id, T0 + 10 * MIN, &info), SUIDO_OK);
	assert_int_equal(info.last_used_ms, T0 + 10 * MIN);
	assert_int_equal(info.expires_ms, T0 + 40 * MIN);
	assert_int_equal(session_lookup(t, id, T0 + 39 * MIN, NULL), SUIDO_OK);
	assert_int_equal(session_create(t, "", T0, id), SUIDO_ERR_INVALID);
	assert_string_equal(id, "");
	session_table_free(t);
}

static void test_idle_expiry(void **state)
{
	struct session_table *t = make(0, 0);
	char id[SESSION_ID_TEXT];

	(void)state;
	assert_int_equal(session_create(t, "u1", T0, id), SUIDO_OK);
	assert_int_equal(session_touch(t, id, T0 + 30 * MIN - 1, NULL), SUIDO_OK);
	assert_int_equal(session_touch(t, id, T0 + 60 * MIN - 2, NULL), SUIDO_OK);
	assert_int_equal(session_touch(t, id, T0 + 90 * MIN - 2, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_count(t), 0); /* removed when found expired */
	/* Once expired it stays gone, even if the clock went back. */
	assert_int_equal(session_touch(t, id, T0, NULL), SUIDO_ERR_NOTFOUND);
	session_table_free(t);
}

static void test_absolute_expiry_even_when_active(void **state)
{
	struct session_table *t = make(0, 0);
	struct session_info info;
	char id[SESSION_ID_TEXT];
	uint64_t now = T0;

	(void)state;
	assert_int_equal(session_create(t, "u1", T0, id), SUIDO_OK);
	for (; now < T0 + 12 * 60 * MIN; now += 10 * MIN)
		assert_int_equal(session_touch(t, id, now, &info), SUIDO_OK);
	assert_int_equal(session_touch(t, id, T0 + 12 * 60 * MIN - 1, &info), SUIDO_OK);
	assert_int_equal(info.expires_ms, T0 + 12 * 60 * MIN);
	assert_int_equal(session_touch(t, id, T0 + 12 * 60 * MIN, NULL), SUIDO_ERR_NOTFOUND);
	session_table_free(t);
}

static void test_revoke(void **state)
{
	struct session_table *t = make(0, 0);
	char a1[SESSION_ID_TEXT], a2[SESSION_ID_TEXT], a3[SESSION_ID_TEXT], b1[SESSION_ID_TEXT];
	size_t n = 99;

	(void)state;
	assert_int_equal(session_create(t, "alice", T0, a1), SUIDO_OK);
	assert_int_equal(session_create(t, "alice", T0, a2), SUIDO_OK);
	assert_int_equal(session_create(t, "alice", T0, a3), SUIDO_OK);
	assert_int_equal(session_create(t, "bob", T0, b1), SUIDO_OK);
	assert_int_equal(session_revoke(t, a1), SUIDO_OK);
	assert_int_equal(session_revoke(t, a1), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, a1, T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, a2, T0, NULL), SUIDO_OK);
	/* Password change in session a3: every other session of alice ends. */
	assert_int_equal(session_revoke_user(t, "alice", a3, &n), SUIDO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(session_lookup(t, a2, T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, a3, T0, NULL), SUIDO_OK);
	assert_int_equal(session_revoke_user(t, "alice", NULL, &n), SUIDO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(session_lookup(t, a3, T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, b1, T0, NULL), SUIDO_OK);
	assert_int_equal(session_count(t), 1);
	session_table_free(t);
}

static void test_ids_unique_and_well_formed(void **state)
{
	enum { N = 2000 };
	static char ids[N][SESSION_ID_TEXT];
	struct session_table *t = make(N, N);

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(session_create(t, "many", T0, ids[i]), SUIDO_OK);
		assert_int_equal(strlen(ids[i]), 43);
		assert_int_equal(strspn(ids[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						"0123456789-_"),
				 43);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	/* Every one is found after all that probing and shifting. */
	for (int i = 0; i < N; i++)
		assert_int_equal(session_lookup(t, ids[i], T0, NULL), SUIDO_OK);
	/* Revoke every other one; the rest are still found. */
	for (int i = 0; i < N; i += 2)
		assert_int_equal(session_revoke(t, ids[i]), SUIDO_OK);
	for (int i = 0; i < N; i++)
		assert_int_equal(session_lookup(t, ids[i], T0, NULL),
				 i % 2 ? SUIDO_OK : SUIDO_ERR_NOTFOUND);
	session_table_free(t);
}

static void test_wrong_and_truncated_ids(void **state)
{
	struct session_table *t = make(0, 0);
	char id[SESSION_ID_TEXT], bad[SESSION_ID_TEXT + 8];

	(void)state;
	assert_int_equal(session_create(t, "u1", T0, id), SUIDO_OK);
	memcpy(bad, id, 42);
	bad[42] = '\0'; /* truncated */
	assert_int_equal(session_lookup(t, bad, T0, NULL), SUIDO_ERR_NOTFOUND);
	snprintf(bad, sizeof bad, "%sA", id); /* too long */
	assert_int_equal(session_lookup(t, bad, T0, NULL), SUIDO_ERR_NOTFOUND);
	strcpy(bad, id);
	bad[10] = bad[10] == 'A' ? 'B' : 'A'; /* one character changed */
	assert_int_equal(session_lookup(t, bad, T0, NULL), SUIDO_ERR_NOTFOUND);
	strcpy(bad, id);
	bad[5] = '+'; /* standard base64, not base64url */
	assert_int_equal(session_lookup(t, bad, T0, NULL), SUIDO_ERR_NOTFOUND);
	/* The same 32 bytes spelled with non-zero spare bits: not canonical. */
	strcpy(bad, id);
	{
		static const char alpha[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		int v = (int)(strchr(alpha, id[42]) - alpha);

		bad[42] = alpha[v | 1];
	}
	assert_int_equal(session_lookup(t, bad, T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, "", T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, NULL, T0, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, id, T0, NULL), SUIDO_OK);
	session_table_free(t);
}

static void test_limits(void **state)
{
	struct session_table *t = make(4, 2);
	char a1[SESSION_ID_TEXT], a2[SESSION_ID_TEXT], a3[SESSION_ID_TEXT], x[SESSION_ID_TEXT];

	(void)state;
	/* Per user: the least recently used session makes room. */
	assert_int_equal(session_create(t, "alice", T0, a1), SUIDO_OK);
	assert_int_equal(session_create(t, "alice", T0 + 1, a2), SUIDO_OK);
	assert_int_equal(session_touch(t, a1, T0 + 2, NULL), SUIDO_OK);
	assert_int_equal(session_create(t, "alice", T0 + 3, a3), SUIDO_OK);
	assert_int_equal(session_lookup(t, a2, T0 + 3, NULL), SUIDO_ERR_NOTFOUND);
	assert_int_equal(session_lookup(t, a1, T0 + 3, NULL), SUIDO_OK);
	assert_int_equal(session_lookup(t, a3, T0 + 3, NULL), SUIDO_OK);
	/* The table: 4 sessions, then FULL, until some expire. */
	assert_int_equal(session_create(t, "bob", T0 + 3, x), SUIDO_OK);
	assert_int_equal(session_create(t, "carol", T0 + 3, x), SUIDO_OK);
	assert_int_equal(session_create(t, "dave", T0 + 3, x), SUIDO_ERR_FULL);
	assert_string_equal(x, "");
	assert_int_equal(session_create(t, "dave", T0 + 31 * MIN, x), SUIDO_OK);
	assert_int_equal(session_count(t), 1);
	session_table_free(t);
}

static void test_csrf(void **state)
{
	struct session_table *t = make(0, 0), *t2 = NULL;
	struct session_config c;
	char id[SESSION_ID_TEXT], id2[SESSION_ID_TEXT], tok[SESSION_CSRF_TEXT],
		tok2[SESSION_CSRF_TEXT], bad[SESSION_CSRF_TEXT + 4];

	(void)state;
	assert_int_equal(session_create(t, "u1", T0, id), SUIDO_OK);
	assert_int_equal(session_create(t, "u1", T0, id2), SUIDO_OK);
	assert_int_equal(session_csrf_token(t, id, tok), SUIDO_OK);
	assert_int_equal(strlen(tok), 43);
	assert_string_not_equal(tok, id);
	assert_int_equal(session_csrf_check(t, id, tok), SUIDO_OK);
	/* Another session's token, a changed, truncated or longer token: refused. */
	assert_int_equal(session_csrf_token(t, id2, tok2), SUIDO_OK);
	assert_string_not_equal(tok, tok2);
	assert_int_equal(session_csrf_check(t, id, tok2), SUIDO_ERR_PERM);
	strcpy(bad, tok);
	bad[42] = bad[42] == 'A' ? 'B' : 'A';
	assert_int_equal(session_csrf_check(t, id, bad), SUIDO_ERR_PERM);
	strcpy(bad, tok);
	bad[42] = '\0';
	assert_int_equal(session_csrf_check(t, id, bad), SUIDO_ERR_PERM);
	snprintf(bad, sizeof bad, "%sA", tok);
	assert_int_equal(session_csrf_check(t, id, bad), SUIDO_ERR_PERM);
	assert_int_equal(session_csrf_check(t, id, ""), SUIDO_ERR_PERM);
	assert_int_equal(session_csrf_check(t, id, NULL), SUIDO_ERR_PERM);
	assert_int_equal(session_csrf_check(t, "short", tok), SUIDO_ERR_PERM);
	assert_int_equal(session_csrf_token(t, "short", bad), SUIDO_ERR_INVALID);
	assert_string_equal(bad, "");
	/* The token depends on the server key. */
	session_config_defaults(&c);
	assert_int_equal(session_table_create(&c, NULL, &t2), SUIDO_OK);
	assert_int_equal(session_csrf_check(t2, id, tok), SUIDO_ERR_PERM);
	session_table_free(t2);
	session_table_free(t);
}

static void test_cookie_format(void **state)
{
	static const char id[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char out[SESSION_COOKIE_MAX];

	(void)state;
	assert_int_equal(session_cookie_format(id, 43200, out, sizeof out), SUIDO_OK);
	assert_string_equal(out, "__Host-suido_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; "
				 "Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200");
	assert_int_equal(session_cookie_format(NULL, 43200, out, sizeof out), SUIDO_OK);
	assert_string_equal(out, "__Host-suido_session=; Path=/; Secure; HttpOnly; "
				 "SameSite=Strict; Max-Age=0");
	assert_int_equal(session_cookie_format("x; Domain=evil", 1, out, sizeof out),
			 SUIDO_ERR_INVALID);
	assert_int_equal(session_cookie_format(id, 1, out, 40), SUIDO_ERR_LIMIT);
	assert_int_equal(session_cookie_format(id, UINT64_MAX, out, sizeof out), SUIDO_OK);
}

static void test_cookie_parse(void **state)
{
	static const char id[] = "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE";
	char got[SESSION_ID_TEXT], h[SESSION_COOKIE_HEADER_MAX + 2];

#define PARSE(s) session_cookie_parse((s), strlen(s), got)
	(void)state;
	assert_int_equal(PARSE("__Host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"),
			 SUIDO_OK);
	assert_string_equal(got, id);
	assert_int_equal(PARSE("lang=ja; __Host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789"
			       "-_ABCDE; theme=dark"),
			 SUIDO_OK);
	assert_string_equal(got, id);
	assert_int_equal(PARSE("  ;;\t__Host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789-_"
			       "ABCDE\t ;"),
			 SUIDO_OK);
	assert_int_equal(PARSE("lang=ja"), SUIDO_ERR_NOTFOUND);
	assert_string_equal(got, "");
	assert_int_equal(PARSE(""), SUIDO_ERR_NOTFOUND);
	assert_int_equal(PARSE("suido_session=abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(PARSE("__host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE"),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(PARSE("__Host-suido_session=short"), SUIDO_ERR_INVALID);
	assert_int_equal(PARSE("__Host-suido_session="), SUIDO_ERR_INVALID);
	assert_int_equal(PARSE("__Host-suido_session=\"abcdefghijklmnopqrstuvwxyz0123456789-_ABC\""),
			 SUIDO_ERR_INVALID);
	assert_int_equal(PARSE("__Host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789+/ABCDE"),
			 SUIDO_ERR_INVALID);
	/* Two cookies of the name (one planted): neither is trusted. */
	assert_int_equal(PARSE("__Host-suido_session=abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE; "
			       "__Host-suido_session=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_abcde"),
			 SUIDO_ERR_INVALID);
	assert_string_equal(got, "");
	memset(h, ' ', sizeof h);
	assert_int_equal(session_cookie_parse(h, SESSION_COOKIE_HEADER_MAX + 1, got),
			 SUIDO_ERR_LIMIT);
	assert_int_equal(session_cookie_parse(h, SESSION_COOKIE_HEADER_MAX, got),
			 SUIDO_ERR_NOTFOUND);
#undef PARSE
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_create_lookup_touch),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_absolute_expiry_even_when_active),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_ids_unique_and_well_formed),
		cmocka_unit_test(test_wrong_and_truncated_ids),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_cookie_format),
		cmocka_unit_test(test_cookie_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
