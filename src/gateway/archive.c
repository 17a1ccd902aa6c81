/*
 * Archive files of evacuated messages (archive.h): written whole in memory
 * (bounded by ARCHIVE_MAX_BYTES plus one message, compressed as the lines are
 * made) and made durable through fsutil; read back as a stream with zlib, one
 * line at a time, after the file's SHA-256 was checked against the index.
 */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/hex.h"
#include "suido/log.h"
#include "suido/strbuf.h"

#define FORMAT "suido.archive/1"

/* The file being read by archive_next. */
struct reader {
	gzFile gz;               /* NULL: none open */
	struct queue_archive row;
	uint64_t pos;            /* seq of the last message line consumed, 0: none */
	int64_t lines;           /* message lines read */
	char *buf;
	size_t cap, start, end;
	int eof;
};

struct archive {
	char *dir;
	struct queue *q;
	int64_t epoch;
	int fail_before_index;
	struct reader rd;
};

/* The compressed image of one file being written. */
struct writer {
	z_stream zs;
	unsigned char *z;
	size_t zlen, zcap;
	struct strbuf line;
	size_t payload_bytes;
	char *err;
	size_t errlen;
};

static void reader_close(struct reader *r)
{
	if (r->gz)
		gzclose(r->gz);
	r->gz = NULL;
	r->pos = 0;
	r->lines = 0;
	r->start = r->end = 0;
	r->eof = 0;
}

static int name_parse(const char *name, long long *epoch, unsigned long long *first,
		      unsigned long long *last)
{
	int off = 0;

	if (sscanf(name, "%lld-%llu-%llu.jsonl.gz%n", epoch, first, last, &off) != 3)
		return -1;
	return name[off] == '\0' ? 0 : -1;
}

/* Removes what a crash left: temporary files, and files of our epoch that
 * the index does not know (their messages are still in the queue). */
static int sweep(struct archive *a, char *err, size_t errlen)
{
	DIR *d = opendir(a->dir);
	struct dirent *e;
	int removed = 0, rc = SUIDO_OK;

	if (!d) {
		snprintf(err, errlen, "archive directory %s: %s", a->dir, strerror(errno));
		return SUIDO_ERR_IO;
	}
	while ((e = readdir(d))) {
		long long epoch;
		unsigned long long first, last;
		struct queue_archive row;
		char path[PATH_MAX];
		int orphan = 0;

		if (e->d_name[0] == '.') {
			orphan = strstr(e->d_name, ".jsonl.gz.tmp.") != NULL;
		} else if (name_parse(e->d_name, &epoch, &first, &last) == 0 &&
			   epoch == a->epoch) {
			rc = queue_archive_get(a->q, e->d_name, &row);
			if (rc == SUIDO_ERR_NOTFOUND)
				orphan = 1;
			else if (rc != SUIDO_OK)
				break;
			rc = SUIDO_OK;
		}
		if (!orphan)
			continue;
		snprintf(path, sizeof path, "%s/%s", a->dir, e->d_name);
		if (unlink(path) == 0) {
			log_warn("archive", "removed %s: written before a crash, never indexed (its "
					    "messages are still in the queue)", e->d_name);
			removed = 1;
		}
	}
	closedir(d);
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "archive index: %s", suido_strerror(rc));
		return rc;
	}
	return removed ? fsutil_fsync_dir(a->dir, err, errlen) : SUIDO_OK;
}

int archive_open(const char *dir, struct queue *q, struct archive **out, char *err,
		 size_t errlen)
{
	struct archive *a = NULL;
	int rc;

	*out = NULL;
	if ((rc = fsutil_mkdirs(dir, err, errlen)) != SUIDO_OK)
		return rc;
	a = calloc(1, sizeof *a);
	if (!a || !(a->dir = strdup(dir))) {
		free(a);
		return SUIDO_ERR_NOMEM;
	}
	a->q = q;
	a->epoch = queue_epoch(q);
	if ((rc = sweep(a, err, errlen)) != SUIDO_OK) {
		archive_close(a);
		return rc;
	}
	*out = a;
	return SUIDO_OK;
}

