/*
 * Encoder and decoder of the JSON data profile (profile.h). Decoding uses
 * jansson (duplicate keys rejected) and validates every member before
 * anything is handed on, so the platform's store only ever sees checked
 * values; encoding writes text directly with strbuf, which is what the
 * gateway does for every batch.
 */
#include "suido/profile.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/timeutil.h"

#define DEF_MAX_BYTES (8u << 20)
#define DEF_MAX_ITEMS 10000
#define DEF_MAX_POINTS 200000

int profile_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= PROFILE_NAME_MAX;
}

int profile_item_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PROFILE_ITEM_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return 0;
	}
	/* jansson only hands out valid UTF-8; callers with other sources check it. */
	return 1;
}

int profile_msg_id_parse(const char *id, char *gw, size_t gwlen, int64_t *epoch, uint64_t *seq)
{
	const char *c1 = strchr(id, ':'), *c2;
	char *end;
	unsigned long long e, s;
	size_t glen;

	if (!c1 || strlen(id) > PROFILE_ID_MAX)
		return SUIDO_ERR_INVALID;
	c2 = strchr(c1 + 1, ':');
	if (!c2)
		return SUIDO_ERR_INVALID;
	glen = (size_t)(c1 - id);
	if (glen == 0 || glen >= gwlen || glen > PROFILE_NAME_MAX)
		return SUIDO_ERR_INVALID;
	memcpy(gw, id, glen);
	gw[glen] = '\0';
	if (!profile_name_valid(gw))
		return SUIDO_ERR_INVALID;
	if (c1[1] < '0' || c1[1] > '9' || c2[1] < '0' || c2[1] > '9')
		return SUIDO_ERR_INVALID;
	e = strtoull(c1 + 1, &end, 10);
	if (end != c2 || e > INT64_MAX)
		return SUIDO_ERR_INVALID;
	s = strtoull(c2 + 1, &end, 10);
	if (*end)
		return SUIDO_ERR_INVALID;
	*epoch = (int64_t)e;
	*seq = s;
	return SUIDO_OK;
}

void profile_msg_free(struct profile_msg *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->utility);
	free(m->gateway);
	for (size_t i = 0; i < m->n_items; i++) {
		free(m->items[i].id);
		free(m->items[i].name);
		free(m->items[i].unit);
		free(m->items[i].facility);
	}
	free(m->items);
	free(m->points);
	free(m);
}

/* Copies string member key of obj into *out; optional members default to "". */
static int get_str(json_t *obj, const char *key, int required, size_t max, char **out,
		   const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	const char *s = "";

	if (!v) {
		if (required) {
			snprintf(err, errlen, "%s%s: missing", where, key);
			return SUIDO_ERR_INVALID;
		}
	} else if (!json_is_string(v)) {
		snprintf(err, errlen, "%s%s: not a string", where, key);
		return SUIDO_ERR_INVALID;
	} else {
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v) || json_string_length(v) > max) {
			snprintf(err, errlen, "%s%s: longer than %zu bytes or holds NUL", where, key,
				 max);
			return SUIDO_ERR_INVALID;
		}
	}
	*out = strdup(s);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	return SUIDO_OK;
}

static int decode_items(json_t *arr, struct profile_msg *m, size_t max_items, char *err,
			size_t errlen)
{
	size_t n = json_array_size(arr);
	char where[48];
	int rc;

	if (n > max_items) {
		snprintf(err, errlen, "items: more than %zu", max_items);
		return SUIDO_ERR_LIMIT;
	}
	m->items = calloc(n ? n : 1, sizeof *m->items);
	if (!m->items)
		return SUIDO_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(arr, i);
		struct profile_item *pi = &m->items[i];
		snprintf(where, sizeof where, "items[%zu].", i);
		if (!json_is_object(it)) {
			snprintf(err, errlen, "items[%zu]: not an object", i);
			return SUIDO_ERR_INVALID;
		}
		m->n_items = i + 1;
		if ((rc = get_str(it, "id", 1, PROFILE_ITEM_ID_MAX, &pi->id, where, err, errlen)) ||
		    (rc = get_str(it, "name", 1, PROFILE_TEXT_MAX, &pi->name, where, err, errlen)) ||
		    (rc = get_str(it, "unit", 0, PROFILE_TEXT_MAX, &pi->unit, where, err, errlen)) ||
		    (rc = get_str(it, "facility", 0, PROFILE_TEXT_MAX, &pi->facility, where, err,
				  errlen)))
			return rc;
		if (!profile_item_id_valid(pi->id)) {
			snprintf(err, errlen, "items[%zu].id: not a valid item id", i);
			return SUIDO_ERR_INVALID;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(m->items[k].id, pi->id) == 0) {
				snprintf(err, errlen, "items[%zu].id: repeats items[%zu]", i, k);
				return SUIDO_ERR_INVALID;
			}
		}
	}
	return SUIDO_OK;
}

