/* Tests for numbers as business systems write them (numparse.h), and for the
 * shortest round-trip formatting used in every JSON answer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/numparse.h"

static double ok(const char *s)
{
	double v;
	char err[128];
	int rc = numparse_double(s, strlen(s), &v, err, sizeof err);
	if (rc != SUIDO_OK)
		fail_msg("\"%s\": %s", s, err);
	return v;
}

static void bad(const char *s, const char *why)
{
	double v;
	char err[128] = "";
	assert_int_equal(numparse_double(s, strlen(s), &v, err, sizeof err), SUIDO_ERR_INVALID);
	if (!strstr(err, why))
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", s, err, why);
}

static void test_parse(void **state)
{
	assert_true(ok("4.50") == 4.5);
	assert_true(ok(" -0.052 ") == -0.052);
	assert_true(ok("+3") == 3);
	assert_true(ok("6,320") == 6320);
	assert_true(ok("1,234,567.5") == 1234567.5);
	assert_true(ok("1.5e3") == 1500);
	assert_true(ok("\xef\xbc\x96\xef\xbc\x8c\xef\xbc\x93\xef\xbc\x92\xef\xbc\x90") == 6320);
	assert_true(ok("\xe2\x88\x92\x31") == -1);
	bad("12a", "not a number: \"12a\"");
	bad("1,23", "thousands separator");
	bad("1234,567", "thousands separator");
	bad(",123", "thousands separator");
	bad("nan", "not a number");
	bad("inf", "not a number");
	bad("0x10", "not a number");
	bad("1e999", "out of range");
	bad("-", "not a number");
	double v;
	char err[64];
	assert_int_equal(numparse_double("  ", 2, &v, err, sizeof err), SUIDO_ERR_NOTFOUND);
}

static void expect_fmt(double v, const char *want)
{
	char buf[32];
	size_t n = numparse_format(v, buf);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	expect_fmt(4.5, "4.5");
	expect_fmt(0.47, "0.47");
	expect_fmt(423, "423");
	expect_fmt(-0.052, "-0.052");
	expect_fmt(0.001, "0.001");
	expect_fmt(-0.0, "0");
	expect_fmt(6320, "6320");
	expect_fmt(0.1 + 0.2, "0.30000000000000004");
	expect_fmt(1e21, "1e+21");
	expect_fmt(123456789.125, "123456789.125");
}

/* Every formatted value must read back as exactly the same double. */
static void test_round_trip_random(void **state)
{
	char buf[32];
	uint64_t x = 88172645463325252ull;

	for (int i = 0; i < 200000; i++) {
		double v;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 4) {
		case 0: v = (double)(int64_t)(x % 2000000) / 1000.0 - 1000; break; /* 3 decimals */
		case 1: v = (double)(x % 100000) / 100.0; break;
		case 2: memcpy(&v, &x, sizeof v); break; /* any bit pattern */
		default: v = (double)(x % 1000000007) * 1e-9; break;
		}
		if (!isfinite(v))
			continue;
		numparse_format(v, buf);
		if (strtod(buf, NULL) != v && !(v == 0))
			fail_msg("%.17g formatted as %s", v, buf);
	}
}

/* The parser's fast path for plain decimals (at most 15 digits) gives
 * exactly the double strtod gives, bit for bit, signed zero included; longer
 * or exponent forms go to strtod. */
static void test_parse_matches_strtod(void **state)
{
	static const char *const fixed[] = {
		"0", "-0", "+0", "0.1", "-0.1", "5.", ".5", "000123.4500", "999999999999999",
		"-999999999999999", "0.000000000000001", "123456789.012345", "1234567890123456",
		"0.1234567890123456", "1e3", "-2.5E-3", "9007199254740993", "0.30000000000000004"};
	char buf[40];
	uint64_t x = 0x9E3779B97F4A7C15ull;

	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		double a, b = strtod(fixed[i], NULL);
		assert_int_equal(numparse_double(fixed[i], strlen(fixed[i]), &a, NULL, 0), SUIDO_OK);
		if (memcmp(&a, &b, sizeof a) != 0)
			fail_msg("%s: %.17g, strtod %.17g", fixed[i], a, b);
	}
	for (int i = 0; i < 300000; i++) {
		double a, b;
		int n = 0, digits;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		digits = 1 + (int)(x % 16); /* 16 digits: the strtod path */
		if (x >> 60 & 1)
			buf[n++] = '-';
		for (int d = 0; d < digits; d++) {
			if (d == (int)(x >> 8 & 15) % digits && d > 0)
				buf[n++] = '.';
			buf[n++] = (char)('0' + (x >> (12 + 3 * (d % 16)) ^ (uint64_t)d * 7) % 10);
		}
		buf[n] = '\0';
		b = strtod(buf, NULL);
		assert_int_equal(numparse_double(buf, (size_t)n, &a, NULL, 0), SUIDO_OK);
		if (memcmp(&a, &b, sizeof a) != 0)
			fail_msg("%s: %.17g, strtod %.17g", buf, a, b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_parse_matches_strtod),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
