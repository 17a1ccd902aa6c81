/*
 * Certificates (cert.h): PEM loading with hard caps, the one-root trust store
 * with its CRLs, verification for one use with an English reason, and the
 * fingerprint / CN / serial / PEM helpers. OpenSSL does the chain, time,
 * signature and revocation checks; this module adds the use checks (which
 * OpenSSL's purposes express too loosely: a missing extendedKeyUsage passes
 * them) and turns OpenSSL's error codes into reasons an operator can act on.
 */
#include "suido/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "suido/error.h"
#include "suido/hex.h"

struct cert_trust {
	X509_STORE *store;
	X509 *root;
	STACK_OF(X509_CRL) *crls; /* also in store; kept for revocation details */
};

/* Formats "what: <OpenSSL's reason>" into err, empties OpenSSL's error queue
 * (so no stale error leaks into another module's report) and returns rc. */
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

/* Nonzero when the last PEM read failed only because no further block was
 * there (the normal end of a multi-block buffer); clears the queue. */
static int pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();
	int end = e == 0 ||
		  (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);

	ERR_clear_error();
	return end;
}

/* Reads the regular file at path (symlinks followed: certificate
 * directories are commonly symlink farms) into a malloc'ed NUL-terminated
 * buffer of at most CERT_PEM_MAX bytes. */
static int read_path(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int fd, rc = SUIDO_ERR_IO;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		suido_errf(err, errlen, "open %s: %s", path, strerror(e));
		return e == ENOENT ? SUIDO_ERR_NOTFOUND : SUIDO_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		suido_errf(err, errlen, "stat %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		suido_errf(err, errlen, "%s: not a regular file", path);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if ((uint64_t)st.st_size > CERT_PEM_MAX) {
		suido_errf(err, errlen, "%s: %lld bytes, more than the limit of %u", path,
			   (long long)st.st_size, CERT_PEM_MAX);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			suido_errf(err, errlen, "read %s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	buf = NULL;
	rc = SUIDO_OK;
done:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

static void free_secret(char *buf, size_t len)
{
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
}

static BIO *pem_bio(const char *pem, size_t len, int *rc, char *err, size_t errlen)
{
	BIO *bio;

	if (len > CERT_PEM_MAX) {
		suido_errf(err, errlen, "PEM of %zu bytes, more than the limit of %u", len,
			   CERT_PEM_MAX);
		*rc = SUIDO_ERR_INVALID;
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		*rc = ossl_fail(SUIDO_ERR_NOMEM, err, errlen, "BIO_new_mem_buf");
		return NULL;
	}
	return bio;
}

/* ---- Uses. ---- */

const char *cert_use_name(enum cert_use use)
{
	switch (use) {
	case CERT_USE_TLS_CLIENT: return "tls-client";
	case CERT_USE_TLS_SERVER: return "tls-server";
	case CERT_USE_DATA_PROTECTION: return "data-protection";
	}
	return "?";
}

int cert_uses_parse(const char *list, unsigned *out, char *err, size_t errlen)
{
	static const enum cert_use all[] = { CERT_USE_TLS_CLIENT, CERT_USE_TLS_SERVER,
					     CERT_USE_DATA_PROTECTION };
	const char *p = list;
	unsigned mask = 0;

	*out = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;

		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
			const char *name = cert_use_name(all[i]);
			if (strlen(name) == n && memcmp(name, p, n) == 0)
				bit = (unsigned)all[i];
		}
		if (!bit) {
			suido_errf(err, errlen,
				   "unknown use \"%.*s\" (expected tls-client, tls-server, "
				   "data-protection)",
				   (int)(n > 40 ? 40 : n), p);
			return SUIDO_ERR_INVALID;
		}
		mask |= bit;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	*out = mask;
	return SUIDO_OK;
}

int cert_uses_format(unsigned mask, char *buf, size_t len)
{
	static const enum cert_use all[] = { CERT_USE_TLS_CLIENT, CERT_USE_TLS_SERVER,
					     CERT_USE_DATA_PROTECTION };
	size_t off = 0;

	if (len == 0)
		return SUIDO_ERR_LIMIT;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		int n;
		if (!(mask & (unsigned)all[i]))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
			     cert_use_name(all[i]));
		if (n < 0 || (size_t)n >= len - off) {
			buf[0] = '\0';
			return SUIDO_ERR_LIMIT;
		}
		off += (size_t)n;
	}
	return SUIDO_OK;
}

