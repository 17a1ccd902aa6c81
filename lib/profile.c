/*
 * Encoder and decoder of the JSON data profile (profile.h). Decoding uses
 * jansson (duplicate keys rejected) and validates every member before
 * anything is handed on, so the platform's store only ever sees checked
 * values; encoding writes text directly with strbuf, which is what the
 * gateway does for every batch.
 */
#include "suido/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/hex.h"
#include "suido/timeutil.h"

#define DEF_MAX_BYTES (8u << 20)
#define DEF_MAX_ITEMS 10000
#define DEF_MAX_POINTS 200000

int profile_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= PROFILE_NAME_MAX;
}

int profile_item_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PROFILE_ITEM_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return 0;
	}
	/* jansson only hands out valid UTF-8; callers with other sources check it. */
	return 1;
}

int profile_msg_id_parse(const char *id, char *gw, size_t gwlen, int64_t *epoch, uint64_t *seq)
{
	const char *c1 = strchr(id, ':'), *c2;
	char *end;
	unsigned long long e, s;
	size_t glen;

	if (!c1 || strlen(id) > PROFILE_ID_MAX)
		return SUIDO_ERR_INVALID;
	c2 = strchr(c1 + 1, ':');
	if (!c2)
		return SUIDO_ERR_INVALID;
	glen = (size_t)(c1 - id);
	if (glen == 0 || glen >= gwlen || glen > PROFILE_NAME_MAX)
		return SUIDO_ERR_INVALID;
	memcpy(gw, id, glen);
	gw[glen] = '\0';
	if (!profile_name_valid(gw))
		return SUIDO_ERR_INVALID;
	if (c1[1] < '0' || c1[1] > '9' || c2[1] < '0' || c2[1] > '9')
		return SUIDO_ERR_INVALID;
	e = strtoull(c1 + 1, &end, 10);
	if (end != c2 || e > INT64_MAX)
		return SUIDO_ERR_INVALID;
	s = strtoull(c2 + 1, &end, 10);
	if (*end)
		return SUIDO_ERR_INVALID;
	*epoch = (int64_t)e;
	*seq = s;
	return SUIDO_OK;
}

void profile_msg_free(struct profile_msg *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->utility);
	free(m->gateway);
	for (size_t i = 0; i < m->n_items; i++) {
		free(m->items[i].id);
		free(m->items[i].name);
		free(m->items[i].unit);
		free(m->items[i].facility);
	}
	free(m->items);
	for (size_t i = 0; i < m->n_points; i++)
		free(m->points[i].text);
	free(m->points);
	free(m);
}

/* Wire instants must say their offset: "Z", "+hh:mm" or "+hhmm" at the end
 * (a local time would be read in the receiver's zone, not the sender's). */
