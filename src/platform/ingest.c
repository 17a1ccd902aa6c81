/*
 * MQTT ingest of the platform (ingest.h). libmosquitto runs in the calling
 * thread: messages are copied out of the callback into a batch, and the batch
 * is stored and acknowledged when it is full or the loop call ends. A
 * message's QoS 1 PUBACK only says the broker handed it over; our own ack,
 * sent after the commit, is what lets the gateway forget it.
 */
#include "ingest.h"

#include "certbundle.h"
#include "files.h"
#include "gaps.h"

#include <jansson.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suido/error.h"
#include "suido/jose.h"
#include "suido/log.h"
#include "suido/timeutil.h"
#include "suido/profile.h"
#include "suido/profile_xml.h"
#include "suido/xmlseal.h"

struct pending {
	char *topic;
	void *payload;
	size_t len;
};

/*
 * Items already in the store as the last message described them: utility +
 * item id -> item key, with the name, unit and facility last written. Most
 * messages repeat the items of the one before, and an upsert per item per
 * message is most of the cost of a small message; a hit with the same
 * attributes skips it, anything else upserts (latest wins, as before) and
 * updates the entry. Cleared on a rollback (keys of rows inserted in the
 * rolled-back transaction are gone) and when full.
 */
#define ITEM_CACHE_CAP 65536 /* slots, a power of two; cleared at 3/4 full */

struct item_entry {
	char *key;   /* "utility\x1fid", NULL: empty slot */
	char *attrs; /* "name\x1funit\x1ffacility" */
	int64_t item_key;
};

struct item_cache {
	struct item_entry *slot;
	size_t used;
};

struct ingest {
	const struct plat_config *cfg;
	const struct gwkeys *keys;
	struct store *st;
	struct metrics *m;
	struct mosquitto *mosq;
	char sub[256];
	char sub_file[256];
	char sub_status[256];
	char sub_health[256];
	struct monitor *mon;          /* NULL: no monitoring */
	struct command_queue *cmds;   /* NULL: no commands */
	uint64_t cmd_last_seq;
	struct gaps *gaps;            /* with cmds: resend requests for gaps */
	int startup_posted;
	int64_t next_tick_ms;
	int connected;
	int ever_connected;
	int64_t next_attempt_ms;
	int64_t backoff_ms;
	struct pending *batch;
	size_t n;
	/* reused per batch */
	const char **topics;
	const void **payloads;
	size_t *lens;
	char (*ack_topic)[256];
	struct strbuf *acks;
	int64_t *item_keys;
	size_t item_keys_cap;
	struct item_cache cache;
};

enum topic_kind { TOPIC_DATA, TOPIC_FILE, TOPIC_STATUS, TOPIC_HEALTH };

/* Splits "{prefix}/{utility}/{gateway}/{kind}". Returns 0 or -1. */
static int parse_topic_kind(const char *prefix, const char *topic, char *utility,
			    char *gateway, enum topic_kind *kind)
{
	size_t pl = strlen(prefix);
	const char *u, *g, *k;

	if (strncmp(topic, prefix, pl) != 0 || topic[pl] != '/')
		return -1;
	u = topic + pl + 1;
	g = strchr(u, '/');
	if (!g || g - u > PROFILE_NAME_MAX)
		return -1;
	k = strchr(g + 1, '/');
	if (!k || k - g - 1 > PROFILE_NAME_MAX)
		return -1;
	if (strcmp(k, "/data") == 0)
		*kind = TOPIC_DATA;
	else if (strcmp(k, "/file") == 0)
		*kind = TOPIC_FILE;
	else if (strcmp(k, "/status") == 0)
		*kind = TOPIC_STATUS;
	else if (strcmp(k, "/health") == 0)
		*kind = TOPIC_HEALTH;
	else
		return -1;
	memcpy(utility, u, (size_t)(g - u));
	utility[g - u] = '\0';
	memcpy(gateway, g + 1, (size_t)(k - g - 1));
	gateway[k - g - 1] = '\0';
	return profile_name_valid(utility) && profile_name_valid(gateway) ? 0 : -1;
}

