/*
 * Portal passwords (password.h): Argon2id hashes through libsodium and the
 * policy of seed 004 4.1 with NIST SP 800-63B's blocklist and reuse rules.
 * The candidate is decoded as strict UTF-8 once; a folded copy (ASCII upper
 * case to lower, full-width ASCII U+FF01-U+FF5E to ASCII, U+3000 to a space,
 * as a Japanese IME types them) is what the blocklist, the login ID and the
 * names are compared with, so "ＰＡＳＳＷＯＲＤ" is as common as "password".
 * The hash itself is of the bytes as given. Copies of a password live on the
 * stack and are wiped with sodium_memzero before return; nothing is logged.
 */
#include "suido/password.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "suido/error.h"
#include "suido/fsutil.h"

#define ALG crypto_pwhash_ALG_ARGON2ID13
#define PREFIX crypto_pwhash_argon2id_STRPREFIX
#define MIN_MATCH_CHARS 3 /* shorter login IDs and name words are not searched for */
#define MIN_BASE_BYTES 4  /* shortest blocklisted core left after stripping digits/symbols */

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "PHC string size");
_Static_assert(PASSWORD_OPSLIMIT == crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, "opslimit");
_Static_assert(PASSWORD_MEMLIMIT == crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE, "memlimit");

static const char *const reason_en[PASSWORD_REASON_COUNT] = {
	[PASSWORD_ACCEPTABLE] = "The password is acceptable.",
	[PASSWORD_TOO_LONG] = "The password is too long.",
	[PASSWORD_BAD_UTF8] = "The password is not valid UTF-8 text.",
	[PASSWORD_CONTROL_CHAR] = ("The password must not contain control characters "
				   "(such as tab or line feed)."),
	[PASSWORD_TOO_SHORT] = "The password is too short.",
	[PASSWORD_FEW_CLASSES] = ("The password must combine more kinds of characters: "
				  "upper-case letters, lower-case letters, digits, symbols, "
				  "other characters (such as Japanese)."),
	[PASSWORD_COMMON] = "The password is too common and easy to guess.",
	[PASSWORD_HAS_LOGIN] = "The password must not contain the login ID.",
	[PASSWORD_HAS_NAME] = "The password must not contain your name or mail address.",
	[PASSWORD_REUSED] = ("The password was used recently; choose one you have not used "
			     "before."),
};

static const char *const reason_ja[PASSWORD_REASON_COUNT] = {
	[PASSWORD_ACCEPTABLE] = "このパスワードは使用できます。",
	[PASSWORD_TOO_LONG] = "パスワードが長すぎます。",
	[PASSWORD_BAD_UTF8] = "パスワードに不正な文字コードが含まれています。",
	[PASSWORD_CONTROL_CHAR] = "パスワードに制御文字（タブや改行など）は使用できません。",
	[PASSWORD_TOO_SHORT] = "パスワードが短すぎます。",
	[PASSWORD_FEW_CLASSES] = ("パスワードには、英大文字・英小文字・数字・記号・その他の文字"
				  "（日本語など）のうち、より多くの種類を組み合わせてください。"),
	[PASSWORD_COMMON] = "よく使われる推測されやすいパスワードは使用できません。",
	[PASSWORD_HAS_LOGIN] = "パスワードにログインIDを含めることはできません。",
	[PASSWORD_HAS_NAME] = "パスワードに氏名やメールアドレスを含めることはできません。",
	[PASSWORD_REUSED] = "最近使用したパスワードは再利用できません。",
};

const char *password_reason_en(int reason)
{
	if (reason < 0 || reason >= PASSWORD_REASON_COUNT)
		return "unknown reason";
	return reason_en[reason];
}

const char *password_reason_ja(int reason)
{
	if (reason < 0 || reason >= PASSWORD_REASON_COUNT)
		return "不明な理由";
	return reason_ja[reason];
}

void password_policy_defaults(struct password_policy *p)
{
	p->min_chars = 12;
	p->max_bytes = 256;
	p->min_classes = 3;
	p->history = 5;
}

/* ---- UTF-8 and folding ---- */