static int has_offset(const char *s, size_t n)
{
	if (n < 17)
		return 0;
	if (s[n - 1] == 'Z')
		return 1;
	if ((s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':')
		return 1;
	return (s[n - 5] == '+' || s[n - 5] == '-') && s[n - 3] >= '0' && s[n - 3] <= '9';
}

/*
 * The decoder is a strict RFC 8259 scanner that writes straight into the
 * message: no document tree, one allocation per string kept and one array of
 * points. It accepts exactly what jansson accepts with JSON_REJECT_DUPLICATES
 * (duplicate member names anywhere, "\u0000", lone surrogates, invalid UTF-8,
 * control characters in strings, integers beyond 64 bits and real overflow
 * are errors; nesting is capped at 2048) and must decode every message as the
 * first, jansson-based decoder did: fuzz/fuzz_profile.c checks both agree.
 */

#define JP_MAX_DEPTH 2048

struct jkey {
	uint64_t h;
	uint32_t obj, off, len;
};

struct jp {
	const char *p, *start, *end;
	int depth;
	uint32_t next_obj;
	struct strbuf str;  /* an unescaped string that had escapes */
	struct strbuf keys; /* every member name read, for duplicate detection */
	struct jkey *set;
	size_t set_cap, set_n;
	char *err;
	size_t errlen;
	int rc; /* first error */
};

__attribute__((format(printf, 3, 4))) static int jp_fail(struct jp *j, int rc, const char *fmt,
							 ...)
{
	va_list ap;

	if (j->rc == SUIDO_OK) {
		j->rc = rc;
		va_start(ap, fmt);
		vsnprintf(j->err, j->errlen, fmt, ap);
		va_end(ap);
	}
	return j->rc;
}

static int jp_syntax(struct jp *j, const char *what)
{
	return jp_fail(j, SUIDO_ERR_INVALID, "not JSON: %s at byte %td", what, j->p - j->start);
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int read_u16(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_digit(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (2-4 bytes; no overlongs,
 * surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t len;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - s) < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static void put_utf8(struct strbuf *sb, unsigned cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_append(sb, b, n);
}

/*
 * Reads a string at j->p (which must be '"'). *s, *n receive its unescaped
 * bytes: a view into the input when it has no escapes, else into j->str
 * (valid until the next escaped string).
 */
static int jp_string(struct jp *j, const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)j->p + 1;
	const unsigned char *end = (const unsigned char *)j->end, *run;
	int escaped = 0;

	if (j->p >= j->end || *j->p != '"')
		return jp_syntax(j, "expected a string");
	run = p;
	for (;;) {
		if (p >= end)
			return jp_syntax(j, "unterminated string");
		if (*p == '"')
			break;
		if (*p < 0x20) {
			j->p = (const char *)p;
			return jp_syntax(j, "control character in string");
		}
		if (*p >= 0x80) {
			size_t l = utf8_len(p, end);
			if (!l) {
				j->p = (const char *)p;
				return jp_syntax(j, "invalid UTF-8 in string");
			}
			p += l;
			continue;
		}
		if (*p != '\\') {
			p++;
			continue;
		}
		/* An escape: from here on the string is built in j->str. */
		if (!escaped) {
			strbuf_reset(&j->str);
			escaped = 1;
		}
		strbuf_append(&j->str, run, (size_t)(p - run));
		if (p + 1 >= end)
			return jp_syntax(j, "unterminated string");
		switch (p[1]) {
		case '"': strbuf_putc(&j->str, '"'); break;
		case '\\': strbuf_putc(&j->str, '\\'); break;
		case '/': strbuf_putc(&j->str, '/'); break;
		case 'b': strbuf_putc(&j->str, '\b'); break;
		case 'f': strbuf_putc(&j->str, '\f'); break;
		case 'n': strbuf_putc(&j->str, '\n'); break;
		case 'r': strbuf_putc(&j->str, '\r'); break;
		case 't': strbuf_putc(&j->str, '\t'); break;
		case 'u': {
			unsigned cp, lo;
			j->p = (const char *)p;
			if (read_u16((const char *)p + 2, j->end, &cp) < 0)
				return jp_syntax(j, "invalid \\u escape");
			p += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jp_syntax(j, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    read_u16((const char *)p + 2, j->end, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return jp_syntax(j, "lone high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (cp == 0)
				return jp_syntax(j, "\\u0000 is not allowed");
			put_utf8(&j->str, cp);
			run = p;
			continue;
		}
		default:
			j->p = (const char *)p;
			return jp_syntax(j, "invalid escape");
		}
		p += 2;
		run = p;
	}
	if (escaped) {
		strbuf_append(&j->str, run, (size_t)(p - run));
		if (j->str.failed)
			return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
		*s = j->str.data ? j->str.data : "";
		*n = j->str.len;
	} else {
		*s = j->p + 1;
		*n = (size_t)((const char *)p - j->p - 1);
	}
	j->p = (const char *)p + 1;
	return SUIDO_OK;
}

/*
 * Reads a number. *is_int tells whether it was an integer literal (no
 * fraction, no exponent), then in *iv; *dv always holds its value.
 */
static int jp_number(struct jp *j, double *dv, int64_t *iv, int *is_int)
{
	static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const char *p = j->p, *start = j->p;
	uint64_t mant = 0;
	int digits = 0, frac = 0, neg = 0, has_frac = 0, has_exp = 0;

	if (p < j->end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= j->end || *p < '0' || *p > '9')
		return jp_syntax(j, "invalid number");
	if (*p == '0') {
		p++;
	} else {
		while (p < j->end && *p >= '0' && *p <= '9') {
			if (digits < 19)
				mant = mant * 10 + (uint64_t)(*p - '0');
			digits++;
			p++;
		}
	}
	if (p < j->end && *p == '.') {
		has_frac = 1;
		p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return jp_syntax(j, "invalid number");
		while (p < j->end && *p >= '0' && *p <= '9') {
			if (digits + frac < 19)
				mant = mant * 10 + (uint64_t)(*p - '0');
			frac++;
			p++;
		}
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		has_exp = 1;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return jp_syntax(j, "invalid number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	*is_int = !has_frac && !has_exp;
	if (*is_int) {
		/* as jansson: an integer literal must fit in 64 bits */
		char buf[32];
		char *stop;
		long long v;
		if (p - start > 24)
			return jp_fail(j, SUIDO_ERR_INVALID, "not JSON: too big integer at byte %td",
				       start - j->start);
		memcpy(buf, start, (size_t)(p - start));
		buf[p - start] = '\0';
		errno = 0;
		v = strtoll(buf, &stop, 10);
		if (errno == ERANGE)
			return jp_fail(j, SUIDO_ERR_INVALID, "not JSON: too big integer at byte %td",
				       start - j->start);
		*iv = v;
		*dv = (double)v;
		return SUIDO_OK;
	}
	/* Fast path: at most 15 significant digits and a plain fraction: m and
	 * 10^k are exact doubles, so m / 10^k is correctly rounded, as strtod. */
	if (!has_exp && digits + frac <= 15 && frac <= 22) {
		double v = (double)mant / p10[frac];
		*dv = neg ? -v : v;
		return SUIDO_OK;
	}
	{
		char small[64], *buf = small, *stop;
		size_t n = (size_t)(p - start);
		double v;
		if (n >= sizeof small) {
			strbuf_reset(&j->str);
			strbuf_append(&j->str, start, n);
			if (j->str.failed)
				return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
			buf = j->str.data;
		} else {
			memcpy(small, start, n);
			small[n] = '\0';
		}
		errno = 0;
		v = strtod(buf, &stop);
		if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
			return jp_fail(j, SUIDO_ERR_INVALID, "not JSON: real number overflow at byte %td",
				       start - j->start);
		*dv = v;
	}
	return SUIDO_OK;
}

static uint64_t key_hash(uint32_t obj, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ obj;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* Records member name s of object obj; SUIDO_ERR_EXISTS when repeated. */
static int jp_key_add(struct jp *j, uint32_t obj, const char *s, size_t n)
{
	uint64_t h = key_hash(obj, s, n);
	size_t i;

	if (j->set_n * 2 >= j->set_cap) {
		size_t ncap = j->set_cap ? j->set_cap * 2 : 64;
		struct jkey *ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return SUIDO_ERR_NOMEM;
		for (size_t k = 0; k < j->set_cap; k++) {
			if (!j->set[k].len && !j->set[k].h)
				continue;
			i = j->set[k].h & (ncap - 1);
			while (ns[i].len || ns[i].h)
				i = (i + 1) & (ncap - 1);
			ns[i] = j->set[k];
		}
		free(j->set);
		j->set = ns;
		j->set_cap = ncap;
	}
	if (h == 0 && n == 0)
		h = 1; /* keep the empty-slot marker free */
	i = h & (j->set_cap - 1);
	while (j->set[i].len || j->set[i].h) {
		const struct jkey *k = &j->set[i];
		if (k->h == h && k->obj == obj && k->len == n &&
		    memcmp(j->keys.data + k->off, s, n) == 0)
			return SUIDO_ERR_EXISTS;
		i = (i + 1) & (j->set_cap - 1);
	}
	if (j->keys.len > UINT32_MAX - n || n > UINT32_MAX)
		return SUIDO_ERR_NOMEM;
	j->set[i] = (struct jkey){h, obj, (uint32_t)j->keys.len, (uint32_t)n};
	strbuf_append(&j->keys, s, n);
	if (j->keys.failed)
		return SUIDO_ERR_NOMEM;
	j->set_n++;
	return SUIDO_OK;
}

/* Called for each member with its name; must consume the value. */
typedef int (*jp_member_fn)(struct jp *j, void *ctx, const char *key, size_t klen);
/* Called for each element; must consume it. */
typedef int (*jp_elem_fn)(struct jp *j, void *ctx, size_t index);

static int jp_skip(struct jp *j);

static int jp_object(struct jp *j, jp_member_fn fn, void *ctx)
{
	uint32_t obj = j->next_obj++;
	int rc;

	if (j->p >= j->end || *j->p != '{')
		return jp_syntax(j, "expected an object");
	if (++j->depth > JP_MAX_DEPTH)
		return jp_syntax(j, "too deeply nested");
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		j->depth--;
		return SUIDO_OK;
	}
	for (;;) {
		const char *k;
		size_t kn;
		jp_ws(j);
		if ((rc = jp_string(j, &k, &kn)) != SUIDO_OK)
			return rc;
		rc = jp_key_add(j, obj, k, kn);
		if (rc == SUIDO_ERR_EXISTS)
			return jp_fail(j, SUIDO_ERR_INVALID, "not JSON: duplicate object key at byte %td",
				       j->p - j->start);
		if (rc != SUIDO_OK)
			return jp_fail(j, rc, "out of memory");
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return jp_syntax(j, "expected ':'");
		j->p++;
		jp_ws(j);
		if ((rc = fn ? fn(j, ctx, k, kn) : jp_skip(j)) != SUIDO_OK)
			return rc;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			j->depth--;
			return SUIDO_OK;
		}
		return jp_syntax(j, "expected ',' or '}'");
	}
}

static int jp_array(struct jp *j, jp_elem_fn fn, void *ctx)
{
	size_t i = 0;
	int rc;

	if (j->p >= j->end || *j->p != '[')
		return jp_syntax(j, "expected an array");
	if (++j->depth > JP_MAX_DEPTH)
		return jp_syntax(j, "too deeply nested");
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		j->depth--;
		return SUIDO_OK;
	}
	for (;; i++) {
		jp_ws(j);
		if ((rc = fn ? fn(j, ctx, i) : jp_skip(j)) != SUIDO_OK)
			return rc;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			j->depth--;
			return SUIDO_OK;
		}
		return jp_syntax(j, "expected ',' or ']'");
	}
}

static int jp_literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return jp_syntax(j, "invalid token");
	j->p += n;
	return SUIDO_OK;
}

/* Consumes any value. */
static int jp_skip(struct jp *j)
{
	const char *s;
	size_t n;
	double d;
	int64_t iv;
	int is_int;

	if (j->p >= j->end)
		return jp_syntax(j, "unexpected end");
	/* as jansson, a scalar counts as one more level of nesting */
	if (*j->p != '{' && *j->p != '[' && j->depth + 1 > JP_MAX_DEPTH)
		return jp_syntax(j, "too deeply nested");
	switch (*j->p) {
	case '{': return jp_object(j, NULL, NULL);
	case '[': return jp_array(j, NULL, NULL);
	case '"': return jp_string(j, &s, &n);
	case 't': return jp_literal(j, "true");
	case 'f': return jp_literal(j, "false");
	case 'n': return jp_literal(j, "null");
	default: return jp_number(j, &d, &iv, &is_int);
	}
}

/* Where the decoder is in the message, and what it has found. */
struct dec {
	struct profile_msg *m;
	size_t max_items, max_points;
	size_t cap_items, cap_points;
	int64_t *idx; /* raw point indexes, checked once items are known */
	int seen_profile, seen_items, seen_points;
	struct profile_item *item; /* the item being read */
	size_t field;              /* which element of a point is being read */
};

static int key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* Reads a string member into a new C string, at most max bytes. */
static int take_str(struct jp *j, size_t max, char **out, const char *where, const char *key)
{
	const char *s;
	size_t n;
	int rc;

	if (j->p >= j->end || *j->p != '"') {
		if ((rc = jp_skip(j)) != SUIDO_OK)
			return rc;
		return jp_fail(j, SUIDO_ERR_INVALID, "%s%s: not a string", where, key);
	}
	if ((rc = jp_string(j, &s, &n)) != SUIDO_OK)
		return rc;
	if (n > max)
		return jp_fail(j, SUIDO_ERR_INVALID, "%s%s: longer than %zu bytes", where, key, max);
	free(*out); /* cannot happen twice (duplicates are refused), but stay leak-free */
	*out = strndup(s, n);
	if (!*out)
		return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
	return SUIDO_OK;
}

static int item_member(struct jp *j, void *ctx, const char *k, size_t n)
{
	struct dec *d = ctx;
	struct profile_item *it = d->item;
	char where[40];

	snprintf(where, sizeof where, "items[%zu].", d->m->n_items - 1);
	if (key_is(k, n, "id"))
		return take_str(j, PROFILE_ITEM_ID_MAX, &it->id, where, "id");
	if (key_is(k, n, "name"))
		return take_str(j, PROFILE_TEXT_MAX, &it->name, where, "name");
	if (key_is(k, n, "unit"))
		return take_str(j, PROFILE_TEXT_MAX, &it->unit, where, "unit");
	if (key_is(k, n, "facility"))
		return take_str(j, PROFILE_TEXT_MAX, &it->facility, where, "facility");
	return jp_skip(j);
}

static int item_elem(struct jp *j, void *ctx, size_t i)
{
	struct dec *d = ctx;
	struct profile_msg *m = d->m;
	int rc;

	if (i >= d->max_items)
		return jp_fail(j, SUIDO_ERR_LIMIT, "items: more than %zu", d->max_items);
	if (j->p >= j->end || *j->p != '{') {
		if ((rc = jp_skip(j)) != SUIDO_OK)
			return rc;
		return jp_fail(j, SUIDO_ERR_INVALID, "items[%zu]: not an object", i);
	}
	if (m->n_items == d->cap_items) {
		size_t nc = d->cap_items ? d->cap_items * 2 : 16;
		void *np = realloc(m->items, nc * sizeof *m->items);
		if (!np)
			return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
		m->items = np;
		d->cap_items = nc;
	}
	d->item = &m->items[m->n_items++];
	memset(d->item, 0, sizeof *d->item);
	if ((rc = jp_object(j, item_member, d)) != SUIDO_OK)
		return rc;
	if (!d->item->id)
		return jp_fail(j, SUIDO_ERR_INVALID, "items[%zu].id: missing", i);
	if (!d->item->name)
		return jp_fail(j, SUIDO_ERR_INVALID, "items[%zu].name: missing", i);
	if (!d->item->unit && !(d->item->unit = strdup("")))
		return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
	if (!d->item->facility && !(d->item->facility = strdup("")))
		return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
	if (!profile_item_id_valid(d->item->id))
		return jp_fail(j, SUIDO_ERR_INVALID, "items[%zu].id: not a valid item id", i);
	return SUIDO_OK;
}

static int point_field(struct jp *j, void *ctx, size_t f)
{
	struct dec *d = ctx;
	size_t i = d->m->n_points - 1;
	struct profile_point *pp = &d->m->points[i];
	char terr[128];
	const char *s;
	size_t n;
	double v;
	int64_t iv;
	int is_int, rc;

	d->field = f + 1;
	if (f == 0) {
		if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
			if ((rc = jp_number(j, &v, &iv, &is_int)) != SUIDO_OK)
				return rc;
			if (is_int && iv >= 0) {
				d->idx[i] = iv;
				return SUIDO_OK;
			}
		} else if ((rc = jp_skip(j)) != SUIDO_OK) {
			return rc;
		}
		return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu][0]: not an index into items", i);
	}
	if (f == 1) {
		if (j->p >= j->end || *j->p != '"') {
			if ((rc = jp_skip(j)) != SUIDO_OK)
				return rc;
			return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu][1]: not a string", i);
		}
		if ((rc = jp_string(j, &s, &n)) != SUIDO_OK)
			return rc;
		if (!has_offset(s, n) ||
		    timeutil_parse(s, n, "iso8601", &pp->t_ms, terr, sizeof terr) != SUIDO_OK)
			return jp_fail(j, SUIDO_ERR_INVALID,
				       "points[%zu][1]: not an ISO 8601 instant with offset", i);
		return SUIDO_OK;
	}
	if (f == 2) {
		if (j->p < j->end && *j->p == '"') {
			if ((rc = jp_string(j, &s, &n)) != SUIDO_OK)
				return rc;
			if (n > PROFILE_VALUE_TEXT_MAX)
				return jp_fail(j, SUIDO_ERR_INVALID,
					       "points[%zu][2]: text longer than %d bytes", i,
					       PROFILE_VALUE_TEXT_MAX);
			if (!(pp->text = strndup(s, n)))
				return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
			return SUIDO_OK;
		}
		if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
			if ((rc = jp_number(j, &pp->v, &iv, &is_int)) != SUIDO_OK)
				return rc;
			if (isfinite(pp->v))
				return SUIDO_OK;
		} else if ((rc = jp_skip(j)) != SUIDO_OK) {
			return rc;
		}
		return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu][2]: not a finite number or a string",
			       i);
	}
	if ((rc = jp_skip(j)) != SUIDO_OK)
		return rc;
	return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu]: not an array of 3", i);
}