/* The batch's topics: data or file (*is_file set). Returns 0 or -1. */
static int parse_topic(const char *prefix, const char *topic, char *utility, char *gateway,
		       int *is_file)
{
	enum topic_kind k;

	if (parse_topic_kind(prefix, topic, utility, gateway, &k) != 0 ||
	    (k != TOPIC_DATA && k != TOPIC_FILE))
		return -1;
	*is_file = k == TOPIC_FILE;
	return 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void cache_clear(struct item_cache *c)
{
	if (!c->slot)
		return;
	for (size_t i = 0; i < ITEM_CACHE_CAP; i++) {
		free(c->slot[i].key);
		free(c->slot[i].attrs);
	}
	memset(c->slot, 0, ITEM_CACHE_CAP * sizeof *c->slot);
	c->used = 0;
}

/* The slot of key: its entry, or the empty slot where it goes; NULL when
 * the cache has no table (out of memory: every item is upserted). */
static struct item_entry *cache_slot(struct item_cache *c, const char *key)
{
	size_t i;

	if (!c->slot && !(c->slot = calloc(ITEM_CACHE_CAP, sizeof *c->slot)))
		return NULL;
	for (i = fnv1a(key) & (ITEM_CACHE_CAP - 1); c->slot[i].key; i = (i + 1) & (ITEM_CACHE_CAP - 1))
		if (strcmp(c->slot[i].key, key) == 0)
			break;
	return &c->slot[i];
}

/* The item's key, from the cache or by an upsert. */
static int put_item(struct ingest *in, const char *utility, const struct profile_item *pi,
		    int64_t *item_key)
{
	struct store_item it = {pi->id, pi->name, pi->unit, pi->facility};
	char key[PROFILE_NAME_MAX + PROFILE_ITEM_ID_MAX + 2];
	char attrs[3 * PROFILE_TEXT_MAX + 3];
	struct item_entry *e;
	int rc;

	snprintf(key, sizeof key, "%s\x1f%s", utility, pi->id);
	snprintf(attrs, sizeof attrs, "%s\x1f%s\x1f%s", pi->name, pi->unit, pi->facility);
	e = cache_slot(&in->cache, key);
	if (e && e->key && strcmp(e->attrs, attrs) == 0) {
		*item_key = e->item_key;
		return SUIDO_OK;
	}
	if ((rc = store_put_item(in->st, utility, &it, item_key)) != SUIDO_OK || !e)
		return rc;
	if (!e->key) {
		if (in->cache.used >= ITEM_CACHE_CAP / 4 * 3) {
			cache_clear(&in->cache);
			e = cache_slot(&in->cache, key);
		}
		if (!(e->key = strdup(key)))
			return SUIDO_OK; /* only the cache missed out */
		in->cache.used++;
	}
	free(e->attrs);
	if (!(e->attrs = strdup(attrs))) {
		e->attrs = strdup(""); /* never matches: the next message upserts */
		if (!e->attrs) {
			cache_clear(&in->cache);
			return SUIDO_OK;
		}
	}
	e->item_key = *item_key;
	return SUIDO_OK;
}

/* Stores one decoded, authorised message with its signed original (NULL for
 * a plaintext gateway) in the batch's transaction. SUIDO_OK, _EXISTS
 * (duplicate), or a store error that aborts the batch. */
static int store_msg(struct ingest *in, const struct profile_msg *msg, const char *original,
		     size_t original_len, int64_t now)
{
	int rc = store_put_message(in->st, msg->utility, msg->gateway, msg->id, now, msg->n_points,
				   original, original_len);

	if (rc != SUIDO_OK)
		return rc;
	if (msg->n_items > in->item_keys_cap) {
		int64_t *nk = realloc(in->item_keys, msg->n_items * sizeof *nk);
		if (!nk)
			return SUIDO_ERR_NOMEM;
		in->item_keys = nk;
		in->item_keys_cap = msg->n_items;
	}
	for (size_t i = 0; i < msg->n_items; i++)
		if ((rc = put_item(in, msg->utility, &msg->items[i], &in->item_keys[i])) != SUIDO_OK)
			return rc;
	for (size_t i = 0; i < msg->n_points; i++) {
		const struct profile_point *p = &msg->points[i];
		int64_t key = in->item_keys[p->item];
		rc = p->text ? store_put_text(in->st, key, p->t_ms, p->text)
			     : store_put_point(in->st, key, p->t_ms, p->v);
		if (rc != SUIDO_OK)
			return rc;
	}
	return SUIDO_OK;
}

/* The signer lookup of jose_open: the topic's gateway key, and only under
 * the topic's gateway id as kid; anything else is remembered for the reason. */
struct signer_ctx {
	const char *gateway;
	const struct jose_key *key;
	int mismatch;
	char kid[80];
};

static int find_signer(void *ctx, const char *kid, const struct jose_key **key)
{
	struct signer_ctx *sc = ctx;

	if (kid && strcmp(kid, sc->gateway) == 0) {
		*key = sc->key;
		return SUIDO_OK;
	}
	sc->mismatch = 1;
	/* kid is printable ASCII (jose checks it); long ones are cut for the log */
	snprintf(sc->kid, sizeof sc->kid, "%s", kid ? kid : "");
	return SUIDO_ERR_PERM;
}

/*
 * Opens an xml gateway's sealed document (docs/protocol-xml.md): decrypts
 * the Points with the platform's key and verifies that the whole Data
 * element is signed by the gateway's registered key (xmlseal_open). On
 * SUIDO_OK *doc is the decrypted document with its ds:Signature: the body to
 * decode and the signed original kept (xmlseal_verify checks it again
 * later). Every failure of xmlseal_open gets the same reason towards the
 * gateway, the detail is logged here only: AES-CBC has no MAC of its own,
 * and distinguishable failures would make a padding oracle (xmlseal.h).
 */
static int open_sealed_xml(struct ingest *in, const struct plat_gateway *gw,
			   const void *payload, size_t len, char **doc, size_t *doclen, char *why,
			   size_t whylen)
{
	struct xmlseal_limits lim = {in->cfg->max_message_bytes, 0};
	const char *refusal = NULL, *p = payload, *end = p + len;
	EVP_PKEY *sender = gwkeys_gateway_pkey(in->keys, gw, &refusal);
	char err[200];
	int rc;

	if (!sender) {
		snprintf(why, whylen, "%s", refusal);
		return SUIDO_ERR_CERT;
	}
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p == end || *p != '<') {
		snprintf(why, whylen, "not a sealed message (gateway %s must send sealed XML "
				      "documents)", gw->id);
		return SUIDO_ERR_INVALID;
	}
	rc = xmlseal_open(payload, len, gwkeys_platform_pkey(in->keys), sender,
			  PROFILE_XML_XPATH_DATA, &lim, doc, doclen, err, sizeof err);
	if (rc == SUIDO_ERR_DECRYPT && gwkeys_previous_pkey(in->keys)) /* sealed before a rotation */
		rc = xmlseal_open(payload, len, gwkeys_previous_pkey(in->keys), sender,
				  PROFILE_XML_XPATH_DATA, &lim, doc, doclen, err, sizeof err);
	if (rc == SUIDO_OK || rc == SUIDO_ERR_NOMEM)
		return rc;
	log_warn("ingest", "sealed XML message from %s/%s refused: %s: %s", gw->utility, gw->id,
		 suido_strerror(rc), err);
	snprintf(why, whylen, "sealed message refused: it does not decrypt or its signature "
			      "does not verify");
	return rc;
}

