/* Tests for sealed files (fileseal.h): round trips in every layout and AES
 * key length, then the refusal matrix. Members are altered by unpacking and
 * repacking with libzip (so CRCs stay right and the crypto is what fails),
 * ZIP headers by patching bytes. The openssl/unzip interop is in
 * tests/integration/test_fileseal_openssl.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zip.h>

#include "suido/error.h"
#include "suido/fileseal.h"

static EVP_PKEY *sender, *sender_pub, *recipient, *recipient_pub, *other, *other_pub;

static EVP_PKEY *pub_only(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int n = i2d_PUBKEY(k, &der);
	EVP_PKEY *pub;

	assert_true(n > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	assert_non_null(pub);
	OPENSSL_free(der);
	return pub;
}

static int setup(void **state)
{
	sender = EVP_RSA_gen(2048);
	recipient = EVP_RSA_gen(2048);
	other = EVP_RSA_gen(2048);
	if (!sender || !recipient || !other)
		return -1;
	sender_pub = pub_only(sender);
	recipient_pub = pub_only(recipient);
	other_pub = pub_only(other);
	return 0;
}

static int teardown(void **state)
{
	EVP_PKEY *k[] = {sender, sender_pub, recipient, recipient_pub, other, other_pub};
	for (size_t i = 0; i < 6; i++)
		EVP_PKEY_free(k[i]);
	return 0;
}

static unsigned char *pattern(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + (i >> 8));
	return p;
}

static void seal(const void *data, size_t len, int bits, void **zip, size_t *ziplen)
{
	char err[256] = "";
	int rc = fileseal_seal(data, len, "ryokin.csv", sender, recipient_pub, bits, zip, ziplen,
			       err, sizeof err);
	if (rc != SUIDO_OK)
		fail_msg("fileseal_seal: %s", err);
}

/* fileseal_open's code; checks the outputs stay empty on failure. */
static int open_rc(const void *zip, size_t ziplen, EVP_PKEY *rk, EVP_PKEY *sk, size_t max)
{
	void *data = (void *)1;
	size_t len = 7;
	char *name = (char *)1, err[256] = "";
	int rc = fileseal_open(zip, ziplen, rk, sk, max, &data, &len, &name, err, sizeof err);

	if (rc == SUIDO_OK) {
		free(data);
		free(name);
	} else {
		assert_null(data);
		assert_null(name);
		assert_int_equal(len, 0);
		assert_true(err[0] != '\0');
	}
	return rc;
}

/* ---- unpack / repack ---- */

struct member {
	char name[64];
	unsigned char *data;
	size_t len;
	zip_int32_t method;
};

struct pack {
	struct member m[8];
	int n;
};

static void unpack(const void *zip, size_t ziplen, struct pack *p)
{
	zip_error_t ze;
	zip_source_t *src;
	zip_t *za;

	memset(p, 0, sizeof *p);
	zip_error_init(&ze);
	src = zip_source_buffer_create(zip, ziplen, 0, &ze);
	assert_non_null(src);
	za = zip_open_from_source(src, ZIP_RDONLY, &ze);
	assert_non_null(za);
	p->n = (int)zip_get_num_entries(za, 0);
	assert_true(p->n <= 8);
	for (int i = 0; i < p->n; i++) {
		zip_stat_t st;
		zip_file_t *zf;
		assert_int_equal(zip_stat_index(za, (zip_uint64_t)i, 0, &st), 0);
		snprintf(p->m[i].name, sizeof p->m[i].name, "%s", st.name);
		p->m[i].len = st.size;
		p->m[i].method = (zip_int32_t)st.comp_method;
		p->m[i].data = malloc(st.size + 1);
		zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
		assert_non_null(zf);
		assert_int_equal(zip_fread(zf, p->m[i].data, st.size), (zip_int64_t)st.size);
		zip_fclose(zf);
	}
	zip_discard(za);
	zip_error_fini(&ze);
}

