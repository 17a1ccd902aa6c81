/*
 * The AP interface (api.h) on libmicrohttpd: an internal polling thread with
 * a pool of worker threads, each of which lazily opens its own store handle
 * (a store is used by one thread at a time) and answers requests from it.
 * Requests are GET/HEAD only, authenticated by a bearer token whose SHA-256
 * names exactly one utility, and routed from the raw request line (captured
 * before libmicrohttpd unescapes it, so an encoded "/" in an item id cannot
 * change the route and bad percent-encoding is refused). Answers are JSON
 * written straight into a capped buffer while the store streams rows; no
 * document tree is built, so a page of 100,000 points costs one buffer.
 */
#include "api.h"

#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "files.h"
#include "http.h"
#include "suido/error.h"
#include "suido/fileseal.h"
#include "suido/hex.h"
#include "suido/log.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define URL_MAX 2048                       /* raw request target, query included */
#define GET_BODY_MAX (64u * 1024u)         /* body skipped on a GET before 413 */
#define TOKEN_MAX 4096                     /* bearer token bytes */
#define PARAM_MAX 64                       /* a time or number parameter */
#define CONN_TIMEOUT_S 30u                 /* idle connection */
#define CONN_MEMORY_LIMIT (64u * 1024u)    /* per connection: request line + headers */
#define CONN_LIMIT 1024u                   /* concurrent connections */
#define BODY_LIMIT ((size_t)256 << 20)     /* one answer */
#define MAX_BUCKETS 100000                 /* aggregate buckets one request may ask for */
#define MAX_SEGMENTS 8                     /* path segments */
#define LATEST_ITEMS_MAX 100000            /* items in one /latest answer */
#define JSON_TYPE "application/json; charset=utf-8"
#define JOSE_TYPE "application/jose"
#define ZIP_TYPE "application/zip"
#define FILE_TYPE "application/octet-stream"
#define SEAL_KID "platform"                /* kid of the platform's signature on answers */
#define FILE_OVERHEAD ((size_t)1 << 20)    /* a sealed file's ZIP beyond its content */
#define POSTS_MAX 4                        /* deposits being received at once (memory) */
#define METRICS_TYPE "text/plain; version=0.0.4"
#define REALM "Bearer realm=\"suido\""
#define TLS_FILE_MAX (1u << 20)            /* a PEM certificate chain or key file */
/* GnuTLS priorities: TLS 1.2 and 1.3 only; in TLS 1.2 only ECDHE key exchange
 * (forward secrecy) and AEAD ciphers. */
#define TLS_PRIORITIES                                                                     \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:"        \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305"

struct api {
	const struct api_config *cfg;
	struct metrics *m;
	struct MHD_Daemon *daemon;
	uint16_t port;
	pthread_key_t key; /* this worker's struct store */
	int posts;         /* deposits being received (atomic): each may hold a body */
	struct oidc *oidc;   /* set once by api_attach (atomic load) */
	struct admin *admin; /* idem */
	int access_fd;       /* the access log, O_APPEND; -1: none */
	int key_made;
	pthread_mutex_t lock; /* guards stores[] */
	int lock_made;
	struct store **stores; /* every store opened, closed by api_stop */
	size_t n_stores, cap_stores;
	/* TLS files as read, NUL-terminated (libmicrohttpd takes C strings);
	 * zeroed and freed by api_stop */
	char *tls_cert, *tls_key;
	size_t tls_cert_len, tls_key_len;
};

/* One request: the raw target as the client sent it. */
struct req {
	int headers_seen;
	int answered;
	int too_long;
	int is_post;
	int counted;        /* holds one of api.posts */
	int module_body;    /* a body for the provider or the admin API (small cap) */
	size_t body_bytes;  /* of a body sent with a GET, skipped */
	struct strbuf body; /* of a POST, kept (capped) */
	char uri[];
};

/* What a handler produces: status, body and up to one extra header. */
struct reply {
	unsigned status;
	const char *ctype;
	struct strbuf body;
	const char *hname, *hval;
	const char *h2name; /* a second header, its value in h2val */
	char h2val[800];
};

/* The route a request resolved to, with its decoded segments. */
struct route {
	struct api *a;
	struct MHD_Connection *conn;
	struct store *s;
	const char *utility;
	const char *item;
	const struct api_app *app;    /* the calling application's keys (never NULL) */
	const struct reg_scope *scope; /* the grant's scope, parsed; NULL: all items */
	struct req *rq;
};

/* What the access log records of one AP request. */
struct access {
	char client[REG_ID_MAX];
	char user[REG_ID_MAX];
	char utility[REG_ID_MAX];
};

static void reply_init(struct reply *r)
{
	memset(r, 0, sizeof *r);
	r->body.limit = BODY_LIMIT;
	r->ctype = JSON_TYPE;
}

/* Replaces whatever the reply held by an error document. */
static void reply_error(struct reply *r, unsigned status, const char *code, const char *msg)
{
	strbuf_reset(&r->body);
	r->status = status;
	r->ctype = JSON_TYPE;
	strbuf_puts(&r->body, "{\"error\":");
	strbuf_json_str(&r->body, code, strlen(code));
	strbuf_puts(&r->body, ",\"message\":");
	strbuf_json_str(&r->body, msg, strlen(msg));
	strbuf_puts(&r->body, "}");
}

/* Maps a store failure on a read path to an answer. */
static void reply_store_error(struct reply *r, int rc, const char *what)
{
	if (rc == SUIDO_ERR_NOTFOUND) {
		reply_error(r, 404, "not_found", what);
		return;
	}
	log_warn("api", "store read failed: %s", suido_strerror(rc));
	reply_error(r, 500, "internal", "The data could not be read.");
}

static void count(struct api *a, unsigned status)
{
	metrics_add(a->m, MET_HTTP_REQUESTS, 1);
	if (status >= 200 && status < 300)
		metrics_add(a->m, MET_HTTP_2XX, 1);
	else if (status >= 400 && status < 500)
		metrics_add(a->m, MET_HTTP_4XX, 1);
	else if (status >= 500)
		metrics_add(a->m, MET_HTTP_5XX, 1);
	if (status == 401 || status == 403)
		metrics_add(a->m, MET_HTTP_UNAUTHORIZED, 1);
}

static enum MHD_Result send_reply(struct api *a, struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = 0;
	char *data;

	if (r->body.failed) {
		/* Out of memory or over the cap: a smaller answer still fits. */
		strbuf_free(&r->body);
		reply_error(r, 500, "internal", "The answer could not be built (too large?).");
		r->hname = NULL;
	}
	data = strbuf_steal(&r->body, &len);
	resp = MHD_create_response_from_buffer(len, data ? data : (char *)"",
					       data ? MHD_RESPMEM_MUST_FREE
						    : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		strbuf_free(&r->body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    (r->hname && MHD_add_response_header(resp, r->hname, r->hval) != MHD_YES) ||
	    (r->h2name && MHD_add_response_header(resp, r->h2name, r->h2val) != MHD_YES)) {
		MHD_destroy_response(resp);
		strbuf_free(&r->body);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	strbuf_free(&r->body);
	if (ret == MHD_YES)
		count(a, r->status);
	return ret;
}

/* This worker's store, opened on first use and remembered for api_stop. */
static struct store *thread_store(struct api *a)
{
	struct store *s = pthread_getspecific(a->key);
	int rc;

	if (s)
		return s;
	rc = a->cfg->store_open(a->cfg->store_ctx, &s);
	if (rc != SUIDO_OK || !s) {
		log_error("api", "cannot open the store: %s", suido_strerror(rc));
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	if (a->n_stores == a->cap_stores) {
		size_t cap = a->cap_stores ? a->cap_stores * 2 : 8;
		struct store **p = realloc(a->stores, cap * sizeof *p);
		if (!p) {
			pthread_mutex_unlock(&a->lock);
			store_close(s);
			return NULL;
		}
		a->stores = p;
		a->cap_stores = cap;
	}
	a->stores[a->n_stores++] = s;
	pthread_mutex_unlock(&a->lock);
	/* On failure the store stays tracked (closed at stop); the next request
	 * of this thread would open another, which is only wasteful. */
	if (pthread_setspecific(a->key, s) != 0)
		log_warn("api", "pthread_setspecific failed");
	return s;
}

/* Percent-decodes s[0..n) into out (NUL-terminated; out has n + 1 bytes).
 * Returns -1 on a malformed escape or an encoded NUL. */
static int pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 3)
			return -1;
		int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

enum auth_result { AUTH_NONE, AUTH_INVALID, AUTH_OK, AUTH_ERROR };

/* The SHA-256 of the request's bearer token in md: AUTH_OK, AUTH_NONE (no
 * Authorization header or another scheme), AUTH_INVALID (empty or over
 * TOKEN_MAX), AUTH_ERROR. */
static enum auth_result bearer_sha256(struct MHD_Connection *conn, unsigned char md[32])
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned int mdlen = 0;
	const char *tok;
	size_t n;

	if (!h)
		return AUTH_NONE;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] && h[6] != ' ' && h[6] != '\t'))
		return AUTH_NONE; /* another scheme: no bearer credentials */
	tok = h + 6;
	while (*tok == ' ' || *tok == '\t')
		tok++;
	n = strlen(tok);
	while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
		n--;
	if (n == 0 || n > TOKEN_MAX)
		return AUTH_INVALID;
	if (EVP_Digest(tok, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return AUTH_ERROR;
	return AUTH_OK;
}

/* Reads a required ISO 8601 instant with Z or an offset. A query string
 * decodes "+" to a space, so "…T09:00:00 09:00" means "+09:00". */
static int param_time(struct MHD_Connection *conn, const char *name, int64_t *out,
		      struct reply *r)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	char buf[PARAM_MAX], perr[128], msg[256];
	size_t n, b, e;
	int zoned = 0;

	if (!v || !*v) {
		snprintf(msg, sizeof msg, "The parameter %s is required.", name);
		reply_error(r, 400, "bad_request", msg);
		return -1;
	}
	n = strlen(v);
	for (b = 0; b < n && v[b] == ' '; b++)
		;
	for (e = n; e > b && v[e - 1] == ' '; e--)
		;
	n = e - b;
	if (n >= sizeof buf)
		goto bad;
	memcpy(buf, v + b, n);
	buf[n] = '\0';
	/* Offsets sit after the date (10 bytes) and a time: "+hh:mm" or "+hhmm". */
	for (size_t olen = 5; olen <= 6 && !zoned; olen++) {
		if (n < 10 + olen + 1)
			continue;
		char *o = buf + n - olen;
		int shape = olen == 6 ? (o[3] == ':' && o[1] >= '0' && o[1] <= '9' &&
					 o[2] >= '0' && o[2] <= '9' && o[4] >= '0' &&
					 o[4] <= '9' && o[5] >= '0' && o[5] <= '9')
				      : (o[1] >= '0' && o[1] <= '9' && o[2] >= '0' && o[2] <= '9' &&
					 o[3] >= '0' && o[3] <= '9' && o[4] >= '0' && o[4] <= '9');
		if (!shape)
			continue;
		if (o[0] == ' ')
			o[0] = '+';
		if (o[0] == '+' || o[0] == '-')
			zoned = 1;
	}
	if (n > 10 && (buf[n - 1] == 'Z' || buf[n - 1] == 'z'))
		zoned = 1;
	if (!zoned)
		goto bad;
	if (timeutil_parse(buf, n, "iso8601", out, perr, sizeof perr) != SUIDO_OK)
		goto bad;
	return 0;
bad:
	snprintf(msg, sizeof msg,
		 "The parameter %s must be an ISO 8601 time with Z or an offset,"
		 " e.g. 2026-11-20T00:00:00+09:00.", name);
	reply_error(r, 400, "bad_request", msg);
	return -1;
}

