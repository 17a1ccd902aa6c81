/*
 * Encoder and decoder of the XML data profile (profile_xml.h). Decoding is a
 * libxml2 SAX2 state machine that writes straight into a struct
 * profile_msg: no document tree is built (a full message of 200,000 points
 * would cost far more as a tree than as the message), every value is
 * checked as the JSON decoder checks it before anything is handed on, and
 * the first error stops the parser. Encoding writes text directly with
 * strbuf, as the JSON encoder does.
 */
#include "suido/profile_xml.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "suido/error.h"
#include "suido/numparse.h"
#include "suido/timeutil.h"

#define DEF_MAX_BYTES (8u << 20)
#define DEF_MAX_ITEMS 10000
#define DEF_MAX_POINTS 200000

/* ---- decoding ---- */

/* Where the parser is; W_SKIP is an ignored element's subtree. */
enum xwhere { W_TOP, W_DATA, W_ITEMS, W_POINTS, W_ITEM, W_P, W_SKIP, W_END };

struct xdec {
	xmlParserCtxtPtr ctxt;
	struct profile_msg *m;
	size_t max_items, max_points;
	size_t cap_items, cap_points;
	uint64_t *idx; /* raw point indexes, checked once items are known */
	int seen_items, seen_points, saw_doctype;
	enum xwhere where;
	enum xwhere skip_from; /* where an ignored subtree started */
	unsigned skip_depth;
	char *err;
	size_t errlen;
	int rc; /* first error */
};

__attribute__((format(printf, 3, 4))) static int xfail(struct xdec *x, int rc, const char *fmt,
						       ...)
{
	va_list ap;

	if (x->rc == SUIDO_OK) {
		x->rc = rc;
		va_start(ap, fmt);
		if (x->err && x->errlen)
			vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
		xmlStopParser(x->ctxt);
	}
	return x->rc;
}

/* Wire instants must say their offset (as in profile.c): "Z", "+hh:mm" or
 * "+hhmm" at the end. */
