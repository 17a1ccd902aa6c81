/*
 * The platform's certificate authority (ca.h): a root key and certificate in
 * a directory, an index of every certificate issued, revocations and CRLs.
 * The order of writes is what keeps the CA honest after a crash: an issued
 * certificate is on disk in the index before it is handed out, a revocation
 * is on disk before it is reported, and the CRL number is advanced on disk
 * before a CRL carrying it is signed.
 */
#include "suido/ca.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define CA_KEY_BITS 3072
#define LEAF_KEY_BITS 2048
#define BACKDATE_S 300           /* tolerate clocks a few minutes slow */
#define KEY_FILE_MAX (64 * 1024)
#define CRT_FILE_MAX (64 * 1024)
#define INDEX_FILE_MAX (64u * 1024 * 1024)
#define INDEX_FIELDS 10
#define LOCK_WAIT_MS 10000

struct ca_entry {
	char status; /* 'V' or 'R' */
	char serial[CA_SERIAL_HEX_SIZE];
	int64_t not_before, not_after; /* Unix seconds */
	int64_t revoked_at;            /* Unix seconds; meaningful when 'R' */
	enum ca_reason reason;         /* meaningful when 'R' */
	enum ca_profile profile;
	unsigned uses;
	char sha256[CERT_FP_HEX_SIZE];
	char cn[CA_CN_MAX + 1];
};

struct ca {
	char *dir;
	int lock_fd;
	EVP_PKEY *key;
	X509 *cert;
	struct ca_entry *entries;
	size_t n, cap;
	uint64_t crl_number; /* the number the next CRL gets */
};

static const char INDEX_HEADER[] =
	"# suido CA index v1: status serial notBefore notAfter revokedAt reason profile uses "
	"sha256 cn\n";

/* As in cert.c: "what: <OpenSSL reason>", queue emptied. */
static int ossl_fail(int rc, char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		suido_errf(err, errlen, "%s: %s", what, r);
	else
		suido_errf(err, errlen, "%s", what);
	ERR_clear_error();
	return rc;
}

/* ---- Names. ---- */

const char *ca_profile_name(enum ca_profile p)
{
	switch (p) {
	case CA_PROFILE_PLATFORM: return "platform";
	case CA_PROFILE_GATEWAY: return "gateway";
	case CA_PROFILE_APPLICATION: return "application";
	}
	return "?";
}

int ca_profile_parse(const char *name, enum ca_profile *out)
{
	static const enum ca_profile all[] = { CA_PROFILE_PLATFORM, CA_PROFILE_GATEWAY,
					       CA_PROFILE_APPLICATION };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, ca_profile_name(all[i])) == 0) {
			*out = all[i];
			return SUIDO_OK;
		}
	}
	return SUIDO_ERR_INVALID;
}

static const enum ca_reason all_reasons[] = {
	CA_REASON_UNSPECIFIED, CA_REASON_KEY_COMPROMISE, CA_REASON_AFFILIATION_CHANGED,
	CA_REASON_SUPERSEDED, CA_REASON_CESSATION_OF_OPERATION, CA_REASON_PRIVILEGE_WITHDRAWN,
};

const char *ca_reason_name(enum ca_reason r)
{
	switch (r) {
	case CA_REASON_UNSPECIFIED: return "unspecified";
	case CA_REASON_KEY_COMPROMISE: return "keyCompromise";
	case CA_REASON_AFFILIATION_CHANGED: return "affiliationChanged";
	case CA_REASON_SUPERSEDED: return "superseded";
	case CA_REASON_CESSATION_OF_OPERATION: return "cessationOfOperation";
	case CA_REASON_PRIVILEGE_WITHDRAWN: return "privilegeWithdrawn";
	}
	return "?";
}

int ca_reason_parse(const char *name, enum ca_reason *out)
{
	char folded[40];
	size_t n = 0;

	/* "key-compromise" and "keyCompromise" both fold to "keycompromise". */
	for (const char *p = name; *p; p++) {
		if (*p == '-' || *p == '_')
			continue;
		if (n + 1 >= sizeof folded)
			return SUIDO_ERR_INVALID;
		folded[n++] = (char)tolower((unsigned char)*p);
	}
	folded[n] = '\0';
	for (size_t i = 0; i < sizeof all_reasons / sizeof all_reasons[0]; i++) {
		if (strcasecmp(folded, ca_reason_name(all_reasons[i])) == 0) {
			*out = all_reasons[i];
			return SUIDO_OK;
		}
	}
	return SUIDO_ERR_INVALID;
}