static int point_elem(struct jp *j, void *ctx, size_t i)
{
	struct dec *d = ctx;
	struct profile_msg *m = d->m;
	int rc;

	if (i >= d->max_points)
		return jp_fail(j, SUIDO_ERR_LIMIT, "points: more than %zu", d->max_points);
	if (m->n_points == d->cap_points) {
		size_t nc = d->cap_points ? d->cap_points * 2 : 256;
		void *np = realloc(m->points, nc * sizeof *m->points);
		void *ni = realloc(d->idx, nc * sizeof *d->idx);
		if (np)
			m->points = np;
		if (ni)
			d->idx = ni;
		if (!np || !ni)
			return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
		d->cap_points = nc;
	}
	m->points[m->n_points].text = NULL;
	m->points[m->n_points].v = 0;
	m->n_points++;
	if (j->p >= j->end || *j->p != '[') {
		if ((rc = jp_skip(j)) != SUIDO_OK)
			return rc;
		return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu]: not an array of 3", i);
	}
	d->field = 0;
	if ((rc = jp_array(j, point_field, d)) != SUIDO_OK)
		return rc;
	if (d->field != 3)
		return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu]: not an array of 3", i);
	return SUIDO_OK;
}

static int top_member(struct jp *j, void *ctx, const char *k, size_t n)
{
	struct dec *d = ctx;
	struct profile_msg *m = d->m;
	char *prof = NULL;
	int rc;

	if (key_is(k, n, "profile")) {
		rc = take_str(j, 64, &prof, "", "profile");
		if (rc == SUIDO_OK && strcmp(prof, PROFILE_DATA_V1) != 0)
			rc = jp_fail(j, SUIDO_ERR_INVALID, "profile: expected \"%s\"", PROFILE_DATA_V1);
		free(prof);
		d->seen_profile = rc == SUIDO_OK;
		return rc;
	}
	if (key_is(k, n, "id"))
		return take_str(j, PROFILE_ID_MAX, &m->id, "", "id");
	if (key_is(k, n, "utility"))
		return take_str(j, PROFILE_NAME_MAX, &m->utility, "", "utility");
	if (key_is(k, n, "gateway"))
		return take_str(j, PROFILE_NAME_MAX, &m->gateway, "", "gateway");
	if (key_is(k, n, "sent")) {
		const char *s;
		size_t sn;
		char terr[128];
		if (j->p < j->end && *j->p == '"') {
			if ((rc = jp_string(j, &s, &sn)) != SUIDO_OK)
				return rc;
			if (has_offset(s, sn) &&
			    timeutil_parse(s, sn, "iso8601", &m->sent_ms, terr, sizeof terr) == SUIDO_OK)
				return SUIDO_OK;
		} else if ((rc = jp_skip(j)) != SUIDO_OK) {
			return rc;
		}
		return jp_fail(j, SUIDO_ERR_INVALID, "sent: not an ISO 8601 instant");
	}
	if (key_is(k, n, "items") || key_is(k, n, "points")) {
		int items = k[0] == 'i';
		if (j->p >= j->end || *j->p != '[') {
			if ((rc = jp_skip(j)) != SUIDO_OK)
				return rc;
			return jp_fail(j, SUIDO_ERR_INVALID, "%s: missing or not an array",
				       items ? "items" : "points");
		}
		if (items)
			d->seen_items = 1;
		else
			d->seen_points = 1;
		return jp_array(j, items ? item_elem : point_elem, d);
	}
	return jp_skip(j);
}

