/*
 * The GW interface ingest of the platform: consumes data messages from the
 * MQTT broker with a persistent session, checks each against the registered
 * gateways, opens a sealed message (jose_open: decrypt with the platform's
 * key, verify with the topic gateway's certificate, kid = gateway id) and
 * refuses anything unsealed, tampered, signed by another gateway or under a
 * refused certificate, decodes the data profile, stores a batch of messages in one
 * transaction (message id UNIQUE: a resend is answered "duplicate" and stored
 * once), and publishes each gateway's ack only after the commit.
 */
#ifndef SUIDO_PLATFORM_INGEST_H
#define SUIDO_PLATFORM_INGEST_H

#include <stddef.h>

#include "command.h"
#include "gwkeys.h"
#include "metrics.h"
#include "monitor.h"
#include "platconf.h"
#include "suido/store.h"

struct ingest;

/*
 * Creates the consumer (not yet connected). cfg, keys (gwkeys_load of cfg),
 * st and m are borrowed for its life; st is used only from the thread calling
 * ingest_loop. With cfg->mqtt_tls set, the client connects over TLS 1.2+ with
 * that client certificate, verifying the broker's certificate and name.
 * SUIDO_OK and *out, or SUIDO_ERR_NOMEM / _CONFIG (TLS files refused by
 * libmosquitto) with detail in err.
 */
int ingest_new(const struct plat_config *cfg, const struct gwkeys *keys, struct store *st,
	       struct metrics *m, struct ingest **out, char *err, size_t errlen);
void ingest_free(struct ingest *in);

/*
 * Gives the ingest the gateway monitor and the command queue (both borrowed
 * for its life; either may be NULL). It then also subscribes to the
 * gateways' status and health topics and feeds mon, publishes the commands
 * posted to cmds (signed with the platform's key), the retained start or
 * stop of every gateway's configuration on its first connection, and keeps
 * each state change of mon in the store.
 */
void ingest_attach(struct ingest *in, struct monitor *mon, struct command_queue *cmds);

/* Runs the network for up to timeout_ms, (re)connecting when due, and stores
 * and acknowledges what arrived. */
void ingest_loop(struct ingest *in, int timeout_ms);

/*
 * Stores one batch of raw messages (topic, payload) and fills, for each, the
 * ack to publish: ack_topic[i] (caller buffers of 256 bytes) and ack[i]
 * (appended to the caller's strbufs; a refused message whose id cannot be
 * known gets an ack with id ""). Returns SUIDO_OK when committed (acks valid), or the store's error after a rollback (no ack may be sent).
 * Exposed for tests and benchmarks; ingest_loop uses it.
 */
int ingest_store_batch(struct ingest *in, size_t n, const char *const *topics,
		       const void *const *payloads, const size_t *lens, char (*ack_topic)[256],
		       struct strbuf *acks);

#endif
