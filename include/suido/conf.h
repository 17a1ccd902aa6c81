/*
 * Configuration files: an INI dialect shared by the platform, the gateway and
 * the mapping files. The parser only splits the file into sections and
 * entries, keeping line numbers; each program validates the keys it knows into
 * its own immutable struct with the typed getters below, which report errors
 * as "FILE:LINE: [section name] key: problem".
 *
 * Syntax:
 *   # comment            (also ';'); a line of whitespace is ignored
 *   [kind]  or  [kind name]   section header; name may contain spaces
 *   key = value          value is trimmed; may be "double quoted" to keep
 *                        leading/trailing spaces, with \" and \\ escapes
 * Entries before the first section header are an error. Keys are
 * [A-Za-z0-9_.-]+. A key repeated inside one section is an error. The file
 * must be valid UTF-8 (a leading BOM is skipped), at most 1 MiB.
 */
#ifndef SUIDO_CONF_H
#define SUIDO_CONF_H

#include <stddef.h>

struct conf_entry {
	const char *key;
	const char *value;
	int line;
};

struct conf_section {
	const char *kind; /* "platform", "layout", ... */
	const char *name; /* "" when the header has no name */
	int line;
	size_t n_entries;
	const struct conf_entry *entries;
};

struct conf; /* opaque parsed file */

/*
 * Parses the file at path. On success returns SUIDO_OK and *out (caller frees
 * with conf_free). On failure returns SUIDO_ERR_IO, _INVALID, _LIMIT or _NOMEM
 * and writes "path:line: problem" into err.
 */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);

/* Same as conf_load, from memory; name is used in messages. */
int conf_parse(const char *name, const char *text, size_t len, struct conf **out,
	       char *err, size_t errlen);

void conf_free(struct conf *c);

const char *conf_name(const struct conf *c);
size_t conf_section_count(const struct conf *c);
/* Borrowed until conf_free. */
const struct conf_section *conf_section_at(const struct conf *c, size_t i);

/* Entry for key in s, or NULL. Borrowed until conf_free. */
const struct conf_entry *conf_find(const struct conf_section *s, const char *key);

/*
 * Typed getters. Each returns SUIDO_OK with *out set (to def when the key is
 * absent and not required), or SUIDO_ERR_CONFIG with the located message in err.
 * Strings are borrowed until conf_free.
 */
int conf_get_str(const struct conf *c, const struct conf_section *s, const char *key,
		 int required, const char *def, const char **out, char *err, size_t errlen);
int conf_get_int(const struct conf *c, const struct conf_section *s, const char *key,
		 int required, long long def, long long min, long long max, long long *out,
		 char *err, size_t errlen);
int conf_get_bool(const struct conf *c, const struct conf_section *s, const char *key,
		  int required, int def, int *out, char *err, size_t errlen);

/*
 * Fails with SUIDO_ERR_CONFIG naming the first key of s that is not in the
 * NULL-terminated list known (typos must not pass silently).
 */
int conf_check_keys(const struct conf *c, const struct conf_section *s,
		    const char *const *known, char *err, size_t errlen);

/*
 * A path from c's value, made relative to the directory of c's file when it
 * is not absolute. Returns a malloc'ed string (caller frees) or NULL when out
 * of memory or too long.
 */
char *conf_resolve_path(const struct conf *c, const char *path);

/* The first section of that kind, or NULL. Borrowed until conf_free. */
const struct conf_section *conf_first(const struct conf *c, const char *kind);

/* Writes "file:line: [kind name] key: " + formatted text into err. */
void conf_error(const struct conf *c, const struct conf_section *s, const struct conf_entry *e,
		char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