/* Wire instants must say their offset: "Z", "+hh:mm" or "+hhmm" at the end
 * (a local time would be read in the receiver's zone, not the sender's). */
static int has_offset(const char *s, size_t n)
{
	if (n < 17)
		return 0;
	if (s[n - 1] == 'Z')
		return 1;
	if ((s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':')
		return 1;
	return (s[n - 5] == '+' || s[n - 5] == '-') && s[n - 3] >= '0' && s[n - 3] <= '9';
}

static int decode_points(json_t *arr, struct profile_msg *m, size_t max_points, char *err,
			 size_t errlen)
{
	size_t n = json_array_size(arr);
	char terr[128];

	if (n > max_points) {
		snprintf(err, errlen, "points: more than %zu", max_points);
		return SUIDO_ERR_LIMIT;
	}
	m->points = malloc((n ? n : 1) * sizeof *m->points);
	if (!m->points)
		return SUIDO_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(arr, i), *ji, *jt, *jv;
		struct profile_point *pp = &m->points[i];
		json_int_t idx;
		const char *ts;
		if (!json_is_array(p) || json_array_size(p) != 3) {
			snprintf(err, errlen, "points[%zu]: not an array of 3", i);
			return SUIDO_ERR_INVALID;
		}
		ji = json_array_get(p, 0);
		jt = json_array_get(p, 1);
		jv = json_array_get(p, 2);
		if (!json_is_integer(ji) || (idx = json_integer_value(ji)) < 0 ||
		    (size_t)idx >= m->n_items) {
			snprintf(err, errlen, "points[%zu][0]: not an index into items", i);
			return SUIDO_ERR_INVALID;
		}
		if (!json_is_string(jt)) {
			snprintf(err, errlen, "points[%zu][1]: not a string", i);
			return SUIDO_ERR_INVALID;
		}
		ts = json_string_value(jt);
		if (!has_offset(ts, json_string_length(jt)) ||
		    timeutil_parse(ts, json_string_length(jt), "iso8601", &pp->t_ms, terr,
				   sizeof terr) != SUIDO_OK) {
			snprintf(err, errlen, "points[%zu][1]: not an ISO 8601 instant with offset", i);
			return SUIDO_ERR_INVALID;
		}
		if (!json_is_number(jv) || !isfinite(json_number_value(jv))) {
			snprintf(err, errlen, "points[%zu][2]: not a finite number", i);
			return SUIDO_ERR_INVALID;
		}
		pp->item = (uint32_t)idx;
		pp->v = json_number_value(jv);
	}
	m->n_points = n;
	return SUIDO_OK;
}

int profile_decode(const char *buf, size_t len, const struct profile_limits *lim,
		   struct profile_msg **out, char *err, size_t errlen)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEF_MAX_BYTES;
	size_t max_items = lim && lim->max_items ? lim->max_items : DEF_MAX_ITEMS;
	size_t max_points = lim && lim->max_points ? lim->max_points : DEF_MAX_POINTS;
	struct profile_msg *m = NULL;
	json_error_t jerr;
	json_t *root = NULL, *v;
	char gw[PROFILE_NAME_MAX + 1];
	int64_t epoch;
	uint64_t seq;
	int rc;

	*out = NULL;
	if (len > max_bytes) {
		snprintf(err, errlen, "message larger than %zu bytes", max_bytes);
		return SUIDO_ERR_LIMIT;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "not JSON: %s at byte %d", jerr.text, jerr.position);
		return SUIDO_ERR_INVALID;
	}
	rc = SUIDO_ERR_INVALID;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto done;
	}
	v = json_object_get(root, "profile");
	if (!json_is_string(v) || strcmp(json_string_value(v), PROFILE_DATA_V1) != 0) {
		snprintf(err, errlen, "profile: expected \"%s\"", PROFILE_DATA_V1);
		goto done;
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	if ((rc = get_str(root, "id", 1, PROFILE_ID_MAX, &m->id, "", err, errlen)) ||
	    (rc = get_str(root, "utility", 1, PROFILE_NAME_MAX, &m->utility, "", err, errlen)) ||
	    (rc = get_str(root, "gateway", 1, PROFILE_NAME_MAX, &m->gateway, "", err, errlen)))
		goto done;
	rc = SUIDO_ERR_INVALID;
	if (!profile_name_valid(m->utility) || !profile_name_valid(m->gateway)) {
		snprintf(err, errlen, "utility or gateway: not a valid name");
		goto done;
	}
	if (profile_msg_id_parse(m->id, gw, sizeof gw, &epoch, &seq) != SUIDO_OK ||
	    strcmp(gw, m->gateway) != 0) {
		snprintf(err, errlen, "id: expected \"%s:<epoch>:<seq>\"", m->gateway);
		goto done;
	}
	v = json_object_get(root, "sent");
	if (v) {
		char terr[128];
		if (!json_is_string(v) || !has_offset(json_string_value(v), json_string_length(v)) ||
		    timeutil_parse(json_string_value(v), json_string_length(v), "iso8601",
				   &m->sent_ms, terr, sizeof terr) != SUIDO_OK) {
			snprintf(err, errlen, "sent: not an ISO 8601 instant");
			goto done;
		}
	}
	v = json_object_get(root, "items");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "items: missing or not an array");
		goto done;
	}
	if ((rc = decode_items(v, m, max_items, err, errlen)))
		goto done;
	v = json_object_get(root, "points");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "points: missing or not an array");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if ((rc = decode_points(v, m, max_points, err, errlen)))
		goto done;
	*out = m;
	m = NULL;
	rc = SUIDO_OK;
