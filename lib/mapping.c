/*
 * Column mapping (mapping.h). mapping_load copies and cross-checks every
 * [layout NAME] section into an immutable struct that owns its strings, so
 * the conf can be freed after loading. A file is bound to one layout by its
 * header row; column positions are resolved once in mapping_file_begin, and
 * each row is then validated in full (field count, time, facility, every
 * value) before a single point reaches the sink. Items are created on first
 * use and kept in a per-file hash table, because with a facility column (one
 * meter per billing row) the set of items is only known from the data. The
 * number of distinct items per file is capped. Cells are compared after
 * trimming ASCII and ideographic (U+3000) spaces, which Japanese exports pad
 * with.
 */
#include "suido/mapping.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "suido/error.h"
#include "suido/numparse.h"
#include "suido/timeutil.h"

#define LIST_MAX 1024             /* names in one list key */
#define ID_PREFIX_MAX 64
#define ITEMS_MAX ((size_t)1 << 22) /* distinct items in one file */
#define TIME_MEMO_MAX 64          /* longest time text remembered */
#define QUOTE_MAX 60              /* bytes of a cell quoted in a reason */
#define NO_COL ((size_t)-1)

enum layout_kind { KIND_WIDE, KIND_LONG };

struct strlist {
	char **v;
	size_t n;
};

struct layout {
	char *name;
	enum layout_kind kind;
	struct strlist require;
	char *time_col;
	char *time_format;
	char *facility_col;  /* NULL: none */
	char *facility_name; /* NULL: none */
	int values_all;
	struct strlist values;
	struct strlist ignore;
	struct strlist text, mask_r, mask_d; /* text, mask, mask_deterministic */
	char *item_col, *value_col, *unit_col; /* long only; unit may be NULL */
	char *id_prefix;
};

struct mapping {
	struct layout *layouts;
	size_t n_layouts;
};

struct item {
	struct mapping_item pub;
	uint64_t hash;
	size_t fac_len, name_len, unit_len; /* lookups must not strlen */
	struct item *next_alloc; /* every item, for freeing */
};

/* A value column of a wide layout. */
struct vcol {
	size_t idx;
	enum mapping_kind kind;
	const char *txt; /* text kinds: the current row's trimmed cell */
	size_t txt_len;
	const char *name; /* trimmed header cell, owned by the file's header copy */
	size_t name_len;
	char *unit;
	size_t unit_len;
	struct item *last; /* item of the previous row: same facility, usually */
};

struct mapping_file {
	const struct mapping *m;
	const struct layout *lay;
	size_t n_fields;
	char *header;        /* trimmed header cells, NUL-separated */
	size_t time_idx, facility_idx, item_idx, value_idx, unit_idx;
	struct vcol *vcols;
	size_t n_vcols;
	double *vals;               /* per value column, for the current row */
	struct item **row_items;    /* per value column, for the current row */

	struct item **table;        /* open addressing, power-of-two size */
	size_t table_cap, n_items;
	struct item *items;         /* allocation list */

	char memo_text[TIME_MEMO_MAX];
	size_t memo_len;            /* 0: nothing remembered */
	int64_t memo_ms;
};

/* ---- small string helpers ---- */

static int is_ideo_space(const char *s, size_t n)
{
	return n >= 3 && (unsigned char)s[0] == 0xe3 && (unsigned char)s[1] == 0x80 &&
	       (unsigned char)s[2] == 0x80;
}

/* Trims ASCII spaces, tabs and U+3000 from both ends of s[0..*len). */
static const char *trim_cell(const char *s, size_t *len)
{
	size_t n = *len;

	for (;;) {
		if (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
			s++;
			n--;
		} else if (is_ideo_space(s, n)) {
			s += 3;
			n -= 3;
		} else {
			break;
		}
	}
	for (;;) {
		if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		else if (n >= 3 && is_ideo_space(s + n - 3, 3))
			n -= 3;
		else
			break;
	}
	*len = n;
	return s;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *dup_trim(const char *s)
{
	size_t n = strlen(s);
	const char *t = trim_cell(s, &n);

	return dup_n(t, n);
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Nonzero when s[0..n) holds a character XML 1.0 cannot carry: a C0 control
 * other than tab, LF and CR, or U+FFFE / U+FFFF. Names and text values must
 * travel in every data profile format (docs/protocol-xml.md), and a message
 * the gateway could not encode would be stuck at the head of its queue; so
 * such a cell refuses its row here, with a reason, instead. */
static int not_xml_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 1;
		if (p[i] == 0xef && i + 2 < n && p[i + 1] == 0xbf && (p[i + 2] & 0xfe) == 0xbe)
			return 1;
	}
	return 0;
}

