/*
 * The gateway's health report (health.h).
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "suido/error.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

struct health {
	char *state_dir;
	char *utility;
	char *gateway;
	int64_t cpu_us;  /* process CPU (user + system) at the previous report */
	int64_t mono_ms; /* monotonic time of the previous report */
};

static int64_t cpu_us_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

/* Resident set size from /proc/self/statm (its second field, in pages). */
static int64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long long size = 0, resident = -1;
	long page = sysconf(_SC_PAGESIZE);

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 || page <= 0 ? -1 : resident * page;
}

struct health *health_new(const char *state_dir, const char *utility, const char *gateway)
{
	struct health *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->state_dir = strdup(state_dir);
	h->utility = strdup(utility);
	h->gateway = strdup(gateway);
	if (!h->state_dir || !h->utility || !h->gateway) {
		health_free(h);
		return NULL;
	}
	h->cpu_us = cpu_us_now();
	h->mono_ms = timeutil_mono_ms();
	return h;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	free(h->state_dir);
	free(h->utility);
	free(h->gateway);
	free(h);
}

static void put_time(struct strbuf *sb, const char *name, int64_t ms)
{
	char t[32];

	strbuf_printf(sb, ",\"%s\":", name);
	if (ms > 0) {
		timeutil_format_utc(ms, t);
		strbuf_json_str(sb, t, strlen(t));
	} else {
		strbuf_puts(sb, "null");
	}
}

int health_report(struct health *h, const struct health_input *in, int64_t now_ms, char **json,
		  size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	struct statvfs vfs;
	int64_t cpu = cpu_us_now(), mono = timeutil_mono_ms();
	int64_t free_b = -1, total_b = -1;
	double cpu_pct = -1;
	char t[32];

	*json = NULL;
	*len = 0;
	sb.limit = HEALTH_MAX_BYTES;
	if (cpu >= 0 && h->cpu_us >= 0 && mono > h->mono_ms)
		/* rounded to 0.01 %: the report needs no more */
		cpu_pct = (double)(int64_t)((double)(cpu - h->cpu_us) / 10.0 /
						    (double)(mono - h->mono_ms) * 100.0 + 0.5) / 100.0;
	h->cpu_us = cpu;
	h->mono_ms = mono;
	if (statvfs(h->state_dir, &vfs) == 0) {
		free_b = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
		total_b = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
	}
	strbuf_puts(&sb, "{\"profile\":\"suido.health/1\",\"utility\":");
	strbuf_json_str(&sb, h->utility, strlen(h->utility));
	strbuf_puts(&sb, ",\"gateway\":");
	strbuf_json_str(&sb, h->gateway, strlen(h->gateway));
	timeutil_format_utc(now_ms, t);
	strbuf_puts(&sb, ",\"time\":");
	strbuf_json_str(&sb, t, strlen(t));
	strbuf_printf(&sb, ",\"sending\":%s,\"interval_s\":", in->sending ? "true" : "false");
	strbuf_json_num(&sb, in->interval_s);
	strbuf_puts(&sb, ",\"cpu_percent\":");
	strbuf_json_num(&sb, cpu_pct);
	strbuf_puts(&sb, ",\"rss_bytes\":");
	strbuf_json_int(&sb, rss_bytes());
	strbuf_puts(&sb, ",\"disk_free_bytes\":");
	strbuf_json_int(&sb, free_b);
	strbuf_puts(&sb, ",\"disk_total_bytes\":");
	strbuf_json_int(&sb, total_b);
	strbuf_puts(&sb, ",\"queue_points\":");
	strbuf_json_int(&sb, in->queue_points);
	strbuf_puts(&sb, ",\"queue_unacked\":");
	strbuf_json_int(&sb, in->queue_unacked);
	strbuf_puts(&sb, ",\"oldest_unacked_s\":");
	strbuf_json_int(&sb, in->oldest_unacked_ms > 0 && now_ms > in->oldest_unacked_ms
				     ? (now_ms - in->oldest_unacked_ms) / 1000
				     : 0);
	strbuf_puts(&sb, ",\"last_file\":");
	if (in->last_file && *in->last_file)
		strbuf_json_str(&sb, in->last_file, strlen(in->last_file));
	else
		strbuf_puts(&sb, "null");
	put_time(&sb, "last_file_time", in->last_file_ms);
	put_time(&sb, "last_ack_time", in->last_ack_ms);
	strbuf_printf(&sb, ",\"intake_paused\":%s,\"alert\":", in->intake_paused ? "true" : "false");
	if (in->alert && *in->alert)
		/* bounded: the report must stay under HEALTH_MAX_BYTES */
		strbuf_json_str(&sb, in->alert, strnlen(in->alert, 512));
	else
		strbuf_puts(&sb, "null");
	strbuf_puts(&sb, ",\"archives\":");
	strbuf_json_int(&sb, in->archives);
	strbuf_putc(&sb, '}');
	*json = strbuf_steal(&sb, len);
	strbuf_free(&sb);
	return *json ? SUIDO_OK : SUIDO_ERR_NOMEM;
}
