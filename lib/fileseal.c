/*
 * Sealed files (fileseal.h): the seed 003 "file format" encryption and
 * signature, built from libzip and OpenSSL EVP only. Sealing signs the
 * plaintext, encrypts it under a fresh AES-CBC session key, wraps the key
 * with RSA-OAEP and writes the members into a ZIP in memory. Opening reads
 * the ZIP from memory and distrusts all of it: the member set, names,
 * methods and declared sizes are checked from the central directory before
 * a byte is inflated, and no member may inflate past its declared size.
 * The session key and every plaintext buffer are cleansed before release.
 */
#include "suido/fileseal.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <zip.h>

#include "suido/error.h"
#include "suido/hex.h"
#include "suido/log.h"

#define FORMAT_ID "suido-fileseal/1"
#define SIG_ALG "rsassa-pkcs1-v1_5-sha256"
#define MANIFEST_MAX 4096        /* bytes; a manifest is ~300 */
#define NAME_MAX_BYTES 255
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define RSA_MAX_BYTES (RSA_MAX_BITS / 8)
#define AES_BLOCK 16
#define CIPHER_CHUNK ((size_t)1 << 20) /* EVP cipher updates take int lengths */

#define LAYOUT_SIGN 1u
#define LAYOUT_ENCRYPT 2u

enum member { MEM_MANIFEST, MEM_PAYLOAD, MEM_PAYLOAD_ENC, MEM_KEY_ENC, MEM_SIG, MEM_COUNT };

static const char *const member_name[MEM_COUNT] = {
	"manifest.json", "payload", "payload.enc", "key.enc", "payload.sig",
};

struct cipher_alg {
	const char *name;
	int bits;
	const EVP_CIPHER *(*cipher)(void);
};

static const struct cipher_alg cipher_algs[] = {
	{"aes-128-cbc", 128, EVP_aes_128_cbc},
	{"aes-192-cbc", 192, EVP_aes_192_cbc},
	{"aes-256-cbc", 256, EVP_aes_256_cbc},
};

struct oaep_alg {
	const char *name;
	const EVP_MD *(*md)(void);
};

/* The first is what sealing writes: the openssl CLI's OAEP default. */
static const struct oaep_alg oaep_algs[] = {
	{"rsa-oaep", EVP_sha1},
	{"rsa-oaep-256", EVP_sha256},
};

struct manifest {
	char *name;
	size_t size;
	const struct cipher_alg *cipher;
	const struct oaep_alg *oaep;
	unsigned char iv[AES_BLOCK];
	size_t enc_size;
};

static unsigned layout_members(unsigned layout)
{
	unsigned m = 1u << MEM_MANIFEST;

	m |= (layout & LAYOUT_ENCRYPT) ? (1u << MEM_PAYLOAD_ENC | 1u << MEM_KEY_ENC)
				       : 1u << MEM_PAYLOAD;
	if (layout & LAYOUT_SIGN)
		m |= 1u << MEM_SIG;
	return m;
}

/* Appends OpenSSL's first queued reason to a message and empties the queue. */
static int ossl_fail(int code, char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof buf);
		suido_errf(err, errlen, "%s: %s", what, buf);
	} else {
		suido_errf(err, errlen, "%s", what);
	}
	ERR_clear_error();
	return code;
}

static int check_rsa(EVP_PKEY *key, const char *role, char *err, size_t errlen)
{
	int bits;

	if (!key || !EVP_PKEY_is_a(key, "RSA")) {
		suido_errf(err, errlen, "%s key is not an RSA key", role);
		return SUIDO_ERR_INVALID;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		suido_errf(err, errlen, "%s key has %d bits, outside %d-%d", role, bits,
			   RSA_MIN_BITS, RSA_MAX_BITS);
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * A name a recipient could store the file under without surprises on Unix
 * or Windows: one path component, printable, UTF-8.
 */
static int name_valid(const char *name, size_t n, char *err, size_t errlen)
{
	if (n == 0 || n > NAME_MAX_BYTES || memchr(name, '\0', n)) {
		suido_errf(err, errlen, "file name must be 1-%d bytes without NUL", NAME_MAX_BYTES);
		return SUIDO_ERR_INVALID;
	}
	if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.')) {
		suido_errf(err, errlen, "file name \"%s\" is not a file", name);
		return SUIDO_ERR_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':') {
			suido_errf(err, errlen, "file name has a path separator or control character");
			return SUIDO_ERR_INVALID;
		}
	}
	if (!utf8_valid((const unsigned char *)name, n)) {
		suido_errf(err, errlen, "file name is not UTF-8");
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

static const struct cipher_alg *cipher_by_bits(int bits)
{
	for (size_t i = 0; i < sizeof cipher_algs / sizeof cipher_algs[0]; i++)
		if (cipher_algs[i].bits == bits)
			return &cipher_algs[i];
	return NULL;
}

/* ---- OpenSSL primitives ---- */

static int rsa_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char **sig,
		    size_t *siglen, char *err, size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc;

	*sig = NULL;
	if (!md)
		return SUIDO_ERR_NOMEM;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestSignUpdate(md, data, len) != 1 ||
	    EVP_DigestSignFinal(md, NULL, &n) != 1) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot sign with the sender key");
		goto done;
	}
	buf = malloc(n);
	if (!buf) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (EVP_DigestSignFinal(md, buf, &n) != 1) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot sign with the sender key");
		goto done;
	}
	*sig = buf;
	*siglen = n;
	buf = NULL;
	rc = SUIDO_OK;
done:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

static int rsa_verify(EVP_PKEY *key, const void *data, size_t len, const unsigned char *sig,
		      size_t siglen, char *err, size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = SUIDO_OK;

	if (!md)
		return SUIDO_ERR_NOMEM;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestVerifyUpdate(md, data, len) != 1) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot verify with the sender key");
		goto done;
	}
	if (EVP_DigestVerifyFinal(md, sig, siglen) != 1) {
		ERR_clear_error();
		suido_errf(err, errlen, "payload.sig does not verify with the sender's key");
		rc = SUIDO_ERR_SIGNATURE;
	}
done:
	EVP_MD_CTX_free(md);
	return rc;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *key, const struct oaep_alg *alg, int decrypt)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

	if (!pctx)
		return NULL;
	if ((decrypt ? EVP_PKEY_decrypt_init(pctx) : EVP_PKEY_encrypt_init(pctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, alg->md()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg->md()) <= 0) {
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	return pctx;
}

static int oaep_encrypt(EVP_PKEY *pub, const struct oaep_alg *alg, const unsigned char *in,
			size_t inlen, unsigned char **out, size_t *outlen, char *err,
			size_t errlen)
{
	EVP_PKEY_CTX *pctx = oaep_ctx(pub, alg, 0);
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!pctx || EVP_PKEY_encrypt(pctx, NULL, &n, in, inlen) != 1) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot encrypt to the recipient key");
		goto done;
	}
	buf = malloc(n);
	if (!buf) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (EVP_PKEY_encrypt(pctx, buf, &n, in, inlen) != 1) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot encrypt to the recipient key");
		goto done;
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = SUIDO_OK;
done:
	free(buf);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

/* out has RSA_MAX_BYTES; the caller cleanses it. */
static int oaep_decrypt(EVP_PKEY *key, const struct oaep_alg *alg, const unsigned char *in,
			size_t inlen, unsigned char *out, size_t *outlen, char *err,
			size_t errlen)
{
	EVP_PKEY_CTX *pctx = oaep_ctx(key, alg, 1);
	size_t n = RSA_MAX_BYTES;
	int rc = SUIDO_OK;

	if (!pctx) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "cannot decrypt with the recipient key");
	} else if (EVP_PKEY_decrypt(pctx, out, &n, in, inlen) != 1) {
		ERR_clear_error();
		suido_errf(err, errlen, "key.enc does not decrypt with the recipient's key");
		rc = SUIDO_ERR_DECRYPT;
	} else {
		*outlen = n;
	}
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

/*
 * AES-CBC with PKCS#7 padding over in[0..inlen) into out (inlen + 16
 * bytes). Returns 1, or 0 when OpenSSL fails (on decryption: bad padding).
 */
static int cbc_run(int enc, const EVP_CIPHER *cipher, const unsigned char *key,
		   const unsigned char *iv, const unsigned char *in, size_t inlen,
		   unsigned char *out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t off = 0, done = 0;
	int n, ok = 0;

	if (!ctx || EVP_CipherInit_ex2(ctx, cipher, key, iv, enc, NULL) != 1)
		goto out;
	while (off < inlen) {
		size_t chunk = inlen - off < CIPHER_CHUNK ? inlen - off : CIPHER_CHUNK;
		if (EVP_CipherUpdate(ctx, out + done, &n, in + off, (int)chunk) != 1)
			goto out;
		off += chunk;
		done += (size_t)n;
	}
	if (EVP_CipherFinal_ex(ctx, out + done, &n) != 1)
		goto out;
	*outlen = done + (size_t)n;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		ERR_clear_error();
	return ok;
}

/* ---- manifest ---- */

static int json_set(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0;
}

