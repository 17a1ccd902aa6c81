/*
 * Time: parsing the timestamp formats utility systems write, conversion
 * between local time and UTC, ISO 8601 output, and calendar buckets for
 * aggregates. All instants are int64 milliseconds since the Unix epoch, UTC.
 *
 * Local time means the process time zone, set once at start with
 * timeutil_set_zone() (the platform and the gateway each run in one zone,
 * e.g. Asia/Tokyo; the C library's zone handling is process-wide).
 */
#ifndef SUIDO_TIMEUTIL_H
#define SUIDO_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Sets the process zone from an IANA name ("Asia/Tokyo", "UTC"). Returns
 * SUIDO_OK, or SUIDO_ERR_CONFIG if /usr/share/zoneinfo/<name> does not exist. */
int timeutil_set_zone(const char *name);

/*
 * Parses text[0..len) according to format into *out_ms.
 * format is either "iso8601" (YYYY-MM-DD[T ]hh:mm[:ss[.fff]] with optional
 * Z or +hh:mm / -hh:mm / +hhmm; without an offset it is local time) or a
 * pattern of literal characters and the conversions
 *   %Y 4-digit year, %m month 1-2 digits, %d day 1-2 digits, %H hour 1-2 digits,
 *   %M minute 1-2 digits, %S second 1-2 digits, %% a percent sign,
 * interpreted as local time (missing fields are 0, e.g. "%Y/%m/%d" is midnight).
 * Surrounding ASCII spaces are ignored. Impossible values (month 13, Feb 30,
 * hour 24, minute 60, second 60) are rejected. Returns SUIDO_OK or
 * SUIDO_ERR_INVALID with a reason in err ("impossible date 2026/02/30").
 */
int timeutil_parse(const char *text, size_t len, const char *format, int64_t *out_ms,
		   char *err, size_t errlen);

/* Nonzero when format is "iso8601" or a pattern using only the conversions above. */
int timeutil_format_valid(const char *format);

/* Writes "2026-11-19T15:00:00Z" (".123" before the Z when ms % 1000 != 0);
 * buf needs 32 bytes. Returns the length written. */
size_t timeutil_format_utc(int64_t ms, char *buf);

/* Local civil time to UTC; fields are validated as above. SUIDO_OK or _INVALID. */
int timeutil_local_to_utc(int year, int mon, int day, int hour, int min, int sec, int ms,
			  int64_t *out_ms);

/* Wall-clock time now, UTC milliseconds. */
int64_t timeutil_now_ms(void);

/* A monotonic clock in milliseconds, for timeouts and intervals. */
int64_t timeutil_mono_ms(void);

enum time_bucket { BUCKET_10MIN, BUCKET_HOUR, BUCKET_DAY, BUCKET_MONTH };

/* Parses "10m", "1h", "1d", "1mo" (also "10min", "hour", "day", "month"). 0 or -1. */
int timeutil_bucket_parse(const char *s, enum time_bucket *out);

/* Start of the local-time bucket holding ms (days and months begin at local
 * midnight, so in Asia/Tokyo a day starts at 15:00 UTC of the day before). */
int64_t timeutil_bucket_start(int64_t ms, enum time_bucket b);

/* Start of the bucket after the one starting at start. */
int64_t timeutil_bucket_next(int64_t start, enum time_bucket b);

#endif