/*
 * Opens a sealed message. json: one RSA private-key operation (jose_open),
 * after the cheap checks; SUIDO_OK, *plain and *jws (the verified inner JWS,
 * kept as the message's signed original; caller frees both). xml
 * (open_sealed_xml): SUIDO_OK, *plain NULL and *jws the opened document,
 * which is both the body and the signed original. Or SUIDO_ERR_NOMEM, or
 * any other code with the refusal in why.
 */
static int open_sealed(struct ingest *in, const struct plat_gateway *gw, const void *payload,
		       size_t len, char **plain, size_t *plen, char **jws, size_t *jwslen,
		       char *why, size_t whylen)
{
	const char *refusal = NULL;
	struct signer_ctx sc = {gw->id, NULL, 0, ""};
	struct jose_signer_lookup lookup = {find_signer, &sc};
	char err[200];
	int rc;

	*plain = NULL;
	*plen = 0;
	*jws = NULL;
	*jwslen = 0;
	if (gw->format == PLAT_FORMAT_XML)
		return open_sealed_xml(in, gw, payload, len, jws, jwslen, why, whylen);
	sc.key = gwkeys_gateway(in->keys, gw, &refusal);
	if (!sc.key) {
		snprintf(why, whylen, "%s", refusal);
		return SUIDO_ERR_CERT;
	}
	if (len == 0 || ((const char *)payload)[0] == '{') {
		snprintf(why, whylen, "not a sealed message (gateway %s must send JWE compact "
				      "tokens)", gw->id);
		return SUIDO_ERR_INVALID;
	}
	rc = jose_open_jws(payload, len, gwkeys_platform(in->keys), NULL, &lookup,
			   in->cfg->max_message_bytes, plain, plen, NULL, jws, jwslen, err,
			   sizeof err);
	if (rc == SUIDO_ERR_DECRYPT && gwkeys_previous(in->keys)) {
		/* sealed for the certificate before a rotation, still in flight */
		sc.mismatch = 0;
		rc = jose_open_jws(payload, len, gwkeys_previous(in->keys), NULL, &lookup,
				   in->cfg->max_message_bytes, plain, plen, NULL, jws, jwslen, err,
				   sizeof err);
	}
	if (rc == SUIDO_OK || rc == SUIDO_ERR_NOMEM)
		return rc;
	if (sc.mismatch)
		snprintf(why, whylen, "signed as %s but came on %s", sc.kid[0] ? sc.kid : "(no kid)",
			 gw->id);
	else
		snprintf(why, whylen, "sealed message refused: %s: %s", suido_strerror(rc), err);
	return rc;
}

/*
 * A gateway's file deposit (topic .../file, docs/protocol.md "Files"): opened,
 * verified with the gateway's certificate and stored by files_deposit inside
 * the batch's transaction. SUIDO_OK with the ack in *ack and *outcome 0
 * (stored or duplicate), 1 (rejected) or 2 (refused by the sealed transport,
 * rejected too), or a store error that aborts the batch.
 */
static int take_file(struct ingest *in, const struct plat_gateway *gw, const char *utility,
		     const void *zip, size_t len, int64_t now, struct strbuf *ack, int *outcome,
		     uint64_t *files)
{
	const char *refusal = NULL;
	EVP_PKEY *pub = NULL;
	struct files_deposit d;
	char sender[PROFILE_NAME_MAX + 16], why[300], id[FILES_ID_LEN + 8];
	int rc;

	*outcome = 2;
	if (gw->format == PLAT_FORMAT_PLAIN) {
		snprintf(why, sizeof why, "gateway %s has format = plain: files are accepted from "
			 "sealed gateways only", gw->id);
		goto refuse;
	}
	if (!(pub = gwkeys_gateway_pkey(in->keys, gw, &refusal))) {
		snprintf(why, sizeof why, "%s", refusal);
		goto refuse;
	}
	snprintf(sender, sizeof sender, "gateway:%s", gw->id);
	rc = files_deposit(in->st, utility, sender, gwkeys_platform_pkey(in->keys), pub, zip, len,
			   in->cfg->files_max_bytes, now, &d, why, sizeof why);
	if (rc == SUIDO_ERR_DECRYPT && gwkeys_previous_pkey(in->keys))
		rc = files_deposit(in->st, utility, sender, gwkeys_previous_pkey(in->keys), pub, zip,
				   len, in->cfg->files_max_bytes, now, &d, why, sizeof why);
	if (rc == SUIDO_OK) {
		*outcome = 0;
		snprintf(id, sizeof id, "file:%s", d.id);
		log_info("ingest", "file %s (%s, %lld bytes) %s by gateway %s", d.id, d.name,
			 (long long)d.size, d.duplicate ? "deposited again" : "deposited", gw->id);
		*files += !d.duplicate;
		profile_ack_encode(id, d.duplicate ? PROFILE_ACK_DUPLICATE : PROFILE_ACK_STORED, NULL,
				   ack);
		return SUIDO_OK;
	}
	switch (rc) {
	case SUIDO_ERR_LIMIT:
		*outcome = 1;
		log_warn("ingest", "refused file from %s/%s: %s", utility, gw->id, why);
		snprintf(why, sizeof why, "file larger than %zu bytes", in->cfg->files_max_bytes);
		break;
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_DECRYPT:
	case SUIDO_ERR_SIGNATURE:
		/* one reason for every failure to open: no padding oracle */
		log_warn("ingest", "refused file from %s/%s (security): %s: %s", utility, gw->id,
			 suido_strerror(rc), why);
		snprintf(why, sizeof why, "sealed file refused: it cannot be opened with the "
			 "platform's key or is not signed by gateway %s", gw->id);
		break;
	case SUIDO_ERR_NOTFOUND:
		*outcome = 1;
		snprintf(why, sizeof why, "utility %s is not in the store", utility);
		break;
	default:
		return rc; /* the store failed: the batch is rolled back */
	}
	profile_ack_encode("", PROFILE_ACK_REJECTED, why, ack);
	return SUIDO_OK;
refuse:
	log_warn("ingest", "refused file from %s/%s (security): %s", utility, gw->id, why);
	profile_ack_encode("", PROFILE_ACK_REJECTED, why, ack);
	return SUIDO_OK;
}

