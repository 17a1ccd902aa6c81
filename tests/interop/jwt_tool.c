/*
 * Our side of tests/integration/test_jwt_interop.sh: lib/jwt.c driven from
 * the command line, so that npm jose can check what we make and we can
 * check what it makes.
 *
 *   jwt_tool sign KEY.pem KID ISS AUD     prints an access token (typ at+jwt)
 *   jwt_tool jwks KEY.pem KID             prints the JWK set of the key
 *   jwt_tool verify JWKS.json ISS AUD [TYP] < token
 *                                         exit 0 and "valid", or exit 1 and
 *                                         the reason (jwt_reason_text)
 * Exit 2 on a usage or setup error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "suido/error.h"
#include "suido/jwt.h"

#define FILE_MAX (1 << 20)

/* Reads all of f (at most FILE_MAX bytes) into a NUL-terminated buffer. */
static char *slurp(FILE *f, size_t *len)
{
	char *buf = malloc(FILE_MAX + 1);
	size_t n;

	if (!buf)
		return NULL;
	n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f) || n > FILE_MAX) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static char *slurp_path(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	buf = slurp(f, len);
	fclose(f);
	return buf;
}

static struct jwt_key *load_key(const char *path, const char *kid)
{
	struct jwt_key *k = NULL;
	char err[256] = "";
	size_t len = 0;
	char *pem = slurp_path(path, &len);

	if (!pem || jwt_key_from_pem(kid, pem, len, &k, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "jwt_tool: %s: %s\n", path, pem ? err : "cannot read");
		k = NULL;
	}
	free(pem);
	return k;
}

static int sign(const char *path, const char *kid, const char *iss, const char *aud)
{
	struct jwt_key *k = load_key(path, kid);
	json_int_t now = (json_int_t)time(NULL);
	json_t *c = NULL;
	char *tok = NULL;
	int rc = 2;

	if (!k)
		return 2;
	c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "iss", iss, "aud", aud, "sub", "user-1",
		      "client_id", "suido-ap", "iat", now, "exp", now + 300, "jti", "jti-1");
	if (c && jwt_sign(k, "at+jwt", c, &tok) == SUIDO_OK) {
		printf("%s\n", tok);
		rc = 0;
	} else {
		fprintf(stderr, "jwt_tool: cannot sign\n");
	}
	free(tok);
	json_decref(c);
	jwt_key_free(k);
	return rc;
}

static int jwks(const char *path, const char *kid)
{
	struct jwt_key *k = load_key(path, kid);
	struct jwt_keyset *ks = NULL;
	char *doc = NULL;
	int rc = 2;

	if (k && jwt_keyset_create(&ks) == SUIDO_OK && jwt_keyset_add(ks, k) == SUIDO_OK &&
	    jwt_keyset_to_jwks(ks, &doc) == SUIDO_OK) {
		printf("%s\n", doc);
		rc = 0;
	} else {
		fprintf(stderr, "jwt_tool: cannot make the JWK set\n");
	}
	free(doc);
	jwt_keyset_free(ks);
	jwt_key_free(k);
	return rc;
}

static int verify(const char *path, const char *iss, const char *aud, const char *typ)
{
	struct jwt_expect e = {iss, aud, typ, (int64_t)time(NULL), 30};
	struct jwt_keyset *ks = NULL;
	enum jwt_reason why = JWT_MALFORMED;
	size_t len = 0, tlen = 0;
	char err[256] = "", *doc = slurp_path(path, &len), *tok = slurp(stdin, &tlen);
	json_t *claims = NULL;
	int rc = 2;

	if (!doc || !tok) {
		fprintf(stderr, "jwt_tool: cannot read the JWK set or the token\n");
		goto out;
	}
	if (jwt_keyset_from_jwks(doc, len, &ks, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "jwt_tool: %s: %s\n", path, err);
		goto out;
	}
	while (tlen && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r'))
		tlen--;
	if (jwt_verify(ks, tok, tlen, &e, &claims, &why) == SUIDO_OK) {
		printf("valid %s\n", json_string_value(json_object_get(claims, "sub")) ?: "");
		rc = 0;
	} else {
		printf("%s\n", jwt_reason_text(why));
		rc = 1;
	}
out:
	json_decref(claims);
	jwt_keyset_free(ks);
	free(doc);
	free(tok);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && strcmp(argv[1], "jwks") == 0)
		return jwks(argv[2], argv[3]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "verify") == 0)
		return verify(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	fprintf(stderr, "usage: jwt_tool sign KEY.pem KID ISS AUD | jwks KEY.pem KID |\n"
			"       verify JWKS.json ISS AUD [TYP] < token\n");
	return 2;
}