/* Parses an optional decimal integer parameter; 1 when absent, 0 when read,
 * -1 when malformed (reply set). */
static int param_int(struct MHD_Connection *conn, const char *name, int64_t *out,
		     struct reply *r)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	char *end = NULL, msg[160];
	long long x;

	if (!v)
		return 1;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (!*v || *v == ' ' || *v == '+' || *end || errno || strlen(v) > 20) {
		snprintf(msg, sizeof msg, "The parameter %s must be a decimal integer.", name);
		reply_error(r, 400, "bad_request", msg);
		return -1;
	}
	*out = x;
	return 0;
}

/* Reads from and to, refusing from > to. */
static int param_range(struct MHD_Connection *conn, int64_t *from, int64_t *to,
		       struct reply *r)
{
	if (param_time(conn, "from", from, r) < 0 || param_time(conn, "to", to, r) < 0)
		return -1;
	if (*from > *to) {
		reply_error(r, 400, "bad_request", "from must not be later than to.");
		return -1;
	}
	return 0;
}

static void put_time(struct strbuf *sb, int64_t ms)
{
	char t[32];
	size_t n = timeutil_format_utc(ms, t);

	strbuf_putc(sb, '"');
	strbuf_append(sb, t, n);
	strbuf_putc(sb, '"');
}

/* A point's value: a JSON number (null for NaN), or a string for a text one. */
static void put_value(struct strbuf *sb, const struct store_point *p)
{
	if (p->text)
		strbuf_json_str(sb, p->text, strlen(p->text));
	else
		strbuf_json_num(sb, p->v);
}

static void put_item_json(struct strbuf *sb, const struct store_item *it)
{
	strbuf_puts(sb, "{\"id\":");
	strbuf_json_str(sb, it->id, strlen(it->id));
	strbuf_puts(sb, ",\"name\":");
	strbuf_json_str(sb, it->name, strlen(it->name));
	strbuf_puts(sb, ",\"unit\":");
	strbuf_json_str(sb, it->unit, strlen(it->unit));
	strbuf_puts(sb, ",\"facility\":");
	strbuf_json_str(sb, it->facility, strlen(it->facility));
	strbuf_putc(sb, '}');
}

struct list_ctx {
	struct strbuf *sb;
	size_t n;
	const struct reg_scope *scope; /* the grant's scope; NULL: every item */
};

static int list_cb(void *ctx, const struct store_item *it)
{
	struct list_ctx *c = ctx;

	if (c->scope && !registry_scope_has(c->scope, it->id, it->facility))
		return 0;
	if (c->n++)
		strbuf_putc(c->sb, ',');
	put_item_json(c->sb, it);
	return c->sb->failed;
}

static void get_items(struct route *rt, struct reply *r)
{
	struct list_ctx c = {&r->body, 0, rt->scope};
	int rc;

	strbuf_puts(&r->body, "{\"items\":[");
	rc = store_list_items(rt->s, rt->utility, list_cb, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such utility.");
		return;
	}
	strbuf_puts(&r->body, "]}");
	r->status = 200;
}

static int item_cb(void *ctx, const struct store_item *it)
{
	put_item_json(ctx, it);
	return 0;
}

static void get_item(struct route *rt, struct reply *r)
{
	int rc = store_get_item(rt->s, rt->utility, rt->item, item_cb, &r->body);

	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such item.");
		return;
	}
	r->status = 200;
}

struct values_ctx {
	struct strbuf *sb;
	size_t limit;
	size_t n;
	int more;
	int64_t last;
};

static int values_cb(void *ctx, const struct store_point *p)
{
	struct values_ctx *c = ctx;
	char t[32];
	size_t tn;

	if (c->n == c->limit) {
		c->more = 1; /* the extra point fetched only to know there is one */
		return 1;
	}
	tn = timeutil_format_utc(p->t_ms, t);
	strbuf_append(c->sb, c->n ? ",{\"t\":\"" : "{\"t\":\"", c->n ? 7 : 6);
	strbuf_append(c->sb, t, tn);
	strbuf_append(c->sb, "\",\"v\":", 6);
	put_value(c->sb, p);
	strbuf_putc(c->sb, '}');
	c->n++;
	c->last = p->t_ms;
	return c->sb->failed;
}

static void get_values(struct route *rt, struct reply *r)
{
	struct values_ctx c = {&r->body, 0, 0, 0, 0};
	int64_t from, to, limit = (int64_t)rt->a->cfg->page_default, cursor;
	int rc;

	if (param_range(rt->conn, &from, &to, r) < 0)
		return;
	rc = param_int(rt->conn, "limit", &limit, r);
	if (rc < 0)
		return;
	if (limit < 1 || (uint64_t)limit > rt->a->cfg->page_max) {
		char msg[128];
		snprintf(msg, sizeof msg, "limit must be between 1 and %zu.", rt->a->cfg->page_max);
		reply_error(r, 400, "bad_request", msg);
		return;
	}
	rc = param_int(rt->conn, "cursor", &cursor, r);
	if (rc < 0)
		return;
	if (rc == 0) {
		if (cursor < from || cursor > to) {
			reply_error(r, 400, "bad_request", "The cursor does not belong to this range.");
			return;
		}
		from = cursor;
	}
	c.limit = (size_t)limit;
	strbuf_puts(&r->body, "{\"values\":[");
	rc = store_values(rt->s, rt->utility, rt->item, from, to, c.limit + 1, values_cb, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such item.");
		return;
	}
	if (c.more)
		strbuf_printf(&r->body, "],\"next\":\"%" PRId64 "\"}", c.last + 1);
	else
		strbuf_puts(&r->body, "],\"next\":null}");
	r->status = 200;
}

/* Appends {"item":..., "t":..., "v":...} (item left out when NULL). */
struct latest_ctx {
	struct strbuf *sb;
	const char *item;
	size_t n_out;
};

static int latest_cb(void *ctx, const struct store_point *p)
{
	struct latest_ctx *c = ctx;

	strbuf_puts(c->sb, c->n_out++ ? ",{" : "{");
	if (c->item) {
		strbuf_puts(c->sb, "\"item\":");
		strbuf_json_str(c->sb, c->item, strlen(c->item));
		strbuf_putc(c->sb, ',');
	}
	strbuf_puts(c->sb, "\"t\":");
	put_time(c->sb, p->t_ms);
	strbuf_puts(c->sb, ",\"v\":");
	put_value(c->sb, p);
	strbuf_putc(c->sb, '}');
	return 0;
}

static void get_latest(struct route *rt, struct reply *r)
{
	struct latest_ctx c = {&r->body, NULL, 0};
	int rc = store_latest(rt->s, rt->utility, rt->item, latest_cb, &c);

	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such item, or no value yet.");
		return;
	}
	r->status = 200;
}