void archive_close(struct archive *a)
{
	if (!a)
		return;
	reader_close(&a->rd);
	free(a->rd.buf);
	free(a->dir);
	free(a);
}

void archive_fail_before_index(struct archive *a, int on)
{
	a->fail_before_index = on;
}

/* Compresses n bytes of p into w->z (flush: Z_NO_FLUSH or Z_FINISH). */
static int z_feed(struct writer *w, const void *p, size_t n, int flush)
{
	int zr;

	w->zs.next_in = (Bytef *)(uintptr_t)p;
	w->zs.avail_in = (uInt)n;
	do {
		if (w->zcap - w->zlen < 65536) {
			size_t nc = w->zcap ? w->zcap * 2 : 1u << 18;
			unsigned char *nz = realloc(w->z, nc);
			if (!nz)
				return SUIDO_ERR_NOMEM;
			w->z = nz;
			w->zcap = nc;
		}
		w->zs.next_out = w->z + w->zlen;
		w->zs.avail_out = (uInt)(w->zcap - w->zlen);
		zr = deflate(&w->zs, flush);
		w->zlen = w->zcap - w->zs.avail_out;
		if (zr == Z_STREAM_ERROR)
			return SUIDO_ERR_NOMEM;
	} while (w->zs.avail_in > 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return SUIDO_OK;
}

static int put_line(struct writer *w)
{
	strbuf_putc(&w->line, '\n');
	if (w->line.failed)
		return SUIDO_ERR_NOMEM;
	if (w->line.len > ARCHIVE_LINE_MAX) {
		snprintf(w->err, w->errlen, "a message of %zu bytes is too large for an archive line",
			 w->line.len);
		return SUIDO_ERR_LIMIT;
	}
	int rc = z_feed(w, w->line.data, w->line.len, Z_NO_FLUSH);
	strbuf_reset(&w->line);
	return rc;
}

static int each_msg(void *ctx, const struct queue_held *m)
{
	struct writer *w = ctx;

	strbuf_puts(&w->line, "{\"id\":");
	strbuf_json_str(&w->line, m->id, strlen(m->id));
	strbuf_printf(&w->line, ",\"seq\":%" PRIu64 ",\"created\":%" PRId64 ",\"acked\":%" PRId64
				",\"n_points\":%zu,\"len\":%zu,\"payload\":",
		      m->seq, m->created_ms, m->acked_ms, m->n_points, m->len);
	strbuf_json_str(&w->line, m->payload, m->len);
	strbuf_putc(&w->line, '}');
	w->payload_bytes += m->len;
	return put_line(w);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, 32, out);
}