static int has_offset(const char *s, size_t n)
{
	if (n < 17)
		return 0;
	if (s[n - 1] == 'Z')
		return 1;
	if ((s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':')
		return 1;
	return (s[n - 5] == '+' || s[n - 5] == '-') && s[n - 3] >= '0' && s[n - 3] <= '9';
}

static int parse_instant(const char *s, size_t n, int64_t *ms)
{
	char terr[128];

	return has_offset(s, n) && timeutil_parse(s, n, "iso8601", ms, terr, sizeof terr) == SUIDO_OK;
}

/* A number in JSON syntax, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * finite once read. Returns 0 with *out, or -1. */
static int parse_number(const char *s, size_t n, double *out)
{
	char small[64], *buf = small, *stop;
	size_t i = 0;
	double v;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return -1;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i != n)
		return -1;
	if (n >= sizeof small && !(buf = malloc(n + 1)))
		return -2;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtod(buf, &stop);
	if (buf != small)
		free(buf);
	if (!isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* A decimal index without sign or leading zeros. Returns 0 or -1. */
static int parse_index(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int is_ours(const xmlChar *uri, const xmlChar *local, const char *name)
{
	return uri && strcmp((const char *)uri, PROFILE_XML_NS) == 0 &&
	       strcmp((const char *)local, name) == 0;
}

/* One attribute of SAX2's array: localname, prefix, URI, value, end. */
struct xattr {
	const char *v;
	size_t n;
	int present;
};

/*
 * Picks the attributes without namespace named in names[] (NULL-terminated)
 * into vals[]; the others are ignored.
 */
static void pick_attrs(int nb, const xmlChar **a, const char *const *names, struct xattr *vals)
{
	for (size_t k = 0; names[k]; k++)
		vals[k] = (struct xattr){"", 0, 0};
	for (int i = 0; i < nb; i++, a += 5) {
		if (a[2])
			continue;
		for (size_t k = 0; names[k]; k++) {
			if (strcmp((const char *)a[0], names[k]) == 0) {
				vals[k] = (struct xattr){(const char *)a[3], (size_t)(a[4] - a[3]), 1};
				break;
			}
		}
	}
}

/* Copies an attribute value of at most max bytes into *out. */
static int take(struct xdec *x, const struct xattr *a, size_t max, char **out, const char *where,
		const char *name)
{
	if (a->n > max)
		return xfail(x, SUIDO_ERR_INVALID, "%s@%s: longer than %zu bytes", where, name, max);
	if (!(*out = strndup(a->v, a->n)))
		return xfail(x, SUIDO_ERR_NOMEM, "out of memory");
	return SUIDO_OK;
}

static void start_data(struct xdec *x, int nb, const xmlChar **attrs)
{
	static const char *const names[] = {"profile", "id", "utility", "gateway", "sent", NULL};
	struct xattr a[5];
	struct profile_msg *m = x->m;
	char gw[PROFILE_NAME_MAX + 1];
	int64_t epoch;
	uint64_t seq;

	pick_attrs(nb, attrs, names, a);
	if (!a[0].present || a[0].n != strlen(PROFILE_DATA_V1) ||
	    memcmp(a[0].v, PROFILE_DATA_V1, a[0].n) != 0) {
		xfail(x, SUIDO_ERR_INVALID, "Data@profile: expected \"%s\"", PROFILE_DATA_V1);
		return;
	}
	if (!a[1].present) {
		xfail(x, SUIDO_ERR_INVALID, "Data@id: missing");
		return;
	}
	if (!a[2].present) {
		xfail(x, SUIDO_ERR_INVALID, "Data@utility: missing");
		return;
	}
	if (!a[3].present) {
		xfail(x, SUIDO_ERR_INVALID, "Data@gateway: missing");
		return;
	}
	if (take(x, &a[1], PROFILE_ID_MAX, &m->id, "Data", "id") ||
	    take(x, &a[2], PROFILE_NAME_MAX, &m->utility, "Data", "utility") ||
	    take(x, &a[3], PROFILE_NAME_MAX, &m->gateway, "Data", "gateway"))
		return;
	if (!profile_name_valid(m->utility) || !profile_name_valid(m->gateway)) {
		xfail(x, SUIDO_ERR_INVALID, "Data@utility or @gateway: not a valid name");
		return;
	}
	if (profile_msg_id_parse(m->id, gw, sizeof gw, &epoch, &seq) != SUIDO_OK ||
	    strcmp(gw, m->gateway) != 0) {
		xfail(x, SUIDO_ERR_INVALID, "Data@id: expected \"%s:<epoch>:<seq>\"", m->gateway);
		return;
	}
	if (a[4].present && !parse_instant(a[4].v, a[4].n, &m->sent_ms)) {
		xfail(x, SUIDO_ERR_INVALID, "Data@sent: not an ISO 8601 instant with offset");
		return;
	}
	x->where = W_DATA;
}

static void start_item(struct xdec *x, int nb, const xmlChar **attrs)
{
	static const char *const names[] = {"id", "name", "unit", "facility", NULL};
	struct profile_msg *m = x->m;
	size_t i = m->n_items;
	struct profile_item *it;
	struct xattr a[4];
	char where[48];

	if (i >= x->max_items) {
		xfail(x, SUIDO_ERR_LIMIT, "Items: more than %zu", x->max_items);
		return;
	}
	if (i == x->cap_items) {
		size_t nc = x->cap_items ? x->cap_items * 2 : 16;
		void *np = realloc(m->items, nc * sizeof *m->items);
		if (!np) {
			xfail(x, SUIDO_ERR_NOMEM, "out of memory");
			return;
		}
		m->items = np;
		x->cap_items = nc;
	}
	it = &m->items[m->n_items++];
	memset(it, 0, sizeof *it);
	snprintf(where, sizeof where, "Items/Item[%zu]", i);
	pick_attrs(nb, attrs, names, a);
	if (!a[0].present) {
		xfail(x, SUIDO_ERR_INVALID, "%s@id: missing", where);
		return;
	}
	if (!a[1].present) {
		xfail(x, SUIDO_ERR_INVALID, "%s@name: missing", where);
		return;
	}
	if (take(x, &a[0], PROFILE_ITEM_ID_MAX, &it->id, where, "id") ||
	    take(x, &a[1], PROFILE_TEXT_MAX, &it->name, where, "name") ||
	    take(x, &a[2], PROFILE_TEXT_MAX, &it->unit, where, "unit") ||
	    take(x, &a[3], PROFILE_TEXT_MAX, &it->facility, where, "facility"))
		return;
	if (!profile_item_id_valid(it->id)) {
		xfail(x, SUIDO_ERR_INVALID, "%s@id: not a valid item id", where);
		return;
	}
	x->where = W_ITEM;
}

static void start_point(struct xdec *x, int nb, const xmlChar **attrs)
{
	static const char *const names[] = {"i", "t", "v", "s", NULL};
	struct profile_msg *m = x->m;
	size_t i = m->n_points;
	struct profile_point *p;
	struct xattr a[4];
	int r;

	if (i >= x->max_points) {
		xfail(x, SUIDO_ERR_LIMIT, "Points: more than %zu", x->max_points);
		return;
	}
	if (i == x->cap_points) {
		size_t nc = x->cap_points ? x->cap_points * 2 : 256;
		void *np = realloc(m->points, nc * sizeof *m->points);
		void *ni = realloc(x->idx, nc * sizeof *x->idx);
		if (np)
			m->points = np;
		if (ni)
			x->idx = ni;
		if (!np || !ni) {
			xfail(x, SUIDO_ERR_NOMEM, "out of memory");
			return;
		}
		x->cap_points = nc;
	}
	p = &m->points[m->n_points++];
	memset(p, 0, sizeof *p);
	pick_attrs(nb, attrs, names, a);
	if (!a[0].present) {
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@i: missing", i);
		return;
	}
	if (parse_index(a[0].v, a[0].n, &x->idx[i]) != 0) {
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@i: not an index into items", i);
		return;
	}
	if (!a[1].present) {
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@t: missing", i);
		return;
	}
	if (!parse_instant(a[1].v, a[1].n, &p->t_ms)) {
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@t: not an ISO 8601 instant with offset", i);
		return;
	}
	if (a[2].present == a[3].present) {
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]: needs exactly one of @v and @s", i);
		return;
	}
	if (a[2].present) {
		if ((r = parse_number(a[2].v, a[2].n, &p->v)) == -2) {
			xfail(x, SUIDO_ERR_NOMEM, "out of memory");
			return;
		}
		if (r != 0) {
			xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@v: not a finite number", i);
			return;
		}
	} else {
		if (a[3].n > PROFILE_VALUE_TEXT_MAX) {
			xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@s: text longer than %d bytes", i,
			      PROFILE_VALUE_TEXT_MAX);
			return;
		}
		if (!(p->text = strndup(a[3].v, a[3].n))) {
			xfail(x, SUIDO_ERR_NOMEM, "out of memory");
			return;
		}
	}
	x->where = W_P;
}

static void on_start(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri,
		     int nb_ns, const xmlChar **ns, int nb_attrs, int nb_defaulted,
		     const xmlChar **attrs)
{
	struct xdec *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)prefix;
	(void)nb_ns;
	(void)ns;
	(void)nb_defaulted;
	if (x->rc != SUIDO_OK)
		return;
	switch (x->where) {
	case W_TOP:
		if (!is_ours(uri, local, "Data")) {
			xfail(x, SUIDO_ERR_INVALID, "not a %s XML document: the root element must be "
			      "Data in namespace %s", PROFILE_DATA_V1, PROFILE_XML_NS);
			return;
		}
		start_data(x, nb_attrs, attrs);
		return;
	case W_DATA:
		if (is_ours(uri, local, "Items") || is_ours(uri, local, "Points")) {
			int items = local[0] == 'I';
			int *seen = items ? &x->seen_items : &x->seen_points;
			if (*seen) {
				xfail(x, SUIDO_ERR_INVALID, "%s: more than one", items ? "Items" : "Points");
				return;
			}
			*seen = 1;
			x->where = items ? W_ITEMS : W_POINTS;
			return;
		}
		/* an extension or the ds:Signature: not ours to read */
		x->skip_from = W_DATA;
		x->skip_depth = 1;
		x->where = W_SKIP;
		return;
	case W_ITEMS:
		if (!is_ours(uri, local, "Item")) {
			xfail(x, SUIDO_ERR_INVALID, "Items: element %s is not allowed (only Item)",
			      (const char *)local);
			return;
		}
		start_item(x, nb_attrs, attrs);
		return;
	case W_POINTS:
		if (!is_ours(uri, local, "P")) {
			xfail(x, SUIDO_ERR_INVALID, "Points: element %s is not allowed (only P)",
			      (const char *)local);
			return;
		}
		start_point(x, nb_attrs, attrs);
		return;
	case W_ITEM:
		xfail(x, SUIDO_ERR_INVALID, "Items/Item[%zu]: must be empty", x->m->n_items - 1);
		return;
	case W_P:
		xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]: must be empty", x->m->n_points - 1);
		return;
	case W_SKIP:
		x->skip_depth++;
		return;
	case W_END:
		return; /* cannot happen: a second root is not well-formed */
	}
}

