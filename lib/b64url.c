/*
 * Canonical unpadded base64url (b64url.h).
 */
#include "suido/b64url.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t b64url_decoded_len(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

size_t b64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const uint8_t *b = in;
	size_t i, o = 0;
	uint32_t x;

	if (n > (SIZE_MAX - 4) / 4 * 3 || !out || outlen < b64url_encoded_len(n) + 1)
		return 0;
	for (i = 0; i + 3 <= n; i += 3) {
		x = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
		out[o++] = alphabet[x >> 18 & 63];
		out[o++] = alphabet[x >> 12 & 63];
		out[o++] = alphabet[x >> 6 & 63];
		out[o++] = alphabet[x & 63];
	}
	if (n - i) {
		x = (uint32_t)b[i] << 16 | (n - i == 2 ? (uint32_t)b[i + 1] << 8 : 0);
		out[o++] = alphabet[x >> 18 & 63];
		out[o++] = alphabet[x >> 12 & 63];
		if (n - i == 2)
			out[o++] = alphabet[x >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

/* Four tables, one per position in a group of four characters: the entry is
 * the character's 6 bits already shifted into place in the group's 24 bits,
 * or B64U_BAD for a byte outside the alphabet, so that a group decodes with
 * four lookups and three ORs, and one test on the OR of all groups tells
 * whether every byte belonged. Constant expressions, made by the
 * preprocessor. */
#define B64U_BAD 0x01000000u
#define B64U_VAL(c)                                                                            \
	((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                \
	 : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                           \
	 : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                           \
	 : (c) == '-'               ? 62                                                       \
	 : (c) == '_'               ? 63                                                       \
				    : -1)
#define B64U_AT(c, shift) (B64U_VAL(c) < 0 ? B64U_BAD : (uint32_t)B64U_VAL(c) << (shift))
#define B64U_4(s, c) B64U_AT(c, s), B64U_AT(c + 1, s), B64U_AT(c + 2, s), B64U_AT(c + 3, s)
#define B64U_16(s, c) B64U_4(s, c), B64U_4(s, c + 4), B64U_4(s, c + 8), B64U_4(s, c + 12)
#define B64U_64(s, c) B64U_16(s, c), B64U_16(s, c + 16), B64U_16(s, c + 32), B64U_16(s, c + 48)
#define B64U_TABLE(s) {B64U_64(s, 0), B64U_64(s, 64), B64U_64(s, 128), B64U_64(s, 192)}

static const uint32_t d0[256] = B64U_TABLE(18), d1[256] = B64U_TABLE(12), d2[256] = B64U_TABLE(6),
		      d3[256] = B64U_TABLE(0);

int b64url_canonical(const char *s, size_t n)
{
	int last;

	if (n % 4 == 1 || memchr(s, '=', n))
		return 0;
	if (n % 4 == 0)
		return 1;
	last = (int)(d3[(unsigned char)s[n - 1]] & 0x3f); /* 0 when not base64url */
	if (n % 4 == 2)
		return (last & 0x0f) == 0;
	return (last & 0x03) == 0;
}

int b64url_decode(const char *str, size_t n, uint8_t *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	uint32_t acc = 0, x;

	for (; i + 4 <= n; i += 4, out += 3) {
		x = d0[s[i]] | d1[s[i + 1]] | d2[s[i + 2]] | d3[s[i + 3]];
		acc |= x;
		out[0] = (uint8_t)(x >> 16);
		out[1] = (uint8_t)(x >> 8);
		out[2] = (uint8_t)x;
	}
	if (n - i >= 2) { /* b64url_canonical refused a remainder of 1 */
		x = d0[s[i]] | d1[s[i + 1]] | (n - i == 3 ? d2[s[i + 2]] : 0);
		acc |= x;
		out[0] = (uint8_t)(x >> 16);
		if (n - i == 3)
			out[1] = (uint8_t)(x >> 8);
	}
	return !(acc & B64U_BAD);
}

int b64url_valid(const char *s, size_t n)
{
	uint32_t acc = 0;

	if (!b64url_canonical(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		acc |= d3[(unsigned char)s[i]];
	return !(acc & B64U_BAD);
}