/* The manifest as pretty JSON with a final newline, malloc'ed into *out. */
static int manifest_build(unsigned layout, const char *name, size_t size,
			  const struct cipher_alg *cipher, const unsigned char *iv,
			  size_t enc_size, char **out, size_t *outlen)
{
	json_t *root = json_object();
	char ivhex[2 * AES_BLOCK + 1];
	char *text = NULL;
	int ok;

	*out = NULL;
	ok = root && json_set(root, "format", json_string(FORMAT_ID)) &&
	     json_set(root, "name", json_string(name)) &&
	     json_set(root, "size", json_integer((json_int_t)size));
	if (ok && (layout & LAYOUT_ENCRYPT)) {
		hex_encode(iv, AES_BLOCK, ivhex);
		ok = json_set(root, "cipher", json_string(cipher->name)) &&
		     json_set(root, "iv", json_string(ivhex)) &&
		     json_set(root, "encrypted_size", json_integer((json_int_t)enc_size)) &&
		     json_set(root, "key_transport", json_string(oaep_algs[0].name));
	}
	if (ok && (layout & LAYOUT_SIGN))
		ok = json_set(root, "signature", json_string(SIG_ALG));
	if (ok)
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return SUIDO_ERR_NOMEM;
	*outlen = strlen(text);
	*out = malloc(*outlen + 2);
	if (!*out) {
		free(text);
		return SUIDO_ERR_NOMEM;
	}
	memcpy(*out, text, *outlen);
	(*out)[(*outlen)++] = '\n';
	(*out)[*outlen] = '\0';
	free(text);
	return SUIDO_OK;
}

static int get_size(json_t *root, const char *key, size_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (unsigned long long)json_integer_value(v) > SIZE_MAX) {
		suido_errf(err, errlen, "manifest: \"%s\" must be a non-negative integer", key);
		return SUIDO_ERR_INVALID;
	}
	*out = (size_t)json_integer_value(v);
	return SUIDO_OK;
}

static const char *get_str(json_t *root, const char *key, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		suido_errf(err, errlen, "manifest: \"%s\" must be a string", key);
		return NULL;
	}
	return json_string_value(v);
}

static int manifest_parse(const unsigned char *text, size_t len, unsigned layout,
			  struct manifest *mf, char *err, size_t errlen)
{
	static const char *const common[] = {"format", "name", "size"};
	static const char *const enc_keys[] = {"cipher", "iv", "encrypted_size", "key_transport"};
	json_error_t jerr;
	json_t *root = NULL;
	const char *s, *key;
	json_t *val;
	size_t nkeys = 3;
	int rc = SUIDO_ERR_INVALID;

	memset(mf, 0, sizeof *mf);
	root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		suido_errf(err, errlen, "manifest.json is not a JSON object: %s",
			   root ? "wrong type" : jerr.text);
		goto done;
	}
	/* Only this layout's fields: a field of another layout is a downgrade. */
	json_object_foreach(root, key, val) {
		int known = 0;
		for (size_t i = 0; i < 3; i++)
			known |= strcmp(key, common[i]) == 0;
		for (size_t i = 0; (layout & LAYOUT_ENCRYPT) && i < 4; i++)
			known |= strcmp(key, enc_keys[i]) == 0;
		if ((layout & LAYOUT_SIGN) && strcmp(key, "signature") == 0)
			known = 1;
		if (!known) {
			suido_errf(err, errlen, "manifest: unexpected field \"%.40s\"", key);
			goto done;
		}
	}
	nkeys += (layout & LAYOUT_ENCRYPT) ? 4 : 0;
	nkeys += (layout & LAYOUT_SIGN) ? 1 : 0;
	if (json_object_size(root) != nkeys) {
		suido_errf(err, errlen, "manifest: %zu of %zu required fields present",
			   json_object_size(root), nkeys);
		goto done;
	}
	if (!(s = get_str(root, "format", err, errlen)))
		goto done;
	if (strcmp(s, FORMAT_ID) != 0) {
		suido_errf(err, errlen, "manifest: format \"%.40s\", expected \"%s\"", s, FORMAT_ID);
		goto done;
	}
	if (!(s = get_str(root, "name", err, errlen)) ||
	    name_valid(s, strlen(s), err, errlen) != SUIDO_OK)
		goto done;
	if (!(mf->name = strdup(s))) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (get_size(root, "size", &mf->size, err, errlen) != SUIDO_OK)
		goto done;
	if (layout & LAYOUT_SIGN) {
		if (!(s = get_str(root, "signature", err, errlen)))
			goto done;
		if (strcmp(s, SIG_ALG) != 0) {
			suido_errf(err, errlen, "manifest: unsupported signature \"%.40s\"", s);
			goto done;
		}
	}
	if (layout & LAYOUT_ENCRYPT) {
		if (!(s = get_str(root, "cipher", err, errlen)))
			goto done;
		for (size_t i = 0; i < sizeof cipher_algs / sizeof cipher_algs[0]; i++)
			if (strcmp(s, cipher_algs[i].name) == 0)
				mf->cipher = &cipher_algs[i];
		if (!mf->cipher) {
			suido_errf(err, errlen, "manifest: unsupported cipher \"%.40s\"", s);
			goto done;
		}
		if (!(s = get_str(root, "key_transport", err, errlen)))
			goto done;
		for (size_t i = 0; i < sizeof oaep_algs / sizeof oaep_algs[0]; i++)
			if (strcmp(s, oaep_algs[i].name) == 0)
				mf->oaep = &oaep_algs[i];
		if (!mf->oaep) {
			suido_errf(err, errlen, "manifest: unsupported key transport \"%.40s\"", s);
			goto done;
		}
		if (!(s = get_str(root, "iv", err, errlen)))
			goto done;
		if (strlen(s) != 2 * AES_BLOCK) {
			suido_errf(err, errlen, "manifest: iv must be %d hex digits", 2 * AES_BLOCK);
			goto done;
		}
		if (hex_decode(s, mf->iv, AES_BLOCK) != 0) {
			suido_errf(err, errlen, "manifest: iv is not hex");
			goto done;
		}
		if (get_size(root, "encrypted_size", &mf->enc_size, err, errlen) != SUIDO_OK)
			goto done;
		/* PKCS#7 always pads: 1 to 16 bytes. */
		if (mf->size > SIZE_MAX - 2 * AES_BLOCK ||
		    mf->enc_size != (mf->size / AES_BLOCK + 1) * AES_BLOCK) {
			suido_errf(err, errlen, "manifest: encrypted_size %zu does not fit size %zu",
				   mf->enc_size, mf->size);
			goto done;
		}
	}
	rc = SUIDO_OK;
