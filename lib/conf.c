/*
 * The INI-dialect configuration parser (conf.h). The whole file is read into
 * memory (capped at 1 MiB), split into sections and entries that point into
 * one owned copy, and every later error can name file, line, section and key.
 */
#include "suido/conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "suido/error.h"

#define CONF_MAX_BYTES (1u << 20)

struct conf {
	char *name;
	char *text;                     /* owned copy; entries point into it */
	struct conf_section *sections;
	size_t n_sections;
	struct conf_entry *entries;     /* all entries, grouped by section */
	size_t n_entries;
};

static int valid_utf8(const unsigned char *s, size_t n, size_t *bad_at)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t l;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			l = 2;
		else if (c >= 0xe0 && c <= 0xef)
			l = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			l = 4;
		else
			goto bad;
		if (i + l > n)
			goto bad;
		for (size_t k = 1; k < l; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			goto bad;
		i += l;
	}
	return 1;
bad:
	*bad_at = i;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int key_ok(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++) {
		unsigned char c = (unsigned char)*k;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* Unquotes "..." in place; returns 0, or -1 when the quoting is broken. */
static int unquote(char *v)
{
	size_t n = strlen(v), o = 0;

	if (n == 0 || v[0] != '"')
		return 0;
	if (n < 2 || v[n - 1] != '"')
		return -1;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '\\') {
			if (i + 1 >= n - 1 || (v[i + 1] != '"' && v[i + 1] != '\\'))
				return -1;
			i++;
		} else if (v[i] == '"') {
			return -1;
		}
		v[o++] = v[i];
	}
	v[o] = '\0';
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct conf_entry *x = *(const struct conf_entry *const *)a;
	const struct conf_entry *y = *(const struct conf_entry *const *)b;
	int r = strcmp(x->key, y->key);
	return r ? r : (x->line > y->line) - (x->line < y->line);
}

/* A key repeated inside one section is an error; sorting each section's
 * entries by (key, line) finds repeats in O(n log n). */
static int check_repeats(struct conf *c, char *err, size_t errlen)
{
	const struct conf_entry **v = malloc((c->n_entries ? c->n_entries : 1) * sizeof *v);

	if (!v) {
		snprintf(err, errlen, "%s: out of memory", c->name);
		return SUIDO_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->n_sections; i++) {
		const struct conf_section *s = &c->sections[i];
		for (size_t k = 0; k < s->n_entries; k++)
			v[k] = &s->entries[k];
		qsort(v, s->n_entries, sizeof *v, cmp_entry);
		for (size_t k = 1; k < s->n_entries; k++) {
			if (strcmp(v[k - 1]->key, v[k]->key) == 0) {
				snprintf(err, errlen, "%s:%d: %s: repeated (first on line %d)", c->name,
					 v[k]->line, v[k]->key, v[k - 1]->line);
				free(v);
				return SUIDO_ERR_INVALID;
			}
		}
	}
	free(v);
	return SUIDO_OK;
}