/* Feeds the gap detector with a stored (or duplicate) message's seq. The
 * seqs of a batch that is rolled back afterwards were seen too early: the
 * gateway resends them, and at worst a resend is asked for in vain. */
struct seqs {
	uint64_t v[GAPS_WINDOW];
	size_t n;
};

static int collect_seq(void *ctx, uint64_t seq)
{
	struct seqs *s = ctx;

	s->v[s->n++] = seq;
	return s->n == GAPS_WINDOW;
}

static void seen_seq(struct ingest *in, const struct plat_gateway *gw, const char *id,
		     int64_t now)
{
	char g[PROFILE_NAME_MAX + 1];
	int64_t epoch;
	uint64_t seq;

	if (!in->gaps || profile_msg_id_parse(id, g, sizeof g, &epoch, &seq) != SUIDO_OK)
		return;
	if (!gaps_known(in->gaps, gw, epoch)) {
		/* the first message of this epoch since the start: what does the
		 * store hold of it already (this message included)? */
		struct seqs *s = calloc(1, sizeof *s);
		if (s && store_recent_seqs(in->st, gw->utility, gw->id, epoch, GAPS_WINDOW,
					   collect_seq, s) == SUIDO_OK)
			gaps_prime(in->gaps, gw, epoch, s->v, s->n, now);
		free(s);
	}
	gaps_seen(in->gaps, gw, epoch, seq, now);
}

int ingest_store_batch(struct ingest *in, size_t n, const char *const *topics,
		       const void *const *payloads, const size_t *lens, char (*ack_topic)[256],
		       struct strbuf *acks)
{
	struct profile_limits lim = {in->cfg->max_message_bytes, 0, 0};
	int64_t now = timeutil_now_ms();
	uint64_t stored = 0, dup = 0, rej = 0, refused = 0, points = 0, files = 0;
	int rc, is_file = 0;

	if ((rc = store_begin(in->st)) != SUIDO_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char utility[PROFILE_NAME_MAX + 1], gateway[PROFILE_NAME_MAX + 1], why[400];
		const struct plat_gateway *gw;
		struct profile_msg *msg = NULL;
		const char *id = "";
		const void *body = payloads[i];
		size_t blen = lens[i];
		char *plain = NULL, *jws = NULL;
		size_t plen = 0, jwslen = 0;

		ack_topic[i][0] = '\0';
		strbuf_reset(&acks[i]);
		if (parse_topic(in->cfg->topic_prefix, topics[i], utility, gateway, &is_file) != 0) {
			log_warn("ingest", "message on unexpected topic ignored");
			rej++;
			continue;
		}
		snprintf(ack_topic[i], 256, "%s/%s/%s/ack", in->cfg->topic_prefix, utility, gateway);
		/* Registration first: the topic's gateway decides how the message
		 * is sealed and whose certificate verifies it. An unregistered
		 * sender is told why, under id "" (nothing of it is opened). */
		gw = plat_config_gateway(in->cfg, gateway);
		if (!gw || strcmp(gw->utility, utility) != 0) {
			snprintf(why, sizeof why, "gateway %s is not registered for utility %s",
				 gateway, utility);
			goto reject;
		}
		if (is_file) {
			int outcome = 0;
			rc = take_file(in, gw, utility, payloads[i], lens[i], now, &acks[i],
				       &outcome, &files);
			if (rc != SUIDO_OK)
				goto abort;
			rej += outcome != 0;
			refused += outcome == 2;
			continue;
		}
		if (gw->format != PLAT_FORMAT_PLAIN) {
			rc = open_sealed(in, gw, payloads[i], lens[i], &plain, &plen, &jws, &jwslen,
					 why, sizeof why);
			if (rc == SUIDO_ERR_NOMEM)
				goto abort;
			if (rc != SUIDO_OK)
				goto refuse;
			/* xml: the opened document is the body and the original */
			body = gw->format == PLAT_FORMAT_XML ? jws : plain;
			blen = gw->format == PLAT_FORMAT_XML ? jwslen : plen;
		}
		/* the decoders are bounded */
		if (gw->format == PLAT_FORMAT_XML)
			rc = profile_xml_decode(body, blen, &lim, &msg, why, sizeof why);
		else
			rc = profile_decode(body, blen, &lim, &msg, why, sizeof why);
		if (rc == SUIDO_ERR_NOMEM)
			goto abort;
		if (rc != SUIDO_OK)
			goto reject;
		id = msg->id;
		if (strcmp(msg->utility, utility) != 0 || strcmp(msg->gateway, gateway) != 0) {
			snprintf(why, sizeof why, "message names %s/%s but came on %s/%s",
				 msg->utility, msg->gateway, utility, gateway);
			goto reject;
		}
		rc = store_msg(in, msg, jws, jwslen, now);
		if (rc == SUIDO_ERR_NOTFOUND) {
			/* the store does not know the gateway for that utility (the
			 * configuration and the database disagree): refuse this one
			 * message, keep the batch */
			snprintf(why, sizeof why, "gateway %s is not registered for utility %s "
				 "in the store", gateway, utility);
			goto reject;
		}
		if (rc == SUIDO_ERR_EXISTS) {
			dup++;
			profile_ack_encode(msg->id, PROFILE_ACK_DUPLICATE, NULL, &acks[i]);
			if (in->mon)
				monitor_data(in->mon, gw, now);
			seen_seq(in, gw, msg->id, now);
		} else if (rc == SUIDO_OK) {
			stored++;
			points += msg->n_points;
			profile_ack_encode(msg->id, PROFILE_ACK_STORED, NULL, &acks[i]);
			if (in->mon)
				monitor_data(in->mon, gw, now);
			seen_seq(in, gw, msg->id, now);
		} else {
			goto abort;
		}
		profile_msg_free(msg);
		free(plain);
		free(jws);
		continue;
refuse:
		/* the sealed transport refused it: nothing was read from it */
		log_warn("ingest", "refused message from %s/%s (security): %s", utility, gateway,
			 why);
		refused++;
		rej++;
		profile_ack_encode("", PROFILE_ACK_REJECTED, why, &acks[i]);
		free(plain);
		free(jws);
		continue;
reject:
		log_warn("ingest", "rejected message %s from %s/%s: %s", *id ? id : "(no id)",
			 utility, gateway, why);
		rej++;
		/* The ack carries the message's id when it decoded that far, else
		 * "" (docs/protocol.md: the gateway logs it, it cannot match it). */
		profile_ack_encode(id, PROFILE_ACK_REJECTED, why, &acks[i]);
		profile_msg_free(msg);
		free(plain);
		free(jws);
		continue;
abort:
		profile_msg_free(msg);
		free(plain);
		free(jws);
		store_rollback(in->st);
		cache_clear(&in->cache);
		metrics_add(in->m, MET_DB_ERRORS, 1);
		log_error("ingest", "store failed, batch of %zu rolled back: %s", n,
			  suido_strerror(rc));
		return rc;
	}
	if ((rc = store_commit(in->st)) != SUIDO_OK) {
		store_rollback(in->st);
		cache_clear(&in->cache);
		metrics_add(in->m, MET_DB_ERRORS, 1);
		log_error("ingest", "commit failed, batch of %zu rolled back: %s", n,
			  suido_strerror(rc));
		return rc;
	}
	metrics_add(in->m, MET_DB_COMMITS, 1);
	metrics_add(in->m, MET_MSG_RECEIVED, n);
	metrics_add(in->m, MET_MSG_STORED, stored);
	metrics_add(in->m, MET_MSG_DUPLICATE, dup);
	metrics_add(in->m, MET_MSG_REJECTED, rej);
	metrics_add(in->m, MET_MSG_REFUSED_SECURITY, refused);
	metrics_add(in->m, MET_POINTS_STORED, points);
	metrics_add(in->m, MET_FILES_STORED, files);
	return SUIDO_OK;
}

