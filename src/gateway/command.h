/*
 * Commands from the platform (seed 003 section 3.3, 定周期-データ送付開始 /
 * 定周期-データ送付停止, and resend requests; docs/protocol.md "Commands"):
 * a JWS compact serialization (RS256, kid "platform") signed with the
 * platform's data-protection key, of a "suido.command/1" JSON object naming
 * this gateway, with a sequence number that only grows. command_decode
 * checks everything that can be checked on the token alone; command_accept
 * then applies the sequence rule against the state kept in the queue
 * database and records the command's effect there, so a restart keeps it
 * and an older command replayed after a restart is refused too. What the
 * command does to sending (start, stop, resend) is the caller's to apply.
 */
#ifndef SUIDO_GATEWAY_COMMAND_H
#define SUIDO_GATEWAY_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "queue.h"

#define COMMAND_MAX_BYTES 16384       /* a command token; larger ones are refused unread */
#define COMMAND_RESEND_MAX 100000     /* messages one resend command may ask for */
#define COMMAND_INTERVAL_MAX 86400    /* interval_s of a start, seconds */
#define COMMAND_KID "platform"        /* the JWS kid the platform signs under */

enum command_kind { COMMAND_START = 1, COMMAND_STOP, COMMAND_RESEND };

/* A decoded command. */
struct command {
	enum command_kind kind;
	int64_t seq;               /* >= 1 */
	int64_t issued_ms;
	int64_t interval_s;        /* start: 1..COMMAND_INTERVAL_MAX */
	uint64_t from_seq, to_seq; /* resend: 1 <= from <= to, at most COMMAND_RESEND_MAX */
	int verified;              /* 1: the signature verified; 0: accepted unsigned */
};

struct command_verifier;

/*
 * A verifier for the commands of gateway (of utility; epoch is its queue's,
 * which a resend's optional "epoch" member must equal). platform_key: the
 * public key of the platform's data-protection certificate (only read; it
 * stays the caller's), or NULL when the gateway has none. allow_unsigned
 * ([security] unsigned_commands, plain test setups only): a command may then
 * also be the plain JSON object itself. With neither a key nor
 * allow_unsigned, every command is refused. Returns SUIDO_OK and *out (free
 * with command_verifier_free), SUIDO_ERR_INVALID (the key is unusable,
 * detail in err) or SUIDO_ERR_NOMEM. Strings are copied.
 */
int command_verifier_new(const EVP_PKEY *platform_key, int allow_unsigned, const char *utility,
			 const char *gateway, int64_t epoch, struct command_verifier **out,
			 char *err, size_t errlen);

/* Frees; tolerates NULL. */
void command_verifier_free(struct command_verifier *v);

/* 1 when commands can be accepted at all (a key, or unsigned allowed). */
int command_verifier_usable(const struct command_verifier *v);

/*
 * Verifies and decodes one command msg[len] as received on the command
 * topic. Returns SUIDO_OK and *out, or, with the reason in err (one line,
 * for a WARN): SUIDO_ERR_LIMIT (longer than COMMAND_MAX_BYTES);
 * SUIDO_ERR_SIGNATURE (not a JWS, a signature that does not verify with the
 * platform's key, a kid other than "platform", no key to verify with and
 * unsigned commands not allowed); SUIDO_ERR_PERM (another utility or gateway,
 * a resend for another epoch); SUIDO_ERR_INVALID (not a suido.command/1 JSON
 * object with the members its command needs, in range); SUIDO_ERR_NOMEM.
 * Nothing is changed anywhere.
 */
int command_decode(const struct command_verifier *v, const void *msg, size_t len,
		   struct command *out, char *err, size_t errlen);

/*
 * Applies the sequence rule and records c in q in one durable transaction:
 * c->seq must be greater than the seq of the last command applied; a start
 * sets sending on with its interval, a stop sets it off, a resend changes
 * only the seq. *state receives the control state now in force (on
 * SUIDO_ERR_EXISTS: the unchanged one). Returns SUIDO_OK, SUIDO_ERR_EXISTS
 * (seq not greater: refused, reason in err), or SUIDO_ERR_DB / _FULL /
 * _NOMEM (nothing recorded; the command is not applied).
 */
int command_accept(struct queue *q, const struct command *c, struct queue_control *state,
		   char *err, size_t errlen);

/* "start", "stop" or "resend". */
const char *command_name(enum command_kind kind);

#endif
