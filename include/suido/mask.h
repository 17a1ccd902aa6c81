/*
 * Data masking (seed 003 4.1 データマスキング方式, 4.2.6): single data items
 * of a utility's system data are replaced by tokens made with the utility's
 * own symmetric key, and only the key's holder turns them back. Two modes:
 *
 *   deterministic  AES-256-SIV without a nonce: equal values under one key
 *                  give equal tokens, so masked customer numbers still join
 *                  and group; equality and frequency are visible.
 *   randomized     AES-256-GCM with a random 96-bit nonce: every token
 *                  differs; nothing but the length is visible.
 *
 * A token is text safe inside CSV and JSON without quoting:
 *   ~m1.<s|r>.<key id>.<base64url of the ciphertext, no padding>
 * (s: SIV tag || ciphertext; r: nonce || ciphertext || GCM tag; the
 * "~m1.<mode>.<key id>." prefix is authenticated as associated data). The
 * ciphertext is as long as the value: lengths are not hidden.
 *
 * The key is 64 random bytes; the per-mode keys are derived from it with
 * HKDF-SHA-256 under distinct labels. Its id is the first 8 hex digits of
 * SHA-256 of the key. The key file is one line:
 *   suido-mask-key/1 <key id> <base64 of the 64 bytes>
 * docs/masking.md has the threat model.
 *
 * Functions taking err write an English detail into err[errlen] on failure
 * (err may be NULL). No function logs or keeps a clear value.
 */
#ifndef SUIDO_MASK_H
#define SUIDO_MASK_H

#include <stddef.h>

#define MASK_KEY_BYTES 64
#define MASK_KEY_ID_LEN 8
#define MASK_MAX_CLEAR 65536 /* bytes of one value */
#define MASK_KEY_TEXT_MAX 128 /* a key file's line, with its newline and NUL */

enum mask_mode {
	MASK_DETERMINISTIC = 0,
	MASK_RANDOMIZED = 1,
};

struct mask_key;

/*
 * Creates a key from 64 fresh bytes of the OpenSSL DRBG. *out is the
 * caller's, freed with mask_key_free(). Returns SUIDO_OK, SUIDO_ERR_NOMEM,
 * or SUIDO_ERR_CONFIG when this OpenSSL lacks AES-256-SIV or HKDF.
 */
int mask_key_generate(struct mask_key **out, char *err, size_t errlen);

/*
 * Creates a key from raw[0..len) (copied; len must be MASK_KEY_BYTES).
 * Returns as mask_key_generate, or SUIDO_ERR_INVALID for a wrong length.
 */
int mask_key_from_bytes(const unsigned char *raw, size_t len, struct mask_key **out,
			char *err, size_t errlen);

/*
 * Parses a key file's text[0..len): the one line above, a final LF or CRLF
 * allowed. Returns as mask_key_from_bytes; SUIDO_ERR_INVALID also when the
 * id in the text is not the key's own (a damaged file).
 */
int mask_key_parse(const char *text, size_t len, struct mask_key **out, char *err,
		   size_t errlen);

/*
 * Reads and parses the key file dir/name (a regular file, no symlink, at
 * most MASK_KEY_TEXT_MAX bytes). Returns as mask_key_parse, or
 * SUIDO_ERR_NOTFOUND, SUIDO_ERR_LIMIT, SUIDO_ERR_IO from reading.
 */
int mask_key_load(const char *dir, const char *name, struct mask_key **out, char *err,
		  size_t errlen);

/* mask_key_load of a path "dir/name" (or "name" in the working directory);
 * SUIDO_ERR_INVALID also for a path too long. */
int mask_key_load_path(const char *path, struct mask_key **out, char *err, size_t errlen);

/*
 * Writes the key's file text, with its newline, into out[outlen]. The text
 * is the secret: the caller cleanses it (OPENSSL_cleanse). Returns SUIDO_OK
 * or SUIDO_ERR_LIMIT when outlen < MASK_KEY_TEXT_MAX.
 */
int mask_key_format(const struct mask_key *key, char *out, size_t outlen);

/*
 * Writes the key file dir/name with mode 0600, durably (temporary file,
 * fsync, link, fsync of the directory), and never over an existing file:
 * losing a key loses every value masked with it. Returns SUIDO_OK,
 * SUIDO_ERR_EXISTS, SUIDO_ERR_FULL, SUIDO_ERR_IO, or SUIDO_ERR_INVALID for
 * a path too long.
 */
int mask_key_save(const struct mask_key *key, const char *dir, const char *name, char *err,
		  size_t errlen);

/* The key's id, 8 lowercase hex digits; borrowed until mask_key_free(). */
const char *mask_key_id(const struct mask_key *key);

/* Cleanses and frees key; NULL is ignored. */
void mask_key_free(struct mask_key *key);

/*
 * Masks clear[0..len) (any bytes, 1 to MASK_MAX_CLEAR of them) into a
 * malloc'ed NUL-terminated *token (caller frees with free()). Returns
 * SUIDO_OK, SUIDO_ERR_INVALID for an empty value (nothing to hide; leave
 * empty fields as they are), SUIDO_ERR_LIMIT for a value over
 * MASK_MAX_CLEAR, SUIDO_ERR_NOMEM. *token is NULL on failure.
 */
int mask_value(const struct mask_key *key, enum mask_mode mode, const char *clear, size_t len,
	       char **token, char *err, size_t errlen);

/*
 * 1 when s[0..len) has the shape of a token (prefix, mode, key id,
 * canonical base64url of a plausible length), else 0. Says nothing about
 * whether any key opens it.
 */
int mask_is_token(const char *s, size_t len);

/*
 * Opens token[0..toklen). On success *clear (malloc'ed, *len bytes plus a
 * NUL not counted; caller frees with free(), after OPENSSL_cleanse if it
 * cares) holds the value. Returns:
 *   SUIDO_OK
 *   SUIDO_ERR_INVALID   not a token (mask_is_token would say 0)
 *   SUIDO_ERR_NOTFOUND  a token of another key id: this key cannot open it
 *   SUIDO_ERR_DECRYPT   the key id matches but authentication fails
 *                       (tampered token, or another key with the same id)
 *   SUIDO_ERR_NOMEM
 * *clear is NULL on failure.
 */
int mask_unmask(const struct mask_key *key, const char *token, size_t toklen, char **clear,
		size_t *len, char *err, size_t errlen);

#endif