static void clear_batch(struct ingest *in)
{
	for (size_t i = 0; i < in->n; i++) {
		free(in->batch[i].topic);
		free(in->batch[i].payload);
	}
	in->n = 0;
}

static void flush(struct ingest *in)
{
	int rc;

	if (in->n == 0)
		return;
	for (size_t i = 0; i < in->n; i++) {
		in->topics[i] = in->batch[i].topic;
		in->payloads[i] = in->batch[i].payload;
		in->lens[i] = in->batch[i].len;
	}
	rc = ingest_store_batch(in, in->n, in->topics, in->payloads, in->lens, in->ack_topic,
				in->acks);
	if (rc == SUIDO_OK) {
		for (size_t i = 0; i < in->n; i++) {
			if (!in->ack_topic[i][0] || in->acks[i].len == 0)
				continue;
			if (mosquitto_publish(in->mosq, NULL, in->ack_topic[i], (int)in->acks[i].len,
					      in->acks[i].data, 1, false) == MOSQ_ERR_SUCCESS)
				metrics_add(in->m, MET_ACKS_SENT, 1);
		}
	}
	/* On failure nothing is acked: the gateways resend after their timeout. */
	clear_batch(in);
}

#define HEALTH_MAX 16384 /* bytes of a health report as received */

/* A gateway's health report (docs/protocol.md "Status and health"): a JWS
 * of the topic gateway (kid = its id) for a sealed gateway, plain JSON for a
 * plain one; its JSON object names the topic's utility and gateway. Kept
 * by the monitor; anything else is logged and dropped. */
static void take_health(struct ingest *in, const struct plat_gateway *gw, const char *utility,
			const void *payload, size_t len)
{
	char *plain = NULL, *kid = NULL, err[256];
	const char *body = payload, *refusal = NULL;
	size_t blen = len;
	json_t *j = NULL;
	json_error_t je;
	int rc;

	if (len > HEALTH_MAX) {
		log_warn("ingest", "health report of %s/%s: %zu bytes, more than %d", utility, gw->id,
			 len, HEALTH_MAX);
		return;
	}
	if (gw->format != PLAT_FORMAT_PLAIN) {
		const struct jose_key *key = gwkeys_gateway(in->keys, gw, &refusal);
		if (!key) {
			log_warn("ingest", "health report of %s/%s refused: %s", utility, gw->id,
				 refusal);
			return;
		}
		rc = jose_verify(payload, len, key, HEALTH_MAX, &plain, &blen, &kid, err, sizeof err);
		if (rc != SUIDO_OK || !kid || strcmp(kid, gw->id) != 0) {
			log_warn("ingest", "health report of %s/%s refused: %s", utility, gw->id,
				 rc != SUIDO_OK ? err : "not signed under the gateway's id");
			goto done;
		}
		body = plain;
	}
	j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j) ||
	    !json_is_string(json_object_get(j, "profile")) ||
	    strcmp(json_string_value(json_object_get(j, "profile")), "suido.health/1") != 0 ||
	    !json_is_string(json_object_get(j, "utility")) ||
	    strcmp(json_string_value(json_object_get(j, "utility")), utility) != 0 ||
	    !json_is_string(json_object_get(j, "gateway")) ||
	    strcmp(json_string_value(json_object_get(j, "gateway")), gw->id) != 0) {
		log_warn("ingest", "health report of %s/%s refused: not a suido.health/1 object of "
				   "this gateway", utility, gw->id);
		goto done;
	}
	if (in->mon)
		monitor_health(in->mon, gw, body, blen, timeutil_now_ms());
