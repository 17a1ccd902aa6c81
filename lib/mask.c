/*
 * Data masking with the utility's own key (mask.h). Each mode has its own
 * key derived by HKDF-SHA-256 from the 64-byte utility key, so the two
 * modes never share key bytes and the raw key encrypts nothing. The token's
 * prefix, which names the format version, the mode and the key id, is
 * bound to the ciphertext as associated data: a body moved under another
 * prefix fails authentication. The base64 codecs here are strict (one
 * encoding per byte string) so a token that opens is also the one
 * mask_value would write.
 */
#include "suido/mask.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"

#define KEY_MAGIC "suido-mask-key/1"
#define TOKEN_MAGIC "~m1."
#define PREFIX_LEN 15 /* "~m1.s.0123abcd." */
#define SIV_KEY 64
#define GCM_KEY 32
#define GCM_NONCE 12
#define TAG 16
#define KEY_B64_LEN 88 /* 64 bytes, padded */
#define LABEL_SIV "suido-mask/1 aes-256-siv"
#define LABEL_GCM "suido-mask/1 aes-256-gcm"

struct mask_key {
	unsigned char raw[MASK_KEY_BYTES];
	unsigned char siv[SIV_KEY];
	unsigned char gcm[GCM_KEY];
	char id[MASK_KEY_ID_LEN + 1];
	EVP_CIPHER *siv_cipher; /* fetched once: AES-SIV has no EVP_aes_* shortcut */
};

/* ---- base64 ---- */

static int b64_val(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static size_t b64_len(size_t n, int url)
{
	return url ? n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) : (n + 2) / 3 * 4;
}

/* out has b64_len(n) + 1 bytes; NUL-terminates. Padded unless url. */
static void b64_encode(const unsigned char *in, size_t n, int url, char *out)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
}

/*
 * Strict decoding: the alphabet only, padding exactly when !url, unused
 * trailing bits zero. out may be NULL to validate only; else it has
 * n / 4 * 3 + 2 bytes. Returns the decoded length, or -1.
 */
static long b64_decode(const char *s, size_t n, int url, unsigned char *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	if (!url) {
		if (n % 4)
			return -1;
		if (n && s[n - 1] == '=')
			n--;
		if (n && s[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1 || n > LONG_MAX / 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i], url);
		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out)
				out[o] = (unsigned char)(acc >> bits);
			o++;
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (long)o;
}

/* ---- keys ---- */

static int hkdf(const unsigned char *ikm, size_t ikmlen, const char *label, unsigned char *out,
		size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label,
						      strlen(label));
	params[3] = OSSL_PARAM_construct_end();
	ok = kctx && EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok;
}

int mask_key_from_bytes(const unsigned char *raw, size_t len, struct mask_key **out,
			char *err, size_t errlen)
{
	struct mask_key *k = NULL;
	unsigned char md[32];
	static const char hex[] = "0123456789abcdef";

	*out = NULL;
	if (len != MASK_KEY_BYTES) {
		suido_errf(err, errlen, "a masking key has %d bytes, not %zu", MASK_KEY_BYTES, len);
		return SUIDO_ERR_INVALID;
	}
	k = OPENSSL_zalloc(sizeof *k);
	if (!k)
		return SUIDO_ERR_NOMEM;
	memcpy(k->raw, raw, MASK_KEY_BYTES);
	if (EVP_Digest(k->raw, MASK_KEY_BYTES, md, NULL, EVP_sha256(), NULL) != 1 ||
	    !hkdf(k->raw, MASK_KEY_BYTES, LABEL_SIV, k->siv, SIV_KEY) ||
	    !hkdf(k->raw, MASK_KEY_BYTES, LABEL_GCM, k->gcm, GCM_KEY) ||
	    !(k->siv_cipher = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL))) {
		ERR_clear_error();
		suido_errf(err, errlen, "this OpenSSL lacks SHA-256, HKDF or AES-256-SIV");
		mask_key_free(k);
		return SUIDO_ERR_CONFIG;
	}
	for (int i = 0; i < MASK_KEY_ID_LEN / 2; i++) {
		k->id[2 * i] = hex[md[i] >> 4];
		k->id[2 * i + 1] = hex[md[i] & 15];
	}
	k->id[MASK_KEY_ID_LEN] = '\0';
	*out = k;
	return SUIDO_OK;
}

