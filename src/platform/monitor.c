/*
 * Gateway monitoring on the platform (monitor.h).
 */
#include "monitor.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"

#define HEALTH_MISSED 3 /* health intervals without a word: offline */

struct gw {
	const struct plat_gateway *cfg;
	enum monitor_state state;
	int64_t since;
	int connected;
	int64_t connected_at;
	int64_t last_seen, last_data, last_health;
	int sending;
	unsigned interval_s;
	int64_t sending_since;
	char health[MONITOR_HEALTH_MAX + 1];
};

struct monitor {
	const struct plat_config *cfg;
	pthread_mutex_t lock;
	struct gw *gws; /* parallel to cfg->gateways */
};

static const char *const state_names[] = {"offline", "online", "silent"};

const char *monitor_state_name(enum monitor_state s)
{
	return state_names[s];
}

struct monitor *monitor_new(const struct plat_config *cfg, int64_t now_ms)
{
	struct monitor *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->cfg = cfg;
	m->gws = calloc(cfg->n_gateways + 1, sizeof *m->gws);
	if (!m->gws || pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m->gws);
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_gateways; i++) {
		struct gw *g = &m->gws[i];
		g->cfg = &cfg->gateways[i];
		g->state = MONITOR_OFFLINE;
		g->since = now_ms;
		g->sending = cfg->gateways[i].sending;
		g->interval_s = cfg->gateways[i].interval_s;
		g->sending_since = now_ms;
	}
	return m;
}

void monitor_free(struct monitor *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->gws);
	free(m);
}

static struct gw *find(struct monitor *m, const struct plat_gateway *gw)
{
	size_t i = (size_t)(gw - m->cfg->gateways);

	return i < m->cfg->n_gateways ? &m->gws[i] : NULL;
}

void monitor_status(struct monitor *m, const struct plat_gateway *gw, int online, int64_t now)
{
	struct gw *g;

	pthread_mutex_lock(&m->lock);
	if ((g = find(m, gw))) {
		if (online && !g->connected)
			g->connected_at = now;
		g->connected = online;
		g->last_seen = now;
	}
	pthread_mutex_unlock(&m->lock);
}

void monitor_data(struct monitor *m, const struct plat_gateway *gw, int64_t now)
{
	struct gw *g;

	pthread_mutex_lock(&m->lock);
	if ((g = find(m, gw))) {
		g->last_data = now;
		g->last_seen = now;
	}
	pthread_mutex_unlock(&m->lock);
}

