/*
 * The file store's intake (files.h).
 */
#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "suido/error.h"
#include "suido/fileseal.h"
#include "suido/hex.h"

static int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return SUIDO_ERR_NOMEM;
	hex_encode(md, 32, out);
	return SUIDO_OK;
}

int files_deposit(struct store *st, const char *utility, const char *sender,
		  EVP_PKEY *platform_key, EVP_PKEY *sender_pub, const void *zip, size_t len,
		  size_t max_bytes, int64_t now_ms, struct files_deposit *out, char *why,
		  size_t whylen)
{
	void *data = NULL;
	size_t dlen = 0;
	char *name = NULL, *idsrc = NULL, idhex[65];
	struct store_file f;
	int rc;

	memset(out, 0, sizeof *out);
	rc = fileseal_open(zip, len, platform_key, sender_pub, max_bytes, &data, &dlen, &name, why,
			   whylen);
	if (rc != SUIDO_OK)
		return rc;
	if (strlen(name) >= sizeof out->name) { /* fileseal caps names at 255 bytes */
		snprintf(why, whylen, "file name longer than %zu bytes", sizeof out->name - 1);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	snprintf(out->name, sizeof out->name, "%s", name);
	out->size = (int64_t)dlen;
	if ((rc = sha256_hex(data, dlen, out->sha256)) != SUIDO_OK)
		goto done;
	if (!(idsrc = malloc(strlen(sender) + strlen(name) + 64 + 3))) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	sprintf(idsrc, "%s\n%s\n%s", sender, name, out->sha256);
	if ((rc = sha256_hex(idsrc, strlen(idsrc), idhex)) != SUIDO_OK)
		goto done;
	memcpy(out->id, idhex, FILES_ID_LEN);
	out->id[FILES_ID_LEN] = '\0';
	f = (struct store_file){out->id, out->name, out->size, out->sha256, sender, now_ms};
	rc = store_put_file(st, utility, &f, data, dlen, zip, len);
	if (rc == SUIDO_ERR_EXISTS) {
		out->duplicate = 1;
		rc = SUIDO_OK;
	}
	if (rc != SUIDO_OK)
		snprintf(why, whylen, "storing the file: %s", suido_strerror(rc));
done:
	if (data) {
		OPENSSL_cleanse(data, dlen);
		free(data);
	}
	free(name);
	free(idsrc);
	return rc;
}
