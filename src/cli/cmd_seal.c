/*
 * The sealing commands (cmd_seal.h). One option parser for all six; each
 * operation then dispatches on --format to the library module of that
 * format (jose.h, xmlseal.h, fileseal.h). Keys are PEM files; the other
 * party is named by its certificate, which is checked against --ca (and
 * --crl) when given.
 */
#include "cmd_seal.h"

#include <getopt.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "suido/error.h"
#include "suido/fileseal.h"
#include "suido/jose.h"
#include "suido/xmlseal.h"

enum op { OP_SEAL, OP_OPEN, OP_SIGN, OP_VERIFY, OP_ENCRYPT, OP_DECRYPT };
enum fmt { FMT_JSON, FMT_XML, FMT_FILE };

struct opts {
	enum op op;
	const char *cmd;
	enum fmt fmt;
	const char *key, *cert, *to, *from, *ca, *crl, *in, *out, *kid, *name, *cty;
	const char *select, *encrypt_select;
	int aes;
};

static const char *const op_names[] = {"seal", "open", "sign", "verify", "encrypt", "decrypt"};

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: suido %s --format json|xml|file [options] [< in] [> out]\n"
		"  seal     sign with --key, then encrypt to --to      (--kid, --cert, --select, --aes, --name)\n"
		"  open     decrypt with --key, then verify with --from (--ca, --crl, --select)\n"
		"  sign     sign with --key                              (--kid, --cert, --select, --name)\n"
		"  verify   verify with --from                           (--ca, --crl, --select)\n"
		"  encrypt  encrypt to --to                              (--select, --aes, --name)\n"
		"  decrypt  decrypt with --key\n"
		"options:\n"
		"  --format F          json (JWS RS256 in JWE RSA-OAEP/A128CBC-HS256), xml (XML-DSig +\n"
		"                      XML-Enc), file (ZIP: payload.enc, key.enc, payload.sig, manifest.json)\n"
		"  --key FILE          own private key (PEM)\n"
		"  --to FILE           recipient's certificate (PEM)\n"
		"  --from FILE         sender's certificate (PEM)\n"
		"  --ca FILE           root CA certificate: --to / --from must chain to it\n"
		"  --crl FILE          certificate revocation list of that CA\n"
		"  --cert FILE         own certificate, embedded in an XML signature\n"
		"  --kid ID            key id written in a JWS header (open and verify print the\n"
		"                      one they find on standard error)\n"
		"  --cty TYPE          JSON encrypt: the JWE \"cty\" header\n"
		"  --select XPATH      XML: the elements to sign (seal, sign) or required to be signed\n"
		"                      (open, verify); default /*\n"
		"  --encrypt-select X  XML: the elements to encrypt (default: --select, or /*/*)\n"
		"  --aes 128|192|256   XML and file: AES key length (default 128)\n"
		"  --name NAME         file: the name recorded for the file (default payload)\n"
		"  --in FILE, --out FILE  instead of standard input and output\n"
		"exit status: 0 ok, 64 usage, 65 bad input, 66 signature invalid, 67 decryption failed,\n"
		"             69 certificate invalid or revoked, 70 internal error, 74 I/O error\n",
		cmd);
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{"format", required_argument, NULL, 'f'}, {"key", required_argument, NULL, 'k'},
		{"cert", required_argument, NULL, 'c'},   {"to", required_argument, NULL, 't'},
		{"from", required_argument, NULL, 'F'},   {"ca", required_argument, NULL, 'a'},
		{"crl", required_argument, NULL, 'r'},    {"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},    {"kid", required_argument, NULL, 'd'},
		{"name", required_argument, NULL, 'n'},   {"select", required_argument, NULL, 's'},
		{"cty", required_argument, NULL, 'C'},
		{"encrypt-select", required_argument, NULL, 'e'},
		{"aes", required_argument, NULL, 'A'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *format = NULL;
	int c;

	o->aes = 128;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'k': o->key = optarg; break;
		case 'c': o->cert = optarg; break;
		case 't': o->to = optarg; break;
		case 'F': o->from = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'r': o->crl = optarg; break;
		case 'i': o->in = optarg; break;
		case 'o': o->out = optarg; break;
		case 'd': o->kid = optarg; break;
		case 'n': o->name = optarg; break;
		case 'C': o->cty = optarg; break;
		case 's': o->select = optarg; break;
		case 'e': o->encrypt_select = optarg; break;
		case 'A':
			o->aes = atoi(optarg);
			if (o->aes != 128 && o->aes != 192 && o->aes != 256)
				return cli_fail(o->cmd, CLI_USAGE, "--aes: 128, 192 or 256");
			break;
		case 'h': usage(stdout, o->cmd); return -1;
		default: usage(stderr, o->cmd); return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_fail(o->cmd, CLI_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if (!format)
		return cli_fail(o->cmd, CLI_USAGE, "--format json|xml|file is required");
	if (strcmp(format, "json") == 0)
		o->fmt = FMT_JSON;
	else if (strcmp(format, "xml") == 0)
		o->fmt = FMT_XML;
	else if (strcmp(format, "file") == 0)
		o->fmt = FMT_FILE;
	else
		return cli_fail(o->cmd, CLI_USAGE, "--format: json, xml or file, not \"%s\"", format);
	{
		int need_key = o->op == OP_SEAL || o->op == OP_OPEN || o->op == OP_SIGN ||
			       o->op == OP_DECRYPT;
		int need_to = o->op == OP_SEAL || o->op == OP_ENCRYPT;
		int need_from = o->op == OP_OPEN || o->op == OP_VERIFY;
		if (need_key && !o->key)
			return cli_fail(o->cmd, CLI_USAGE, "--key is required");
		if (need_to && !o->to)
			return cli_fail(o->cmd, CLI_USAGE, "--to is required");
		if (need_from && !o->from)
			return cli_fail(o->cmd, CLI_USAGE, "--from is required");
	}
	if (o->crl && !o->ca)
		return cli_fail(o->cmd, CLI_USAGE, "--crl needs --ca");
	return CLI_OK;
}

/* Runs the JSON operation; outputs are malloc'ed into *out. */
static int run_json(const struct opts *o, const char *in, size_t len, EVP_PKEY *key,
		    EVP_PKEY *peer, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct jose_key *k = NULL, *p = NULL;
	char *kid = NULL;
	int rc = SUIDO_OK;

	if (key)
		rc = jose_key_from_pkey(key, &k, err, errlen);
	if (rc == SUIDO_OK && peer)
		rc = jose_key_from_pkey(peer, &p, err, errlen);
	if (rc != SUIDO_OK)
		goto done;
	switch (o->op) {
	case OP_SEAL: rc = jose_seal(in, len, k, o->kid, p, 0, out, err, errlen); break;
	case OP_SIGN: rc = jose_sign(in, len, k, o->kid, 0, out, err, errlen); break;
	case OP_ENCRYPT: rc = jose_encrypt(in, len, p, o->cty, 0, out, err, errlen); break;
	case OP_OPEN:
		rc = jose_open(in, len, k, p, NULL, 0, out, outlen, &kid, err, errlen);
		break;
	case OP_VERIFY: rc = jose_verify(in, len, p, 0, out, outlen, &kid, err, errlen); break;
	case OP_DECRYPT: rc = jose_decrypt(in, len, k, 0, out, outlen, err, errlen); break;
	}
	if (rc == SUIDO_OK && (o->op == OP_SEAL || o->op == OP_SIGN || o->op == OP_ENCRYPT))
		*outlen = strlen(*out);
	if (rc == SUIDO_OK && kid)
		fprintf(stderr, "suido %s: kid: %s\n", o->cmd, kid);
done:
	free(kid);
	jose_key_free(k);
	jose_key_free(p);
	return rc;
}

static int run_xml(const struct opts *o, const char *in, size_t len, EVP_PKEY *key,
		   EVP_PKEY *peer, X509 *own_cert, char **out, size_t *outlen, char *err,
		   size_t errlen)
{
	const char *sel = o->select ? o->select : "/*";
	const char *esel = o->encrypt_select ? o->encrypt_select : o->select ? o->select : "/*/*";

	switch (o->op) {
	case OP_SEAL:
		return xmlseal_seal(in, len, key, own_cert, sel, peer, o->aes, esel, NULL, out,
				    outlen, err, errlen);
	case OP_SIGN:
		return xmlseal_sign(in, len, key, own_cert, sel, NULL, out, outlen, err, errlen);
	case OP_ENCRYPT:
		return xmlseal_encrypt(in, len, peer, o->aes, esel, NULL, out, outlen, err, errlen);
	case OP_OPEN:
		return xmlseal_open(in, len, key, peer, sel, NULL, out, outlen, err, errlen);
	case OP_VERIFY: {
		int rc = xmlseal_verify(in, len, peer, sel, NULL, err, errlen);
		if (rc == SUIDO_OK) {
			/* a verified document is passed through unchanged */
			*out = malloc(len + 1);
			if (!*out)
				return SUIDO_ERR_NOMEM;
			memcpy(*out, in, len);
			*outlen = len;
		}
		return rc;
	}
	case OP_DECRYPT:
		return xmlseal_decrypt(in, len, key, NULL, out, outlen, err, errlen);
	}
	return SUIDO_ERR_INVALID;
}

static int run_file(const struct opts *o, const char *in, size_t len, EVP_PKEY *key,
		    EVP_PKEY *peer, char **out, size_t *outlen, char *err, size_t errlen)
{
	const char *name = o->name ? o->name : "payload";
	void *res = NULL;
	char *fname = NULL;
	int rc = SUIDO_ERR_INVALID;

	switch (o->op) {
	case OP_SEAL:
		rc = fileseal_seal(in, len, name, key, peer, o->aes, &res, outlen, err, errlen);
		break;
	case OP_SIGN: rc = fileseal_sign(in, len, name, key, &res, outlen, err, errlen); break;
	case OP_ENCRYPT:
		rc = fileseal_encrypt(in, len, name, peer, o->aes, &res, outlen, err, errlen);
		break;
	case OP_OPEN:
		rc = fileseal_open(in, len, key, peer, CLI_MAX_INPUT, &res, outlen, &fname, err,
				   errlen);
		break;
	case OP_VERIFY:
		rc = fileseal_verify(in, len, peer, CLI_MAX_INPUT, &res, outlen, &fname, err, errlen);
		break;
	case OP_DECRYPT:
		rc = fileseal_decrypt(in, len, key, CLI_MAX_INPUT, &res, outlen, &fname, err, errlen);
		break;
	}
	if (rc == SUIDO_OK && fname)
		fprintf(stderr, "suido %s: file name: %s\n", o->cmd, fname);
	free(fname);
	*out = res;
	return rc;
}

int cmd_seal(int argc, char **argv)
{
	struct opts o = {0};
	EVP_PKEY *key = NULL, *peer = NULL;
	X509 *peer_cert = NULL, *own_cert = NULL;
	char *in = NULL, *out = NULL, err[1024] = "";
	size_t len = 0, outlen = 0;
	int rc, status;

	o.cmd = argv[0];
	for (int i = 0; i < 6; i++)
		if (strcmp(argv[0], op_names[i]) == 0)
			o.op = (enum op)i;
	status = parse(argc, argv, &o);
	if (status != CLI_OK)
		return status < 0 ? CLI_OK : status;
	if (o.key && (status = cli_load_key(o.cmd, o.key, &key)) != CLI_OK)
		goto done;
	if ((o.to || o.from) &&
	    (status = cli_load_cert(o.cmd, o.to ? o.to : o.from, o.ca, o.crl, &peer_cert)) != CLI_OK)
		goto done;
	if (peer_cert)
		peer = X509_get0_pubkey(peer_cert);
	if (o.cert && (status = cli_load_cert(o.cmd, o.cert, NULL, NULL, &own_cert)) != CLI_OK)
		goto done;
	rc = cli_read(o.in, CLI_MAX_INPUT, &in, &len);
	if (rc != SUIDO_OK) {
		status = cli_fail(o.cmd, cli_status(rc), "reading the input: %s", suido_strerror(rc));
		goto done;
	}
	switch (o.fmt) {
	case FMT_JSON: rc = run_json(&o, in, len, key, peer, &out, &outlen, err, sizeof err); break;
	case FMT_XML:
		rc = run_xml(&o, in, len, key, peer, own_cert, &out, &outlen, err, sizeof err);
		break;
	case FMT_FILE: rc = run_file(&o, in, len, key, peer, &out, &outlen, err, sizeof err); break;
	}
	if (rc != SUIDO_OK) {
		status = cli_fail(o.cmd, cli_status(rc), "%s", *err ? err : suido_strerror(rc));
		goto done;
	}
	rc = cli_write(o.out, out, outlen);
	status = rc == SUIDO_OK ? CLI_OK
				: cli_fail(o.cmd, CLI_IO, "writing the output: %s", suido_strerror(rc));
done:
	if (out && (o.op == OP_OPEN || o.op == OP_DECRYPT || o.op == OP_VERIFY))
		OPENSSL_cleanse(out, outlen);
	free(out);
	free(in);
	EVP_PKEY_free(key);
	X509_free(peer_cert);
	X509_free(own_cert);
	return status;
}
