/*
 * Time (timeutil.h): timestamps as utility systems write them, turned into
 * UTC milliseconds. Civil dates are validated here, field by field, because
 * mktime() silently normalises "2026/02/30" into March; only then is local
 * time handed to mktime() (tm_isdst = -1, so the C library decides DST from
 * the zone rules). Times with an explicit offset never touch the zone: they
 * are computed with proleptic Gregorian day arithmetic. Day and month buckets
 * are found through localtime_r()/mktime() rather than a fixed offset so they
 * stay right in zones with DST. The only mutable state is the process zone
 * (TZ + tzset), set once at start.
 */
#include "suido/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "suido/error.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
#define ZONE_NAME_MAX 128
#define MS_PER_DAY 86400000LL
#define ERR_TEXT_MAX 40 /* bytes of the offending text quoted in messages */
/* Instants beyond about +-300,000 years are left alone by the bucket
 * functions: time_t conversion and offset arithmetic could overflow there. */
#define MS_SANE 10000000000000000LL

/* Everything needed to build an instant from parsed text. */
struct civil {
	int year, mon, day, hour, min, sec, ms;
};

static void set_err(char *err, size_t errlen, const char *why, const char *text, size_t len)
{
	int n;

	if (!err || errlen == 0)
		return;
	n = len > ERR_TEXT_MAX ? ERR_TEXT_MAX : (int)len;
	snprintf(err, errlen, "%s \"%.*s\"%s", why, n, text, len > ERR_TEXT_MAX ? "..." : "");
}

