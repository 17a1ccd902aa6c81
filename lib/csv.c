/*
 * CSV reader (csv.h). A record is parsed straight out of the caller's buffer
 * into one reusable byte area (each field NUL-terminated, one after the
 * other) plus reusable field tables, so the steady state allocates nothing.
 * Every scan is bounded by the record cap before anything is copied, which
 * keeps memory at max_record_bytes + max_fields whatever the input.
 * Resynchronisation: a malformed record costs exactly the physical line it
 * started on; reading resumes at the next line. Resuming there rather than
 * after the point of failure matters for the common corruption, a stray
 * opening quote, which would otherwise swallow the good rows up to the next
 * quote in the file.
 */
#include "suido/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"

#define CSV_DEF_FIELDS 1024
#define CSV_DEF_FIELD_BYTES 65536
#define CSV_DEF_RECORD_BYTES ((size_t)1 << 20)

struct csv_reader {
	const char *buf;
	size_t len;
	size_t pos;          /* start of the next record */
	unsigned long line;  /* physical line of buf[pos] */
	struct csv_limits lim;

	char *data;          /* field bytes of the current record */
	size_t data_cap;
	size_t *offs;        /* offset of each field in data */
	char **fields;
	size_t *lens;
	size_t fields_cap;
};

int csv_reader_new(const char *buf, size_t len, const struct csv_limits *lim,
		   struct csv_reader **out)
{
	struct csv_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return SUIDO_ERR_NOMEM;
	r->buf = buf;
	r->len = buf ? len : 0;
	r->line = 1;
	if (lim)
		r->lim = *lim;
	if (r->lim.max_fields == 0)
		r->lim.max_fields = CSV_DEF_FIELDS;
	if (r->lim.max_field_bytes == 0)
		r->lim.max_field_bytes = CSV_DEF_FIELD_BYTES;
	if (r->lim.max_record_bytes == 0)
		r->lim.max_record_bytes = CSV_DEF_RECORD_BYTES;
	*out = r;
	return SUIDO_OK;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	free(r->data);
	free(r->offs);
	free(r->fields);
	free(r->lens);
	free(r);
}

/* Room for need bytes in data. need is bounded by the record cap plus one
 * NUL per field, so the doubling cannot run away. */