int conf_parse(const char *name, const char *text, size_t len, struct conf **out, char *err,
	       size_t errlen)
{
	struct conf *c = NULL;
	size_t cap_s = 0, cap_e = 0, bad_at;
	int rc = SUIDO_ERR_NOMEM, line = 0;
	char *p, *next;

	*out = NULL;
	if (len > CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s: file larger than %u bytes", name, CONF_MAX_BYTES);
		return SUIDO_ERR_LIMIT;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: file contains a NUL byte", name);
		return SUIDO_ERR_INVALID;
	}
	if (!valid_utf8((const unsigned char *)text, len, &bad_at)) {
		int l = 1;
		for (size_t i = 0; i < bad_at; i++)
			l += text[i] == '\n';
		snprintf(err, errlen, "%s:%d: not valid UTF-8", name, l);
		return SUIDO_ERR_INVALID;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	c->name = strdup(name);
	c->text = malloc(len + 1);
	if (!c->name || !c->text)
		goto fail;
	memcpy(c->text, text, len);
	c->text[len] = '\0';

	for (p = c->text; p; p = next) {
		char *nl = strchr(p, '\n'), *s;
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		line++;
		s = trim(p);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']'), *kind, *sp;
			struct conf_section *sec;
			if (!close || *trim(close + 1) != '\0') {
				snprintf(err, errlen, "%s:%d: malformed section header", name, line);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			*close = '\0';
			kind = trim(s + 1);
			sp = kind + strcspn(kind, " \t");
			if (*sp) {
				*sp++ = '\0';
				sp = trim(sp);
			}
			if (!key_ok(kind)) {
				snprintf(err, errlen, "%s:%d: bad section kind \"%s\"", name, line, kind);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			if (c->n_sections == cap_s) {
				size_t ncap = cap_s ? cap_s * 2 : 8;
				void *np = realloc(c->sections, ncap * sizeof *c->sections);
				if (!np)
					goto fail;
				c->sections = np;
				cap_s = ncap;
			}
			sec = &c->sections[c->n_sections++];
			sec->kind = kind;
			sec->name = sp;
			sec->line = line;
			sec->n_entries = 0;
			sec->entries = (const struct conf_entry *)(uintptr_t)c->n_entries; /* index for now */
			continue;
		}
		{
			char *eq = strchr(s, '='), *k, *v;
			struct conf_section *sec;
			if (!eq) {
				snprintf(err, errlen, "%s:%d: expected \"key = value\"", name, line);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			*eq = '\0';
			k = trim(s);
			v = trim(eq + 1);
			if (!key_ok(k)) {
				snprintf(err, errlen, "%s:%d: bad key \"%s\"", name, line, k);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			if (c->n_sections == 0) {
				snprintf(err, errlen, "%s:%d: %s: entry before any [section]", name, line, k);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			if (unquote(v) < 0) {
				snprintf(err, errlen, "%s:%d: %s: broken quoting", name, line, k);
				rc = SUIDO_ERR_INVALID;
				goto fail;
			}
			sec = &c->sections[c->n_sections - 1];
			if (c->n_entries == cap_e) {
				size_t ncap = cap_e ? cap_e * 2 : 32;
				void *np = realloc(c->entries, ncap * sizeof *c->entries);
				if (!np)
					goto fail;
				c->entries = np;
				cap_e = ncap;
			}
			c->entries[c->n_entries].key = k;
			c->entries[c->n_entries].value = v;
			c->entries[c->n_entries].line = line;
			c->n_entries++;
			sec->n_entries++;
		}
	}
	/* Entries are final: turn the start indexes into pointers. */
	for (size_t i = 0; i < c->n_sections; i++) {
		size_t first = (size_t)(uintptr_t)c->sections[i].entries;
		c->sections[i].entries = c->n_entries ? c->entries + first : NULL;
	}
	if ((rc = check_repeats(c, err, errlen)) != SUIDO_OK)
		goto fail;
	*out = c;
	return SUIDO_OK;
fail:
	if (rc == SUIDO_ERR_NOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	conf_free(c);
	return rc;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return SUIDO_ERR_IO;
	}
	buf = malloc(CONF_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return SUIDO_ERR_NOMEM;
	}
	n = fread(buf, 1, CONF_MAX_BYTES + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = SUIDO_ERR_IO;
	} else if (n > CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s: file larger than %u bytes", path, CONF_MAX_BYTES);
		rc = SUIDO_ERR_LIMIT;
	} else {
		rc = conf_parse(path, buf, n, out, err, errlen);
	}
	fclose(f);
	free(buf);
	return rc;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->text);
	free(c->sections);
	free(c->entries);
	free(c);
}

char *conf_resolve_path(const struct conf *c, const char *path)
{
	const char *slash = strrchr(c->name, '/');
	char buf[4096];

	if (path[0] == '/' || !slash)
		return strdup(path);
	if (snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - c->name), c->name, path) >=
	    (int)sizeof buf)
		return NULL;
	return strdup(buf);
}

const struct conf_section *conf_first(const struct conf *c, const char *kind)
{
	for (size_t i = 0; i < c->n_sections; i++)
		if (strcmp(c->sections[i].kind, kind) == 0)
			return &c->sections[i];
	return NULL;
}

const char *conf_name(const struct conf *c)
{
	return c->name;
}

size_t conf_section_count(const struct conf *c)
{
	return c->n_sections;
}

const struct conf_section *conf_section_at(const struct conf *c, size_t i)
{
	return i < c->n_sections ? &c->sections[i] : NULL;
}

const struct conf_entry *conf_find(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

void conf_error(const struct conf *c, const struct conf_section *s, const struct conf_entry *e,
		char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%d: [%s%s%s]%s%s: ", c->name, e ? e->line : s->line, s->kind,
		     *s->name ? " " : "", s->name, e ? " " : "", e ? e->key : "");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int missing(const struct conf *c, const struct conf_section *s, const char *key,
		   char *err, size_t errlen)
{
	conf_error(c, s, NULL, err, errlen, "%s: required key missing", key);
	return SUIDO_ERR_CONFIG;
}

int conf_get_str(const struct conf *c, const struct conf_section *s, const char *key,
		 int required, const char *def, const char **out, char *err, size_t errlen)
{
	const struct conf_entry *e = conf_find(s, key);

	if (!e) {
		if (required)
			return missing(c, s, key, err, errlen);
		*out = def;
		return SUIDO_OK;
	}
	if (required && !*e->value) {
		conf_error(c, s, e, err, errlen, "must not be empty");
		return SUIDO_ERR_CONFIG;
	}
	*out = e->value;
	return SUIDO_OK;
}

int conf_get_int(const struct conf *c, const struct conf_section *s, const char *key,
		 int required, long long def, long long min, long long max, long long *out,
		 char *err, size_t errlen)
{
	const struct conf_entry *e = conf_find(s, key);
	char *end;
	long long v;

	if (!e) {
		if (required)
			return missing(c, s, key, err, errlen);
		*out = def;
		return SUIDO_OK;
	}
	errno = 0;
	v = strtoll(e->value, &end, 10);
	if (!*e->value || *end || errno) {
		conf_error(c, s, e, err, errlen, "not an integer: \"%s\"", e->value);
		return SUIDO_ERR_CONFIG;
	}
	if (v < min || v > max) {
		conf_error(c, s, e, err, errlen, "%lld is out of range %lld..%lld", v, min, max);
		return SUIDO_ERR_CONFIG;
	}
	*out = v;
	return SUIDO_OK;
}

int conf_get_bool(const struct conf *c, const struct conf_section *s, const char *key,
		  int required, int def, int *out, char *err, size_t errlen)
{
	const struct conf_entry *e = conf_find(s, key);
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	if (!e) {
		if (required)
			return missing(c, s, key, err, errlen);
		*out = def;
		return SUIDO_OK;
	}
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(e->value, yes[i]) == 0) {
			*out = 1;
			return SUIDO_OK;
		}
		if (strcasecmp(e->value, no[i]) == 0) {
			*out = 0;
			return SUIDO_OK;
		}
	}
	conf_error(c, s, e, err, errlen, "expected yes or no, got \"%s\"", e->value);
	return SUIDO_ERR_CONFIG;
}

int conf_check_keys(const struct conf *c, const struct conf_section *s,
		    const char *const *known, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		int ok = 0;
		for (const char *const *k = known; *k; k++)
			if (strcmp(*k, s->entries[i].key) == 0)
				ok = 1;
		if (!ok) {
			conf_error(c, s, &s->entries[i], err, errlen, "unknown key");
			return SUIDO_ERR_CONFIG;
		}
	}
	return SUIDO_OK;
}
