/*
 * Unit tests of timeutil.h: the timestamp shapes of the samples and of the
 * API, rejection of impossible civil dates, ISO 8601 output, and local-time
 * buckets in Asia/Tokyo and in zones with DST (including one whose DST change
 * skips midnight).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/timeutil.h"

/* Parses text with format and returns its UTC rendering, or "ERR". */
static const char *p(const char *text, const char *format)
{
	static char out[32];
	char err[128];
	int64_t ms;

	if (timeutil_parse(text, strlen(text), format, &ms, err, sizeof(err)) != SUIDO_OK)
		return "ERR";
	timeutil_format_utc(ms, out);
	return out;
}

static const char *fmt(int64_t ms)
{
	static char out[4][32];
	static int k;

	k = (k + 1) % 4;
	timeutil_format_utc(ms, out[k]);
	return out[k];
}

static int64_t ms_of(const char *iso)
{
	int64_t ms = 0;

	assert_int_equal(timeutil_parse(iso, strlen(iso), "iso8601", &ms, NULL, 0), SUIDO_OK);
	return ms;
}

static int tokyo(void **state)
{
	(void)state;
	return timeutil_set_zone("Asia/Tokyo") == SUIDO_OK ? 0 : -1;
}

static void test_set_zone(void **state)
{
	(void)state;
	assert_int_equal(timeutil_set_zone("UTC"), SUIDO_OK);
	assert_string_equal(p("2026/11/20 0:00", "%Y/%m/%d %H:%M"), "2026-11-20T00:00:00Z");
	assert_int_equal(timeutil_set_zone("No/Such_Zone"), SUIDO_ERR_CONFIG);
	assert_int_equal(timeutil_set_zone("../../etc/passwd"), SUIDO_ERR_CONFIG);
	assert_int_equal(timeutil_set_zone("/etc/passwd"), SUIDO_ERR_CONFIG);
	assert_int_equal(timeutil_set_zone(""), SUIDO_ERR_CONFIG);
	assert_int_equal(timeutil_set_zone("Asia"), SUIDO_ERR_CONFIG); /* a directory */
	assert_int_equal(timeutil_set_zone("Asia/Tokyo"), SUIDO_OK);
	assert_string_equal(p("2026/11/20 0:00", "%Y/%m/%d %H:%M"), "2026-11-19T15:00:00Z");
}

static void test_pattern_sample_shapes(void **state)
{
	(void)state;
	/* haisuichi: one-digit hour, local Tokyo time */
	assert_string_equal(p("2026/11/20 0:00", "%Y/%m/%d %H:%M"), "2026-11-19T15:00:00Z");
	assert_string_equal(p("2026/11/21 23:00", "%Y/%m/%d %H:%M"), "2026-11-21T14:00:00Z");
	/* ryokin: date only is local midnight */
	assert_string_equal(p("2026/11/10", "%Y/%m/%d"), "2026-11-09T15:00:00Z");
	/* 1-2 digit months and days, surrounding spaces, padded hour */
	assert_string_equal(p("  2026/1/5 ", "%Y/%m/%d"), "2026-01-04T15:00:00Z");
	assert_string_equal(p("2026/11/20  9:05", "%Y/%m/%d %H:%M"), "2026-11-20T00:05:00Z");
	assert_string_equal(p("20261120093007", "%Y%m%d%H%M%S"), "2026-11-20T00:30:07Z");
	assert_string_equal(p("2026-11-20 09:30:07", "%Y-%m-%d %H:%M:%S"),
			    "2026-11-20T00:30:07Z");
	assert_string_equal(p("100% 2026", "100%% %Y"), "2025-12-31T15:00:00Z");
	/* shape mismatches */
	assert_string_equal(p("2026/11/20 0:00x", "%Y/%m/%d %H:%M"), "ERR");
	assert_string_equal(p("2026-11-20 0:00", "%Y/%m/%d %H:%M"), "ERR");
	assert_string_equal(p("26/11/20", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2026/123/20", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("   ", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2026/11/20", "%Y/%q/%d"), "ERR");
}