static void on_end(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri)
{
	struct xdec *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)local;
	(void)prefix;
	(void)uri;
	if (x->rc != SUIDO_OK)
		return;
	switch (x->where) {
	case W_SKIP:
		if (--x->skip_depth == 0)
			x->where = x->skip_from;
		return;
	case W_ITEM:
		x->where = W_ITEMS;
		return;
	case W_P:
		x->where = W_POINTS;
		return;
	case W_ITEMS:
	case W_POINTS:
		x->where = W_DATA;
		return;
	case W_DATA:
		x->where = W_END;
		return;
	case W_TOP:
	case W_END:
		return;
	}
}

static void on_text(void *ctx, const xmlChar *s, int len)
{
	struct xdec *x = ((xmlParserCtxtPtr)ctx)->_private;
	const char *what;
	char where[48];

	if (x->rc != SUIDO_OK || x->where == W_SKIP)
		return;
	for (int i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			goto text;
	return;
text:
	switch (x->where) {
	case W_ITEMS: what = "Items"; break;
	case W_POINTS: what = "Points"; break;
	case W_ITEM:
		snprintf(where, sizeof where, "Items/Item[%zu]", x->m->n_items - 1);
		what = where;
		break;
	case W_P:
		snprintf(where, sizeof where, "Points/P[%zu]", x->m->n_points - 1);
		what = where;
		break;
	default: what = "Data"; break;
	}
	xfail(x, SUIDO_ERR_INVALID, "%s: text content is not allowed", what);
}

/* SAX hook: a DOCTYPE (with or without internal subset) stops the parser
 * before any declaration in it is read, so no entity is ever defined. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
	struct xdec *x = ((xmlParserCtxtPtr)ctx)->_private;

	(void)name;
	(void)eid;
	(void)sid;
	x->saw_doctype = 1;
	xfail(x, SUIDO_ERR_INVALID, "a DOCTYPE is not allowed");
}

/* libxml2's messages are read from the context at the end; nothing printed. */
static void on_xml_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* Item ids must be unique within a message: checked with a hash set. */
static int items_unique(struct xdec *x)
{
	const struct profile_msg *m = x->m;
	size_t cap = 16, *slot;
	int rc = SUIDO_OK;

	while (cap < m->n_items * 2)
		cap *= 2;
	if (!(slot = malloc(cap * sizeof *slot)))
		return xfail(x, SUIDO_ERR_NOMEM, "out of memory");
	memset(slot, 0xff, cap * sizeof *slot);
	for (size_t i = 0; i < m->n_items && rc == SUIDO_OK; i++) {
		const char *id = m->items[i].id;
		uint64_t h = 1469598103934665603ull;
		for (const char *c = id; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h &= cap - 1;
		while (slot[h] != SIZE_MAX) {
			if (strcmp(m->items[slot[h]].id, id) == 0) {
				rc = xfail(x, SUIDO_ERR_INVALID, "Items/Item[%zu]@id: repeats Items/Item[%zu]",
					   i, slot[h]);
				break;
			}
			h = (h + 1) & (cap - 1);
		}
		slot[h] = i;
	}
	free(slot);
	return rc;
}

static void check_message(struct xdec *x)
{
	struct profile_msg *m = x->m;

	if (!x->seen_items) {
		xfail(x, SUIDO_ERR_INVALID, "Items: missing");
		return;
	}
	if (!x->seen_points) {
		xfail(x, SUIDO_ERR_INVALID, "Points: missing");
		return;
	}
	for (size_t i = 0; i < m->n_items; i++) {
		if ((!m->items[i].unit && !(m->items[i].unit = strdup(""))) ||
		    (!m->items[i].facility && !(m->items[i].facility = strdup("")))) {
			xfail(x, SUIDO_ERR_NOMEM, "out of memory");
			return;
		}
	}
	if (items_unique(x) != SUIDO_OK)
		return;
	for (size_t i = 0; i < m->n_points; i++) {
		if (x->idx[i] >= m->n_items) {
			xfail(x, SUIDO_ERR_INVALID, "Points/P[%zu]@i: not an index into items", i);
			return;
		}
		m->points[i].item = (uint32_t)x->idx[i];
	}
}

static void copy_xml_error(const xmlError *e, char *err, size_t errlen)
{
	char msg[160];
	size_t n;

	snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "parse error");
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	suido_errf(err, errlen, "not well-formed XML (line %d): %s", e ? e->line : 0, msg);
}

int profile_xml_decode(const char *buf, size_t len, const struct profile_limits *lim,
		       struct profile_msg **out, char *err, size_t errlen)
{
	struct xdec x = {.err = err, .errlen = errlen};
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEF_MAX_BYTES;
	xmlStructuredErrorFunc prev_handler;
	void *prev_ctx;
	xmlSAXHandler sax;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > max_bytes || len > INT_MAX) {
		suido_errf(err, errlen, "message larger than %zu bytes",
			   max_bytes < INT_MAX ? max_bytes : (size_t)INT_MAX);
		return SUIDO_ERR_LIMIT;
	}
	if (len == 0) {
		suido_errf(err, errlen, "not well-formed XML (line 1): empty document");
		return SUIDO_ERR_INVALID;
	}
	x.max_items = lim && lim->max_items ? lim->max_items : DEF_MAX_ITEMS;
	x.max_points = lim && lim->max_points ? lim->max_points : DEF_MAX_POINTS;
	if (!(x.m = calloc(1, sizeof *x.m))) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	xmlInitParser();
	/* Errors raised outside the parser context (transcoding, I/O) would go
	 * to stderr: silenced for this thread while we parse, then restored. */
	prev_handler = xmlStructuredError;
	prev_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, on_xml_error);
	if (!(x.ctxt = xmlCreateMemoryParserCtxt(buf, (int)len))) {
		suido_errf(err, errlen, "out of memory");
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	/* NONET; no NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: libxml2's default
	 * depth and text-size limits stay in force. */
	xmlCtxtUseOptions(x.ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.ignorableWhitespace = on_text;
	sax.cdataBlock = on_text;
	sax.internalSubset = on_doctype;
	sax.serror = on_xml_error;
	*x.ctxt->sax = sax;
	x.ctxt->_private = &x;
	/* Without it SAX2 hands "&amp;" in an attribute value on as "&#38;" (for
	 * a tree builder to re-parse). Safe here: the parser stops at a DOCTYPE
	 * before any declaration, so the five predefined entities are the only
	 * ones that can ever exist. */
	x.ctxt->replaceEntities = 1;
	xmlParseDocument(x.ctxt);
	if (x.rc == SUIDO_OK && !x.ctxt->wellFormed) {
		copy_xml_error(xmlCtxtGetLastError(x.ctxt), err, errlen);
		x.rc = SUIDO_ERR_INVALID;
	} else if (x.rc == SUIDO_OK && !x.ctxt->nsWellFormed) {
		/* an undeclared prefix, say: libxml2 only warns */
		suido_errf(err, errlen, "not namespace-well-formed XML");
		x.rc = SUIDO_ERR_INVALID;
	} else if (x.rc == SUIDO_OK && x.where != W_END) {
		suido_errf(err, errlen, "not well-formed XML: no document element");
		x.rc = SUIDO_ERR_INVALID;
	} else if (x.rc == SUIDO_OK) {
		check_message(&x);
	}
	rc = x.rc;
done:
	if (x.ctxt) {
		/* libxml2 builds a document of its own for an entity declared in
		 * a DOCTYPE it parsed past ("SAX compatibility"); the context does
		 * not free it */
		if (x.ctxt->myDoc) {
			xmlFreeDoc(x.ctxt->myDoc);
			x.ctxt->myDoc = NULL;
		}
		xmlFreeParserCtxt(x.ctxt);
	}
	xmlSetStructuredErrorFunc(prev_ctx, prev_handler);
	free(x.idx);
	if (rc != SUIDO_OK) {
		profile_msg_free(x.m);
		return rc;
	}
	*out = x.m;
	return SUIDO_OK;
}

/* ---- encoding ---- */

/*
 * Appends s as an attribute value. Returns 0, or the code point (or 0xFFFFFFFF
 * for invalid UTF-8) that XML 1.0 cannot carry.
 */
static uint32_t put_attr(struct strbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	for (;;) {
		unsigned c = *p;
		const char *rep = NULL;
		size_t l = 1;

		if (c == 0)
			break;
		if (c < 0x80) {
			switch (c) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\t': rep = "&#9;"; break;
			case '\n': rep = "&#10;"; break;
			case '\r': rep = "&#13;"; break;
			default:
				if (c < 0x20)
					return c;
			}
		} else {
			/* UTF-8 as RFC 3629: no overlongs, surrogates or beyond U+10FFFF */
			uint32_t cp;
			if (c >= 0xc2 && c <= 0xdf)
				l = 2, cp = c & 0x1f;
			else if (c >= 0xe0 && c <= 0xef)
				l = 3, cp = c & 0x0f;
			else if (c >= 0xf0 && c <= 0xf4)
				l = 4, cp = c & 0x07;
			else
				return 0xffffffffu;
			for (size_t i = 1; i < l; i++) {
				if ((p[i] & 0xc0) != 0x80)
					return 0xffffffffu;
				cp = cp << 6 | (p[i] & 0x3f);
			}
			if ((l == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
			    (l == 4 && (cp < 0x10000 || cp > 0x10ffff)))
				return 0xffffffffu;
			if (cp == 0xfffe || cp == 0xffff)
				return cp;
		}
		if (rep) {
			strbuf_append(out, run, (size_t)(p - run));
			strbuf_puts(out, rep);
			run = p + 1;
		}
		p += l;
	}
	strbuf_append(out, run, (size_t)(p - run));
	return 0;
}

static int bad_char(uint32_t cp, const char *where, size_t i, const char *attr, char *err,
		    size_t errlen)
{
	char at[48];

	if (i == SIZE_MAX)
		snprintf(at, sizeof at, "%s", where);
	else
		snprintf(at, sizeof at, "%s[%zu]", where, i);
	if (cp == 0xffffffffu)
		suido_errf(err, errlen, "%s@%s: not UTF-8", at, attr);
	else
		suido_errf(err, errlen, "%s@%s: U+%04" PRIX32 " cannot be written in XML", at, attr,
			   cp);
	return SUIDO_ERR_INVALID;
}

/* Writes ` name="value"`; on a character XML cannot carry, the error. */
#define ATTR(name, val, where, i)                                                          \
	do {                                                                               \
		uint32_t cp_;                                                              \
		strbuf_puts(out, " " name "=\"");                                          \
		if ((cp_ = put_attr(out, (val))) != 0)                                     \
			return bad_char(cp_, (where), (i), (name), err, errlen);           \
		strbuf_putc(out, '"');                                                     \
	} while (0)

int profile_xml_encode(const struct profile_msg *m, struct strbuf *out, char *err,
		       size_t errlen)
{
	char ts[32], num[32];

	strbuf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<Data xmlns=\"" PROFILE_XML_NS "\" profile=\"" PROFILE_DATA_V1 "\"");
	ATTR("id", m->id, "Data", SIZE_MAX);
	ATTR("utility", m->utility, "Data", SIZE_MAX);
	ATTR("gateway", m->gateway, "Data", SIZE_MAX);
	strbuf_puts(out, " sent=\"");
	strbuf_append(out, ts, timeutil_format_utc(m->sent_ms, ts));
	strbuf_puts(out, "\">\n<Items>\n");
	for (size_t i = 0; i < m->n_items; i++) {
		const struct profile_item *it = &m->items[i];
		strbuf_puts(out, "<Item");
		ATTR("id", it->id, "Items/Item", i);
		ATTR("name", it->name, "Items/Item", i);
		ATTR("unit", it->unit, "Items/Item", i);
		ATTR("facility", it->facility, "Items/Item", i);
		strbuf_puts(out, "/>\n");
	}
	strbuf_puts(out, "</Items>\n<Points>\n");
	for (size_t i = 0; i < m->n_points; i++) {
		const struct profile_point *p = &m->points[i];
		strbuf_printf(out, "<P i=\"%" PRIu32 "\" t=\"", p->item);
		strbuf_append(out, ts, timeutil_format_utc(p->t_ms, ts));
		strbuf_putc(out, '"');
		if (p->text) {
			ATTR("s", p->text, "Points/P", i);
		} else {
			if (!isfinite(p->v)) {
				suido_errf(err, errlen, "Points/P[%zu]@v: not a finite number", i);
				return SUIDO_ERR_INVALID;
			}
			strbuf_puts(out, " v=\"");
			strbuf_append(out, num, numparse_format(p->v, num));
			strbuf_putc(out, '"');
		}
		strbuf_puts(out, "/>\n");
	}
	strbuf_puts(out, "</Points>\n</Data>\n");
	if (out->failed) {
		suido_errf(err, errlen, "out of memory or output limit");
		return SUIDO_ERR_NOMEM;
	}
	return SUIDO_OK;
}