/* ---- Validation of what goes into a certificate. ---- */

/* 1..CA_CN_MAX bytes, no control characters (they would break the index and
 * every log line that prints the name). UTF-8 validity is checked by OpenSSL
 * when the name is built. */
static int cn_valid(const char *cn, char *err, size_t errlen)
{
	size_t n = cn ? strlen(cn) : 0;

	if (n == 0 || n > CA_CN_MAX) {
		suido_errf(err, errlen, "common name must be 1 to %d bytes", CA_CN_MAX);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cn[i];
		if (c < 0x20 || c == 0x7f) {
			suido_errf(err, errlen, "common name holds a control character");
			return 0;
		}
	}
	return 1;
}

/* An LDH host name: labels of 1..63 letters, digits and inner hyphens, at
 * most 253 bytes, the last label not all digits (that would be an address). */
static int hostname_valid(const char *h)
{
	size_t n = strlen(h), label = 0;
	int all_digits = 1;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return 0;
			if (c == '\0')
				break;
			label = 0;
			all_digits = 1;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-'))
			return 0;
		if (!isdigit((unsigned char)c))
			all_digits = 0;
		label++;
	}
	return !all_digits;
}

/* Nonzero when s is an IPv4 or IPv6 address literal. */
static int ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Parses hex digits (any case, colons ignored, at most 20 octets) into the
 * canonical form cert_serial_hex prints. */
static int serial_canon(const char *in, char out[CA_SERIAL_HEX_SIZE])
{
	char digits[2 * 20 + 1];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	size_t n = 0;
	int rc = SUIDO_ERR_INVALID;

	for (const char *p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n + 1 >= sizeof digits)
			return SUIDO_ERR_INVALID;
		digits[n++] = *p;
	}
	digits[n] = '\0';
	if (n == 0)
		return SUIDO_ERR_INVALID;
	if (!BN_hex2bn(&bn, digits))
		goto done;
	hex = BN_bn2hex(bn);
	if (!hex) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (strlen(hex) >= CA_SERIAL_HEX_SIZE)
		goto done;
	memcpy(out, hex, strlen(hex) + 1);
	rc = SUIDO_OK;
done:
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
	return rc;
}

/* ---- The index. ---- */

static void fmt_time(int64_t s, char buf[32])
{
	timeutil_format_utc(s * 1000, buf);
}

/* Parses "2026-01-01T00:00:00Z" (only UTC with a Z is ever written). */
static int parse_time(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t ms;

	if (n < 2 || s[n - 1] != 'Z' || timeutil_parse(s, n, "iso8601", &ms, NULL, 0) != SUIDO_OK)
		return -1;
	*out = ms / 1000;
	return 0;
}

static int entry_line(struct strbuf *sb, const struct ca_entry *e)
{
	char nb[32], na[32], ra[32], uses[64];

	fmt_time(e->not_before, nb);
	fmt_time(e->not_after, na);
	if (e->status == 'R')
		fmt_time(e->revoked_at, ra);
	if (cert_uses_format(e->uses, uses, sizeof uses) != SUIDO_OK)
		return -1;
	return strbuf_printf(sb, "%c\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e->status, e->serial,
			     nb, na, e->status == 'R' ? ra : "-",
			     e->status == 'R' ? ca_reason_name(e->reason) : "-",
			     ca_profile_name(e->profile), uses, e->sha256, e->cn);
}