int mask_key_generate(struct mask_key **out, char *err, size_t errlen)
{
	unsigned char raw[MASK_KEY_BYTES];
	int rc;

	if (RAND_priv_bytes(raw, sizeof raw) != 1)
		fatal("mask", "the random generator failed");
	rc = mask_key_from_bytes(raw, sizeof raw, out, err, errlen);
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

void mask_key_free(struct mask_key *key)
{
	if (!key)
		return;
	EVP_CIPHER_free(key->siv_cipher);
	OPENSSL_clear_free(key, sizeof *key);
}

const char *mask_key_id(const struct mask_key *key)
{
	return key->id;
}

int mask_key_format(const struct mask_key *key, char *out, size_t outlen)
{
	char b64[KEY_B64_LEN + 1];
	int n;

	if (outlen < MASK_KEY_TEXT_MAX)
		return SUIDO_ERR_LIMIT;
	b64_encode(key->raw, MASK_KEY_BYTES, 0, b64);
	n = snprintf(out, outlen, "%s %s %s\n", KEY_MAGIC, key->id, b64);
	OPENSSL_cleanse(b64, sizeof b64);
	return n > 0 && (size_t)n < outlen ? SUIDO_OK : SUIDO_ERR_LIMIT;
}

int mask_key_parse(const char *text, size_t len, struct mask_key **out, char *err,
		   size_t errlen)
{
	const size_t magic = sizeof KEY_MAGIC - 1, line = magic + 1 + MASK_KEY_ID_LEN + 1 + KEY_B64_LEN;
	unsigned char raw[KEY_B64_LEN]; /* room for the decoder's slack */
	int rc = SUIDO_ERR_INVALID;

	*out = NULL;
	if (len == line + 2 && text[line] == '\r' && text[line + 1] == '\n')
		len -= 2;
	else if (len == line + 1 && text[line] == '\n')
		len -= 1;
	if (len != line || memcmp(text, KEY_MAGIC, magic) != 0 || text[magic] != ' ' ||
	    text[magic + 1 + MASK_KEY_ID_LEN] != ' ') {
		suido_errf(err, errlen, "not a %s key file", KEY_MAGIC);
		return SUIDO_ERR_INVALID;
	}
	if (b64_decode(text + line - KEY_B64_LEN, KEY_B64_LEN, 0, raw) != MASK_KEY_BYTES) {
		suido_errf(err, errlen, "key file: the key is not base64 of %d bytes",
			   MASK_KEY_BYTES);
		goto done;
	}
	rc = mask_key_from_bytes(raw, MASK_KEY_BYTES, out, err, errlen);
	if (rc == SUIDO_OK && memcmp((*out)->id, text + magic + 1, MASK_KEY_ID_LEN) != 0) {
		suido_errf(err, errlen, "key file: id %.8s is not the key's id %s (damaged file?)",
			   text + magic + 1, (*out)->id);
		mask_key_free(*out);
		*out = NULL;
		rc = SUIDO_ERR_INVALID;
	}
done:
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

/* Parses a key file's text as read (rc from reading it), then cleanses it. */
static int key_from_read(int rc, char *text, size_t len, const char *what,
			 struct mask_key **out, char *err, size_t errlen)
{
	if (rc == SUIDO_ERR_NOTFOUND)
		suido_errf(err, errlen, "no key file %s", what);
	if (rc == SUIDO_OK)
		rc = mask_key_parse(text, len, out, err, errlen);
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	return rc;
}

int mask_key_load(const char *dir, const char *name, struct mask_key **out, char *err,
		  size_t errlen)
{
	char *text = NULL, what[512];
	size_t len = 0;
	int rc;

	*out = NULL;
	snprintf(what, sizeof what, "%s/%s", dir, name);
	rc = fsutil_read_file(dir, name, MASK_KEY_TEXT_MAX, &text, &len, err, errlen);
	return key_from_read(rc, text, len, what, out, err, errlen);
}

int mask_key_load_path(const char *path, struct mask_key **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fsutil_read_path(path, MASK_KEY_TEXT_MAX, &text, &len, err, errlen);
	return key_from_read(rc, text, len, path, out, err, errlen);
}

static int io_fail(char *err, size_t errlen, const char *what, const char *path)
{
	int e = errno;

	suido_errf(err, errlen, "%s %s: %s", what, path, strerror(e));
	return (e == ENOSPC || e == EDQUOT) ? SUIDO_ERR_FULL : SUIDO_ERR_IO;
}

int mask_key_save(const struct mask_key *key, const char *dir, const char *name, char *err,
		  size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX], text[MASK_KEY_TEXT_MAX];
	size_t len, off = 0;
	int fd = -1, rc;

	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >=
		    (int)sizeof tmp ||
	    snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst) {
		suido_errf(err, errlen, "path too long: %s/%s", dir, name);
		return SUIDO_ERR_INVALID;
	}
	if ((rc = mask_key_format(key, text, sizeof text)) != SUIDO_OK)
		return rc;
	len = strlen(text);
	unlink(tmp); /* a leftover of a crashed earlier run of this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = io_fail(err, errlen, "create", tmp);
		goto done;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_fail(err, errlen, "write", tmp);
			goto done;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = io_fail(err, errlen, "fsync", tmp);
		goto done;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = io_fail(err, errlen, "close", tmp);
		goto done;
	}
	fd = -1;
	/* link, unlike rename, refuses to replace an existing key. */
	if (link(tmp, dst) != 0) {
		if (errno == EEXIST) {
			suido_errf(err, errlen, "%s exists: not replacing a key", dst);
			rc = SUIDO_ERR_EXISTS;
		} else {
			rc = io_fail(err, errlen, "link", dst);
		}
		goto done;
	}
	rc = fsutil_fsync_dir(dir, err, errlen);
done:
	OPENSSL_cleanse(text, sizeof text);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* ---- tokens ---- */

static void token_prefix(const struct mask_key *key, enum mask_mode mode, char *out)
{
	snprintf(out, PREFIX_LEN + 1, "%s%c.%s.", TOKEN_MAGIC, mode == MASK_DETERMINISTIC ? 's' : 'r',
		 key->id);
}

static size_t overhead(enum mask_mode mode)
{
	return mode == MASK_DETERMINISTIC ? TAG : GCM_NONCE + TAG;
}

/*
 * Splits a token into mode, key id and body. Returns SUIDO_OK or
 * SUIDO_ERR_INVALID; on success *bodylen is the decoded length, within
 * bounds for the mode.
 */
static int token_split(const char *s, size_t n, enum mask_mode *mode, const char **id,
		       const char **body, size_t *bodylen)
{
	long dec;

	if (n <= PREFIX_LEN || memcmp(s, TOKEN_MAGIC, 4) != 0 || s[5] != '.' ||
	    s[6 + MASK_KEY_ID_LEN] != '.')
		return SUIDO_ERR_INVALID;
	if (s[4] == 's')
		*mode = MASK_DETERMINISTIC;
	else if (s[4] == 'r')
		*mode = MASK_RANDOMIZED;
	else
		return SUIDO_ERR_INVALID;
	for (int i = 0; i < MASK_KEY_ID_LEN; i++)
		if (!((s[6 + i] >= '0' && s[6 + i] <= '9') || (s[6 + i] >= 'a' && s[6 + i] <= 'f')))
			return SUIDO_ERR_INVALID;
	*id = s + 6;
	*body = s + PREFIX_LEN;
	if (n - PREFIX_LEN > b64_len(MASK_MAX_CLEAR + GCM_NONCE + TAG, 1))
		return SUIDO_ERR_INVALID;
	dec = b64_decode(*body, n - PREFIX_LEN, 1, NULL);
	if (dec < 0 || (size_t)dec <= overhead(*mode) ||
	    (size_t)dec > MASK_MAX_CLEAR + overhead(*mode))
		return SUIDO_ERR_INVALID;
	*bodylen = (size_t)dec;
	return SUIDO_OK;
}

int mask_is_token(const char *s, size_t len)
{
	enum mask_mode mode;
	const char *id, *body;
	size_t bodylen;

	return s && token_split(s, len, &mode, &id, &body, &bodylen) == SUIDO_OK;
}

/*
 * One AEAD pass. enc: in -> out, writing the tag to tag. !enc: checks tag.
 * SIV takes no IV; GCM takes the 12-byte nonce. Returns 1 or 0.
 */
static int aead(const struct mask_key *key, enum mask_mode mode, int enc,
		const unsigned char *nonce, const char *aad, const unsigned char *in,
		size_t inlen, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int siv = mode == MASK_DETERMINISTIC, n, n2 = 0, ok = 0;

	assert(inlen > 0 && inlen <= MASK_MAX_CLEAR);
	if (!ctx)
		return 0;
	if (EVP_CipherInit_ex2(ctx, siv ? key->siv_cipher : EVP_aes_256_gcm(),
			       siv ? key->siv : key->gcm, siv ? NULL : nonce, enc, NULL) != 1)
		goto done;
	/* SIV checks the tag inside the update, GCM at final: set it first. */
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, tag) != 1)
		goto done;
	if (EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + n, &n2) != 1 || (size_t)(n + n2) != inlen)
		goto done;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, tag) != 1)
		goto done;
	ok = 1;