static void test_impossible_dates(void **state)
{
	char err[128];
	int64_t ms = 42;

	(void)state;
	assert_int_equal(timeutil_parse("2026/02/30", 10, "%Y/%m/%d", &ms, err, sizeof(err)),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "impossible date \"2026/02/30\"");
	assert_int_equal(ms, 42); /* untouched on failure */
	assert_string_equal(p("2026/13/01", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2026/00/01", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2026/04/31", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2026/04/0", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2025/02/29", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("1900/02/29", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("0000/01/01", "%Y/%m/%d"), "ERR");
	assert_string_equal(p("2024/02/29", "%Y/%m/%d"), "2024-02-28T15:00:00Z");
	assert_string_equal(p("2000/02/29", "%Y/%m/%d"), "2000-02-28T15:00:00Z");
	assert_string_equal(p("2026/12/31 23:59:59", "%Y/%m/%d %H:%M:%S"),
			    "2026-12-31T14:59:59Z");
	assert_int_equal(timeutil_parse("2026/11/20 24:00", 16, "%Y/%m/%d %H:%M", &ms, err,
					sizeof(err)),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "impossible time \"2026/11/20 24:00\"");
	assert_string_equal(p("2026/11/20 0:60", "%Y/%m/%d %H:%M"), "ERR");
	assert_string_equal(p("2026/11/20 0:00:60", "%Y/%m/%d %H:%M:%S"), "ERR");
	assert_string_equal(p("2026-02-30T00:00:00Z", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-20T24:00:00Z", "iso8601"), "ERR");

	assert_int_equal(timeutil_local_to_utc(2026, 2, 29, 0, 0, 0, 0, &ms), SUIDO_ERR_INVALID);
	assert_int_equal(timeutil_local_to_utc(2026, 11, 20, 0, 0, 0, 1000, &ms),
			 SUIDO_ERR_INVALID);
	assert_int_equal(timeutil_local_to_utc(2026, 11, 20, 0, 0, 0, 250, &ms), SUIDO_OK);
	assert_string_equal(fmt(ms), "2026-11-19T15:00:00.250Z");
}

static void test_iso8601(void **state)
{
	(void)state;
	assert_string_equal(p("2026-11-21T06:00:00+09:00", "iso8601"), "2026-11-20T21:00:00Z");
	assert_string_equal(p("2026-11-21T06:00:00+0900", "iso8601"), "2026-11-20T21:00:00Z");
	assert_string_equal(p("2026-11-21T06:00:00-05:00", "iso8601"), "2026-11-21T11:00:00Z");
	assert_string_equal(p("2026-11-21T06:00:00+05:45", "iso8601"), "2026-11-21T00:15:00Z");
	assert_string_equal(p("2026-11-21T06:00:00Z", "iso8601"), "2026-11-21T06:00:00Z");
	assert_string_equal(p("2026-11-21 06:00:00Z", "iso8601"), "2026-11-21T06:00:00Z");
	assert_string_equal(p("2026-11-21T06:00Z", "iso8601"), "2026-11-21T06:00:00Z");
	/* "+" decoded as a space by a query string */
	assert_string_equal(p("2026-11-21T06:00:00 09:00", "iso8601"), "2026-11-20T21:00:00Z");
	/* fractions: milliseconds kept, finer digits truncated */
	assert_string_equal(p("2026-11-21T06:00:00.123Z", "iso8601"), "2026-11-21T06:00:00.123Z");
	assert_string_equal(p("2026-11-21T06:00:00.5+09:00", "iso8601"),
			    "2026-11-20T21:00:00.500Z");
	assert_string_equal(p("2026-11-21T06:00:00.123999Z", "iso8601"),
			    "2026-11-21T06:00:00.123Z");
	/* across a day and a year boundary */
	assert_string_equal(p("2027-01-01T08:59:59+09:00", "iso8601"), "2026-12-31T23:59:59Z");
	/* without offset: local (Tokyo) */
	assert_string_equal(p("2026-11-21T06:00:00", "iso8601"), "2026-11-20T21:00:00Z");
	assert_string_equal(p(" 2026-11-21 06:00 ", "iso8601"), "2026-11-20T21:00:00Z");
	/* malformed */
	assert_string_equal(p("2026-11-21", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T6:00:00Z", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T06:00:00+9", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T06:00:00+09:0", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T06:00:00+24:00", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T06:00:00Zx", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21T06:00:00.Z", "iso8601"), "ERR");
	assert_string_equal(p("2026/11/21T06:00:00Z", "iso8601"), "ERR");
	assert_string_equal(p("2026-11-21X06:00:00Z", "iso8601"), "ERR");
}

static void test_format_valid_and_utc(void **state)
{
	char buf[32];

	(void)state;
	assert_true(timeutil_format_valid("iso8601"));
	assert_true(timeutil_format_valid("%Y/%m/%d %H:%M"));
	assert_true(timeutil_format_valid("%Y%m%d %% %S"));
	assert_false(timeutil_format_valid("%Y/%m/%d %I"));
	assert_false(timeutil_format_valid("%Y/%m/%"));
	assert_false(timeutil_format_valid(""));

	assert_int_equal(timeutil_format_utc(0, buf), 20);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(timeutil_format_utc(-1, buf), 24);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	timeutil_format_utc(1795100400000LL, buf);
	assert_string_equal(buf, "2026-11-19T15:00:00Z");
	assert_int_equal(ms_of("2026-11-19T15:00:00Z"), 1795100400000LL);
	/* the extremes do not overflow the 32-byte buffer */
	assert_true(timeutil_format_utc(INT64_MIN, buf) < 32);
	assert_true(timeutil_format_utc(INT64_MAX, buf) < 32);
}

static void test_bucket_parse(void **state)
{
	enum time_bucket b;

	(void)state;
	assert_int_equal(timeutil_bucket_parse("10m", &b), 0);
	assert_int_equal(b, BUCKET_10MIN);
	assert_int_equal(timeutil_bucket_parse("10min", &b), 0);
	assert_int_equal(b, BUCKET_10MIN);
	assert_int_equal(timeutil_bucket_parse("1h", &b), 0);
	assert_int_equal(b, BUCKET_HOUR);
	assert_int_equal(timeutil_bucket_parse("hour", &b), 0);
	assert_int_equal(b, BUCKET_HOUR);
	assert_int_equal(timeutil_bucket_parse("1d", &b), 0);
	assert_int_equal(b, BUCKET_DAY);
	assert_int_equal(timeutil_bucket_parse("day", &b), 0);
	assert_int_equal(b, BUCKET_DAY);
	assert_int_equal(timeutil_bucket_parse("1mo", &b), 0);
	assert_int_equal(b, BUCKET_MONTH);
	assert_int_equal(timeutil_bucket_parse("month", &b), 0);
	assert_int_equal(b, BUCKET_MONTH);
	assert_int_equal(timeutil_bucket_parse("1y", &b), -1);
	assert_int_equal(timeutil_bucket_parse("", &b), -1);
}

static void test_buckets_tokyo(void **state)
{
	int64_t t = ms_of("2026-11-20T03:17:42.5Z"); /* 12:17 JST on the 20th */
	int64_t s;

	(void)state;
	assert_string_equal(fmt(timeutil_bucket_start(t, BUCKET_10MIN)), "2026-11-20T03:10:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(timeutil_bucket_start(t, BUCKET_10MIN),
						     BUCKET_10MIN)),
			    "2026-11-20T03:20:00Z");
	assert_string_equal(fmt(timeutil_bucket_start(t, BUCKET_HOUR)), "2026-11-20T03:00:00Z");
	s = timeutil_bucket_start(t, BUCKET_DAY);
	assert_string_equal(fmt(s), "2026-11-19T15:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_DAY)), "2026-11-20T15:00:00Z");
	/* 14:59:59Z is still the previous local day; 15:00Z starts a new one */
	assert_string_equal(fmt(timeutil_bucket_start(ms_of("2026-11-20T14:59:59Z"), BUCKET_DAY)),
			    "2026-11-19T15:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_start(ms_of("2026-11-20T15:00:00Z"), BUCKET_DAY)),
			    "2026-11-20T15:00:00Z");

	/* months across the year end: December 2026 in JST */
	s = timeutil_bucket_start(ms_of("2026-12-15T00:00:00+09:00"), BUCKET_MONTH);
	assert_string_equal(fmt(s), "2026-11-30T15:00:00Z");
	s = timeutil_bucket_next(s, BUCKET_MONTH);
	assert_string_equal(fmt(s), "2026-12-31T15:00:00Z");
	s = timeutil_bucket_next(s, BUCKET_MONTH);
	assert_string_equal(fmt(s), "2027-01-31T15:00:00Z");
	/* 2027-01-01 00:30 JST is 2026-12-31 in UTC but January locally */
	assert_string_equal(fmt(timeutil_bucket_start(ms_of("2026-12-31T15:30:00Z"),
						      BUCKET_MONTH)),
			    "2026-12-31T15:00:00Z");
	/* February of a leap year */
	s = timeutil_bucket_start(ms_of("2028-02-29T12:00:00+09:00"), BUCKET_MONTH);
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_MONTH)), "2028-02-29T15:00:00Z");
	/* before 1970 */
	assert_string_equal(fmt(timeutil_bucket_start(ms_of("1969-12-31T23:59:59.999Z"),
						      BUCKET_DAY)),
			    "1969-12-31T15:00:00Z");
}

