/*
 * Platform counters (metrics.h): relaxed atomics, rendered on demand.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdlib.h>

struct metrics {
	_Atomic uint64_t v[MET__COUNT];
};

static const struct {
	const char *name;
	const char *type;
	const char *help;
} defs[MET__COUNT] = {
	[MET_MSG_RECEIVED] = {"messages_received_total", "counter", "Data messages taken from the broker."},
	[MET_MSG_STORED] = {"messages_stored_total", "counter", "Data messages committed to the store."},
	[MET_MSG_DUPLICATE] = {"messages_duplicate_total", "counter", "Resent messages answered as duplicate."},
	[MET_MSG_REJECTED] = {"messages_rejected_total", "counter", "Messages refused (malformed, wrong tenant, unknown gateway, security)."},
	[MET_FILES_STORED] = {"files_stored_total", "counter", "Files deposited in the file store by gateways and applications (new ones; a repeated deposit is not counted)."},
	[MET_MSG_REFUSED_SECURITY] = {"messages_refused_security_total", "counter", "Messages refused by the sealed transport (unsealed, tampered, wrong signer, certificate refused); also in messages_rejected_total."},
	[MET_POINTS_STORED] = {"points_stored_total", "counter", "Measurement points committed."},
	[MET_ACKS_SENT] = {"acks_sent_total", "counter", "Acknowledgements published to gateways."},
	[MET_DB_COMMITS] = {"db_commits_total", "counter", "Ingest transactions committed."},
	[MET_DB_ERRORS] = {"db_errors_total", "counter", "Ingest transactions that failed."},
	[MET_HTTP_REQUESTS] = {"http_requests_total", "counter", "HTTP requests answered."},
	[MET_HTTP_2XX] = {"http_responses_2xx_total", "counter", "HTTP answers with a 2xx status."},
	[MET_HTTP_4XX] = {"http_responses_4xx_total", "counter", "HTTP answers with a 4xx status."},
	[MET_HTTP_5XX] = {"http_responses_5xx_total", "counter", "HTTP answers with a 5xx status."},
	[MET_HTTP_UNAUTHORIZED] = {"http_auth_refused_total", "counter", "Requests refused with 401 or 403."},
	[MET_MQTT_CONNECTED] = {"mqtt_connected", "gauge", "1 while connected to the MQTT broker."},
};

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	free(m);
}

void metrics_add(struct metrics *m, enum metric which, uint64_t n)
{
	atomic_fetch_add_explicit(&m->v[which], n, memory_order_relaxed);
}

void metrics_set(struct metrics *m, enum metric which, uint64_t v)
{
	atomic_store_explicit(&m->v[which], v, memory_order_relaxed);
}

uint64_t metrics_get(const struct metrics *m, enum metric which)
{
	return atomic_load_explicit(&((struct metrics *)m)->v[which], memory_order_relaxed);
}

int metrics_render(const struct metrics *m, struct strbuf *out)
{
	for (int i = 0; i < MET__COUNT; i++) {
		strbuf_printf(out, "# HELP suido_platform_%s %s\n# TYPE suido_platform_%s %s\n"
				   "suido_platform_%s %llu\n",
			      defs[i].name, defs[i].help, defs[i].name, defs[i].type, defs[i].name,
			      (unsigned long long)metrics_get(m, (enum metric)i));
	}
	return out->failed ? -1 : 0;
}
