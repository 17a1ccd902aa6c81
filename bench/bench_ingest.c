/*
 * bench_ingest: the publishing side of the ingest_plain benchmark. Behaves
 * like a gateway that has a backlog: pre-encodes N data messages (the one
 * profile encoder, profile_encode), then publishes them at QoS 1 through the
 * broker as fast as it can while at most WINDOW messages are waiting for the
 * platform's ack, and times from the first publish to the last ack.
 *
 * A warm-up message (one row, not counted) goes first and must be acked
 * before the clock starts: it proves the platform is subscribed and creates
 * the items, so item_key i + 1 is item i as bench_gen.h assumes.
 *
 * With --seal GATEWAY_KEY PLATFORM_CERT (PEM files; the ingest_sealed
 * benchmark) it behaves like a gateway configured "format = json": every
 * pre-encoded message, the warm-up included, is sealed once with jose_seal
 * (JWS RS256 with the gateway's key, kid = GATEWAY, inside a JWE for the
 * platform's certificate), before the clock starts, and the tokens are what
 * is published.
 *
 * usage: bench_ingest [--seal GATEWAY_KEY PLATFORM_CERT] HOST PORT UTILITY GATEWAY N_MSGS
 *                     POINTS_PER_MSG N_ITEMS WINDOW
 * Prints key=value lines on stdout; exit status 0 only when every message
 * was acked "stored".
 */
#include <inttypes.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gen.h"
#include "suido/cert.h"
#include "suido/error.h"
#include "suido/jose.h"
#include "suido/profile.h"
#include "suido/strbuf.h"

#define TOPIC_PREFIX "suido/v1"
#define STALL_SECONDS 60.0

struct run {
	char topic_data[256];
	char topic_ack[256];
	char warm_id[PROFILE_ID_MAX + 1];
	int connected;
	int subscribed;
	int warm_acked;
	size_t acked;
	size_t inflight;
	size_t failed;
	double last_ack;
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct run *r = obj;

	if (rc != 0) {
		fprintf(stderr, "bench_ingest: broker refused: %s\n", mosquitto_connack_string(rc));
		return;
	}
	r->connected = 1;
	if (mosquitto_subscribe(m, NULL, r->topic_ack, 1) != MOSQ_ERR_SUCCESS)
		fprintf(stderr, "bench_ingest: subscribe failed\n");
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	struct run *r = obj;

	r->subscribed = n == 1 && granted[0] <= 2;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct run *r = obj;
	char id[PROFILE_ID_MAX + 1], reason[512];
	enum profile_ack_status st;

	if (profile_ack_decode(msg->payload, (size_t)msg->payloadlen, id, sizeof id, &st, reason,
			       sizeof reason) != SUIDO_OK) {
		fprintf(stderr, "bench_ingest: undecodable ack on %s\n", msg->topic);
		r->failed++;
		return;
	}
	if (strcmp(id, r->warm_id) == 0) {
		/* "duplicate" when the warm-up was resent before its first ack. */
		if (st == PROFILE_ACK_REJECTED) {
			fprintf(stderr, "bench_ingest: warm-up message rejected: %s\n", reason);
			r->failed++;
		}
		r->warm_acked = 1;
		return;
	}
	if (st != PROFILE_ACK_STORED) {
		fprintf(stderr, "bench_ingest: message %s acked %s %s\n", id,
			profile_ack_status_name(st), reason);
		r->failed++;
	}
	r->acked++;
	if (r->inflight)
		r->inflight--;
	r->last_ack = bench_now();
}

/* Encodes message seq: rows of message m (or the single warm-up row when
 * m is SIZE_MAX) into out. */