static int parse_entry(char *line, struct ca_entry *e, char *why, size_t whylen)
{
	char *f[INDEX_FIELDS];
	size_t nf = 0;
	char *p = line;

	memset(e, 0, sizeof(*e));
	for (;;) {
		char *tab = strchr(p, '\t');
		if (nf == INDEX_FIELDS) {
			suido_errf(why, whylen, "more than %d fields", INDEX_FIELDS);
			return -1;
		}
		f[nf++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (nf != INDEX_FIELDS) {
		suido_errf(why, whylen, "%zu fields, expected %d", nf, INDEX_FIELDS);
		return -1;
	}
	if (strcmp(f[0], "V") != 0 && strcmp(f[0], "R") != 0) {
		suido_errf(why, whylen, "status is not V or R");
		return -1;
	}
	e->status = f[0][0];
	if (serial_canon(f[1], e->serial) != SUIDO_OK) {
		suido_errf(why, whylen, "bad serial");
		return -1;
	}
	if (parse_time(f[2], &e->not_before) || parse_time(f[3], &e->not_after)) {
		suido_errf(why, whylen, "bad validity time");
		return -1;
	}
	if (e->status == 'R') {
		if (parse_time(f[4], &e->revoked_at) || ca_reason_parse(f[5], &e->reason)) {
			suido_errf(why, whylen, "bad revocation time or reason");
			return -1;
		}
	} else if (strcmp(f[4], "-") != 0 || strcmp(f[5], "-") != 0) {
		suido_errf(why, whylen, "revocation fields on a valid entry");
		return -1;
	}
	if (ca_profile_parse(f[6], &e->profile) != SUIDO_OK) {
		suido_errf(why, whylen, "unknown profile");
		return -1;
	}
	if (cert_uses_parse(f[7], &e->uses, NULL, 0) != SUIDO_OK) {
		suido_errf(why, whylen, "bad uses");
		return -1;
	}
	if (strlen(f[8]) != CERT_FP_HEX_SIZE - 1 ||
	    strspn(f[8], "0123456789abcdef") != CERT_FP_HEX_SIZE - 1) {
		suido_errf(why, whylen, "bad sha256");
		return -1;
	}
	memcpy(e->sha256, f[8], CERT_FP_HEX_SIZE);
	if (!cn_valid(f[9], NULL, 0)) {
		suido_errf(why, whylen, "bad common name");
		return -1;
	}
	memcpy(e->cn, f[9], strlen(f[9]) + 1);
	return 0;
}

static struct ca_entry *find_entry(struct ca *ca, const char *serial)
{
	for (size_t i = 0; i < ca->n; i++)
		if (strcmp(ca->entries[i].serial, serial) == 0)
			return &ca->entries[i];
	return NULL;
}

static int push_entry(struct ca *ca, const struct ca_entry *e)
{
	if (ca->n == ca->cap) {
		size_t cap = ca->cap ? ca->cap * 2 : 64;
		struct ca_entry *p = realloc(ca->entries, cap * sizeof(*p));
		if (!p)
			return SUIDO_ERR_NOMEM;
		ca->entries = p;
		ca->cap = cap;
	}
	ca->entries[ca->n++] = *e;
	return SUIDO_OK;
}

static int parse_index(struct ca *ca, char *text, char *err, size_t errlen)
{
	char *line = text;
	unsigned lineno = 0;

	while (*line) {
		char *nl = strchr(line, '\n');
		struct ca_entry e;
		char why[80];

		lineno++;
		if (!nl) {
			suido_errf(err, errlen, "%s/index.txt line %u: no line end (truncated?)",
				   ca->dir, lineno);
			return SUIDO_ERR_INVALID;
		}
		*nl = '\0';
		if (line[0] != '#') {
			if (parse_entry(line, &e, why, sizeof why) != 0) {
				suido_errf(err, errlen, "%s/index.txt line %u: %s", ca->dir, lineno,
					   why);
				return SUIDO_ERR_INVALID;
			}
			if (find_entry(ca, e.serial)) {
				suido_errf(err, errlen, "%s/index.txt line %u: serial %s twice",
					   ca->dir, lineno, e.serial);
				return SUIDO_ERR_INVALID;
			}
			if (push_entry(ca, &e) != SUIDO_OK)
				return SUIDO_ERR_NOMEM;
		}
		line = nl + 1;
	}
	return SUIDO_OK;
}

static int write_index(const char *dir, const struct ca_entry *entries, size_t n, char *err,
		       size_t errlen)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	sb.limit = INDEX_FILE_MAX;
	strbuf_puts(&sb, INDEX_HEADER);
	for (size_t i = 0; i < n; i++)
		entry_line(&sb, &entries[i]);
	if (sb.failed) {
		suido_errf(err, errlen, "index would exceed %u bytes or out of memory",
			   INDEX_FILE_MAX);
		strbuf_free(&sb);
		return SUIDO_ERR_NOMEM;
	}
	rc = fsutil_write_atomic(dir, "index.txt", sb.data, sb.len, err, errlen);
	strbuf_free(&sb);
	return rc;
}

static int write_crlnumber(const char *dir, uint64_t next, char *err, size_t errlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", next);

	return fsutil_write_atomic(dir, "crlnumber", buf, (size_t)n, err, errlen);
}

/* ---- Locking. ---- */

/* Takes dir/.lock exclusively, waiting up to LOCK_WAIT_MS. Returns the fd or
 * -1 with rc set. */
static int take_lock(const char *dir, int *rc, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path) {
		suido_errf(err, errlen, "path too long: %s", dir);
		*rc = SUIDO_ERR_INVALID;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		suido_errf(err, errlen, "open %s: %s", path, strerror(errno));
		*rc = errno == ENOENT ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_IO;
		return -1;
	}
	for (int waited = 0;; waited += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			suido_errf(err, errlen, "lock %s: %s", path, strerror(errno));
			break;
		}
		if (waited >= LOCK_WAIT_MS) {
			suido_errf(err, errlen, "CA in %s is in use by another process", dir);
			break;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	close(fd);
	*rc = SUIDO_ERR_IO;
	return -1;
}

/* ---- Building certificates. ---- */

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* A random positive 128-bit serial, not yet used by this CA (ca may be NULL
 * when the root itself is being made). */
static int random_serial(struct ca *ca, ASN1_INTEGER **out, char hex[CA_SERIAL_HEX_SIZE])
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	char *h = NULL;
	int rc = SUIDO_ERR_CERT;

	*out = NULL;
	for (int tries = 0; tries < 8; tries++) {
		BN_free(bn);
		bn = NULL;
		OPENSSL_free(h);
		h = NULL;
		if (RAND_bytes(raw, sizeof raw) != 1)
			goto done;
		bn = BN_bin2bn(raw, sizeof raw, NULL);
		if (!bn || !(h = BN_bn2hex(bn))) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		if (BN_is_zero(bn) || (ca && find_entry(ca, h)))
			continue;
		*out = BN_to_ASN1_INTEGER(bn, NULL);
		if (!*out) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		memcpy(hex, h, strlen(h) + 1);
		rc = SUIDO_OK;
		goto done;
	}
done:
	OPENSSL_free(h);
	BN_free(bn);
	ERR_clear_error();
	return rc;
}