/* "Cell" as a quoted, length-capped string for reasons. */
static int qlen(size_t n)
{
	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

/* ---- loading ---- */

static void layout_free(struct layout *l)
{
	free(l->name);
	strlist_free(&l->require);
	free(l->time_col);
	free(l->time_format);
	free(l->facility_col);
	free(l->facility_name);
	strlist_free(&l->values);
	strlist_free(&l->ignore);
	strlist_free(&l->text);
	strlist_free(&l->mask_r);
	strlist_free(&l->mask_d);
	free(l->item_col);
	free(l->value_col);
	free(l->unit_col);
	free(l->id_prefix);
}

void mapping_free(struct mapping *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_layouts; i++)
		layout_free(&m->layouts[i]);
	free(m->layouts);
	free(m);
}

size_t mapping_layout_count(const struct mapping *m)
{
	return m ? m->n_layouts : 0;
}

/* Context for reporting a located config error. */
struct lctx {
	const struct conf *c;
	const struct conf_section *s;
	char *err;
	size_t errlen;
};

/* Splits a comma-separated list, trimming items; empty items and repeats are
 * errors since they are always typos. */
static int split_list(struct lctx *x, const char *key, struct strlist *out)
{
	const struct conf_entry *e = conf_find(x->s, key);
	const char *p;
	size_t cap = 0;

	out->v = NULL;
	out->n = 0;
	if (!e)
		return SUIDO_OK;
	p = e->value;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *t = trim_cell(p, &n);
		char *item;

		if (n == 0) {
			conf_error(x->c, x->s, e, x->err, x->errlen, "empty name in list");
			goto fail;
		}
		if (out->n == LIST_MAX) {
			conf_error(x->c, x->s, e, x->err, x->errlen, "more than %d names",
				   LIST_MAX);
			goto fail;
		}
		item = dup_n(t, n);
		if (!item)
			goto nomem;
		if (strlist_has(out, item)) {
			conf_error(x->c, x->s, e, x->err, x->errlen, "\"%s\" listed twice", item);
			free(item);
			goto fail;
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nv = realloc(out->v, ncap * sizeof(*nv));

			if (!nv) {
				free(item);
				goto nomem;
			}
			out->v = nv;
			cap = ncap;
		}
		out->v[out->n++] = item;
		if (!comma)
			break;
		p = comma + 1;
	}
	return SUIDO_OK;
nomem:
	snprintf(x->err, x->errlen, "%s: out of memory", conf_name(x->c));
	strlist_free(out);
	return SUIDO_ERR_NOMEM;
fail:
	strlist_free(out);
	return SUIDO_ERR_CONFIG;
}

/* Reads an optional/required single header name (trimmed, owned) into *out. */
static int get_col(struct lctx *x, const char *key, int required, char **out)
{
	const char *v = NULL;
	int rc = conf_get_str(x->c, x->s, key, required, NULL, &v, x->err, x->errlen);

	*out = NULL;
	if (rc != SUIDO_OK)
		return rc;
	if (!v)
		return SUIDO_OK;
	*out = dup_trim(v);
	if (!*out) {
		snprintf(x->err, x->errlen, "%s: out of memory", conf_name(x->c));
		return SUIDO_ERR_NOMEM;
	}
	if (!**out) {
		conf_error(x->c, x->s, conf_find(x->s, key), x->err, x->errlen,
			   "must not be empty");
		return SUIDO_ERR_CONFIG;
	}
	return SUIDO_OK;
}

static int key_present(struct lctx *x, const char *key, const char *why)
{
	const struct conf_entry *e = conf_find(x->s, key);

	if (!e)
		return 0;
	conf_error(x->c, x->s, e, x->err, x->errlen, "%s", why);
	return 1;
}

static int id_prefix_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ID_PREFIX_MAX)
		return 0;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* The one column a key names must not also be read as something else. */
static int conflict(struct lctx *x, const char *key, const char *col, const char *other_key,
		    const char *other_col)
{
	if (!col || !other_col || strcmp(col, other_col) != 0)
		return 0;
	conf_error(x->c, x->s, conf_find(x->s, key), x->err, x->errlen,
		   "column \"%s\" is also the %s column", col, other_key);
	return 1;
}

/* The text, mask and mask_deterministic columns of a wide layout: each
 * column in one list only, and none of them the time, facility, a values or
 * an ignore column. */
static int text_lists_check(struct lctx *x, const struct layout *l)
{
	static const char *const keys[] = {"text", "mask", "mask_deterministic"};
	const struct strlist *lists[] = {&l->text, &l->mask_r, &l->mask_d};

	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < lists[k]->n; i++) {
			const char *c = lists[k]->v[i];
			const char *other = NULL;

			if (strcmp(c, "*") == 0)
				other = "*: list the columns";
			else if (strlist_has(&l->values, c))
				other = "also in values";
			else if (strlist_has(&l->ignore, c))
				other = "also in ignore";
			for (size_t k2 = k + 1; k2 < 3 && !other; k2++)
				if (strlist_has(lists[k2], c))
					other = keys[k2];
			if (other) {
				conf_error(x->c, x->s, conf_find(x->s, keys[k]), x->err, x->errlen,
					   "column \"%s\": %s%s", c,
					   other[0] == 'm' || other[0] == 't' ? "also in " : "",
					   other);
				return SUIDO_ERR_CONFIG;
			}
			if (conflict(x, keys[k], c, "time", l->time_col) ||
			    conflict(x, keys[k], c, "facility", l->facility_col))
				return SUIDO_ERR_CONFIG;
		}
	}
	return SUIDO_OK;
}

