/*
 * RFC 4180 CSV reader over a UTF-8 buffer in memory: quoted fields with
 * embedded commas, quotes ("") and line breaks; CRLF or LF records; a final
 * record without a line end. A malformed record (a quote inside an unquoted
 * field, text after a closing quote, an unterminated quote, a cap exceeded)
 * is reported with its line and the reader resumes at the next line, so one
 * bad row costs only itself.
 */
#ifndef SUIDO_CSV_H
#define SUIDO_CSV_H

#include <stddef.h>

struct csv_limits {
	size_t max_fields;       /* fields per record; 0 = 1024 */
	size_t max_field_bytes;  /* bytes per field; 0 = 65536 */
	size_t max_record_bytes; /* bytes per record; 0 = 1 MiB */
};

struct csv_record {
	size_t n_fields;
	char **fields;       /* NUL-terminated, unquoted; borrowed until the next
				csv_next() or csv_reader_free() */
	size_t *lens;        /* byte length of each field */
	unsigned long line;  /* 1-based physical line where the record starts */
	unsigned long last_line; /* physical line where it ends (>= line) */
};

enum csv_status {
	CSV_RECORD = 0, /* *rec holds a record */
	CSV_END,        /* no more input */
	CSV_BAD,        /* malformed record at rec->line..rec->last_line; err says why;
			   call csv_next again to continue */
	CSV_NOMEM,
};

struct csv_reader;

/*
 * Creates a reader over buf[0..len) (borrowed: must outlive the reader).
 * lim may be NULL for defaults. Returns SUIDO_OK or SUIDO_ERR_NOMEM.
 */
int csv_reader_new(const char *buf, size_t len, const struct csv_limits *lim,
		   struct csv_reader **out);
void csv_reader_free(struct csv_reader *r);

/*
 * Reads the next record. Blank lines (a lone line end) are skipped and not
 * returned. On CSV_BAD, err receives a short English reason such as
 * "unterminated quoted field" or "quote inside unquoted field at column 3".
 */
enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec, char *err, size_t errlen);

#endif