done:
	json_decref(j);
	free(plain);
	free(kid);
}

/* Status and health are not stored in the batch: they feed the monitor. */
static int take_side_topic(struct ingest *in, const struct mosquitto_message *msg)
{
	char utility[PROFILE_NAME_MAX + 1], gateway[PROFILE_NAME_MAX + 1];
	const struct plat_gateway *gw;
	enum topic_kind k;

	if (parse_topic_kind(in->cfg->topic_prefix, msg->topic, utility, gateway, &k) != 0 ||
	    (k != TOPIC_STATUS && k != TOPIC_HEALTH))
		return 0;
	gw = plat_config_gateway(in->cfg, gateway);
	if (!gw || strcmp(gw->utility, utility) != 0 || !in->mon)
		return 1; /* not ours to watch */
	if (k == TOPIC_STATUS) {
		int online = msg->payloadlen == 6 && memcmp(msg->payload, "online", 6) == 0;
		monitor_status(in->mon, gw, online, timeutil_now_ms());
	} else {
		take_health(in, gw, utility, msg->payload, (size_t)msg->payloadlen);
	}
	return 1;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct ingest *in = obj;
	struct pending *p;

	if (take_side_topic(in, msg))
		return;
	if ((size_t)msg->payloadlen > in->cfg->max_message_bytes) {
		metrics_add(in->m, MET_MSG_REJECTED, 1);
		log_warn("ingest", "message of %d bytes on %s exceeds max_message_bytes: dropped",
			 msg->payloadlen, msg->topic);
		return;
	}
	p = &in->batch[in->n];
	p->topic = strdup(msg->topic);
	p->payload = malloc((size_t)msg->payloadlen + 1);
	if (!p->topic || !p->payload) {
		free(p->topic);
		free(p->payload);
		log_error("ingest", "out of memory: message dropped (the gateway resends it)");
		return;
	}
	memcpy(p->payload, msg->payload, (size_t)msg->payloadlen);
	p->len = (size_t)msg->payloadlen;
	in->n++;
	if (in->n == in->cfg->batch_messages)
		flush(in);
}

/* Each gateway's certificate bundle, retained (certbundle.h). */
static void publish_certificates(struct ingest *in)
{
	struct certbundle_files *files = NULL;
	char err[256];
	int rc = certbundle_files_load(in->cfg, in->keys, &files, err, sizeof err);

	if (rc == SUIDO_ERR_NOTFOUND) {
		log_info("ingest", "no certificates published: %s", err);
		return;
	}
	if (rc != SUIDO_OK) {
		log_error("ingest", "certificates not published: %s", err);
		return;
	}
	for (size_t i = 0; i < in->cfg->n_gateways; i++) {
		const struct plat_gateway *g = &in->cfg->gateways[i];
		char topic[256], *jws = NULL;
		uint64_t seq = (uint64_t)timeutil_now_ms();

		if (seq <= in->cmd_last_seq)
			seq = in->cmd_last_seq + 1;
		in->cmd_last_seq = seq;
		rc = certbundle_make(in->cfg, in->keys, files, g, seq, timeutil_now_ms(), &jws, err,
				     sizeof err);
		if (rc != SUIDO_OK) {
			log_error("ingest", "certificates for %s: %s", g->id, err);
			continue;
		}
		snprintf(topic, sizeof topic, "%s/%s/%s/certificates", in->cfg->topic_prefix,
			 g->utility, g->id);
		rc = mosquitto_publish(in->mosq, NULL, topic, (int)strlen(jws), jws, 1, true);
		free(jws);
		if (rc != MOSQ_ERR_SUCCESS)
			log_error("ingest", "publishing certificates for %s: %s", g->id,
				  mosquitto_strerror(rc));
		else
			log_info("ingest", "certificates published for %s/%s (seq %llu)", g->utility,
				 g->id, (unsigned long long)seq);
	}
	certbundle_files_free(files);
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct ingest *in = obj;

	if (rc != 0) {
		log_warn("ingest", "broker refused the connection: %s", mosquitto_connack_string(rc));
		return;
	}
	in->connected = 1;
	in->backoff_ms = 200;
	metrics_set(in->m, MET_MQTT_CONNECTED, 1);
	if (mosquitto_subscribe(m, NULL, in->sub, 1) != MOSQ_ERR_SUCCESS)
		log_error("ingest", "subscribe %s failed", in->sub);
	if (mosquitto_subscribe(m, NULL, in->sub_file, 1) != MOSQ_ERR_SUCCESS)
		log_error("ingest", "subscribe %s failed", in->sub_file);
	if (in->mon && (mosquitto_subscribe(m, NULL, in->sub_status, 1) != MOSQ_ERR_SUCCESS ||
			mosquitto_subscribe(m, NULL, in->sub_health, 0) != MOSQ_ERR_SUCCESS))
		log_error("ingest", "subscribe to status and health failed");
	/* every gateway's configured start or stop, and its certificates, once
	 * per run (retained at the broker, so a gateway connecting later gets
	 * them too) */
	if (in->cmds && !in->startup_posted) {
		in->startup_posted = 1;
		publish_certificates(in);
		for (size_t i = 0; i < in->cfg->n_gateways; i++) {
			const struct plat_gateway *g = &in->cfg->gateways[i];
			struct command c = {g->sending ? COMMAND_START : COMMAND_STOP, "", "",
					    g->interval_s, 0, 0, "configuration"};
			char err[128];
			snprintf(c.utility, sizeof c.utility, "%s", g->utility);
			snprintf(c.gateway, sizeof c.gateway, "%s", g->id);
			if (command_post(in->cmds, &c, err, sizeof err) != SUIDO_OK)
				log_error("ingest", "start command for %s: %s", g->id, err);
		}
	}
	log_info("ingest", "connected to %s:%d over %s, subscribed to %s and %s",
		 in->cfg->mqtt_host, in->cfg->mqtt_port,
		 tlsfiles_enabled(&in->cfg->mqtt_tls) ? "TLS" : "plaintext MQTT", in->sub,
		 in->sub_file);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct ingest *in = obj;

	if (in->connected)
		log_warn("ingest", "disconnected from the broker (%s)",
			 rc ? mosquitto_strerror(rc) : "requested");
	in->connected = 0;
	metrics_set(in->m, MET_MQTT_CONNECTED, 0);
}