/* The kind of header cell name in a wide layout, or -1 when it is not sent. */
static int column_kind(const struct layout *l, const char *name)
{
	if (strlist_has(&l->mask_d, name))
		return MAPPING_MASK_DETERMINISTIC;
	if (strlist_has(&l->mask_r, name))
		return MAPPING_MASK_RANDOMIZED;
	if (strlist_has(&l->text, name))
		return MAPPING_TEXT;
	if (l->values_all ? !strlist_has(&l->ignore, name) : strlist_has(&l->values, name))
		return MAPPING_NUMBER;
	return -1;
}

int mapping_masks(const struct mapping *m)
{
	for (size_t i = 0; i < m->n_layouts; i++)
		if (m->layouts[i].mask_r.n || m->layouts[i].mask_d.n)
			return 1;
	return 0;
}

static int load_layout(struct lctx *x, struct layout *l)
{
	static const char *const known[] = {
		"kind",   "require", "time",   "time_format", "facility", "facility_name",
		"values", "ignore",  "item",   "value",       "unit",     "id_prefix",
		"text",   "mask",    "mask_deterministic",
		NULL,
	};
	const struct conf_section *s = x->s;
	const char *kind = NULL, *fmt = NULL, *fname = NULL, *prefix = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	if (!*s->name) {
		conf_error(x->c, s, NULL, x->err, x->errlen, "a layout needs a name");
		return SUIDO_ERR_CONFIG;
	}
	l->name = strdup(s->name);
	if (!l->name)
		goto nomem;
	if ((rc = conf_check_keys(x->c, s, known, x->err, x->errlen)) != SUIDO_OK)
		return rc;

	if ((rc = conf_get_str(x->c, s, "kind", 1, NULL, &kind, x->err, x->errlen)) != SUIDO_OK)
		return rc;
	if (strcmp(kind, "wide") == 0) {
		l->kind = KIND_WIDE;
	} else if (strcmp(kind, "long") == 0) {
		l->kind = KIND_LONG;
	} else {
		conf_error(x->c, s, conf_find(s, "kind"), x->err, x->errlen,
			   "bad kind \"%s\" (wide or long)", kind);
		return SUIDO_ERR_CONFIG;
	}

	if ((rc = split_list(x, "require", &l->require)) != SUIDO_OK)
		return rc;
	if (l->require.n == 0) {
		conf_error(x->c, s, NULL, x->err, x->errlen, "require: required key missing");
		return SUIDO_ERR_CONFIG;
	}
	if ((rc = get_col(x, "time", 1, &l->time_col)) != SUIDO_OK)
		return rc;
	if ((rc = conf_get_str(x->c, s, "time_format", 1, NULL, &fmt, x->err, x->errlen)) !=
	    SUIDO_OK)
		return rc;
	if (!timeutil_format_valid(fmt)) {
		conf_error(x->c, s, conf_find(s, "time_format"), x->err, x->errlen,
			   "bad time_format \"%s\" (iso8601 or a pattern of %%Y %%m %%d %%H "
			   "%%M %%S)",
			   fmt);
		return SUIDO_ERR_CONFIG;
	}
	l->time_format = strdup(fmt);
	if (!l->time_format)
		goto nomem;
	if ((rc = get_col(x, "facility", 0, &l->facility_col)) != SUIDO_OK)
		return rc;
	if ((rc = conf_get_str(x->c, s, "facility_name", 0, NULL, &fname, x->err, x->errlen)) !=
	    SUIDO_OK)
		return rc;
	if (fname) {
		if (l->facility_col) {
			conf_error(x->c, s, conf_find(s, "facility_name"), x->err, x->errlen,
				   "not allowed together with facility");
			return SUIDO_ERR_CONFIG;
		}
		l->facility_name = dup_trim(fname);
		if (!l->facility_name)
			goto nomem;
	}
	if (conflict(x, "facility", l->facility_col, "time", l->time_col))
		return SUIDO_ERR_CONFIG;

	if (l->kind == KIND_WIDE) {
		const struct conf_entry *ve = conf_find(s, "values");

		if (key_present(x, "item", "not allowed in a wide layout") ||
		    key_present(x, "value", "not allowed in a wide layout") ||
		    key_present(x, "unit", "not allowed in a wide layout"))
			return SUIDO_ERR_CONFIG;
		if (!ve) {
			/* No default on purpose: "*" would also send columns nobody
			 * thought about, such as customer numbers. */
			conf_error(x->c, s, NULL, x->err, x->errlen,
				   "values: required key missing (use * for every other column)");
			return SUIDO_ERR_CONFIG;
		}
		if ((rc = split_list(x, "ignore", &l->ignore)) != SUIDO_OK)
			return rc;
		if ((rc = split_list(x, "values", &l->values)) != SUIDO_OK)
			return rc;
		if ((rc = split_list(x, "text", &l->text)) != SUIDO_OK ||
		    (rc = split_list(x, "mask", &l->mask_r)) != SUIDO_OK ||
		    (rc = split_list(x, "mask_deterministic", &l->mask_d)) != SUIDO_OK)
			return rc;
		if ((rc = text_lists_check(x, l)) != SUIDO_OK)
			return rc;
		if (l->values.n == 1 && strcmp(l->values.v[0], "*") == 0) {
			strlist_free(&l->values);
			l->values_all = 1;
		} else if (strlist_has(&l->values, "*")) {
			conf_error(x->c, s, ve, x->err, x->errlen, "* must stand alone");
			return SUIDO_ERR_CONFIG;
		}
		for (size_t i = 0; i < l->values.n; i++) {
			const char *v = l->values.v[i];

			if (strlist_has(&l->ignore, v)) {
				conf_error(x->c, s, ve, x->err, x->errlen,
					   "column \"%s\" is also in ignore", v);
				return SUIDO_ERR_CONFIG;
			}
			if (conflict(x, "values", v, "time", l->time_col) ||
			    conflict(x, "values", v, "facility", l->facility_col))
				return SUIDO_ERR_CONFIG;
		}
		if (strlist_has(&l->ignore, l->time_col) ||
		    (l->facility_col && strlist_has(&l->ignore, l->facility_col))) {
			conf_error(x->c, s, conf_find(s, "ignore"), x->err, x->errlen,
				   "must not name the time or facility column");
			return SUIDO_ERR_CONFIG;
		}
	} else {
		if (key_present(x, "values", "not allowed in a long layout") ||
		    key_present(x, "ignore", "not allowed in a long layout") ||
		    key_present(x, "text", "not allowed in a long layout") ||
		    key_present(x, "mask", "not allowed in a long layout") ||
		    key_present(x, "mask_deterministic", "not allowed in a long layout"))
			return SUIDO_ERR_CONFIG;
		if ((rc = get_col(x, "item", 1, &l->item_col)) != SUIDO_OK ||
		    (rc = get_col(x, "value", 1, &l->value_col)) != SUIDO_OK ||
		    (rc = get_col(x, "unit", 0, &l->unit_col)) != SUIDO_OK)
			return rc;
		if (conflict(x, "item", l->item_col, "time", l->time_col) ||
		    conflict(x, "item", l->item_col, "facility", l->facility_col) ||
		    conflict(x, "value", l->value_col, "time", l->time_col) ||
		    conflict(x, "value", l->value_col, "facility", l->facility_col) ||
		    conflict(x, "value", l->value_col, "item", l->item_col) ||
		    conflict(x, "unit", l->unit_col, "time", l->time_col) ||
		    conflict(x, "unit", l->unit_col, "facility", l->facility_col) ||
		    conflict(x, "unit", l->unit_col, "item", l->item_col) ||
		    conflict(x, "unit", l->unit_col, "value", l->value_col))
			return SUIDO_ERR_CONFIG;
	}

	if ((rc = conf_get_str(x->c, s, "id_prefix", 0, NULL, &prefix, x->err, x->errlen)) !=
	    SUIDO_OK)
		return rc;
	if (prefix && !id_prefix_ok(prefix)) {
		conf_error(x->c, s, conf_find(s, "id_prefix"), x->err, x->errlen,
			   "must be 1-%d of A-Z a-z 0-9 _ - .", ID_PREFIX_MAX);
		return SUIDO_ERR_CONFIG;
	}
	if (!prefix && !id_prefix_ok(l->name)) {
		conf_error(x->c, s, NULL, x->err, x->errlen,
			   "id_prefix: the layout name is not usable in item ids; set id_prefix");
		return SUIDO_ERR_CONFIG;
	}
	l->id_prefix = strdup(prefix ? prefix : l->name);
	if (!l->id_prefix)
		goto nomem;
	return SUIDO_OK;
nomem:
	snprintf(x->err, x->errlen, "%s: out of memory", conf_name(x->c));
	return SUIDO_ERR_NOMEM;
}