/* Item ids must be unique within a message: checked with a hash set. */
static int items_unique(struct jp *j, const struct profile_msg *m)
{
	size_t cap = 16, *slot;
	int rc = SUIDO_OK;

	while (cap < m->n_items * 2)
		cap *= 2;
	slot = malloc(cap * sizeof *slot);
	if (!slot)
		return jp_fail(j, SUIDO_ERR_NOMEM, "out of memory");
	memset(slot, 0xff, cap * sizeof *slot);
	for (size_t i = 0; i < m->n_items && rc == SUIDO_OK; i++) {
		const char *id = m->items[i].id;
		size_t h = (size_t)key_hash(0, id, strlen(id)) & (cap - 1);
		while (slot[h] != SIZE_MAX) {
			if (strcmp(m->items[slot[h]].id, id) == 0) {
				rc = jp_fail(j, SUIDO_ERR_INVALID, "items[%zu].id: repeats items[%zu]", i,
					     slot[h]);
				break;
			}
			h = (h + 1) & (cap - 1);
		}
		slot[h] = i;
	}
	free(slot);
	return rc;
}

static int check_message(struct jp *j, struct dec *d)
{
	struct profile_msg *m = d->m;
	char gw[PROFILE_NAME_MAX + 1];
	int64_t epoch;
	uint64_t seq;

	if (!d->seen_profile)
		return jp_fail(j, SUIDO_ERR_INVALID, "profile: expected \"%s\"", PROFILE_DATA_V1);
	if (!m->id)
		return jp_fail(j, SUIDO_ERR_INVALID, "id: missing");
	if (!m->utility)
		return jp_fail(j, SUIDO_ERR_INVALID, "utility: missing");
	if (!m->gateway)
		return jp_fail(j, SUIDO_ERR_INVALID, "gateway: missing");
	if (!profile_name_valid(m->utility) || !profile_name_valid(m->gateway))
		return jp_fail(j, SUIDO_ERR_INVALID, "utility or gateway: not a valid name");
	if (profile_msg_id_parse(m->id, gw, sizeof gw, &epoch, &seq) != SUIDO_OK ||
	    strcmp(gw, m->gateway) != 0)
		return jp_fail(j, SUIDO_ERR_INVALID, "id: expected \"%s:<epoch>:<seq>\"", m->gateway);
	if (!d->seen_items)
		return jp_fail(j, SUIDO_ERR_INVALID, "items: missing or not an array");
	if (!d->seen_points)
		return jp_fail(j, SUIDO_ERR_INVALID, "points: missing or not an array");
	if (items_unique(j, m) != SUIDO_OK)
		return j->rc;
	for (size_t i = 0; i < m->n_points; i++) {
		if ((uint64_t)d->idx[i] >= m->n_items)
			return jp_fail(j, SUIDO_ERR_INVALID, "points[%zu][0]: not an index into items", i);
		m->points[i].item = (uint32_t)d->idx[i];
	}
	return SUIDO_OK;
}