static void test_buckets_dst(void **state)
{
	int64_t s;

	(void)state;
	assert_int_equal(timeutil_set_zone("America/New_York"), SUIDO_OK);
	/* 2026-03-08: 23-hour day */
	s = timeutil_bucket_start(ms_of("2026-03-08T12:00:00Z"), BUCKET_DAY);
	assert_string_equal(fmt(s), "2026-03-08T05:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_DAY)), "2026-03-09T04:00:00Z");
	/* 2026-11-01: 25-hour day */
	s = timeutil_bucket_start(ms_of("2026-11-01T23:00:00Z"), BUCKET_DAY);
	assert_string_equal(fmt(s), "2026-11-01T04:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_DAY)), "2026-11-02T05:00:00Z");
	/* months changing offset */
	s = timeutil_bucket_start(ms_of("2026-03-20T00:00:00Z"), BUCKET_MONTH);
	assert_string_equal(fmt(s), "2026-03-01T05:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_MONTH)), "2026-04-01T04:00:00Z");
	/* local parse on both sides of the change */
	assert_string_equal(p("2026/03/08 01:30", "%Y/%m/%d %H:%M"), "2026-03-08T06:30:00Z");
	assert_string_equal(p("2026/03/08 03:30", "%Y/%m/%d %H:%M"), "2026-03-08T07:30:00Z");

	/* Santiago skips local midnight on 2026-09-06: the day starts at 01:00 -03 */
	assert_int_equal(timeutil_set_zone("America/Santiago"), SUIDO_OK);
	s = timeutil_bucket_start(ms_of("2026-09-06T12:00:00Z"), BUCKET_DAY);
	assert_string_equal(fmt(s), "2026-09-06T04:00:00Z");
	s = timeutil_bucket_start(ms_of("2026-09-05T12:00:00Z"), BUCKET_DAY);
	assert_string_equal(fmt(s), "2026-09-05T04:00:00Z");
	assert_string_equal(fmt(timeutil_bucket_next(s, BUCKET_DAY)), "2026-09-06T04:00:00Z");

	/* a half-hour zone: hour buckets follow local wall time */
	assert_int_equal(timeutil_set_zone("Asia/Kolkata"), SUIDO_OK);
	assert_string_equal(fmt(timeutil_bucket_start(ms_of("2026-11-20T03:10:00Z"),
						      BUCKET_HOUR)),
			    "2026-11-20T02:30:00Z");
	assert_int_equal(timeutil_set_zone("Asia/Tokyo"), SUIDO_OK);
}

/* The digit-writing fast path of timeutil_format_utc against gmtime_r. */
static void test_format_utc_matches_gmtime(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char got[32], want[96];

	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* years 0001..9999 */
		int64_t ms = (int64_t)(x % 315537897600000ull) - 62135596800000LL;
		time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
		int frac = (int)(ms - (int64_t)t * 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		if (frac)
			snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec, frac);
		else
			snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_int_equal(timeutil_format_utc(ms, got), strlen(want));
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_utc_matches_gmtime),
		cmocka_unit_test(test_set_zone),
		cmocka_unit_test(test_pattern_sample_shapes),
		cmocka_unit_test(test_impossible_dates),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_format_valid_and_utc),
		cmocka_unit_test(test_bucket_parse),
		cmocka_unit_test(test_buckets_tokyo),
		cmocka_unit_test(test_buckets_dst),
	};

	return cmocka_run_group_tests(tests, tokyo, NULL);
}
