/*
 * One file from spool to queue (intake.h). The receipt is built while the
 * rows are mapped and stored in the queue with the points, so after a crash
 * the exact receipt can be written again from the queue alone.
 */
#include "intake.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "suido/csv.h"
#include "suido/error.h"
#include "suido/hex.h"
#include "suido/fsutil.h"
#include "suido/log.h"
#include "suido/mask.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define NAME_MAX_TAKEN 200 /* longer names are refused: receipts must fit NAME_MAX */

static const char *const status_names[] = {"accepted", "partial", "rejected", "duplicate",
					   "gone"};

const char *intake_status_name(enum intake_status s)
{
	return status_names[s];
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	hex_encode(md, 32, out);
}

struct receipt {
	struct strbuf errors; /* JSON array body of {"line","reason"} */
	size_t n_errors, max_errors, dropped;
};

static void receipt_error(struct receipt *r, unsigned long line, const char *reason)
{
	if (r->n_errors >= r->max_errors) {
		r->dropped++;
		return;
	}
	strbuf_printf(&r->errors, "%s{\"line\":%lu,\"reason\":", r->n_errors ? "," : "", line);
	strbuf_json_str(&r->errors, reason, strlen(reason));
	strbuf_putc(&r->errors, '}');
	r->n_errors++;
}

/* Builds the whole receipt document into out. */
static int receipt_render(struct strbuf *out, const struct intake_ctx *c, const char *name,
			  const char *sha, int64_t now_ms, const struct intake_result *res,
			  const char *encoding, const char *file_reason, struct receipt *r)
{
	char ts[32];

	timeutil_format_utc(now_ms, ts);
	strbuf_puts(out, "{\"receipt\":\"suido.receipt/1\",\"file\":");
	strbuf_json_str(out, name, strlen(name));
	strbuf_printf(out, ",\"sha256\":\"%s\",\"gateway\":", sha ? sha : "");
	strbuf_json_str(out, c->gateway, strlen(c->gateway));
	strbuf_printf(out, ",\"received\":\"%s\",\"status\":\"%s\"", ts,
		      status_names[res->status]);
	if (file_reason) {
		strbuf_puts(out, ",\"reason\":");
		strbuf_json_str(out, file_reason, strlen(file_reason));
	}
	strbuf_puts(out, ",\"layout\":");
	if (res->layout[0])
		strbuf_json_str(out, res->layout, strlen(res->layout));
	else
		strbuf_puts(out, "null");
	strbuf_printf(out, ",\"encoding\":\"%s\",\"rows\":%ld,\"accepted_rows\":%ld,"
			   "\"rejected_rows\":%ld,\"points\":%zu,\"errors\":[",
		      encoding, res->rows, res->accepted, res->rejected, res->points);
	if (r && r->errors.len)
		strbuf_append(out, r->errors.data, r->errors.len);
	strbuf_printf(out, "],\"errors_not_listed\":%zu}\n", r ? r->dropped : 0);
	return out->failed ? SUIDO_ERR_NOMEM : SUIDO_OK;
}

