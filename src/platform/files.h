/*
 * The file store's intake (seed 000 ファイル蓄積, docs/api.md "Files"): a
 * gateway (over MQTT) or an application (over the AP interface) deposits a
 * file in the sealed file format (fileseal.h: signed by the sender, encrypted
 * for the platform's data-protection key); the platform opens it, verifies
 * the sender's signature with the sender's registered certificate, and keeps
 * the content with the sealed original in the store (store_put_file), so the
 * signature can be checked again later. One function serves both paths.
 *
 * A file's id is the first 32 hex digits of
 *   SHA-256(sender "\n" name "\n" hex SHA-256 of the content)
 * so a resend of the same deposit (same sender, name and content) finds the
 * file already there and is answered as the first one was, and the same
 * content deposited under another name or by another sender is another file.
 */
#ifndef SUIDO_PLATFORM_FILES_H
#define SUIDO_PLATFORM_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "suido/store.h"

#define FILES_ID_LEN 32

struct files_deposit {
	char id[FILES_ID_LEN + 1];
	char name[256];
	char sha256[65];
	int64_t size;
	int duplicate; /* 1: the same deposit was stored before; nothing new stored */
};

/*
 * Opens zip[len] with platform_key (private) and sender_pub (the sender's
 * registered certificate's key), at most max_bytes of content, and stores it
 * as a file of utility from sender ("gateway:<id>" or "application:<id>")
 * received at now_ms. Runs inside the caller's store transaction (the caller
 * begins and commits; on an error other than those of opening, it rolls
 * back). Returns SUIDO_OK filling *out; for a refused file SUIDO_ERR_INVALID,
 * _LIMIT (over max_bytes), _DECRYPT or _SIGNATURE with the reason in why
 * (nothing stored); SUIDO_ERR_DB / _FULL / _NOMEM / _NOTFOUND (no such
 * utility) from the store.
 */
int files_deposit(struct store *st, const char *utility, const char *sender,
		  EVP_PKEY *platform_key, EVP_PKEY *sender_pub, const void *zip, size_t len,
		  size_t max_bytes, int64_t now_ms, struct files_deposit *out, char *why,
		  size_t whylen);

#endif
