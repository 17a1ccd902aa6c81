/*
 * Gateway monitoring on the platform (seed 003 section 7, docs/protocol.md
 * "Status and health"): each registered gateway's state from its retained
 * status, its signed health reports and the data it sends:
 *   online   connected and reporting, and data stored within
 *            silent_intervals x its sending interval (or not sending by command)
 *   silent   connected and reporting, but no data for that long while it
 *            should send
 *   offline  status "offline" (its last will, or a clean disconnect), or no
 *            report for 3 health intervals, or not heard since the platform
 *            started
 * State changes are handed to the caller as events (logged and kept in the
 * store by the ingest). Written by the ingest thread, read by any thread
 * (the AP interface): every function takes the monitor's lock.
 */
#ifndef SUIDO_PLATFORM_MONITOR_H
#define SUIDO_PLATFORM_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "platconf.h"
#include "suido/strbuf.h"

#define MONITOR_HEALTH_MAX 4096 /* bytes of one health report kept */

enum monitor_state { MONITOR_OFFLINE, MONITOR_ONLINE, MONITOR_SILENT };

struct monitor;

/* A gateway as seen now; strings borrowed for the callback only. Times are
 * UTC ms, 0 when never. */
struct monitor_view {
	const char *gateway;
	const char *utility;
	enum monitor_state state;
	int64_t since;       /* of the state */
	int connected;       /* its retained status says online */
	int64_t last_seen;   /* any message or status from it */
	int64_t last_data;   /* a data message stored */
	int64_t last_health; /* a health report accepted */
	int sending;         /* the last start/stop the platform issued */
	unsigned interval_s;
	const char *health;  /* the last report's JSON object, "" when none */
};

typedef int (*monitor_view_fn)(void *ctx, const struct monitor_view *v);
typedef void (*monitor_event_fn)(void *ctx, const char *utility, const char *gateway,
				 enum monitor_state from, enum monitor_state to, const char *reason,
				 int64_t t);

/* A monitor for cfg's gateways (cfg borrowed for its life), all offline
 * since now_ms. NULL when out of memory. */
struct monitor *monitor_new(const struct plat_config *cfg, int64_t now_ms);
void monitor_free(struct monitor *m);

/* Inputs, for the registered gateway gw (an element of cfg->gateways). */
void monitor_status(struct monitor *m, const struct plat_gateway *gw, int online, int64_t now);
void monitor_data(struct monitor *m, const struct plat_gateway *gw, int64_t now);
/* json[len]: the verified report's JSON object (at most MONITOR_HEALTH_MAX bytes kept). */
void monitor_health(struct monitor *m, const struct plat_gateway *gw, const char *json,
		    size_t len, int64_t now);
void monitor_sending(struct monitor *m, const struct plat_gateway *gw, int sending,
		     unsigned interval_s, int64_t now);

/* Recomputes every state at now; calls ev for each change. */
void monitor_tick(struct monitor *m, int64_t now, monitor_event_fn ev, void *ctx);

/* Calls fn for each gateway of utility (a consistent copy taken under the
 * lock, so fn may take its time). SUIDO_OK or SUIDO_ERR_NOMEM. */
int monitor_each(struct monitor *m, const char *utility, monitor_view_fn fn, void *ctx);

/* Appends the gateways' states in the Prometheus text format. */
void monitor_render_metrics(struct monitor *m, struct strbuf *sb);

const char *monitor_state_name(enum monitor_state s);

#endif