int mapping_load(const struct conf *c, struct mapping **out, char *err, size_t errlen)
{
	struct mapping *m = NULL;
	size_t n = conf_section_count(c), cap = 0;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const struct conf_section *s = conf_section_at(c, i);
		struct lctx x = {c, s, err, errlen};

		if (strcmp(s->kind, "layout") != 0)
			continue;
		for (size_t j = 0; j < m->n_layouts; j++) {
			if (strcmp(m->layouts[j].name, s->name) == 0) {
				conf_error(c, s, NULL, err, errlen, "layout defined twice");
				rc = SUIDO_ERR_CONFIG;
				goto fail;
			}
		}
		if (m->n_layouts == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct layout *nl = realloc(m->layouts, ncap * sizeof(*nl));

			if (!nl)
				goto nomem;
			m->layouts = nl;
			cap = ncap;
		}
		rc = load_layout(&x, &m->layouts[m->n_layouts]);
		m->n_layouts++; /* even when partial: mapping_free releases it */
		if (rc != SUIDO_OK)
			goto fail;
	}
	if (m->n_layouts == 0) {
		snprintf(err, errlen, "%s: no [layout NAME] section", conf_name(c));
		rc = SUIDO_ERR_CONFIG;
		goto fail;
	}
	*out = m;
	return SUIDO_OK;