static int encode(const char *utility, const char *gateway, int64_t epoch, uint64_t seq,
		  size_t m, size_t per_msg, size_t n_items, struct strbuf *out)
{
	struct profile_item *items = calloc(n_items, sizeof *items);
	size_t n = m == SIZE_MAX ? n_items : per_msg;
	struct profile_point *pts = calloc(n, sizeof *pts);
	char id[PROFILE_ID_MAX + 1], (*names)[3][64] = calloc(n_items, sizeof *names);
	struct profile_msg msg;
	int rc = -1;

	if (!items || !pts || !names)
		goto done;
	for (size_t i = 0; i < n_items; i++) {
		snprintf(names[i][0], 64, "bench.item%03zu", i);
		snprintf(names[i][1], 64, "ベンチ計測%03zu(m3/h)", i);
		snprintf(names[i][2], 64, "ベンチ浄水場");
		items[i].id = names[i][0];
		items[i].name = names[i][1];
		items[i].unit = (char *)"m3/h";
		items[i].facility = names[i][2];
	}
	for (size_t j = 0; j < n; j++) {
		struct bench_row row;
		if (m == SIZE_MAX) {
			row = bench_row_at(0, j, n_items, n_items);
			row.t_ms -= 86400000; /* a day before the measured rows */
		} else {
			row = bench_row_at(m, j, per_msg, n_items);
		}
		pts[j].item = row.item;
		pts[j].t_ms = row.t_ms;
		pts[j].v = row.v;
	}
	snprintf(id, sizeof id, "%s:%" PRId64 ":%" PRIu64, gateway, epoch, seq);
	msg = (struct profile_msg){
		.id = id,
		.utility = (char *)utility,
		.gateway = (char *)gateway,
		.sent_ms = (int64_t)time(NULL) * 1000,
		.n_items = n_items,
		.items = items,
		.n_points = n,
		.points = pts,
	};
	rc = profile_encode(&msg, out);
done:
	free(items);
	free(pts);
	free(names);
	return rc;
}

/* Replaces each of bufs[0..n) by its sealed form (jose_seal, kid = gateway).
 * Returns the seconds it took, or -1 with a message on stderr. */
static double seal_all(const char *key_path, const char *cert_path, const char *gateway,
		       struct strbuf *bufs, size_t n)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct jose_key *signer = NULL, *recipient = NULL;
	char err[512];
	double t0 = bench_now(), secs = -1;

	if (cert_key_load_file(key_path, &key, err, sizeof err) != SUIDO_OK ||
	    cert_load_file(cert_path, &cert, err, sizeof err) != SUIDO_OK ||
	    jose_key_from_pkey(key, &signer, err, sizeof err) != SUIDO_OK ||
	    jose_key_from_pkey(X509_get0_pubkey(cert), &recipient, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "bench_ingest: --seal keys: %s\n", err);
		goto done;
	}
	for (size_t m = 0; m < n; m++) {
		char *tok = NULL;
		if (jose_seal(bufs[m].data, bufs[m].len, signer, gateway, recipient, 0, &tok, err,
			      sizeof err) != SUIDO_OK) {
			fprintf(stderr, "bench_ingest: jose_seal: %s\n", err);
			goto done;
		}
		strbuf_reset(&bufs[m]);
		if (strbuf_puts(&bufs[m], tok) != 0) {
			free(tok);
			goto done;
		}
		free(tok);
	}
	secs = bench_now() - t0;
done:
	jose_key_free(signer);
	jose_key_free(recipient);
	EVP_PKEY_free(key);
	X509_free(cert);
	return secs;
}

