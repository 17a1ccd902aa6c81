/*
 * The reference decoder of the JSON data profile for fuzz_profile: the first
 * implementation of profile_decode, on jansson's DOM (duplicate keys
 * rejected). The product's streaming decoder (lib/profile.c) must agree with
 * it on every input: same verdict, same decoded content. Kept here, not in
 * the library, because it exists only to check the fast one.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

#define DEF_MAX_BYTES (8u << 20)
#define DEF_MAX_ITEMS 10000
#define DEF_MAX_POINTS 200000

/* Copies string member key of obj into *out; optional members default to "". */
static int oracle_get_str(json_t *obj, const char *key, int required, size_t max, char **out,
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

static int oracle_decode_items(json_t *arr, struct profile_msg *m, size_t max_items, char *err,
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
		if ((rc = oracle_get_str(it, "id", 1, PROFILE_ITEM_ID_MAX, &pi->id, where, err, errlen)) ||
		    (rc = oracle_get_str(it, "name", 1, PROFILE_TEXT_MAX, &pi->name, where, err, errlen)) ||
		    (rc = oracle_get_str(it, "unit", 0, PROFILE_TEXT_MAX, &pi->unit, where, err, errlen)) ||
		    (rc = oracle_get_str(it, "facility", 0, PROFILE_TEXT_MAX, &pi->facility, where, err,
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
static int oracle_has_offset(const char *s, size_t n)
{
	if (n < 17)
		return 0;
	if (s[n - 1] == 'Z')
		return 1;
	if ((s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':')
		return 1;
	return (s[n - 5] == '+' || s[n - 5] == '-') && s[n - 3] >= '0' && s[n - 3] <= '9';
}

static int oracle_decode_points(json_t *arr, struct profile_msg *m, size_t max_points, char *err,
			 size_t errlen)
{
	size_t n = json_array_size(arr);
	char terr[128];

	if (n > max_points) {
		snprintf(err, errlen, "points: more than %zu", max_points);
		return SUIDO_ERR_LIMIT;
	}
	m->points = calloc(n ? n : 1, sizeof *m->points);
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
		if (!oracle_has_offset(ts, json_string_length(jt)) ||
		    timeutil_parse(ts, json_string_length(jt), "iso8601", &pp->t_ms, terr,
				   sizeof terr) != SUIDO_OK) {
			snprintf(err, errlen, "points[%zu][1]: not an ISO 8601 instant with offset", i);
			return SUIDO_ERR_INVALID;
		}
		pp->item = (uint32_t)idx;
		if (json_is_string(jv)) {
			if (json_string_length(jv) > PROFILE_VALUE_TEXT_MAX) {
				snprintf(err, errlen, "points[%zu][2]: text longer than %d bytes", i,
					 PROFILE_VALUE_TEXT_MAX);
				return SUIDO_ERR_INVALID;
			}
			m->n_points = i + 1; /* owns the texts so far */
			if (!(pp->text = strdup(json_string_value(jv))))
				return SUIDO_ERR_NOMEM;
			continue;
		}
		if (!json_is_number(jv) || !isfinite(json_number_value(jv))) {
			snprintf(err, errlen, "points[%zu][2]: not a finite number or a string", i);
			return SUIDO_ERR_INVALID;
		}
		pp->v = json_number_value(jv);
	}
	m->n_points = n;
	return SUIDO_OK;
}

static int oracle_profile_decode(const char *buf, size_t len, const struct profile_limits *lim,
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
	if ((rc = oracle_get_str(root, "id", 1, PROFILE_ID_MAX, &m->id, "", err, errlen)) ||
	    (rc = oracle_get_str(root, "utility", 1, PROFILE_NAME_MAX, &m->utility, "", err, errlen)) ||
	    (rc = oracle_get_str(root, "gateway", 1, PROFILE_NAME_MAX, &m->gateway, "", err, errlen)))
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
		if (!json_is_string(v) || !oracle_has_offset(json_string_value(v), json_string_length(v)) ||
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
	if ((rc = oracle_decode_items(v, m, max_items, err, errlen)))
		goto done;
	v = json_object_get(root, "points");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "points: missing or not an array");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if ((rc = oracle_decode_points(v, m, max_points, err, errlen)))
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

