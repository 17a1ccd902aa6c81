/*
 * The gateway's MQTT connection to the platform (libmosquitto): connects with
 * a persistent session (clean_session off) under the gateway id, announces
 * "online" on the retained status topic with a last will of "offline",
 * subscribes to its ack and command topics at QoS 1, and reconnects with a growing delay
 * (0.2 s to 5 s) whenever the connection is lost. Each successful connection
 * increments a generation number, so the sender knows to resend what was in
 * flight.
 */
#ifndef SUIDO_GATEWAY_LINK_H
#define SUIDO_GATEWAY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "suido/profile.h"

struct link_config {
	const char *host;
	int port;
	int keepalive;
	const char *client_id;
	const char *topic_prefix; /* "suido/v1" */
	const char *utility;
	const char *gateway;
	unsigned max_inflight;
	/* TLS with a client certificate when all three are given (checked at
	 * start by tlsfiles); all NULL: plaintext (benchmarks only) */
	const char *cafile;
	const char *certfile;
	const char *keyfile;
};

/* Called from link_loop for every ack received; strings borrowed for the call. */
typedef void (*link_ack_fn)(void *ctx, const char *msg_id, enum profile_ack_status st,
			    const char *reason);

/* Called from link_loop for every message on the command topic (the
 * retained one again after each subscription); payload[len] is borrowed for
 * the call and unchecked: the callee verifies it. */
typedef void (*link_command_fn)(void *ctx, const void *payload, size_t len, int retained);

struct link;

/* Creates the client (does not connect yet). on_command may be NULL (the
 * command topic is then not subscribed). SUIDO_OK and *out (free with
 * link_free), or SUIDO_ERR_NOMEM / _CONFIG (the TLS files refused) with detail
 * in err. cfg strings are copied. */
int link_new(const struct link_config *cfg, link_ack_fn on_ack, link_command_fn on_command,
	     void *ctx, struct link **out, char *err, size_t errlen);

/* Also subscribes to the certificates topic (docs/protocol.md
 * "Certificates") and hands each message to on_certs (called like a command:
 * payload borrowed, unchecked). Call before the first link_loop. */
void link_on_certificates(struct link *l, link_command_fn on_certs);

/* Publishes "offline" on the status topic, disconnects and frees. Tolerates NULL. */
void link_free(struct link *l);

/* Runs the network for up to timeout_ms: connects or reconnects when due,
 * reads, writes, dispatches acks. Never blocks longer than timeout_ms plus a
 * loopback connect. */
void link_loop(struct link *l, int timeout_ms);

/* 1 while connected and subscribed. */
int link_connected(const struct link *l);

/* Connection generation: changes on every new connection. */
uint64_t link_generation(const struct link *l);

/* Publishes a data message at QoS 1. SUIDO_OK, or SUIDO_ERR_IO when not
 * connected or the client refused it. */
int link_publish_data(struct link *l, const void *payload, size_t len);

/* Publishes a health report on the health topic at QoS 0 (docs/protocol.md
 * "Status and health"). SUIDO_OK, or SUIDO_ERR_IO as link_publish_data. */
int link_publish_health(struct link *l, const void *payload, size_t len);

#endif
