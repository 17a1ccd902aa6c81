/*
 * MQTT transport of the gateway (link.h) on libmosquitto, driven from the
 * gateway's single thread with mosquitto_loop(), so callbacks run on that
 * thread and need no locks.
 */
#include "link.h"

#include <mosquitto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suido/error.h"
#include "suido/log.h"
#include "suido/timeutil.h"

struct link {
	struct mosquitto *mosq;
	char topic_data[256];
	char topic_ack[256];
	char topic_status[256];
	char topic_command[256];
	char topic_health[256];
	char topic_certs[256];
	char *host;
	int port;
	int keepalive;
	int tls;
	int connected;     /* TCP connected */
	int subscribed;
	int ever_connected;
	uint64_t generation;
	int64_t next_attempt_ms;
	int64_t backoff_ms;
	link_ack_fn on_ack;
	link_command_fn on_command;
	link_command_fn on_certs;
	void *ctx;
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct link *l = obj;

	if (rc != 0) {
		log_warn("link", "broker refused the connection: %s", mosquitto_connack_string(rc));
		return;
	}
	l->connected = 1;
	/* one SUBSCRIBE for both: on_subscribe sees both grants at once */
	char *topics[3] = {l->topic_ack, l->topic_command, l->topic_certs};
	if (mosquitto_subscribe_multiple(m, NULL, l->on_command ? (l->on_certs ? 3 : 2) : 1, topics,
					 1, 0, NULL) != MOSQ_ERR_SUCCESS)
		log_warn("link", "subscribe %s failed", l->topic_ack);
	mosquitto_publish(m, NULL, l->topic_status, 6, "online", 1, true);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
			 const int *granted)
{
	struct link *l = obj;

	(void)mid;
	if (qos_count < 1 || granted[0] > 2) {
		log_warn("link", "broker refused the subscription to %s", l->topic_ack);
		return;
	}
	/* Data still flows without commands: the gateway keeps its last
	 * commanded state; an operator must fix the broker's ACL. */
	if (l->on_command && (qos_count < 2 || granted[1] > 2))
		log_warn("link", "broker refused the subscription to %s: platform commands "
				 "will not arrive", l->topic_command);
	l->subscribed = 1;
	l->generation++;
	l->backoff_ms = 200;
	log_info("link", "connected to %s:%d over %s (generation %llu)", l->host, l->port,
		 l->tls ? "TLS" : "plaintext MQTT", (unsigned long long)l->generation);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct link *l = obj;

	if (l->connected)
		log_warn("link", "disconnected from the broker (%s)",
			 rc ? mosquitto_strerror(rc) : "requested");
	l->connected = 0;
	l->subscribed = 0;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct link *l = obj;
	char id[PROFILE_ID_MAX + 1], reason[256];
	enum profile_ack_status st;

	if (l->on_certs && strcmp(msg->topic, l->topic_certs) == 0) {
		if (msg->payloadlen > 0)
			l->on_certs(l->ctx, msg->payload, (size_t)msg->payloadlen, msg->retain);
		return;
	}
	if (l->on_command && strcmp(msg->topic, l->topic_command) == 0) {
		if (msg->payloadlen > 0) /* empty: the retained command was cleared */
			l->on_command(l->ctx, msg->payload, (size_t)msg->payloadlen, msg->retain);
		return;
	}
	if (strcmp(msg->topic, l->topic_ack) != 0)
		return;
	if (profile_ack_decode(msg->payload, (size_t)msg->payloadlen, id, sizeof id, &st, reason,
			       sizeof reason) != SUIDO_OK) {
		log_warn("link", "malformed ack ignored (%d bytes)", msg->payloadlen);
		return;
	}
	l->on_ack(l->ctx, id, st, reason);
}