int archive_evacuate(struct archive *a, int64_t older_than_ms, int64_t now_ms, size_t *n,
		     int *more, char *err, size_t errlen)
{
	struct writer w = {.line = STRBUF_INIT, .err = err, .errlen = errlen};
	struct queue_archive row = {0};
	uint64_t first = 0, last = 0;
	size_t cnt = 0;
	int zinit = 0, rc;

	*n = 0;
	*more = 0;
	if (deflateInit2(&w.zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	zinit = 1;
	strbuf_puts(&w.line, "{\"format\":\"" FORMAT "\",\"gateway\":");
	strbuf_json_str(&w.line, queue_gateway(a->q), strlen(queue_gateway(a->q)));
	strbuf_printf(&w.line, ",\"epoch\":%" PRId64 "}", a->epoch);
	if ((rc = put_line(&w)) != SUIDO_OK)
		goto out;
	rc = queue_evacuable(a->q, older_than_ms, ARCHIVE_MAX_MSGS, ARCHIVE_MAX_BYTES, each_msg, &w,
			     &cnt, &first, &last);
	if (rc != SUIDO_OK) {
		if (rc == SUIDO_ERR_DB)
			snprintf(err, errlen, "reading the queue failed");
		else if (rc == SUIDO_ERR_NOMEM)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cnt == 0)
		goto out;
	strbuf_printf(&w.line, "{\"end\":\"" FORMAT "\",\"count\":%zu,\"first_seq\":%" PRIu64
			       ",\"last_seq\":%" PRIu64 "}\n",
		      cnt, first, last);
	if (w.line.failed || (rc = z_feed(&w, w.line.data, w.line.len, Z_FINISH)) != SUIDO_OK) {
		rc = SUIDO_ERR_NOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(row.file, sizeof row.file, "%" PRId64 "-%" PRIu64 "-%" PRIu64 ".jsonl.gz", a->epoch,
		 first, last);
	row.first_seq = first;
	row.last_seq = last;
	row.n_msgs = (int64_t)cnt;
	row.bytes = (int64_t)w.zlen;
	row.created_ms = now_ms;
	sha256_hex(w.z, w.zlen, row.sha256);
	/* Durable before the rows go: a crash after this leaves both. The same
	 * range written again gets the same name and replaces it atomically. */
	if ((rc = fsutil_write_atomic(a->dir, row.file, w.z, w.zlen, err, errlen)) != SUIDO_OK)
		goto out;
	if (a->fail_before_index) {
		snprintf(err, errlen, "failure injected after writing %s", row.file);
		rc = SUIDO_ERR_IO;
		goto out;
	}
	rc = queue_archive_commit(a->q, &row, older_than_ms);
	if (rc != SUIDO_OK) {
		/* The file stays: if the commit did happen after all, it is the
		 * only copy. An unindexed one is replaced or swept later. */
		snprintf(err, errlen, "indexing %s: %s", row.file,
			 rc == SUIDO_ERR_INVALID ? "the queue changed meanwhile" : suido_strerror(rc));
		goto out;
	}
	*n = cnt;
	*more = cnt >= ARCHIVE_MAX_MSGS || w.payload_bytes >= ARCHIVE_MAX_BYTES;
out:
	if (zinit)
		deflateEnd(&w.zs);
	free(w.z);
	strbuf_free(&w.line);
	return rc;
}

int archive_expire(struct archive *a, int64_t created_before_ms, size_t *n, char *err,
		   size_t errlen)
{
	struct queue_archive row;
	int rc = SUIDO_OK;

	*n = 0;
	while (*n < 100) {
		char path[PATH_MAX];
		rc = queue_archive_oldest(a->q, created_before_ms, &row);
		if (rc == SUIDO_ERR_NOTFOUND) {
			rc = SUIDO_OK;
			break;
		}
		if (rc == SUIDO_OK)
			rc = queue_archive_forget(a->q, row.file);
		if (rc != SUIDO_OK) {
			snprintf(err, errlen, "archive index: %s", suido_strerror(rc));
			break;
		}
		/* forgotten first: a crash now leaves an unindexed file, swept at start */
		if (a->rd.gz && strcmp(a->rd.row.file, row.file) == 0)
			reader_close(&a->rd);
		snprintf(path, sizeof path, "%s/%s", a->dir, row.file);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
			rc = SUIDO_ERR_IO;
			break;
		}
		(*n)++;
	}
	if (*n && rc == SUIDO_OK)
		rc = fsutil_fsync_dir(a->dir, err, errlen);
	return rc;
}

/* SHA-256 of the file at path against want. SUIDO_OK or _INVALID. */
static int check_file(const char *path, const char *want, char *err, size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], dg[32];
	unsigned int dlen = 0;
	char hex[65];
	FILE *f = fopen(path, "rb");
	size_t k;
	int rc = SUIDO_ERR_INVALID;

	if (!f) {
		snprintf(err, errlen, "archive %s: %s", path, strerror(errno));
		goto out;
	}
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "archive %s: cannot hash", path);
		goto out;
	}
	while ((k = fread(buf, 1, sizeof buf, f)) > 0)
		EVP_DigestUpdate(md, buf, k);
	if (ferror(f)) {
		snprintf(err, errlen, "archive %s: read error", path);
		goto out;
	}
	EVP_DigestFinal_ex(md, dg, &dlen);
	hex_encode(dg, 32, hex);
	if (strcmp(hex, want) != 0) {
		snprintf(err, errlen, "archive %s is corrupt: SHA-256 %.16s… is not the indexed %.16s…",
			 path, hex, want);
		goto out;
	}
	rc = SUIDO_OK;
out:
	if (f)
		fclose(f);
	EVP_MD_CTX_free(md);
	return rc;
}

