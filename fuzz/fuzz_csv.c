/*
 * libFuzzer target for the CSV reader (csv.h): arbitrary bytes, read to the
 * end with either the default caps or small ones chosen by the first byte,
 * so the cap and resynchronisation paths are reached with short inputs. The
 * reader's promises are checked, not just survived: fields within the caps
 * and NUL-terminated, lines moving forward, and the end always reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/csv.h"
#include "suido/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_limits lim = {0, 0, 0}, eff = {1024, 65536, (size_t)1 << 20};
	struct csv_reader *r = NULL;
	struct csv_record rec;
	char err[128];
	unsigned long prev_line = 0;
	size_t steps = 0;
	char *copy;
	int small = size > 0 && (data[0] & 1);

	if (small) {
		/* small caps: 1-8 fields, 1-16 bytes per field, 1-64 per record */
		lim.max_fields = 1 + (data[0] >> 1 & 7);
		lim.max_field_bytes = 1 + (data[0] >> 4);
		lim.max_record_bytes = size > 1 ? 1 + (data[1] & 63) : 64;
		eff = lim;
	}
	/* An exact-size copy, so reading past the end is caught by ASan. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (csv_reader_new(copy, size, small ? &lim : NULL, &r) != SUIDO_OK) {
		free(copy);
		return 0;
	}
	for (;;) {
		enum csv_status st = csv_next(r, &rec, err, sizeof(err));

		if (++steps > size + 2)
			abort(); /* every call consumes input */
		if (st == CSV_END)
			break;
		if (st == CSV_NOMEM)
			abort();
		if (rec.line <= prev_line || rec.last_line < rec.line)
			abort();
		prev_line = rec.line;
		if (st == CSV_BAD) {
			if (err[0] == '\0' || rec.last_line != rec.line)
				abort();
			continue;
		}
		if (rec.n_fields == 0 || rec.n_fields > eff.max_fields)
			abort();
		for (size_t i = 0; i < rec.n_fields; i++) {
			if (rec.lens[i] > eff.max_field_bytes || rec.fields[i][rec.lens[i]] != '\0')
				abort();
		}
	}
	/* END is sticky */
	if (csv_next(r, &rec, err, sizeof(err)) != CSV_END)
		abort();
	csv_reader_free(r);
	free(copy);
	return 0;
}
