/*
 * Unit tests of cert.h: PEM loading (keys, certificates, chains, files, caps,
 * encrypted keys refused), the trust store (root checks, CRLs of another CA
 * refused), and cert_verify's decisions with their reasons: a good
 * certificate for its uses, another CA (also one of the same name), expired,
 * not yet valid, revoked, an expired CRL, wrong use, a CA or self-signed
 * certificate as leaf, a weak key. Certificates come from a real CA made
 * with ca.h; the odd ones are built here with OpenSSL and signed by its key.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "suido/ca.h"
#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/timeutil.h"

#define DAY_MS (86400 * INT64_C(1000))

static char g_tmp[64];
static char g_dir_a[96], g_dir_b[96], g_dir_c[96];
static struct cert_trust *g_trust;    /* CA A, no CRL */
static EVP_PKEY *g_root_key;          /* CA A's key, to sign odd certificates */
static X509 *g_root;                  /* CA A's certificate */
static X509 *g_gw, *g_srv, *g_dp;     /* A: tls-client+dp, tls-server, dp only */
static X509 *g_other_b, *g_other_c;   /* B (other name), C (same name as A) */
static char *g_gw_pem, *g_gw_key_pem, *g_root_pem;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void assert_contains(const char *s, const char *sub)
{
	if (!strstr(s, sub))
		fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

static X509 *parse(const char *pem)
{
	X509 *x = NULL;
	char err[256] = "";

	if (cert_load_pem(pem, strlen(pem), &x, err, sizeof err) != SUIDO_OK)
		fail_msg("cert_load_pem: %s", err);
	return x;
}

/* Issues from the CA in dir; returns the certificate, optionally its PEMs. */
static X509 *issue(const char *dir, enum ca_profile p, unsigned uses, const char *cn,
		   char **cert_pem_out, char **key_pem_out)
{
	struct ca *ca = NULL;
	char *key_pem = NULL, *cert_pem = NULL, err[256] = "", serial[CA_SERIAL_HEX_SIZE];
	X509 *x;

	if (ca_open(dir, &ca, err, sizeof err) != SUIDO_OK ||
	    ca_issue(ca, p, uses, cn, NULL, 365, &key_pem, &cert_pem, serial, err, sizeof err) !=
		    SUIDO_OK)
		fail_msg("issue %s: %s", cn, err);
	ca_close(ca);
	x = parse(cert_pem);
	if (cert_pem_out)
		*cert_pem_out = cert_pem;
	else
		free(cert_pem);
	if (key_pem_out)
		*key_pem_out = key_pem;
	else
		cert_key_pem_free(key_pem);
	return x;
}

static int group_setup(void **state)
{
	char err[256] = "", path[128];
	size_t len;

	snprintf(g_tmp, sizeof g_tmp, "/tmp/suido-test-cert-XXXXXX");
	if (!mkdtemp(g_tmp))
		return -1;
	snprintf(g_dir_a, sizeof g_dir_a, "%s/a", g_tmp);
	snprintf(g_dir_b, sizeof g_dir_b, "%s/b", g_tmp);
	snprintf(g_dir_c, sizeof g_dir_c, "%s/c", g_tmp);
	if (ca_init(g_dir_a, "Suido Test Root", 3650, NULL, err, sizeof err) != SUIDO_OK ||
	    ca_init(g_dir_b, "Other Root", 3650, NULL, err, sizeof err) != SUIDO_OK ||
	    ca_init(g_dir_c, "Suido Test Root", 3650, NULL, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "ca_init: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof path, "%s/ca.crt", g_dir_a);
	if (cert_trust_new_file(path, &g_trust, err, sizeof err) != SUIDO_OK ||
	    fsutil_read_file(g_dir_a, "ca.crt", 1 << 20, &g_root_pem, &len, err, sizeof err) !=
		    SUIDO_OK) {
		fprintf(stderr, "trust: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof path, "%s/ca.key", g_dir_a);
	if (cert_key_load_file(path, &g_root_key, err, sizeof err) != SUIDO_OK)
		return -1;
	g_root = cert_trust_root(g_trust);
	g_gw = issue(g_dir_a, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT | CERT_USE_DATA_PROTECTION,
		     "gw-001", &g_gw_pem, &g_gw_key_pem);
	g_srv = issue(g_dir_a, CA_PROFILE_PLATFORM, CERT_USE_TLS_SERVER, "platform.example", NULL,
		      NULL);
	g_dp = issue(g_dir_a, CA_PROFILE_APPLICATION, CERT_USE_DATA_PROTECTION, "app-dp", NULL,
		     NULL);
	g_other_b = issue(g_dir_b, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-b", NULL, NULL);
	g_other_c = issue(g_dir_c, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-c", NULL, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	X509_free(g_gw);
	X509_free(g_srv);
	X509_free(g_dp);
	X509_free(g_other_b);
	X509_free(g_other_c);
	EVP_PKEY_free(g_root_key);
	cert_trust_free(g_trust);
	free(g_gw_pem);
	free(g_root_pem);
	cert_key_pem_free(g_gw_key_pem);
	nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A certificate built by hand: signed by issuer_key (self-signed when issuer
 * is NULL), subject CN cn (none when NULL), keyUsage ku and
 * extendedKeyUsage eku when not NULL, CA:TRUE when ca. Valid for a day. */
static X509 *make_cert(X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key, const char *cn,
		       const char *ku, const char *eku, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	X509V3_CTX v3;
	time_t now = time(NULL);
	const char *pairs[][2] = { { "basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE" },
				   { "keyUsage", ku }, { "extendedKeyUsage", eku },
				   { "subjectKeyIdentifier", "hash" } };

	assert_non_null(x);
	assert_int_equal(ASN1_INTEGER_set(sn, (long)(rand() & 0xffffff) + 1), 1);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(X509_set_serialNumber(x, sn), 1);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	else
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
							    (const unsigned char *)"no cn", -1, -1,
							    0),
				 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), now - 60));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), now + 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		X509_EXTENSION *e;
		if (!pairs[i][1])
			continue;
		e = X509V3_EXT_nconf(NULL, &v3, pairs[i][0], pairs[i][1]);
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	if (issuer) {
		X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &v3, "authorityKeyIdentifier", "keyid");
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	return x;
}

static int verify(struct cert_trust *t, X509 *x, enum cert_use use, int64_t at, char *reason,
		  size_t len)
{
	return cert_verify(t, x, NULL, use, at, reason, len);
}

static char *crl_from(const char *dir, int64_t this_update, int64_t next_update)
{
	struct ca *ca = NULL;
	char *pem = NULL, err[256] = "";

	if (ca_open(dir, &ca, err, sizeof err) != SUIDO_OK ||
	    ca_crl_validity(ca, this_update, next_update, &pem, err, sizeof err) != SUIDO_OK)
		fail_msg("crl: %s", err);
	ca_close(ca);
	return pem;
}

static struct cert_trust *fresh_trust(void)
{
	struct cert_trust *t = NULL;
	char err[256] = "";

	assert_int_equal(cert_trust_new_pem(g_root_pem, strlen(g_root_pem), &t, err, sizeof err),
			 SUIDO_OK);
	return t;
}

/* "2027-01-01T00:00:00Z" for t. */
static void iso(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	assert_true(strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
}

/* ---- Loading. ---- */

static void test_load_key(void **state)
{
	char err[256] = "", *enc = NULL, *big;
	EVP_PKEY *key = NULL;
	BIO *b;
	long n;

	assert_int_equal(cert_key_load_pem(g_gw_key_pem, strlen(g_gw_key_pem), &key, err,
					   sizeof err), SUIDO_OK);
	assert_true(cert_key_matches(g_gw, key));
	assert_false(cert_key_matches(g_srv, key));

	/* an encrypted key is refused, without prompting */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), "secret", 6,
						       NULL, NULL), 1);
	n = BIO_get_mem_data(b, &enc);
	EVP_PKEY_free(key);
	key = NULL;
	assert_int_equal(cert_key_load_pem(enc, (size_t)n, &key, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(key);
	assert_contains(err, "encrypted");
	BIO_free(b);

	assert_int_equal(cert_key_load_pem("garbage", 7, &key, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(cert_key_load_pem(g_gw_pem, strlen(g_gw_pem), &key, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(key);

	big = calloc(1, (size_t)CERT_PEM_MAX + 2);
	assert_non_null(big);
	memcpy(big, g_gw_key_pem, strlen(g_gw_key_pem));
	assert_int_equal(cert_key_load_pem(big, (size_t)CERT_PEM_MAX + 1, &key, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_contains(err, "limit");
	free(big);
}

static void test_load_cert(void **state)
{
	char err[256] = "", buf[16384];
	X509 *x = NULL;

	/* text around the block, and a key before it, are ignored */
	snprintf(buf, sizeof buf, "subject: gw-001\n%s%s\ntrailer\n", g_gw_key_pem, g_gw_pem);
	assert_int_equal(cert_load_pem(buf, strlen(buf), &x, err, sizeof err), SUIDO_OK);
	assert_int_equal(X509_cmp(x, g_gw), 0);
	X509_free(x);
	x = NULL;

	snprintf(buf, sizeof buf, "%s%s", g_gw_pem, g_root_pem);
	assert_int_equal(cert_load_pem(buf, strlen(buf), &x, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "more than one");
	assert_null(x);

	assert_int_equal(cert_load_pem("", 0, &x, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(buf, sizeof buf, "%s", g_gw_pem);
	buf[strlen(buf) / 2] = '\0'; /* truncated */
	assert_int_equal(cert_load_pem(buf, strlen(buf), &x, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(buf, sizeof buf, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	assert_int_equal(cert_load_pem(buf, strlen(buf), &x, err, sizeof err), SUIDO_ERR_INVALID);
	assert_null(x);
}

static void test_load_chain(void **state)
{
	char err[256] = "", buf[16384], *many;
	STACK_OF(X509) *sk = NULL;
	size_t one = strlen(g_gw_pem);

	snprintf(buf, sizeof buf, "%s%s", g_gw_pem, g_root_pem);
	assert_int_equal(cert_chain_load_pem(buf, strlen(buf), &sk, err, sizeof err), SUIDO_OK);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), g_gw), 0);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 1), g_root), 0);
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;

	assert_int_equal(cert_chain_load_pem("no pem", 6, &sk, err, sizeof err), SUIDO_ERR_INVALID);
	snprintf(buf, sizeof buf, "%s-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		 g_gw_pem);
	assert_int_equal(cert_chain_load_pem(buf, strlen(buf), &sk, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_contains(err, "certificate 2");
	assert_null(sk);

	many = malloc(one * (CERT_CHAIN_MAX + 1) + 1);
	assert_non_null(many);
	for (int i = 0; i <= CERT_CHAIN_MAX; i++)
		memcpy(many + (size_t)i * one, g_gw_pem, one);
	many[one * (CERT_CHAIN_MAX + 1)] = '\0';
	assert_int_equal(cert_chain_load_pem(many, strlen(many), &sk, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(sk);
	assert_int_equal(cert_chain_load_pem(many, one * CERT_CHAIN_MAX, &sk, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(sk_X509_num(sk), CERT_CHAIN_MAX);
	sk_X509_pop_free(sk, X509_free);
	free(many);
}

static void test_load_files(void **state)
{
	char dir[128], path[160], link[160], err[256] = "";
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *sk = NULL;
	struct cert_trust *t = NULL;

	snprintf(dir, sizeof dir, "%s/files", g_tmp);
	assert_int_equal(fsutil_mkdirs(dir, err, sizeof err), SUIDO_OK);
	assert_int_equal(fsutil_write_atomic(dir, "gw.crt", g_gw_pem, strlen(g_gw_pem), err,
					     sizeof err), SUIDO_OK);
	assert_int_equal(fsutil_write_atomic(dir, "gw.key", g_gw_key_pem, strlen(g_gw_key_pem), err,
					     sizeof err), SUIDO_OK);
	snprintf(path, sizeof path, "%s/gw.crt", dir);
	snprintf(link, sizeof link, "%s/link.crt", dir);
	assert_int_equal(symlink(path, link), 0);

	assert_int_equal(cert_load_file(link, &x, err, sizeof err), SUIDO_OK);
	assert_int_equal(X509_cmp(x, g_gw), 0);
	X509_free(x);
	assert_int_equal(cert_chain_load_file(path, &sk, err, sizeof err), SUIDO_OK);
	assert_int_equal(sk_X509_num(sk), 1);
	sk_X509_pop_free(sk, X509_free);
	snprintf(path, sizeof path, "%s/gw.key", dir);
	assert_int_equal(cert_key_load_file(path, &key, err, sizeof err), SUIDO_OK);
	assert_true(cert_key_matches(g_gw, key));
	EVP_PKEY_free(key);

	snprintf(path, sizeof path, "%s/missing.crt", dir);
	assert_int_equal(cert_load_file(path, &x, err, sizeof err), SUIDO_ERR_NOTFOUND);
	assert_int_equal(cert_key_load_file(path, &key, err, sizeof err), SUIDO_ERR_NOTFOUND);
	assert_int_equal(cert_trust_new_file(path, &t, err, sizeof err), SUIDO_ERR_NOTFOUND);
	assert_int_equal(cert_trust_add_crl_file(g_trust, path, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(cert_load_file(dir, &x, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "not a regular file");
}

/* ---- Trust store. ---- */

static void test_trust_root_checks(void **state)
{
	struct cert_trust *t = NULL;
	char err[256] = "", *pem = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	X509 *sub;

	assert_int_equal(cert_trust_new_pem(g_gw_pem, strlen(g_gw_pem), &t, err, sizeof err),
			 SUIDO_ERR_CERT);
	assert_contains(err, "not a CA");
	assert_null(t);

	/* a CA certificate that is not self-signed (an intermediate) */
	sub = make_cert(g_root, g_root_key, k, "Sub CA", "critical,keyCertSign,cRLSign", NULL, 1);
	assert_int_equal(cert_pem_encode(sub, &pem, NULL), SUIDO_OK);
	assert_int_equal(cert_trust_new_pem(pem, strlen(pem), &t, err, sizeof err), SUIDO_ERR_CERT);
	assert_contains(err, "not self-signed");
	free(pem);
	X509_free(sub);
	EVP_PKEY_free(k);
	assert_int_equal(X509_cmp(cert_trust_root(g_trust), g_root), 0);
	assert_non_null(cert_trust_store(g_trust));
}

static void test_trust_refuses_foreign_crl(void **state)
{
	struct cert_trust *t = fresh_trust();
	int64_t now = (int64_t)time(NULL);
	char *crl_b = crl_from(g_dir_b, now, now + 86400);
	char *crl_c = crl_from(g_dir_c, now, now + 86400);
	char err[256] = "", reason[512];

	assert_int_equal(cert_trust_add_crl_pem(t, crl_b, strlen(crl_b), err, sizeof err),
			 SUIDO_ERR_CERT);
	assert_contains(err, "not issued by the trusted root");
	/* same issuer name, other key */
	assert_int_equal(cert_trust_add_crl_pem(t, crl_c, strlen(crl_c), err, sizeof err),
			 SUIDO_ERR_CERT);
	assert_contains(err, "signature");
	assert_int_equal(cert_trust_add_crl_pem(t, "x", 1, err, sizeof err), SUIDO_ERR_INVALID);
	/* nothing was added: no CRL is demanded */
	assert_int_equal(verify(t, g_gw, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_OK);
	free(crl_b);
	free(crl_c);
	cert_trust_free(t);
}

/* ---- Verification. ---- */

static void test_verify_good_and_uses(void **state)
{
	char reason[512];
	int64_t now = timeutil_now_ms();

	assert_int_equal(verify(g_trust, g_gw, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_OK);
	assert_string_equal(reason, "");
	assert_int_equal(verify(g_trust, g_gw, CERT_USE_DATA_PROTECTION, now, reason,
				sizeof reason), SUIDO_OK);
	assert_int_equal(verify(g_trust, g_srv, CERT_USE_TLS_SERVER, now, reason, sizeof reason),
			 SUIDO_OK);

	assert_int_equal(verify(g_trust, g_gw, CERT_USE_TLS_SERVER, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "wrong use");
	assert_contains(reason, "serverAuth");
	assert_contains(reason, "'gw-001'");
	assert_int_equal(verify(g_trust, g_srv, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "clientAuth");
	assert_int_equal(verify(g_trust, g_srv, CERT_USE_DATA_PROTECTION, now, reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "keyEncipherment");
	/* no extendedKeyUsage at all is not a TLS client (OpenSSL's purpose would pass it) */
	assert_int_equal(verify(g_trust, g_dp, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "lacks extendedKeyUsage clientAuth");
}

static void test_verify_other_ca(void **state)
{
	char reason[512];
	int64_t now = timeutil_now_ms();
	STACK_OF(X509) *chain = sk_X509_new_null();
	char path[128], err[256];
	X509 *root_b = NULL;

	assert_int_equal(verify(g_trust, g_other_b, CERT_USE_TLS_CLIENT, now, reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "untrusted issuer");
	assert_contains(reason, "Other Root");
	assert_contains(reason, "'gw-b'");
	/* same name as our root, different key */
	assert_int_equal(verify(g_trust, g_other_c, CERT_USE_TLS_CLIENT, now, reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "untrusted issuer");
	/* handing the other root in as "untrusted chain" does not make it trusted */
	snprintf(path, sizeof path, "%s/ca.crt", g_dir_b);
	assert_int_equal(cert_load_file(path, &root_b, err, sizeof err), SUIDO_OK);
	assert_int_equal(sk_X509_push(chain, root_b), 1);
	assert_int_equal(cert_verify(g_trust, g_other_b, chain, CERT_USE_TLS_CLIENT, now, reason,
				     sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "untrusted issuer");
	sk_X509_pop_free(chain, X509_free);
}

static void test_verify_expired_and_not_yet_valid(void **state)
{
	char reason[512], when[40], err[256] = "", *kp = NULL, *cp = NULL;
	char serial[CA_SERIAL_HEX_SIZE];
	int64_t now = (int64_t)time(NULL);
	struct ca *ca = NULL;
	X509 *old, *future;

	/* our certificate, judged a year and a month from now */
	iso(X509_get0_notAfter(g_gw), when, sizeof when);
	assert_int_equal(verify(g_trust, g_gw, CERT_USE_TLS_CLIENT, timeutil_now_ms() + 400 * DAY_MS,
				reason, sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "expired");
	assert_contains(reason, when);
	assert_contains(reason, "'gw-001'");

	/* issued with a validity entirely in the past, judged now */
	assert_int_equal(ca_open(g_dir_a, &ca, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_issue_validity(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-old",
					   NULL, now - 730 * 86400, now - 365 * 86400, &kp, &cp,
					   serial, err, sizeof err), SUIDO_OK);
	old = parse(cp);
	cert_key_pem_free(kp);
	free(cp);
	iso(X509_get0_notAfter(old), when, sizeof when);
	assert_int_equal(verify(g_trust, old, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "expired: certificate 'gw-old' expired on ");
	assert_contains(reason, when);
	/* back then the root itself was not yet valid: the reason names it */
	assert_int_equal(verify(g_trust, old, CERT_USE_TLS_CLIENT,
				(now - 500 * 86400) * INT64_C(1000), reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "not yet valid");
	assert_contains(reason, "Suido Test Root");

	/* staged: valid from tomorrow */
	assert_int_equal(ca_issue_validity(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-next",
					   NULL, now + 86400, now + 2 * 86400, &kp, &cp, serial,
					   err, sizeof err), SUIDO_OK);
	future = parse(cp);
	cert_key_pem_free(kp);
	free(cp);
	ca_close(ca);
	iso(X509_get0_notBefore(future), when, sizeof when);
	assert_int_equal(verify(g_trust, future, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "not yet valid: certificate 'gw-next' is valid from ");
	assert_contains(reason, when);
	assert_int_equal(verify(g_trust, future, CERT_USE_TLS_CLIENT,
				timeutil_now_ms() + 36 * 3600 * INT64_C(1000), reason,
				sizeof reason), SUIDO_OK);
	X509_free(old);
	X509_free(future);
}

static void test_verify_revoked(void **state)
{
	char reason[512], err[256] = "", *kp = NULL, *cp = NULL, serial[CA_SERIAL_HEX_SIZE];
	int64_t now = (int64_t)time(NULL);
	struct ca *ca = NULL;
	struct cert_trust *t;
	char *crl_before, *crl_after;
	X509 *x;

	assert_int_equal(ca_open(g_dir_a, &ca, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-revoked", NULL,
				  30, &kp, &cp, serial, err, sizeof err), SUIDO_OK);
	x = parse(cp);
	cert_key_pem_free(kp);
	free(cp);
	assert_int_equal(ca_crl_validity(ca, now - 100, now + 86400, &crl_before, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(ca_revoke(ca, serial, CA_REASON_KEY_COMPROMISE, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(ca_crl_validity(ca, now - 10, now + 86400, &crl_after, err, sizeof err),
			 SUIDO_OK);
	ca_close(ca);

	/* before the revocation is published the certificate passes */
	t = fresh_trust();
	assert_int_equal(cert_trust_add_crl_pem(t, crl_before, strlen(crl_before), err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(verify(t, x, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_OK);
	/* the newer CRL decides, whatever the order they were added in */
	assert_int_equal(cert_trust_add_crl_pem(t, crl_after, strlen(crl_after), err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(verify(t, x, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "revoked");
	assert_contains(reason, serial);
	assert_contains(reason, "keyCompromise");
	assert_contains(reason, "'gw-revoked'");
	/* the others are still good with that CRL */
	assert_int_equal(verify(t, g_gw, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_OK);
	cert_trust_free(t);

	t = fresh_trust();
	assert_int_equal(cert_trust_add_crl_pem(t, crl_after, strlen(crl_after), err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(cert_trust_add_crl_pem(t, crl_before, strlen(crl_before), err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(verify(t, x, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "revoked");
	cert_trust_free(t);
	free(crl_before);
	free(crl_after);
	X509_free(x);
}

static void test_verify_crl_expired(void **state)
{
	int64_t now = (int64_t)time(NULL);
	char *crl = crl_from(g_dir_a, now - 10 * 86400, now - 86400);
	struct cert_trust *t = fresh_trust();
	char reason[512], err[256] = "";

	assert_int_equal(cert_trust_add_crl_pem(t, crl, strlen(crl), err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(t, g_gw, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_ERR_CERT);
	assert_contains(reason, "CRL expired");
	{
		char when[40];
		time_t due = (time_t)(now - 86400);
		assert_true(strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&due)) > 0);
		assert_contains(reason, when);
	}
	free(crl);
	/* installing a current CRL beside it lifts the refusal */
	crl = crl_from(g_dir_a, now - 60, now + 86400);
	assert_int_equal(cert_trust_add_crl_pem(t, crl, strlen(crl), err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(t, g_gw, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				sizeof reason), SUIDO_OK);
	cert_trust_free(t);
	free(crl);
}

static void test_verify_odd_certificates(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char reason[512];
	int64_t now = timeutil_now_ms();
	X509 *x;

	assert_non_null(small);
	assert_non_null(ec);

	/* the root itself is not an end-entity certificate */
	assert_int_equal(verify(g_trust, g_root, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "CA certificate");

	/* self-signed */
	x = make_cert(NULL, ec, ec, "selfie", "critical,digitalSignature", "clientAuth", 0);
	assert_int_equal(verify(g_trust, x, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "untrusted issuer");
	assert_contains(reason, "self-signed");
	X509_free(x);

	/* a 1024-bit RSA key, properly signed by our root */
	x = make_cert(g_root, g_root_key, small, "weak", "critical,digitalSignature", "clientAuth",
		      0);
	assert_int_equal(verify(g_trust, x, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "weak key");
	assert_contains(reason, "1024");
	X509_free(x);

	/* an EC key: fine for TLS, not for data protection (RSA key transport) */
	x = make_cert(g_root, g_root_key, ec, "ec-app",
		      "critical,digitalSignature,keyEncipherment", "clientAuth", 0);
	assert_int_equal(verify(g_trust, x, CERT_USE_TLS_CLIENT, now, reason, sizeof reason),
			 SUIDO_OK);
	assert_int_equal(verify(g_trust, x, CERT_USE_DATA_PROTECTION, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "RSA key");
	X509_free(x);

	/* TLS with an extendedKeyUsage but a keyUsage without digitalSignature */
	x = make_cert(g_root, g_root_key, ec, "ku-bad",
		      "critical,keyAgreement", "serverAuth", 0);
	assert_int_equal(verify(g_trust, x, CERT_USE_TLS_SERVER, now, reason, sizeof reason),
			 SUIDO_ERR_CERT);
	assert_contains(reason, "digitalSignature");
	assert_contains(reason, "keyAgreement");
	X509_free(x);

	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
}

/* ---- Helpers. ---- */

static void test_helpers(void **state)
{
	unsigned char *der = NULL, md[32];
	char fp[CERT_FP_HEX_SIZE], want[CERT_FP_HEX_SIZE], buf[128], serial[CERT_SERIAL_HEX_SIZE];
	char *pem = NULL, *kpem = NULL;
	int n = i2d_X509(g_gw, &der);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(g_gw), NULL);
	char *bnhex = BN_bn2hex(bn);
	EVP_PKEY *key = NULL, *k2 = NULL;
	size_t len = 0;
	X509 *x;

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(cert_fingerprint_sha256(g_gw, fp), SUIDO_OK);
	assert_string_equal(fp, want);
	OPENSSL_free(der);

	assert_int_equal(cert_serial_hex(g_gw, serial, sizeof serial), SUIDO_OK);
	assert_string_equal(serial, bnhex);
	assert_int_equal(cert_serial_hex(g_gw, buf, 4), SUIDO_ERR_LIMIT);
	OPENSSL_free(bnhex);
	BN_free(bn);

	assert_int_equal(cert_subject_cn(g_gw, buf, sizeof buf), SUIDO_OK);
	assert_string_equal(buf, "gw-001");
	assert_int_equal(cert_subject_cn(g_gw, buf, 6), SUIDO_ERR_LIMIT);
	assert_string_equal(buf, "");
	assert_int_equal(cert_subject_cn(g_gw, buf, 7), SUIDO_OK);

	/* a Japanese name survives as UTF-8 */
	x = issue(g_dir_a, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "浄水場ゲートウェイ1", NULL, NULL);
	assert_int_equal(cert_subject_cn(x, buf, sizeof buf), SUIDO_OK);
	assert_string_equal(buf, "浄水場ゲートウェイ1");
	X509_free(x);

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	x = make_cert(NULL, key, key, NULL, NULL, NULL, 0);
	assert_int_equal(cert_subject_cn(x, buf, sizeof buf), SUIDO_ERR_NOTFOUND);
	X509_free(x);

	/* PEM round trips */
	assert_int_equal(cert_pem_encode(g_gw, &pem, &len), SUIDO_OK);
	assert_int_equal(len, strlen(pem));
	assert_string_equal(pem, g_gw_pem);
	free(pem);
	assert_int_equal(cert_key_pem_encode(key, &kpem, &len), SUIDO_OK);
	assert_int_equal(len, strlen(kpem));
	assert_non_null(strstr(kpem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(cert_key_load_pem(kpem, len, &k2, buf, sizeof buf), SUIDO_OK);
	assert_int_equal(EVP_PKEY_eq(key, k2), 1);
	cert_key_pem_free(kpem);
	cert_key_pem_free(NULL);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(key);
}

static void test_uses_names(void **state)
{
	unsigned m = 0;
	char buf[64], err[128];

	assert_int_equal(cert_uses_parse("tls-client", &m, err, sizeof err), SUIDO_OK);
	assert_int_equal(m, CERT_USE_TLS_CLIENT);
	assert_int_equal(cert_uses_parse("data-protection,tls-server,tls-client", &m, err,
					 sizeof err), SUIDO_OK);
	assert_int_equal(m, CERT_USE_ALL);
	assert_int_equal(cert_uses_format(m, buf, sizeof buf), SUIDO_OK);
	assert_string_equal(buf, "tls-client,tls-server,data-protection");
	assert_int_equal(cert_uses_format(m, buf, 10), SUIDO_ERR_LIMIT);
	assert_int_equal(cert_uses_parse("", &m, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(cert_uses_parse("tls-client,", &m, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(cert_uses_parse("tls", &m, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "unknown use \"tls\"");
	assert_int_equal(m, 0);
	assert_string_equal(cert_use_name(CERT_USE_DATA_PROTECTION), "data-protection");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_key),
		cmocka_unit_test(test_load_cert),
		cmocka_unit_test(test_load_chain),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_trust_root_checks),
		cmocka_unit_test(test_trust_refuses_foreign_crl),
		cmocka_unit_test(test_verify_good_and_uses),
		cmocka_unit_test(test_verify_other_ca),
		cmocka_unit_test(test_verify_expired_and_not_yet_valid),
		cmocka_unit_test(test_verify_revoked),
		cmocka_unit_test(test_verify_crl_expired),
		cmocka_unit_test(test_verify_odd_certificates),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_uses_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