int link_new(const struct link_config *cfg, link_ack_fn on_ack, link_command_fn on_command,
	     void *ctx, struct link **out, char *err, size_t errlen)
{
	struct link *l = calloc(1, sizeof *l);

	*out = NULL;
	if (!l)
		return SUIDO_ERR_NOMEM;
	mosquitto_lib_init();
	snprintf(l->topic_data, sizeof l->topic_data, "%s/%s/%s/data", cfg->topic_prefix,
		 cfg->utility, cfg->gateway);
	snprintf(l->topic_ack, sizeof l->topic_ack, "%s/%s/%s/ack", cfg->topic_prefix,
		 cfg->utility, cfg->gateway);
	snprintf(l->topic_status, sizeof l->topic_status, "%s/%s/%s/status", cfg->topic_prefix,
		 cfg->utility, cfg->gateway);
	snprintf(l->topic_command, sizeof l->topic_command, "%s/%s/%s/command",
		 cfg->topic_prefix, cfg->utility, cfg->gateway);
	snprintf(l->topic_health, sizeof l->topic_health, "%s/%s/%s/health", cfg->topic_prefix,
		 cfg->utility, cfg->gateway);
	snprintf(l->topic_certs, sizeof l->topic_certs, "%s/%s/%s/certificates", cfg->topic_prefix,
		 cfg->utility, cfg->gateway);
	l->host = strdup(cfg->host);
	l->port = cfg->port;
	l->keepalive = cfg->keepalive;
	l->on_ack = on_ack;
	l->on_command = on_command;
	l->ctx = ctx;
	l->backoff_ms = 200;
	l->mosq = mosquitto_new(cfg->client_id, false, l);
	if (!l->host || !l->mosq) {
		snprintf(err, errlen, "link: cannot create the MQTT client");
		link_free(l);
		return SUIDO_ERR_NOMEM;
	}
	mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* Messages are pipelined under a window of acks: Nagle would hold each
	 * one back until the previous was acknowledged. */
	mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(l->mosq, cfg->max_inflight);
	if (cfg->cafile && cfg->certfile && cfg->keyfile) {
		/* Peer verification and the broker's name (host must be in its
		 * certificate's SAN) stay on: no mosquitto_tls_insecure_set. */
		int rc = mosquitto_tls_set(l->mosq, cfg->cafile, NULL, cfg->certfile, cfg->keyfile,
					   NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(l->mosq, SSL_VERIFY_PEER, "tlsv1.2", NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			snprintf(err, errlen, "link: TLS files refused by libmosquitto: %s",
				 mosquitto_strerror(rc));
			link_free(l);
			return SUIDO_ERR_CONFIG;
		}
		l->tls = 1;
	}
	mosquitto_will_set(l->mosq, l->topic_status, 7, "offline", 1, true);
	mosquitto_connect_callback_set(l->mosq, on_connect);
	mosquitto_subscribe_callback_set(l->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(l->mosq, on_disconnect);
	mosquitto_message_callback_set(l->mosq, on_message);
	*out = l;
	return SUIDO_OK;
}

void link_on_certificates(struct link *l, link_command_fn on_certs)
{
	l->on_certs = on_certs;
}

void link_free(struct link *l)
{
	if (!l)
		return;
	if (l->mosq) {
		if (l->connected) {
			mosquitto_publish(l->mosq, NULL, l->topic_status, 7, "offline", 1, true);
			mosquitto_loop(l->mosq, 50, 1);
			mosquitto_disconnect(l->mosq);
			mosquitto_loop(l->mosq, 50, 1);
		}
		mosquitto_destroy(l->mosq);
	}
	free(l->host);
	free(l);
	mosquitto_lib_cleanup();
}

static void try_connect(struct link *l)
{
	int64_t now = timeutil_mono_ms();
	int rc;

	if (now < l->next_attempt_ms)
		return;
	rc = l->ever_connected ? mosquitto_reconnect(l->mosq)
			       : mosquitto_connect(l->mosq, l->host, l->port, l->keepalive);
	if (rc == MOSQ_ERR_SUCCESS) {
		l->ever_connected = 1;
		return;
	}
	l->next_attempt_ms = now + l->backoff_ms;
	l->backoff_ms = l->backoff_ms * 2 > 5000 ? 5000 : l->backoff_ms * 2;
	log_debug("link", "connect to %s:%d failed: %s", l->host, l->port, mosquitto_strerror(rc));
}

void link_loop(struct link *l, int timeout_ms)
{
	int rc;

	if (!l->connected && mosquitto_socket(l->mosq) < 0)
		try_connect(l);
	if (mosquitto_socket(l->mosq) < 0) {
		struct timespec ts = {0, (long)timeout_ms * 1000000L};
		nanosleep(&ts, NULL);
		return;
	}
	rc = mosquitto_loop(l->mosq, timeout_ms, 1);
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_PROTOCOL ||
	    rc == MOSQ_ERR_ERRNO) {
		l->connected = 0;
		l->subscribed = 0;
		try_connect(l);
	}
}

int link_connected(const struct link *l)
{
	return l->connected && l->subscribed;
}

uint64_t link_generation(const struct link *l)
{
	return l->generation;
}

int link_publish_data(struct link *l, const void *payload, size_t len)
{
	int rc;

	if (!link_connected(l))
		return SUIDO_ERR_IO;
	rc = mosquitto_publish(l->mosq, NULL, l->topic_data, (int)len, payload, 1, false);
	return rc == MOSQ_ERR_SUCCESS ? SUIDO_OK : SUIDO_ERR_IO;
}

int link_publish_health(struct link *l, const void *payload, size_t len)
{
	int rc;

	if (!link_connected(l))
		return SUIDO_ERR_IO;
	rc = mosquitto_publish(l->mosq, NULL, l->topic_health, (int)len, payload, 0, false);
	return rc == MOSQ_ERR_SUCCESS ? SUIDO_OK : SUIDO_ERR_IO;
}
