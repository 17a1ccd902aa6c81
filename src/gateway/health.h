/*
 * The gateway's health report (seed 003 section 7, システム監視;
 * docs/protocol.md "Status and health"): the "suido.health/1" JSON document
 * the gateway publishes every [monitor] health_interval_s and right after
 * each connection, made of what the caller knows (sending state, queue) and
 * what this module measures of the process and the machine: CPU used by the
 * process since the previous report (getrusage), resident memory
 * (/proc/self/statm) and the space of the file system holding the state
 * directory (statvfs). Signing it is the caller's (gwseal_sign).
 */
#ifndef SUIDO_GATEWAY_HEALTH_H
#define SUIDO_GATEWAY_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#define HEALTH_MAX_BYTES 4096 /* a report is far smaller */

/* What the caller reports; strings borrowed for the call. */
struct health_input {
	int sending;              /* 1 while data messages may be published */
	double interval_s;        /* the sending interval in force */
	int64_t queue_points;     /* points held not yet acknowledged: pending + in unacked messages */
	int64_t queue_unacked;    /* unacknowledged messages */
	int64_t oldest_unacked_ms; /* wall time the oldest unacked message was made, 0: none */
	const char *last_file;    /* name of the last file taken, "" or NULL: none */
	int64_t last_file_ms;     /* when it was taken, 0: none */
	int64_t last_ack_ms;      /* the last ack recorded, 0: none */
	int intake_paused;        /* 1 while files are not taken (disk full, bounds) */
	const char *alert;        /* why, or NULL: none */
	int64_t archives;         /* archive files of evacuated messages, -1: unknown */
};

struct health;

/* A report maker for gateway of utility watching the file system of
 * state_dir (strings copied); starts the CPU clock. NULL on allocation
 * failure. */
struct health *health_new(const char *state_dir, const char *utility, const char *gateway);

/* Frees; tolerates NULL. */
void health_free(struct health *h);

/*
 * Writes the report for wall time now_ms (CPU since the previous call or
 * health_new) into *json (NUL-terminated, *len bytes; caller frees with
 * free). A measurement that fails is reported as -1 (disk, memory) rather
 * than failing the report. Returns SUIDO_OK or SUIDO_ERR_NOMEM.
 */
int health_report(struct health *h, const struct health_input *in, int64_t now_ms, char **json,
		  size_t *len);

#endif
