/*
 * The store front (store.h): a handle pairing a backend's const ops table
 * with its private state, and the store_* calls that check their arguments
 * and dispatch. Argument checks are asserts because a NULL utility or item
 * is a caller bug, never input; the backends then rely on them.
 */
#include "suido/store.h"

#include <assert.h>
#include <stdlib.h>

#include "store_int.h"
#include "suido/error.h"

struct store {
	const struct store_ops *ops;
	void *impl;
};

int store_open_sqlite(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s = NULL;
	void *impl = NULL;
	int rc;

	assert(path && out);
	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	rc = store_sqlite_open(path, &impl, err, errlen);
	if (rc != SUIDO_OK)
		goto cleanup;
	s->ops = &store_sqlite_ops;
	s->impl = impl;
	*out = s;
	s = NULL;
cleanup:
	free(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->impl);
	free(s);
}

const char *store_backend(const struct store *s)
{
	assert(s);
	return s->ops->name;
}

int store_begin(struct store *s)
{
	assert(s);
	return s->ops->begin(s->impl);
}

int store_commit(struct store *s)
{
	assert(s);
	return s->ops->commit(s->impl);
}

int store_rollback(struct store *s)
{
	assert(s);
	return s->ops->rollback(s->impl);
}

int store_put_utility(struct store *s, const char *utility, const char *name)
{
	assert(s && utility && name);
	return s->ops->put_utility(s->impl, utility, name);
}

int store_put_gateway(struct store *s, const char *utility, const char *gateway)
{
	assert(s && utility && gateway);
	return s->ops->put_gateway(s->impl, utility, gateway);
}

int store_gateway_utility(struct store *s, const char *gateway, char *utility, size_t len)
{
	assert(s && gateway && utility && len > 0);
	return s->ops->gateway_utility(s->impl, gateway, utility, len);
}

int store_put_message(struct store *s, const char *utility, const char *gateway,
		      const char *msg_id, int64_t received_ms, size_t n_points,
		      const void *original, size_t original_len)
{
	assert(s && utility && gateway && msg_id);
	assert(original || original_len == 0);
	return s->ops->put_message(s->impl, utility, gateway, msg_id, received_ms, n_points,
				   original, original_len);
}

int store_get_original(struct store *s, const char *utility, const char *msg_id,
		       store_original_fn fn, void *ctx)
{
	assert(s && utility && msg_id && fn);
	return s->ops->get_original(s->impl, utility, msg_id, fn, ctx);
}

int store_put_item(struct store *s, const char *utility, const struct store_item *item,
		   int64_t *item_key)
{
	assert(s && utility && item && item->id && item->name && item_key);
	return s->ops->put_item(s->impl, utility, item, item_key);
}

/* The ingest hot path: no checks beyond the backend's own. */
int store_put_point(struct store *s, int64_t item_key, int64_t t_ms, double v)
{
	return s->ops->put_point(s->impl, item_key, t_ms, v);
}

int store_put_text(struct store *s, int64_t item_key, int64_t t_ms, const char *text)
{
	assert(s && text);
	return s->ops->put_text(s->impl, item_key, t_ms, text);
}

int store_put_file(struct store *s, const char *utility, const struct store_file *f,
		   const void *content, size_t len, const void *original, size_t olen)
{
	assert(s && utility && f && f->id && f->name && f->sha256 && f->sender);
	assert((content || !len) && (original || !olen));
	return s->ops->put_file(s->impl, utility, f, content, len, original, olen);
}

int store_list_files(struct store *s, const char *utility, store_file_fn fn, void *ctx)
{
	assert(s && utility && fn);
	return s->ops->list_files(s->impl, utility, fn, ctx);
}

int store_get_file(struct store *s, const char *utility, const char *id, store_file_fn meta,
		   store_original_fn content, store_original_fn original, void *ctx)
{
	assert(s && utility && id);
	return s->ops->get_file(s->impl, utility, id, meta, content, original, ctx);
}

int store_put_gateway_event(struct store *s, const char *utility,
			    const struct store_gateway_event *e)
{
	assert(s && utility && e && e->gateway && e->from && e->to && e->reason);
	return s->ops->put_gateway_event(s->impl, utility, e);
}

int store_list_gateway_events(struct store *s, const char *utility, const char *gateway,
			      size_t limit, store_event_fn fn, void *ctx)
{
	assert(s && utility && gateway && fn && limit >= 1 && limit <= 10000);
	return s->ops->list_gateway_events(s->impl, utility, gateway, limit, fn, ctx);
}

int store_recent_seqs(struct store *s, const char *utility, const char *gateway, int64_t epoch,
		      size_t limit, store_seq_fn fn, void *ctx)
{
	assert(s && utility && gateway && fn);
	return s->ops->recent_seqs(s->impl, utility, gateway, epoch, limit, fn, ctx);
}

int store_list_items(struct store *s, const char *utility, store_item_fn fn, void *ctx)
{
	assert(s && utility && fn);
	return s->ops->list_items(s->impl, utility, fn, ctx);
}

int store_get_item(struct store *s, const char *utility, const char *item, store_item_fn fn,
		   void *ctx)
{
	assert(s && utility && item && fn);
	return s->ops->get_item(s->impl, utility, item, fn, ctx);
}

int store_values(struct store *s, const char *utility, const char *item, int64_t from_ms,
		 int64_t to_ms, size_t limit, store_point_fn fn, void *ctx)
{
	assert(s && utility && item && fn);
	return s->ops->values(s->impl, utility, item, from_ms, to_ms, limit, fn, ctx);
}

int store_latest(struct store *s, const char *utility, const char *item, store_point_fn fn,
		 void *ctx)
{
	assert(s && utility && item && fn);
	return s->ops->latest(s->impl, utility, item, fn, ctx);
}

int store_integrity_check(struct store *s, char *err, size_t errlen)
{
	assert(s);
	return s->ops->integrity_check(s->impl, err, errlen);
}

int store_count_points(struct store *s, const char *utility, int64_t *out)
{
	assert(s && utility && out);
	return s->ops->count_points(s->impl, utility, out);
}
