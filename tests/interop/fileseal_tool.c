/*
 * Command-line driver for the sealed-file functions (fileseal.h), compiled
 * by tests/integration/test_fileseal_openssl.sh against libsuido.a so the
 * unzip and openssl command-line tools can be held against our code in both
 * directions. Keys are PEM files: a private key, a public key or an X.509
 * certificate. On a library error it prints "error: NAME: detail" (NAME as
 * in SUIDO_ERR_NAME) and exits 1; usage and file errors exit 2.
 *
 *   fileseal_tool seal    SENDER_KEY RECIPIENT_PUB BITS IN NAME OUT
 *   fileseal_tool open    RECIPIENT_KEY SENDER_PUB IN OUT     (prints the name)
 *   fileseal_tool sign    SENDER_KEY IN NAME OUT
 *   fileseal_tool verify  SENDER_PUB IN OUT
 *   fileseal_tool encrypt RECIPIENT_PUB BITS IN NAME OUT
 *   fileseal_tool decrypt RECIPIENT_KEY IN OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "suido/error.h"
#include "suido/fileseal.h"

static const char *code_name(int rc)
{
	switch (rc) {
	case SUIDO_ERR_NOMEM: return "NOMEM";
	case SUIDO_ERR_IO: return "IO";
	case SUIDO_ERR_INVALID: return "INVALID";
	case SUIDO_ERR_LIMIT: return "LIMIT";
	case SUIDO_ERR_SIGNATURE: return "SIGNATURE";
	case SUIDO_ERR_DECRYPT: return "DECRYPT";
	default: return "OTHER";
	}
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fileseal_tool: %s %s\n", what, path);
	exit(2);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		die("cannot open", path);
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory reading", path);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f))
		die("cannot read", path);
	fclose(f);
	*len = n;
	return buf;
}

static void spill(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write", path);
}

static EVP_PKEY *load_key(const char *path)
{
	size_t len;
	unsigned char *pem = slurp(path, &len);
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;
	X509 *x;

	if (!b)
		die("cannot read key", path);
	if ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(b);
		if ((k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL) {
			(void)BIO_reset(b);
			if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
				k = X509_get_pubkey(x);
				X509_free(x);
			}
		}
	}
	BIO_free(b);
	free(pem);
	if (!k)
		die("no PEM key or certificate in", path);
	return k;
}

static int report(int rc, const char *err)
{
	if (rc == SUIDO_OK)
		return 0;
	fprintf(stderr, "error: %s: %s\n", code_name(rc), err);
	return 1;
}

int main(int argc, char **argv)
{
	char err[256] = "";
	void *out = NULL;
	size_t outlen = 0, inlen;
	unsigned char *in;
	char *name = NULL;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	int rc, st;

	if (argc == 8 && strcmp(argv[1], "seal") == 0) {
		k1 = load_key(argv[2]);
		k2 = load_key(argv[3]);
		in = slurp(argv[5], &inlen);
		rc = fileseal_seal(in, inlen, argv[6], k1, k2, atoi(argv[4]), &out, &outlen, err,
				   sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[7], out, outlen);
	} else if (argc == 6 && strcmp(argv[1], "open") == 0) {
		k1 = load_key(argv[2]);
		k2 = load_key(argv[3]);
		in = slurp(argv[4], &inlen);
		rc = fileseal_open(in, inlen, k1, k2, 0, &out, &outlen, &name, err, sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[5], out, outlen);
	} else if (argc == 6 && strcmp(argv[1], "sign") == 0) {
		k1 = load_key(argv[2]);
		in = slurp(argv[3], &inlen);
		rc = fileseal_sign(in, inlen, argv[4], k1, &out, &outlen, err, sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[5], out, outlen);
	} else if (argc == 5 && strcmp(argv[1], "verify") == 0) {
		k1 = load_key(argv[2]);
		in = slurp(argv[3], &inlen);
		rc = fileseal_verify(in, inlen, k1, 0, &out, &outlen, &name, err, sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[4], out, outlen);
	} else if (argc == 7 && strcmp(argv[1], "encrypt") == 0) {
		k1 = load_key(argv[2]);
		in = slurp(argv[4], &inlen);
		rc = fileseal_encrypt(in, inlen, argv[5], k1, atoi(argv[3]), &out, &outlen, err,
				      sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[6], out, outlen);
	} else if (argc == 5 && strcmp(argv[1], "decrypt") == 0) {
		k1 = load_key(argv[2]);
		in = slurp(argv[3], &inlen);
		rc = fileseal_decrypt(in, inlen, k1, 0, &out, &outlen, &name, err, sizeof err);
		if (rc == SUIDO_OK)
			spill(argv[4], out, outlen);
	} else {
		fprintf(stderr, "usage: see the comment at the top of fileseal_tool.c\n");
		return 2;
	}
	st = report(rc, err);
	if (st == 0 && name)
		printf("%s\n", name);
	free(in);
	free(out);
	free(name);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	return st;
}