/* ---- Loading. ---- */

/* Refuses to prompt: an encrypted key is an operator error, not a dialogue. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int cert_key_load_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen)
{
	int rc = SUIDO_ERR_INVALID;
	BIO *bio;

	*out = NULL;
	bio = pem_bio(pem, len, &rc, err, errlen);
	if (!bio)
		return rc;
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (*out) {
		ERR_clear_error();
		return SUIDO_OK;
	}
	if (memmem(pem, len, "ENCRYPTED", 9)) {
		ERR_clear_error();
		suido_errf(err, errlen, "encrypted private keys are not supported: store it "
					"unencrypted with mode 0600");
		return SUIDO_ERR_INVALID;
	}
	return ossl_fail(SUIDO_ERR_INVALID, err, errlen, "no usable private key in PEM");
}

int cert_key_load_file(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_path(path, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = cert_key_load_pem(buf, len, out, err, errlen);
	free_secret(buf, len);
	return rc;
}

int cert_load_pem(const char *pem, size_t len, X509 **out, char *err, size_t errlen)
{
	int rc = SUIDO_ERR_INVALID;
	X509 *x = NULL, *second = NULL;
	BIO *bio;

	*out = NULL;
	bio = pem_bio(pem, len, &rc, err, errlen);
	if (!bio)
		return rc;
	x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	if (!x) {
		rc = ossl_fail(SUIDO_ERR_INVALID, err, errlen, "no certificate in PEM");
		goto done;
	}
	second = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	if (second) {
		suido_errf(err, errlen, "PEM holds more than one certificate (expected one)");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if (!pem_at_end()) {
		suido_errf(err, errlen, "malformed PEM block after the certificate");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	*out = x;
	x = NULL;
	rc = SUIDO_OK;
done:
	X509_free(second);
	X509_free(x);
	BIO_free(bio);
	return rc;
}

int cert_load_file(const char *path, X509 **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_path(path, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = cert_load_pem(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

int cert_chain_load_pem(const char *pem, size_t len, STACK_OF(X509) **out, char *err,
			size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	int rc = SUIDO_ERR_INVALID;
	X509 *x = NULL;
	BIO *bio;

	*out = NULL;
	bio = pem_bio(pem, len, &rc, err, errlen);
	if (!bio)
		return rc;
	sk = sk_X509_new_null();
	if (!sk) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (sk_X509_num(sk) >= CERT_CHAIN_MAX) {
			suido_errf(err, errlen, "chain of more than %d certificates",
				   CERT_CHAIN_MAX);
			rc = SUIDO_ERR_INVALID;
			goto done;
		}
		if (!sk_X509_push(sk, x)) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		x = NULL;
	}
	if (!pem_at_end()) {
		suido_errf(err, errlen, "malformed certificate %d in PEM chain",
			   sk_X509_num(sk) + 1);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if (sk_X509_num(sk) == 0) {
		suido_errf(err, errlen, "no certificate in PEM chain");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	*out = sk;
	sk = NULL;
	rc = SUIDO_OK;
done:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int cert_chain_load_file(const char *path, STACK_OF(X509) **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_path(path, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = cert_chain_load_pem(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

int cert_key_matches(X509 *cert, EVP_PKEY *key)
{
	int ok = X509_check_private_key(cert, key) == 1;

	ERR_clear_error();
	return ok;
}

/* ---- Trust store. ---- */

