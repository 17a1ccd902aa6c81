/*
 * A growable byte buffer with a hard cap, and the JSON text writers built on
 * it (strings escaped per RFC 8259, numbers in shortest round-trip form).
 * Used for every answer and message the programs produce, so output never
 * needs a fixed-size buffer and never exceeds its cap.
 */
#ifndef SUIDO_STRBUF_H
#define SUIDO_STRBUF_H

#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *data;   /* NUL-terminated when non-NULL; owned */
	size_t len;
	size_t cap;   /* allocated bytes */
	size_t limit; /* hard cap on len; 0 = 1 GiB */
	int failed;   /* sticky: an append ran out of memory or hit the limit */
};

/* Zero-initialise (or use STRBUF_INIT), optionally set limit, then append. */
#define STRBUF_INIT { NULL, 0, 0, 0, 0 }

/* Appends; on failure sets sb->failed and returns -1 (later appends are no-ops). */
int strbuf_append(struct strbuf *sb, const void *p, size_t n);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON: a quoted, escaped string (s need not be NUL-terminated); invalid
 * UTF-8 bytes are written as U+FFFD. */
int strbuf_json_str(struct strbuf *sb, const char *s, size_t n);
/* Shortest round-trip number; NaN and infinities are written as null. */
int strbuf_json_num(struct strbuf *sb, double v);
int strbuf_json_int(struct strbuf *sb, int64_t v);

/* Empties the buffer keeping its memory. */
void strbuf_reset(struct strbuf *sb);
/* Frees the memory; the struct is reusable after (zeroed, limit kept). */
void strbuf_free(struct strbuf *sb);
/* Hands the data to the caller (free with free()); the buffer is emptied.
 * Returns NULL when nothing was appended or sb->failed. */
char *strbuf_steal(struct strbuf *sb, size_t *len);

#endif
