/*
 * Point codec primitives shared by the store's point blocks (lib/ptblock.h)
 * and the gateway queue's chunks (src/gateway/qchunk.h): unsigned LEB128
 * varints (at most 10 octets, minimal) and tagged values.
 *
 *   value = %x00 8OCTET          ; a number, IEEE 754 binary64 little-endian (never NaN)
 *         / %x01 varint *OCTET   ; a text value: its length, then its bytes
 *         / %x02                 ; not a number
 */
#ifndef SUIDO_PCODEC_H
#define SUIDO_PCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "suido/strbuf.h"

/* Appends v as a minimal varint. 0, or -1 when out's allocation failed. */
int pcodec_put_varint(struct strbuf *out, uint64_t v);

/* Reads a minimal varint of at most 10 octets from *pp (< end), advancing
 * *pp. 0, or -1 when truncated, over 64 bits or not minimal. */
int pcodec_get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v);

/* Appends a value: text[text_len] when text is not NULL, else v (a NaN as
 * the NaN tag). 0, or -1 when out's allocation failed. */
int pcodec_put_value(struct strbuf *out, double v, const char *text, size_t text_len);

/*
 * Reads a value from *pp (< end), advancing *pp: *v (NaN for the NaN tag),
 * or *text pointing into the buffer with *text_len bytes (at most text_max).
 * NULL on success, else what is wrong ("missing value", "short number",
 * "NaN stored as a number", "text length", "value tag").
 */
const char *pcodec_get_value(const unsigned char **pp, const unsigned char *end,
			     size_t text_max, double *v, const char **text, size_t *text_len);

#endif