/* A fresh certificate with serial, names, validity and subject key; the
 * caller adds extensions and signs. */
static X509 *cert_base(ASN1_INTEGER *serial, const X509_NAME *subject,
		       const X509_NAME *issuer, int64_t nb, int64_t na, EVP_PKEY *pub)
{
	X509 *x = X509_new();

	if (!x)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, serial) != 1 ||
	    X509_set_subject_name(x, subject) != 1 || X509_set_issuer_name(x, issuer) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) || X509_set_pubkey(x, pub) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int lstat_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return 0; /* the callers' own path checks refuse such a dir */
	return lstat(path, &st) == 0;
}

int ca_init(const char *dir, const char *common_name, int days, char fp_hex[CERT_FP_HEX_SIZE],
	    char *err, size_t errlen)
{
	static const char *const files[] = { "ca.key", "ca.crt", "index.txt", "crlnumber" };
	char certs[PATH_MAX], serial[CA_SERIAL_HEX_SIZE];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	char *key_pem = NULL, *crt_pem = NULL;
	size_t key_len = 0, crt_len = 0;
	int lock = -1, rc;
	int64_t now = (int64_t)time(NULL);
	X509V3_CTX v3;

	if (fp_hex)
		fp_hex[0] = '\0';
	if (!cn_valid(common_name, err, errlen))
		return SUIDO_ERR_INVALID;
	if (days < 1 || days > CA_DAYS_MAX) {
		suido_errf(err, errlen, "days must be 1 to %d", CA_DAYS_MAX);
		return SUIDO_ERR_INVALID;
	}
	if (snprintf(certs, sizeof certs, "%s/certs", dir) >= (int)sizeof certs) {
		suido_errf(err, errlen, "path too long: %s", dir);
		return SUIDO_ERR_INVALID;
	}
	rc = fsutil_mkdirs(dir, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	lock = take_lock(dir, &rc, err, errlen);
	if (lock < 0)
		return rc;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (lstat_exists(dir, files[i])) {
			suido_errf(err, errlen, "%s already holds a CA (%s exists); refusing to "
						"overwrite it",
				   dir, files[i]);
			rc = SUIDO_ERR_EXISTS;
			goto done;
		}
	}

	rc = SUIDO_ERR_CERT;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)CA_KEY_BITS);
	if (!key) {
		rc = ossl_fail(rc, err, errlen, "RSA key generation");
		goto done;
	}
	rc = random_serial(NULL, &sn, serial);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, "no randomness for a serial number");
		goto done;
	}
	rc = SUIDO_ERR_CERT;
	name = X509_NAME_new();
	if (!name || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						  (const unsigned char *)common_name, -1, -1, 0)) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "common name");
		goto done;
	}
	x = cert_base(sn, name, name, now - BACKDATE_S, now + (int64_t)days * 86400, key);
	if (!x) {
		rc = ossl_fail(rc, err, errlen, "building the root certificate");
		goto done;
	}
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &v3, NID_authority_key_identifier, "keyid:always")) {
		rc = ossl_fail(rc, err, errlen, "root certificate extensions");
		goto done;
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		rc = ossl_fail(rc, err, errlen, "signing the root certificate");
		goto done;
	}
	if ((rc = cert_key_pem_encode(key, &key_pem, &key_len)) != SUIDO_OK ||
	    (rc = cert_pem_encode(x, &crt_pem, &crt_len)) != SUIDO_OK) {
		suido_errf(err, errlen, "PEM encoding failed");
		goto done;
	}
	/* ca.crt last: its presence is what ca_open looks for first. */
	if ((rc = fsutil_mkdirs(certs, err, errlen)) != SUIDO_OK ||
	    (rc = write_crlnumber(dir, 1, err, errlen)) != SUIDO_OK ||
	    (rc = write_index(dir, NULL, 0, err, errlen)) != SUIDO_OK ||
	    (rc = fsutil_write_atomic(dir, "ca.key", key_pem, key_len, err, errlen)) != SUIDO_OK ||
	    (rc = fsutil_write_atomic(dir, "ca.crt", crt_pem, crt_len, err, errlen)) != SUIDO_OK)
		goto done;
	if (fp_hex && cert_fingerprint_sha256(x, fp_hex) != SUIDO_OK) {
		suido_errf(err, errlen, "fingerprint failed");
		rc = SUIDO_ERR_CERT;
		goto done;
	}
	rc = SUIDO_OK;