/* Item ids of a utility, NUL-separated, for /latest. */
struct ids_ctx {
	struct strbuf ids;
	size_t n;
	const struct reg_scope *scope; /* the grant's scope; NULL: every item */
};

static int ids_cb(void *ctx, const struct store_item *it)
{
	struct ids_ctx *c = ctx;

	if (c->scope && !registry_scope_has(c->scope, it->id, it->facility))
		return 0;
	if (c->n >= LATEST_ITEMS_MAX) {
		c->ids.failed = 1;
		return 1;
	}
	strbuf_append(&c->ids, it->id, strlen(it->id) + 1);
	c->n++;
	return c->ids.failed;
}

/* Lists the ids first and queries each after: a backend need not support
 * a second query while the first is still running. */
static void get_utility_latest(struct route *rt, struct reply *r)
{
	struct ids_ctx c = {STRBUF_INIT, 0, rt->scope};
	struct latest_ctx lc = {&r->body, NULL, 0};
	size_t off = 0;
	int rc;

	c.ids.limit = BODY_LIMIT;
	rc = store_list_items(rt->s, rt->utility, ids_cb, &c);
	if (rc != SUIDO_OK || c.ids.failed) {
		reply_store_error(r, rc != SUIDO_OK ? rc : SUIDO_ERR_LIMIT, "No such utility.");
		goto cleanup;
	}
	strbuf_puts(&r->body, "{\"values\":[");
	for (size_t i = 0; i < c.n; i++) {
		const char *id = c.ids.data + off;
		off += strlen(id) + 1;
		lc.item = id;
		rc = store_latest(rt->s, rt->utility, id, latest_cb, &lc);
		if (rc == SUIDO_ERR_NOTFOUND)
			continue;
		if (rc != SUIDO_OK) {
			reply_store_error(r, rc, "");
			goto cleanup;
		}
	}
	strbuf_puts(&r->body, "]}");
	r->status = 200;
cleanup:
	strbuf_free(&c.ids);
}

struct agg_ctx {
	struct strbuf *sb;
	enum time_bucket b;
	int64_t start, next;
	double min, max, sum;
	int64_t count;
	size_t n_out;
};

static void agg_flush(struct agg_ctx *c)
{
	struct strbuf *sb = c->sb;

	if (c->count == 0)
		return;
	strbuf_puts(sb, c->n_out++ ? ",{\"t\":" : "{\"t\":");
	put_time(sb, c->start);
	strbuf_puts(sb, ",\"min\":");
	strbuf_json_num(sb, c->min);
	strbuf_puts(sb, ",\"max\":");
	strbuf_json_num(sb, c->max);
	strbuf_puts(sb, ",\"avg\":");
	strbuf_json_num(sb, c->sum / (double)c->count);
	strbuf_puts(sb, ",\"sum\":");
	strbuf_json_num(sb, c->sum);
	strbuf_puts(sb, ",\"count\":");
	strbuf_json_int(sb, c->count);
	strbuf_putc(sb, '}');
	c->count = 0;
}

static int agg_cb(void *ctx, const struct store_point *p)
{
	struct agg_ctx *c = ctx;

	if (p->text || isnan(p->v))
		return 0; /* a text value or a missing reading does not count */
	if (c->count == 0 || p->t_ms >= c->next) {
		agg_flush(c);
		c->start = timeutil_bucket_start(p->t_ms, c->b);
		c->next = timeutil_bucket_next(c->start, c->b);
		c->min = c->max = p->v;
		c->sum = 0;
	}
	if (p->v < c->min)
		c->min = p->v;
	if (p->v > c->max)
		c->max = p->v;
	c->sum += p->v;
	c->count++;
	return c->sb->failed;
}

static const char *bucket_name(enum time_bucket b)
{
	switch (b) {
	case BUCKET_10MIN: return "10m";
	case BUCKET_HOUR: return "1h";
	case BUCKET_DAY: return "1d";
	case BUCKET_MONTH: return "1mo";
	}
	return "?";
}

/* Most buckets [from, to) can touch: widths are taken at their shortest
 * (a 23-hour day at a DST change, a 28-day month), plus the partial ones at
 * both ends. */
static int64_t bucket_bound(int64_t from, int64_t to, enum time_bucket b)
{
	static const int64_t min_width[] = {
		[BUCKET_10MIN] = 600000,
		[BUCKET_HOUR] = 3600000,
		[BUCKET_DAY] = 23 * 3600000LL,
		[BUCKET_MONTH] = 28 * 86400000LL - 3600000,
	};
	uint64_t span = (uint64_t)to - (uint64_t)from;

	return (int64_t)(span / (uint64_t)min_width[b]) + 2;
}

static void get_aggregate(struct route *rt, struct reply *r)
{
	struct agg_ctx c = {.sb = &r->body};
	const char *iv = MHD_lookup_connection_value(rt->conn, MHD_GET_ARGUMENT_KIND, "interval");
	int64_t from, to;
	int rc;

	if (param_range(rt->conn, &from, &to, r) < 0)
		return;
	if (!iv || timeutil_bucket_parse(iv, &c.b) != 0) {
		reply_error(r, 400, "bad_request", "interval must be one of 10m, 1h, 1d, 1mo.");
		return;
	}
	if (bucket_bound(from, to, c.b) > MAX_BUCKETS) {
		reply_error(r, 400, "range_too_large",
			    "The range holds more than 100000 buckets of this interval.");
		return;
	}
	strbuf_printf(&r->body, "{\"interval\":\"%s\",\"buckets\":[", bucket_name(c.b));
	rc = store_values(rt->s, rt->utility, rt->item, from, to, 0, agg_cb, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such item.");
		return;
	}
	agg_flush(&c);
	strbuf_puts(&r->body, "]}");
	r->status = 200;
}

/* ---- the file store (docs/api.md "Files") ---- */

static void put_file_json(struct strbuf *sb, const struct store_file *f)
{
	strbuf_puts(sb, "{\"id\":");
	strbuf_json_str(sb, f->id, strlen(f->id));
	strbuf_puts(sb, ",\"name\":");
	strbuf_json_str(sb, f->name, strlen(f->name));
	strbuf_puts(sb, ",\"size\":");
	strbuf_json_int(sb, f->size);
	strbuf_puts(sb, ",\"sha256\":");
	strbuf_json_str(sb, f->sha256, strlen(f->sha256));
	strbuf_puts(sb, ",\"sender\":");
	strbuf_json_str(sb, f->sender, strlen(f->sender));
	strbuf_puts(sb, ",\"received\":");
	put_time(sb, f->received_ms);
	strbuf_putc(sb, '}');
}

static int files_cb(void *ctx, const struct store_file *f)
{
	struct list_ctx *c = ctx;

	if (c->n++)
		strbuf_putc(c->sb, ',');
	put_file_json(c->sb, f);
	return c->sb->failed;
}

static void get_files(struct route *rt, struct reply *r)
{
	struct list_ctx c = {&r->body, 0, NULL};
	int rc;

	strbuf_puts(&r->body, "{\"files\":[");
	rc = store_list_files(rt->s, rt->utility, files_cb, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "");
		return;
	}
	strbuf_puts(&r->body, "]}");
	r->status = 200;
}

/* Nonzero when the Accept header names type (media ranges compared without
 * parameters, ASCII case ignored; "*" ranges do not count: sealing is only
 * ever given when asked for by name). */
static int accepts(struct MHD_Connection *conn, const char *type)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	size_t tl = strlen(type);

	while (h && *h) {
		size_t n;
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		n = strcspn(h, ",;");
		while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(h, type, tl) == 0)
			return 1;
		h += strcspn(h, ",");
	}
	return 0;
}

struct file_ctx {
	struct reply *r;
	char name[256];
	int64_t size;
	const void *content; /* borrowed inside the callback only */
	size_t len;
	int copy;            /* 1: copy the content into the body */
	void *dup;           /* 0: keep a malloc'ed copy here (for sealing) */
};

static int file_meta_cb(void *ctx, const struct store_file *f)
{
	struct file_ctx *c = ctx;

	snprintf(c->name, sizeof c->name, "%s", f->name);
	c->size = f->size;
	return 0;
}

static void file_content_cb(void *ctx, const void *data, size_t len)
{
	struct file_ctx *c = ctx;

	if (c->copy) {
		strbuf_append(&c->r->body, data, len);
		return;
	}
	c->dup = malloc(len ? len : 1);
	if (c->dup) {
		memcpy(c->dup, data, len);
		c->len = len;
	}
}

/* Content-Disposition with the stored (untrusted) name: RFC 6266 / 8187,
 * percent-encoding everything but unreserved ASCII. */
static void disposition(struct reply *r, const char *name, const char *suffix)
{
	size_t o = 0;
	int n = snprintf(r->h2val, sizeof r->h2val, "attachment; filename*=UTF-8''");

	o = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < sizeof r->h2val;
	     p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~')
			r->h2val[o++] = (char)*p;
		else
			o += (size_t)snprintf(r->h2val + o, sizeof r->h2val - o, "%%%02X", *p);
	}
	snprintf(r->h2val + o, sizeof r->h2val - o, "%s", suffix);
	r->h2name = "Content-Disposition";
}

