/*
 * Numbers from business systems (numparse.h). The text is first normalised
 * into a small ASCII buffer (full-width digits and signs folded, thousands
 * separators checked and dropped), then handed to strtod, whose result is
 * accepted only if it consumed everything and is finite.
 */
#include "suido/numparse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"

#define NUM_MAX 64 /* longest normalised number accepted */

static void quote_err(char *err, size_t errlen, const char *why, const char *s, size_t len)
{
	int n = len > 40 ? 40 : (int)len;
	snprintf(err, errlen, "%s: \"%.*s\"%s", why, n, s, len > 40 ? "..." : "");
}

/* Folds one UTF-8 character at s into ASCII for the few full-width forms a
 * spreadsheet writes (０-９ ＋ － ． ，) and U+2212 MINUS SIGN. Returns the
 * ASCII byte and sets *adv, or 0 when the character is not foldable. */
static char fold(const unsigned char *s, size_t n, size_t *adv)
{
	if (s[0] < 0x80) {
		*adv = 1;
		return (char)s[0];
	}
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbc) {
		*adv = 3;
		if (s[2] >= 0x90 && s[2] <= 0x99)
			return (char)('0' + (s[2] - 0x90));
		switch (s[2]) {
		case 0x8b: return '+';
		case 0x8d: return '-';
		case 0x8e: return '.';
		case 0x8c: return ',';
		}
	}
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x88 && s[2] == 0x92) {
		*adv = 3;
		return '-';
	}
	return 0;
}

/*
 * The common reading, [+-]digits[.digits] with at most 15 digits in all:
 * the digits as an integer M < 10^15 < 2^53 and 10^k (k <= 15) are both
 * exact doubles, so M / 10^k is the correctly rounded value of the decimal,
 * the same double strtod gives (Clinger's fast path). Returns 1 and *v, or
 * 0 when b[0..n) is not of that form (strtod decides then).
 */
static int fast_decimal(const char *b, size_t n, double *v)
{
	static const double pow10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
					 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	uint64_t m = 0;
	size_t i = 0, digits = 0, frac = 0;
	int neg = 0, dot = 0;

	if (i < n && (b[i] == '-' || b[i] == '+'))
		neg = b[i++] == '-';
	for (; i < n; i++) {
		if (b[i] >= '0' && b[i] <= '9') {
			if (++digits > 15)
				return 0;
			m = m * 10 + (uint64_t)(b[i] - '0');
			frac += dot;
		} else if (b[i] == '.' && !dot) {
			dot = 1;
		} else {
			return 0;
		}
	}
	if (digits == 0)
		return 0;
	*v = (double)m / pow10[frac];
	if (neg)
		*v = -*v;
	return 1;
}

int numparse_double(const char *s, size_t len, double *out, char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)s;
	char buf[NUM_MAX + 1];
	size_t i = 0, end = len, o = 0;
	size_t digits_since_comma = 0, int_digits = 0;
	int seen_comma = 0, in_int = 1, seen_digit = 0;
	char *stop;
	double v;

	while (i < end && (u[i] == ' ' || u[i] == '\t'))
		i++;
	while (end > i && (u[end - 1] == ' ' || u[end - 1] == '\t'))
		end--;
	if (i == end)
		return SUIDO_ERR_NOTFOUND;

	while (i < end) {
		size_t adv;
		char c = fold(u + i, end - i, &adv);
		if (c == 0 || (c >= 0 && (unsigned char)c < 0x20)) {
			quote_err(err, errlen, "not a number", s, len);
			return SUIDO_ERR_INVALID;
		}
		i += adv;
		if (c == ',') {
			/* A separator must follow 1-3 digits (first group) or exactly 3. */
			if (!in_int || int_digits == 0 ||
			    (seen_comma ? digits_since_comma != 3 : digits_since_comma > 3)) {
				quote_err(err, errlen, "misplaced thousands separator", s, len);
				return SUIDO_ERR_INVALID;
			}
			seen_comma = 1;
			digits_since_comma = 0;
			continue;
		}
		if (c >= '0' && c <= '9') {
			seen_digit = 1;
			if (in_int) {
				int_digits++;
				digits_since_comma++;
			}
		} else if (c == '.' || c == 'e' || c == 'E') {
			if (in_int && seen_comma && digits_since_comma != 3) {
				quote_err(err, errlen, "misplaced thousands separator", s, len);
				return SUIDO_ERR_INVALID;
			}
			in_int = 0;
		} else if (c == '+' || c == '-') {
			/* sign: only first or after the exponent marker, checked by strtod */
		} else {
			quote_err(err, errlen, "not a number", s, len);
			return SUIDO_ERR_INVALID;
		}
		if (o >= NUM_MAX) {
			quote_err(err, errlen, "number too long", s, len);
			return SUIDO_ERR_INVALID;
		}
		buf[o++] = c;
	}
	if (in_int && seen_comma && digits_since_comma != 3) {
		quote_err(err, errlen, "misplaced thousands separator", s, len);
		return SUIDO_ERR_INVALID;
	}
	buf[o] = '\0';
	if (!seen_digit) {
		quote_err(err, errlen, "not a number", s, len);
		return SUIDO_ERR_INVALID;
	}
	if (fast_decimal(buf, o, out))
		return SUIDO_OK;
	errno = 0;
	v = strtod(buf, &stop);
	if (stop != buf + o || !isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
		quote_err(err, errlen, errno == ERANGE ? "number out of range" : "not a number",
			  s, len);
		return SUIDO_ERR_INVALID;
	}
	*out = v;
	return SUIDO_OK;
}

/*
 * Fast path for the common case of a reading with few decimals: find the
 * smallest k <= 9 with v * 10^k an integer D < 2^53 such that D / 10^k == v
 * in double arithmetic. Both operands are exact doubles, so the division is
 * the correctly rounded value of the decimal D/10^k, which is what strtod
 * returns for that text: the text reads back as exactly v. Returns 0 when
 * the fast path does not apply.
 */
static size_t format_fast(double v, char *buf)
{
	static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	double a = v < 0 ? -v : v;
	char digits[24];
	size_t n = 0, o = 0;

	if (!(a < 1e15) || a < 1e-9)
		return 0;
	for (int k = 0; k <= 9; k++) {
		double scaled = a * p10[k];
		uint64_t d;
		if (scaled >= 9007199254740992.0)
			return 0;
		d = (uint64_t)(scaled + 0.5);
		if ((double)d / p10[k] != a)
			continue;
		do {
			digits[n++] = (char)('0' + d % 10);
			d /= 10;
		} while (d);
		while (n <= (size_t)k)
			digits[n++] = '0'; /* leading zeros of 0.00x */
		if (v < 0)
			buf[o++] = '-';
		while (n > (size_t)k)
			buf[o++] = digits[--n];
		if (k) {
			buf[o++] = '.';
			while (n)
				buf[o++] = digits[--n];
		}
		buf[o] = '\0';
		return o;
	}
	return 0;
}

size_t numparse_format(double v, char *buf)
{
	int n = 0;
	size_t fast;

	if (v == 0) {
		/* keep "-0" out of answers: a reading of -0 is 0 */
		memcpy(buf, "0", 2);
		return 1;
	}
	if ((fast = format_fast(v, buf)))
		return fast;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, 32, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}