done:
	cert_key_pem_free(key_pem);
	free(crt_pem);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	if (lock >= 0)
		close(lock);
	ERR_clear_error();
	return rc;
}

/* ---- Opening. ---- */

static int read_ca_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
			char *err, size_t errlen)
{
	int rc = fsutil_read_file(dir, name, max, out, len, err, errlen);

	if (rc == SUIDO_ERR_NOTFOUND)
		suido_errf(err, errlen, "no CA in %s: %s is missing", dir, name);
	else if (rc == SUIDO_ERR_LIMIT)
		rc = SUIDO_ERR_INVALID;
	return rc;
}

int ca_open(const char *dir, struct ca **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct ca *ca = NULL;
	char *buf = NULL, *end = NULL;
	size_t len = 0;
	struct stat st;
	unsigned long long num;
	int rc;

	*out = NULL;
	if (snprintf(path, sizeof path, "%s/ca.key", dir) >= (int)sizeof path) {
		suido_errf(err, errlen, "path too long: %s", dir);
		return SUIDO_ERR_INVALID;
	}
	if (!lstat_exists(dir, "ca.crt")) {
		suido_errf(err, errlen, "no CA in %s: ca.crt is missing", dir);
		return SUIDO_ERR_NOTFOUND;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		return SUIDO_ERR_NOMEM;
	ca->lock_fd = -1;
	ca->dir = strdup(dir);
	if (!ca->dir) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	ca->lock_fd = take_lock(dir, &rc, err, errlen);
	if (ca->lock_fd < 0)
		goto fail;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
		suido_errf(err, errlen,
			   "%s is readable by group or others (mode %04o); chmod 600 it", path,
			   (unsigned)(st.st_mode & 07777));
		rc = SUIDO_ERR_PERM;
		goto fail;
	}
	rc = read_ca_file(dir, "ca.key", KEY_FILE_MAX, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	rc = cert_key_load_pem(buf, len, &ca->key, err, errlen);
	OPENSSL_cleanse(buf, len);
	free(buf);
	buf = NULL;
	if (rc != SUIDO_OK)
		goto fail;

	rc = read_ca_file(dir, "ca.crt", CRT_FILE_MAX, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	rc = cert_load_pem(buf, len, &ca->cert, err, errlen);
	free(buf);
	buf = NULL;
	if (rc != SUIDO_OK)
		goto fail;
	if (!cert_key_matches(ca->cert, ca->key)) {
		suido_errf(err, errlen, "%s: ca.key is not the key of ca.crt", dir);
		rc = SUIDO_ERR_CERT;
		goto fail;
	}

	rc = read_ca_file(dir, "index.txt", INDEX_FILE_MAX, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	rc = parse_index(ca, buf, err, errlen);
	free(buf);
	buf = NULL;
	if (rc != SUIDO_OK)
		goto fail;

	rc = read_ca_file(dir, "crlnumber", 64, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	errno = 0;
	num = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0') ||
	    !isdigit((unsigned char)buf[0]) || num == 0 || num >= UINT64_MAX / 2) {
		suido_errf(err, errlen, "%s/crlnumber: not a positive decimal number", dir);
		rc = SUIDO_ERR_INVALID;
		goto fail;
	}
	free(buf);
	buf = NULL;
	ca->crl_number = num;
	*out = ca;
	return SUIDO_OK;
fail:
	free(buf);
	ca_close(ca);
	return rc;
}

void ca_close(struct ca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->entries);
	free(ca->dir);
	if (ca->lock_fd >= 0)
		close(ca->lock_fd);
	free(ca);
}

X509 *ca_cert(const struct ca *ca)
{
	return ca->cert;
}

/* ---- Issuing. ---- */

int ca_issue(struct ca *ca, enum ca_profile profile, unsigned uses, const char *cn,
	     const char *const *dns_names, int days, char **key_pem, char **cert_pem,
	     char serial_hex[CA_SERIAL_HEX_SIZE], char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL);

	*key_pem = NULL;
	*cert_pem = NULL;
	serial_hex[0] = '\0';
	if (days < 1 || days > CA_DAYS_MAX) {
		suido_errf(err, errlen, "days must be 1 to %d", CA_DAYS_MAX);
		return SUIDO_ERR_INVALID;
	}
	return ca_issue_validity(ca, profile, uses, cn, dns_names, now - BACKDATE_S,
				 now + (int64_t)days * 86400, key_pem, cert_pem, serial_hex, err,
				 errlen);
}

/* The subjectAltName value for a leaf, or "" when it has none. */
static int san_value(struct strbuf *sb, unsigned uses, const char *cn,
		     const char *const *dns_names)
{
	int cn_listed = 0;

	for (size_t i = 0; dns_names && dns_names[i]; i++) {
		strbuf_printf(sb, "%s%s:%s", sb->len ? "," : "",
			      ip_literal(dns_names[i]) ? "IP" : "DNS", dns_names[i]);
		if (strcasecmp(dns_names[i], cn) == 0)
			cn_listed = 1;
	}
	if (uses & CERT_USE_TLS_SERVER) {
		if (!cn_listed && hostname_valid(cn))
			strbuf_printf(sb, "%sDNS:%s", sb->len ? "," : "", cn);
		strbuf_printf(sb, "%sIP:127.0.0.1", sb->len ? "," : "");
	}
	return sb->failed ? -1 : 0;
}

int ca_issue_validity(struct ca *ca, enum ca_profile profile, unsigned uses, const char *cn,
		      const char *const *dns_names, int64_t not_before, int64_t not_after,
		      char **key_pem, char **cert_pem, char serial_hex[CA_SERIAL_HEX_SIZE],
		      char *err, size_t errlen)
{
	struct strbuf san = STRBUF_INIT, eku = STRBUF_INIT;
	struct ca_entry e;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	char *kpem = NULL, *cpem = NULL, certname[CA_SERIAL_HEX_SIZE + 8];
	size_t clen = 0, ndns = 0;
	X509V3_CTX v3;
	int rc = SUIDO_ERR_INVALID, pushed = 0;

	*key_pem = NULL;
	*cert_pem = NULL;
	serial_hex[0] = '\0';
	memset(&e, 0, sizeof e);
	if (strcmp(ca_profile_name(profile), "?") == 0) {
		suido_errf(err, errlen, "unknown profile %d", (int)profile);
		return SUIDO_ERR_INVALID;
	}
	if (uses == 0 || (uses & ~(unsigned)CERT_USE_ALL)) {
		suido_errf(err, errlen, "uses must be a nonzero set of tls-client, tls-server, "
					"data-protection");
		return SUIDO_ERR_INVALID;
	}
	if (!cn_valid(cn, err, errlen))
		return SUIDO_ERR_INVALID;
	for (; dns_names && dns_names[ndns]; ndns++) {
		if (ndns == CA_DNS_MAX) {
			suido_errf(err, errlen, "more than %d DNS names", CA_DNS_MAX);
			return SUIDO_ERR_INVALID;
		}
		if (!hostname_valid(dns_names[ndns]) && !ip_literal(dns_names[ndns])) {
			suido_errf(err, errlen, "\"%.80s\" is not a host name or an IP address",
				   dns_names[ndns]);
			return SUIDO_ERR_INVALID;
		}
	}
	if (not_before >= not_after) {
		suido_errf(err, errlen, "validity must begin before it ends");
		return SUIDO_ERR_INVALID;
	}
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(ca->cert), (time_t)not_after) < 0) {
		char when[32];
		fmt_time(not_after, when);
		suido_errf(err, errlen,
			   "validity would end (%s) after the CA certificate's; issue for "
			   "fewer days or renew the CA",
			   when);
		ERR_clear_error();
		return SUIDO_ERR_INVALID;
	}

	rc = SUIDO_ERR_CERT;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)LEAF_KEY_BITS);
	if (!key) {
		rc = ossl_fail(rc, err, errlen, "RSA key generation");
		goto done;
	}
	rc = random_serial(ca, &sn, e.serial);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, "no unused random serial number");
		goto done;
	}
	name = X509_NAME_new();
	if (!name ||
	    !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
					(const unsigned char *)ca_profile_name(profile), -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0)) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "common name (not UTF-8?)");
		goto done;
	}
	rc = SUIDO_ERR_CERT;
	x = cert_base(sn, name, X509_get_subject_name(ca->cert), not_before, not_after, key);
	if (!x) {
		rc = ossl_fail(rc, err, errlen, "building the certificate");
		goto done;
	}
	if (uses & CERT_USE_TLS_CLIENT)
		strbuf_puts(&eku, "clientAuth");
	if (uses & CERT_USE_TLS_SERVER)
		strbuf_printf(&eku, "%sserverAuth", eku.len ? "," : "");
	if (eku.failed || san_value(&san, uses, cn, dns_names) != 0) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
	if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &v3, NID_key_usage,
		     uses & CERT_USE_DATA_PROTECTION ? "critical,digitalSignature,keyEncipherment"
						      : "critical,digitalSignature") ||
	    (eku.len && !add_ext(x, &v3, NID_ext_key_usage, eku.data)) ||
	    (san.len && !add_ext(x, &v3, NID_subject_alt_name, san.data)) ||
	    !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &v3, NID_authority_key_identifier, "keyid:always")) {
		rc = ossl_fail(rc, err, errlen, "certificate extensions");
		goto done;
	}
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0) {
		rc = ossl_fail(rc, err, errlen, "signing the certificate");
		goto done;
	}
	if ((rc = cert_key_pem_encode(key, &kpem, NULL)) != SUIDO_OK ||
	    (rc = cert_pem_encode(x, &cpem, &clen)) != SUIDO_OK ||
	    (rc = cert_fingerprint_sha256(x, e.sha256)) != SUIDO_OK) {
		suido_errf(err, errlen, "encoding the certificate failed");
		goto done;
	}

	/* Record before handing out: certs/ copy, then the index entry. */
	e.status = 'V';
	e.not_before = not_before;
	e.not_after = not_after;
	e.profile = profile;
	e.uses = uses;
	memcpy(e.cn, cn, strlen(cn) + 1);
	snprintf(certname, sizeof certname, "%s.crt", e.serial);
	{
		char certs[PATH_MAX];
		snprintf(certs, sizeof certs, "%s/certs", ca->dir);
		if ((rc = fsutil_mkdirs(certs, err, errlen)) != SUIDO_OK ||
		    (rc = fsutil_write_atomic(certs, certname, cpem, clen, err, errlen)) !=
			    SUIDO_OK)
			goto done;
	}
	if ((rc = push_entry(ca, &e)) != SUIDO_OK)
		goto done;
	pushed = 1;
	if ((rc = write_index(ca->dir, ca->entries, ca->n, err, errlen)) != SUIDO_OK)
		goto done;
	*key_pem = kpem;
	*cert_pem = cpem;
	kpem = cpem = NULL;
	memcpy(serial_hex, e.serial, strlen(e.serial) + 1);
	rc = SUIDO_OK;