static void get_file(struct route *rt, struct reply *r)
{
	struct file_ctx c = {r, "", 0, NULL, 0, 1, NULL};
	int sealed = accepts(rt->conn, ZIP_TYPE);
	void *zip = NULL;
	size_t ziplen = 0;
	char err[256];
	int rc;

	if (sealed && (!rt->app->sender_pub || !rt->a->cfg->platform_pkey)) {
		reply_error(r, 406, "not_acceptable", rt->app->no_seal ? rt->app->no_seal
								      : "No sealed answers.");
		return;
	}
	c.copy = !sealed;
	rc = store_get_file(rt->s, rt->utility, rt->item, file_meta_cb, file_content_cb, NULL, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "No such file.");
		free(c.dup);
		return;
	}
	if (!sealed) {
		r->ctype = FILE_TYPE;
		disposition(r, c.name, "");
		r->status = 200;
		return;
	}
	if (!c.dup) {
		reply_error(r, 500, "internal", "Out of memory.");
		return;
	}
	/* sealed in the file format for the caller, signed by the platform */
	rc = fileseal_seal(c.dup, c.len, c.name, rt->a->cfg->platform_pkey, rt->app->sender_pub,
			   256, &zip, &ziplen, err, sizeof err);
	OPENSSL_cleanse(c.dup, c.len);
	free(c.dup);
	if (rc != SUIDO_OK) {
		log_warn("api", "sealing file %s failed: %s", rt->item, err);
		reply_error(r, 500, "internal", "The file could not be sealed.");
		return;
	}
	strbuf_append(&r->body, zip, ziplen);
	free(zip);
	r->ctype = ZIP_TYPE;
	disposition(r, c.name, ".zip");
	r->status = 200;
}

/* POST .../files: an application deposits a sealed file (files.h). */
static void post_file(struct route *rt, struct reply *r)
{
	const struct api_app *t = rt->app;
	struct files_deposit d;
	char sender[128], why[300];
	int rc;

	if (!t->sender_pub || !rt->a->cfg->platform_pkey) {
		reply_error(r, 403, "forbidden", t->no_seal
				 ? t->no_seal
				 : "Only a registered application with a data-protection "
				   "certificate may deposit files.");
		return;
	}
	if (rt->rq->body.failed) {
		char msg[160];
		snprintf(msg, sizeof msg, "A deposited file may hold at most %zu bytes.",
			 rt->a->cfg->files_max_bytes);
		reply_error(r, 413, "payload_too_large", msg);
		return;
	}
	snprintf(sender, sizeof sender, "application:%s", t->id);
	if ((rc = store_begin(rt->s)) != SUIDO_OK) {
		reply_store_error(r, rc, "");
		return;
	}
	rc = files_deposit(rt->s, rt->utility, sender, rt->a->cfg->platform_pkey, t->sender_pub,
			   rt->rq->body.data, rt->rq->body.len, rt->a->cfg->files_max_bytes,
			   timeutil_now_ms(), &d, why, sizeof why);
	if (rc == SUIDO_OK && (rc = store_commit(rt->s)) == SUIDO_OK) {
		struct store_file f = {d.id, d.name, d.size, d.sha256, sender, 0};
		if (!d.duplicate)
			metrics_add(rt->a->m, MET_FILES_STORED, 1);
		log_info("api", "file %s (%s, %lld bytes) %s by application %s for %s", d.id, d.name,
			 (long long)d.size, d.duplicate ? "deposited again" : "deposited",
			 t->id, rt->utility);
		strbuf_puts(&r->body, "{\"id\":");
		strbuf_json_str(&r->body, f.id, strlen(f.id));
		strbuf_puts(&r->body, ",\"name\":");
		strbuf_json_str(&r->body, f.name, strlen(f.name));
		strbuf_puts(&r->body, ",\"size\":");
		strbuf_json_int(&r->body, f.size);
		strbuf_puts(&r->body, ",\"sha256\":");
		strbuf_json_str(&r->body, f.sha256, strlen(f.sha256));
		strbuf_printf(&r->body, ",\"duplicate\":%s}", d.duplicate ? "true" : "false");
		r->status = d.duplicate ? 200 : 201;
		return;
	}
	store_rollback(rt->s);
	switch (rc) {
	case SUIDO_ERR_LIMIT: {
		char msg[160];
		log_warn("api", "file from application %s refused: %s", t->id, why);
		snprintf(msg, sizeof msg, "A deposited file may hold at most %zu bytes.",
			 rt->a->cfg->files_max_bytes);
		reply_error(r, 413, "payload_too_large", msg);
		break;
	}
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_DECRYPT:
	case SUIDO_ERR_SIGNATURE:
		/* One answer for every failure to open: telling a bad padding from
		 * a bad signature would be a CBC padding oracle. */
		log_warn("api", "file from application %s refused: %s: %s", t->id,
			 suido_strerror(rc), why);
		reply_error(r, 400, "bad_file", "The sealed file could not be opened and verified "
			    "(file format of docs/protocol-file.md, sealed for the platform and "
			    "signed with the application's registered key).");
		break;
	default:
		reply_store_error(r, rc, "");
	}
}

/* ---- gateway monitoring (docs/api.md "Gateways") ---- */

static void put_ms_or_null(struct strbuf *sb, int64_t ms)
{
	if (ms)
		put_time(sb, ms);
	else
		strbuf_puts(sb, "null");
}

static int gateway_cb(void *ctx, const struct monitor_view *v)
{
	struct list_ctx *c = ctx;
	struct strbuf *sb = c->sb;
	const char *st = monitor_state_name(v->state);

	strbuf_puts(sb, c->n++ ? ",{\"id\":" : "{\"id\":");
	strbuf_json_str(sb, v->gateway, strlen(v->gateway));
	strbuf_puts(sb, ",\"state\":");
	strbuf_json_str(sb, st, strlen(st));
	strbuf_puts(sb, ",\"since\":");
	put_time(sb, v->since);
	strbuf_printf(sb, ",\"connected\":%s,\"sending\":%s,\"interval_s\":%u,\"last_seen\":",
		      v->connected ? "true" : "false", v->sending ? "true" : "false",
		      v->interval_s);
	put_ms_or_null(sb, v->last_seen);
	strbuf_puts(sb, ",\"last_data\":");
	put_ms_or_null(sb, v->last_data);
	strbuf_puts(sb, ",\"last_health\":");
	put_ms_or_null(sb, v->last_health);
	/* the report as verified: a JSON object checked when it arrived */
	strbuf_puts(sb, ",\"health\":");
	strbuf_puts(sb, *v->health ? v->health : "null");
	strbuf_putc(sb, '}');
	return sb->failed;
}

static void get_gateways(struct route *rt, struct reply *r)
{
	struct list_ctx c = {&r->body, 0, NULL};

	if (!rt->a->cfg->monitor) {
		reply_error(r, 404, "not_found", "Gateway monitoring is not enabled.");
		return;
	}
	strbuf_puts(&r->body, "{\"gateways\":[");
	if (monitor_each(rt->a->cfg->monitor, rt->utility, gateway_cb, &c) != SUIDO_OK) {
		reply_error(r, 500, "internal", "Out of memory.");
		return;
	}
	strbuf_puts(&r->body, "]}");
	r->status = 200;
}

static int event_cb(void *ctx, const struct store_gateway_event *e)
{
	struct list_ctx *c = ctx;
	struct strbuf *sb = c->sb;

	strbuf_puts(sb, c->n++ ? ",{\"t\":" : "{\"t\":");
	put_time(sb, e->t_ms);
	strbuf_puts(sb, ",\"from\":");
	strbuf_json_str(sb, e->from, strlen(e->from));
	strbuf_puts(sb, ",\"to\":");
	strbuf_json_str(sb, e->to, strlen(e->to));
	strbuf_puts(sb, ",\"reason\":");
	strbuf_json_str(sb, e->reason, strlen(e->reason));
	strbuf_putc(sb, '}');
	return sb->failed;
}

static void get_gateway_events(struct route *rt, struct reply *r)
{
	const struct plat_config *pc = rt->a->cfg->platform;
	const struct plat_gateway *gw = pc ? plat_config_gateway(pc, rt->item) : NULL;
	struct list_ctx c = {&r->body, 0, NULL};
	int64_t limit = 100;
	int rc;

	if (!gw || strcmp(gw->utility, rt->utility) != 0) {
		reply_error(r, 404, "not_found", "No such gateway.");
		return;
	}
	if ((rc = param_int(rt->conn, "limit", &limit, r)) < 0)
		return;
	if (limit < 1 || limit > 10000) {
		reply_error(r, 400, "bad_request", "limit must be between 1 and 10000.");
		return;
	}
	strbuf_puts(&r->body, "{\"events\":[");
	rc = store_list_gateway_events(rt->s, rt->utility, rt->item, (size_t)limit, event_cb, &c);
	if (rc != SUIDO_OK) {
		reply_store_error(r, rc, "");
		return;
	}
	strbuf_puts(&r->body, "]}");
	r->status = 200;
}

/* ---- the operator's commands: POST /admin/v1/gateways/{id}/commands ---- */

/* Nonzero when path[0..n) is exactly p or p followed by "/". */
static int path_is(const char *path, size_t n, const char *p, int subtree)
{
	size_t pl = strlen(p);

	if (n < pl || memcmp(path, p, pl) != 0)
		return 0;
	return n == pl || (subtree && path[pl] == '/');
}

