/*
 * Character set handling for files that existing utility systems deliver:
 * CP932 (Windows Shift_JIS, the common case), UTF-8 and UTF-8 with a BOM.
 * Decoding never fails on bad bytes: an invalid sequence becomes U+FFFD and
 * the physical line it was on is reported, so the caller can reject exactly
 * those rows and keep the rest of the file.
 */
#ifndef SUIDO_TEXTENC_H
#define SUIDO_TEXTENC_H

#include <stddef.h>

enum textenc {
	TEXTENC_AUTO = 0, /* only as a request: detect */
	TEXTENC_UTF8,
	TEXTENC_UTF8_BOM,
	TEXTENC_CP932,
};

struct textenc_result {
	char *text;               /* UTF-8, NUL-terminated, BOM removed; owned */
	size_t len;               /* bytes in text, without the NUL */
	enum textenc enc;         /* what was decoded (never AUTO) */
	unsigned long *bad_lines; /* sorted, unique, 1-based physical lines holding
				     an invalid byte sequence; owned; may be NULL */
	size_t n_bad_lines;
};

/*
 * Decodes buf (len bytes) into UTF-8. With want == TEXTENC_AUTO: a UTF-8 BOM
 * means UTF-8; otherwise the file is UTF-8 if it has fewer invalid sequences
 * as UTF-8 than as CP932 (ties go to UTF-8), else CP932. Line numbers count
 * LF (a CR LF pair is one line end; a lone CR is not a line end).
 * Returns SUIDO_OK and fills *out (free with textenc_result_free), or
 * SUIDO_ERR_NOMEM / SUIDO_ERR_ENCODING (iconv unavailable).
 */
int textenc_decode(const unsigned char *buf, size_t len, enum textenc want,
		   struct textenc_result *out);

/* Frees what textenc_decode allocated; tolerates a zeroed struct. */
void textenc_result_free(struct textenc_result *r);

/* Nonzero when buf looks binary: it holds a NUL byte. */
int textenc_is_binary(const unsigned char *buf, size_t len);

/* "utf-8", "utf-8-bom", "cp932", "auto". */
const char *textenc_name(enum textenc e);

/* Parses the names above (case-insensitive; also "shift_jis", "sjis",
 * "windows-31j" for CP932, "utf8"). Returns 0 or -1. */
int textenc_parse(const char *name, enum textenc *out);

/* Nonzero when line (1-based) is in r->bad_lines (binary search). */
int textenc_line_is_bad(const struct textenc_result *r, unsigned long line);

#endif
