/*
 * libFuzzer target for JWS/JWE sealing (jose.h), with two RSA keys generated
 * once at start. Sealed messages are opened as the platform's ingest opens
 * them — jose_open_jws, the signer looked up by the kid "fz" — or, for
 * tokens of odd length, by jose_open with the signer given; a JWS handed
 * back must verify on its own to the same payload and kid. The first byte
 * picks what the rest is:
 *   0x01  a payload: jose_seal then the open must give it back unchanged;
 *   0x02  the content of a JWE: encrypted for our key with "cty":"JWT", so
 *         that the open decrypts it and the JWS parser and verifier get
 *         arbitrary bytes behind a real decryption — which must not verify;
 *   0x03  an edit list (offset, xor pairs) applied to a freshly sealed
 *         message: any change must be refused;
 *   else  a token as received: jose_verify, jose_decrypt and the open must
 *         refuse it (it was not made with these keys) without crashing.
 * Every refusal must carry one of the codes jose.h documents, and leave
 * every output NULL. Anything else traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "suido/error.h"
#include "suido/jose.h"

#define MAX ((size_t)1 << 20)

static struct jose_key *signer, *signer_pub, *recipient, *recipient_pub;

static struct jose_key *convert(EVP_PKEY *pk, int public_only)
{
	struct jose_key *k = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int n;

	if (public_only) {
		if ((n = i2d_PUBKEY(pk, &der)) <= 0)
			abort();
		p = der;
		if (!(pub = d2i_PUBKEY(NULL, &p, n)))
			abort();
		OPENSSL_free(der);
		pk = pub;
	}
	if (jose_key_from_pkey(pk, &k, NULL, 0) != SUIDO_OK)
		abort();
	EVP_PKEY_free(pub);
	return k;
}

static void init(void)
{
	EVP_PKEY *s = EVP_RSA_gen(2048), *r = EVP_RSA_gen(2048);

	if (!s || !r)
		abort();
	signer = convert(s, 0);
	signer_pub = convert(s, 1);
	recipient = convert(r, 0);
	recipient_pub = convert(r, 1);
	EVP_PKEY_free(s);
	EVP_PKEY_free(r);
}

/* rc must be a refusal: malformed, too large, out of memory, a or b. */
static void refused(int rc, int a, int b)
{
	if (rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_LIMIT && rc != SUIDO_ERR_NOMEM && rc != a &&
	    rc != b)
		__builtin_trap();
}

/* The platform's lookup (src/platform/ingest.c): the signer only under its
 * kid "fz"; a token without kid or with another is SUIDO_ERR_NOTFOUND. */
static int find_signer(void *ctx, const char *kid, const struct jose_key **key)
{
	(void)ctx;
	if (!kid || strcmp(kid, "fz") != 0)
		return SUIDO_ERR_NOTFOUND;
	*key = signer_pub;
	return SUIDO_OK;
}

/*
 * Opens tok the way the platform's ingest does (jose_open_jws with a kid
 * lookup) and the way jose_open does with a fixed signer, alternately by the
 * token's length. On SUIDO_OK the JWS handed back must be a NUL-terminated
 * string of *jws_len bytes that verifies on its own to the same payload and
 * kid; on any failure every output must be NULL or 0.
 */
static int open_token(const char *tok, size_t len, char **pl, size_t *plen, char **kid)
{
	static const struct jose_signer_lookup lookup = {find_signer, NULL};
	char *jws = NULL, *vpl = NULL, *vkid = NULL;
	size_t jws_len = 1, vplen = 0;
	int rc;

	if (len % 2)
		return jose_open(tok, len, recipient, signer_pub, NULL, MAX, pl, plen, kid, NULL,
				 0);
	rc = jose_open_jws(tok, len, recipient, NULL, &lookup, MAX, pl, plen, kid, &jws, &jws_len,
			   NULL, 0);
	if (rc != SUIDO_OK) {
		if (jws || jws_len)
			__builtin_trap();
		return rc;
	}
	if (!jws || strlen(jws) != jws_len ||
	    jose_verify(jws, jws_len, signer_pub, MAX, &vpl, &vplen, &vkid, NULL, 0) != SUIDO_OK ||
	    vplen != *plen || (vplen && memcmp(vpl, *pl, vplen) != 0) || !vkid || !*kid ||
	    strcmp(vkid, *kid) != 0)
		__builtin_trap();
	free(jws);
	free(vpl);
	free(vkid);
	return rc;
}