/* Decodes one code point of s[*i..len) strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 0 and advances *i, or -1. */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	size_t k = *i, n;
	uint32_t c = s[k], min;

	if (c < 0x80) {
		*cp = c;
		*i = k + 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, c &= 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len - k - 1 < n)
		return -1;
	for (size_t j = 1; j <= n; j++) {
		if ((s[k + j] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[k + j] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	*i = k + 1 + n;
	return 0;
}

static void utf8_put(uint32_t c, char *out, size_t *o)
{
	if (c < 0x80) {
		out[(*o)++] = (char)c;
	} else if (c < 0x800) {
		out[(*o)++] = (char)(0xc0 | (c >> 6));
		out[(*o)++] = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		out[(*o)++] = (char)(0xe0 | (c >> 12));
		out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (c & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | (c >> 18));
		out[(*o)++] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (c & 0x3f));
	}
}

static uint32_t fold_cp(uint32_t c)
{
	if (c >= 0xff01 && c <= 0xff5e)
		c -= 0xfee0;
	else if (c == 0x3000)
		c = ' ';
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	return c;
}

/* Folds valid UTF-8 s[0..len) into out (at least len + 1 bytes: folding
 * never lengthens) and returns the folded length, or (size_t)-1 for
 * invalid UTF-8. *nchars gets the number of code points. */
static size_t fold(const char *s, size_t len, char *out, size_t *nchars)
{
	size_t i = 0, o = 0, n = 0;
	uint32_t c;

	while (i < len) {
		if (utf8_next((const unsigned char *)s, len, &i, &c) != 0)
			return (size_t)-1;
		utf8_put(fold_cp(c), out, &o);
		n++;
	}
	out[o] = '\0';
	if (nchars)
		*nchars = n;
	return o;
}

/* ---- the blocklist ---- */

struct password_blocklist {
	char *text;     /* the folded copy of the file; entries point into it */
	char **words;   /* sorted, distinct */
	size_t n;
};

static int cmp_word(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int password_blocklist_from_text(const char *text, size_t len, struct password_blocklist **out,
				 char *err, size_t errlen)
{
	struct password_blocklist *b = NULL;
	size_t lines = 1, n = 0;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	if (len > PASSWORD_BLOCKLIST_FILE_MAX) {
		suido_errf(err, errlen, "blocklist larger than %d bytes", PASSWORD_BLOCKLIST_FILE_MAX);
		return SUIDO_ERR_LIMIT;
	}
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	b = calloc(1, sizeof *b);
	if (!b || !(b->text = malloc(len + 1)) || !(b->words = calloc(lines, sizeof *b->words))) {
		suido_errf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(b->text, text, len);
	b->text[len] = '\0';
	for (char *line = b->text, *end; line; line = end) {
		size_t l;

		end = strchr(line, '\n');
		if (end)
			*end++ = '\0';
		l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		/* An entry that is not UTF-8 stays as it is: it can never equal a
		 * valid candidate, so it is harmless. */
		for (size_t k = 0; k < l; k++)
			if (line[k] >= 'A' && line[k] <= 'Z')
				line[k] = (char)(line[k] + ('a' - 'A'));
		b->words[n++] = line;
	}
	if (n > 1) {
		size_t w = 1;

		qsort(b->words, n, sizeof *b->words, cmp_word);
		for (size_t r = 1; r < n; r++)
			if (strcmp(b->words[r], b->words[w - 1]) != 0)
				b->words[w++] = b->words[r];
		n = w;
	}
	b->n = n;
	*out = b;
	b = NULL;
	rc = SUIDO_OK;
out:
	password_blocklist_free(b);
	return rc;
}

int password_blocklist_load(const char *path, struct password_blocklist **out, char *err,
			    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fsutil_read_path(path, PASSWORD_BLOCKLIST_FILE_MAX, &text, &len, err, errlen);
	if (rc == SUIDO_OK)
		rc = password_blocklist_from_text(text, len, out, err, errlen);
	free(text);
	return rc;
}

size_t password_blocklist_count(const struct password_blocklist *b)
{
	return b ? b->n : 0;
}

void password_blocklist_free(struct password_blocklist *b)
{
	if (!b)
		return;
	free(b->words);
	free(b->text);
	free(b);
}

static int blocklisted(const struct password_blocklist *b, const char *w)
{
	return bsearch(&w, b->words, b->n, sizeof *b->words, cmp_word) != NULL;
}

static int ascii_nonalpha(char c)
{
	return c >= 0x20 && c < 0x7f && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* Whether the folded candidate f[0..n) is common: listed as it is, or a
 * listed word with digits and symbols before or after it ("Password123!"). */
static int is_common(const struct password_blocklist *b, char *f, size_t n)
{
	size_t s = 0, e = n;
	char saved;
	int hit;

	if (!b || b->n == 0)
		return 0;
	if (blocklisted(b, f))
		return 1;
	while (s < e && ascii_nonalpha(f[s]))
		s++;
	while (e > s && ascii_nonalpha(f[e - 1]))
		e--;
	if (e - s < MIN_BASE_BYTES || (s == 0 && e == n))
		return 0;
	saved = f[e];
	f[e] = '\0';
	hit = blocklisted(b, f + s);
	f[e] = saved;
	return hit;
}

/* ---- login ID and names ---- */

/* Whether the folded password f[0..flen) equals the folded form of
 * w[0..len), or contains it when it has at least MIN_MATCH_CHARS code
 * points. Folding shortens a word by at most 3 to 1 (full width), so a word
 * longer than 3 * flen bytes cannot occur. */
static int contains_word(const char *f, size_t flen, const char *w, size_t len)
{
	char buf[3 * PASSWORD_MAX_BYTES_CAP + 1];
	size_t n, chars;

	if (len == 0 || len > 3 * flen)
		return 0;
	n = fold(w, len, buf, &chars);
	if (n == (size_t)-1 || n == 0 || n > flen)
		return 0;
	if (n == flen && memcmp(f, buf, n) == 0)
		return 1;
	return chars >= MIN_MATCH_CHARS && memmem(f, flen, buf, n) != NULL;
}

#define IDEOGRAPHIC_SPACE "\xe3\x80\x80"

/* The length of the delimiter at name[i..len): ASCII . _ - @ , space, or
 * U+3000; 0 when there is none. */
static size_t delim_at(const char *name, size_t i, size_t len)
{
	char c = name[i];

	if (c == ' ' || c == '.' || c == '_' || c == '-' || c == '@' || c == ',')
		return 1;
	if (len - i >= 3 && memcmp(name + i, IDEOGRAPHIC_SPACE, 3) == 0)
		return 3;
	return 0;
}

/* The name as a whole, the name with its delimiters dropped ("山田 太郎" as
 * "山田太郎", "taro.yamada" as "taroyamada"), then each word of it. */
static int contains_name(const char *f, size_t flen, const char *name)
{
	char joined[3 * PASSWORD_MAX_BYTES_CAP + 1];
	size_t len = strlen(name), i = 0, j = 0, d;

	if (contains_word(f, flen, name, len))
		return 1;
	if (len > 3 * flen)
		return 0;
	for (i = 0; i < len; i += d ? d : 1) {
		d = delim_at(name, i, len);
		if (!d)
			joined[j++] = name[i];
	}
	if (j < len && contains_word(f, flen, joined, j))
		return 1;
	for (i = 0; i < len;) {
		size_t s = i, e;

		while (s < len && (d = delim_at(name, s, len)) != 0)
			s += d;
		for (e = s; e < len && delim_at(name, e, len) == 0; e++)
			;
		if (e > s && !(s == 0 && e == len) && contains_word(f, flen, name + s, e - s))
			return 1;
		i = e;
	}
	return 0;
}

/* ---- hashing ---- */

static int sodium_ready(void)
{
	return sodium_init() >= 0;
}

static int is_argon2id(const char *phc)
{
	size_t n;

	if (!phc)
		return 0;
	n = strnlen(phc, PASSWORD_HASH_MAX);
	return n < PASSWORD_HASH_MAX && n > sizeof PREFIX - 1 &&
	       memcmp(phc, PREFIX, sizeof PREFIX - 1) == 0;
}

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX])
{
	out[0] = '\0';
	if (len > PASSWORD_MAX_BYTES_CAP)
		return SUIDO_ERR_LIMIT;
	if (!sodium_ready())
		return SUIDO_ERR_CONFIG;
	if (crypto_pwhash_str_alg(out, pw, len, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT, ALG) != 0) {
		out[0] = '\0';
		return SUIDO_ERR_NOMEM;
	}
	return SUIDO_OK;
}

int password_verify(const char *phc, const char *pw, size_t len)
{
	if (len > PASSWORD_MAX_BYTES_CAP)
		return SUIDO_ERR_LIMIT;
	if (!is_argon2id(phc))
		return SUIDO_ERR_INVALID;
	if (!sodium_ready())
		return SUIDO_ERR_CONFIG;
	return crypto_pwhash_str_verify(phc, pw, len) == 0 ? SUIDO_OK : SUIDO_ERR_PERM;
}

static char dummy_phc[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	static const char pw[] = "suido dummy password: never a user's";

	if (password_hash(pw, sizeof pw - 1, dummy_phc) != SUIDO_OK)
		dummy_phc[0] = '\0';
}

int password_verify_dummy(const char *pw, size_t len)
{
	if (!sodium_ready())
		return SUIDO_ERR_CONFIG;
	pthread_once(&dummy_once, make_dummy);
	if (len > PASSWORD_MAX_BYTES_CAP)
		len = PASSWORD_MAX_BYTES_CAP;
	if (dummy_phc[0])
		(void)!crypto_pwhash_str_verify(dummy_phc, pw, len);
	return SUIDO_ERR_PERM;
}

int password_needs_rehash(const char *phc)
{
	char current[64];
	int n;

	if (!is_argon2id(phc) || !sodium_ready())
		return 1;
	/* libsodium 1.0.18 compares only m and t: a string of another
	 * parallelism (fuzz_password found "p=5") passed as current. Ours are
	 * always written with this exact prefix; anything else is rehashed. */
	n = snprintf(current, sizeof current, "%sv=%d$m=%u,t=%u,p=1$", PREFIX, 19,
		     PASSWORD_MEMLIMIT / 1024, PASSWORD_OPSLIMIT);
	if (n < 0 || (size_t)n >= sizeof current || strncmp(phc, current, (size_t)n) != 0)
		return 1;
	return crypto_pwhash_argon2id_str_needs_rehash(phc, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0;
}

/* ---- the policy ---- */

static unsigned class_of(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return 1u << 0;
	if (c >= 'a' && c <= 'z')
		return 1u << 1;
	if (c >= '0' && c <= '9')
		return 1u << 2;
	if (c < 0x80)
		return 1u << 3;
	return 1u << 4;
}

static unsigned popcount5(unsigned m)
{
	unsigned n = 0;

	for (; m; m &= m - 1)
		n++;
	return n;
}

int password_check(const struct password_policy *p, const struct password_blocklist *b,
		   const struct password_subject *s, const char *pw, size_t len,
		   enum password_reason *reason)
{
	char f[PASSWORD_MAX_BYTES_CAP + 1];
	size_t i = 0, chars = 0, flen = 0;
	unsigned classes = 0;
	enum password_reason r = PASSWORD_ACCEPTABLE;
	int rc = SUIDO_OK;
	uint32_t c;

	if (p->max_bytes > PASSWORD_MAX_BYTES_CAP)
		return SUIDO_ERR_INVALID;
	if (len > p->max_bytes) {
		*reason = PASSWORD_TOO_LONG;
		return SUIDO_OK;
	}
	while (i < len) {
		if (utf8_next((const unsigned char *)pw, len, &i, &c) != 0) {
			r = PASSWORD_BAD_UTF8;
			goto out;
		}
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
			r = PASSWORD_CONTROL_CHAR;
			goto out;
		}
		classes |= class_of(c);
		chars++;
	}
	if (chars < p->min_chars) {
		r = PASSWORD_TOO_SHORT;
		goto out;
	}
	if (popcount5(classes) < p->min_classes) {
		r = PASSWORD_FEW_CLASSES;
		goto out;
	}
	flen = fold(pw, len, f, NULL);
	if (is_common(b, f, flen)) {
		r = PASSWORD_COMMON;
		goto out;
	}
	if (s && s->login && contains_word(f, flen, s->login, strlen(s->login))) {
		r = PASSWORD_HAS_LOGIN;
		goto out;
	}
	for (size_t k = 0; s && k < s->nnames; k++) {
		if (s->names[k] && contains_name(f, flen, s->names[k])) {
			r = PASSWORD_HAS_NAME;
			goto out;
		}
	}
	for (size_t k = 0; s && k < s->nhistory && k < p->history; k++) {
		if (!s->history[k])
			continue;
		rc = password_verify(s->history[k], pw, len);
		if (rc == SUIDO_OK) {
			r = PASSWORD_REUSED;
			goto out;
		}
		if (rc != SUIDO_ERR_PERM)
			goto out; /* INVALID (or CONFIG): no verdict */
		rc = SUIDO_OK;
	}
out:
	sodium_memzero(f, sizeof f);
	if (rc == SUIDO_OK)
		*reason = r;
	return rc;
}