static size_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0) {
		fprintf(stderr, "bench_ingest: %s: expected a positive integer, got \"%s\"\n", what, s);
		exit(64);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	struct run r = {0};
	struct mosquitto *mosq;
	struct strbuf *msgs, warm = STRBUF_INIT;
	size_t n_msgs, per_msg, n_items, window, next = 0, bytes = 0, plain_bytes = 0;
	const char *host, *utility, *gateway, *seal_key = NULL, *seal_cert = NULL;
	double seal_secs = 0;
	int port, rc;
	int64_t epoch = (int64_t)time(NULL);
	double t0, deadline, last_progress;
	size_t last_acked = 0;

	if (argc == 12 && strcmp(argv[1], "--seal") == 0) {
		seal_key = argv[2];
		seal_cert = argv[3];
		argv += 3;
		argc -= 3;
	}
	if (argc != 9) {
		fprintf(stderr, "usage: bench_ingest [--seal GATEWAY_KEY PLATFORM_CERT] HOST PORT "
				"UTILITY GATEWAY N_MSGS POINTS_PER_MSG N_ITEMS WINDOW\n");
		return 64;
	}
	host = argv[1];
	port = (int)parse_size(argv[2], "port");
	utility = argv[3];
	gateway = argv[4];
	n_msgs = parse_size(argv[5], "N_MSGS");
	per_msg = parse_size(argv[6], "POINTS_PER_MSG");
	n_items = parse_size(argv[7], "N_ITEMS");
	window = parse_size(argv[8], "WINDOW");
	if (per_msg % n_items != 0) {
		fprintf(stderr, "bench_ingest: POINTS_PER_MSG must be a multiple of N_ITEMS\n");
		return 64;
	}
	snprintf(r.topic_data, sizeof r.topic_data, "%s/%s/%s/data", TOPIC_PREFIX, utility, gateway);
	snprintf(r.topic_ack, sizeof r.topic_ack, "%s/%s/%s/ack", TOPIC_PREFIX, utility, gateway);
	snprintf(r.warm_id, sizeof r.warm_id, "%s:%" PRId64 ":1", gateway, epoch);

	/* Pre-encode everything: the clock measures the platform, not us. */
	msgs = calloc(n_msgs, sizeof *msgs);
	if (!msgs || encode(utility, gateway, epoch, 1, SIZE_MAX, per_msg, n_items, &warm) != 0)
		return 70;
	for (size_t m = 0; m < n_msgs; m++) {
		if (encode(utility, gateway, epoch, (uint64_t)m + 2, m, per_msg, n_items, &msgs[m]) != 0)
			return 70;
		plain_bytes += msgs[m].len;
	}
	/* Sealed once, like a gateway seals each message once when it cuts it. */
	if (seal_key) {
		if (seal_all(seal_key, seal_cert, gateway, &warm, 1) < 0 ||
		    (seal_secs = seal_all(seal_key, seal_cert, gateway, msgs, n_msgs)) < 0)
			return 70;
	}
	for (size_t m = 0; m < n_msgs; m++)
		bytes += msgs[m].len;

	mosquitto_lib_init();
	mosq = mosquitto_new("suido-bench-ingest", true, &r);
	if (!mosq)
		return 70;
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(mosq, 0);
	/* like the gateway (link.c): no Nagle, unless BENCH_CLIENT_NODELAY=0 */
	if (!getenv("BENCH_CLIENT_NODELAY") || strcmp(getenv("BENCH_CLIENT_NODELAY"), "0") != 0)
		mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	mosquitto_message_callback_set(mosq, on_message);
	if ((rc = mosquitto_connect(mosq, host, port, 60)) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench_ingest: connect: %s\n", mosquitto_strerror(rc));
		return 69;
	}
	deadline = bench_now() + 30;
	while (!r.subscribed && bench_now() < deadline)
		if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (!r.subscribed) {
		fprintf(stderr, "bench_ingest: not subscribed to %s\n", r.topic_ack);
		return 69;
	}
	/* Warm-up: resent every 2 s until acked (the platform may still be
	 * subscribing); a resend is answered "duplicate", which is fine here. */
	deadline = bench_now() + 30;
	for (double resend = 0; !r.warm_acked && bench_now() < deadline;) {
		if (bench_now() >= resend) {
			mosquitto_publish(mosq, NULL, r.topic_data, (int)warm.len, warm.data, 1, false);
			resend = bench_now() + 2;
		}
		if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	}
	if (!r.warm_acked || r.failed) {
		fprintf(stderr, "bench_ingest: the platform did not store the warm-up message\n");
		return 69;
	}

	t0 = bench_now();
	last_progress = t0;
	while (r.acked < n_msgs) {
		while (r.inflight < window && next < n_msgs) {
			rc = mosquitto_publish(mosq, NULL, r.topic_data, (int)msgs[next].len,
					       msgs[next].data, 1, false);
			if (rc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "bench_ingest: publish: %s\n", mosquitto_strerror(rc));
				return 69;
			}
			next++;
			r.inflight++;
		}
		rc = mosquitto_loop(mosq, 100, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "bench_ingest: connection lost: %s\n", mosquitto_strerror(rc));
			return 69;
		}
		if (r.acked != last_acked) {
			last_acked = r.acked;
			last_progress = bench_now();
		} else if (bench_now() - last_progress > STALL_SECONDS) {
			fprintf(stderr, "bench_ingest: no ack for %.0f s (%zu of %zu acked)\n",
				STALL_SECONDS, r.acked, n_msgs);
			return 69;
		}
	}
	{
		double secs = r.last_ack - t0;
		size_t points = n_msgs * per_msg;
		printf("messages=%zu\npoints=%zu\nbytes=%zu\nwindow=%zu\nseconds=%.6f\n"
		       "points_per_s=%.1f\nfailed=%zu\n",
		       n_msgs, points, bytes, window, secs, (double)points / secs, r.failed);
		if (seal_key)
			printf("sealed=1\nplain_bytes=%zu\nseal_seconds=%.6f\n", plain_bytes,
			       seal_secs);
	}
	mosquitto_disconnect(mosq);
	mosquitto_loop(mosq, 50, 1);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	for (size_t m = 0; m < n_msgs; m++)
		strbuf_free(&msgs[m]);
	free(msgs);
	strbuf_free(&warm);
	return r.failed ? 1 : 0;
}