nomem:
	snprintf(err, errlen, "%s: out of memory", conf_name(c));
	rc = SUIDO_ERR_NOMEM;
fail:
	/* load_layout reports NOMEM itself; anything else is a config error. */
	if (rc != SUIDO_ERR_NOMEM)
		rc = SUIDO_ERR_CONFIG;
	mapping_free(m);
	return rc;
}

/* ---- files ---- */

void mapping_file_free(struct mapping_file *f)
{
	if (!f)
		return;
	for (struct item *it = f->items, *next; it; it = next) {
		next = it->next_alloc;
		free(it);
	}
	for (size_t i = 0; i < f->n_vcols; i++)
		free(f->vcols[i].unit);
	free(f->vcols);
	free(f->vals);
	free(f->row_items);
	free(f->table);
	free(f->header);
	free(f);
}

const char *mapping_file_layout(const struct mapping_file *f)
{
	return f->lay->name;
}

static size_t find_col(const char *const *cells, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cells[i], name) == 0)
			return i;
	return NO_COL;
}

static int layout_matches(const struct layout *l, const char *const *cells, size_t n)
{
	for (size_t i = 0; i < l->require.n; i++)
		if (find_col(cells, n, l->require.v[i]) == NO_COL)
			return 0;
	return 1;
}

/* Unit from a trailing "(...)" or full-width "（...）" of a header. */
static char *unit_of(const char *name)
{
	size_t n = strlen(name);

	if (n >= 2 && name[n - 1] == ')') {
		const char *open = NULL;

		for (const char *p = name; p < name + n - 1; p++)
			if (*p == '(')
				open = p;
		if (open)
			return dup_n(open + 1, (size_t)(name + n - 1 - (open + 1)));
	} else if (n >= 6 && memcmp(name + n - 3, "\xef\xbc\x89", 3) == 0) {
		const char *open = NULL;

		for (const char *p = name; p + 3 <= name + n - 3; p++)
			if (memcmp(p, "\xef\xbc\x88", 3) == 0)
				open = p;
		if (open)
			return dup_n(open + 3, (size_t)(name + n - 3 - (open + 3)));
	}
	return dup_n("", 0);
}

static int need_col(const struct mapping_file *f, const char *const *cells, const char *name,
		    size_t *idx, char *err, size_t errlen)
{
	*idx = find_col(cells, f->n_fields, name);
	if (*idx != NO_COL)
		return SUIDO_OK;
	snprintf(err, errlen, "layout \"%s\": column \"%s\" missing from the header",
		 f->lay->name, name);
	return SUIDO_ERR_INVALID;
}

int mapping_file_begin(const struct mapping *m, const struct csv_record *header,
		       struct mapping_file **out, char *err, size_t errlen)
{
	struct mapping_file *f = NULL;
	const char **cells = NULL;
	const struct layout *best = NULL, *tie = NULL;
	size_t total = 0, o = 0, n = header->n_fields;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	cells = calloc(n ? n : 1, sizeof(*cells));
	if (!f || !cells)
		goto nomem;
	f->m = m;
	f->n_fields = n;
	f->time_idx = f->facility_idx = f->item_idx = f->value_idx = f->unit_idx = NO_COL;
	for (size_t i = 0; i < n; i++)
		total += header->lens[i] + 1;
	f->header = malloc(total ? total : 1);
	if (!f->header)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		size_t len = header->lens[i];
		const char *t = trim_cell(header->fields[i], &len);