static void serve_admin(struct api *a, struct MHD_Connection *conn, struct req *rq,
			const char *path, size_t plen, struct reply *r)
{
	const char *pre = "/admin/v1/gateways/";
	const struct plat_gateway *gw;
	char gwid[PROFILE_NAME_MAX + 1], err[200];
	unsigned char md[32];
	size_t pl = strlen(pre), idlen;
	enum auth_result auth;
	struct command c;
	json_t *j = NULL;
	json_error_t je;
	int kind;

	if (!a->cfg->commands || !a->cfg->has_admin_token || !a->cfg->platform) {
		reply_error(r, 404, "not_found", "No such resource.");
		return;
	}
	auth = bearer_sha256(conn, md);
	if (auth == AUTH_NONE) {
		reply_error(r, 401, "unauthorized", "The admin bearer token is required.");
		r->hname = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
		r->hval = REALM;
		return;
	}
	if (auth == AUTH_ERROR) {
		reply_error(r, 500, "internal", "The token could not be checked.");
		return;
	}
	if (auth != AUTH_OK || CRYPTO_memcmp(md, a->cfg->admin_token_sha256, 32) != 0) {
		reply_error(r, 401, "invalid_token", "The bearer token is not valid.");
		r->hname = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
		r->hval = REALM ", error=\"invalid_token\"";
		return;
	}
	if (path_is(path, plen, "/admin/v1/oidc/rotate-keys", 0)) {
		struct oidc *oidc = __atomic_load_n(&a->oidc, __ATOMIC_ACQUIRE);
		if (!rq || !rq->is_post) {
			reply_error(r, 405, "method_not_allowed", "Key rotation is POSTed.");
			r->hname = MHD_HTTP_HEADER_ALLOW;
			r->hval = "POST";
		} else if (!oidc || oidc_rotate(oidc, timeutil_now_ms(), err, sizeof err) !=
					     SUIDO_OK) {
			reply_error(r, 409, "conflict", oidc ? err : "Starting.");
		} else {
			log_info("api", "admin: the provider's signing key was rotated");
			r->status = 200;
			strbuf_puts(&r->body, "{\"rotated\":true}");
		}
		return;
	}
	/* /admin/v1/gateways/{id}/commands, the id as it is (gateway ids need no escapes) */
	if (plen <= pl || memcmp(path, pre, pl) != 0 ||
	    (idlen = strcspn(path + pl, "/")) == 0 || idlen > PROFILE_NAME_MAX ||
	    plen != pl + idlen + strlen("/commands") ||
	    memcmp(path + pl + idlen, "/commands", 9) != 0) {
		reply_error(r, 404, "not_found", "No such resource.");
		return;
	}
	memcpy(gwid, path + pl, idlen);
	gwid[idlen] = '\0';
	if (!rq || !rq->is_post) {
		reply_error(r, 405, "method_not_allowed", "Commands are POSTed.");
		r->hname = MHD_HTTP_HEADER_ALLOW;
		r->hval = "POST";
		return;
	}
	if (!(gw = plat_config_gateway(a->cfg->platform, gwid))) {
		reply_error(r, 404, "not_found", "No such gateway.");
		return;
	}
	j = rq->body.failed ? NULL
			    : json_loadb(rq->body.data ? rq->body.data : "", rq->body.len,
					 JSON_REJECT_DUPLICATES, &je);
	memset(&c, 0, sizeof c);
	if (!j || !json_is_object(j) || !json_is_string(json_object_get(j, "command")) ||
	    (kind = command_parse_kind(json_string_value(json_object_get(j, "command")))) < 0) {
		json_decref(j);
		reply_error(r, 400, "bad_request", "Expected {\"command\": \"start\" | \"stop\" | "
			    "\"resend\", ...} (docs/api.md).");
		return;
	}
	c.kind = (enum command_kind)kind;
	snprintf(c.utility, sizeof c.utility, "%s", gw->utility);
	snprintf(c.gateway, sizeof c.gateway, "%s", gw->id);
	snprintf(c.reason, sizeof c.reason, "admin");
	c.interval_s = json_is_integer(json_object_get(j, "interval_s"))
			       ? (unsigned)json_integer_value(json_object_get(j, "interval_s"))
			       : gw->interval_s;
	if (json_is_integer(json_object_get(j, "from_seq")))
		c.from_seq = (uint64_t)json_integer_value(json_object_get(j, "from_seq"));
	if (json_is_integer(json_object_get(j, "to_seq")))
		c.to_seq = (uint64_t)json_integer_value(json_object_get(j, "to_seq"));
	json_decref(j);
	if (command_post(a->cfg->commands, &c, err, sizeof err) != SUIDO_OK) {
		reply_error(r, 400, "bad_request", err);
		return;
	}
	log_info("api", "admin: %s queued for gateway %s", command_kind_name(c.kind), c.gateway);
	strbuf_puts(&r->body, "{\"gateway\":");
	strbuf_json_str(&r->body, c.gateway, strlen(c.gateway));
	strbuf_printf(&r->body, ",\"command\":\"%s\",\"queued\":true}", command_kind_name(c.kind));
	r->status = 202;
}

/* Seals a JSON answer for the calling application (Accept: application/jose). */
static void seal_reply(struct route *rt, struct reply *r)
{
	char *jwe = NULL, err[256];
	size_t len = 0;
	char *plain = strbuf_steal(&r->body, &len);
	int rc = jose_seal(plain ? plain : "", len, rt->a->cfg->platform_key, SEAL_KID,
			   rt->app->seal_to, BODY_LIMIT, &jwe, err, sizeof err);

	free(plain);
	if (rc != SUIDO_OK) {
		log_warn("api", "sealing an answer failed: %s", err);
		reply_error(r, 500, "internal", "The answer could not be sealed.");
		return;
	}
	strbuf_reset(&r->body);
	strbuf_puts(&r->body, jwe);
	free(jwe);
	r->ctype = JOSE_TYPE;
}

/* The application's keys for sealing, or a stand-in without any. */
static const struct api_app *find_app(const struct api *a, const char *client)
{
	static const struct api_app none = {
		"", NULL, NULL,
		"Sealed answers and deposits need a registered data-protection certificate "
		"([application ID] certificate)."};

	for (size_t i = 0; i < a->cfg->n_apps; i++)
		if (strcmp(a->cfg->apps[i].id, client) == 0)
			return &a->cfg->apps[i];
	return &none;
}

/* RFC 6750 3: 401 without a usable token, 403 for a valid one without the right. */
static void bearer_refuse(struct reply *r, unsigned status, const char *error, const char *msg)
{
	reply_error(r, status, error ? error : "unauthorized", msg);
	r->hname = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
	if (!error)
		r->hval = REALM;
	else if (strcmp(error, "insufficient_scope") == 0)
		r->hval = REALM ", error=\"insufficient_scope\", scope=\"ap.read\"";
	else
		r->hval = REALM ", error=\"invalid_token\"";
}

/* The facility of an item, for a grant scoped by facility. */
struct facility_ctx {
	char facility[256];
};

static int facility_cb(void *ctx, const struct store_item *it)
{
	struct facility_ctx *c = ctx;

	snprintf(c->facility, sizeof c->facility, "%s", it->facility);
	return 0;
}

/* Serves /ap/v1/...: authenticates the token, decodes the path, checks the
 * grant of the utility (and the item's scope), then routes. path excludes
 * the query string. */
