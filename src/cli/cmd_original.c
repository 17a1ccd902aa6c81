/*
 * suido original export (cmd_original.h): reads the platform's database
 * through the store (tenant-scoped like every query: the utility is
 * required and a message of another utility is not found) and writes the
 * message's signed original as it was stored. Verifying it is suido
 * verify's work, against the gateway's certificate and the platform root.
 */
#include "cmd_original.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "suido/error.h"
#include "suido/store.h"

#define CMD "original export"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: suido original export --db PLATFORM.db --utility ID --message ID [--out FILE]\n"
		"  writes the signed original the platform stored with message ID of the utility\n"
		"  (for a sealed json gateway: the JWS compact serialization it verified); check it\n"
		"  with: suido verify --format json --from GATEWAY.crt --ca ROOT.crt\n"
		"exit status: 0 ok, 64 usage, 65 no such message of that utility or stored without\n"
		"             an original (plaintext gateway), 70 internal error, 74 I/O error\n");
}

/* A copy of the original: the store only lends it for the callback. */
struct copy {
	void *data;
	size_t len;
	int nomem;
};

static void keep(void *ctx, const void *data, size_t len)
{
	struct copy *c = ctx;

	c->data = malloc(len ? len : 1);
	if (!c->data) {
		c->nomem = 1;
		return;
	}
	memcpy(c->data, data, len);
	c->len = len;
}

static int export(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"db", required_argument, NULL, 'd'},      {"utility", required_argument, NULL, 'u'},
		{"message", required_argument, NULL, 'm'}, {"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	const char *db = NULL, *utility = NULL, *msg = NULL, *out = NULL;
	struct store *s = NULL;
	struct copy c = {NULL, 0, 0};
	struct stat sb;
	char err[512] = "";
	int ch, rc, status;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 'u': utility = optarg; break;
		case 'm': msg = optarg; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_fail(CMD, CLI_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if (!db || !utility || !msg)
		return cli_fail(CMD, CLI_USAGE, "--db, --utility and --message are required");
	/* The store creates a missing database: an export must not. */
	if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode))
		return cli_fail(CMD, CLI_IO, "%s: no such database file", db);
	rc = store_open_sqlite(db, &s, err, sizeof err);
	if (rc != SUIDO_OK) {
		status = cli_fail(CMD, cli_status(rc), "%s", *err ? err : suido_strerror(rc));
		goto done;
	}
	rc = store_get_original(s, utility, msg, keep, &c);
	if (rc == SUIDO_OK && c.nomem)
		rc = SUIDO_ERR_NOMEM;
	if (rc == SUIDO_ERR_NOTFOUND) {
		status = cli_fail(CMD, CLI_BAD_INPUT,
				  "utility %s has no message %s with a signed original", utility,
				  msg);
		goto done;
	}
	if (rc != SUIDO_OK) {
		status = cli_fail(CMD, cli_status(rc), "reading the store: %s", suido_strerror(rc));
		goto done;
	}
	rc = cli_write(out, c.data, c.len);
	status = rc == SUIDO_OK ? CLI_OK
				: cli_fail(CMD, CLI_IO, "writing the output: %s", suido_strerror(rc));
done:
	free(c.data);
	store_close(s);
	return status;
}

int cmd_original(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return export(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		usage(stdout);
		return CLI_OK;
	}
	usage(stderr);
	return CLI_USAGE;
}
