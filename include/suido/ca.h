/*
 * The platform's own certificate authority: one self-signed RSA-3072 root kept
 * in a directory, issuing RSA-2048 end-entity certificates to the platform,
 * the gateways and the utilities' applications (for TLS client, TLS server
 * and data protection, see enum cert_use), revoking them and signing CRLs.
 * Every issued certificate is recorded in the index before it is handed out,
 * and every file is written durably (fsutil_write_atomic), so a crash never
 * leaves a certificate that the CA does not know about.
 *
 * Directory layout (files 0600, directories 0750; nothing else is read):
 *   ca.key        the root's private key, unencrypted PKCS#8 PEM, mode 0600;
 *                 ca_open refuses it when group or others may read it
 *   ca.crt        the root certificate, PEM: what every program trusts
 *   index.txt     one line per issued certificate, tab-separated, in issue
 *                 order, after a "#" header line:
 *                   status  V (valid) or R (revoked)
 *                   serial  uppercase hex
 *                   notBefore, notAfter   2026-01-01T00:00:00Z
 *                   revokedAt             time or "-"
 *                   reason                CRL reason name or "-"
 *                   profile               platform | gateway | application
 *                   uses                  e.g. tls-client,data-protection
 *                   sha256                certificate fingerprint, lowercase hex
 *                   cn                    subject commonName
 *   crlnumber     the number the next CRL gets, decimal
 *   certs/SERIAL.crt   a copy of each issued certificate, PEM
 *   .lock         held (flock) by the process that has the CA open
 *
 * A struct ca holds the directory's lock from ca_open to ca_close: one
 * process uses a CA at a time; another waits up to 10 s, then is refused.
 */
#ifndef SUIDO_CA_H
#define SUIDO_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "suido/cert.h"

/* Bounds of the days arguments, and of a common name (X.520 ub-common-name). */
#define CA_DAYS_MAX 36500
#define CA_CN_MAX 64
/* The most DNS names one certificate may carry. */
#define CA_DNS_MAX 32
/* A serial as written by ca_issue: uppercase hex of 16 octets at most + NUL. */
#define CA_SERIAL_HEX_SIZE CERT_SERIAL_HEX_SIZE

/*
 * Who a certificate is for; recorded as the subject's OU and in the index.
 * Typical uses: PLATFORM tls-server (AP/GW interfaces) + data-protection;
 * GATEWAY tls-client (to the platform's broker) + data-protection;
 * APPLICATION tls-client + data-protection. Any set of uses is allowed for
 * any profile: an application that serves its URL to the platform also
 * needs tls-server.
 */
enum ca_profile {
	CA_PROFILE_PLATFORM,
	CA_PROFILE_GATEWAY,
	CA_PROFILE_APPLICATION,
};

/* RFC 5280 reason codes a revocation may carry (certificateHold is not
 * offered: a revocation here is final). */
enum ca_reason {
	CA_REASON_UNSPECIFIED = 0,
	CA_REASON_KEY_COMPROMISE = 1,
	CA_REASON_AFFILIATION_CHANGED = 3,
	CA_REASON_SUPERSEDED = 4,
	CA_REASON_CESSATION_OF_OPERATION = 5,
	CA_REASON_PRIVILEGE_WITHDRAWN = 9,
};

struct ca;

/* "platform", "gateway", "application"; "?" otherwise. */
const char *ca_profile_name(enum ca_profile p);
/* Parses a profile name. SUIDO_OK or SUIDO_ERR_INVALID. */
int ca_profile_parse(const char *name, enum ca_profile *out);

/* RFC 5280 names: "unspecified", "keyCompromise", "affiliationChanged",
 * "superseded", "cessationOfOperation", "privilegeWithdrawn"; "?" otherwise. */
const char *ca_reason_name(enum ca_reason r);
/* Parses a reason name, case-insensitively, also written with hyphens
 * ("key-compromise"). SUIDO_OK or SUIDO_ERR_INVALID. */
int ca_reason_parse(const char *name, enum ca_reason *out);

/*
 * Creates a CA in dir (created with parents when missing): an RSA-3072 key,
 * a self-signed root certificate with subject CN=common_name (1..CA_CN_MAX
 * bytes, no control characters), valid from 5 minutes ago for days
 * (1..CA_DAYS_MAX) days, basicConstraints critical CA:TRUE pathlen:0,
 * keyUsage critical keyCertSign cRLSign, an empty index and CRL number 1.
 * Returns SUIDO_OK; SUIDO_ERR_EXISTS when dir already holds any of ca.key,
 * ca.crt, index.txt, crlnumber (nothing is touched then); SUIDO_ERR_INVALID
 * (bad name or days); SUIDO_ERR_IO / _FULL (cannot write; a partial CA may
 * remain and is refused by both ca_init and ca_open: remove it);
 * SUIDO_ERR_CERT (OpenSSL refused to build the certificate); SUIDO_ERR_NOMEM.
 * Detail in err. When fp_hex is not NULL it gets the root's SHA-256
 * fingerprint (lowercase hex), for the operator to publish.
 */
int ca_init(const char *dir, const char *common_name, int days, char fp_hex[CERT_FP_HEX_SIZE],
	    char *err, size_t errlen);

