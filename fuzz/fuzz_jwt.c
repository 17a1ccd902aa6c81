/*
 * libFuzzer target for JSON Web Tokens (jwt.h), with one RSA key "fz"
 * generated at start and its public half in a key set. The first byte picks
 * what the rest is:
 *   0x01  a JWK set document: jwt_keyset_from_jwks; one it takes must come
 *         back from jwt_keyset_to_jwks as a document that parses again to
 *         the same set (the same text once more);
 *   0x02  an edit list (offset, xor pairs) applied to a freshly signed
 *         token: any change must be refused;
 *   0x03  claims: when they are a JSON object jwt_sign signs them, and
 *         jwt_verify (issuer taken from the claims) must either refuse with
 *         a claims reason or hand back exactly the claims signed;
 *   else  a token as received: jwt_verify must refuse it (it was not made
 *         with our key) without crashing.
 * Every refusal must be SUIDO_ERR_SIGNATURE with a documented reason (or
 * SUIDO_ERR_NOMEM), and leave the claims untouched. Anything else traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "suido/error.h"
#include "suido/jwt.h"

#define NOW 1800000000

static struct jwt_key *key;
static struct jwt_keyset *set;

static void init(void)
{
	if (jwt_key_generate("fz", 2048, &key) != SUIDO_OK || jwt_keyset_create(&set) != SUIDO_OK ||
	    jwt_keyset_add(set, key) != SUIDO_OK)
		abort();
}

/* Verifies tok; traps on anything jwt.h does not allow. Returns the reason. */
static enum jwt_reason verify(const char *tok, size_t len, const struct jwt_expect *e,
			      json_t **claims)
{
	json_t *sentinel = (json_t *)&sentinel, *got = sentinel;
	enum jwt_reason why = (enum jwt_reason)-1;
	int rc = jwt_verify(set, tok, len, e, &got, &why);

	if (rc == SUIDO_OK) {
		if (why != JWT_VALID || !json_is_object(got))
			__builtin_trap();
		*claims = got;
		return why;
	}
	if ((rc != SUIDO_ERR_SIGNATURE && rc != SUIDO_ERR_NOMEM) || why == JWT_VALID ||
	    why > JWT_BAD_CLAIMS || got != sentinel)
		__builtin_trap();
	*claims = NULL;
	return why;
}

static void jwks(const uint8_t *data, size_t size)
{
	struct jwt_keyset *ks = NULL, *again = NULL;
	char *doc = NULL, *doc2 = NULL;
	int rc = jwt_keyset_from_jwks((const char *)data, size, &ks, NULL, 0);

	if (rc != SUIDO_OK) {
		if (ks || (rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_LIMIT && rc != SUIDO_ERR_NOMEM))
			__builtin_trap();
		return;
	}
	if (jwt_keyset_count(ks) > JWKS_MAX_KEYS || jwt_keyset_to_jwks(ks, &doc) != SUIDO_OK ||
	    jwt_keyset_from_jwks(doc, strlen(doc), &again, NULL, 0) != SUIDO_OK ||
	    jwt_keyset_count(again) != jwt_keyset_count(ks) ||
	    jwt_keyset_to_jwks(again, &doc2) != SUIDO_OK || strcmp(doc, doc2) != 0)
		__builtin_trap();
	free(doc);
	free(doc2);
	jwt_keyset_free(ks);
	jwt_keyset_free(again);
}

static void edited(const uint8_t *data, size_t size)
{
	struct jwt_expect e = {"https://idp.example", "ap", "at+jwt", NOW, 0};
	json_t *c = json_pack("{s:s,s:s,s:i}", "iss", "https://idp.example", "aud", "ap", "exp",
			      NOW + 60),
	       *got;
	char *tok = NULL, *orig;
	size_t len;

	if (!c || jwt_sign(key, "at+jwt", c, &tok) != SUIDO_OK)
		__builtin_trap();
	len = strlen(tok);
	if (!(orig = strdup(tok)))
		abort();
	for (size_t i = 0; i + 2 < size; i += 3)
		tok[((size_t)data[i] << 8 | data[i + 1]) % len] ^= (char)data[i + 2];
	if (verify(tok, len, &e, &got) == JWT_VALID) {
		if (memcmp(tok, orig, len) != 0)
			__builtin_trap();
		json_decref(got);
	}
	free(tok);
	free(orig);
	json_decref(c);
}

static void claims(const uint8_t *data, size_t size)
{
	struct jwt_expect e = {"", NULL, "JWT", NOW, 30};
	json_t *c = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *got;
	char *tok = NULL;
	int rc;
	enum jwt_reason why;

	if (!json_is_object(c)) {
		json_decref(c);
		return;
	}
	if (json_is_string(json_object_get(c, "iss")))
		e.issuer = json_string_value(json_object_get(c, "iss"));
	rc = jwt_sign(key, NULL, c, &tok);
	if (rc != SUIDO_OK) {
		if (tok || (rc != SUIDO_ERR_LIMIT && rc != SUIDO_ERR_NOMEM))
			__builtin_trap();
		json_decref(c);
		return;
	}
	why = verify(tok, strlen(tok), &e, &got);
	if (why == JWT_VALID) {
		if (!json_equal(got, c))
			__builtin_trap();
		json_decref(got);
	} else if (why != JWT_BAD_ISSUER && why != JWT_EXPIRED && why != JWT_NOT_YET &&
		   why != JWT_BAD_CLAIMS && why != JWT_MALFORMED) {
		/* MALFORMED: claims jansson writes but will not read back (an
		 * integer it printed as a real out of range, say). */
		__builtin_trap();
	}
	free(tok);
	json_decref(c);
}

static void raw(const uint8_t *data, size_t size)
{
	struct jwt_expect e = {"https://idp.example", NULL, NULL, NOW, 60};
	json_t *got;

	if (verify((const char *)data, size, &e, &got) == JWT_VALID)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int done;

	if (!done) {
		init();
		done = 1;
	}
	if (size > 0 && data[0] == 0x01)
		jwks(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x02)
		edited(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x03)
		claims(data + 1, size - 1);
	else
		raw(data, size);
	return 0;
}
