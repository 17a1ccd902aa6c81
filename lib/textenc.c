/*
 * Character sets (textenc.h). UTF-8 is validated and copied here (strict:
 * no overlong forms, no surrogates, nothing above U+10FFFF), replacing each
 * maximal invalid subpart with U+FFFD; CP932 goes through glibc iconv, which
 * is stopped at every bad byte so the byte can be replaced, its physical line
 * recorded, and the conversion resumed one byte further on. Keeping going
 * matters more than purity: one mistyped byte in a billing export must cost
 * one row, not the file. Output is never more than three bytes per input
 * byte, so its size is bounded by the input the caller already capped.
 */
#include "suido/textenc.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "suido/error.h"

static const unsigned char REPLACEMENT[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

/* Where decoding writes; also tracks physical lines for the bad-line list. */
struct sink {
	const unsigned char *in; /* start of the input, for line counting */
	size_t scanned;          /* input bytes already counted for line ends */
	unsigned long line;      /* 1-based line of in[scanned] */
	struct textenc_result *res; /* gets bad lines; NULL = count only */
	size_t bad_cap;
	size_t n_bad;            /* invalid sequences seen */
	int nomem;
};

/* Physical line of in[pos]; pos never goes backwards, so this is linear. */
static unsigned long line_at(struct sink *s, size_t pos)
{
	const unsigned char *p = s->in + s->scanned, *end = s->in + pos;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		s->line++;
		p++;
	}
	s->scanned = pos;
	return s->line;
}

static void note_bad(struct sink *s, size_t pos)
{
	unsigned long line = line_at(s, pos);
	struct textenc_result *r = s->res;

	s->n_bad++;
	if (!r || s->nomem)
		return;
	if (r->n_bad_lines > 0 && r->bad_lines[r->n_bad_lines - 1] == line)
		return;
	if (r->n_bad_lines == s->bad_cap) {
		size_t cap = s->bad_cap ? s->bad_cap * 2 : 16;
		unsigned long *p = realloc(r->bad_lines, cap * sizeof(*p));

		if (!p) {
			s->nomem = 1;
			return;
		}
		r->bad_lines = p;
		s->bad_cap = cap;
	}
	r->bad_lines[r->n_bad_lines++] = line;
}

/*
 * Length of the valid UTF-8 sequence at p[0..n), or 0 with *bad set to the
 * length of its maximal invalid subpart (at least 1), as Unicode recommends.
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (k = 1; k < need; k++) {
		if (k >= n || p[k] < lo || p[k] > hi) {
			*bad = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/*
 * Decodes (out != NULL) or only counts (out == NULL) UTF-8 in buf[0..len).
 * out must hold len + 2 * (invalid sequences) bytes. Returns bytes written.
 */
static size_t utf8_decode(const unsigned char *buf, size_t len, unsigned char *out,
			  struct sink *s)
{
	size_t i = 0, span = 0, o = 0;

