/*
 * Hexadecimal text: what fingerprints, hashes, IVs, token hashes and
 * percent-escapes are written in. One implementation for the whole tree.
 */
#ifndef SUIDO_HEX_H
#define SUIDO_HEX_H

#include <stddef.h>

/* The value 0-15 of a hex digit (either case), or -1. */
int hex_digit(char c);

/* Writes the 2n lowercase hex digits of in[0..n) and a NUL into out
 * (which needs 2n + 1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Decodes exactly 2n hex digits of s into out[0..n). Returns 0, or -1 when s
 * is not 2n hex digits long (a NUL-terminated string) or holds a non-digit. */
int hex_decode(const char *s, unsigned char *out, size_t n);

#endif