static int is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); exact for every year an int64 can carry here. */
static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static long long floor_div(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* 0 when the date part is possible (year 1..9999 because %Y is 4 digits). */
static int date_ok(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int clock_ok(int h, int mi, int s, int ms)
{
	return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59 && ms >= 0 &&
	       ms <= 999;
}

int timeutil_set_zone(const char *name)
{
	char path[sizeof(ZONEINFO_DIR) + ZONE_NAME_MAX];
	struct stat st;

	/* The name becomes a path: refuse anything that could leave zoneinfo. */
	if (!name || !*name || strlen(name) >= ZONE_NAME_MAX || name[0] == '/' ||
	    strstr(name, ".."))
		return SUIDO_ERR_CONFIG;
	snprintf(path, sizeof(path), "%s%s", ZONEINFO_DIR, name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return SUIDO_ERR_CONFIG;
	if (setenv("TZ", name, 1) != 0)
		return SUIDO_ERR_CONFIG;
	tzset();
	return SUIDO_OK;
}

int timeutil_local_to_utc(int year, int mon, int day, int hour, int min, int sec, int ms,
			  int64_t *out_ms)
{
	struct tm tm;
	time_t t;

	if (!date_ok(year, mon, day) || !clock_ok(hour, min, sec, ms))
		return SUIDO_ERR_INVALID;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	/* -1 is also 1969-12-31T23:59:59Z, so only errno tells a failure apart. */
	errno = 0;
	t = mktime(&tm);
	if (t == (time_t)-1 && errno != 0)
		return SUIDO_ERR_INVALID;
	*out_ms = (int64_t)t * 1000 + ms;
	return SUIDO_OK;
}

/* Reads 1..maxd ASCII digits at s[*i..n) into *v; at least mind are required. */
static int digits(const char *s, size_t n, size_t *i, int mind, int maxd, int *v)
{
	int k = 0, acc = 0;

	while (*i < n && k < maxd && s[*i] >= '0' && s[*i] <= '9') {
		acc = acc * 10 + (s[*i] - '0');
		(*i)++;
		k++;
	}
	if (k < mind)
		return -1;
	*v = acc;
	return 0;
}

/*
 * The ISO 8601 profile of the header. Returns SUIDO_OK with c filled and
 * *has_off and *off_min set, or SUIDO_ERR_INVALID when the shape is wrong (field
 * ranges are checked by the caller so the message can say which part).
 */
static int parse_iso(const char *s, size_t n, struct civil *c, int *has_off, int *off_min)
{
	size_t i = 0;
	int oh = 0, om = 0, sign;

	memset(c, 0, sizeof(*c));
	*has_off = 0;
	*off_min = 0;
	if (digits(s, n, &i, 4, 4, &c->year) || i >= n || s[i++] != '-' ||
	    digits(s, n, &i, 2, 2, &c->mon) || i >= n || s[i++] != '-' ||
	    digits(s, n, &i, 2, 2, &c->day))
		return SUIDO_ERR_INVALID;
	if (i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return SUIDO_ERR_INVALID;
	i++;
	if (digits(s, n, &i, 2, 2, &c->hour) || i >= n || s[i++] != ':' ||
	    digits(s, n, &i, 2, 2, &c->min))
		return SUIDO_ERR_INVALID;
	if (i < n && s[i] == ':') {
		i++;
		if (digits(s, n, &i, 2, 2, &c->sec))
			return SUIDO_ERR_INVALID;
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			int k = 0;

			i++;
			/* Keep milliseconds; finer digits are dropped, not rounded,
			 * so an instant never moves into the next second. */
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				if (k < 3)
					c->ms = c->ms * 10 + (s[i] - '0');
				k++;
				i++;
			}
			if (k == 0 || k > 9)
				return SUIDO_ERR_INVALID;
			for (; k < 3; k++)
				c->ms *= 10;
		}
	}
	if (i == n)
		return SUIDO_OK;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
		*has_off = 1;
		return SUIDO_OK;
	}
	/* A query string turns "+09:00" into " 09:00": a space here is a plus. */
	if (s[i] != '+' && s[i] != '-' && s[i] != ' ')
		return SUIDO_ERR_INVALID;
	sign = s[i] == '-' ? -1 : 1;
	i++;
	if (digits(s, n, &i, 2, 2, &oh))
		return SUIDO_ERR_INVALID;
	if (i < n) {
		if (s[i] == ':')
			i++;
		if (digits(s, n, &i, 2, 2, &om))
			return SUIDO_ERR_INVALID;
	}
	if (i != n || oh > 23 || om > 59)
		return SUIDO_ERR_INVALID;
	*has_off = 1;
	*off_min = sign * (oh * 60 + om);
	return SUIDO_OK;
}

/* A strptime subset (header): literal characters must match, except that one
 * space in the pattern matches a run of spaces (space-padded hours). */
static int parse_pattern(const char *s, size_t n, const char *fmt, struct civil *c)
{
	size_t i = 0;

	/* Missing date fields default to 1970-01-01 so "%H:%M" stays a valid
	 * instant; missing clock fields are 0 as the contract says. */
	memset(c, 0, sizeof(*c));
	c->year = 1970;
	c->mon = 1;
	c->day = 1;
	for (const char *f = fmt; *f; f++) {
		int r = 0;

		if (*f == '%') {
			f++;
			switch (*f) {
			case 'Y': r = digits(s, n, &i, 4, 4, &c->year); break;
			case 'm': r = digits(s, n, &i, 1, 2, &c->mon); break;
			case 'd': r = digits(s, n, &i, 1, 2, &c->day); break;
			case 'H': r = digits(s, n, &i, 1, 2, &c->hour); break;
			case 'M': r = digits(s, n, &i, 1, 2, &c->min); break;
			case 'S': r = digits(s, n, &i, 1, 2, &c->sec); break;
			case '%': r = (i < n && s[i] == '%') ? (i++, 0) : -1; break;
			default: return SUIDO_ERR_INVALID;
			}
			if (r)
				return SUIDO_ERR_INVALID;
		} else if (*f == ' ') {
			if (i >= n || s[i] != ' ')
				return SUIDO_ERR_INVALID;
			while (i < n && s[i] == ' ')
				i++;
		} else {
			if (i >= n || s[i] != *f)
				return SUIDO_ERR_INVALID;
			i++;
		}
	}
	return i == n ? SUIDO_OK : SUIDO_ERR_INVALID;
}

int timeutil_parse(const char *text, size_t len, const char *format, int64_t *out_ms,
		   char *err, size_t errlen)
{
	struct civil c;
	int has_off = 0, off_min = 0, iso;
	int64_t ms;

	while (len > 0 && text[0] == ' ') {
		text++;
		len--;
	}
	while (len > 0 && text[len - 1] == ' ')
		len--;
	if (!format || !timeutil_format_valid(format)) {
		set_err(err, errlen, "invalid time format", format ? format : "",
			format ? strlen(format) : 0);
		return SUIDO_ERR_INVALID;
	}
	if (len == 0) {
		set_err(err, errlen, "empty time", text, 0);
		return SUIDO_ERR_INVALID;
	}
	iso = strcmp(format, "iso8601") == 0;
	if ((iso ? parse_iso(text, len, &c, &has_off, &off_min)
		 : parse_pattern(text, len, format, &c)) != SUIDO_OK) {
		char why[80];

		snprintf(why, sizeof(why), "time does not match %.40s:", format);
		set_err(err, errlen, why, text, len);
		return SUIDO_ERR_INVALID;
	}
	if (!date_ok(c.year, c.mon, c.day)) {
		set_err(err, errlen, "impossible date", text, len);
		return SUIDO_ERR_INVALID;
	}
	if (!clock_ok(c.hour, c.min, c.sec, c.ms)) {
		set_err(err, errlen, "impossible time", text, len);
		return SUIDO_ERR_INVALID;
	}
	if (has_off) {
		long long secs = days_from_civil(c.year, c.mon, c.day) * 86400LL +
				 c.hour * 3600LL + c.min * 60LL + c.sec - off_min * 60LL;
		ms = (int64_t)(secs * 1000 + c.ms);
	} else if (timeutil_local_to_utc(c.year, c.mon, c.day, c.hour, c.min, c.sec, c.ms,
					 &ms) != SUIDO_OK) {
		set_err(err, errlen, "time out of range", text, len);
		return SUIDO_ERR_INVALID;
	}
	*out_ms = ms;
	return SUIDO_OK;
}

int timeutil_format_valid(const char *format)
{
	if (!format || !*format)
		return 0;
	if (strcmp(format, "iso8601") == 0)
		return 1;
	for (const char *f = format; *f; f++) {
		if (*f != '%')
			continue;
		f++;
		if (!*f || !strchr("YmdHMS%", *f))
			return 0;
	}
	return 1;
}

size_t timeutil_format_utc(int64_t ms, char *buf)
{
	long long days = floor_div(ms, MS_PER_DAY);
	/* Not ms - days * MS_PER_DAY: that overflows near INT64_MIN. */
	long long rem = ms % MS_PER_DAY < 0 ? ms % MS_PER_DAY + MS_PER_DAY : ms % MS_PER_DAY;
	long long y;
	int m, d, n;
	int frac = (int)(rem % 1000);
	long long sod = rem / 1000;

	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999) {
		/* The common case, on the path of every value the AP interface
		 * answers with: digits written directly, no printf. */
		int hh = (int)(sod / 3600), mi = (int)(sod / 60 % 60), ss = (int)(sod % 60);
		char *p = buf;
		*p++ = (char)('0' + y / 1000);
		*p++ = (char)('0' + y / 100 % 10);
		*p++ = (char)('0' + y / 10 % 10);
		*p++ = (char)('0' + y % 10);
		*p++ = '-';
		*p++ = (char)('0' + m / 10);
		*p++ = (char)('0' + m % 10);
		*p++ = '-';
		*p++ = (char)('0' + d / 10);
		*p++ = (char)('0' + d % 10);
		*p++ = 'T';
		*p++ = (char)('0' + hh / 10);
		*p++ = (char)('0' + hh % 10);
		*p++ = ':';
		*p++ = (char)('0' + mi / 10);
		*p++ = (char)('0' + mi % 10);
		*p++ = ':';
		*p++ = (char)('0' + ss / 10);
		*p++ = (char)('0' + ss % 10);
		if (frac) {
			*p++ = '.';
			*p++ = (char)('0' + frac / 100);
			*p++ = (char)('0' + frac / 10 % 10);
			*p++ = (char)('0' + frac % 10);
		}
		*p++ = 'Z';
		*p = '\0';
		return (size_t)(p - buf);
	}
	if (frac)
		n = snprintf(buf, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
			     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
	else
		n = snprintf(buf, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
			     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (n < 0)
		n = 0;
	return (size_t)n < 32 ? (size_t)n : 31;
}

int timeutil_bucket_parse(const char *s, enum time_bucket *out)
{
	static const struct {
		const char *name;
		enum time_bucket b;
	} names[] = {
		{"10m", BUCKET_10MIN}, {"10min", BUCKET_10MIN}, {"1h", BUCKET_HOUR},
		{"hour", BUCKET_HOUR}, {"1d", BUCKET_DAY},      {"day", BUCKET_DAY},
		{"1mo", BUCKET_MONTH}, {"month", BUCKET_MONTH},
	};

	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].b;
			return 0;
		}
	}
	return -1;
}