int ingest_new(const struct plat_config *cfg, const struct gwkeys *keys, struct store *st,
	       struct metrics *m, struct ingest **out, char *err, size_t errlen)
{
	struct ingest *in = calloc(1, sizeof *in);
	size_t b = cfg->batch_messages;

	*out = NULL;
	if (!in)
		return SUIDO_ERR_NOMEM;
	in->cfg = cfg;
	in->keys = keys;
	in->st = st;
	in->m = m;
	in->backoff_ms = 200;
	in->batch = calloc(b, sizeof *in->batch);
	in->topics = calloc(b, sizeof *in->topics);
	in->payloads = calloc(b, sizeof *in->payloads);
	in->lens = calloc(b, sizeof *in->lens);
	in->ack_topic = calloc(b, sizeof *in->ack_topic);
	in->acks = calloc(b, sizeof *in->acks);
	snprintf(in->sub, sizeof in->sub, "%s/+/+/data", cfg->topic_prefix);
	snprintf(in->sub_file, sizeof in->sub_file, "%s/+/+/file", cfg->topic_prefix);
	snprintf(in->sub_status, sizeof in->sub_status, "%s/+/+/status", cfg->topic_prefix);
	snprintf(in->sub_health, sizeof in->sub_health, "%s/+/+/health", cfg->topic_prefix);
	mosquitto_lib_init();
	in->mosq = mosquitto_new(cfg->mqtt_client_id, false, in);
	if (!in->batch || !in->topics || !in->payloads || !in->lens || !in->ack_topic ||
	    !in->acks || !in->mosq) {
		snprintf(err, errlen, "ingest: out of memory");
		ingest_free(in);
		return SUIDO_ERR_NOMEM;
	}
	for (size_t i = 0; i < b; i++)
		in->acks[i].limit = 4096;
	mosquitto_int_option(in->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* Messages are pipelined under a window of acks: Nagle would hold each
	 * one back until the previous was acknowledged. */
	mosquitto_int_option(in->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(in->mosq, 0);
	if (tlsfiles_enabled(&cfg->mqtt_tls)) {
		/* Peer verification and the broker's name (mqtt_host must be in its
		 * certificate's SAN) stay on: no mosquitto_tls_insecure_set. */
		const struct tlsfiles *t = &cfg->mqtt_tls;
		int rc = mosquitto_tls_set(in->mosq, t->cafile, NULL, t->certfile, t->keyfile, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(in->mosq, SSL_VERIFY_PEER, "tlsv1.2", NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			snprintf(err, errlen, "ingest: TLS files refused by libmosquitto: %s",
				 mosquitto_strerror(rc));
			ingest_free(in);
			return SUIDO_ERR_CONFIG;
		}
	}
	mosquitto_connect_callback_set(in->mosq, on_connect);
	mosquitto_disconnect_callback_set(in->mosq, on_disconnect);
	mosquitto_message_callback_set(in->mosq, on_message);
	*out = in;
	return SUIDO_OK;
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	if (in->mosq) {
		flush(in);
		if (in->connected) {
			mosquitto_disconnect(in->mosq);
			mosquitto_loop(in->mosq, 50, 1);
		}
		mosquitto_destroy(in->mosq);
	}
	clear_batch(in);
	cache_clear(&in->cache);
	free(in->cache.slot);
	gaps_free(in->gaps);
	if (in->acks)
		for (size_t i = 0; i < in->cfg->batch_messages; i++)
			strbuf_free(&in->acks[i]);
	free(in->batch);
	free(in->topics);
	free(in->payloads);
	free(in->lens);
	free(in->ack_topic);
	free(in->acks);
	free(in->item_keys);
	free(in);
	mosquitto_lib_cleanup();
}

/* A state change of a gateway: logged and kept in the store. */
static void keep_event(void *ctx, const char *utility, const char *gateway,
		       enum monitor_state from, enum monitor_state to, const char *reason, int64_t t)
{
	struct ingest *in = ctx;
	struct store_gateway_event e = {gateway, t, monitor_state_name(from),
					monitor_state_name(to), reason};
	int rc;

	if (to == MONITOR_ONLINE)
		log_info("monitor", "gateway %s/%s: %s -> %s (%s)", utility, gateway, e.from, e.to,
			 reason);
	else
		log_warn("monitor", "gateway %s/%s: %s -> %s (%s)", utility, gateway, e.from, e.to,
			 reason);
	if ((rc = store_put_gateway_event(in->st, utility, &e)) != SUIDO_OK)
		log_error("monitor", "keeping the event of %s failed: %s", gateway,
			  suido_strerror(rc));
}

/* Publishes what was posted to the command queue, while connected. */
static void publish_commands(struct ingest *in)
{
	struct command c;
	const struct jose_key *key;

	if (!in->cmds || !in->connected)
		return;
	key = gwkeys_platform(in->keys);
	while (command_take(in->cmds, &c)) {
		const struct plat_gateway *gw = plat_config_gateway(in->cfg, c.gateway);
		char topic[256], *jws = NULL, err[256];
		uint64_t seq = 0;
		int rc;

		if (!gw || strcmp(gw->utility, c.utility) != 0) {
			log_warn("command", "%s for %s/%s dropped: no such gateway",
				 command_kind_name(c.kind), c.utility, c.gateway);
			continue;
		}
		if (!key) {
			log_warn("command", "%s for %s dropped: no [security] key to sign with",
				 command_kind_name(c.kind), c.gateway);
			continue;
		}
		rc = command_sign(&c, key, timeutil_now_ms(), &in->cmd_last_seq, &seq, &jws, err,
				  sizeof err);
		if (rc != SUIDO_OK) {
			log_error("command", "signing %s for %s: %s", command_kind_name(c.kind), c.gateway,
				  err);
			continue;
		}
		snprintf(topic, sizeof topic, "%s/%s/%s/command", in->cfg->topic_prefix, c.utility,
			 c.gateway);
		/* start and stop are the gateway's state: retained; resend is not */
		rc = mosquitto_publish(in->mosq, NULL, topic, (int)strlen(jws), jws, 1,
				       c.kind != COMMAND_RESEND);
		free(jws);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_error("command", "publishing %s for %s: %s", command_kind_name(c.kind),
				  c.gateway, mosquitto_strerror(rc));
			continue;
		}
		if (c.kind == COMMAND_RESEND)
			log_info("command", "resend %llu..%llu asked of %s/%s (seq %llu, %s)",
				 (unsigned long long)c.from_seq, (unsigned long long)c.to_seq,
				 c.utility, c.gateway, (unsigned long long)seq, c.reason);
		else if (c.kind == COMMAND_START)
			log_info("command", "start (interval %u s) sent to %s/%s (seq %llu, %s)",
				 c.interval_s, c.utility, c.gateway, (unsigned long long)seq, c.reason);
		else
			log_info("command", "stop sent to %s/%s (seq %llu, %s)", c.utility, c.gateway,
				 (unsigned long long)seq, c.reason);
		if (in->mon && c.kind != COMMAND_RESEND)
			monitor_sending(in->mon, gw, c.kind == COMMAND_START, c.interval_s,
					timeutil_now_ms());
	}
}

void ingest_attach(struct ingest *in, struct monitor *mon, struct command_queue *cmds)
{
	in->mon = mon;
	in->cmds = cmds;
	if (cmds && !in->gaps && !(in->gaps = gaps_new(in->cfg, (int64_t)in->cfg->gap_grace_s * 1000)))
		log_error("ingest", "out of memory: no gap detection");
}

/* A gap too old: the gateway is asked to resend the range. */
static void ask_resend(void *ctx, const struct plat_gateway *gw, uint64_t from, uint64_t to)
{
	struct ingest *in = ctx;
	struct command c = {COMMAND_RESEND, "", "", 0, from, to, "gap"};
	char err[160];

	snprintf(c.utility, sizeof c.utility, "%s", gw->utility);
	snprintf(c.gateway, sizeof c.gateway, "%s", gw->id);
	log_warn("ingest", "gap in the messages of %s/%s: seq %llu..%llu missing for %u s, "
			   "asking for a resend", gw->utility, gw->id, (unsigned long long)from,
		 (unsigned long long)to, in->cfg->gap_grace_s);
	if (command_post(in->cmds, &c, err, sizeof err) != SUIDO_OK)
		log_error("ingest", "resend request for %s: %s", gw->id, err);
}

void ingest_loop(struct ingest *in, int timeout_ms)
{
	int rc;

	if (!in->connected && mosquitto_socket(in->mosq) < 0) {
		int64_t now = timeutil_mono_ms();
		if (now >= in->next_attempt_ms) {
			rc = in->ever_connected
				     ? mosquitto_reconnect(in->mosq)
				     : mosquitto_connect(in->mosq, in->cfg->mqtt_host,
							 in->cfg->mqtt_port, in->cfg->mqtt_keepalive);
			if (rc == MOSQ_ERR_SUCCESS) {
				in->ever_connected = 1;
			} else {
				in->next_attempt_ms = now + in->backoff_ms;
				in->backoff_ms = in->backoff_ms * 2 > 5000 ? 5000 : in->backoff_ms * 2;
			}
		}
		if (mosquitto_socket(in->mosq) < 0) {
			struct timespec ts = {0, (long)timeout_ms * 1000000L};
			nanosleep(&ts, NULL);
			return;
		}
	}
	rc = mosquitto_loop(in->mosq, timeout_ms, 1);
	/* libmosquitto reads about as many packets per call as it has acks
	 * outstanding, which keeps batches as small as the last one: read on
	 * while packets are waiting, so that one commit takes what arrived
	 * (up to batch_messages) */
	while (rc == MOSQ_ERR_SUCCESS && in->n > 0 && in->n < in->cfg->batch_messages) {
		size_t before = in->n;
		rc = mosquitto_loop(in->mosq, 0, 1);
		if (in->n == before)
			break;
	}
	flush(in);
	publish_commands(in);
	if (in->mon && timeutil_mono_ms() >= in->next_tick_ms) {
		in->next_tick_ms = timeutil_mono_ms() + 1000;
		monitor_tick(in->mon, timeutil_now_ms(), keep_event, in);
		if (in->gaps)
			gaps_tick(in->gaps, timeutil_now_ms(), ask_resend, in);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		in->connected = 0;
		metrics_set(in->m, MET_MQTT_CONNECTED, 0);
	}
}
