/*
 * Column mapping: how the rows of a CSV file become measurement points of
 * items. A mapping is a set of layouts read from [layout NAME] sections of a
 * configuration file (conf.h). The layout of a file is recognised by its
 * header row alone, whatever the file is called.
 *
 * Layout keys (values that are lists are comma-separated, items trimmed):
 *   kind      = wide | long                     (required)
 *   require   = h1,h2,...   header cells that must all be present (required);
 *               the file's layout is the one whose require list is fully
 *               present, the longest such list winning; equal-length
 *               matches are an "ambiguous layout" error
 *   time      = header of the time column        (required)
 *   time_format = iso8601 | pattern (timeutil.h) (required)
 *   facility  = header of a column naming the facility / meter / station
 *               (optional; its cell becomes the item's facility)
 *   facility_name = fixed facility text when there is no such column (optional)
 *   wide only:
 *     values  = * | h1,h2,...   columns that hold numbers ("*" = every column
 *               not named by time, facility, ignore, text or mask*)
 *     text    = h1,h2,...   columns sent as text values as they are (status
 *               words such as 運転 / 停止)
 *     mask    = h1,h2,...   personal data sent only masked, randomized mode
 *               (mask.h: every token differs; names, addresses)
 *     mask_deterministic = h1,h2,...   masked in deterministic mode (equal
 *               values give equal tokens: customer numbers that must join)
 *     ignore  = h1,h2,...   columns never read or sent
 *   Every column listed in values, text, mask or mask_deterministic must be
 *   in the header; a column may be listed in one of these keys only.
 *   long only:
 *     item    = header of the column naming the item      (required)
 *     value   = header of the value column                (required)
 *     unit    = header of the unit column                 (optional)
 *   id_prefix = text put in front of generated item ids (default: the layout name)
 *
 * Items: in a wide layout the item name is the column header, its unit the
 * text inside a trailing "(...)" or "（...）" of the header ("配水池水位(m)"
 * -> unit "m"); in a long layout the name is the item cell and the unit the
 * unit cell (may be empty). The facility is the facility cell or
 * facility_name or "". The item id is
 *   id_prefix + "." + first 16 hex digits of SHA-256(facility + "\x1f" + name)
 * so it is stable, URL-safe and the same for every gateway using the layout.
 *
 * Row rules: a row is mapped entirely or not at all. Wrong field count,
 * an unparseable time, an impossible date, an unparseable number, a text
 * cell longer than MAPPING_TEXT_MAX bytes, or a facility, item name, unit or
 * text cell holding a character XML 1.0 cannot carry (C0 controls but tab,
 * LF, CR; U+FFFE, U+FFFF) reject the row with a reason; such a header cell
 * refuses the file. An
 * empty value cell (text cells trimmed) is "no value" (skipped, not an
 * error); a row whose value cells are all empty yields no points and no error.
 * The mapping never masks: it hands the clear text of a mask column to the
 * sink with the mode, and the caller (the gateway's intake) masks it before
 * it is stored anywhere.
 */
#ifndef SUIDO_MAPPING_H
#define SUIDO_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "csv.h"

#define MAPPING_TEXT_MAX 1024 /* bytes of a text cell (its token fits a profile text) */

struct mapping;      /* immutable set of layouts */
struct mapping_file; /* the state of mapping one file */

struct mapping_item {
	const char *id;       /* e.g. "haisuichi.0f3a9c2d1e0b4a7f" */
	const char *name;     /* e.g. "配水池水位(m)" */
	const char *unit;     /* e.g. "m", may be "" */
	const char *facility; /* may be "" */
};

/*
 * Reads every [layout NAME] section of c (other sections are ignored) and
 * validates it. Returns SUIDO_OK and *out (free with mapping_free), or
 * SUIDO_ERR_CONFIG with "file:line: [layout NAME] key: problem" in err
 * (unknown key, missing key, bad kind, bad time_format, no layouts at all).
 */
int mapping_load(const struct conf *c, struct mapping **out, char *err, size_t errlen);
void mapping_free(struct mapping *m);

size_t mapping_layout_count(const struct mapping *m);

/*
 * Starts mapping a file whose header record is header. Returns SUIDO_OK and
 * *out (free with mapping_file_free; it borrows m, which must outlive it), or
 * SUIDO_ERR_NOTFOUND ("unknown layout: header matches no layout"),
 * SUIDO_ERR_INVALID (ambiguous layout, duplicate header cell, a required
 * column missing), SUIDO_ERR_NOMEM; err says which.
 * Header cells are compared after trimming ASCII and ideographic spaces.
 */
int mapping_file_begin(const struct mapping *m, const struct csv_record *header,
		       struct mapping_file **out, char *err, size_t errlen);
void mapping_file_free(struct mapping_file *f);

/* Name of the recognised layout; borrowed from the mapping. */
const char *mapping_file_layout(const struct mapping_file *f);

/* Nonzero when some layout of m has a mask or mask_deterministic column
 * (its user then needs a mask key). */
int mapping_masks(const struct mapping *m);

enum mapping_kind {
	MAPPING_NUMBER,             /* v */
	MAPPING_TEXT,               /* text[len], sent as it is */
	MAPPING_MASK_RANDOMIZED,    /* text[len] is clear: mask (MASK_RANDOMIZED) first */
	MAPPING_MASK_DETERMINISTIC, /* text[len] is clear: mask (MASK_DETERMINISTIC) first */
};

struct mapping_value {
	enum mapping_kind kind;
	double v;         /* MAPPING_NUMBER */
	const char *text; /* the others: trimmed cell, not NUL-terminated, 1..MAPPING_TEXT_MAX */
	size_t len;
};

/*
 * Called once per point of an accepted row. item and its strings are
 * borrowed until mapping_file_free, val and its text for the call only.
 * Return 0 to continue, nonzero to stop: mapping_file_row then returns that
 * value.
 */
typedef int (*mapping_sink_fn)(void *ctx, const struct mapping_item *item, int64_t t_ms,
			       const struct mapping_value *val);

/*
 * Maps one data record. Validates the whole row first; only if it is good
 * calls sink for each point. Returns SUIDO_OK (*n_points = points emitted),
 * SUIDO_ERR_INVALID with the reason in err (nothing emitted), SUIDO_ERR_NOMEM,
 * or the sink's nonzero value.
 */
int mapping_file_row(struct mapping_file *f, const struct csv_record *row, mapping_sink_fn sink,
		     void *ctx, size_t *n_points, char *err, size_t errlen);

#endif