done:
	if (rc != SUIDO_OK && pushed)
		ca->n--;
	cert_key_pem_free(kpem);
	free(cpem);
	strbuf_free(&san);
	strbuf_free(&eku);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* ---- Revocation and CRLs. ---- */

int ca_revoke(struct ca *ca, const char *serial_hex, enum ca_reason reason, char *err,
	      size_t errlen)
{
	char serial[CA_SERIAL_HEX_SIZE], when[32];
	struct ca_entry *e, saved;
	int rc;

	if (strcmp(ca_reason_name(reason), "?") == 0) {
		suido_errf(err, errlen, "unknown revocation reason %d", (int)reason);
		return SUIDO_ERR_INVALID;
	}
	rc = serial_canon(serial_hex, serial);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, "\"%.80s\" is not a hex serial number", serial_hex);
		return rc;
	}
	e = find_entry(ca, serial);
	if (!e) {
		suido_errf(err, errlen, "no certificate with serial %s was issued by this CA",
			   serial);
		return SUIDO_ERR_NOTFOUND;
	}
	if (e->status == 'R') {
		fmt_time(e->revoked_at, when);
		suido_errf(err, errlen, "serial %s was already revoked on %s (%s)", serial, when,
			   ca_reason_name(e->reason));
		return SUIDO_ERR_EXISTS;
	}
	saved = *e;
	e->status = 'R';
	e->revoked_at = (int64_t)time(NULL);
	e->reason = reason;
	rc = write_index(ca->dir, ca->entries, ca->n, err, errlen);
	if (rc != SUIDO_OK)
		*e = saved;
	return rc;
}