static void serve_ap(struct api *a, struct MHD_Connection *conn, struct req *rq,
		     const char *path, size_t plen, struct reply *r, struct access *acc)
{
	char buf[URL_MAX + 1];
	char *seg[MAX_SEGMENTS];
	size_t nseg = 0, o = 0, tlen = 0;
	struct route rt = {a, conn, NULL, NULL, NULL, NULL, NULL, NULL};
	void (*handler)(struct route *rt, struct reply *r);
	struct oidc *oidc = __atomic_load_n(&a->oidc, __ATOMIC_ACQUIRE);
	struct oidc_principal who;
	enum jwt_reason why = JWT_VALID;
	enum oidc_refusal ref;
	struct reg_grant *grant = NULL;
	struct reg_scope *scope = NULL;
	const char *tok = NULL;
	int post = 0, jose, rc;

	if (!oidc || !a->cfg->registry) {
		reply_error(r, 503, "unavailable", "Starting; try again in a moment.");
		return;
	}
	rc = http_bearer(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_AUTHORIZATION),
			 &tok, &tlen);
	if (rc == SUIDO_ERR_NOTFOUND) {
		bearer_refuse(r, 401, NULL, "A bearer token is required.");
		return;
	}
	if (rc != SUIDO_OK || tlen > TOKEN_MAX) {
		bearer_refuse(r, 401, "invalid_token", "The bearer token is malformed.");
		return;
	}
	ref = oidc_check_access_token(oidc, tok, tlen, timeutil_now_ms(), &who, &why);
	/* a verified token names its caller even when refused after (revoked) */
	snprintf(acc->client, sizeof acc->client, "%s", who.client);
	snprintf(acc->user, sizeof acc->user, "%s", who.user);
	if (ref != OIDC_TOKEN_OK) {
		char msg[160];
		snprintf(msg, sizeof msg, "The access token is not valid: %s.",
			 ref == OIDC_TOKEN_INVALID       ? jwt_reason_text(why)
			 : ref == OIDC_TOKEN_NO_CLIENT   ? "it names no client"
			 : ref == OIDC_TOKEN_APP_REVOKED ? "the application is revoked"
							 : "the user is disabled");
		bearer_refuse(r, 401, "invalid_token", msg);
		return;
	}
	if (!oidc_scope_has(who.scope, "ap.read")) {
		bearer_refuse(r, 403, "insufficient_scope", "The token lacks the ap.read scope.");
		return;
	}
	/* Split on "/" first, then decode each segment: "%2F" stays inside one. */
	assert(plen <= URL_MAX && path[0] == '/');
	for (size_t i = 1; i <= plen; i++) {
		size_t b = i;
		while (i < plen && path[i] != '/')
			i++;
		if (nseg == MAX_SEGMENTS)
			goto not_found;
		if (pct_decode(path + b, i - b, buf + o) < 0) {
			reply_error(r, 400, "bad_request", "The path has a malformed percent-escape.");
			return;
		}
		seg[nseg++] = buf + o;
		o += strlen(buf + o) + 1;
	}
	/* seg: ap v1 utilities {u} ... */
	if (nseg < 4 || strcmp(seg[2], "utilities") != 0 || !*seg[3])
		goto not_found;
	for (size_t i = 4; i < nseg; i++)
		if (!*seg[i])
			goto not_found;
	snprintf(acc->utility, sizeof acc->utility, "%s", seg[3]);
	if (who.user[0] && strcmp(who.tenant, seg[3]) != 0) {
		bearer_refuse(r, 403, "insufficient_scope",
			      "The signed-in user does not belong to this utility.");
		return;
	}
	grant = malloc(sizeof *grant);
	if (!grant) {
		reply_error(r, 500, "internal", "Out of memory.");
		return;
	}
	if (registry_grant_get(a->cfg->registry, who.client, seg[3], grant) != SUIDO_OK) {
		bearer_refuse(r, 403, "insufficient_scope",
			      "The application has no grant of this utility's data.");
		goto out;
	}
	/* parsed once for the request: a list tests every item against it */
	if (!(scope = registry_scope_parse(grant->scope))) {
		reply_error(r, 500, "internal", "The grant's scope cannot be read.");
		goto out;
	}
	rt.scope = registry_scope_all(scope) ? NULL : scope;
	rt.utility = seg[3];
	rt.app = find_app(a, who.client);
	rt.rq = rq;
	post = rq && rq->is_post;
	if (nseg == 5 && strcmp(seg[4], "files") == 0)
		handler = post ? post_file : get_files;
	else if (post)
		goto not_allowed;
	else if (nseg == 6 && strcmp(seg[4], "files") == 0)
		handler = get_file;
	else if (nseg == 5 && strcmp(seg[4], "gateways") == 0)
		handler = get_gateways;
	else if (nseg == 7 && strcmp(seg[4], "gateways") == 0 && strcmp(seg[6], "events") == 0)
		handler = get_gateway_events;
	else if (nseg == 5 && strcmp(seg[4], "items") == 0)
		handler = get_items;
	else if (nseg == 5 && strcmp(seg[4], "latest") == 0)
		handler = get_utility_latest;
	else if (nseg == 6 && strcmp(seg[4], "items") == 0)
		handler = get_item;
	else if (nseg == 7 && strcmp(seg[4], "items") == 0 && strcmp(seg[6], "values") == 0)
		handler = get_values;
	else if (nseg == 7 && strcmp(seg[4], "items") == 0 && strcmp(seg[6], "latest") == 0)
		handler = get_latest;
	else if (nseg == 7 && strcmp(seg[4], "items") == 0 && strcmp(seg[6], "aggregate") == 0)
		handler = get_aggregate;
	else
		goto not_found;
	if (nseg >= 6)
		rt.item = seg[5];
	if (rt.scope && (strcmp(seg[4], "files") == 0 || strcmp(seg[4], "gateways") == 0)) {
		bearer_refuse(r, 403, "insufficient_scope",
			      "Files and gateways need a grant of all the utility's items.");
		goto out;
	}
	/* A sealed answer is given only when asked for, and only to a caller
	 * with a registered certificate: 406 before any data is read. Files are
	 * sealed in the file format instead (Accept: application/zip). */
	jose = !post && handler != get_file && accepts(conn, JOSE_TYPE);
	if (jose && (!rt.app->seal_to || !a->cfg->platform_key)) {
		reply_error(r, 406, "not_acceptable", rt.app->no_seal);
		goto out;
	}
	rt.s = thread_store(a);
	if (!rt.s) {
		reply_error(r, 503, "unavailable", "The store is not available; try again later.");
		goto out;
	}
	if (rt.scope && rt.item && strcmp(seg[4], "items") == 0) {
		struct facility_ctx fc = {""};
		rc = store_get_item(rt.s, rt.utility, rt.item, facility_cb, &fc);
		/* An id the scope does not name answers 403 whether or not the item
		 * exists: a 404 would tell a restricted application which ids the
		 * utility has outside its grant. */
		if (rc == SUIDO_ERR_NOTFOUND && !registry_scope_has(rt.scope, rt.item, "")) {
			bearer_refuse(r, 403, "insufficient_scope",
				      "The grant does not cover this item.");
			goto out;
		}
		if (rc != SUIDO_OK) {
			reply_store_error(r, rc, "No such item.");
			goto out;
		}
		if (!registry_scope_has(rt.scope, rt.item, fc.facility)) {
			bearer_refuse(r, 403, "insufficient_scope",
				      "The grant does not cover this item.");
			goto out;
		}
	}
	handler(&rt, r);
	if (jose && r->status == 200)
		seal_reply(&rt, r);
	goto out;
not_found:
	reply_error(r, 404, "not_found", "No such resource.");
	goto out;
not_allowed:
	reply_error(r, 405, "method_not_allowed", "POST is served on .../files only.");
	r->hname = MHD_HTTP_HEADER_ALLOW;
	r->hval = "GET, HEAD";
out:
	registry_scope_free(scope);
	free(grant);
}

/* One line of the access log: {"t":..,"client":..,"user":..,"utility":..,
 * "method":..,"path":..,"status":..}. One write(2) on an O_APPEND file. */
static void access_log(struct api *a, const char *method, const char *path, size_t plen,
		       const struct access *acc, unsigned status)
{
	struct strbuf sb = STRBUF_INIT;
	char t[32];
	size_t tn;

	if (a->access_fd < 0)
		return;
	sb.limit = 8192;
	tn = timeutil_format_utc(timeutil_now_ms(), t);
	strbuf_puts(&sb, "{\"t\":");
	strbuf_json_str(&sb, t, tn);
	strbuf_puts(&sb, ",\"client\":");
	strbuf_json_str(&sb, acc->client, strlen(acc->client));
	strbuf_puts(&sb, ",\"user\":");
	strbuf_json_str(&sb, acc->user, strlen(acc->user));
	strbuf_puts(&sb, ",\"utility\":");
	strbuf_json_str(&sb, acc->utility, strlen(acc->utility));
	strbuf_puts(&sb, ",\"method\":");
	strbuf_json_str(&sb, method, strlen(method));
	strbuf_puts(&sb, ",\"path\":");
	strbuf_json_str(&sb, path, plen > 1024 ? 1024 : plen);
	strbuf_printf(&sb, ",\"status\":%u}\n", status);
	if (!sb.failed && write(a->access_fd, sb.data, sb.len) != (ssize_t)sb.len)
		log_warn("api", "access log: write failed: %s", strerror(errno));
	strbuf_free(&sb);
}


/* The client's address as text. */
static void client_address(struct MHD_Connection *conn, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, outlen, "0.0.0.0");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)outlen);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)outlen);
}

/* Sends a module's answer (http.h) with the headers every answer gets. */
static enum MHD_Result send_module_reply(struct api *a, struct MHD_Connection *conn,
					 struct http_response *hr)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = 0;
	char *data;
	int ok;

	if (hr->body.failed || hr->status == 0) {
		strbuf_free(&hr->body);
		http_error(hr, 500, "internal", "The answer could not be built.");
		hr->n_headers = 0;
	}
	data = strbuf_steal(&hr->body, &len);
	resp = MHD_create_response_from_buffer(len, data ? data : (char *)"",
					       data ? MHD_RESPMEM_MUST_FREE
						    : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				     hr->ctype ? hr->ctype : JSON_TYPE) == MHD_YES &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES &&
	     MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES;
	for (size_t i = 0; ok && i < hr->n_headers; i++)
		ok = MHD_add_response_header(resp, hr->headers[i].name, hr->headers[i].value) ==
		     MHD_YES;
	if (!ok) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, hr->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		count(a, hr->status);
	return ret;
}

/* The admin API's caller: the operator's token, or a signed-in user's
 * access token; NULL when neither. */