static int write_receipt(const struct intake_ctx *c, const struct intake_origin *o,
			 const char *name, const char *text,
			 char *err, size_t errlen)
{
	char rname[NAME_MAX_TAKEN + 32], path[4096];
	int rc;

	snprintf(rname, sizeof rname, "%s.receipt.json", name);
	rc = fsutil_write_atomic(c->receipts_dir, rname, text, strlen(text), err, errlen);
	if (rc != SUIDO_OK || !o || !o->receipts_copy_dir)
		return rc;
	/* The sender's copy: its FTP server lets it download world-readable
	 * files only, and its own uploads are not. */
	rc = fsutil_write_atomic(o->receipts_copy_dir, rname, text, strlen(text), err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	snprintf(path, sizeof path, "%s/%s", o->receipts_copy_dir, rname);
	if (chmod(path, 0644) != 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		return SUIDO_ERR_IO;
	}
	return SUIDO_OK;
}

/* Nonzero when a receipt for name is missing in a directory it belongs in. */
static int receipt_missing(const struct intake_ctx *c, const struct intake_origin *o,
			   const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s.receipt.json", c->receipts_dir, name);
	if (lstat(path, &st) != 0)
		return 1;
	if (!o || !o->receipts_copy_dir)
		return 0;
	snprintf(path, sizeof path, "%s/%s.receipt.json", o->receipts_copy_dir, name);
	return lstat(path, &st) != 0;
}

/* Moves the file out of the spool, never over an earlier file. */
static int move_out(const struct intake_ctx *c, const char *name, const char *sha, int rejected,
		    char *err, size_t errlen)
{
	const char *dir = rejected ? c->rejected_dir : c->done_dir;
	char dst[NAME_MAX_TAKEN + 32], path[4096];
	struct stat st;

	snprintf(dst, sizeof dst, "%s", name);
	snprintf(path, sizeof path, "%s/%s", dir, dst);
	if (lstat(path, &st) == 0)
		snprintf(dst, sizeof dst, "%s.%.12s", name, sha ? sha : "dup");
	return fsutil_move(c->spool_dir, name, dir, dst, err, errlen);
}

/* Writes a receipt for a file refused as a whole, and moves it to rejected/. */
static int refuse(const struct intake_ctx *c, const struct intake_origin *o, const char *name, const char *sha, int64_t now_ms,
		  struct intake_result *res, const char *encoding, const char *reason, char *err,
		  size_t errlen)
{
	struct strbuf out = STRBUF_INIT;
	int rc;

	res->status = INTAKE_REJECTED;
	log_warn("intake", "%s: refused: %s", name, reason);
	rc = receipt_render(&out, c, name, sha, now_ms, res, encoding, reason, NULL);
	if (rc == SUIDO_OK)
		rc = write_receipt(c, o, name, out.data, err, errlen);
	if (rc == SUIDO_OK)
		rc = move_out(c, name, sha, 1, err, errlen);
	strbuf_free(&out);
	return rc;
}

struct sink_ctx {
	struct queue *q;
	const struct mask_key *key;
	int rc;
};

/* Queues a point; a mask column's clear text is masked here, before it is
 * stored anywhere (the clear value only ever lives in the file being read). */
static int sink(void *ctx, const struct mapping_item *item, int64_t t_ms,
		const struct mapping_value *val)
{
	struct sink_ctx *s = ctx;
	char *token = NULL;

	switch (val->kind) {
	case MAPPING_NUMBER:
		s->rc = queue_intake_point(s->q, item, t_ms, val->v);
		break;
	case MAPPING_TEXT:
		s->rc = queue_intake_text(s->q, item, t_ms, val->text, val->len);
		break;
	case MAPPING_MASK_RANDOMIZED:
	case MAPPING_MASK_DETERMINISTIC:
		if (!s->key) {
			s->rc = SUIDO_ERR_CONFIG; /* the gateway refuses to start so */
			break;
		}
		s->rc = mask_value(s->key,
				   val->kind == MAPPING_MASK_DETERMINISTIC ? MASK_DETERMINISTIC
									   : MASK_RANDOMIZED,
				   val->text, val->len, &token, NULL, 0);
		if (s->rc == SUIDO_OK)
			s->rc = queue_intake_text(s->q, item, t_ms, token, strlen(token));
		free(token);
		break;
	}
	return s->rc != SUIDO_OK;
}

/* Nonzero when any physical line of rec holds an invalid byte sequence. */
static int record_has_bad_bytes(const struct textenc_result *t, const struct csv_record *rec)
{
	for (unsigned long l = rec->line; l <= rec->last_line; l++)
		if (textenc_line_is_bad(t, l))
			return 1;
	return 0;
}

static int map_rows(const struct intake_ctx *c, struct csv_reader *rd, struct mapping_file *mf,
		    const struct textenc_result *text, struct intake_result *res,
		    struct receipt *r, char *err, size_t errlen)
{
	struct sink_ctx sc = {c->queue, c->mask_key, SUIDO_OK};
	struct csv_record rec;
	char why[256];
	enum csv_status cs;

	while ((cs = csv_next(rd, &rec, why, sizeof why)) != CSV_END) {
		size_t n = 0;
		int rc;
		if (cs == CSV_NOMEM)
			return SUIDO_ERR_NOMEM;
		res->rows++;
		if (cs == CSV_BAD) {
			res->rejected++;
			receipt_error(r, rec.line, why);
			continue;
		}
		if (record_has_bad_bytes(text, &rec)) {
			res->rejected++;
			receipt_error(r, rec.line, text->enc == TEXTENC_CP932
							   ? "invalid byte sequence (not CP932)"
							   : "invalid byte sequence (not UTF-8)");
			continue;
		}
		rc = mapping_file_row(mf, &rec, sink, &sc, &n, why, sizeof why);
		if (rc == SUIDO_OK) {
			res->accepted++;
			res->points += n;
		} else if (rc == SUIDO_ERR_INVALID) {
			res->rejected++;
			receipt_error(r, rec.line, why);
		} else {
			if (sc.rc != SUIDO_OK)
				rc = sc.rc;
			snprintf(err, errlen, "queue: %s", suido_strerror(rc));
			return rc;
		}
	}
	return SUIDO_OK;
}

int intake_file(const struct intake_ctx *c, const char *name, int64_t now_ms,
		struct intake_result *res, char *err, size_t errlen)
{
	return intake_file_from(c, NULL, name, now_ms, res, err, errlen);
}

int intake_file_from(const struct intake_ctx *c, const struct intake_origin *o,
		     const char *name, int64_t now_ms, struct intake_result *res, char *err,
		     size_t errlen)
{
	struct textenc_result text = {0};
	struct csv_reader *rd = NULL;
	struct mapping_file *mf = NULL;
	struct queue_file known = {0};
	struct receipt r = {STRBUF_INIT, 0, c->max_errors ? c->max_errors : 1000, 0};
	struct strbuf out = STRBUF_INIT;
	struct csv_record header;
	char *data = NULL, sha[65], why[320], qname[NAME_MAX_TAKEN + 48];
	const char *enc_name = "unknown";
	size_t len = 0, nul;
	int rc;

	memset(res, 0, sizeof *res);
	snprintf(qname, sizeof qname, "%.40s%s", o && o->record_prefix ? o->record_prefix : "", name);
	if (strlen(name) > NAME_MAX_TAKEN) {
		char shortname[64];
		snprintf(shortname, sizeof shortname, "%.40s-long-name", name);
		res->status = INTAKE_REJECTED;
		rc = receipt_render(&out, c, shortname, NULL, now_ms, res, enc_name,
				    "file name longer than 200 bytes", NULL);
		if (rc == SUIDO_OK)
			rc = write_receipt(c, o, shortname, out.data, err, errlen);
		if (rc == SUIDO_OK)
			rc = fsutil_move(c->spool_dir, name, c->rejected_dir, shortname, err, errlen);
		goto done;
	}
	rc = fsutil_read_file(c->spool_dir, name, c->max_file_bytes, &data, &len, why, sizeof why);
	if (rc == SUIDO_ERR_NOTFOUND) {
		res->status = INTAKE_GONE;
		rc = SUIDO_OK;
		goto done;
	}
	if (rc == SUIDO_ERR_LIMIT || rc == SUIDO_ERR_INVALID) {
		rc = refuse(c, o, name, NULL, now_ms, res, enc_name,
			    rc == SUIDO_ERR_LIMIT ? "file larger than max_file_bytes" : why, err,
			    errlen);
		goto done;
	}
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "%s", why);
		goto done;
	}
	sha256_hex(data, len, sha);

	rc = queue_file_lookup(c->queue, sha, &known);
	if (rc == SUIDO_OK) {
		/* Taken before: either our own crash between commit and move (the
		 * receipt is missing: write the one stored), or a re-upload. */
		if (strcmp(known.name, qname) == 0 && receipt_missing(c, o, name)) {
			res->status = INTAKE_ACCEPTED;
			rc = write_receipt(c, o, name, known.receipt, err, errlen);
			log_info("intake", "%s: taken before a restart; receipt restored", name);
		} else {
			char ts[32], reason[512];
			timeutil_format_utc(known.received_ms, ts);
			snprintf(reason, sizeof reason,
				 "same content as \"%s\" received %s: nothing stored again",
				 known.name, ts);
			res->status = INTAKE_DUPLICATE;
			rc = receipt_render(&out, c, name, sha, now_ms, res, enc_name, reason, NULL);
			if (rc == SUIDO_OK)
				rc = write_receipt(c, o, name, out.data, err, errlen);
			log_info("intake", "%s: duplicate of %s", name, known.name);
		}
		if (rc == SUIDO_OK)
			rc = move_out(c, name, sha, 0, err, errlen);
		goto done;
	}
	if (rc != SUIDO_ERR_NOTFOUND) {
		snprintf(err, errlen, "queue lookup failed");
		goto done;
	}
	if (textenc_is_binary((const unsigned char *)data, len)) {
		nul = (size_t)((char *)memchr(data, '\0', len) - data);
		snprintf(why, sizeof why, "binary file (NUL byte at offset %zu)", nul);
		rc = refuse(c, o, name, sha, now_ms, res, enc_name, why, err, errlen);
		goto done;
	}
	if ((rc = textenc_decode((const unsigned char *)data, len, c->encoding, &text)) !=
	    SUIDO_OK) {
		snprintf(err, errlen, "decode: %s", suido_strerror(rc));
		goto done;
	}
	enc_name = textenc_name(text.enc);
	if ((rc = csv_reader_new(text.text, text.len, NULL, &rd)) != SUIDO_OK)
		goto done;
	switch (csv_next(rd, &header, why, sizeof why)) {
	case CSV_RECORD:
		break;
	case CSV_END:
		rc = refuse(c, o, name, sha, now_ms, res, enc_name, "empty file: no header row", err,
			    errlen);
		goto done;
	case CSV_BAD: {
		char reason[400];
		snprintf(reason, sizeof reason, "line %lu: header row: %s", header.line, why);
		rc = refuse(c, o, name, sha, now_ms, res, enc_name, reason, err, errlen);
		goto done;
	}
	default:
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if (record_has_bad_bytes(&text, &header)) {
		rc = refuse(c, o, name, sha, now_ms, res, enc_name,
			    "line 1: header row: invalid byte sequence", err, errlen);
		goto done;
	}
	rc = mapping_file_begin(c->mapping, &header, &mf, why, sizeof why);
	if (rc == SUIDO_ERR_NOTFOUND || rc == SUIDO_ERR_INVALID) {
		rc = refuse(c, o, name, sha, now_ms, res, enc_name, why, err, errlen);
		goto done;
	}
	if (rc != SUIDO_OK)
		goto done;
	snprintf(res->layout, sizeof res->layout, "%s", mapping_file_layout(mf));

	if ((rc = queue_intake_begin(c->queue)) != SUIDO_OK) {
		snprintf(err, errlen, "queue: begin: %s", suido_strerror(rc));
		goto done;
	}
	rc = map_rows(c, rd, mf, &text, res, &r, err, errlen);
	if (rc != SUIDO_OK) {
		queue_intake_abort(c->queue);
		goto done;
	}
	res->status = res->rejected == 0 ? INTAKE_ACCEPTED
		      : res->accepted ? INTAKE_PARTIAL
				      : INTAKE_REJECTED;
	if (res->rows == 0)
		res->status = INTAKE_ACCEPTED;
	if ((rc = receipt_render(&out, c, name, sha, now_ms, res, enc_name, NULL, &r)) !=
	    SUIDO_OK) {
		queue_intake_abort(c->queue);
		goto done;
	}
	rc = queue_intake_commit(c->queue, sha, qname, now_ms, out.data);
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "queue: commit: %s", suido_strerror(rc));
		goto done;
	}
	/* Committed: from here a crash is repaired by the hash lookup above. */
	rc = write_receipt(c, o, name, out.data, err, errlen);
	if (rc == SUIDO_OK)
		rc = move_out(c, name, sha, res->status == INTAKE_REJECTED, err, errlen);
	log_info("intake", "%s: %s, layout %s, %s, %ld rows, %ld accepted, %ld rejected, %zu points",
		 name, status_names[res->status], res->layout, enc_name, res->rows, res->accepted,
		 res->rejected, res->points);