int profile_decode(const char *buf, size_t len, const struct profile_limits *lim,
		   struct profile_msg **out, char *err, size_t errlen)
{
	struct jp j = {.p = buf, .start = buf, .end = buf + len, .err = err, .errlen = errlen};
	struct dec d = {0};
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEF_MAX_BYTES;

	*out = NULL;
	if (len > max_bytes) {
		snprintf(err, errlen, "message larger than %zu bytes", max_bytes);
		return SUIDO_ERR_LIMIT;
	}
	d.max_items = lim && lim->max_items ? lim->max_items : DEF_MAX_ITEMS;
	d.max_points = lim && lim->max_points ? lim->max_points : DEF_MAX_POINTS;
	d.m = calloc(1, sizeof *d.m);
	if (!d.m) {
		snprintf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	j.str.limit = len + 16;
	j.keys.limit = len + 16;
	jp_ws(&j);
	if (j.p < j.end && *j.p == '[') {
		if (jp_skip(&j) == SUIDO_OK) {
			jp_ws(&j);
			if (j.p != j.end)
				jp_syntax(&j, "end of file expected");
			else
				jp_fail(&j, SUIDO_ERR_INVALID, "not a JSON object");
		}
	} else if (jp_object(&j, top_member, &d) == SUIDO_OK) {
		jp_ws(&j);
		if (j.p != j.end)
			jp_syntax(&j, "end of file expected");
		else
			check_message(&j, &d);
	}
	free(d.idx);
	free(j.set);
	strbuf_free(&j.str);
	strbuf_free(&j.keys);
	if (j.rc != SUIDO_OK) {
		profile_msg_free(d.m);
		return j.rc;
	}
	*out = d.m;
	return SUIDO_OK;
}

int profile_encode(const struct profile_msg *m, struct strbuf *out)
{
	char ts[32];

	strbuf_puts(out, "{\"profile\":\"" PROFILE_DATA_V1 "\",\"id\":");
	strbuf_json_str(out, m->id, strlen(m->id));
	strbuf_puts(out, ",\"utility\":");
	strbuf_json_str(out, m->utility, strlen(m->utility));
	strbuf_puts(out, ",\"gateway\":");
	strbuf_json_str(out, m->gateway, strlen(m->gateway));
	strbuf_puts(out, ",\"sent\":\"");
	strbuf_append(out, ts, timeutil_format_utc(m->sent_ms, ts));
	strbuf_puts(out, "\",\"items\":[");
	for (size_t i = 0; i < m->n_items; i++) {
		const struct profile_item *it = &m->items[i];
		strbuf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		strbuf_json_str(out, it->id, strlen(it->id));
		strbuf_puts(out, ",\"name\":");
		strbuf_json_str(out, it->name, strlen(it->name));
		strbuf_puts(out, ",\"unit\":");
		strbuf_json_str(out, it->unit, strlen(it->unit));
		strbuf_puts(out, ",\"facility\":");
		strbuf_json_str(out, it->facility, strlen(it->facility));
		strbuf_putc(out, '}');
	}
	strbuf_puts(out, "],\"points\":[");
	/* the hot loop: no printf; a row's points share their time, so the
	 * formatted time is kept until it changes */
	size_t ts_len = 0;
	int64_t ts_ms = 0;
	for (size_t i = 0; i < m->n_points; i++) {
		const struct profile_point *p = &m->points[i];
		char head[16], *h = head + sizeof head;
		uint32_t k = p->item;
		do {
			*--h = (char)('0' + k % 10);
			k /= 10;
		} while (k);
		*--h = '[';
		if (i)
			*--h = ',';
		strbuf_append(out, h, (size_t)(head + sizeof head - h));
		strbuf_append(out, ",\"", 2);
		if (ts_len == 0 || p->t_ms != ts_ms) {
			ts_len = timeutil_format_utc(p->t_ms, ts);
			ts_ms = p->t_ms;
		}
		strbuf_append(out, ts, ts_len);
		strbuf_append(out, "\",", 2);
		if (p->text)
			strbuf_json_str(out, p->text, strlen(p->text));
		else
			strbuf_json_num(out, p->v);
		strbuf_putc(out, ']');
	}
	strbuf_puts(out, "]}");
	return out->failed ? -1 : 0;
}

static const char *const ack_names[] = {"stored", "duplicate", "rejected"};

const char *profile_ack_status_name(enum profile_ack_status st)
{
	return ack_names[st];
}

int profile_ack_encode(const char *msg_id, enum profile_ack_status st, const char *reason,
		       struct strbuf *out)
{
	strbuf_puts(out, "{\"profile\":\"" PROFILE_ACK_V1 "\",\"id\":");
	strbuf_json_str(out, msg_id, strlen(msg_id));
	strbuf_printf(out, ",\"status\":\"%s\"", ack_names[st]);
	if (reason) {
		strbuf_puts(out, ",\"reason\":");
		strbuf_json_str(out, reason, strlen(reason));
	}
	strbuf_putc(out, '}');
	return out->failed ? -1 : 0;
}

int profile_ack_decode(const char *buf, size_t len, char *id, size_t idlen,
		       enum profile_ack_status *st, char *reason, size_t rlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	int rc = SUIDO_ERR_INVALID;
	const char *s;

	if (!root)
		return SUIDO_ERR_INVALID;
	v = json_object_get(root, "profile");
	if (!json_is_string(v) || strcmp(json_string_value(v), PROFILE_ACK_V1) != 0)
		goto done;
	v = json_object_get(root, "id");
	if (!json_is_string(v) || json_string_length(v) >= idlen)
		goto done;
	memcpy(id, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(root, "status");
	if (!json_is_string(v))
		goto done;
	s = json_string_value(v);
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, ack_names[i]) == 0) {
			*st = (enum profile_ack_status)i;
			rc = SUIDO_OK;
		}
	}
	reason[0] = '\0';
	v = json_object_get(root, "reason");
	if (json_is_string(v))
		snprintf(reason, rlen, "%s", json_string_value(v));
done:
	json_decref(root);
	return rc;
}