static time_t ms_to_time(int64_t ms)
{
	return (time_t)floor_div(ms, 1000);
}

static long date_key(const struct tm *tm)
{
	return ((long)tm->tm_year + 1900) * 10000L + (tm->tm_mon + 1) * 100L + tm->tm_mday;
}

/*
 * First instant of local date y-m-d. Normally local midnight; in a zone whose
 * DST change happens at midnight that time does not exist, so mktime lands an
 * hour off and the first instant of the date is found by bisection instead.
 */
static time_t day_start(long long y, int m, int d)
{
	struct tm tm, chk;
	long target = (long)(y * 10000 + m * 100 + d);
	time_t t, lo, hi;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (localtime_r(&t, &chk) && date_key(&chk) == target && chk.tm_hour == 0 &&
	    chk.tm_min == 0 && chk.tm_sec == 0)
		return t;
	/* Smallest x in (lo, hi] whose local date is >= target. */
	lo = t - 86400;
	hi = t + 86400;
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;

		if (localtime_r(&mid, &chk) && date_key(&chk) >= target)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* Offset east of UTC in seconds of the local zone at t. */
static long local_offset(time_t t)
{
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	return tm.tm_gmtoff;
}

int64_t timeutil_bucket_start(int64_t ms, enum time_bucket b)
{
	time_t t = ms_to_time(ms);
	struct tm tm;
	long long width;

	if (ms > MS_SANE || ms < -MS_SANE)
		return ms;

	switch (b) {
	case BUCKET_10MIN:
	case BUCKET_HOUR: {
		/* Floor in local wall time: in a +05:45 zone hours start at :15 UTC. */
		long long off = (long long)local_offset(t) * 1000;

		width = b == BUCKET_10MIN ? 600000LL : 3600000LL;
		return (int64_t)(floor_div(ms + off, width) * width - off);
	}
	case BUCKET_DAY:
		if (!localtime_r(&t, &tm))
			return ms;
		return (int64_t)day_start(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) * 1000;
	case BUCKET_MONTH:
		if (!localtime_r(&t, &tm))
			return ms;
		return (int64_t)day_start(tm.tm_year + 1900LL, tm.tm_mon + 1, 1) * 1000;
	}
	return ms;
}

int64_t timeutil_bucket_next(int64_t start, enum time_bucket b)
{
	time_t t = ms_to_time(start);
	struct tm tm;
	long long y;
	int m, d;

	/* Saturate so a caller stepping through buckets still terminates. */
	if (start > MS_SANE)
		return INT64_MAX;
	if (start < -MS_SANE)
		return -MS_SANE;
	switch (b) {
	case BUCKET_10MIN:
		return start + 600000;
	case BUCKET_HOUR:
		return start + 3600000;
	case BUCKET_DAY:
		if (!localtime_r(&t, &tm))
			return start + MS_PER_DAY;
		civil_from_days(days_from_civil(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) + 1,
				&y, &m, &d);
		return (int64_t)day_start(y, m, d) * 1000;
	case BUCKET_MONTH:
		if (!localtime_r(&t, &tm))
			return start + 31 * MS_PER_DAY;
		y = tm.tm_year + 1900LL;
		m = tm.tm_mon + 2;
		if (m > 12) {
			m = 1;
			y++;
		}
		return (int64_t)day_start(y, m, 1) * 1000;
	}
	return start;
}

int64_t timeutil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t timeutil_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