done:
	json_decref(root);
	if (rc != SUIDO_OK) {
		free(mf->name);
		mf->name = NULL;
	}
	return rc;
}

/* ---- ZIP ---- */

struct zmember {
	enum member which;
	const void *data;
	size_t len;
	zip_int32_t method;
};

static int zip_fail(zip_error_t *ze, int code, char *err, size_t errlen, const char *what)
{
	if (zip_error_code_zip(ze) == ZIP_ER_MEMORY)
		code = SUIDO_ERR_NOMEM;
	suido_errf(err, errlen, "%s: %s", what, zip_error_strerror(ze));
	return code;
}

/* Writes the members into a new ZIP in memory (*out malloc'ed). */
static int zip_build(const struct zmember *m, size_t n, void **out, size_t *outlen, char *err,
		     size_t errlen)
{
	zip_error_t ze;
	zip_source_t *src = NULL, *ms;
	zip_t *za = NULL;
	zip_stat_t st;
	unsigned char *buf = NULL;
	int rc = SUIDO_ERR_IO, opened = 0;

	*out = NULL;
	zip_error_init(&ze);
	src = zip_source_buffer_create(NULL, 0, 0, &ze);
	if (!src) {
		rc = zip_fail(&ze, SUIDO_ERR_IO, err, errlen, "zip buffer");
		goto done;
	}
	za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	if (!za) {
		rc = zip_fail(&ze, SUIDO_ERR_IO, err, errlen, "zip open");
		goto done;
	}
	zip_source_keep(src); /* outlives zip_close, which writes into it */
	for (size_t i = 0; i < n; i++) {
		zip_int64_t idx;

		ms = zip_source_buffer(za, m[i].data, m[i].len, 0);
		if (!ms) {
			rc = zip_fail(zip_get_error(za), SUIDO_ERR_IO, err, errlen, "zip member");
			goto done;
		}
		idx = zip_file_add(za, member_name[m[i].which], ms, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(ms);
			rc = zip_fail(zip_get_error(za), SUIDO_ERR_IO, err, errlen, "zip add");
			goto done;
		}
		if (zip_set_file_compression(za, (zip_uint64_t)idx, m[i].method, 0) != 0 ||
		    zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
						     (zip_uint32_t)0100600 << 16) != 0) {
			rc = zip_fail(zip_get_error(za), SUIDO_ERR_IO, err, errlen, "zip member");
			goto done;
		}
	}
	if (zip_close(za) != 0) {
		rc = zip_fail(zip_get_error(za), SUIDO_ERR_IO, err, errlen, "zip write");
		goto done;
	}
	za = NULL;
	if (zip_source_open(src) != 0) {
		rc = zip_fail(zip_source_error(src), SUIDO_ERR_IO, err, errlen, "zip read back");
		goto done;
	}
	opened = 1;
	zip_stat_init(&st);
	if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
		rc = zip_fail(zip_source_error(src), SUIDO_ERR_IO, err, errlen, "zip read back");
		goto done;
	}
	buf = malloc(st.size ? st.size : 1);
	if (!buf) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (zip_source_read(src, buf, st.size) != (zip_int64_t)st.size) {
		rc = zip_fail(zip_source_error(src), SUIDO_ERR_IO, err, errlen, "zip read back");
		goto done;
	}
	*out = buf;
	*outlen = st.size;
	buf = NULL;
	rc = SUIDO_OK;