done:
	if (!ok)
		ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

int mask_value(const struct mask_key *key, enum mask_mode mode, const char *clear, size_t len,
	       char **token, char *err, size_t errlen)
{
	char prefix[PREFIX_LEN + 1];
	unsigned char *body = NULL, *ct, *tag, *nonce = NULL;
	size_t bodylen;
	char *tok = NULL;
	int rc = SUIDO_ERR_NOMEM;

	assert(key && token && (mode == MASK_DETERMINISTIC || mode == MASK_RANDOMIZED));
	*token = NULL;
	if (len == 0) {
		suido_errf(err, errlen, "empty values are not masked");
		return SUIDO_ERR_INVALID;
	}
	if (len > MASK_MAX_CLEAR) {
		suido_errf(err, errlen, "value of %zu bytes, more than %d", len, MASK_MAX_CLEAR);
		return SUIDO_ERR_LIMIT;
	}
	bodylen = len + overhead(mode);
	body = malloc(bodylen);
	tok = malloc(PREFIX_LEN + b64_len(bodylen, 1) + 1);
	if (!body || !tok)
		goto done;
	if (mode == MASK_DETERMINISTIC) { /* tag || ciphertext, as RFC 5297 */
		tag = body;
		ct = body + TAG;
	} else { /* nonce || ciphertext || tag, as RFC 5116 5.1 with the nonce first */
		nonce = body;
		ct = body + GCM_NONCE;
		tag = ct + len;
		if (RAND_bytes(nonce, GCM_NONCE) != 1)
			fatal("mask", "the random generator failed");
	}
	token_prefix(key, mode, prefix);
	if (!aead(key, mode, 1, nonce, prefix, (const unsigned char *)clear, len, ct, tag)) {
		suido_errf(err, errlen, "encryption failed");
		goto done;
	}
	memcpy(tok, prefix, PREFIX_LEN);
	b64_encode(body, bodylen, 1, tok + PREFIX_LEN);
	*token = tok;
	tok = NULL;
	rc = SUIDO_OK;
done:
	free(body);
	free(tok);
	return rc;
}