static void repack(const struct pack *p, void **zip, size_t *ziplen)
{
	zip_error_t ze;
	zip_source_t *src, *ms;
	zip_t *za;
	zip_stat_t st;

	zip_error_init(&ze);
	src = zip_source_buffer_create(NULL, 0, 0, &ze);
	za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	assert_non_null(za);
	zip_source_keep(src);
	for (int i = 0; i < p->n; i++) {
		zip_int64_t idx;
		ms = zip_source_buffer(za, p->m[i].data, p->m[i].len, 0);
		idx = zip_file_add(za, p->m[i].name, ms, ZIP_FL_ENC_UTF_8);
		assert_true(idx >= 0);
		assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, p->m[i].method, 0), 0);
	}
	assert_int_equal(zip_close(za), 0);
	assert_int_equal(zip_source_open(src), 0);
	assert_int_equal(zip_source_stat(src, &st), 0);
	*zip = malloc(st.size);
	*ziplen = st.size;
	assert_int_equal(zip_source_read(src, *zip, st.size), (zip_int64_t)st.size);
	zip_source_close(src);
	zip_source_free(src);
	zip_error_fini(&ze);
}

static struct member *find(struct pack *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->m[i].name, name) == 0)
			return &p->m[i];
	fail_msg("no member %s", name);
	return NULL;
}

static void pack_free(struct pack *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->m[i].data);
	p->n = 0;
}

/* Repacks p after edit and returns fileseal_open's code. */
static int reopen(struct pack *p, EVP_PKEY *rk, EVP_PKEY *sk)
{
	void *zip;
	size_t ziplen;
	int rc;

	repack(p, &zip, &ziplen);
	rc = open_rc(zip, ziplen, rk, sk, 0);
	free(zip);
	return rc;
}

/* Replaces the manifest's text "from" by "to" (must occur). */
static void edit_manifest(struct pack *p, const char *from, const char *to)
{
	struct member *m = find(p, "manifest.json");
	char *at, *s;
	size_t n;

	m->data[m->len] = '\0';
	at = strstr((char *)m->data, from);
	if (!at)
		fail_msg("manifest lacks %s", from);
	n = m->len - strlen(from) + strlen(to);
	s = malloc(n + 1);
	memcpy(s, m->data, (size_t)(at - (char *)m->data));
	strcpy(s + (at - (char *)m->data), to);
	strcat(s, at + strlen(from));
	free(m->data);
	m->data = (unsigned char *)s;
	m->len = n;
}

/* ---- ZIP header patching ---- */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* Central (and, through it, local) header of the member called name. */
static void headers(unsigned char *zip, size_t len, const char *name, unsigned char **cen,
		    unsigned char **loc)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + 46 + nl <= len; i++) {
		if (le32(zip + i) == 0x02014b50 && (size_t)(zip[i + 28] | zip[i + 29] << 8) == nl &&
		    memcmp(zip + i + 46, name, nl) == 0) {
			*cen = zip + i;
			*loc = zip + le32(zip + i + 42);
			assert_true(le32(*loc) == 0x04034b50);
			return;
		}
	}
	fail_msg("no central header for %s", name);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 4096, 100000};
	static const int bits[] = {128, 192, 256};

	for (size_t b = 0; b < 3; b++) {
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			unsigned char *plain = pattern(sizes[s]);
			void *zip, *out;
			size_t ziplen, outlen;
			char *name, err[256] = "";
			struct pack p;
			char cipher[32];

			seal(plain, sizes[s], bits[b], &zip, &ziplen);
			if (fileseal_open(zip, ziplen, recipient, sender_pub, 0, &out, &outlen, &name,
					  err, sizeof err) != SUIDO_OK)
				fail_msg("open %d bits, %zu bytes: %s", bits[b], sizes[s], err);
			assert_int_equal(outlen, sizes[s]);
			assert_memory_equal(out, plain, sizes[s]);
			assert_int_equal(((char *)out)[outlen], '\0');
			assert_string_equal(name, "ryokin.csv");
			/* the layout: four members, in this order, stored */
			unpack(zip, ziplen, &p);
			assert_int_equal(p.n, 4);
			assert_string_equal(p.m[0].name, "manifest.json");
			assert_string_equal(p.m[1].name, "payload.enc");
			assert_string_equal(p.m[2].name, "key.enc");
			assert_string_equal(p.m[3].name, "payload.sig");
			assert_int_equal(p.m[1].len, (sizes[s] / 16 + 1) * 16);
			assert_int_equal(p.m[2].len, 256);
			assert_int_equal(p.m[3].len, 256);
			snprintf(cipher, sizeof cipher, "\"aes-%d-cbc\"", bits[b]);
			p.m[0].data[p.m[0].len] = '\0';
			assert_non_null(strstr((char *)p.m[0].data, cipher));
			assert_non_null(strstr((char *)p.m[0].data, "\"rsa-oaep\""));
			pack_free(&p);
			free(out);
			free(name);
			free(zip);
			free(plain);
		}
	}
}

