/*
 * Unit tests of canonical base64url (b64url.h): RFC 4648 vectors both ways,
 * every length, and the refusals that keep one spelling per byte string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "suido/b64url.h"

static void test_vectors(void **state)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char s[16];
	uint8_t d[16];

	(void)state;
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		size_t n = strlen(in[i]);
		assert_int_equal(b64url_encode(in[i], n, s, sizeof s), strlen(out[i]));
		assert_string_equal(s, out[i]);
		assert_int_equal(b64url_encoded_len(n), strlen(out[i]));
		assert_int_equal(b64url_decoded_len(strlen(out[i])), n);
		assert_true(b64url_valid(out[i], strlen(out[i])));
		assert_true(b64url_canonical(out[i], strlen(out[i])));
		assert_int_equal(b64url_decode(out[i], strlen(out[i]), d), 1);
		assert_memory_equal(d, in[i], n);
	}
	assert_int_equal(b64url_encode("\xfb\xff", 2, s, sizeof s), 3);
	assert_string_equal(s, "-_8");
	/* out too small: 0, untouched */
	memcpy(s, "xxxx", 5);
	assert_int_equal(b64url_encode("foo", 3, s, 4), 0);
	assert_string_equal(s, "xxxx");
	assert_int_equal(b64url_encode("foo", 3, s, 5), 4);
}

static void test_refusals(void **state)
{
	uint8_t d[16];

	(void)state;
	assert_false(b64url_canonical("Zm9vY", 5));   /* a length no byte count makes */
	assert_false(b64url_canonical("Zg==", 4));    /* padding */
	assert_false(b64url_canonical("Zh", 2));      /* non-zero bits after the last byte */
	assert_false(b64url_canonical("Zm9", 3));     /* idem, three characters */
	assert_true(b64url_canonical("Zm8", 3));
	assert_false(b64url_valid("Zm+v", 4));        /* standard alphabet */
	assert_false(b64url_valid("Zm/v", 4));
	assert_false(b64url_valid("Z\0g", 3));
	assert_true(b64url_canonical("Zm+v", 4));     /* the alphabet is decode's */
	assert_int_equal(b64url_decode("Zm+v", 4, d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
