/*
 * The masking commands (cmd_mask.h). Values come from the arguments, or one
 * per line of standard input; each result is printed on its own line, so a
 * column can be piped through. A key file is never overwritten.
 */
#include "cmd_mask.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "suido/error.h"
#include "suido/mask.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: suido mask-key new --out FILE\n"
		   "       suido mask --key FILE [--randomized] [VALUE...]\n"
		   "       suido unmask --key FILE [TOKEN...]\n"
		   "Without VALUE/TOKEN arguments, each line of standard input is one value.\n"
		   "mask is deterministic by default (AES-SIV: equal values give equal tokens, so\n"
		   "masked identifiers still join); --randomized uses AES-GCM with a fresh nonce.\n"
		   "exit status: 0 ok, 64 usage, 65 bad input, 67 wrong key or tampered token,\n"
		   "             70 internal error, 74 I/O error\n");
}

static int key_new(const char *out)
{
	struct mask_key *k = NULL;
	char err[256], dir[4096];
	const char *slash = strrchr(out, '/');
	int rc;

	if ((rc = mask_key_generate(&k, err, sizeof err)) != SUIDO_OK)
		return cli_fail("mask-key", CLI_INTERNAL, "%s", err);
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
	rc = mask_key_save(k, dir, slash ? slash + 1 : out, err, sizeof err);
	if (rc == SUIDO_OK)
		printf("key id %s written to %s\n", mask_key_id(k), out);
	mask_key_free(k);
	if (rc == SUIDO_ERR_EXISTS)
		return cli_fail("mask-key", CLI_IO, "%s exists: a key file is never replaced", out);
	return rc == SUIDO_OK ? CLI_OK : cli_fail("mask-key", cli_status(rc), "%s", err);
}

static int load_key(const char *cmd, const char *path, struct mask_key **k)
{
	char *text = NULL, err[256];
	size_t len;
	int rc = cli_read(path, MASK_KEY_TEXT_MAX, &text, &len);

	if (rc != SUIDO_OK)
		return cli_fail(cmd, rc == SUIDO_ERR_LIMIT ? CLI_BAD_INPUT : CLI_IO,
				"%s: cannot read the key file", path);
	rc = mask_key_parse(text, len, k, err, sizeof err);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc == SUIDO_OK ? CLI_OK : cli_fail(cmd, CLI_BAD_INPUT, "%s: %s", path, err);
}

/* Masks or unmasks one value and prints the result line. */
static int one(const char *cmd, const struct mask_key *k, int unmask, enum mask_mode mode,
	       const char *v, size_t n)
{
	char *res = NULL, err[256];
	size_t rlen = 0;
	int rc;

	if (unmask)
		rc = mask_unmask(k, v, n, &res, &rlen, err, sizeof err);
	else
		rc = mask_value(k, mode, v, n, &res, err, sizeof err);
	if (rc != SUIDO_OK)
		return cli_fail(cmd, rc == SUIDO_ERR_NOTFOUND ? CLI_DECRYPT : cli_status(rc), "%s",
				err);
	if (!unmask)
		rlen = strlen(res);
	fwrite(res, 1, rlen, stdout);
	putchar('\n');
	if (unmask)
		OPENSSL_cleanse(res, rlen);
	free(res);
	return CLI_OK;
}

int cmd_mask(int argc, char **argv)
{
	static const struct option lopts[] = {{"key", required_argument, NULL, 'k'},
					      {"out", required_argument, NULL, 'o'},
					      {"randomized", no_argument, NULL, 'r'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	const char *cmd = argv[0], *keyfile = NULL, *out = NULL;
	enum mask_mode mode = MASK_DETERMINISTIC;
	int unmask = strcmp(cmd, "unmask") == 0, c, status = CLI_OK;
	struct mask_key *k = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'o': out = optarg; break;
		case 'r': mode = MASK_RANDOMIZED; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (strcmp(cmd, "mask-key") == 0) {
		if (optind != argc - 1 || strcmp(argv[optind], "new") != 0 || !out)
			return cli_fail(cmd, CLI_USAGE, "usage: suido mask-key new --out FILE");
		return key_new(out);
	}
	if (!keyfile)
		return cli_fail(cmd, CLI_USAGE, "--key FILE is required");
	if ((status = load_key(cmd, keyfile, &k)) != CLI_OK)
		return status;
	if (optind < argc) {
		for (int i = optind; i < argc && status == CLI_OK; i++)
			status = one(cmd, k, unmask, mode, argv[i], strlen(argv[i]));
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while (status == CLI_OK && (n = getline(&line, &cap, stdin)) >= 0) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			status = one(cmd, k, unmask, mode, line, (size_t)n);
		}
		if (line)
			OPENSSL_cleanse(line, cap);
		free(line);
	}
	mask_key_free(k);
	if (fflush(stdout) != 0 && status == CLI_OK)
		status = cli_fail(cmd, CLI_IO, "writing the output failed");
	return status;
}