done:
	free(known.receipt);
	strbuf_free(&out);
	strbuf_free(&r.errors);
	mapping_file_free(mf);
	csv_reader_free(rd);
	textenc_result_free(&text);
	free(data);
	return rc;
}

int intake_reject(const struct intake_ctx *c, const struct intake_origin *o,
		  const char *name, const char *reason,
		  int64_t now_ms, struct intake_result *res, char *err, size_t errlen)
{
	struct strbuf out = STRBUF_INIT;
	char path[4096], dst[NAME_MAX_TAKEN + 64], shortname[64];
	const char *rname = name;
	struct stat st;
	int rc;

	memset(res, 0, sizeof *res);
	snprintf(path, sizeof path, "%s/%s", c->spool_dir, name);
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT) {
			res->status = INTAKE_GONE;
			return SUIDO_OK;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SUIDO_ERR_IO;
	}
	if (strlen(name) > NAME_MAX_TAKEN) {
		snprintf(shortname, sizeof shortname, "%.40s-long-name", name);
		rname = shortname;
	}
	res->status = INTAKE_REJECTED;
	log_warn("intake", "%s: refused: %s", name, reason);
	rc = receipt_render(&out, c, rname, NULL, now_ms, res, "unknown", reason, NULL);
	if (rc == SUIDO_OK)
		rc = write_receipt(c, o, rname, out.data, err, errlen);
	strbuf_free(&out);
	if (rc != SUIDO_OK)
		return rc;
	/* rejected/ keeps every refused file: pick a name not taken there. */
	snprintf(dst, sizeof dst, "%s", rname);
	for (int i = 0;; i++) {
		snprintf(path, sizeof path, "%s/%s", c->rejected_dir, dst);
		if (lstat(path, &st) != 0)
			break;
		if (i == 1000) {
			snprintf(err, errlen, "%s: no free name in %s", name, c->rejected_dir);
			return SUIDO_ERR_IO;
		}
		snprintf(dst, sizeof dst, "%s.%lld.%d", rname, (long long)now_ms, i);
	}
	return fsutil_move(c->spool_dir, name, c->rejected_dir, dst, err, errlen);
}