static void raw(const uint8_t *data, size_t size)
{
	const char *tok = (const char *)data;
	char *out = NULL, *kid = NULL;
	size_t n = 0;

	refused(jose_verify(tok, size, signer_pub, MAX, &out, &n, &kid, NULL, 0),
		SUIDO_ERR_SIGNATURE, SUIDO_ERR_SIGNATURE);
	if (out || kid)
		__builtin_trap();
	refused(jose_decrypt(tok, size, recipient, MAX, &out, &n, NULL, 0), SUIDO_ERR_DECRYPT,
		SUIDO_ERR_DECRYPT);
	if (out)
		__builtin_trap();
	refused(open_token(tok, size, &out, &n, &kid), SUIDO_ERR_DECRYPT, SUIDO_ERR_SIGNATURE);
	if (out || kid || n)
		__builtin_trap();
}

static void round_trip(const uint8_t *data, size_t size)
{
	char *jwe = NULL, *out = NULL, *kid = NULL;
	size_t n = 0;

	if (jose_seal(data, size, signer, "fz", recipient_pub, MAX, &jwe, NULL, 0) != SUIDO_OK)
		__builtin_trap();
	if (open_token(jwe, strlen(jwe), &out, &n, &kid) != SUIDO_OK || n != size ||
	    (size && memcmp(out, data, size) != 0) || !kid || strcmp(kid, "fz") != 0)
		__builtin_trap();
	free(jwe);
	free(out);
	free(kid);
}

static void inner(const uint8_t *data, size_t size)
{
	char *jwe = NULL, *out = NULL, *kid = NULL;
	size_t n = 0;

	if (jose_encrypt(data, size, recipient_pub, "JWT", MAX, &jwe, NULL, 0) != SUIDO_OK)
		__builtin_trap();
	refused(open_token(jwe, strlen(jwe), &out, &n, &kid), SUIDO_ERR_SIGNATURE,
		SUIDO_ERR_NOTFOUND);
	if (out || kid)
		__builtin_trap();
	free(jwe);
}

static void edited(const uint8_t *data, size_t size)
{
	static const char payload[] = "{\"profile\":\"suido.data/1\",\"points\":[]}";
	char *jwe = NULL, *orig, *out = NULL, *kid = NULL;
	size_t len, n = 0;

	if (jose_seal(payload, sizeof payload - 1, signer, "fz", recipient_pub, MAX, &jwe, NULL,
		      0) != SUIDO_OK)
		__builtin_trap();
	len = strlen(jwe);
	if (!(orig = strdup(jwe)))
		abort();
	for (size_t i = 0; i + 2 < size; i += 3)
		jwe[((size_t)data[i] << 8 | data[i + 1]) % len] ^= (char)data[i + 2];
	if (memcmp(jwe, orig, len) == 0) {
		free(jwe);
		free(orig);
		return;
	}
	refused(open_token(jwe, len, &out, &n, &kid), SUIDO_ERR_DECRYPT, SUIDO_ERR_SIGNATURE);
	if (out || kid)
		__builtin_trap();
	free(jwe);
	free(orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int done;

	if (!done) {
		init();
		done = 1;
	}
	if (size > 0 && data[0] == 0x01)
		round_trip(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x02)
		inner(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x03)
		edited(data + 1, size - 1);
	else
		raw(data, size);
	return 0;
}