void monitor_health(struct monitor *m, const struct plat_gateway *gw, const char *json,
		    size_t len, int64_t now)
{
	struct gw *g;

	pthread_mutex_lock(&m->lock);
	if ((g = find(m, gw))) {
		if (len > MONITOR_HEALTH_MAX)
			len = 0; /* never kept cut: a cut object is not JSON */
		memcpy(g->health, json, len);
		g->health[len] = '\0';
		g->last_health = now;
		g->last_seen = now;
		/* a report means the gateway is there, even if its status was
		 * missed (retained messages can be cleared) */
		if (!g->connected) {
			g->connected = 1;
			g->connected_at = now;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void monitor_sending(struct monitor *m, const struct plat_gateway *gw, int sending,
		     unsigned interval_s, int64_t now)
{
	struct gw *g;

	pthread_mutex_lock(&m->lock);
	if ((g = find(m, gw))) {
		if (sending && !g->sending)
			g->sending_since = now;
		g->sending = sending;
		if (interval_s)
			g->interval_s = interval_s;
	}
	pthread_mutex_unlock(&m->lock);
}

/* The state g should be in at now, with the reason of a change into it. */
static enum monitor_state judge(const struct monitor *m, const struct gw *g, int64_t now,
				char *why, size_t whylen)
{
	int64_t health_ms = (int64_t)m->cfg->health_interval_s * 1000;
	int64_t quiet_ms = (int64_t)m->cfg->silent_intervals * g->interval_s * 1000;
	int64_t ref;

	if (!g->connected) {
		snprintf(why, whylen, g->last_seen ? "status offline" : "not heard since start");
		return MONITOR_OFFLINE;
	}
	if (now - g->last_seen > HEALTH_MISSED * health_ms) {
		snprintf(why, whylen, "nothing heard for %" PRId64 " s", (now - g->last_seen) / 1000);
		return MONITOR_OFFLINE;
	}
	if (!g->sending) {
		snprintf(why, whylen, "connected (sending stopped by command)");
		return MONITOR_ONLINE;
	}
	ref = g->last_data;
	if (ref < g->connected_at)
		ref = g->connected_at;
	if (ref < g->sending_since)
		ref = g->sending_since;
	if (now - ref > quiet_ms) {
		snprintf(why, whylen, "no data for %" PRId64 " s (%u intervals of %u s)",
			 (now - ref) / 1000, m->cfg->silent_intervals, g->interval_s);
		return MONITOR_SILENT;
	}
	snprintf(why, whylen, g->last_data >= ref && g->last_data ? "data arriving" : "connected");
	return MONITOR_ONLINE;
}

void monitor_tick(struct monitor *m, int64_t now, monitor_event_fn ev, void *ctx)
{
	struct {
		const struct plat_gateway *gw;
		enum monitor_state from, to;
		char why[128];
	} changes[16];
	size_t start = 0;

	/* events are handed out without the lock held, a few at a time */
	while (start < m->cfg->n_gateways) {
		size_t n = 0, i;

		pthread_mutex_lock(&m->lock);
		for (i = start; i < m->cfg->n_gateways && n < 16; i++) {
			struct gw *g = &m->gws[i];
			char why[128];
			enum monitor_state s = judge(m, g, now, why, sizeof why);
			if (s == g->state)
				continue;
			changes[n].gw = g->cfg;
			changes[n].from = g->state;
			changes[n].to = s;
			snprintf(changes[n].why, sizeof changes[n].why, "%s", why);
			n++;
			g->state = s;
			g->since = now;
		}
		pthread_mutex_unlock(&m->lock);
		start = i;
		for (size_t k = 0; k < n && ev; k++)
			ev(ctx, changes[k].gw->utility, changes[k].gw->id, changes[k].from,
			   changes[k].to, changes[k].why, now);
	}
}

int monitor_each(struct monitor *m, const char *utility, monitor_view_fn fn, void *ctx)
{
	struct gw *copy;
	size_t n = 0;

	copy = malloc((m->cfg->n_gateways + 1) * sizeof *copy);
	if (!copy)
		return SUIDO_ERR_NOMEM;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cfg->n_gateways; i++)
		if (strcmp(m->gws[i].cfg->utility, utility) == 0)
			copy[n++] = m->gws[i];
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		const struct gw *g = &copy[i];
		struct monitor_view v = {g->cfg->id,     g->cfg->utility, g->state,
					 g->since,       g->connected,    g->last_seen,
					 g->last_data,   g->last_health,  g->sending,
					 g->interval_s,  g->health};
		if (fn(ctx, &v))
			break;
	}
	free(copy);
	return SUIDO_OK;
}

void monitor_render_metrics(struct monitor *m, struct strbuf *sb)
{
	strbuf_puts(sb, "# HELP suido_platform_gateway_state A gateway's state: 1 for the one it "
			"is in (offline, online, silent).\n"
			"# TYPE suido_platform_gateway_state gauge\n");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cfg->n_gateways; i++)
		for (int s = 0; s < 3; s++)
			strbuf_printf(sb,
				      "suido_platform_gateway_state{utility=\"%s\",gateway=\"%s\","
				      "state=\"%s\"} %d\n",
				      m->gws[i].cfg->utility, m->gws[i].cfg->id, state_names[s],
				      m->gws[i].state == (enum monitor_state)s);
	strbuf_puts(sb, "# HELP suido_platform_gateway_last_data_timestamp_seconds When a data "
			"message of the gateway was last stored (0: not since the start).\n"
			"# TYPE suido_platform_gateway_last_data_timestamp_seconds gauge\n");
	for (size_t i = 0; i < m->cfg->n_gateways; i++)
		strbuf_printf(sb,
			      "suido_platform_gateway_last_data_timestamp_seconds{utility=\"%s\","
			      "gateway=\"%s\"} %" PRId64 "\n",
			      m->gws[i].cfg->utility, m->gws[i].cfg->id, m->gws[i].last_data / 1000);
	pthread_mutex_unlock(&m->lock);
}