static void test_fresh_keys(void **state)
{
	void *a, *b;
	size_t alen, blen;
	struct pack pa, pb;

	seal("same", 4, 256, &a, &alen);
	seal("same", 4, 256, &b, &blen);
	unpack(a, alen, &pa);
	unpack(b, blen, &pb);
	/* a fresh session key and IV per file: nothing repeats */
	assert_memory_not_equal(find(&pa, "payload.enc")->data, find(&pb, "payload.enc")->data, 16);
	assert_memory_not_equal(find(&pa, "key.enc")->data, find(&pb, "key.enc")->data, 256);
	assert_memory_not_equal(pa.m[0].data, pb.m[0].data, pa.m[0].len < pb.m[0].len ? pa.m[0].len : pb.m[0].len);
	pack_free(&pa);
	pack_free(&pb);
	free(a);
	free(b);
}

static void test_sign_only_and_encrypt_only(void **state)
{
	const char *text = "id,name\n1,\xe6\xb0\xb4\xe9\x81\x93\n";
	const char *jname = "\xe6\x96\x99\xe9\x87\x91.csv"; /* 料金.csv */
	void *zip, *out;
	size_t ziplen, outlen;
	char *name, err[256] = "";
	struct pack p;

	/* sign only: manifest.json, payload (deflated), payload.sig */
	assert_int_equal(fileseal_sign(text, strlen(text), jname, sender, &zip, &ziplen, err,
				       sizeof err), SUIDO_OK);
	unpack(zip, ziplen, &p);
	assert_int_equal(p.n, 3);
	assert_int_equal(find(&p, "payload")->method, ZIP_CM_DEFLATE);
	assert_int_equal(fileseal_verify(zip, ziplen, sender_pub, 0, &out, &outlen, &name, err,
					 sizeof err), SUIDO_OK);
	assert_int_equal(outlen, strlen(text));
	assert_memory_equal(out, text, outlen);
	assert_string_equal(name, jname);
	free(out);
	free(name);
	assert_int_equal(fileseal_verify(zip, ziplen, other_pub, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_SIGNATURE);
	/* a signed file is not a sealed one, nor an encrypted one */
	assert_int_equal(open_rc(zip, ziplen, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(fileseal_decrypt(zip, ziplen, recipient, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_INVALID);
	find(&p, "payload")->data[0] ^= 1;
	{
		void *z2;
		size_t z2len;
		repack(&p, &z2, &z2len);
		assert_int_equal(fileseal_verify(z2, z2len, sender_pub, 0, &out, &outlen, &name,
						 NULL, 0), SUIDO_ERR_SIGNATURE);
		free(z2);
	}
	pack_free(&p);
	free(zip);

	/* encrypt only: manifest.json, payload.enc, key.enc */
	assert_int_equal(fileseal_encrypt(text, strlen(text), jname, recipient_pub, 192, &zip,
					  &ziplen, err, sizeof err), SUIDO_OK);
	unpack(zip, ziplen, &p);
	assert_int_equal(p.n, 3);
	pack_free(&p);
	assert_int_equal(fileseal_decrypt(zip, ziplen, recipient, 0, &out, &outlen, &name, err,
					  sizeof err), SUIDO_OK);
	assert_memory_equal(out, text, outlen);
	free(out);
	free(name);
	assert_int_equal(fileseal_decrypt(zip, ziplen, other, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_DECRYPT);
	/* no signature: fileseal_open and fileseal_verify refuse it */
	assert_int_equal(open_rc(zip, ziplen, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(fileseal_verify(zip, ziplen, sender_pub, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_INVALID);
	free(zip);

	/* and a sealed file is neither (no stripping down to a weaker layout) */
	seal(text, strlen(text), 128, &zip, &ziplen);
	assert_int_equal(fileseal_verify(zip, ziplen, sender_pub, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_INVALID);
	assert_int_equal(fileseal_decrypt(zip, ziplen, recipient, 0, &out, &outlen, &name, NULL, 0),
			 SUIDO_ERR_INVALID);
	free(zip);
}

static void test_tampered_members(void **state)
{
	unsigned char *plain = pattern(1000); /* 63 blocks, last one of padding 8 */
	void *zip;
	size_t ziplen;
	struct pack p;
	struct member *m;

	seal(plain, 1000, 256, &zip, &ziplen);
	unpack(zip, ziplen, &p);
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_OK);

	/* key.enc: OAEP fails */
	m = find(&p, "key.enc");
	m->data[100] ^= 0x10;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_DECRYPT);
	m->data[100] ^= 0x10;

	/* payload.enc, first block: garbles the start, padding intact */
	m = find(&p, "payload.enc");
	m->data[0] ^= 0x01;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_SIGNATURE);
	m->data[0] ^= 0x01;
	/* payload.enc, penultimate block's last byte: flips the last padding byte */
	m->data[m->len - 17] ^= 0x40;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_DECRYPT);
	m->data[m->len - 17] ^= 0x40;
	/* payload.enc, one block short: the manifest no longer fits */
	m->len -= 16;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_INVALID);
	m->len += 16;

	/* payload.sig */
	m = find(&p, "payload.sig");
	m->data[255] ^= 0x80;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_SIGNATURE);
	m->data[255] ^= 0x80;

	/* manifest.json: a flipped bit in the syntax */
	m = find(&p, "manifest.json");
	m->data[0] ^= 0x01;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_INVALID);
	m->data[0] ^= 0x01;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_OK);
	pack_free(&p);
	free(zip);
	free(plain);
}

static void test_manifest(void **state)
{
	void *zip;
	size_t ziplen;
	struct pack p;
	struct {
		const char *from, *to;
		int rc;
	} cases[] = {
		{"\"aes-256-cbc\"", "\"aes-128-cbc\"", SUIDO_ERR_DECRYPT}, /* key length */
		{"\"aes-256-cbc\"", "\"aes-256-ctr\"", SUIDO_ERR_INVALID},
		{"\"rsa-oaep\"", "\"rsa-oaep-256\"", SUIDO_ERR_DECRYPT},  /* other OAEP hash */
		{"\"rsa-oaep\"", "\"rsa-pkcs1\"", SUIDO_ERR_INVALID},
		{"\"rsassa-pkcs1-v1_5-sha256\"", "\"rsassa-pss\"", SUIDO_ERR_INVALID},
		{"\"suido-fileseal/1\"", "\"suido-fileseal/2\"", SUIDO_ERR_INVALID},
		{"\"size\": 40", "\"size\": 41", SUIDO_ERR_DECRYPT}, /* same blocks, other length */
		{"\"size\": 40", "\"size\": 60", SUIDO_ERR_INVALID}, /* other blocks */
		{"\"size\": 40", "\"size\": 40.0", SUIDO_ERR_INVALID},
		{"\"size\": 40", "\"size\": -40", SUIDO_ERR_INVALID},
		{"\"encrypted_size\": 48", "\"encrypted_size\": 64", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"../ryokin.csv\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"C:ryokin.csv\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"..\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"a\\u0000b\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"a\\nb\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "\"\"", SUIDO_ERR_INVALID},
		{"\"ryokin.csv\"", "1", SUIDO_ERR_INVALID},
		{"\"format\"", "\"extra\": 1, \"format\"", SUIDO_ERR_INVALID},
		{"\"format\"", "\"format\": \"suido-fileseal/1\", \"format\"", SUIDO_ERR_INVALID},
		{",\n  \"signature\": \"rsassa-pkcs1-v1_5-sha256\"", "", SUIDO_ERR_INVALID},
		{"{", "[{", SUIDO_ERR_INVALID},
		/* not covered by the signature: the name is only a suggestion */
		{"\"ryokin.csv\"", "\"suigen.csv\"", SUIDO_OK},
	};

	seal("0123456789012345678901234567890123456789", 40, 256, &zip, &ziplen);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unpack(zip, ziplen, &p);
		edit_manifest(&p, cases[i].from, cases[i].to);
		if (reopen(&p, recipient, sender_pub) != cases[i].rc)
			fail_msg("manifest %s -> %s: expected %d", cases[i].from, cases[i].to,
				 cases[i].rc);
		pack_free(&p);
	}
	/* another IV: the first block decrypts differently, the signature fails */
	unpack(zip, ziplen, &p);
	{
		struct member *m = find(&p, "manifest.json");
		char *v;
		m->data[m->len] = '\0';
		v = strstr((char *)m->data, "\"iv\": \"") + 7;
		v[0] = v[0] == '0' ? '1' : '0';
	}
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_SIGNATURE);
	pack_free(&p);
	/* upper-case hex is hex */
	unpack(zip, ziplen, &p);
	{
		struct member *m = find(&p, "manifest.json");
		char *v;
		m->data[m->len] = '\0';
		v = strstr((char *)m->data, "\"iv\": \"") + 7;
		for (int i = 0; i < 32; i++)
			if (v[i] >= 'a' && v[i] <= 'f')
				v[i] = (char)(v[i] - 'a' + 'A');
	}
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_OK);
	pack_free(&p);
	free(zip);
}