static int data_reserve(struct csv_reader *r, size_t need)
{
	size_t cap = r->data_cap ? r->data_cap : 256;
	char *p;

	if (need <= r->data_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(r->data, cap);
	if (!p)
		return -1;
	r->data = p;
	r->data_cap = cap;
	return 0;
}

static int fields_reserve(struct csv_reader *r, size_t n)
{
	size_t cap = r->fields_cap ? r->fields_cap * 2 : 32;
	size_t *o, *l;
	char **f;

	if (n <= r->fields_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	o = realloc(r->offs, cap * sizeof(*o));
	if (!o)
		return -1;
	r->offs = o;
	f = realloc(r->fields, cap * sizeof(*f));
	if (!f)
		return -1;
	r->fields = f;
	l = realloc(r->lens, cap * sizeof(*l));
	if (!l)
		return -1;
	r->lens = l;
	r->fields_cap = cap;
	return 0;
}

static unsigned long count_lf(const char *p, size_t n)
{
	unsigned long c = 0;
	const char *end = p + n;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* Skips the physical line the bad record started on. */
static enum csv_status bad(struct csv_reader *r, struct csv_record *rec, size_t start,
			   unsigned long start_line)
{
	const char *nl = memchr(r->buf + start, '\n', r->len - start);

	r->pos = nl ? (size_t)(nl - r->buf) + 1 : r->len;
	r->line = start_line + 1;
	rec->n_fields = 0;
	rec->fields = NULL;
	rec->lens = NULL;
	rec->line = start_line;
	rec->last_line = start_line;
	return CSV_BAD;
}

enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec, char *err, size_t errlen)
{
	const char *b = r->buf;
	size_t len = r->len, p = r->pos, start, hard, dlen = 0, nf = 0;
	size_t max_rec = r->lim.max_record_bytes;
	unsigned long line = r->line, start_line;
	char dummy[1];

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	/* Blank lines are not records. */
	for (;;) {
		if (p < len && b[p] == '\n') {
			p++;
			line++;
		} else if (p + 1 < len && b[p] == '\r' && b[p + 1] == '\n') {
			p += 2;
			line++;
		} else {
			break;
		}
	}
	r->pos = p;
	r->line = line;
	if (p >= len) {
		rec->n_fields = 0;
		return CSV_END;
	}
	start = p;
	start_line = line;
	/* One byte past the cap is looked at, to tell "exactly at" from "over". */
	hard = len - start > max_rec ? start + max_rec + 1 : len;

	for (;;) {
		size_t f0 = dlen, col = nf + 1;

		if (nf == r->lim.max_fields) {
			snprintf(err, errlen, "too many fields (more than %zu)", r->lim.max_fields);
			return bad(r, rec, start, start_line);
		}
		if (fields_reserve(r, nf + 1))
			return CSV_NOMEM;
		if (p < hard && b[p] == '"') {
			p++;
			for (;;) {
				const char *q = memchr(b + p, '"', hard - p);
				size_t chunk;

				if (!q) {
					if (hard < len)
						goto too_long;
					snprintf(err, errlen, "unterminated quoted field");
					return bad(r, rec, start, start_line);
				}
				chunk = (size_t)(q - (b + p));
				if (data_reserve(r, dlen + chunk + 2))
					return CSV_NOMEM;
				memcpy(r->data + dlen, b + p, chunk);
				dlen += chunk;
				line += count_lf(b + p, chunk);
				p += chunk + 1; /* past the quote */
				if (p < hard && b[p] == '"') {
					r->data[dlen++] = '"';
					p++;
					continue;
				}
				break;
			}
			if (p - start > max_rec)
				goto too_long;
			if (p < len && b[p] != ',' && b[p] != '\n' &&
			    !(b[p] == '\r' && p + 1 < len && b[p + 1] == '\n')) {
				snprintf(err, errlen, "text after closing quote at column %zu", col);
				return bad(r, rec, start, start_line);
			}
		} else {
			size_t s = p;

			while (p < hard) {
				char c = b[p];

				if (c == ',' || c == '\n' || c == '"' ||
				    (c == '\r' && p + 1 < len && b[p + 1] == '\n'))
					break;
				p++;
			}
			if (p < hard && b[p] == '"') {
				snprintf(err, errlen, "quote inside unquoted field at column %zu", col);
				return bad(r, rec, start, start_line);
			}
			if (data_reserve(r, dlen + (p - s) + 1))
				return CSV_NOMEM;
			memcpy(r->data + dlen, b + s, p - s);
			dlen += p - s;
		}
		if (p - start > max_rec)
			goto too_long;
		if (dlen - f0 > r->lim.max_field_bytes) {
			snprintf(err, errlen, "field too long at column %zu (more than %zu bytes)", col,
				 r->lim.max_field_bytes);
			return bad(r, rec, start, start_line);
		}
		r->data[dlen++] = '\0';
		r->offs[nf] = f0;
		r->lens[nf] = dlen - f0 - 1;
		nf++;
		if (p < len && b[p] == ',') {
			p++;
			if (p - start > max_rec)
				goto too_long;
			continue;
		}
		break;
	}
	/* At a line end or the end of input. */
	rec->last_line = line;
	if (p < len) {
		p += b[p] == '\r' ? 2 : 1;
		line++;
	}
	r->pos = p;
	r->line = line;
	for (size_t i = 0; i < nf; i++)
		r->fields[i] = r->data + r->offs[i];
	rec->n_fields = nf;
	rec->fields = r->fields;
	rec->lens = r->lens;
	rec->line = start_line;
	return CSV_RECORD;

too_long:
	snprintf(err, errlen, "record too long (more than %zu bytes)", max_rec);
	return bad(r, rec, start, start_line);
}
