/*
 * Platform commands to gateways (seed 003 section 3, docs/protocol.md
 * "Commands"): start (with the sending interval), stop and resend requests,
 * each a JWS (RS256, kid "platform") signed with the platform's
 * data-protection key and published on suido/v1/{utility}/{gateway}/command;
 * start and stop retained (the gateway's desired state), resend not.
 *
 * Commands are asked for from any thread (the AP interface's admin
 * requests, the gap detector) with command_post and published by the ingest
 * thread, which owns the MQTT connection, with command_take. Every command
 * gets a seq greater than every seq this platform gave before: the current
 * time in milliseconds, or one more than the last when the clock has not
 * moved on (so after a restart seqs keep growing as long as the clock does).
 */
#ifndef SUIDO_PLATFORM_COMMAND_H
#define SUIDO_PLATFORM_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "suido/jose.h"
#include "suido/profile.h"

enum command_kind { COMMAND_START, COMMAND_STOP, COMMAND_RESEND };

#define COMMAND_INTERVAL_MAX 86400u      /* seconds */
#define COMMAND_RESEND_MAX 100000u       /* messages one resend may ask for */

struct command {
	enum command_kind kind;
	char utility[PROFILE_NAME_MAX + 1];
	char gateway[PROFILE_NAME_MAX + 1];
	unsigned interval_s;        /* start: 1..COMMAND_INTERVAL_MAX */
	uint64_t from_seq, to_seq;  /* resend: from <= to, at most COMMAND_RESEND_MAX apart */
	char reason[64];            /* who asked, for the log ("admin", "gap", "startup") */
};

struct command_queue;

/* Creates an empty queue; NULL when out of memory. Free with command_queue_free. */
struct command_queue *command_queue_new(void);
void command_queue_free(struct command_queue *q);

/*
 * Checks c (names, interval, range) and appends a copy. Thread-safe.
 * SUIDO_OK, SUIDO_ERR_INVALID with the reason in err, SUIDO_ERR_LIMIT (more
 * than 10,000 commands waiting), SUIDO_ERR_NOMEM.
 */
int command_post(struct command_queue *q, const struct command *c, char *err, size_t errlen);

/* Takes the oldest waiting command into *out. Thread-safe. 1 when one was
 * taken, 0 when none waits. */
int command_take(struct command_queue *q, struct command *out);

/*
 * Signs c for publishing: *jws (malloc'ed, caller frees) of the command JSON
 * with seq *seq (set here: the next seq, see above; *last is the previous
 * one, updated) issued at now_ms. SUIDO_OK or a code of jose_sign with err.
 */
int command_sign(const struct command *c, const struct jose_key *platform, int64_t now_ms,
		 uint64_t *last, uint64_t *seq, char **jws, char *err, size_t errlen);

/* "start", "stop" or "resend". */
const char *command_kind_name(enum command_kind k);

/* The kind named s, or -1. */
int command_parse_kind(const char *s);

#endif