static const struct admin_principal *admin_caller(struct api *a, struct oidc *oidc,
						  const char *authz, struct admin_principal *p)
{
	const char *tok;
	size_t len;
	unsigned int mdlen = 0;
	unsigned char md[32];
	struct oidc_principal who;
	enum jwt_reason why;
	int is_operator;

	memset(p, 0, sizeof *p);
	if (http_bearer(authz, &tok, &len) != SUIDO_OK || len > TOKEN_MAX)
		return NULL;
	if (EVP_Digest(tok, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return NULL;
	is_operator = a->cfg->has_admin_token &&
		      CRYPTO_memcmp(md, a->cfg->admin_token_sha256, sizeof md) == 0;
	OPENSSL_cleanse(md, sizeof md);
	if (is_operator) {
		p->kind = ADMIN_OPERATOR;
		snprintf(p->login, sizeof p->login, "operator");
		return p;
	}
	/* a user acts on the admin API only through a first-party client (the
	 * operator's portal, [admin] clients): a vendor's application holding a
	 * signed-in administrator's token must not gain the administrator's powers */
	if (oidc_check_access_token(oidc, tok, len, timeutil_now_ms(), &who, &why) !=
		    OIDC_TOKEN_OK ||
	    !who.user[0] || !oidc_is_admin_client(oidc, who.client))
		return NULL;
	/* the admin module reads the user's role (and more) itself */
	p->kind = ADMIN_USER;
	snprintf(p->login, sizeof p->login, "%s", who.user);
	snprintf(p->tenant, sizeof p->tenant, "%s", who.tenant);
	return p;
}

/* Serves a path of the OpenID provider or the admin API. */
static enum MHD_Result serve_module(struct api *a, struct MHD_Connection *conn,
				    struct req *rq, const char *method, const char *path,
				    size_t plen)
{
	struct oidc *oidc = __atomic_load_n(&a->oidc, __ATOMIC_ACQUIRE);
	struct admin *admin = __atomic_load_n(&a->admin, __ATOMIC_ACQUIRE);
	struct http_response hr;
	struct admin_principal p;
	char source[INET6_ADDRSTRLEN + 1];
	struct http_request hq;
	enum MHD_Result ret;

	http_response_init(&hr);
	memset(&hq, 0, sizeof hq);
	client_address(conn, source, sizeof source);
	hq.method = method;
	hq.path = path;
	hq.path_len = plen;
	hq.query = path[plen] == '?' ? path + plen + 1 : "";
	hq.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_TYPE);
	hq.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION);
	hq.cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
	hq.accept_language = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
	hq.source = source;
	hq.body = rq->is_post ? (rq->body.data ? rq->body.data : "") : NULL;
	hq.body_len = rq->is_post ? rq->body.len : 0;
	hq.now_ms = timeutil_now_ms();
	if (!oidc || !admin) {
		http_error(&hr, 503, "unavailable", "Starting; try again in a moment.");
	} else if (rq->is_post && rq->body.failed) {
		http_error(&hr, 413, "payload_too_large", "The request body is too large.");
	} else if (oidc_owns(path, plen)) {
		oidc_handle(oidc, &hq, &hr);
	} else {
		admin_handle(admin, admin_caller(a, oidc, hq.authorization, &p), &hq, &hr);
	}
	ret = send_module_reply(a, conn, &hr);
	http_response_free(&hr);
	return ret;
}

