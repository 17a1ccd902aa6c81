/*
 * `suido ca` (cmd_ca.h): argument parsing and file output around ca.h. The
 * CA directory itself is only ever touched through the library; this file
 * decides exit statuses and writes the files an operator hands out (the key
 * and certificate of an issued certificate, a CRL), refusing to overwrite
 * existing ones so a key is never silently replaced.
 */
#include "cmd_ca.h"

#include "cli.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "suido/ca.h"
#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"

static const char USAGE_INIT[] =
	"usage: suido ca init --dir DIR --cn NAME [--days N]\n"
	"  Creates a CA in DIR (made if missing): RSA-3072 root key (ca.key, 0600),\n"
	"  self-signed root certificate (ca.crt) valid N days (default 3650), an empty\n"
	"  index and CRL number 1. Refuses a DIR that already holds a CA. Prints the\n"
	"  root's SHA-256 fingerprint.\n";
static const char USAGE_ISSUE[] =
	"usage: suido ca issue --dir DIR --profile platform|gateway|application\n"
	"                      --use USE[,USE...] --cn NAME [--dns HOST]... [--ip ADDR]...\n"
	"                      [--days N]\n"
	"                      --out PREFIX\n"
	"  Issues an RSA-2048 key and certificate valid N days (default 365) and writes\n"
	"  PREFIX.key (mode 0600) and PREFIX.crt; neither may exist yet. USE is\n"
	"  tls-client, tls-server or data-protection. A tls-server certificate names\n"
	"  each --dns HOST and --ip ADDR (IPv4 or IPv6), NAME when it is a host name,\n"
	"  and 127.0.0.1. Prints the\n"
	"  serial and the SHA-256 fingerprint.\n";
static const char USAGE_REVOKE[] =
	"usage: suido ca revoke --dir DIR --serial HEX [--reason REASON]\n"
	"  Revokes the certificate with that serial. REASON is one of unspecified\n"
	"  (default), keyCompromise, affiliationChanged, superseded,\n"
	"  cessationOfOperation, privilegeWithdrawn. Publish a new CRL afterwards.\n";
static const char USAGE_CRL[] =
	"usage: suido ca crl --dir DIR [--days N] --out FILE\n"
	"  Signs a CRL of every revoked certificate, valid N days (default 30), with\n"
	"  the next CRL number, and writes it to FILE (replacing it).\n";

static void usage_all(FILE *f)
{
	fprintf(f, "%s%s%s%s", USAGE_INIT, USAGE_ISSUE, USAGE_REVOKE, USAGE_CRL);
	fprintf(f, "exit status: 0 success, 64 usage error, 65 bad input, 69 certificate or CA "
		   "error, 70 internal error\n");
}

/* The exit status for a library error code. */
static int exit_for(int rc)
{
	switch (rc) {
	case SUIDO_OK: return CLI_OK;
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_LIMIT: return CLI_BAD_INPUT;
	case SUIDO_ERR_CERT:
	case SUIDO_ERR_EXISTS:
	case SUIDO_ERR_NOTFOUND:
	case SUIDO_ERR_PERM: return CLI_CERT;
	case SUIDO_ERR_IO:
	case SUIDO_ERR_FULL: return CLI_IO;
	default: return CLI_INTERNAL;
	}
}

static int fail(int rc, const char *what, const char *err)
{
	fprintf(stderr, "suido ca %s: %s\n", what, err[0] ? err : suido_strerror(rc));
	return exit_for(rc);
}