		memcpy(f->header + o, t, len);
		f->header[o + len] = '\0';
		cells[i] = f->header + o;
		o += len + 1;
		if (not_xml_text(t, len) || memchr(t, '\0', len)) {
			snprintf(err, errlen, "header cell %zu holds a control character", i + 1);
			rc = SUIDO_ERR_INVALID;
			goto fail;
		}
	}
	/* Empty cells (trailing commas) are not names, so not duplicates. */
	for (size_t i = 0; i < n; i++) {
		if (!*cells[i])
			continue;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cells[i], cells[j]) == 0) {
				snprintf(err, errlen, "duplicate header cell \"%.*s\"",
					 qlen(strlen(cells[i])), cells[i]);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
		}
	}

	for (size_t i = 0; i < m->n_layouts; i++) {
		const struct layout *l = &m->layouts[i];

		if (!layout_matches(l, cells, n))
			continue;
		if (!best || l->require.n > best->require.n) {
			best = l;
			tie = NULL;
		} else if (l->require.n == best->require.n) {
			tie = l;
		}
	}
	if (!best) {
		snprintf(err, errlen, "unknown layout: header matches no layout");
		rc = SUIDO_ERR_NOTFOUND;
		goto fail;
	}
	if (tie) {
		snprintf(err, errlen, "ambiguous layout: header matches \"%s\" and \"%s\" equally",
			 best->name, tie->name);
		rc = SUIDO_ERR_INVALID;
		goto fail;
	}
	f->lay = best;

	rc = need_col(f, cells, best->time_col, &f->time_idx, err, errlen);
	if (rc == SUIDO_OK && best->facility_col)
		rc = need_col(f, cells, best->facility_col, &f->facility_idx, err, errlen);
	if (rc != SUIDO_OK)
		goto fail;
	if (best->kind == KIND_LONG) {
		rc = need_col(f, cells, best->item_col, &f->item_idx, err, errlen);
		if (rc == SUIDO_OK)
			rc = need_col(f, cells, best->value_col, &f->value_idx, err, errlen);
		if (rc != SUIDO_OK)
			goto fail;
		/* A configured unit column may be absent: units are then "". */
		if (best->unit_col)
			f->unit_idx = find_col(cells, n, best->unit_col);
	} else {
		f->vcols = calloc(n ? n : 1, sizeof(*f->vcols));
		if (!f->vcols)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			const char *name = cells[i];
			struct vcol *v;
			int kind;

			if (!*name || i == f->time_idx || i == f->facility_idx ||
			    (kind = column_kind(best, name)) < 0)
				continue;
			v = &f->vcols[f->n_vcols];
			v->idx = i;
			v->kind = (enum mapping_kind)kind;
			v->name = name;
			v->name_len = strlen(name);
			v->unit = unit_of(name);
			if (!v->unit)
				goto nomem;
			v->unit_len = strlen(v->unit);
			f->n_vcols++;
		}
		const struct strlist *listed[] = {&best->values, &best->text, &best->mask_r,
						  &best->mask_d};
		for (size_t k = 0; k < 4; k++) {
			for (size_t i = 0; i < listed[k]->n; i++) {
				size_t idx;

				if ((rc = need_col(f, cells, listed[k]->v[i], &idx, err,
						   errlen)) != SUIDO_OK)
					goto fail;
			}
		}
		if (f->n_vcols == 0) {
			snprintf(err, errlen, "layout \"%s\": no value columns in the header",
				 best->name);
			rc = SUIDO_ERR_INVALID;
			goto fail;
		}
		f->vals = calloc(f->n_vcols, sizeof(*f->vals));
		f->row_items = calloc(f->n_vcols, sizeof(*f->row_items));
		if (!f->vals || !f->row_items)
			goto nomem;
	}
	free(cells);
	*out = f;
	return SUIDO_OK;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = SUIDO_ERR_NOMEM;
fail:
	free(cells);
	mapping_file_free(f);
	return rc;
}

/* ---- items ---- */

static uint64_t item_hash(const char *fac, size_t fac_len, const char *name, size_t name_len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < fac_len; i++)
		h = (h ^ (unsigned char)fac[i]) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (size_t i = 0; i < name_len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	return h;
}

static int item_is(const struct item *it, uint64_t h, const char *fac, size_t fac_len,
		   const char *name, size_t name_len)
{
	return it->hash == h && it->fac_len == fac_len &&
	       memcmp(it->pub.facility, fac, fac_len) == 0 && it->name_len == name_len &&
	       memcmp(it->pub.name, name, name_len) == 0;
}

static int table_grow(struct mapping_file *f)
{
	size_t cap = f->table_cap ? f->table_cap * 2 : 64;
	struct item **t = calloc(cap, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < f->table_cap; i++) {
		struct item *it = f->table[i];
		size_t j;

		if (!it)
			continue;
		for (j = (size_t)it->hash & (cap - 1); t[j]; j = (j + 1) & (cap - 1))
			;
		t[j] = it;
	}
	free(f->table);
	f->table = t;
	f->table_cap = cap;
	return 0;
}

/*
 * Finds or creates the item (facility, name). unit is checked against the
 * item's first unit: one item with two units would mix incomparable values.
 * Returns SUIDO_OK with *out, SUIDO_ERR_INVALID or SUIDO_ERR_NOMEM (err set).
 */