done:
	if (rc == SUIDO_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	profile_msg_free(m);
	json_decref(root);
	return rc;
}

int profile_encode(const struct profile_msg *m, struct strbuf *out)
{
	char ts[32];

	strbuf_puts(out, "{\"profile\":\"" PROFILE_DATA_V1 "\",\"id\":");
	strbuf_json_str(out, m->id, strlen(m->id));
	strbuf_puts(out, ",\"utility\":");
	strbuf_json_str(out, m->utility, strlen(m->utility));
	strbuf_puts(out, ",\"gateway\":");
	strbuf_json_str(out, m->gateway, strlen(m->gateway));
	strbuf_puts(out, ",\"sent\":\"");
	strbuf_append(out, ts, timeutil_format_utc(m->sent_ms, ts));
	strbuf_puts(out, "\",\"items\":[");
	for (size_t i = 0; i < m->n_items; i++) {
		const struct profile_item *it = &m->items[i];
		strbuf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		strbuf_json_str(out, it->id, strlen(it->id));
		strbuf_puts(out, ",\"name\":");
		strbuf_json_str(out, it->name, strlen(it->name));
		strbuf_puts(out, ",\"unit\":");
		strbuf_json_str(out, it->unit, strlen(it->unit));
		strbuf_puts(out, ",\"facility\":");
		strbuf_json_str(out, it->facility, strlen(it->facility));
		strbuf_putc(out, '}');
	}
	strbuf_puts(out, "],\"points\":[");
	for (size_t i = 0; i < m->n_points; i++) {
		const struct profile_point *p = &m->points[i];
		strbuf_printf(out, i ? ",[%" PRIu32 ",\"" : "[%" PRIu32 ",\"", p->item);
		strbuf_append(out, ts, timeutil_format_utc(p->t_ms, ts));
		strbuf_puts(out, "\",");
		strbuf_json_num(out, p->v);
		strbuf_putc(out, ']');
	}
	strbuf_puts(out, "]}");
	return out->failed ? -1 : 0;
}

static const char *const ack_names[] = {"stored", "duplicate", "rejected"};

const char *profile_ack_status_name(enum profile_ack_status st)
{
	return ack_names[st];
}

int profile_ack_encode(const char *msg_id, enum profile_ack_status st, const char *reason,
		       struct strbuf *out)
{
	strbuf_puts(out, "{\"profile\":\"" PROFILE_ACK_V1 "\",\"id\":");
	strbuf_json_str(out, msg_id, strlen(msg_id));
	strbuf_printf(out, ",\"status\":\"%s\"", ack_names[st]);
	if (reason) {
		strbuf_puts(out, ",\"reason\":");
		strbuf_json_str(out, reason, strlen(reason));
	}
	strbuf_putc(out, '}');
	return out->failed ? -1 : 0;
}

int profile_ack_decode(const char *buf, size_t len, char *id, size_t idlen,
		       enum profile_ack_status *st, char *reason, size_t rlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	int rc = SUIDO_ERR_INVALID;
	const char *s;

	if (!root)
		return SUIDO_ERR_INVALID;
	v = json_object_get(root, "profile");
	if (!json_is_string(v) || strcmp(json_string_value(v), PROFILE_ACK_V1) != 0)
		goto done;
	v = json_object_get(root, "id");
	if (!json_is_string(v) || json_string_length(v) >= idlen)
		goto done;
	memcpy(id, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(root, "status");
	if (!json_is_string(v))
		goto done;
	s = json_string_value(v);
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, ack_names[i]) == 0) {
			*st = (enum profile_ack_status)i;
			rc = SUIDO_OK;
		}
	}
	reason[0] = '\0';
	v = json_object_get(root, "reason");
	if (json_is_string(v))
		snprintf(reason, rlen, "%s", json_string_value(v));
done:
	json_decref(root);
	return rc;
}