static int usage_err(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_err(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "suido ca: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return CLI_USAGE;
}

/* Parses a decimal day count (sign allowed; the library checks the range). */
static int parse_days(const char *s, int *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < INT_MIN || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* Splits path into its directory ("." when none) and last component. */
static int split_path(const char *path, const char *suffix, char *dir, size_t dlen, char *name,
		      size_t nlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dn = slash ? (size_t)(slash - path) : 0;

	if (*base == '\0')
		return -1;
	if (!slash) {
		snprintf(dir, dlen, ".");
	} else {
		if (dn == 0)
			dn = 1; /* "/name" */
		if (dn >= dlen)
			return -1;
		memcpy(dir, path, dn);
		dir[dn] = '\0';
	}
	if (snprintf(name, nlen, "%s%s", base, suffix) >= (int)nlen)
		return -1;
	return 0;
}

static int path_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
		return 1; /* too long to create either */
	return lstat(p, &st) == 0;
}

/* Matches "--opt VALUE" at argv[*i]; on a match advances *i and sets *val.
 * Returns 1 matched, 0 not this option, -1 the value is missing. */
static int opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static int is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int ca_init_cmd(int argc, char **argv)
{
	const char *dir = NULL, *cn = NULL, *days_s = NULL;
	char err[512] = "", fp[CERT_FP_HEX_SIZE];
	int days = 3650, rc;

	for (int i = 0; i < argc; i++) {
		int m;
		if (is_help(argv[i])) {
			fputs(USAGE_INIT, stdout);
			return CLI_OK;
		}
		if ((m = opt(argc, argv, &i, "--dir", &dir)) ||
		    (m = opt(argc, argv, &i, "--cn", &cn)) ||
		    (m = opt(argc, argv, &i, "--days", &days_s))) {
			if (m < 0)
				return usage_err(USAGE_INIT, "%s needs a value", argv[i]);
			continue;
		}
		return usage_err(USAGE_INIT, "unknown argument \"%s\"", argv[i]);
	}
	if (!dir || !cn)
		return usage_err(USAGE_INIT, "%s", "--dir and --cn are required");
	if (days_s && parse_days(days_s, &days) != 0)
		return usage_err(USAGE_INIT, "--days: \"%s\" is not a number", days_s);
	rc = ca_init(dir, cn, days, fp, err, sizeof err);
	if (rc != SUIDO_OK)
		return fail(rc, "init", err);
	printf("CA created in %s\nsha256 = %s\n", dir, fp);
	return CLI_OK;
}

static int ca_issue_cmd(int argc, char **argv)
{
	const char *dir = NULL, *cn = NULL, *days_s = NULL, *profile_s = NULL, *use_s = NULL;
	const char *out = NULL;
	const char **dns = NULL;
	size_t ndns = 0;
	char err[512] = "", odir[PATH_MAX], kname[NAME_MAX + 1], cname[NAME_MAX + 1];
	char serial[CA_SERIAL_HEX_SIZE] = "", fp[CERT_FP_HEX_SIZE] = "";
	char *key_pem = NULL, *cert_pem = NULL;
	enum ca_profile profile;
	unsigned uses = 0;
	struct ca *ca = NULL;
	X509 *x = NULL;
	int days = 365, rc, status;

	dns = calloc((size_t)argc + 1, sizeof(*dns));
	if (!dns) {
		fprintf(stderr, "suido ca issue: out of memory\n");
		return CLI_INTERNAL;
	}
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		int m;
		if (is_help(argv[i])) {
			fputs(USAGE_ISSUE, stdout);
			status = CLI_OK;
			goto done;
		}
		if ((m = opt(argc, argv, &i, "--dns", &v)) > 0 ||
		    (m == 0 && (m = opt(argc, argv, &i, "--ip", &v)) > 0)) {
			dns[ndns++] = v;
			continue;
		}
		if (m < 0 || (m = opt(argc, argv, &i, "--dir", &dir)) ||
		    (m = opt(argc, argv, &i, "--cn", &cn)) ||
		    (m = opt(argc, argv, &i, "--days", &days_s)) ||
		    (m = opt(argc, argv, &i, "--profile", &profile_s)) ||
		    (m = opt(argc, argv, &i, "--use", &use_s)) ||
		    (m = opt(argc, argv, &i, "--out", &out))) {
			if (m < 0) {
				status = usage_err(USAGE_ISSUE, "%s needs a value", argv[i]);
				goto done;
			}
			continue;
		}
		status = usage_err(USAGE_ISSUE, "unknown argument \"%s\"", argv[i]);
		goto done;
	}
	if (!dir || !cn || !profile_s || !use_s || !out) {
		status = usage_err(USAGE_ISSUE, "%s",
				   "--dir, --profile, --use, --cn and --out are required");
		goto done;
	}
	if (ca_profile_parse(profile_s, &profile) != SUIDO_OK) {
		status = usage_err(USAGE_ISSUE, "--profile: unknown profile \"%s\"", profile_s);
		goto done;
	}
	if (cert_uses_parse(use_s, &uses, err, sizeof err) != SUIDO_OK) {
		status = usage_err(USAGE_ISSUE, "--use: %s", err);
		goto done;
	}
	if (days_s && parse_days(days_s, &days) != 0) {
		status = usage_err(USAGE_ISSUE, "--days: \"%s\" is not a number", days_s);
		goto done;
	}
	if (split_path(out, ".key", odir, sizeof odir, kname, sizeof kname) != 0 ||
	    split_path(out, ".crt", odir, sizeof odir, cname, sizeof cname) != 0) {
		status = usage_err(USAGE_ISSUE, "--out: \"%s\" is not a usable file prefix", out);
		goto done;
	}
	if (path_exists(odir, kname) || path_exists(odir, cname)) {
		fprintf(stderr, "suido ca issue: %s.key or %s.crt already exists; refusing to "
				"overwrite (remove it or choose another --out)\n",
			out, out);
		status = CLI_BAD_INPUT;
		goto done;
	}

	rc = ca_open(dir, &ca, err, sizeof err);
	if (rc != SUIDO_OK) {
		status = fail(rc, "issue", err);
		goto done;
	}
	rc = ca_issue(ca, profile, uses, cn, dns, days, &key_pem, &cert_pem, serial, err,
		      sizeof err);
	if (rc != SUIDO_OK) {
		status = fail(rc, "issue", err);
		goto done;
	}
	if (cert_load_pem(cert_pem, strlen(cert_pem), &x, err, sizeof err) != SUIDO_OK ||
	    cert_fingerprint_sha256(x, fp) != SUIDO_OK)
		snprintf(fp, sizeof fp, "?");
	rc = fsutil_write_atomic(odir, kname, key_pem, strlen(key_pem), err, sizeof err);
	if (rc == SUIDO_OK)
		rc = fsutil_write_atomic(odir, cname, cert_pem, strlen(cert_pem), err, sizeof err);
	if (rc != SUIDO_OK) {
		fprintf(stderr, "suido ca issue: certificate %s was issued and recorded, but "
				"writing it out failed: %s; revoke it with "
				"`suido ca revoke --dir %s --serial %s`\n",
			serial, err, dir, serial);
		status = exit_for(rc);
		goto done;
	}
	printf("serial = %s\nsha256 = %s\nkey = %s/%s\ncertificate = %s/%s\n", serial, fp, odir,
	       kname, odir, cname);
	status = CLI_OK;
done:
	X509_free(x);
	cert_key_pem_free(key_pem);
	free(cert_pem);
	ca_close(ca);
	free(dns);
	return status;
}