/*
 * Opens the CA in dir: takes its lock, loads the key and root (checking that
 * they pair), the index and the CRL number. Returns SUIDO_OK and *out (caller
 * frees with ca_close); SUIDO_ERR_NOTFOUND (no CA there: a file is missing);
 * SUIDO_ERR_PERM (ca.key readable by group or others); SUIDO_ERR_INVALID
 * (a malformed file: the detail names file and line; or dir too long);
 * SUIDO_ERR_CERT (key and certificate do not pair); SUIDO_ERR_IO (unreadable,
 * or locked by another process for more than 10 s); SUIDO_ERR_NOMEM. Detail
 * in err.
 */
int ca_open(const char *dir, struct ca **out, char *err, size_t errlen);

/* Releases the lock and frees (the key zeroed); tolerates NULL. */
void ca_close(struct ca *ca);

/* The root certificate, borrowed until ca_close. */
X509 *ca_cert(const struct ca *ca);

/*
 * Issues a certificate valid from 5 minutes ago for days days (1..CA_DAYS_MAX),
 * as ca_issue_validity.
 */
int ca_issue(struct ca *ca, enum ca_profile profile, unsigned uses, const char *cn,
	     const char *const *dns_names, int days, char **key_pem, char **cert_pem,
	     char serial_hex[CA_SERIAL_HEX_SIZE], char *err, size_t errlen);

/*
 * Generates an RSA-2048 key and issues for it a certificate with subject
 * OU=<profile>, CN=cn (1..CA_CN_MAX bytes, no control characters), valid from
 * not_before to not_after (Unix seconds; not_before < not_after, and
 * not_after no later than the root's own notAfter; a window entirely in the
 * past or future is allowed, for tests and for staged roll-outs), a random
 * positive 128-bit serial, SHA-256 signature, and the extensions
 *   basicConstraints    critical, CA:FALSE
 *   keyUsage            critical: digitalSignature, plus keyEncipherment for
 *                       data-protection (not for TLS alone: TLS 1.2 RSA key
 *                       transport, which would need it, has no forward secrecy,
 *                       and leaving it out keeps a TLS-only certificate from
 *                       passing as a data-protection one)
 *   extendedKeyUsage    clientAuth for tls-client, serverAuth for tls-server
 *                       (absent when the only use is data-protection)
 *   subjectAltName      DNS:<each of dns_names> (IP:<it> for an IPv4 or IPv6
 *                       literal); for tls-server also DNS:cn when cn is a
 *                       host name, and IP:127.0.0.1
 *   subjectKeyIdentifier, authorityKeyIdentifier
 * uses is a nonzero OR of enum cert_use bits. dns_names is a NULL-terminated
 * array (may be NULL) of at most CA_DNS_MAX host names (letters, digits,
 * hyphens, dots; no wildcards) or IP address literals.
 *
 * The certificate is recorded in the index (and certs/) durably before this
 * returns. On SUIDO_OK *key_pem (unencrypted PKCS#8; caller frees with
 * cert_key_pem_free), *cert_pem (caller frees with free) and serial_hex are
 * set. Returns SUIDO_ERR_INVALID (bad argument), SUIDO_ERR_CERT (OpenSSL
 * refused to build or sign), SUIDO_ERR_IO / _FULL (the record could not be
 * written: nothing is handed out), SUIDO_ERR_NOMEM; detail in err.
 */
int ca_issue_validity(struct ca *ca, enum ca_profile profile, unsigned uses, const char *cn,
		      const char *const *dns_names, int64_t not_before, int64_t not_after,
		      char **key_pem, char **cert_pem, char serial_hex[CA_SERIAL_HEX_SIZE],
		      char *err, size_t errlen);

/*
 * Marks the certificate with serial_hex (hex digits, any case, colons and
 * leading zeros ignored) revoked now, for reason, durably; it appears in
 * every later CRL. Returns SUIDO_OK; SUIDO_ERR_NOTFOUND (no certificate of
 * this CA has that serial); SUIDO_ERR_EXISTS (already revoked); SUIDO_ERR_INVALID
 * (not a hex serial); SUIDO_ERR_IO / _FULL (not recorded: not revoked);
 * SUIDO_ERR_NOMEM. Detail in err.
 */
int ca_revoke(struct ca *ca, const char *serial_hex, enum ca_reason reason, char *err,
	      size_t errlen);

/*
 * Signs a v2 CRL (SHA-256) listing every revoked certificate with its date and
 * reason (reasonCode omitted for unspecified), thisUpdate now, nextUpdate in
 * days days (1..CA_DAYS_MAX), as ca_crl_validity.
 */
int ca_crl(struct ca *ca, int days, char **crl_pem, char *err, size_t errlen);

/*
 * As ca_crl with explicit thisUpdate and nextUpdate (Unix seconds,
 * this_update < next_update). The CRL number is taken from crlnumber, which
 * is advanced durably before the CRL is signed, so no two CRLs ever share a
 * number. On SUIDO_OK *crl_pem is a malloc'ed PEM (caller frees with free).
 * Returns SUIDO_ERR_INVALID (bad times), SUIDO_ERR_CERT (OpenSSL refused to
 * sign), SUIDO_ERR_IO / _FULL, SUIDO_ERR_NOMEM; detail in err.
 */
int ca_crl_validity(struct ca *ca, int64_t this_update, int64_t next_update, char **crl_pem,
		    char *err, size_t errlen);

#endif