/* Next line of the open file into *line (NUL-terminated, in the reader's
 * buffer until the next call). SUIDO_OK, SUIDO_ERR_NOTFOUND at a clean end,
 * SUIDO_ERR_INVALID (err) when torn, not gzip, or too long; _NOMEM. */
static int read_line(struct archive *a, char **line, size_t *len, char *err, size_t errlen)
{
	struct reader *r = &a->rd;

	for (;;) {
		char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start)
					     : NULL;
		int got, zerr = Z_OK;
		if (nl) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			*nl = '\0';
			r->start = (size_t)(nl - r->buf) + 1;
			return SUIDO_OK;
		}
		if (r->eof) {
			if (r->end > r->start) {
				snprintf(err, errlen, "archive %s is torn: its last line is incomplete",
					 r->row.file);
				return SUIDO_ERR_INVALID;
			}
			return SUIDO_ERR_NOTFOUND;
		}
		if (r->end > r->start) /* buf is NULL before the first read */
			memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		if (r->end == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 65536;
			char *nb;
			if (r->cap > ARCHIVE_LINE_MAX) {
				snprintf(err, errlen, "archive %s: a line longer than %u bytes",
					 r->row.file, ARCHIVE_LINE_MAX);
				return SUIDO_ERR_INVALID;
			}
			if (!(nb = realloc(r->buf, nc)))
				return SUIDO_ERR_NOMEM;
			r->buf = nb;
			r->cap = nc;
		}
		got = gzread(r->gz, r->buf + r->end, (unsigned)(r->cap - r->end));
		if (got > 0 && gzdirect(r->gz)) {
			snprintf(err, errlen, "archive %s is not a gzip file", r->row.file);
			return SUIDO_ERR_INVALID;
		}
		if (got < 0 || (got == 0 && (gzerror(r->gz, &zerr), zerr != Z_OK))) {
			const char *why = gzerror(r->gz, &zerr);
			snprintf(err, errlen, "archive %s is corrupt: %s", r->row.file,
				 why && *why ? why : "decompression failed");
			return SUIDO_ERR_INVALID;
		}
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int reader_open(struct archive *a, const struct queue_archive *row, char *err,
		       size_t errlen)
{
	struct reader *r = &a->rd;
	char path[PATH_MAX], *line;
	size_t len;
	json_t *h = NULL;
	int rc;

	reader_close(r);
	r->row = *row;
	snprintf(path, sizeof path, "%s/%s", a->dir, row->file);
	if ((rc = check_file(path, row->sha256, err, errlen)) != SUIDO_OK)
		return rc;
	if (!(r->gz = gzopen(path, "rb"))) {
		snprintf(err, errlen, "archive %s: %s", path, strerror(errno));
		return SUIDO_ERR_INVALID;
	}
	rc = read_line(a, &line, &len, err, errlen);
	if (rc == SUIDO_ERR_NOTFOUND) {
		snprintf(err, errlen, "archive %s is empty", row->file);
		rc = SUIDO_ERR_INVALID;
	}
	if (rc != SUIDO_OK)
		goto out;
	h = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!h || !json_is_string(json_object_get(h, "format")) ||
	    strcmp(json_string_value(json_object_get(h, "format")), FORMAT) != 0 ||
	    !json_is_string(json_object_get(h, "gateway")) ||
	    strcmp(json_string_value(json_object_get(h, "gateway")), queue_gateway(a->q)) != 0 ||
	    jint(h, "epoch") != a->epoch) {
		snprintf(err, errlen, "archive %s: not a %s file of this gateway and epoch", row->file,
			 FORMAT);
		rc = SUIDO_ERR_INVALID;
	}
out:
	json_decref(h);
	if (rc != SUIDO_OK)
		reader_close(r);
	return rc;
}

/* The next message line of the open file into *out. SUIDO_OK; SUIDO_ERR_NOTFOUND
 * after a valid trailer; SUIDO_ERR_INVALID; _NOMEM. */