static int ca_revoke_cmd(int argc, char **argv)
{
	const char *dir = NULL, *serial = NULL, *reason_s = NULL;
	enum ca_reason reason = CA_REASON_UNSPECIFIED;
	char err[512] = "";
	struct ca *ca = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		int m;
		if (is_help(argv[i])) {
			fputs(USAGE_REVOKE, stdout);
			return CLI_OK;
		}
		if ((m = opt(argc, argv, &i, "--dir", &dir)) ||
		    (m = opt(argc, argv, &i, "--serial", &serial)) ||
		    (m = opt(argc, argv, &i, "--reason", &reason_s))) {
			if (m < 0)
				return usage_err(USAGE_REVOKE, "%s needs a value", argv[i]);
			continue;
		}
		return usage_err(USAGE_REVOKE, "unknown argument \"%s\"", argv[i]);
	}
	if (!dir || !serial)
		return usage_err(USAGE_REVOKE, "%s", "--dir and --serial are required");
	if (reason_s && ca_reason_parse(reason_s, &reason) != SUIDO_OK)
		return usage_err(USAGE_REVOKE, "--reason: unknown reason \"%s\"", reason_s);
	rc = ca_open(dir, &ca, err, sizeof err);
	if (rc == SUIDO_OK)
		rc = ca_revoke(ca, serial, reason, err, sizeof err);
	ca_close(ca);
	if (rc != SUIDO_OK)
		return fail(rc, "revoke", err);
	printf("revoked %s (%s); publish a new CRL with `suido ca crl`\n", serial,
	       ca_reason_name(reason));
	return CLI_OK;
}

static int ca_crl_cmd(int argc, char **argv)
{
	const char *dir = NULL, *days_s = NULL, *out = NULL;
	char err[512] = "", odir[PATH_MAX], oname[NAME_MAX + 1];
	char *crl = NULL;
	struct ca *ca = NULL;
	int days = 30, rc;

	for (int i = 0; i < argc; i++) {
		int m;
		if (is_help(argv[i])) {
			fputs(USAGE_CRL, stdout);
			return CLI_OK;
		}
		if ((m = opt(argc, argv, &i, "--dir", &dir)) ||
		    (m = opt(argc, argv, &i, "--days", &days_s)) ||
		    (m = opt(argc, argv, &i, "--out", &out))) {
			if (m < 0)
				return usage_err(USAGE_CRL, "%s needs a value", argv[i]);
			continue;
		}
		return usage_err(USAGE_CRL, "unknown argument \"%s\"", argv[i]);
	}
	if (!dir || !out)
		return usage_err(USAGE_CRL, "%s", "--dir and --out are required");
	if (days_s && parse_days(days_s, &days) != 0)
		return usage_err(USAGE_CRL, "--days: \"%s\" is not a number", days_s);
	if (split_path(out, "", odir, sizeof odir, oname, sizeof oname) != 0)
		return usage_err(USAGE_CRL, "--out: \"%s\" is not a usable file name", out);
	rc = ca_open(dir, &ca, err, sizeof err);
	if (rc == SUIDO_OK)
		rc = ca_crl(ca, days, &crl, err, sizeof err);
	ca_close(ca);
	if (rc == SUIDO_OK)
		rc = fsutil_write_atomic(odir, oname, crl, strlen(crl), err, sizeof err);
	free(crl);
	if (rc != SUIDO_OK)
		return fail(rc, "crl", err);
	printf("CRL written to %s\n", out);
	return CLI_OK;
}

int cmd_ca(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return CLI_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage_all(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "init") == 0)
		return ca_init_cmd(argc - 2, argv + 2);
	if (strcmp(argv[1], "issue") == 0)
		return ca_issue_cmd(argc - 2, argv + 2);
	if (strcmp(argv[1], "revoke") == 0)
		return ca_revoke_cmd(argc - 2, argv + 2);
	if (strcmp(argv[1], "crl") == 0)
		return ca_crl_cmd(argc - 2, argv + 2);
	fprintf(stderr, "suido ca: unknown subcommand \"%s\"\n", argv[1]);
	usage_all(stderr);
	return CLI_USAGE;
}
