/*
 * Sealed files: the "file format" data security of seed 003 section 4
 * (figures 4-6/4-7 encryption, 4-12/4-13 signature). A sealed file is a ZIP
 * with fixed member names that the unzip and openssl command-line tools can
 * take apart on their own (docs/protocol-file.md has the worked example):
 *
 *   manifest.json  format "suido-fileseal/1", the original file name, sizes,
 *                  algorithm names and the IV in hex (stored, not covered
 *                  by the signature: see below)
 *   payload.enc    the file, AES-128/192/256-CBC with PKCS#7 padding under
 *                  a fresh random session key and IV per file
 *   key.enc        the session key, RSA-OAEP to the recipient (SHA-1 and
 *                  MGF1-SHA-1, the openssl CLI default, written as
 *                  "rsa-oaep"; "rsa-oaep-256", SHA-256 for both, is
 *                  accepted on opening)
 *   payload.sig    RSASSA-PKCS1-v1_5 SHA-256 signature of the plaintext
 *                  file by the sender (sign, then encrypt)
 *
 * The sign-only layout (figure 4-12) holds manifest.json, payload (the file
 * itself, deflated) and payload.sig; the encrypt-only layout (figure 4-6)
 * manifest.json, payload.enc and key.enc. Each open function accepts exactly
 * its own layout, so a sealed file cannot be downgraded to a weaker one.
 *
 * Opening treats the ZIP as hostile: exactly the expected members, each
 * name once and spelt exactly, stored or deflated only, no ZIP encryption,
 * declared sizes checked against caps before anything is inflated and the
 * inflated size held to the declared one (zip bombs), CRCs checked.
 *
 * The manifest is not signed (the signature is over the file alone, so the
 * openssl CLI can check it): the returned name is untrusted. It is held to a
 * plain base name (no '/', '\\', ':', control characters, "." or "..") but a
 * caller that stores files by it must still treat it as a suggestion.
 *
 * RSA keys only, 2048 to 8192 bits (seed 003 table 4-7 asks for 2048).
 * Every function writes an English detail into err[errlen] on failure
 * (err may be NULL).
 */
#ifndef SUIDO_FILESEAL_H
#define SUIDO_FILESEAL_H

#include <stddef.h>

#include <openssl/evp.h>

/* max_plain == 0 in the open functions means this many bytes. */
#define FILESEAL_DEFAULT_MAX_PLAIN ((size_t)64 << 20)

/*
 * Signs data[0..len) with sender_key (private), encrypts it for
 * recipient_pub under a fresh AES-aes_bits-CBC session key (aes_bits 128,
 * 192 or 256) and writes the four-member ZIP into a malloc'ed *zip of
 * *ziplen bytes (caller frees with free()). name is the original file name
 * recorded in the manifest: 1-255 bytes of UTF-8, a base name.
 * Returns SUIDO_OK; SUIDO_ERR_INVALID for a bad name, aes_bits or key (not
 * RSA, too small or too large, no private part for signing);
 * SUIDO_ERR_LIMIT for len near SIZE_MAX; SUIDO_ERR_NOMEM; SUIDO_ERR_IO if
 * libzip fails otherwise. *zip is NULL on failure. A failing random
 * generator is fatal().
 */
int fileseal_seal(const void *data, size_t len, const char *name, EVP_PKEY *sender_key,
		  EVP_PKEY *recipient_pub, int aes_bits, void **zip, size_t *ziplen,
		  char *err, size_t errlen);

/*
 * Opens a ZIP made by fileseal_seal (or by zip + openssl in the same
 * layout): decrypts with recipient_key (private) and verifies the
 * signature with sender_pub. max_plain caps the plaintext (0: the default).
 * On success *data (malloc'ed, len bytes plus a NUL not counted in *len)
 * and *name (malloc'ed, NUL-terminated) belong to the caller, who frees
 * both with free(). Returns:
 *   SUIDO_OK
 *   SUIDO_ERR_INVALID    not a ZIP, truncated, wrong, missing, extra or
 *                        duplicate members, a compression method other than
 *                        stored/deflated, ZIP encryption, a CRC error, a
 *                        member inflating past its declared size, a
 *                        malformed or inconsistent manifest, a bad key type
 *   SUIDO_ERR_LIMIT      a member's declared size exceeds its cap
 *                        (payload: max_plain), checked before inflating
 *   SUIDO_ERR_DECRYPT    the session key does not decrypt (wrong recipient
 *                        key, tampered key.enc) or the payload's padding or
 *                        length is wrong (tampered payload.enc)
 *   SUIDO_ERR_SIGNATURE  the plaintext does not verify against sender_pub
 *   SUIDO_ERR_NOMEM
 * On failure the outputs are NULL/0 and no plaintext is left in memory.
 *
 * DECRYPT and SIGNATURE are told apart for the operator's log. A service
 * that answers a remote peer must not: telling bad padding from a bad
 * signature is a CBC padding oracle (docs/protocol-file.md).
 */
int fileseal_open(const void *zip, size_t ziplen, EVP_PKEY *recipient_key,
		  EVP_PKEY *sender_pub, size_t max_plain, void **data, size_t *len, char **name,
		  char *err, size_t errlen);

/*
 * Sign-only layout (figure 4-12): manifest.json, payload, payload.sig.
 * Arguments, ownership and returns as fileseal_seal, without the recipient.
 */
int fileseal_sign(const void *data, size_t len, const char *name, EVP_PKEY *sender_key,
		  void **zip, size_t *ziplen, char *err, size_t errlen);

/*
 * Opens the sign-only layout (figure 4-13). Arguments, ownership and
 * returns as fileseal_open, without the recipient key and never
 * SUIDO_ERR_DECRYPT.
 */
int fileseal_verify(const void *zip, size_t ziplen, EVP_PKEY *sender_pub, size_t max_plain,
		    void **data, size_t *len, char **name, char *err, size_t errlen);

/*
 * Encrypt-only layout (figure 4-6): manifest.json, payload.enc, key.enc.
 * Arguments, ownership and returns as fileseal_seal, without the sender.
 * Nothing proves who made such a file: anyone holding the recipient's
 * certificate can.
 */
int fileseal_encrypt(const void *data, size_t len, const char *name, EVP_PKEY *recipient_pub,
		     int aes_bits, void **zip, size_t *ziplen, char *err, size_t errlen);

/*
 * Opens the encrypt-only layout (figure 4-7). Arguments, ownership and
 * returns as fileseal_open, without the sender key and never
 * SUIDO_ERR_SIGNATURE.
 */
int fileseal_decrypt(const void *zip, size_t ziplen, EVP_PKEY *recipient_key,
		     size_t max_plain, void **data, size_t *len, char **name, char *err,
		     size_t errlen);

#endif