int ca_crl(struct ca *ca, int days, char **crl_pem, char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL);

	*crl_pem = NULL;
	if (days < 1 || days > CA_DAYS_MAX) {
		suido_errf(err, errlen, "days must be 1 to %d", CA_DAYS_MAX);
		return SUIDO_ERR_INVALID;
	}
	return ca_crl_validity(ca, now, now + (int64_t)days * 86400, crl_pem, err, errlen);
}

static int add_revoked(X509_CRL *crl, const struct ca_entry *e)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *code = NULL;
	BIGNUM *bn = NULL;
	int ok = 0;

	if (!rev || !BN_hex2bn(&bn, e->serial) || !(sn = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    X509_REVOKED_set_serialNumber(rev, sn) != 1 ||
	    !(t = ASN1_TIME_set(NULL, (time_t)e->revoked_at)) ||
	    X509_REVOKED_set_revocationDate(rev, t) != 1)
		goto done;
	/* RFC 5280 5.3.1: reasonCode unspecified SHOULD be absent. */
	if (e->reason != CA_REASON_UNSPECIFIED) {
		code = ASN1_ENUMERATED_new();
		if (!code || ASN1_ENUMERATED_set(code, (long)e->reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) != 1)
			goto done;
	}
	if (X509_CRL_add0_revoked(crl, rev) != 1)
		goto done;
	rev = NULL;
	ok = 1;
done:
	X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return ok;
}

