/*
 * Gap detection in each gateway's message sequence (issue 4, "resend"): a
 * gateway numbers its messages {gateway}:{epoch}:{seq}, seq 1, 2, 3, ...
 * per epoch (docs/protocol.md). When a later message of the current epoch
 * has arrived but an earlier one has not, for longer than a grace time (the
 * gateway resends an unacked message by itself after its ack timeout; the
 * grace lets that happen first), the ingest asks the gateway to resend the
 * missing range, again after each further grace while it stays missing.
 *
 * Per gateway: the epoch, "base" (every seq up to it has arrived) and a
 * window of GAPS_WINDOW seqs above it. A message beyond the window moves the
 * window up and asks for everything it skipped. State is in memory; the
 * first message of a gateway's epoch after a platform start primes the
 * window from the seqs the store holds for that epoch (gaps_prime), so gaps
 * that were open at the restart, or that a database restored from a backup
 * has, are found too. Used by the ingest thread only.
 */
#ifndef SUIDO_PLATFORM_GAPS_H
#define SUIDO_PLATFORM_GAPS_H

#include <stddef.h>
#include <stdint.h>

#include "platconf.h"

#define GAPS_WINDOW 4096

struct gaps;

/* For cfg's gateways (borrowed); grace_ms before a gap is asked for. NULL
 * when out of memory. */
struct gaps *gaps_new(const struct plat_config *cfg, int64_t grace_ms);
void gaps_free(struct gaps *g);

/* Nonzero when gw's window follows epoch already (else prime it first). */
int gaps_known(const struct gaps *g, const struct plat_gateway *gw, int64_t epoch);

/*
 * Sets gw's window to epoch with the seqs[n] the store holds for it (any
 * order; the newest GAPS_WINDOW are enough): every seq below the lowest given
 * is taken as arrived; with none, the epoch is taken as empty, so everything
 * from seq 1 up to the next message seen is a gap.
 */
void gaps_prime(struct gaps *g, const struct plat_gateway *gw, int64_t epoch,
		const uint64_t *seqs, size_t n, int64_t now_ms);

/* A message of gw with this epoch and seq was stored (or was a duplicate). */
void gaps_seen(struct gaps *g, const struct plat_gateway *gw, int64_t epoch, uint64_t seq,
	       int64_t now_ms);

/* Called with each range to ask for: gw, from..to (inclusive). */
typedef void (*gaps_ask_fn)(void *ctx, const struct plat_gateway *gw, uint64_t from,
			    uint64_t to);

/* Asks (through fn) for every gap open longer than the grace. */
void gaps_tick(struct gaps *g, int64_t now_ms, gaps_ask_fn fn, void *ctx);

#endif