static int item_get(struct mapping_file *f, const char *fac, size_t fac_len, const char *name,
		    size_t name_len, const char *unit, size_t unit_len, struct item **out,
		    char *err, size_t errlen)
{
	uint64_t h = item_hash(fac, fac_len, name, name_len);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t j, plen, need;
	struct item *it;
	char *p;
	EVP_MD_CTX *ctx = NULL;
	int ok;

	if (f->table_cap) {
		for (j = (size_t)h & (f->table_cap - 1); (it = f->table[j]) != NULL;
		     j = (j + 1) & (f->table_cap - 1)) {
			if (!item_is(it, h, fac, fac_len, name, name_len))
				continue;
			if (it->unit_len != unit_len ||
			    memcmp(it->pub.unit, unit, unit_len) != 0) {
				snprintf(err, errlen, "item \"%.*s\": unit \"%.*s\" differs from \"%s\"",
					 qlen(name_len), name, qlen(unit_len), unit, it->pub.unit);
				return SUIDO_ERR_INVALID;
			}
			*out = it;
			return SUIDO_OK;
		}
	}
	if (f->n_items >= ITEMS_MAX) {
		snprintf(err, errlen, "too many distinct items in one file (more than %zu)",
			 ITEMS_MAX);
		return SUIDO_ERR_INVALID;
	}
	if ((f->n_items + 1) * 2 > f->table_cap && table_grow(f))
		goto nomem;

	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, fac, fac_len) == 1 && EVP_DigestUpdate(ctx, "\x1f", 1) == 1 &&
	     EVP_DigestUpdate(ctx, name, name_len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len >= 8;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		snprintf(err, errlen, "SHA-256 failed");
		return SUIDO_ERR_NOMEM;
	}

	/* One allocation: struct, then id, name, unit, facility. */
	plen = strlen(f->lay->id_prefix);
	need = sizeof(*it) + plen + 1 + 16 + 1 + name_len + 1 + unit_len + 1 + fac_len + 1;
	it = malloc(need);
	if (!it)
		goto nomem;
	p = (char *)(it + 1);
	it->pub.id = p;
	memcpy(p, f->lay->id_prefix, plen);
	p += plen;
	*p++ = '.';
	for (int i = 0; i < 8; i++) {
		static const char hex[] = "0123456789abcdef";

		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p++ = '\0';
	it->pub.name = p;
	memcpy(p, name, name_len);
	p += name_len;
	*p++ = '\0';
	it->pub.unit = p;
	memcpy(p, unit, unit_len);
	p += unit_len;
	*p++ = '\0';
	it->pub.facility = p;
	memcpy(p, fac, fac_len);
	p[fac_len] = '\0';
	it->hash = h;
	it->fac_len = fac_len;
	it->name_len = name_len;
	it->unit_len = unit_len;
	it->next_alloc = f->items;
	f->items = it;
	for (j = (size_t)h & (f->table_cap - 1); f->table[j]; j = (j + 1) & (f->table_cap - 1))
		;
	f->table[j] = it;
	f->n_items++;
	*out = it;
	return SUIDO_OK;
nomem:
	snprintf(err, errlen, "out of memory");
	return SUIDO_ERR_NOMEM;
}

/* ---- rows ---- */