static int read_msg(struct archive *a, struct queue_msg *out, char *err, size_t errlen)
{
	struct reader *r = &a->rd;
	char *line, id[PROFILE_ID_MAX + 1];
	size_t len;
	json_t *o = NULL, *p;
	int64_t seq;
	int rc = read_line(a, &line, &len, err, errlen);

	memset(out, 0, sizeof *out);
	if (rc == SUIDO_ERR_NOTFOUND) {
		snprintf(err, errlen, "archive %s is torn: no trailer", r->row.file);
		return SUIDO_ERR_INVALID;
	}
	if (rc != SUIDO_OK)
		return rc;
	rc = SUIDO_ERR_INVALID;
	if (!(o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL))) {
		snprintf(err, errlen, "archive %s: line %" PRId64 " is not JSON", r->row.file,
			 r->lines + 2);
		goto out;
	}
	if (json_object_get(o, "end")) {
		if (jint(o, "count") != r->lines || jint(o, "count") != r->row.n_msgs ||
		    jint(o, "first_seq") != (int64_t)r->row.first_seq ||
		    jint(o, "last_seq") != (int64_t)r->row.last_seq) {
			snprintf(err, errlen, "archive %s: the trailer does not match its %" PRId64
					      " messages or the index",
				 r->row.file, r->lines);
			goto out;
		}
		rc = SUIDO_ERR_NOTFOUND;
		goto out;
	}
	seq = jint(o, "seq");
	p = json_object_get(o, "payload");
	snprintf(id, sizeof id, "%s:%" PRId64 ":%" PRId64, queue_gateway(a->q), a->epoch, seq);
	if (seq <= 0 || (uint64_t)seq <= r->pos || (uint64_t)seq < r->row.first_seq ||
	    (uint64_t)seq > r->row.last_seq || !json_is_string(json_object_get(o, "id")) ||
	    strcmp(json_string_value(json_object_get(o, "id")), id) != 0 || !json_is_string(p) ||
	    jint(o, "len") != (int64_t)json_string_length(p) || jint(o, "n_points") < 0) {
		snprintf(err, errlen, "archive %s: line %" PRId64 " is not a message of the range "
				      "%" PRIu64 "..%" PRIu64 " in order",
			 r->row.file, r->lines + 2, r->row.first_seq, r->row.last_seq);
		goto out;
	}
	out->seq = (uint64_t)seq;
	snprintf(out->id, sizeof out->id, "%s", id);
	out->len = json_string_length(p);
	out->n_points = (size_t)jint(o, "n_points");
	if (!(out->payload = malloc(out->len + 1))) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	memcpy(out->payload, json_string_value(p), out->len);
	out->payload[out->len] = '\0';
	r->pos = out->seq;
	r->lines++;
	rc = SUIDO_OK;
out:
	json_decref(o);
	return rc;
}

int archive_next(struct archive *a, uint64_t from_seq, uint64_t to_seq, struct queue_msg *out,
		 uint64_t *bad_last, char *err, size_t errlen)
{
	struct queue_archive row;
	struct reader *r = &a->rd;
	int rc;

	memset(out, 0, sizeof *out);
	*bad_last = 0;
	if ((rc = queue_archive_find(a->q, from_seq, to_seq, &row)) != SUIDO_OK)
		return rc;
	/* Continue in the open file when it is this one and not past from_seq. */
	if (!(r->gz && strcmp(r->row.file, row.file) == 0 && r->pos < from_seq) &&
	    (rc = reader_open(a, &row, err, errlen)) != SUIDO_OK)
		goto bad;
	for (;;) {
		rc = read_msg(a, out, err, errlen);
		if (rc == SUIDO_ERR_NOTFOUND) {
			snprintf(err, errlen, "archive %s ends before seq %" PRIu64, row.file,
				 from_seq);
			rc = SUIDO_ERR_INVALID;
		}
		if (rc != SUIDO_OK)
			goto bad;
		if (out->seq >= from_seq)
			break;
		free(out->payload);
		out->payload = NULL;
	}
	if (out->seq > to_seq) {
		/* a hole: nothing of from..to here, nor (ranges do not overlap) later */
		free(out->payload);
		memset(out, 0, sizeof *out);
		return SUIDO_ERR_NOTFOUND;
	}
	return SUIDO_OK;
bad:
	if (rc == SUIDO_ERR_INVALID)
		*bad_last = row.last_seq;
	reader_close(r);
	free(out->payload);
	memset(out, 0, sizeof *out);
	return rc;
}