done:
	free(buf);
	if (za)
		zip_discard(za);
	if (opened)
		(void)zip_source_close(src); /* read-only: nothing to lose */
	if (src)
		zip_source_free(src);
	zip_error_fini(&ze);
	return rc;
}

struct zin {
	zip_t *za;
	zip_uint64_t idx[MEM_COUNT];
	zip_uint64_t size[MEM_COUNT];
};

static int member_by_name(const char *name, unsigned want)
{
	for (int i = 0; i < MEM_COUNT; i++)
		if ((want & 1u << i) && strcmp(name, member_name[i]) == 0)
			return i;
	return -1;
}

/*
 * Opens the ZIP and checks its central directory against the layout: the
 * member set, each name once under both the raw and the Unicode-extra-field
 * spelling (unzip extracts by the latter), methods, and declared sizes
 * against caps[] before any member is inflated.
 */
static int zin_open(struct zin *z, const void *zip, size_t ziplen, unsigned want,
		    const zip_uint64_t caps[MEM_COUNT], char *err, size_t errlen)
{
	zip_error_t ze;
	zip_source_t *src;
	zip_int64_t n;
	unsigned seen = 0;
	int expected = 0, rc = SUIDO_ERR_INVALID;

	memset(z, 0, sizeof *z);
	for (int i = 0; i < MEM_COUNT; i++)
		expected += (want >> i) & 1;
	if (!zip || ziplen == 0) {
		suido_errf(err, errlen, "empty input is not a ZIP archive");
		return SUIDO_ERR_INVALID;
	}
	zip_error_init(&ze);
	src = zip_source_buffer_create(zip, ziplen, 0, &ze);
	if (!src) {
		rc = zip_fail(&ze, SUIDO_ERR_INVALID, err, errlen, "zip buffer");
		goto done;
	}
	z->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	if (!z->za) {
		zip_source_free(src);
		if (zip_error_code_zip(&ze) == ZIP_ER_EXISTS) /* libzip's duplicate-name check */
			suido_errf(err, errlen, "ZIP has two members of one name");
		else
			rc = zip_fail(&ze, SUIDO_ERR_INVALID, err, errlen,
				      "not a readable ZIP archive");
		goto done;
	}
	n = zip_get_num_entries(z->za, 0);
	if (n != expected) {
		suido_errf(err, errlen, "ZIP holds %lld members, expected %d", (long long)n,
			   expected);
		goto done;
	}
	for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
		zip_stat_t st;
		const char *uname;
		int m;

		zip_stat_init(&st);
		if (zip_stat_index(z->za, i, ZIP_FL_ENC_RAW, &st) != 0 ||
		    (st.valid & (ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
				 ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD)) !=
			    (ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
			     ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD)) {
			suido_errf(err, errlen, "ZIP member %llu unreadable", (unsigned long long)i);
			goto done;
		}
		uname = zip_get_name(z->za, i, 0);
		m = member_by_name(st.name, want);
		if (m < 0 || !uname || strcmp(uname, st.name) != 0) {
			suido_errf(err, errlen, "unexpected ZIP member \"%.64s\"", st.name);
			goto done;
		}
		if (seen & 1u << m) {
			suido_errf(err, errlen, "ZIP member %s appears twice", member_name[m]);
			goto done;
		}
		seen |= 1u << m;
		if (st.encryption_method != ZIP_EM_NONE) {
			suido_errf(err, errlen, "ZIP member %s is ZIP-encrypted", member_name[m]);
			goto done;
		}
		if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
			suido_errf(err, errlen, "ZIP member %s uses compression method %d",
				   member_name[m], (int)st.comp_method);
			goto done;
		}
		if (st.size > caps[m]) {
			suido_errf(err, errlen, "ZIP member %s declares %llu bytes, more than %llu",
				   member_name[m], (unsigned long long)st.size,
				   (unsigned long long)caps[m]);
			rc = SUIDO_ERR_LIMIT;
			goto done;
		}
		if (st.comp_size > ziplen ||
		    (st.comp_method == ZIP_CM_STORE && st.comp_size != st.size)) {
			suido_errf(err, errlen, "ZIP member %s has inconsistent sizes", member_name[m]);
			goto done;
		}
		z->idx[m] = i;
		z->size[m] = st.size;
	}
	if (seen != want) { /* unreachable with n == expected and no duplicates */
		suido_errf(err, errlen, "ZIP members missing");
		goto done;
	}
	rc = SUIDO_OK;
