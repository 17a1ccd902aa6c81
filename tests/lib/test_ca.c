/*
 * Unit tests of ca.h: the directory a new CA leaves (modes, root extensions,
 * index, CRL number), refusal of an existing CA, every profile and use issued
 * and verified with cert_verify (and refused for the uses it lacks), the
 * subjectAltName of server certificates, the index surviving a reopen,
 * revocation, CRL numbering and contents, and argument checks that leave no
 * trace in the index.
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
#include <openssl/x509v3.h>

#include "suido/ca.h"
#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/timeutil.h"

/* One CA shared by the tests of the group (an RSA-3072 key takes a while). */
static char g_dir[64];
static char g_fp[CERT_FP_HEX_SIZE];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void assert_contains(const char *s, const char *sub)
{
	if (!strstr(s, sub))
		fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

static int group_setup(void **state)
{
	char err[256] = "";

	snprintf(g_dir, sizeof g_dir, "/tmp/suido-test-ca-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	strcat(g_dir, "/ca"); /* ca_init creates the last component */
	if (ca_init(g_dir, "Suido Test Root", 3650, g_fp, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "ca_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char *slash = strrchr(g_dir, '/');

	*slash = '\0';
	rm_tree(g_dir);
	return 0;
}

static struct ca *open_ca(void)
{
	struct ca *ca = NULL;
	char err[256] = "";

	if (ca_open(g_dir, &ca, err, sizeof err) != SUIDO_OK)
		fail_msg("ca_open: %s", err);
	return ca;
}

static char *read_all(const char *dir, const char *name)
{
	char *buf = NULL, err[256];
	size_t len;

	assert_int_equal(fsutil_read_file(dir, name, 1 << 24, &buf, &len, err, sizeof err),
			 SUIDO_OK);
	return buf;
}

static struct cert_trust *trust_of(struct ca *ca)
{
	struct cert_trust *t = NULL;
	char *pem = NULL, err[256] = "";

	assert_int_equal(cert_pem_encode(ca_cert(ca), &pem, NULL), SUIDO_OK);
	assert_int_equal(cert_trust_new_pem(pem, strlen(pem), &t, err, sizeof err), SUIDO_OK);
	free(pem);
	return t;
}

static X509 *parse(const char *pem)
{
	X509 *x = NULL;
	char err[256] = "";

	assert_int_equal(cert_load_pem(pem, strlen(pem), &x, err, sizeof err), SUIDO_OK);
	return x;
}

static size_t index_lines(void)
{
	char *s = read_all(g_dir, "index.txt");
	size_t n = 0;

	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static void test_init_layout(void **state)
{
	char path[128], *s, fp[CERT_FP_HEX_SIZE], cn[80];
	struct stat st;
	X509 *root;

	snprintf(path, sizeof path, "%s/ca.key", g_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	s = read_all(g_dir, "ca.key");
	assert_non_null(strstr(s, "-----BEGIN PRIVATE KEY-----"));
	OPENSSL_cleanse(s, strlen(s));
	free(s);

	s = read_all(g_dir, "ca.crt");
	root = parse(s);
	free(s);
	assert_true(X509_get_extension_flags(root) & EXFLAG_CA);
	assert_int_equal(X509_self_signed(root, 1), 1);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(root)), 3072);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(root), "RSA"));
	assert_int_equal(X509_get_key_usage(root), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(X509_get_pathlen(root), 0);
	assert_int_equal(cert_subject_cn(root, cn, sizeof cn), SUIDO_OK);
	assert_string_equal(cn, "Suido Test Root");
	assert_int_equal(cert_fingerprint_sha256(root, fp), SUIDO_OK);
	assert_string_equal(fp, g_fp);
	/* valid now, and for about 3650 days */
	assert_true(X509_cmp_current_time(X509_get0_notBefore(root)) < 0);
	assert_true(ASN1_TIME_cmp_time_t(X509_get0_notAfter(root), time(NULL) + 3649L * 86400) > 0);
	assert_true(ASN1_TIME_cmp_time_t(X509_get0_notAfter(root), time(NULL) + 3651L * 86400) < 0);
	X509_free(root);

	s = read_all(g_dir, "crlnumber");
	assert_string_equal(s, "1\n");
	free(s);
	s = read_all(g_dir, "index.txt");
	assert_true(s[0] == '#');
	free(s);
}

static void test_init_refuses_existing(void **state)
{
	char err[256] = "", *before = read_all(g_dir, "ca.key"), *after;

	assert_int_equal(ca_init(g_dir, "Another", 10, NULL, err, sizeof err), SUIDO_ERR_EXISTS);
	assert_contains(err, "already holds a CA");
	after = read_all(g_dir, "ca.key");
	assert_string_equal(before, after);
	OPENSSL_cleanse(before, strlen(before));
	OPENSSL_cleanse(after, strlen(after));
	free(before);
	free(after);
}

static void test_init_bad_arguments(void **state)
{
	char dir[96], err[256] = "", long_cn[80];

	snprintf(dir, sizeof dir, "%s-bad", g_dir);
	memset(long_cn, 'a', 65);
	long_cn[65] = '\0';
	assert_int_equal(ca_init(dir, "", 10, NULL, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_init(dir, long_cn, 10, NULL, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_init(dir, "a\tb", 10, NULL, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_init(dir, "ok", 0, NULL, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_init(dir, "ok", CA_DAYS_MAX + 1, NULL, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(access(dir, F_OK), -1); /* nothing made */
}

static void test_open_errors(void **state)
{
	char dir[96], path[128], err[256] = "";
	struct ca *ca = NULL;

	snprintf(dir, sizeof dir, "%s-none", g_dir);
	assert_int_equal(ca_open(dir, &ca, err, sizeof err), SUIDO_ERR_NOTFOUND);
	assert_null(ca);

	/* a key readable by others is refused */
	snprintf(path, sizeof path, "%s/ca.key", g_dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ca_open(g_dir, &ca, err, sizeof err), SUIDO_ERR_PERM);
	assert_contains(err, "chmod 600");
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_open_corrupt_index(void **state)
{
	char dir[96], err[256] = "";
	struct ca *ca = NULL;
	char *crt = read_all(g_dir, "ca.crt"), *key = read_all(g_dir, "ca.key");
	const char *bad = "# header\nV\tZZ\tx\n";

	snprintf(dir, sizeof dir, "%s-corrupt", g_dir);
	assert_int_equal(fsutil_mkdirs(dir, err, sizeof err), SUIDO_OK);
	assert_int_equal(fsutil_write_atomic(dir, "ca.crt", crt, strlen(crt), err, sizeof err), 0);
	assert_int_equal(fsutil_write_atomic(dir, "ca.key", key, strlen(key), err, sizeof err), 0);
	assert_int_equal(fsutil_write_atomic(dir, "crlnumber", "1\n", 2, err, sizeof err), 0);
	assert_int_equal(fsutil_write_atomic(dir, "index.txt", bad, strlen(bad), err, sizeof err), 0);
	assert_int_equal(ca_open(dir, &ca, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "index.txt line 2");
	assert_null(ca);

	assert_int_equal(fsutil_write_atomic(dir, "index.txt", "# h\n", 4, err, sizeof err), 0);
	assert_int_equal(fsutil_write_atomic(dir, "crlnumber", "x\n", 2, err, sizeof err), 0);
	assert_int_equal(ca_open(dir, &ca, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "crlnumber");

	/* a key that is not the certificate's */
	{
		EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		char *pem = NULL;
		assert_non_null(other);
		assert_int_equal(cert_key_pem_encode(other, &pem, NULL), SUIDO_OK);
		assert_int_equal(fsutil_write_atomic(dir, "ca.key", pem, strlen(pem), err,
						     sizeof err), 0);
		assert_int_equal(fsutil_write_atomic(dir, "crlnumber", "1\n", 2, err, sizeof err),
				 0);
		assert_int_equal(ca_open(dir, &ca, err, sizeof err), SUIDO_ERR_CERT);
		cert_key_pem_free(pem);
		EVP_PKEY_free(other);
	}
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(crt);
}

/* Issues one certificate for every profile and every use on its own, and
 * checks that it verifies for that use and is refused for the other two. */
static void test_issue_each_profile_and_use(void **state)
{
	static const enum ca_profile profiles[] = { CA_PROFILE_PLATFORM, CA_PROFILE_GATEWAY,
						    CA_PROFILE_APPLICATION };
	static const enum cert_use uses[] = { CERT_USE_TLS_CLIENT, CERT_USE_TLS_SERVER,
					      CERT_USE_DATA_PROTECTION };
	struct ca *ca = open_ca();
	struct cert_trust *t = trust_of(ca);
	int64_t now = timeutil_now_ms();

	for (size_t p = 0; p < 3; p++) {
		for (size_t u = 0; u < 3; u++) {
			char *key_pem = NULL, *cert_pem = NULL, err[256] = "", reason[512];
			char serial[CA_SERIAL_HEX_SIZE], got[CERT_SERIAL_HEX_SIZE], cn[80];
			char ou[32];
			EVP_PKEY *key = NULL;
			X509 *x;

			snprintf(cn, sizeof cn, "%s-%s", ca_profile_name(profiles[p]),
				 cert_use_name(uses[u]));
			assert_int_equal(ca_issue(ca, profiles[p], (unsigned)uses[u], cn, NULL, 30,
						  &key_pem, &cert_pem, serial, err, sizeof err),
					 SUIDO_OK);
			x = parse(cert_pem);
			assert_int_equal(cert_key_load_pem(key_pem, strlen(key_pem), &key, err,
							   sizeof err),
					 SUIDO_OK);
			assert_true(cert_key_matches(x, key));
			assert_int_equal(EVP_PKEY_get_bits(key), 2048);
			assert_non_null(strstr(key_pem, "-----BEGIN PRIVATE KEY-----"));
			assert_int_equal(cert_serial_hex(x, got, sizeof got), SUIDO_OK);
			assert_string_equal(got, serial);
			assert_true(strlen(serial) >= 8 && strlen(serial) <= 32);
			assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
			assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
								   NID_organizationalUnitName, ou,
								   sizeof ou) > 0, 1);
			assert_string_equal(ou, ca_profile_name(profiles[p]));

			for (size_t v = 0; v < 3; v++) {
				int rc = cert_verify(t, x, NULL, uses[v], now, reason, sizeof reason);
				if (v == u) {
					if (rc != SUIDO_OK)
						fail_msg("%s for %s: %s", cn, cert_use_name(uses[v]),
							 reason);
					assert_string_equal(reason, "");
				} else {
					assert_int_equal(rc, SUIDO_ERR_CERT);
					assert_contains(reason, "wrong use");
				}
			}
			X509_free(x);
			EVP_PKEY_free(key);
			cert_key_pem_free(key_pem);
			free(cert_pem);
		}
	}
	cert_trust_free(t);
	ca_close(ca);
}

static void test_issue_all_uses_and_san(void **state)
{
	const char *dns[] = { "mqtt.example.jp", "api.example.jp", "10.77.0.1", "fd00::1", NULL };
	char *key_pem = NULL, *cert_pem = NULL, err[256] = "", reason[512];
	char serial[CA_SERIAL_HEX_SIZE], certs[128];
	struct ca *ca = open_ca();
	struct cert_trust *t = trust_of(ca);
	X509 *x;
	char *copy;

	assert_int_equal(ca_issue(ca, CA_PROFILE_PLATFORM, CERT_USE_ALL, "platform.example.jp", dns,
				  365, &key_pem, &cert_pem, serial, err, sizeof err),
			 SUIDO_OK);
	x = parse(cert_pem);
	assert_int_equal(cert_verify(t, x, NULL, CERT_USE_TLS_CLIENT, timeutil_now_ms(), reason,
				     sizeof reason), SUIDO_OK);
	assert_int_equal(cert_verify(t, x, NULL, CERT_USE_TLS_SERVER, timeutil_now_ms(), reason,
				     sizeof reason), SUIDO_OK);
	assert_int_equal(cert_verify(t, x, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(),
				     reason, sizeof reason), SUIDO_OK);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT | XKU_SSL_SERVER);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(x, "mqtt.example.jp", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "api.example.jp", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "platform.example.jp", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "other.example.jp", 0, 0, NULL), 0);
	/* address literals become IP entries, not DNS names */
	assert_int_equal(X509_check_ip_asc(x, "10.77.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "fd00::1", 0), 1);
	assert_int_equal(X509_check_host(x, "10.77.0.1", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "10.77.0.2", 0), 0);

	/* the copy in certs/ is the certificate handed out */
	snprintf(certs, sizeof certs, "%s/certs", g_dir);
	{
		char name[64];
		snprintf(name, sizeof name, "%s.crt", serial);
		copy = read_all(certs, name);
	}
	assert_string_equal(copy, cert_pem);
	free(copy);
	X509_free(x);
	cert_key_pem_free(key_pem);
	free(cert_pem);

	/* a client-only certificate carries no subjectAltName and no keyEncipherment */
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-san", NULL, 365,
				  &key_pem, &cert_pem, serial, err, sizeof err),
			 SUIDO_OK);
	x = parse(cert_pem);
	assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 0);
	X509_free(x);
	cert_key_pem_free(key_pem);
	free(cert_pem);
	cert_trust_free(t);
	ca_close(ca);
}

static void test_issue_bad_arguments(void **state)
{
	const char *bad_dns[][2] = { { "a..b", NULL }, { "-a.example", NULL }, { "*.example", NULL },
				     { "300.1.2.3", NULL }, { "1.2.3.4.5", NULL },
				     { "a_b.example", NULL } };
	char *key_pem = NULL, *cert_pem = NULL, err[256] = "", serial[CA_SERIAL_HEX_SIZE];
	struct ca *ca = open_ca();
	size_t before = index_lines();
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, 0, "x", NULL, 10, &key_pem, &cert_pem,
				  serial, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, 8, "x", NULL, 10, &key_pem, &cert_pem,
				  serial, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_issue(ca, (enum ca_profile)7, CERT_USE_TLS_CLIENT, "x", NULL, 10,
				  &key_pem, &cert_pem, serial, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "a\nb", NULL, 10,
				  &key_pem, &cert_pem, serial, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "x", NULL, 0,
				  &key_pem, &cert_pem, serial, err, sizeof err), SUIDO_ERR_INVALID);
	for (size_t i = 0; i < sizeof bad_dns / sizeof bad_dns[0]; i++)
		assert_int_equal(ca_issue(ca, CA_PROFILE_PLATFORM, CERT_USE_TLS_SERVER, "x",
					  bad_dns[i], 10, &key_pem, &cert_pem, serial, err,
					  sizeof err),
				 SUIDO_ERR_INVALID);
	/* beyond the root's own validity */
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "x", NULL, 3700,
				  &key_pem, &cert_pem, serial, err, sizeof err), SUIDO_ERR_INVALID);
	assert_contains(err, "after the CA certificate");
	assert_int_equal(ca_issue_validity(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "x", NULL,
					   now, now, &key_pem, &cert_pem, serial, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(key_pem);
	assert_null(cert_pem);
	assert_string_equal(serial, "");
	assert_int_equal(index_lines(), before);
	ca_close(ca);
}

static void test_index_persists_and_revoke(void **state)
{
	char *key_pem = NULL, *cert_pem = NULL, err[256] = "", serial[CA_SERIAL_HEX_SIZE];
	char lower[CA_SERIAL_HEX_SIZE * 2], *idx, line[128];
	struct ca *ca = open_ca();
	size_t before = index_lines();

	assert_int_equal(ca_issue(ca, CA_PROFILE_APPLICATION, CERT_USE_TLS_CLIENT, "app-1", NULL, 10,
				  &key_pem, &cert_pem, serial, err, sizeof err),
			 SUIDO_OK);
	cert_key_pem_free(key_pem);
	free(cert_pem);
	ca_close(ca);
	assert_int_equal(index_lines(), before + 1);
	idx = read_all(g_dir, "index.txt");
	snprintf(line, sizeof line, "V\t%s\t", serial);
	assert_contains(idx, line);
	assert_contains(idx, "\tapplication\ttls-client\t");
	assert_contains(idx, "\tapp-1\n");
	free(idx);

	/* reopened, the CA knows the serial: lower case with colons is accepted */
	ca = open_ca();
	{
		size_t j = 0;
		for (size_t i = 0; serial[i]; i++) {
			lower[j++] = (char)(serial[i] >= 'A' && serial[i] <= 'F' ? serial[i] + 32
										 : serial[i]);
			if (i % 2 == 1 && serial[i + 1])
				lower[j++] = ':';
		}
		lower[j] = '\0';
	}
	assert_int_equal(ca_revoke(ca, lower, CA_REASON_SUPERSEDED, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_revoke(ca, serial, CA_REASON_KEY_COMPROMISE, err, sizeof err),
			 SUIDO_ERR_EXISTS);
	assert_contains(err, "already revoked");
	assert_int_equal(ca_revoke(ca, "0123456789ABCDEF", CA_REASON_UNSPECIFIED, err, sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(ca_revoke(ca, "not-hex", CA_REASON_UNSPECIFIED, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(ca_revoke(ca, "", CA_REASON_UNSPECIFIED, err, sizeof err),
			 SUIDO_ERR_INVALID);
	ca_close(ca);

	idx = read_all(g_dir, "index.txt");
	snprintf(line, sizeof line, "R\t%s\t", serial);
	assert_contains(idx, line);
	assert_contains(idx, "\tsuperseded\tapplication\t");
	free(idx);
}

static long crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	long v;

	assert_non_null(n);
	v = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	return v;
}

static X509_CRL *parse_crl(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(crl);
	return crl;
}

static void test_crl_numbers_and_entries(void **state)
{
	char *key_pem = NULL, *cert_pem = NULL, err[256] = "";
	char s1[CA_SERIAL_HEX_SIZE], s2[CA_SERIAL_HEX_SIZE], *crl_pem = NULL, *num;
	struct ca *ca = open_ca();
	X509_CRL *crl;
	X509 *x1, *x2;
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *code;
	long first;

	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-crl-1", NULL, 10,
				  &key_pem, &cert_pem, s1, err, sizeof err), SUIDO_OK);
	x1 = parse(cert_pem);
	cert_key_pem_free(key_pem);
	free(cert_pem);
	assert_int_equal(ca_issue(ca, CA_PROFILE_GATEWAY, CERT_USE_TLS_CLIENT, "gw-crl-2", NULL, 10,
				  &key_pem, &cert_pem, s2, err, sizeof err), SUIDO_OK);
	x2 = parse(cert_pem);
	cert_key_pem_free(key_pem);
	free(cert_pem);

	assert_int_equal(ca_crl(ca, 7, &crl_pem, err, sizeof err), SUIDO_OK);
	crl = parse_crl(crl_pem);
	first = crl_number(crl);
	assert_true(first >= 1);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x1)), 0);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert(ca))), 1);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	X509_CRL_free(crl);
	free(crl_pem);

	assert_int_equal(ca_revoke(ca, s1, CA_REASON_KEY_COMPROMISE, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_revoke(ca, s2, CA_REASON_UNSPECIFIED, err, sizeof err), SUIDO_OK);
	assert_int_equal(ca_crl(ca, 7, &crl_pem, err, sizeof err), SUIDO_OK);
	crl = parse_crl(crl_pem);
	assert_int_equal(crl_number(crl), first + 1);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x1)), 1);
	code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	assert_non_null(code);
	assert_int_equal(ASN1_ENUMERATED_get(code), CRL_REASON_KEY_COMPROMISE);
	ASN1_ENUMERATED_free(code);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x2)), 1);
	/* RFC 5280: no reasonCode for unspecified */
	assert_null(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL));
	assert_true(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), time(NULL) + 6 * 86400) > 0);
	X509_CRL_free(crl);
	free(crl_pem);
	ca_close(ca);

	/* the number survives a reopen */
	num = read_all(g_dir, "crlnumber");
	assert_int_equal(strtol(num, NULL, 10), first + 2);
	free(num);
	ca = open_ca();
	assert_int_equal(ca_crl(ca, 1, &crl_pem, err, sizeof err), SUIDO_OK);
	crl = parse_crl(crl_pem);
	assert_int_equal(crl_number(crl), first + 2);
	X509_CRL_free(crl);
	free(crl_pem);
	assert_int_equal(ca_crl(ca, 0, &crl_pem, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(ca_crl_validity(ca, 100, 100, &crl_pem, err, sizeof err),
			 SUIDO_ERR_INVALID);
	ca_close(ca);
	X509_free(x1);
	X509_free(x2);
}

static void test_names(void **state)
{
	enum ca_reason r;
	enum ca_profile p;

	assert_int_equal(ca_reason_parse("keyCompromise", &r), SUIDO_OK);
	assert_int_equal(r, CA_REASON_KEY_COMPROMISE);
	assert_int_equal(ca_reason_parse("key-compromise", &r), SUIDO_OK);
	assert_int_equal(r, CA_REASON_KEY_COMPROMISE);
	assert_int_equal(ca_reason_parse("CESSATION_OF_OPERATION", &r), SUIDO_OK);
	assert_int_equal(r, CA_REASON_CESSATION_OF_OPERATION);
	assert_int_equal(ca_reason_parse("certificateHold", &r), SUIDO_ERR_INVALID);
	assert_int_equal(ca_reason_parse("", &r), SUIDO_ERR_INVALID);
	assert_int_equal(ca_profile_parse("gateway", &p), SUIDO_OK);
	assert_int_equal(p, CA_PROFILE_GATEWAY);
	assert_int_equal(ca_profile_parse("Gateway", &p), SUIDO_ERR_INVALID);
	assert_string_equal(ca_profile_name(CA_PROFILE_APPLICATION), "application");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_layout),
		cmocka_unit_test(test_init_refuses_existing),
		cmocka_unit_test(test_init_bad_arguments),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_open_corrupt_index),
		cmocka_unit_test(test_issue_each_profile_and_use),
		cmocka_unit_test(test_issue_all_uses_and_san),
		cmocka_unit_test(test_issue_bad_arguments),
		cmocka_unit_test(test_index_persists_and_revoke),
		cmocka_unit_test(test_crl_numbers_and_entries),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