static int is_method(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct req *rq = *con_cls;
	struct reply r;
	const char *path;
	size_t plen;
	int admin_path, module;

	if (rq && rq->answered) {
		*upload_data_size = 0; /* a body we do not read */
		return MHD_YES;
	}
	reply_init(&r);
	if (!rq) {
		reply_error(&r, 500, "internal", "Out of memory.");
		return send_reply(a, conn, &r);
	}
	path = rq->uri;
	plen = strcspn(path, "?#");
	/* the admin module, except the operator's gateway commands and key
	 * rotation, which this file serves */
	admin_path = !rq->too_long && path_is(path, plen, "/admin/v1", 1) &&
		     !(path_is(path, plen, "/admin/v1/gateways", 1) && plen > 9 &&
		       memcmp(path + plen - 9, "/commands", 9) == 0) &&
		     !path_is(path, plen, "/admin/v1/oidc/rotate-keys", 0);
	module = admin_path || (!rq->too_long && oidc_owns(path, plen));
	if (!is_method(method, MHD_HTTP_METHOD_GET) && !is_method(method, MHD_HTTP_METHOD_HEAD) &&
	    !is_method(method, MHD_HTTP_METHOD_POST) &&
	    !(admin_path && (is_method(method, MHD_HTTP_METHOD_PUT) ||
			     is_method(method, MHD_HTTP_METHOD_PATCH) ||
			     is_method(method, MHD_HTTP_METHOD_DELETE)))) {
		/* Answered before any body is read; libmicrohttpd then closes. */
		rq->answered = 1;
		reply_error(&r, 405, "method_not_allowed",
			    admin_path ? "GET, HEAD, POST, PUT, PATCH and DELETE are served here."
				       : "Only GET, HEAD and POST are served.");
		r.hname = MHD_HTTP_HEADER_ALLOW;
		r.hval = admin_path ? "GET, HEAD, POST, PUT, PATCH, DELETE" : "GET, HEAD, POST";
		return send_reply(a, conn, &r);
	}
	/* The first call comes with the headers; answering only once the whole
	 * request is read keeps the connection reusable. A body sent with a GET
	 * is skipped, up to a cap: a declared larger one is refused at once, a
	 * chunked one that grows past it loses the connection (no answer can be
	 * queued while a body is arriving). */
	if (!rq->headers_seen) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		rq->headers_seen = 1;
		if (module && !is_method(method, MHD_HTTP_METHOD_GET) &&
		    !is_method(method, MHD_HTTP_METHOD_HEAD)) {
			/* a form or JSON body for the provider or the admin API */
			rq->is_post = 1;
			rq->module_body = 1;
			rq->body.limit = HTTP_FORM_BODY_MAX;
			if (cl && strtoull(cl, NULL, 10) > HTTP_FORM_BODY_MAX) {
				rq->answered = 1;
				reply_error(&r, 413, "payload_too_large",
					    "The request body is too large.");
				return send_reply(a, conn, &r);
			}
			return MHD_YES;
		}
		if (is_method(method, MHD_HTTP_METHOD_POST)) {
			/* A deposit: kept up to the cap; a declared larger one is
			 * refused before a byte is read. */
			size_t cap = a->cfg->files_max_bytes + FILE_OVERHEAD;
			rq->is_post = 1;
			rq->body.limit = cap;
			/* each deposit being received may hold up to cap bytes: only a
			 * few at once, the others are told to come back */
			if (__atomic_add_fetch(&a->posts, 1, __ATOMIC_SEQ_CST) > POSTS_MAX) {
				__atomic_sub_fetch(&a->posts, 1, __ATOMIC_SEQ_CST);
				rq->answered = 1;
				reply_error(&r, 503, "busy", "Too many deposits at once; retry later.");
				r.hname = "Retry-After";
				r.hval = "5";
				return send_reply(a, conn, &r);
			}
			rq->counted = 1;
			if (cl && strtoull(cl, NULL, 10) > cap) {
				char msg[160];
				rq->answered = 1;
				snprintf(msg, sizeof msg, "A deposited file may hold at most %zu "
					 "bytes.", a->cfg->files_max_bytes);
				reply_error(&r, 413, "payload_too_large", msg);
				return send_reply(a, conn, &r);
			}
			return MHD_YES;
		}
		if (cl && strtoull(cl, NULL, 10) > GET_BODY_MAX) {
			rq->answered = 1;
			reply_error(&r, 413, "payload_too_large", "A GET request takes no body.");
			return send_reply(a, conn, &r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		rq->body_bytes += *upload_data_size;
		if (rq->is_post) {
			/* past the cap the buffer fails and stays failed: 413 at the end
			 * (a chunked body that grows far past it loses the connection) */
			if (!rq->body.failed)
				strbuf_append(&rq->body, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return rq->body_bytes <= 2 * rq->body.limit ? MHD_YES : MHD_NO;
		}
		*upload_data_size = 0;
		return rq->body_bytes <= GET_BODY_MAX ? MHD_YES : MHD_NO;
	}
	rq->answered = 1;
	if (rq->too_long) {
		reply_error(&r, 414, "uri_too_long", "The request target is too long.");
		return send_reply(a, conn, &r);
	}
	if (module)
		return serve_module(a, conn, rq, method, path, plen);
	if (path_is(path, plen, "/ap/v1", 1)) {
		struct access acc;
		memset(&acc, 0, sizeof acc);
		serve_ap(a, conn, rq, path, plen, &r, &acc);
		access_log(a, method, path, plen, &acc, r.status);
	} else if (path_is(path, plen, "/admin/v1", 1)) {
		serve_admin(a, conn, rq, path, plen, &r);
	} else if (path_is(path, plen, "/healthz", 0)) {
		struct store *s = thread_store(a);
		if (!__atomic_load_n(&a->oidc, __ATOMIC_ACQUIRE)) {
			reply_error(&r, 503, "starting", "The OpenID provider is starting.");
		} else if (s) {
			r.status = 200;
			strbuf_puts(&r.body, "{\"status\":\"ok\",\"store\":");
			strbuf_json_str(&r.body, store_backend(s), strlen(store_backend(s)));
			strbuf_putc(&r.body, '}');
		} else {
			reply_error(&r, 503, "unavailable", "The store cannot be opened.");
		}
	} else if (path_is(path, plen, "/metrics", 0)) {
		r.status = 200;
		r.ctype = METRICS_TYPE;
		metrics_render(a->m, &r.body);
		if (a->cfg->monitor)
			monitor_render_metrics(a->cfg->monitor, &r.body);
	} else {
		reply_error(&r, 404, "not_found", "No such resource.");
	}
	if (r.status >= 500)
		log_warn("api", "%s %.*s: %u", method, (int)(plen > 200 ? 200 : plen), path,
			 r.status);
	return send_reply(a, conn, &r);
}

/* Called with the raw request target before libmicrohttpd unescapes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	size_t n = strlen(uri);
	struct req *rq;

	if (n > URL_MAX) {
		rq = calloc(1, sizeof *rq + 1);
		if (rq)
			rq->too_long = 1;
		return rq;
	}
	rq = calloc(1, sizeof *rq + n + 1);
	if (rq)
		memcpy(rq->uri, uri, n + 1);
	return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct req *rq = *con_cls;

	if (rq) {
		if (rq->counted)
			__atomic_sub_fetch(&a->posts, 1, __ATOMIC_SEQ_CST);
		if (rq->body.data)
			OPENSSL_cleanse(rq->body.data, rq->body.len);
		strbuf_free(&rq->body);
	}
	free(rq);
	*con_cls = NULL;
}

/* libmicrohttpd hands its own format strings; they are not ours to check. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							       va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* A client that fails the TLS handshake (a scanner, plain HTTP, an old
	 * protocol, a client that does not trust us) is its own problem, and on
	 * an exposed port there are many: not worth a warning each. */
	if (strstr(msg, "handshake") || strstr(msg, "TLS") || strstr(msg, "tls"))
		log_debug("api", "libmicrohttpd: %s", msg);
	else
		log_warn("api", "libmicrohttpd: %s", msg);
}

static void free_secret(char *buf, size_t len)
{
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
}

/*
 * Reads the PEM file at path (what: "certfile" or "keyfile", for the message)
 * into a malloc'ed NUL-terminated buffer of at most TLS_FILE_MAX bytes; the
 * caller frees it with free_secret(*out, *len + 1). SUIDO_OK, SUIDO_ERR_IO
 * (cannot open or read), SUIDO_ERR_CONFIG (not a regular file, too large, a
 * NUL byte inside) or SUIDO_ERR_NOMEM, with err naming the file; the bytes
 * themselves never reach err or the log.
 */
static int read_tls_file(const char *path, const char *what, char **out, size_t *len,
			 char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0, size = 0;
	int fd, rc = SUIDO_ERR_IO;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		suido_errf(err, errlen, "api: TLS %s %s: %s", what, path, strerror(errno));
		return SUIDO_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		suido_errf(err, errlen, "api: TLS %s %s: %s", what, path, strerror(errno));
		goto done;
	}
	rc = SUIDO_ERR_CONFIG;
	if (!S_ISREG(st.st_mode)) {
		suido_errf(err, errlen, "api: TLS %s %s: not a regular file", what, path);
		goto done;
	}
	if ((uint64_t)st.st_size > TLS_FILE_MAX) {
		suido_errf(err, errlen, "api: TLS %s %s: more than %u bytes", what, path,
			   TLS_FILE_MAX);
		goto done;
	}
	size = (size_t)st.st_size;
	rc = SUIDO_ERR_NOMEM;
	buf = malloc(size + 1);
	if (!buf)
		goto done;
	rc = SUIDO_ERR_IO;
	while (off < size) {
		ssize_t n = read(fd, buf + off, size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			suido_errf(err, errlen, "api: TLS %s %s: %s", what, path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	/* libmicrohttpd takes C strings: a NUL would silently cut the file. */
	if (off == 0 || memchr(buf, '\0', off)) {
		suido_errf(err, errlen, "api: TLS %s %s: %s", what, path,
			   off ? "holds a NUL byte, not PEM" : "empty");
		rc = SUIDO_ERR_CONFIG;
		goto done;
	}
	*out = buf;
	*len = off;
	buf = NULL;
	rc = SUIDO_OK;
done:
	free_secret(buf, size + 1);
	close(fd);
	return rc;
}


int api_start(const struct api_config *cfg, struct metrics *m, struct api **out, char *err,
	      size_t errlen)
{
	struct api *a = NULL;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int ret = SUIDO_ERR_CONFIG, tls = 0, loopback = 0;

	assert(cfg && m && out);
	*out = NULL;
	if (!cfg->listen_addr || cfg->threads < 1 || cfg->page_default < 1 ||
	    cfg->page_max < cfg->page_default || !cfg->store_open ||
	    (cfg->n_apps && !cfg->apps)) {
		suido_errf(err, errlen, "api: invalid configuration (listen address, threads,"
				     " page sizes, store or applications)");
		goto cleanup;
	}
	if (!cfg->tls_certfile != !cfg->tls_keyfile) {
		suido_errf(err, errlen, "api: TLS needs both a certificate file and a key file");
		goto cleanup;
	}
	tls = cfg->tls_certfile != NULL;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		suido_errf(err, errlen, "api: this libmicrohttpd is built without TLS support");
		goto cleanup;
	}
	memset(&sin, 0, sizeof sin);
	memset(&sin6, 0, sizeof sin6);
	if (inet_pton(AF_INET, cfg->listen_addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(cfg->port);
		sa = (struct sockaddr *)&sin;
		loopback = (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, cfg->listen_addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(cfg->port);
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
		loopback = IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr);
	} else {
		suido_errf(err, errlen, "api: listen address %s is not an IP literal",
			cfg->listen_addr);
		goto cleanup;
	}
	ret = SUIDO_ERR_NOMEM;
	a = calloc(1, sizeof *a);
	if (!a)
		goto cleanup;
	a->cfg = cfg;
	a->m = m;
	a->access_fd = -1;
	if (cfg->access_log) {
		a->access_fd = open(cfg->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (a->access_fd < 0) {
			ret = SUIDO_ERR_IO;
			suido_errf(err, errlen, "api: access log %s: %s", cfg->access_log,
				   strerror(errno));
			goto cleanup;
		}
	}
	if (pthread_mutex_init(&a->lock, NULL) != 0)
		goto cleanup;
	a->lock_made = 1;
	if (pthread_key_create(&a->key, NULL) != 0)
		goto cleanup;
	a->key_made = 1;
	if (tls) {
		ret = read_tls_file(cfg->tls_certfile, "certfile", &a->tls_cert, &a->tls_cert_len,
				    err, errlen);
		if (ret == SUIDO_OK)
			ret = read_tls_file(cfg->tls_keyfile, "keyfile", &a->tls_key,
					    &a->tls_key_len, err, errlen);
		if (ret != SUIDO_OK)
			goto cleanup;
		flags |= MHD_USE_TLS;
	}
	{
		/* The logger goes first so that no option is reported elsewhere;
		 * one thread means the polling thread answers by itself. */
		struct MHD_OptionItem opts[16];
		size_t n = 0;

		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
						    (intptr_t)on_mhd_log, a};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, sa};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
						    NULL};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
						    CONN_MEMORY_LIMIT, NULL};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri,
						    a};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
						    (intptr_t)on_completed, a};
		if (cfg->threads > 1)
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
							    (intptr_t)cfg->threads, NULL};
		if (tls) {
			/* libmicrohttpd takes pointers (ptr_value) for these three. */
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
							    (void *)TLS_PRIORITIES};
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
							    a->tls_cert};
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
							    a->tls_key};
		}
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
		assert(n <= sizeof opts / sizeof opts[0]);
		a->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, handle, a,
					     MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	if (!a->daemon) {
		/* With TLS, a certificate or key GnuTLS refuses ends here too; its
		 * reason went to the log through on_mhd_log. */
		suido_errf(err, errlen, "api: cannot %s on %s port %u%s",
			   tls ? "start HTTPS" : "listen", cfg->listen_addr, (unsigned)cfg->port,
			   tls ? " (address in use, or certfile/keyfile refused by GnuTLS: see"
				 " the libmicrohttpd message before this one)"
			       : "");
		ret = SUIDO_ERR_IO;
		goto cleanup;
	}
	info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : cfg->port;
	log_info("api", "listening on %s port %u with %u threads, %s", cfg->listen_addr,
		 (unsigned)a->port, cfg->threads,
		 tls ? "HTTPS (TLS 1.2 and 1.3 only)" : "plain HTTP");
	if (!tls && !loopback)
		log_warn("api", "PLAIN HTTP on %s, which is not loopback: bearer tokens and data "
				"cross the network unencrypted; set [http] certfile and keyfile",
			 cfg->listen_addr);
	*out = a;
	a = NULL;
	ret = SUIDO_OK;
cleanup:
	api_stop(a);
	return ret;
}

uint16_t api_port(const struct api *a)
{
	assert(a);
	return a->port;
}

void api_attach(struct api *a, struct oidc *oidc, struct admin *admin)
{
	__atomic_store_n(&a->admin, admin, __ATOMIC_RELEASE);
	__atomic_store_n(&a->oidc, oidc, __ATOMIC_RELEASE);
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	/* Joins every worker, so no store below is in use any more. */
	if (a->daemon)
		MHD_stop_daemon(a->daemon);
	if (a->access_fd >= 0)
		close(a->access_fd);
	for (size_t i = 0; i < a->n_stores; i++)
		store_close(a->stores[i]);
	free(a->stores);
	if (a->key_made)
		pthread_key_delete(a->key);
	if (a->lock_made)
		pthread_mutex_destroy(&a->lock);
	free_secret(a->tls_key, a->tls_key_len + 1);
	free_secret(a->tls_cert, a->tls_cert_len + 1);
	free(a);
}