int mask_unmask(const struct mask_key *key, const char *token, size_t toklen, char **clear,
		size_t *len, char *err, size_t errlen)
{
	enum mask_mode mode;
	const char *id, *b64;
	char prefix[PREFIX_LEN + 1];
	unsigned char *body = NULL, *ct, *tag, *nonce = NULL;
	size_t bodylen, clen;
	char *out = NULL;
	int rc;

	assert(key && clear && len);
	*clear = NULL;
	*len = 0;
	if (!token || token_split(token, toklen, &mode, &id, &b64, &bodylen) != SUIDO_OK) {
		suido_errf(err, errlen, "not a masked value");
		return SUIDO_ERR_INVALID;
	}
	if (memcmp(id, key->id, MASK_KEY_ID_LEN) != 0) {
		suido_errf(err, errlen, "masked with key %.8s, this key is %s", id, key->id);
		return SUIDO_ERR_NOTFOUND;
	}
	clen = bodylen - overhead(mode);
	body = malloc(toklen / 4 * 3 + 2);
	out = malloc(clen + 1);
	if (!body || !out) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (b64_decode(b64, toklen - PREFIX_LEN, 1, body) != (long)bodylen) {
		rc = SUIDO_ERR_INVALID; /* token_split decoded it already */
		goto done;
	}
	if (mode == MASK_DETERMINISTIC) {
		tag = body;
		ct = body + TAG;
	} else {
		nonce = body;
		ct = body + GCM_NONCE;
		tag = ct + clen;
	}
	token_prefix(key, mode, prefix);
	if (!aead(key, mode, 0, nonce, prefix, ct, clen, (unsigned char *)out, tag)) {
		suido_errf(err, errlen, "masked value does not authenticate under key %s", key->id);
		rc = SUIDO_ERR_DECRYPT;
		goto done;
	}
	out[clen] = '\0';
	*clear = out;
	*len = clen;
	out = NULL;
	rc = SUIDO_OK;
done:
	free(body);
	if (out) {
		OPENSSL_cleanse(out, clen + 1);
		free(out);
	}
	return rc;
}