	while (i < len) {
		size_t bad = 0, n;

		/* ASCII runs are the bulk of every CSV: skip them cheaply. */
		if (buf[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(buf + i, len - i, &bad);
		if (n) {
			i += n;
			continue;
		}
		if (out) {
			memcpy(out + o, buf + span, i - span);
			o += i - span;
			memcpy(out + o, REPLACEMENT, 3);
			o += 3;
		}
		note_bad(s, i);
		i += bad;
		span = i;
	}
	if (out) {
		memcpy(out + o, buf + span, i - span);
		o += i - span;
	}
	return o;
}

/* Grows r->text to hold at least need bytes (plus the NUL). */
static int ensure(struct textenc_result *r, size_t *cap, size_t need)
{
	size_t c = *cap;
	char *p;

	if (need < *cap)
		return 0;
	while (c <= need) {
		if (c > SIZE_MAX / 2)
			return -1;
		c *= 2;
	}
	p = realloc(r->text, c);
	if (!p)
		return -1;
	r->text = p;
	*cap = c;
	return 0;
}

static int cp932_decode(const unsigned char *buf, size_t len, struct textenc_result *r,
			struct sink *s)
{
	iconv_t cd = (iconv_t)-1;
	char *in = (char *)buf; /* iconv's prototype is not const-correct */
	size_t inleft = len, cap, olen = 0;
	int rc = SUIDO_ERR_NOMEM;

	cd = iconv_open("UTF-8", "CP932");
	if (cd == (iconv_t)-1) {
		rc = SUIDO_ERR_ENCODING;
		goto out;
	}
	/* Kanji take 2 bytes in and 3 out; start there and grow on E2BIG. */
	if (len > (SIZE_MAX - 64) / 2)
		goto out;
	cap = len + len / 2 + 64;
	r->text = malloc(cap);
	if (!r->text)
		goto out;
	while (inleft > 0) {
		char *op = r->text + olen;
		size_t oleft = cap - olen - 1; /* room for the NUL */
		size_t n = iconv(cd, &in, &inleft, &op, &oleft);

		olen = (size_t)(op - r->text);
		if (n != (size_t)-1)
			break;
		if (errno == E2BIG) {
			if (ensure(r, &cap, cap + 64))
				goto out;
			continue;
		}
		if (errno != EILSEQ && errno != EINVAL) {
			rc = SUIDO_ERR_ENCODING;
			goto out;
		}
		/* EILSEQ: a bad byte; EINVAL: a lead byte cut off by the end. */
		note_bad(s, (size_t)((unsigned char *)in - buf));
		if (s->nomem || ensure(r, &cap, olen + 3))
			goto out;
		memcpy(r->text + olen, REPLACEMENT, 3);
		olen += 3;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	r->text[olen] = '\0';
	r->len = olen;
	r->enc = TEXTENC_CP932;
	rc = SUIDO_OK;
out:
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	return rc;
}

static int utf8_decode_into(const unsigned char *buf, size_t len, size_t n_invalid,
			    struct textenc_result *r, struct sink *s)
{
	size_t cap;

	if (n_invalid > (SIZE_MAX - 1 - len) / 2)
		return SUIDO_ERR_NOMEM;
	cap = len + 2 * n_invalid + 1;
	r->text = malloc(cap);
	if (!r->text)
		return SUIDO_ERR_NOMEM;
	r->len = utf8_decode(buf, len, (unsigned char *)r->text, s);
	r->text[r->len] = '\0';
	return s->nomem ? SUIDO_ERR_NOMEM : SUIDO_OK;
}

static void sink_init(struct sink *s, const unsigned char *in, struct textenc_result *res)
{
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->line = 1;
	s->res = res;
}

int textenc_decode(const unsigned char *buf, size_t len, enum textenc want,
		   struct textenc_result *out)
{
	struct textenc_result r;
	struct sink s;
	const unsigned char *body;
	size_t body_len, u8_bad;
	int bom, rc;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	if (!buf)
		len = 0;
	bom = len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf;
	if (want == TEXTENC_CP932) {
		sink_init(&s, buf, &r);
		rc = cp932_decode(buf, len, &r, &s);
		if (rc != SUIDO_OK)
			goto fail;
		goto done;
	}

	/* The BOM holds no line end, so counting lines from after it is exact. */
	body = bom ? buf + 3 : buf;
	body_len = bom ? len - 3 : len;
	sink_init(&s, body, NULL);
	utf8_decode(body, body_len, NULL, &s);
	u8_bad = s.n_bad;
	if (want == TEXTENC_AUTO && !bom && u8_bad > 0) {
		/* Only a file that is not clean UTF-8 pays for a CP932 attempt. */
		sink_init(&s, buf, &r);
		rc = cp932_decode(buf, len, &r, &s);
		if (rc != SUIDO_OK)
			goto fail;
		if (s.n_bad < u8_bad)
			goto done;
		textenc_result_free(&r);
	}
	sink_init(&s, body, &r);
	rc = utf8_decode_into(body, body_len, u8_bad, &r, &s);
	if (rc != SUIDO_OK)
		goto fail;
	r.enc = bom ? TEXTENC_UTF8_BOM : TEXTENC_UTF8;
done:
	*out = r;
	return SUIDO_OK;
fail:
	textenc_result_free(&r);
	return rc;
}

void textenc_result_free(struct textenc_result *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->bad_lines);
	memset(r, 0, sizeof(*r));
}

int textenc_is_binary(const unsigned char *buf, size_t len)
{
	return len > 0 && memchr(buf, '\0', len) != NULL;
}

const char *textenc_name(enum textenc e)
{
	switch (e) {
	case TEXTENC_AUTO: return "auto";
	case TEXTENC_UTF8: return "utf-8";
	case TEXTENC_UTF8_BOM: return "utf-8-bom";
	case TEXTENC_CP932: return "cp932";
	}
	return "unknown";
}

int textenc_parse(const char *name, enum textenc *out)
{
	static const struct {
		const char *name;
		enum textenc e;
	} names[] = {
		{"auto", TEXTENC_AUTO},       {"utf-8", TEXTENC_UTF8},
		{"utf8", TEXTENC_UTF8},       {"utf-8-bom", TEXTENC_UTF8_BOM},
		{"cp932", TEXTENC_CP932},     {"shift_jis", TEXTENC_CP932},
		{"sjis", TEXTENC_CP932},      {"windows-31j", TEXTENC_CP932},
	};

	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].e;
			return 0;
		}
	}
	return -1;
}

int textenc_line_is_bad(const struct textenc_result *r, unsigned long line)
{
	size_t lo = 0, hi;

	if (!r || !r->bad_lines)
		return 0;
	hi = r->n_bad_lines;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->bad_lines[mid] == line)
			return 1;
		if (r->bad_lines[mid] < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