done:
	zip_error_fini(&ze);
	return rc;
}

static void zin_close(struct zin *z)
{
	if (z->za)
		zip_discard(z->za);
	z->za = NULL;
}

/*
 * Reads member m into a malloc'ed buffer of its declared size plus a NUL.
 * Inflating stops one byte past the declared size, so a member whose header
 * understates it (a zip bomb) costs no more than its cap. Reading to the
 * end makes libzip check the CRC.
 */
static int zin_read(struct zin *z, enum member m, unsigned char **out, char *err,
		    size_t errlen)
{
	zip_uint64_t want = z->size[m], got = 0;
	zip_file_t *zf = NULL;
	unsigned char *buf = malloc((size_t)want + 1), extra;
	zip_int64_t n;
	int rc = SUIDO_ERR_INVALID;

	*out = NULL;
	if (!buf)
		return SUIDO_ERR_NOMEM;
	zf = zip_fopen_index(z->za, z->idx[m], 0);
	if (!zf) {
		rc = zip_fail(zip_get_error(z->za), SUIDO_ERR_INVALID, err, errlen,
			      member_name[m]);
		goto done;
	}
	while (got < want) {
		n = zip_fread(zf, buf + got, want - got);
		if (n < 0) {
			rc = zip_fail(zip_file_get_error(zf), SUIDO_ERR_INVALID, err, errlen,
				      member_name[m]);
			goto done;
		}
		if (n == 0) {
			suido_errf(err, errlen, "ZIP member %s is shorter than declared",
				   member_name[m]);
			goto done;
		}
		got += (zip_uint64_t)n;
	}
	n = zip_fread(zf, &extra, 1);
	if (n != 0) {
		if (n < 0)
			rc = zip_fail(zip_file_get_error(zf), SUIDO_ERR_INVALID, err, errlen,
				      member_name[m]);
		else
			suido_errf(err, errlen, "ZIP member %s inflates past its declared size",
				   member_name[m]);
		goto done;
	}
	buf[want] = '\0';
	*out = buf;
	buf = NULL;
	rc = SUIDO_OK;
done:
	if (zf)
		(void)zip_fclose(zf); /* errors were seen by zip_fread */
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)want + 1);
		free(buf);
	}
	return rc;
}

/* ---- seal and open ---- */

