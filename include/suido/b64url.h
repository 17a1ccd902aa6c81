/*
 * Base64url (RFC 4648 section 5) without padding, in the canonical form only:
 * for every byte string exactly one text decodes to it (no "=", no length
 * that no byte count encodes to, zero bits after the last byte), so that a
 * signed token cannot be re-spelt unnoticed. Used by the JOSE data profile
 * (jose.c) and JWTs (jwt.c), and by the OpenID provider for random values.
 * Decoding is table-driven (four lookups and three ORs a group): it sits on
 * the sealed ingest's path.
 */
#ifndef SUIDO_B64URL_H
#define SUIDO_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters that n bytes encode to, and bytes that n characters decode to
 * (for n % 4 != 1). */
size_t b64url_encoded_len(size_t n);
size_t b64url_decoded_len(size_t n);

/* Encodes in[0..n) into out (outlen >= b64url_encoded_len(n) + 1), NUL-
 * terminated. Returns the characters written, or 0 when out is too small
 * (out is then untouched). */
size_t b64url_encode(const void *in, size_t n, char *out, size_t outlen);

/* 1 when s[0..n) has a canonical length, no "=" and zero bits after its last
 * byte; the alphabet is left to b64url_decode (one lookup per byte, done
 * once). */
int b64url_canonical(const char *s, size_t n);

/* Decodes s[0..n), which passed b64url_canonical, into
 * out[b64url_decoded_len(n)]. Returns 1, or 0 when a byte is outside the
 * alphabet (out then holds garbage). */
int b64url_decode(const char *s, size_t n, uint8_t *out);

/* b64url_canonical and the alphabet, without decoding: 1 or 0. */
int b64url_valid(const char *s, size_t n);

#endif