int64_t intake_free_bytes(const char *dir)
{
	struct statvfs v;

	if (statvfs(dir, &v) != 0)
		return -1;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

void intake_guard_init(struct intake_guard *g, const char *state_dir, struct queue *q,
		       int64_t min_free_bytes, int64_t max_queue_bytes)
{
	memset(g, 0, sizeof *g);
	g->state_dir = state_dir;
	g->queue = q;
	g->min_free_bytes = min_free_bytes;
	g->max_queue_bytes = max_queue_bytes;
}

static void pause_intake(struct intake_guard *g, enum intake_pause why, int64_t now_ms,
			 const char *alert)
{
	g->next_check_ms = now_ms + INTAKE_GUARD_RETRY_MS;
	g->probing = 0;
	if (g->pause != INTAKE_RUNNING) {
		g->pause = why; /* already alerted: the reason may change, not logged again */
		snprintf(g->alert, sizeof g->alert, "%s", alert);
		return;
	}
	g->pause = why;
	snprintf(g->alert, sizeof g->alert, "%s", alert);
	log_error("intake", "ALERT: intake paused: %s; files stay in the spool, checked again "
			    "every %d s", alert, INTAKE_GUARD_RETRY_MS / 1000);
}

static void resume_intake(struct intake_guard *g)
{
	if (g->pause == INTAKE_RUNNING)
		return;
	log_info("intake", "intake resumed: space is back (%s was the alert)", g->alert);
	g->pause = INTAKE_RUNNING;
	g->probing = 0;
	g->alert[0] = '\0';
}

int intake_guard_allows(struct intake_guard *g, int64_t now_ms)
{
	int64_t free_b, qbytes;
	char alert[384];

	if (now_ms < g->next_check_ms)
		return g->pause == INTAKE_RUNNING || g->probing;
	g->next_check_ms = now_ms + (g->pause == INTAKE_RUNNING ? INTAKE_GUARD_CHECK_MS
							    : INTAKE_GUARD_RETRY_MS);
	if (g->min_free_bytes > 0 && (free_b = intake_free_bytes(g->state_dir)) >= 0 &&
	    free_b < g->min_free_bytes) {
		snprintf(alert, sizeof alert, "%lld bytes free on the file system of %s, under "
					      "[gateway] min_free_bytes %lld",
			 (long long)free_b, g->state_dir, (long long)g->min_free_bytes);
		pause_intake(g, INTAKE_LOW_SPACE, now_ms, alert);
		return 0;
	}
	if (g->max_queue_bytes > 0 && g->queue && (qbytes = queue_disk_bytes(g->queue)) >= 0 &&
	    qbytes > g->max_queue_bytes) {
		snprintf(alert, sizeof alert, "the queue takes %lld bytes, over [send] "
					      "max_queue_bytes %lld",
			 (long long)qbytes, (long long)g->max_queue_bytes);
		pause_intake(g, INTAKE_QUEUE_LIMIT, now_ms, alert);
		return 0;
	}
	if (g->pause == INTAKE_DISK_FULL) {
		/* Only a write can tell whether the disk is still full. */
		g->probing = 1;
		return 1;
	}
	resume_intake(g);
	return 1;
}

void intake_guard_full(struct intake_guard *g, int64_t now_ms, const char *detail)
{
	char alert[384];

	snprintf(alert, sizeof alert, "disk full: %s", detail);
	pause_intake(g, INTAKE_DISK_FULL, now_ms, alert);
}

void intake_guard_taken(struct intake_guard *g)
{
	if (g->pause == INTAKE_DISK_FULL)
		resume_intake(g);
}

int intake_guard_paused(const struct intake_guard *g)
{
	return g->pause != INTAKE_RUNNING;
}

const char *intake_guard_alert(const struct intake_guard *g)
{
	return g->pause != INTAKE_RUNNING ? g->alert : NULL;
}