int cert_trust_new_pem(const char *root_pem, size_t len, struct cert_trust **out, char *err,
		       size_t errlen)
{
	struct cert_trust *t = NULL;
	X509 *root = NULL;
	int rc;

	*out = NULL;
	rc = cert_load_pem(root_pem, len, &root, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	if (!(X509_get_extension_flags(root) & EXFLAG_CA)) {
		suido_errf(err, errlen, "trust root is not a CA certificate (no basicConstraints "
					"CA:TRUE)");
		rc = SUIDO_ERR_CERT;
		goto fail;
	}
	if (X509_self_signed(root, 1) != 1) {
		ERR_clear_error();
		suido_errf(err, errlen, "trust root is not self-signed (give the root CA "
					"certificate, not an intermediate)");
		rc = SUIDO_ERR_CERT;
		goto fail;
	}
	rc = SUIDO_ERR_NOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	t->store = X509_STORE_new();
	t->crls = sk_X509_CRL_new_null();
	if (!t->store || !t->crls)
		goto fail;
	if (X509_STORE_add_cert(t->store, root) != 1) {
		rc = ossl_fail(SUIDO_ERR_NOMEM, err, errlen, "X509_STORE_add_cert");
		goto fail;
	}
	t->root = root;
	*out = t;
	return SUIDO_OK;
fail:
	cert_trust_free(t);
	X509_free(root);
	ERR_clear_error();
	return rc;
}

int cert_trust_new_file(const char *path, struct cert_trust **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_path(path, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = cert_trust_new_pem(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

int cert_trust_add_crl_pem(struct cert_trust *t, const char *pem, size_t len, char *err,
			   size_t errlen)
{
	STACK_OF(X509_CRL) *got = NULL;
	X509_CRL *crl = NULL;
	int rc = SUIDO_ERR_INVALID;
	BIO *bio;

	bio = pem_bio(pem, len, &rc, err, errlen);
	if (!bio)
		return rc;
	got = sk_X509_CRL_new_null();
	if (!got) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(t->root)) != 0) {
			suido_errf(err, errlen, "CRL %d is not issued by the trusted root",
				   sk_X509_CRL_num(got) + 1);
			rc = SUIDO_ERR_CERT;
			goto done;
		}
		if (X509_CRL_verify(crl, X509_get0_pubkey(t->root)) != 1) {
			ERR_clear_error();
			suido_errf(err, errlen, "CRL %d: signature does not verify with the "
						"trusted root's key",
				   sk_X509_CRL_num(got) + 1);
			rc = SUIDO_ERR_CERT;
			goto done;
		}
		if (!sk_X509_CRL_push(got, crl)) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		crl = NULL;
	}
	if (!pem_at_end()) {
		suido_errf(err, errlen, "malformed CRL %d in PEM", sk_X509_CRL_num(got) + 1);
		goto done;
	}
	if (sk_X509_CRL_num(got) == 0) {
		suido_errf(err, errlen, "no CRL in PEM");
		goto done;
	}
	/* All checked: now add, so a refused PEM leaves the trust as it was. */
	for (int i = 0; i < sk_X509_CRL_num(got); i++) {
		X509_CRL *c = sk_X509_CRL_value(got, i);
		if (X509_STORE_add_crl(t->store, c) != 1) {
			rc = ossl_fail(SUIDO_ERR_NOMEM, err, errlen, "X509_STORE_add_crl");
			goto done;
		}
		if (!X509_CRL_up_ref(c) || !sk_X509_CRL_push(t->crls, c)) {
			X509_CRL_free(c);
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
	}
	if (X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK) != 1) {
		rc = ossl_fail(SUIDO_ERR_NOMEM, err, errlen, "X509_STORE_set_flags");
		goto done;
	}
	rc = SUIDO_OK;
done:
	X509_CRL_free(crl);
	sk_X509_CRL_pop_free(got, X509_CRL_free);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int cert_trust_add_crl_file(struct cert_trust *t, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_path(path, &buf, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = cert_trust_add_crl_pem(t, buf, len, err, errlen);
	free(buf);
	return rc;
}

void cert_trust_free(struct cert_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	X509_free(t->root);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	free(t);
}

X509 *cert_trust_root(const struct cert_trust *t)
{
	return t->root;
}

X509_STORE *cert_trust_store(const struct cert_trust *t)
{
	return t->store;
}

/* ---- Verification. ---- */

/* "'CN'" of a name (its last commonName), or its one-line DN when it has no
 * usable CN. */
static void name_text(const X509_NAME *name, char *buf, size_t len)
{
	char dn[256];
	unsigned char *utf8 = NULL;
	int idx = -1, last = -1, n = -1;

	while (name && (idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0)
		last = idx;
	if (last >= 0)
		n = ASN1_STRING_to_UTF8(&utf8,
					X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
	if (n >= 0 && !memchr(utf8, '\0', (size_t)n)) {
		snprintf(buf, len, "'%.*s'", n, (const char *)utf8);
	} else {
		if (!name || !X509_NAME_oneline(name, dn, (int)sizeof dn))
			snprintf(dn, sizeof dn, "(unprintable name)");
		snprintf(buf, len, "'%s'", dn);
	}
	OPENSSL_free(utf8);
	ERR_clear_error();
}

static void describe(X509 *x, char *buf, size_t len)
{
	if (!x)
		snprintf(buf, len, "(unknown certificate)");
	else
		name_text(X509_get_subject_name(x), buf, len);
}

/* An ASN1_TIME as "2025-01-01T00:00:00Z". */
static void time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "(unreadable time)");
	ERR_clear_error();
}

static const char *crl_reason_name(long code)
{
	switch (code) {
	case CRL_REASON_UNSPECIFIED: return "unspecified";
	case CRL_REASON_KEY_COMPROMISE: return "keyCompromise";
	case CRL_REASON_CA_COMPROMISE: return "cACompromise";
	case CRL_REASON_AFFILIATION_CHANGED: return "affiliationChanged";
	case CRL_REASON_SUPERSEDED: return "superseded";
	case CRL_REASON_CESSATION_OF_OPERATION: return "cessationOfOperation";
	case CRL_REASON_CERTIFICATE_HOLD: return "certificateHold";
	case CRL_REASON_REMOVE_FROM_CRL: return "removeFromCRL";
	case CRL_REASON_PRIVILEGE_WITHDRAWN: return "privilegeWithdrawn";
	case CRL_REASON_AA_COMPROMISE: return "aACompromise";
	}
	return "unknown reason";
}

/* " on <date> (<reason>)" for x from the trust's CRLs, or "". */
static void revocation_text(const struct cert_trust *t, X509 *x, char *buf, size_t len)
{
	X509_REVOKED *rev = NULL;
	char when[40];

	buf[0] = '\0';
	for (int i = 0; i < sk_X509_CRL_num(t->crls) && !rev; i++)
		if (X509_CRL_get0_by_serial(sk_X509_CRL_value(t->crls, i), &rev,
					    X509_get0_serialNumber(x)) != 1)
			rev = NULL;
	if (rev) {
		ASN1_ENUMERATED *code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		long c = code ? ASN1_ENUMERATED_get(code) : CRL_REASON_UNSPECIFIED;

		time_text(X509_REVOKED_get0_revocationDate(rev), when, sizeof when);
		snprintf(buf, len, " on %s (%s)", when, crl_reason_name(c));
		ASN1_ENUMERATED_free(code);
	}
	ERR_clear_error();
}

static X509_CRL *newest_crl(const struct cert_trust *t)
{
	X509_CRL *best = NULL;

	for (int i = 0; i < sk_X509_CRL_num(t->crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(t->crls, i);
		if (!best || ASN1_TIME_compare(X509_CRL_get0_lastUpdate(best),
					       X509_CRL_get0_lastUpdate(c)) < 0)
			best = c;
	}
	return best;
}

static void chain_reason(const struct cert_trust *t, X509_STORE_CTX *ctx, char *reason,
			 size_t len)
{
	int e = X509_STORE_CTX_get_error(ctx);
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
	char who[300], root[300], iss[300], when[40], serial[CERT_SERIAL_HEX_SIZE], more[120];

	describe(x, who, sizeof who);
	describe(t->root, root, sizeof root);
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		time_text(x ? X509_get0_notAfter(x) : NULL, when, sizeof when);
		suido_errf(reason, len, "expired: certificate %s expired on %s", who, when);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		time_text(x ? X509_get0_notBefore(x) : NULL, when, sizeof when);
		suido_errf(reason, len, "not yet valid: certificate %s is valid from %s", who,
			   when);
		break;
	case X509_V_ERR_CERT_REVOKED:
		if (!x || cert_serial_hex(x, serial, sizeof serial) != SUIDO_OK)
			snprintf(serial, sizeof serial, "?");
		revocation_text(t, x, more, sizeof more);
		suido_errf(reason, len, "revoked: certificate %s, serial %s, was revoked%s", who,
			   serial, more);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		name_text(x ? X509_get_issuer_name(x) : NULL, iss, sizeof iss);
		suido_errf(reason, len,
			   "untrusted issuer: certificate %s is issued by %s, which does not "
			   "chain to the trusted root %s",
			   who, iss, root);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		suido_errf(reason, len,
			   "untrusted issuer: certificate %s is self-signed and is not the "
			   "trusted root %s",
			   who, root);
		break;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		suido_errf(reason, len,
			   "untrusted issuer: the signature on certificate %s does not verify "
			   "(issued by another CA of the same name, or tampered)",
			   who);
		break;
	case X509_V_ERR_INVALID_CA:
		suido_errf(reason, len, "untrusted issuer: certificate %s is not a CA", who);
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		/* OpenSSL forgets the CRL it judged once the check returns: the
		 * newest held is the one it used. */
		if (!crl)
			crl = newest_crl(t);
		time_text(crl ? X509_CRL_get0_nextUpdate(crl) : NULL, when, sizeof when);
		suido_errf(reason, len,
			   "CRL expired: the newest CRL of %s was due for renewal on %s; "
			   "revocation cannot be checked (install a current CRL)",
			   root, when);
		break;
	case X509_V_ERR_CRL_NOT_YET_VALID:
		time_text(crl ? X509_CRL_get0_lastUpdate(crl) : NULL, when, sizeof when);
		suido_errf(reason, len, "CRL not yet valid: the CRL of %s is issued at %s", root,
			   when);
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		suido_errf(reason, len, "no CRL: no CRL covers certificate %s", who);
		break;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
		suido_errf(reason, len,
			   "weak key: certificate %s has a %d-bit key (at least 2048-bit RSA "
			   "is required)",
			   who, x ? EVP_PKEY_get_bits(X509_get0_pubkey(x)) : 0);
		break;
	case X509_V_ERR_CA_MD_TOO_WEAK:
		suido_errf(reason, len,
			   "weak signature: certificate %s is signed with a digest weaker than "
			   "SHA-256",
			   who);
		break;
	default:
		suido_errf(reason, len, "refused: certificate %s: %s (error %d at depth %d)", who,
			   X509_verify_cert_error_string(e), e,
			   X509_STORE_CTX_get_error_depth(ctx));
		break;
	}
}

/* " digitalSignature keyEncipherment" etc. of the keyUsage bits present. */
static void ku_text(uint32_t ku, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },
		{ KU_KEY_CERT_SIGN, "keyCertSign" },
		{ KU_CRL_SIGN, "cRLSign" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int n;
		if (!(ku & names[i].bit))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? " " : "", names[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(buf, len, "none");
}

static int check_use(X509 *cert, enum cert_use use, char *reason, size_t len)
{
	uint32_t flags = X509_get_extension_flags(cert);
	int has_ku = (flags & EXFLAG_KUSAGE) != 0, has_xku = (flags & EXFLAG_XKUSAGE) != 0;
	uint32_t ku = X509_get_key_usage(cert), xku = X509_get_extended_key_usage(cert);
	const uint32_t dp = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
	char who[300], have[160];
	EVP_PKEY *pk = X509_get0_pubkey(cert);

	describe(cert, who, sizeof who);
	if (X509_check_ca(cert) != 0) {
		suido_errf(reason, len,
			   "wrong use: certificate %s is a CA certificate, not an end-entity "
			   "certificate",
			   who);
		return SUIDO_ERR_CERT;
	}
	switch (use) {
	case CERT_USE_DATA_PROTECTION:
		if (!has_ku || (ku & dp) != dp) {
			ku_text(has_ku ? ku : 0, have, sizeof have);
			suido_errf(reason, len,
				   "wrong use: certificate %s lacks keyUsage digitalSignature and "
				   "keyEncipherment, needed for data protection (it has: %s)",
				   who, have);
			return SUIDO_ERR_CERT;
		}
		if (!pk || !EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048) {
			suido_errf(reason, len,
				   "wrong use: data protection needs an RSA key of at least 2048 "
				   "bits; certificate %s has a %d-bit %s key",
				   who, pk ? EVP_PKEY_get_bits(pk) : 0,
				   pk && EVP_PKEY_is_a(pk, "RSA") ? "RSA" : "non-RSA");
			return SUIDO_ERR_CERT;
		}
		return SUIDO_OK;
	case CERT_USE_TLS_CLIENT:
	case CERT_USE_TLS_SERVER: {
		uint32_t want = use == CERT_USE_TLS_CLIENT ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
		const char *eku = use == CERT_USE_TLS_CLIENT ? "clientAuth" : "serverAuth";

		if (!has_xku || !(xku & want)) {
			suido_errf(reason, len,
				   "wrong use: certificate %s lacks extendedKeyUsage %s, needed "
				   "for use as a %s",
				   who, eku,
				   use == CERT_USE_TLS_CLIENT ? "TLS client" : "TLS server");
			return SUIDO_ERR_CERT;
		}
		if (has_ku && !(ku & KU_DIGITAL_SIGNATURE)) {
			ku_text(ku, have, sizeof have);
			suido_errf(reason, len,
				   "wrong use: certificate %s lacks keyUsage digitalSignature, "
				   "needed for TLS (it has: %s)",
				   who, have);
			return SUIDO_ERR_CERT;
		}
		return SUIDO_OK;
	}
	}
	suido_errf(reason, len, "wrong use: unknown use %d", (int)use);
	return SUIDO_ERR_CERT;
}

int cert_verify(const struct cert_trust *t, X509 *cert, STACK_OF(X509) *untrusted_chain,
		enum cert_use use, int64_t at_unix_ms, char *reason, size_t len)
{
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	int rc = SUIDO_ERR_NOMEM, r;

	suido_errf(reason, len, "%s", "");
	ctx = X509_STORE_CTX_new();
	if (!ctx)
		goto done;
	if (X509_STORE_CTX_init(ctx, t->store, cert, untrusted_chain) != 1)
		goto done;
	param = X509_STORE_CTX_get0_param(ctx);
	/* Floor division: an instant before 1970 is still the right second. */
	X509_VERIFY_PARAM_set_time(param, (time_t)(at_unix_ms >= 0 ? at_unix_ms / 1000
								 : -((-at_unix_ms + 999) / 1000)));
	X509_VERIFY_PARAM_set_auth_level(param, 2);
	r = X509_verify_cert(ctx);
	if (r != 1) {
		if (X509_STORE_CTX_get_error(ctx) == X509_V_ERR_OUT_OF_MEM) {
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		chain_reason(t, ctx, reason, len);
		rc = SUIDO_ERR_CERT;
		goto done;
	}
	rc = check_use(cert, use, reason, len);
done:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ---- Helpers. ---- */

int cert_fingerprint_sha256(const X509 *cert, char hex[CERT_FP_HEX_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	hex[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) {
		ERR_clear_error();
		return SUIDO_ERR_INVALID;
	}
	hex_encode(md, n, hex);
	return SUIDO_OK;
}

int cert_subject_cn(const X509 *cert, char *buf, size_t len)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int idx = -1, last = -1, n;
	int rc;

	if (len)
		buf[0] = '\0';
	while ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0)
		last = idx;
	if (last < 0)
		return SUIDO_ERR_NOTFOUND;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
	if (n < 0 || memchr(utf8, '\0', (size_t)n)) {
		rc = SUIDO_ERR_INVALID;
	} else if ((size_t)n >= len) {
		rc = SUIDO_ERR_LIMIT;
	} else {
		memcpy(buf, utf8, (size_t)n);
		buf[n] = '\0';
		rc = SUIDO_OK;
	}
	OPENSSL_free(utf8);
	ERR_clear_error();
	return rc;
}

int cert_serial_hex(const X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = NULL;
	int rc;

	if (len)
		buf[0] = '\0';
	if (!bn) {
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if (BN_is_negative(bn)) {
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	hex = BN_bn2hex(bn);
	if (!hex) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (strlen(hex) >= len) {
		rc = SUIDO_ERR_LIMIT;
		goto done;
	}
	memcpy(buf, hex, strlen(hex) + 1);
	rc = SUIDO_OK;
done:
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
	return rc;
}

/* Copies the contents of a memory BIO into a malloc'ed NUL-terminated buffer. */
static int bio_take(BIO *bio, char **out, size_t *len)
{
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	char *copy;

	if (n <= 0 || !p)
		return SUIDO_ERR_INVALID;
	copy = malloc((size_t)n + 1);
	if (!copy)
		return SUIDO_ERR_NOMEM;
	memcpy(copy, p, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	if (len)
		*len = (size_t)n;
	return SUIDO_OK;
}

int cert_pem_encode(const X509 *cert, char **out, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	*out = NULL;
	if (!bio) {
		ERR_clear_error();
		return SUIDO_ERR_NOMEM;
	}
	if (PEM_write_bio_X509(bio, cert) != 1)
		rc = SUIDO_ERR_INVALID;
	else
		rc = bio_take(bio, out, len);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int cert_key_pem_encode(const EVP_PKEY *key, char **out, size_t *len)
{
	/* secmem: its buffer is cleared on every growth and on free. */
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc;

	*out = NULL;
	if (!bio) {
		ERR_clear_error();
		return SUIDO_ERR_NOMEM;
	}
	if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
		rc = SUIDO_ERR_INVALID;
	else
		rc = bio_take(bio, out, len);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

void cert_key_pem_free(char *pem)
{
	if (pem)
		free_secret(pem, strlen(pem));
}