static int seal_common(unsigned layout, const void *data, size_t len, const char *name,
		       EVP_PKEY *sender_key, EVP_PKEY *recipient_pub, int aes_bits, void **zip,
		       size_t *ziplen, char *err, size_t errlen)
{
	const struct cipher_alg *cipher = NULL;
	unsigned char skey[32], iv[AES_BLOCK] = {0};
	unsigned char *sig = NULL, *enc = NULL, *ekey = NULL;
	size_t siglen = 0, enclen = 0, ekeylen = 0, mlen = 0, nm = 0;
	char *manifest = NULL;
	struct zmember m[4];
	int rc;

	assert(zip && ziplen && name && (data || len == 0));
	*zip = NULL;
	*ziplen = 0;
	if ((rc = name_valid(name, strlen(name), err, errlen)) != SUIDO_OK)
		goto done;
	if (len > SIZE_MAX - 2 * AES_BLOCK || len > (size_t)LLONG_MAX) {
		suido_errf(err, errlen, "file too large");
		rc = SUIDO_ERR_LIMIT;
		goto done;
	}
	if ((layout & LAYOUT_SIGN) &&
	    (rc = check_rsa(sender_key, "sender", err, errlen)) != SUIDO_OK)
		goto done;
	if (layout & LAYOUT_ENCRYPT) {
		if ((rc = check_rsa(recipient_pub, "recipient", err, errlen)) != SUIDO_OK)
			goto done;
		if (!(cipher = cipher_by_bits(aes_bits))) {
			suido_errf(err, errlen, "AES key length %d: use 128, 192 or 256", aes_bits);
			rc = SUIDO_ERR_INVALID;
			goto done;
		}
	}
	/* Sign, then encrypt: the signature is over the plaintext. */
	if ((layout & LAYOUT_SIGN) &&
	    (rc = rsa_sign(sender_key, data, len, &sig, &siglen, err, errlen)) != SUIDO_OK)
		goto done;
	if (layout & LAYOUT_ENCRYPT) {
		size_t klen = (size_t)cipher->bits / 8;

		if (RAND_priv_bytes(skey, (int)klen) != 1 || RAND_bytes(iv, sizeof iv) != 1)
			fatal("fileseal", "the random generator failed");
		enc = malloc(len + AES_BLOCK);
		if (!enc) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		if (!cbc_run(1, cipher->cipher(), skey, iv, data, len, enc, &enclen)) {
			suido_errf(err, errlen, "AES encryption failed");
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		rc = oaep_encrypt(recipient_pub, &oaep_algs[0], skey, klen, &ekey, &ekeylen, err,
				  errlen);
		if (rc != SUIDO_OK)
			goto done;
	}
	rc = manifest_build(layout, name, len, cipher, iv, enclen, &manifest, &mlen);
	if (rc != SUIDO_OK)
		goto done;
	m[nm++] = (struct zmember){MEM_MANIFEST, manifest, mlen, ZIP_CM_STORE};
	if (layout & LAYOUT_ENCRYPT) {
		/* Ciphertext does not compress: store it. */
		m[nm++] = (struct zmember){MEM_PAYLOAD_ENC, enc, enclen, ZIP_CM_STORE};
		m[nm++] = (struct zmember){MEM_KEY_ENC, ekey, ekeylen, ZIP_CM_STORE};
	} else {
		m[nm++] = (struct zmember){MEM_PAYLOAD, data, len, ZIP_CM_DEFLATE};
	}
	if (layout & LAYOUT_SIGN)
		m[nm++] = (struct zmember){MEM_SIG, sig, siglen, ZIP_CM_STORE};
	rc = zip_build(m, nm, zip, ziplen, err, errlen);
done:
	OPENSSL_cleanse(skey, sizeof skey);
	free(sig);
	free(enc);
	free(ekey);
	free(manifest);
	return rc;
}

static int open_common(unsigned layout, const void *zip, size_t ziplen, EVP_PKEY *recipient_key,
		       EVP_PKEY *sender_pub, size_t max_plain, void **data, size_t *len,
		       char **name, char *err, size_t errlen)
{
	unsigned want = layout_members(layout);
	zip_uint64_t caps[MEM_COUNT];
	struct zin z = {0};
	struct manifest mf = {0};
	unsigned char *mem[MEM_COUNT] = {0};
	unsigned char skey[RSA_MAX_BYTES];
	unsigned char *plain = NULL;
	size_t skeylen = 0, plainlen = 0, plaincap = 0;
	int rc;

	assert(data && len && name);
	*data = NULL;
	*len = 0;
	*name = NULL;
	if (max_plain == 0)
		max_plain = FILESEAL_DEFAULT_MAX_PLAIN;
	if (max_plain > SIZE_MAX / 2)
		max_plain = SIZE_MAX / 2;
	if ((layout & LAYOUT_ENCRYPT) &&
	    (rc = check_rsa(recipient_key, "recipient", err, errlen)) != SUIDO_OK)
		goto done;
	if ((layout & LAYOUT_SIGN) &&
	    (rc = check_rsa(sender_pub, "sender", err, errlen)) != SUIDO_OK)
		goto done;
	caps[MEM_MANIFEST] = MANIFEST_MAX;
	caps[MEM_PAYLOAD] = max_plain;
	caps[MEM_PAYLOAD_ENC] = (max_plain / AES_BLOCK + 1) * AES_BLOCK;
	caps[MEM_KEY_ENC] = RSA_MAX_BYTES;
	caps[MEM_SIG] = RSA_MAX_BYTES;
	if ((rc = zin_open(&z, zip, ziplen, want, caps, err, errlen)) != SUIDO_OK)
		goto done;
	if ((rc = zin_read(&z, MEM_MANIFEST, &mem[MEM_MANIFEST], err, errlen)) != SUIDO_OK)
		goto done;
	rc = manifest_parse(mem[MEM_MANIFEST], (size_t)z.size[MEM_MANIFEST], layout, &mf, err,
			    errlen);
	if (rc != SUIDO_OK)
		goto done;
	if (mf.size > max_plain) {
		suido_errf(err, errlen, "manifest declares %zu bytes, more than %zu", mf.size,
			   max_plain);
		rc = SUIDO_ERR_LIMIT;
		goto done;
	}
	if (((layout & LAYOUT_ENCRYPT) && mf.enc_size != z.size[MEM_PAYLOAD_ENC]) ||
	    (!(layout & LAYOUT_ENCRYPT) && mf.size != z.size[MEM_PAYLOAD])) {
		suido_errf(err, errlen, "manifest sizes do not match the ZIP members");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	for (int i = 1; i < MEM_COUNT; i++) {
		if ((want & 1u << i) &&
		    (rc = zin_read(&z, (enum member)i, &mem[i], err, errlen)) != SUIDO_OK)
			goto done;
	}
	if (layout & LAYOUT_ENCRYPT) {
		rc = oaep_decrypt(recipient_key, mf.oaep, mem[MEM_KEY_ENC],
				  (size_t)z.size[MEM_KEY_ENC], skey, &skeylen, err, errlen);
		if (rc != SUIDO_OK)
			goto done;
		if (skeylen != (size_t)mf.cipher->bits / 8) {
			suido_errf(err, errlen, "session key has %zu bytes, %s needs %d", skeylen,
				   mf.cipher->name, mf.cipher->bits / 8);
			rc = SUIDO_ERR_DECRYPT;
			goto done;
		}
		plaincap = mf.enc_size + 1;
		plain = malloc(plaincap);
		if (!plain) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		if (!cbc_run(0, mf.cipher->cipher(), skey, mf.iv, mem[MEM_PAYLOAD_ENC],
			     mf.enc_size, plain, &plainlen) ||
		    plainlen != mf.size) {
			suido_errf(err, errlen, "payload.enc does not decrypt");
			rc = SUIDO_ERR_DECRYPT;
			goto done;
		}
		plain[plainlen] = '\0';
	} else {
		plain = mem[MEM_PAYLOAD];
		mem[MEM_PAYLOAD] = NULL;
		plainlen = mf.size;
		plaincap = plainlen + 1;
	}
	if ((layout & LAYOUT_SIGN) &&
	    (rc = rsa_verify(sender_pub, plain, plainlen, mem[MEM_SIG], (size_t)z.size[MEM_SIG],
			     err, errlen)) != SUIDO_OK)
		goto done;
	*data = plain;
	*len = plainlen;
	*name = mf.name;
	plain = NULL;
	mf.name = NULL;
	rc = SUIDO_OK;
done:
	OPENSSL_cleanse(skey, sizeof skey);
	if (plain) {
		OPENSSL_cleanse(plain, plaincap);
		free(plain);
	}
	for (int i = 0; i < MEM_COUNT; i++) {
		if (mem[i] && i == MEM_PAYLOAD)
			OPENSSL_cleanse(mem[i], (size_t)z.size[i]);
		free(mem[i]);
	}
	free(mf.name);
	zin_close(&z);
	return rc;
}

int fileseal_seal(const void *data, size_t len, const char *name, EVP_PKEY *sender_key,
		  EVP_PKEY *recipient_pub, int aes_bits, void **zip, size_t *ziplen,
		  char *err, size_t errlen)
{
	return seal_common(LAYOUT_SIGN | LAYOUT_ENCRYPT, data, len, name, sender_key,
			   recipient_pub, aes_bits, zip, ziplen, err, errlen);
}

int fileseal_open(const void *zip, size_t ziplen, EVP_PKEY *recipient_key,
		  EVP_PKEY *sender_pub, size_t max_plain, void **data, size_t *len, char **name,
		  char *err, size_t errlen)
{
	return open_common(LAYOUT_SIGN | LAYOUT_ENCRYPT, zip, ziplen, recipient_key, sender_pub,
			   max_plain, data, len, name, err, errlen);
}

int fileseal_sign(const void *data, size_t len, const char *name, EVP_PKEY *sender_key,
		  void **zip, size_t *ziplen, char *err, size_t errlen)
{
	return seal_common(LAYOUT_SIGN, data, len, name, sender_key, NULL, 0, zip, ziplen, err,
			   errlen);
}

int fileseal_verify(const void *zip, size_t ziplen, EVP_PKEY *sender_pub, size_t max_plain,
		    void **data, size_t *len, char **name, char *err, size_t errlen)
{
	return open_common(LAYOUT_SIGN, zip, ziplen, NULL, sender_pub, max_plain, data, len,
			   name, err, errlen);
}

int fileseal_encrypt(const void *data, size_t len, const char *name, EVP_PKEY *recipient_pub,
		     int aes_bits, void **zip, size_t *ziplen, char *err, size_t errlen)
{
	return seal_common(LAYOUT_ENCRYPT, data, len, name, NULL, recipient_pub, aes_bits, zip,
			   ziplen, err, errlen);
}

int fileseal_decrypt(const void *zip, size_t ziplen, EVP_PKEY *recipient_key,
		     size_t max_plain, void **data, size_t *len, char **name, char *err,
		     size_t errlen)
{
	return open_common(LAYOUT_ENCRYPT, zip, ziplen, recipient_key, NULL, max_plain, data, len,
			   name, err, errlen);
}