static int row_time(struct mapping_file *f, const struct csv_record *row, int64_t *t,
		    char *err, size_t errlen)
{
	const char *s = row->fields[f->time_idx];
	size_t n = row->lens[f->time_idx];
	int rc;

	/* Long files repeat each timestamp once per item: parse it once. */
	if (f->memo_len && n == f->memo_len && memcmp(s, f->memo_text, n) == 0) {
		*t = f->memo_ms;
		return SUIDO_OK;
	}
	rc = timeutil_parse(s, n, f->lay->time_format, t, err, errlen);
	if (rc != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	if (n > 0 && n <= TIME_MEMO_MAX) {
		memcpy(f->memo_text, s, n);
		f->memo_len = n;
		f->memo_ms = *t;
	}
	return SUIDO_OK;
}

static int control_char(const char *col, char *err, size_t errlen)
{
	snprintf(err, errlen, "column \"%.*s\": holds a control character", qlen(strlen(col)), col);
	return SUIDO_ERR_INVALID;
}

static int row_facility(struct mapping_file *f, const struct csv_record *row, const char **fac,
			size_t *fac_len, char *err, size_t errlen)
{
	if (f->facility_idx == NO_COL) {
		*fac = f->lay->facility_name ? f->lay->facility_name : "";
		*fac_len = strlen(*fac);
		return SUIDO_OK;
	}
	*fac_len = row->lens[f->facility_idx];
	*fac = trim_cell(row->fields[f->facility_idx], fac_len);
	/* Values without their meter or station cannot be attributed: merging
	 * them under an empty facility would corrupt one item silently. */
	if (*fac_len == 0) {
		snprintf(err, errlen, "column \"%s\": empty facility", f->lay->facility_col);
		return SUIDO_ERR_INVALID;
	}
	if (not_xml_text(*fac, *fac_len))
		return control_char(f->lay->facility_col, err, errlen);
	return SUIDO_OK;
}

static int number(const char *col, const char *s, size_t n, double *v, char *err,
		  size_t errlen)
{
	char why[128];
	int rc = numparse_double(s, n, v, why, sizeof(why));

	if (rc == SUIDO_ERR_INVALID)
		snprintf(err, errlen, "column \"%.*s\": %s", qlen(strlen(col)), col, why);
	return rc;
}

int mapping_file_row(struct mapping_file *f, const struct csv_record *row, mapping_sink_fn sink,
		     void *ctx, size_t *n_points, char *err, size_t errlen)
{
	const struct layout *l = f->lay;
	const char *fac;
	size_t fac_len, npts = 0;
	int64_t t;
	int rc;
	char dummy[1];

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (n_points)
		*n_points = 0;
	if (row->n_fields != f->n_fields) {
		snprintf(err, errlen, "expected %zu fields, got %zu", f->n_fields, row->n_fields);
		return SUIDO_ERR_INVALID;
	}
	if ((rc = row_time(f, row, &t, err, errlen)) != SUIDO_OK)
		return rc;
	if ((rc = row_facility(f, row, &fac, &fac_len, err, errlen)) != SUIDO_OK)
		return rc;

	if (l->kind == KIND_LONG) {
		size_t name_len = row->lens[f->item_idx], unit_len = 0;
		const char *name = trim_cell(row->fields[f->item_idx], &name_len);
		const char *unit = "";
		struct item *it;
		double v;

		if (name_len == 0) {
			snprintf(err, errlen, "column \"%s\": empty item name", l->item_col);
			return SUIDO_ERR_INVALID;
		}
		if (not_xml_text(name, name_len))
			return control_char(l->item_col, err, errlen);
		rc = number(l->value_col, row->fields[f->value_idx], row->lens[f->value_idx], &v,
			    err, errlen);
		if (rc == SUIDO_ERR_NOTFOUND)
			return SUIDO_OK; /* no value: no point, no error */
		if (rc != SUIDO_OK)
			return rc;
		if (f->unit_idx != NO_COL) {
			unit_len = row->lens[f->unit_idx];
			unit = trim_cell(row->fields[f->unit_idx], &unit_len);
			if (not_xml_text(unit, unit_len))
				return control_char(l->unit_col, err, errlen);
		}
		if ((rc = item_get(f, fac, fac_len, name, name_len, unit, unit_len, &it, err,
				   errlen)) != SUIDO_OK)
			return rc;
		struct mapping_value val = {MAPPING_NUMBER, v, NULL, 0};
		rc = sink(ctx, &it->pub, t, &val);
		if (rc != 0)
			return rc;
		if (n_points)
			*n_points = 1;
		return SUIDO_OK;
	}

	/* Wide: validate every value cell before emitting any point. numparse
	 * never yields NaN, so NaN marks an empty cell. */
	for (size_t i = 0; i < f->n_vcols; i++) {
		struct vcol *c = &f->vcols[i];

		if (c->kind != MAPPING_NUMBER) {
			c->txt_len = row->lens[c->idx];
			c->txt = trim_cell(row->fields[c->idx], &c->txt_len);
			if (c->txt_len > MAPPING_TEXT_MAX) {
				snprintf(err, errlen, "column \"%.*s\": longer than %d bytes",
					 qlen(c->name_len), c->name, MAPPING_TEXT_MAX);
				return SUIDO_ERR_INVALID;
			}
			if (not_xml_text(c->txt, c->txt_len) || memchr(c->txt, '\0', c->txt_len))
				return control_char(c->name, err, errlen);
			f->vals[i] = c->txt_len ? 0 : NAN;
			continue;
		}
		rc = number(c->name, row->fields[c->idx], row->lens[c->idx], &f->vals[i], err,
			    errlen);
		if (rc == SUIDO_ERR_NOTFOUND)
			f->vals[i] = NAN;
		else if (rc != SUIDO_OK)
			return rc;
	}
	for (size_t i = 0; i < f->n_vcols; i++) {
		struct vcol *c = &f->vcols[i];

		f->row_items[i] = NULL;
		if (isnan(f->vals[i]))
			continue;
		if (c->last && c->last->fac_len == fac_len &&
		    memcmp(c->last->pub.facility, fac, fac_len) == 0) {
			f->row_items[i] = c->last;
			continue;
		}
		rc = item_get(f, fac, fac_len, c->name, c->name_len, c->unit, c->unit_len,
			      &f->row_items[i], err, errlen);
		if (rc != SUIDO_OK)
			return rc;
		c->last = f->row_items[i];
	}
	for (size_t i = 0; i < f->n_vcols; i++) {
		if (!f->row_items[i])
			continue;
		const struct vcol *c = &f->vcols[i];
		struct mapping_value val = {c->kind, f->vals[i], c->txt, c->txt_len};
		rc = sink(ctx, &f->row_items[i]->pub, t, &val);
		if (rc != 0) {
			if (n_points)
				*n_points = npts;
			return rc;
		}
		npts++;
	}
	if (n_points)
		*n_points = npts;
	return SUIDO_OK;
}
