/*
 * The data profile, JSON format, version 1 ("suido.data/1"): the plaintext
 * body of every data message a gateway sends to the platform, and the ack the
 * platform answers with. docs/protocol.md is the normative description for
 * vendors; this module is the one encoder and the one decoder of it.
 *
 *   {"profile":"suido.data/1","id":"gw1:1763600000:42","utility":"demo",
 *    "gateway":"gw1","sent":"2026-11-20T01:00:00Z",
 *    "items":[{"id":"haisuichi.0f..","name":"配水池水位(m)","unit":"m",
 *              "facility":"配水池"}],
 *    "points":[[0,"2026-11-19T15:00:00Z",4.5], ...]}
 *
 * A point is [index into items, ISO 8601 instant with Z or offset, value];
 * the value is a number, or a string of at most PROFILE_VALUE_TEXT_MAX bytes
 * (a text value: a status word, or a masked token such as "~m1.s.k1.…" of a
 * field the gateway masked with the utility's key, docs/masking.md).
 * Unknown members are ignored (newer minor versions may add some).
 *
 * Ack: {"profile":"suido.ack/1","id":"gw1:1763600000:42","status":"stored"}
 * status is stored | duplicate | rejected, with "reason" for rejected.
 */
#ifndef SUIDO_PROFILE_H
#define SUIDO_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define PROFILE_DATA_V1 "suido.data/1"
#define PROFILE_ACK_V1 "suido.ack/1"
#define PROFILE_NAME_MAX 64   /* utility and gateway ids */
#define PROFILE_ID_MAX 160    /* message ids */
#define PROFILE_ITEM_ID_MAX 128
#define PROFILE_TEXT_MAX 512  /* item names, units, facilities */
#define PROFILE_VALUE_TEXT_MAX 2048 /* text values */

struct profile_item {
	char *id;
	char *name;
	char *unit;     /* "" when none */
	char *facility; /* "" when none */
};

struct profile_point {
	uint32_t item; /* index into items */
	int64_t t_ms;
	double v;   /* the value when text is NULL (0 otherwise) */
	char *text; /* NULL for a number; else the text value, owned by the message */
};

struct profile_msg {
	char *id;
	char *utility;
	char *gateway;
	int64_t sent_ms;
	size_t n_items;
	struct profile_item *items;
	size_t n_points;
	struct profile_point *points;
};

struct profile_limits {
	size_t max_bytes;  /* 0 = 8 MiB */
	size_t max_items;  /* 0 = 10,000 */
	size_t max_points; /* 0 = 200,000 */
};

/*
 * Decodes a data message. Returns SUIDO_OK and *out (free with
 * profile_msg_free), SUIDO_ERR_LIMIT (a cap of lim exceeded) or
 * SUIDO_ERR_INVALID with what and where in err ("points[3][1]: not an ISO 8601
 * instant with offset"), or SUIDO_ERR_NOMEM. Names are checked with
 * profile_name_valid, item ids with profile_item_id_valid, the message id
 * with profile_msg_id_parse (its gateway part must equal "gateway").
 */
int profile_decode(const char *buf, size_t len, const struct profile_limits *lim,
		   struct profile_msg **out, char *err, size_t errlen);

/* Frees a decoded message; tolerates NULL. */
void profile_msg_free(struct profile_msg *m);

/* Appends the JSON of m to out. Returns 0, or -1 when out failed (out->failed). */
int profile_encode(const struct profile_msg *m, struct strbuf *out);

/* Nonzero when s is 1..64 bytes of [A-Za-z0-9_.-] (utility and gateway ids). */
int profile_name_valid(const char *s);

/* Nonzero when s is 1..128 bytes of UTF-8 without '/', '\\', controls. */
int profile_item_id_valid(const char *s);

/*
 * Splits "gateway:epoch:seq". Returns SUIDO_OK filling the outputs (gateway
 * copied into gw[gwlen]), or SUIDO_ERR_INVALID.
 */
int profile_msg_id_parse(const char *id, char *gw, size_t gwlen, int64_t *epoch, uint64_t *seq);

enum profile_ack_status { PROFILE_ACK_STORED, PROFILE_ACK_DUPLICATE, PROFILE_ACK_REJECTED };

/* Appends an ack; reason may be NULL. Returns 0 or -1 (out->failed). */
int profile_ack_encode(const char *msg_id, enum profile_ack_status st, const char *reason,
		       struct strbuf *out);

/*
 * Decodes an ack: message id into id[idlen], status, reason into
 * reason[rlen] ("" when none). SUIDO_OK or SUIDO_ERR_INVALID.
 */
int profile_ack_decode(const char *buf, size_t len, char *id, size_t idlen,
		       enum profile_ack_status *st, char *reason, size_t rlen);

const char *profile_ack_status_name(enum profile_ack_status st);

#endif