int ca_crl_validity(struct ca *ca, int64_t this_update, int64_t next_update, char **crl_pem,
		    char *err, size_t errlen)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *akid = NULL;
	BIO *bio = NULL;
	X509V3_CTX v3;
	char *p = NULL;
	long n;
	uint64_t number = ca->crl_number;
	int rc;

	*crl_pem = NULL;
	if (this_update >= next_update) {
		suido_errf(err, errlen, "thisUpdate must be before nextUpdate");
		return SUIDO_ERR_INVALID;
	}
	/* Advance first: a crash after this skips a number, never reuses one. */
	rc = write_crlnumber(ca->dir, number + 1, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	ca->crl_number = number + 1;

	rc = SUIDO_ERR_CERT;
	crl = X509_CRL_new();
	if (!crl || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
	    !(t = ASN1_TIME_set(NULL, (time_t)this_update)) ||
	    X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    !ASN1_TIME_set(t, (time_t)next_update) || X509_CRL_set1_nextUpdate(crl, t) != 1) {
		rc = ossl_fail(rc, err, errlen, "building the CRL");
		goto done;
	}
	for (size_t i = 0; i < ca->n; i++) {
		if (ca->entries[i].status == 'R' && !add_revoked(crl, &ca->entries[i])) {
			rc = ossl_fail(rc, err, errlen, "adding a revoked certificate");
			goto done;
		}
	}
	X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
	num = ASN1_INTEGER_new();
	if (!num || ASN1_INTEGER_set_uint64(num, number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
	    !(akid = X509V3_EXT_nconf_nid(NULL, &v3, NID_authority_key_identifier,
					  "keyid:always")) ||
	    X509_CRL_add_ext(crl, akid, -1) != 1 || X509_CRL_sort(crl) != 1) {
		rc = ossl_fail(rc, err, errlen, "CRL extensions");
		goto done;
	}
	if (X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0) {
		rc = ossl_fail(rc, err, errlen, "signing the CRL");
		goto done;
	}
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_X509_CRL(bio, crl) != 1 || (n = BIO_get_mem_data(bio, &p)) <= 0) {
		rc = ossl_fail(SUIDO_ERR_NOMEM, err, errlen, "PEM encoding the CRL");
		goto done;
	}
	*crl_pem = malloc((size_t)n + 1);
	if (!*crl_pem) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	memcpy(*crl_pem, p, (size_t)n);
	(*crl_pem)[n] = '\0';
	rc = SUIDO_OK;
done:
	BIO_free(bio);
	X509_EXTENSION_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}