static void test_keys(void **state)
{
	void *zip;
	size_t ziplen;
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024);
	char err[256];

	seal("abc", 3, 128, &zip, &ziplen);
	assert_int_equal(open_rc(zip, ziplen, other, sender_pub, 0), SUIDO_ERR_DECRYPT);
	assert_int_equal(open_rc(zip, ziplen, recipient, other_pub, 0), SUIDO_ERR_SIGNATURE);
	/* keys swapped round */
	assert_int_equal(open_rc(zip, ziplen, sender, recipient_pub, 0), SUIDO_ERR_DECRYPT);
	assert_int_equal(open_rc(zip, ziplen, ec, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(open_rc(zip, ziplen, recipient, small, 0), SUIDO_ERR_INVALID);
	assert_int_equal(open_rc(zip, ziplen, recipient, sender_pub, 0), SUIDO_OK);
	free(zip);

	assert_int_equal(fileseal_seal("a", 1, "a", ec, recipient_pub, 256, &zip, &ziplen, err,
				       sizeof err), SUIDO_ERR_INVALID);
	assert_null(zip);
	assert_int_equal(fileseal_seal("a", 1, "a", sender, small, 256, &zip, &ziplen, err,
				       sizeof err), SUIDO_ERR_INVALID);
	/* signing needs the private key */
	assert_int_equal(fileseal_seal("a", 1, "a", sender_pub, recipient_pub, 256, &zip, &ziplen,
				       err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(fileseal_seal("a", 1, "a", sender, recipient_pub, 512, &zip, &ziplen, err,
				       sizeof err), SUIDO_ERR_INVALID);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(small);
}

static void test_names(void **state)
{
	const char *bad[] = {"", ".", "..", "a/b", "/etc/passwd", "a\\b", "C:x", "a\nb",
			     "\xff\xfe", "\xc0\xae", "\xed\xa0\x80"};
	char longname[300];
	void *zip;
	size_t ziplen;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (fileseal_seal("a", 1, bad[i], sender, recipient_pub, 256, &zip, &ziplen, NULL,
				  0) != SUIDO_ERR_INVALID)
			fail_msg("name %zu accepted", i);
	memset(longname, 'a', sizeof longname);
	longname[256] = '\0';
	assert_int_equal(fileseal_sign("a", 1, longname, sender, &zip, &ziplen, NULL, 0),
			 SUIDO_ERR_INVALID);
	longname[255] = '\0';
	assert_int_equal(fileseal_sign("a", 1, longname, sender, &zip, &ziplen, NULL, 0), SUIDO_OK);
	free(zip);
}

static void test_zip_structure(void **state)
{
	void *zip, *z2;
	size_t ziplen, z2len;
	struct pack p;
	static const char *renames[] = {"../payload.sig", "/payload.sig", "x/payload.sig",
					"Payload.sig", "payload.sig/", "payload.sig "};

	seal("structure", 9, 256, &zip, &ziplen);

	/* extra member */
	unpack(zip, ziplen, &p);
	p.m[p.n] = p.m[0];
	p.m[p.n].data = malloc(3);
	memcpy(p.m[p.n].data, "hi\n", 3);
	p.m[p.n].len = 3;
	snprintf(p.m[p.n].name, sizeof p.m[p.n].name, "README.txt");
	p.n++;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_INVALID);
	pack_free(&p);

	/* each member missing in turn */
	for (int drop = 0; drop < 4; drop++) {
		unpack(zip, ziplen, &p);
		free(p.m[drop].data);
		p.m[drop] = p.m[3];
		p.n--;
		assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_INVALID);
		pack_free(&p);
	}

	/* path tricks and near misses on a name */
	for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++) {
		unpack(zip, ziplen, &p);
		snprintf(find(&p, "payload.sig")->name, 64, "%s", renames[i]);
		if (reopen(&p, recipient, sender_pub) != SUIDO_ERR_INVALID)
			fail_msg("member name \"%s\" accepted", renames[i]);
		pack_free(&p);
	}

	/* four members, one of them twice */
	unpack(zip, ziplen, &p);
	snprintf(find(&p, "payload.sig")->name, 64, "key.enX");
	repack(&p, &z2, &z2len);
	{
		unsigned char *cen, *loc;
		headers(z2, z2len, "key.enX", &cen, &loc);
		cen[46 + 6] = 'c';
		loc[30 + 6] = 'c';
	}
	assert_int_equal(open_rc(z2, z2len, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	free(z2);
	pack_free(&p);

	/* deflated members are fine (the zip CLI deflates), bzip2 is not */
	unpack(zip, ziplen, &p);
	for (int i = 0; i < p.n; i++)
		p.m[i].method = ZIP_CM_DEFLATE;
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_OK);
	repack(&p, &z2, &z2len);
	{
		unsigned char *cen, *loc;
		headers(z2, z2len, "payload.sig", &cen, &loc);
		put16(cen + 10, ZIP_CM_BZIP2);
		put16(loc + 8, ZIP_CM_BZIP2);
	}
	assert_int_equal(open_rc(z2, z2len, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	free(z2);
	pack_free(&p);

	/* ZIP encryption, where this libzip can write it */
	if (zip_encryption_method_supported(ZIP_EM_AES_256, 1)) {
		zip_error_t ze;
		zip_source_t *src;
		zip_t *za;
		zip_stat_t st;

		zip_error_init(&ze);
		src = zip_source_buffer_create(zip, ziplen, 0, &ze);
		za = zip_open_from_source(src, 0, &ze);
		assert_non_null(za);
		zip_source_keep(src);
		assert_int_equal(zip_file_set_encryption(za, 2, ZIP_EM_AES_256, "pw"), 0);
		assert_int_equal(zip_close(za), 0);
		assert_int_equal(zip_source_open(src), 0);
		assert_int_equal(zip_source_stat(src, &st), 0);
		z2 = malloc(st.size);
		assert_int_equal(zip_source_read(src, z2, st.size), (zip_int64_t)st.size);
		zip_source_close(src);
		zip_source_free(src);
		zip_error_fini(&ze);
		assert_int_equal(open_rc(z2, st.size, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
		free(z2);
	}

	/* a CRC that does not match: a byte changed in place */
	z2 = malloc(ziplen);
	memcpy(z2, zip, ziplen);
	{
		unsigned char *cen, *loc;
		headers(z2, ziplen, "payload.enc", &cen, &loc);
		loc[30 + (loc[26] | loc[27] << 8) + (loc[28] | loc[29] << 8)] ^= 1;
	}
	assert_int_equal(open_rc(z2, ziplen, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	free(z2);

	/* truncated anywhere, and not a ZIP at all */
	for (size_t cut = 0; cut < ziplen; cut += ziplen / 17 + 1)
		assert_int_equal(open_rc(zip, cut, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(open_rc(zip, ziplen - 1, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(open_rc("PK\5\6", 4, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	assert_int_equal(open_rc(NULL, 0, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	free(zip);
}

static void test_zip_bombs(void **state)
{
	const size_t big = (size_t)24 << 20, enc = (big / 16 + 1) * 16;
	unsigned char *zeros = calloc(1, enc);
	void *zip, *z2;
	size_t ziplen, z2len;
	struct pack p;
	char sz[64], esz[64];

	assert_non_null(zeros);
	/* an honest header over the cap: refused before inflating */
	seal("small", 5, 256, &zip, &ziplen);
	unpack(zip, ziplen, &p);
	free(find(&p, "payload.enc")->data);
	find(&p, "payload.enc")->data = zeros;
	find(&p, "payload.enc")->len = enc;
	find(&p, "payload.enc")->method = ZIP_CM_DEFLATE;
	snprintf(sz, sizeof sz, "\"size\": %zu", big);
	snprintf(esz, sizeof esz, "\"encrypted_size\": %zu", enc);
	edit_manifest(&p, "\"size\": 5", sz);
	edit_manifest(&p, "\"encrypted_size\": 16", esz);
	repack(&p, &z2, &z2len);
	assert_true(z2len < enc / 100); /* a good bomb */
	assert_int_equal(open_rc(z2, z2len, recipient, sender_pub, (size_t)1 << 20),
			 SUIDO_ERR_LIMIT);
	/* within the caller's cap it is read, and fails as a forgery */
	assert_int_equal(open_rc(z2, z2len, recipient, sender_pub, big), SUIDO_ERR_DECRYPT);
	free(z2);
	pack_free(&p);

	/* a header that understates: the manifest and headers say 16 bytes */
	unpack(zip, ziplen, &p);
	zeros = calloc(1, enc);
	free(find(&p, "payload.enc")->data);
	find(&p, "payload.enc")->data = zeros;
	find(&p, "payload.enc")->len = enc;
	find(&p, "payload.enc")->method = ZIP_CM_DEFLATE;
	repack(&p, &z2, &z2len);
	{
		unsigned char *cen, *loc;
		headers(z2, z2len, "payload.enc", &cen, &loc);
		assert_int_equal(loc[6] & 8, 0); /* no data descriptor to patch too */
		put32(cen + 24, 16);
		put32(loc + 22, 16);
	}
	assert_int_equal(open_rc(z2, z2len, recipient, sender_pub, 0), SUIDO_ERR_INVALID);
	free(z2);
	pack_free(&p);

	/* the manifest has its own small cap */
	unpack(zip, ziplen, &p);
	{
		struct member *m = find(&p, "manifest.json");
		unsigned char *bigm = malloc(8192);
		memset(bigm, ' ', 8192);
		memcpy(bigm, m->data, m->len);
		free(m->data);
		m->data = bigm;
		m->len = 8191;
	}
	assert_int_equal(reopen(&p, recipient, sender_pub), SUIDO_ERR_LIMIT);
	pack_free(&p);
	free(zip);
}

static void test_max_plain(void **state)
{
	unsigned char *plain = pattern(5000);
	void *zip;
	size_t ziplen;

	seal(plain, 5000, 128, &zip, &ziplen);
	assert_int_equal(open_rc(zip, ziplen, recipient, sender_pub, 4999), SUIDO_ERR_LIMIT);
	assert_int_equal(open_rc(zip, ziplen, recipient, sender_pub, 5000), SUIDO_OK);
	free(zip);
	assert_int_equal(fileseal_sign(plain, 5000, "p.bin", sender, &zip, &ziplen, NULL, 0),
			 SUIDO_OK);
	{
		void *out;
		size_t outlen;
		char *name;
		assert_int_equal(fileseal_verify(zip, ziplen, sender_pub, 4999, &out, &outlen,
						 &name, NULL, 0), SUIDO_ERR_LIMIT);
	}
	free(zip);
	free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fresh_keys),
		cmocka_unit_test(test_sign_only_and_encrypt_only),
		cmocka_unit_test(test_tampered_members),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_zip_structure),
		cmocka_unit_test(test_zip_bombs),
		cmocka_unit_test(test_max_plain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
