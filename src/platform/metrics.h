/*
 * The platform's counters and gauges, exported by the AP interface as
 * Prometheus text (/metrics). Updated from any thread with atomics.
 */
#ifndef SUIDO_PLATFORM_METRICS_H
#define SUIDO_PLATFORM_METRICS_H

#include <stdint.h>

#include "suido/strbuf.h"

enum metric {
	MET_MSG_RECEIVED = 0,  /* data messages taken from the broker */
	MET_MSG_STORED,        /* committed */
	MET_MSG_DUPLICATE,     /* answered "duplicate" */
	MET_MSG_REJECTED,      /* refused: malformed, wrong tenant, unknown gateway, and
				* every MET_MSG_REFUSED_SECURITY */
	MET_MSG_REFUSED_SECURITY, /* refused by the sealed transport: unsealed, tampered,
				   * wrong signer, certificate refused */
	MET_POINTS_STORED,     /* points committed */
	MET_FILES_STORED,      /* files deposited (GW interface and AP interface), new ones */
	MET_ACKS_SENT,
	MET_DB_COMMITS,
	MET_DB_ERRORS,
	MET_HTTP_REQUESTS,
	MET_HTTP_2XX,
	MET_HTTP_4XX,
	MET_HTTP_5XX,
	MET_HTTP_UNAUTHORIZED, /* 401 and 403 */
	MET_MQTT_CONNECTED,    /* gauge: 1 when connected to the broker */
	MET__COUNT
};

struct metrics;

/* Returns a zeroed set or NULL on allocation failure; free with metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

void metrics_add(struct metrics *m, enum metric which, uint64_t n);
void metrics_set(struct metrics *m, enum metric which, uint64_t v);
uint64_t metrics_get(const struct metrics *m, enum metric which);

/* Appends the Prometheus text exposition (format 0.0.4) of every metric,
 * with HELP and TYPE lines, names prefixed "suido_platform_". */
int metrics_render(const struct metrics *m, struct strbuf *out);

#endif
