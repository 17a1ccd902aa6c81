/*
 * Loading and validating the gateway configuration (gwconf.h).
 */
#include "gwconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/conf.h"
#include "suido/error.h"
#include "suido/profile.h"

int gw_ftp_user_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32 || !(isalnum((unsigned char)name[0])))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int load_ftp(const struct conf *c, const struct conf_section *s, struct gw_ftp *f,
		    char *err, size_t errlen, const char *const *keys)
{
	const char *v;
	long long n;
	int b;

	if (conf_check_keys(c, s, keys, err, errlen))
		return SUIDO_ERR_CONFIG;
	if (conf_get_str(c, s, "root", 1, NULL, &v, err, errlen))
		return SUIDO_ERR_CONFIG;
	if (!(f->root = conf_resolve_path(c, v)))
		return SUIDO_ERR_NOMEM;
	if (conf_get_str(c, s, "transfer_log", 1, NULL, &v, err, errlen))
		return SUIDO_ERR_CONFIG;
	if (!(f->log = conf_resolve_path(c, v)))
		return SUIDO_ERR_NOMEM;
	if (conf_get_str(c, s, "users", 0, "", &v, err, errlen))
		return SUIDO_ERR_CONFIG;
	/* a list separated by spaces or commas */
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, " \t,");
		if (len) {
			char *name = strndup(p, len);
			char **nu = realloc(f->users, (f->n_users + 1) * sizeof *nu);
			if (!name || !nu) {
				free(name);
				if (nu)
					f->users = nu;
				return SUIDO_ERR_NOMEM;
			}
			f->users = nu;
			f->users[f->n_users++] = name;
			if (!gw_ftp_user_valid(name)) {
				conf_error(c, s, conf_find(s, "users"), err, errlen,
					   "\"%s\": a user name is 1-32 of a-z 0-9 _ - "
					   "(starting with a letter or digit)", name);
				return SUIDO_ERR_CONFIG;
			}
		}
		p += len;
		p += strspn(p, " \t,");
	}
	if (conf_get_int(c, s, "stale_seconds", 0, 60, 1, 7 * 86400, &n, err, errlen))
		return SUIDO_ERR_CONFIG;
	f->stale_ms = n * 1000;
	if (conf_get_bool(c, s, "require_final_newline", 0, 1, &b, err, errlen))
		return SUIDO_ERR_CONFIG;
	f->require_final_newline = b;
	return SUIDO_OK;
}

int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errlen)
{
	static const char *const gw_keys[] = {"id", "utility", "timezone", "state_dir",
					      "spool_dir", "mapping", "log_level",
					      "max_file_bytes", "encoding", "min_free_bytes", NULL};
	static const char *const send_keys[] = {"batch_points", "interval_ms", "ack_timeout_ms",
						"window", "retention_days", "retention_s",
						"archive_days", "max_queue_bytes", "start", NULL};
	static const char *const mqtt_keys[] = {"host",   "port",     "keepalive", "topic_prefix",
						"cafile", "certfile", "keyfile",   NULL};
	static const char *const sec_keys[] = {"format", "key", "platform_certificate", "ca",
					       "mask_key", "unsigned_commands", NULL};
	static const char *const mon_keys[] = {"health_interval_s", NULL};
	static const char *const ftp_keys[] = {"root", "transfer_log", "users", "stale_seconds",
					       "require_final_newline", NULL};
	struct conf *c = NULL, *mc = NULL;
	struct gw_config *g = NULL;
	const struct conf_section *s;
	const char *v;
	long long n;
	int rc;

	*out = NULL;
	if ((rc = conf_load(path, &c, err, errlen)) != SUIDO_OK)
		return rc;
	g = calloc(1, sizeof *g);
	if (!g) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	rc = SUIDO_ERR_CONFIG;
	for (size_t i = 0; i < conf_section_count(c); i++) {
		const struct conf_section *x = conf_section_at(c, i);
		if (strcmp(x->kind, "gateway") && strcmp(x->kind, "send") && strcmp(x->kind, "mqtt") &&
		    strcmp(x->kind, "security") && strcmp(x->kind, "ftp") &&
		    strcmp(x->kind, "monitor")) {
			conf_error(c, x, NULL, err, errlen, "unknown section");
			goto fail;
		}
	}
	if (!(s = conf_first(c, "gateway"))) {
		snprintf(err, errlen, "%s: missing [gateway] section", path);
		goto fail;
	}
	if (conf_check_keys(c, s, gw_keys, err, errlen))
		goto fail;
	if (conf_get_str(c, s, "id", 1, NULL, &v, err, errlen))
		goto fail;
	if (!profile_name_valid(v)) {
		conf_error(c, s, conf_find(s, "id"), err, errlen,
			   "must be 1-64 characters of A-Z a-z 0-9 _ . -");
		goto fail;
	}
	g->id = strdup(v);
	if (conf_get_str(c, s, "utility", 1, NULL, &v, err, errlen))
		goto fail;
	if (!profile_name_valid(v)) {
		conf_error(c, s, conf_find(s, "utility"), err, errlen,
			   "must be 1-64 characters of A-Z a-z 0-9 _ . -");
		goto fail;
	}
	g->utility = strdup(v);
	if (conf_get_str(c, s, "timezone", 0, "Asia/Tokyo", &v, err, errlen))
		goto fail;
	g->timezone = strdup(v);
	if (conf_get_str(c, s, "state_dir", 1, NULL, &v, err, errlen))
		goto fail;
	g->state_dir = conf_resolve_path(c, v);
	if (conf_get_str(c, s, "spool_dir", 1, NULL, &v, err, errlen))
		goto fail;
	g->spool_dir = conf_resolve_path(c, v);
	if (conf_get_str(c, s, "mapping", 1, NULL, &v, err, errlen))
		goto fail;
	g->mapping_path = conf_resolve_path(c, v);
	if (conf_get_str(c, s, "log_level", 0, "info", &v, err, errlen))
		goto fail;
	g->log_level = strdup(v);
	if (conf_get_int(c, s, "max_file_bytes", 0, 64ll << 20, 1, 1ll << 34, &n, err, errlen))
		goto fail;
	g->max_file_bytes = (size_t)n;
	if (conf_get_str(c, s, "encoding", 0, "auto", &v, err, errlen))
		goto fail;
	if (textenc_parse(v, &g->encoding) != 0) {
		conf_error(c, s, conf_find(s, "encoding"), err, errlen,
			   "expected auto, utf-8 or cp932, got \"%s\"", v);
		goto fail;
	}
	/* room kept for acks and messages while intake is paused */
	if (conf_get_int(c, s, "min_free_bytes", 0, 16ll << 20, 0, 1ll << 50, &n, err, errlen))
		goto fail;
	g->min_free_bytes = n;

	g->batch_points = 1000;
	g->interval_ms = 1000;
	g->ack_timeout_ms = 10000;
	g->window = 64;
	g->retention_ms = 7ll * 86400 * 1000;
	g->archive_ms = 365ll * 86400 * 1000;
	g->max_queue_bytes = 0;
	/* the platform decides when a gateway sends (seed 003 section 3) */
	g->start = GW_START_COMMAND;
	if ((s = conf_first(c, "send"))) {
		if (conf_check_keys(c, s, send_keys, err, errlen))
			goto fail;
		if (conf_get_int(c, s, "batch_points", 0, 1000, 1, 100000, &n, err, errlen))
			goto fail;
		g->batch_points = (size_t)n;
		if (conf_get_int(c, s, "interval_ms", 0, 1000, 10, 86400000, &n, err, errlen))
			goto fail;
		g->interval_ms = n;
		if (conf_get_int(c, s, "ack_timeout_ms", 0, 10000, 100, 3600000, &n, err, errlen))
			goto fail;
		g->ack_timeout_ms = n;
		if (conf_get_int(c, s, "window", 0, 64, 1, 1024, &n, err, errlen))
			goto fail;
		g->window = (unsigned)n;
		if (conf_get_int(c, s, "retention_days", 0, 7, 0, 3650, &n, err, errlen))
			goto fail;
		g->retention_ms = n * 86400 * 1000;
		if (conf_find(s, "retention_s")) { /* overrides retention_days (tests) */
			if (conf_get_int(c, s, "retention_s", 1, 0, 1, 3650ll * 86400, &n, err,
					 errlen))
				goto fail;
			g->retention_ms = n * 1000;
		}
		if (conf_get_int(c, s, "archive_days", 0, 365, 0, 36500, &n, err, errlen))
			goto fail;
		g->archive_ms = n * 86400 * 1000;
		if (conf_get_int(c, s, "max_queue_bytes", 0, 0, 0, 1ll << 50, &n, err, errlen))
			goto fail;
		g->max_queue_bytes = n;
		if (conf_get_str(c, s, "start", 0, "command", &v, err, errlen))
			goto fail;
		if (strcmp(v, "command") == 0) {
			g->start = GW_START_COMMAND;
		} else if (strcmp(v, "immediately") == 0) {
			g->start = GW_START_IMMEDIATELY;
		} else {
			conf_error(c, s, conf_find(s, "start"), err, errlen,
				   "expected command or immediately, got \"%s\"", v);
			goto fail;
		}
	}
	g->health_interval_ms = 60000;
	if ((s = conf_first(c, "monitor"))) {
		if (conf_check_keys(c, s, mon_keys, err, errlen))
			goto fail;
		if (conf_get_int(c, s, "health_interval_s", 0, 60, 1, 86400, &n, err, errlen))
			goto fail;
		g->health_interval_ms = n * 1000;
	}
	g->mqtt_port = 1883;
	g->mqtt_keepalive = 30;
	if ((s = conf_first(c, "mqtt"))) {
		if (conf_check_keys(c, s, mqtt_keys, err, errlen))
			goto fail;
		if (conf_get_str(c, s, "host", 0, "127.0.0.1", &v, err, errlen))
			goto fail;
		g->mqtt_host = strdup(v);
		if (conf_get_int(c, s, "port", 0, 1883, 1, 65535, &n, err, errlen))
			goto fail;
		g->mqtt_port = (int)n;
		if (conf_get_int(c, s, "keepalive", 0, 30, 5, 3600, &n, err, errlen))
			goto fail;
		g->mqtt_keepalive = (int)n;
		if (conf_get_str(c, s, "topic_prefix", 0, "suido/v1", &v, err, errlen))
			goto fail;
		g->topic_prefix = strdup(v);
		if ((rc = tlsfiles_from_conf(c, s, &g->mqtt_tls, err, errlen)) != SUIDO_OK)
			goto fail;
		rc = SUIDO_ERR_CONFIG;
	} else {
		g->mqtt_host = strdup("127.0.0.1");
		g->topic_prefix = strdup("suido/v1");
	}
	g->format = GW_FORMAT_JSON;
	if ((s = conf_first(c, "security"))) {
		if (conf_check_keys(c, s, sec_keys, err, errlen))
			goto fail;
		if (conf_get_str(c, s, "format", 0, "json", &v, err, errlen))
			goto fail;
		if (strcmp(v, "json") == 0) {
			g->format = GW_FORMAT_JSON;
		} else if (strcmp(v, "xml") == 0) {
			g->format = GW_FORMAT_XML;
		} else if (strcmp(v, "plain") == 0) {
			g->format = GW_FORMAT_PLAIN;
		} else {
			conf_error(c, s, conf_find(s, "format"), err, errlen,
				   "expected json, xml or plain, got \"%s\"", v);
			goto fail;
		}
		if (conf_get_str(c, s, "key", g->format != GW_FORMAT_PLAIN, "", &v, err, errlen))
			goto fail;
		if (*v && !(g->key_path = conf_resolve_path(c, v)))
			goto nomem;
		if (conf_get_str(c, s, "platform_certificate", g->format != GW_FORMAT_PLAIN, "", &v,
				 err, errlen))
			goto fail;
		if (*v && !(g->platform_cert_path = conf_resolve_path(c, v)))
			goto nomem;
		if (conf_get_str(c, s, "ca", 0, "", &v, err, errlen))
			goto fail;
		if (*v && !(g->ca_path = conf_resolve_path(c, v)))
			goto nomem;
		if (conf_get_str(c, s, "mask_key", 0, "", &v, err, errlen))
			goto fail;
		if (*v && !(g->mask_key_path = conf_resolve_path(c, v)))
			goto nomem;
		if (conf_get_bool(c, s, "unsigned_commands", 0, 0, &g->unsigned_commands, err,
				  errlen))
			goto fail;
		if (g->unsigned_commands && g->format != GW_FORMAT_PLAIN) {
			conf_error(c, s, conf_find(s, "unsigned_commands"), err, errlen,
				   "only for format = plain (a sealed gateway verifies the "
				   "platform's commands with platform_certificate)");
			goto fail;
		}
	} else {
		/* json is the default, and it needs the keys */
		snprintf(err, errlen, "%s: missing [security] section (key and "
				      "platform_certificate, or format = plain)", path);
		goto fail;
	}
	if (g->start == GW_START_COMMAND && !g->platform_cert_path && !g->unsigned_commands) {
		snprintf(err, errlen, "%s: [send] start = command, but no platform command can be "
				      "accepted: set [security] platform_certificate (or "
				      "unsigned_commands = yes for a plain test setup), or start = "
				      "immediately", path);
		goto fail;
	}
	if ((s = conf_first(c, "ftp")) && (rc = load_ftp(c, s, &g->ftp, err, errlen, ftp_keys)) != SUIDO_OK)
		goto fail;
	rc = SUIDO_ERR_CONFIG;
	if (!g->id || !g->utility || !g->timezone || !g->state_dir || !g->spool_dir ||
	    !g->mapping_path || !g->log_level || !g->mqtt_host || !g->topic_prefix) {
		snprintf(err, errlen, "%s: out of memory or path too long", path);
		goto fail;
	}
	if ((rc = conf_load(g->mapping_path, &mc, err, errlen)) != SUIDO_OK)
		goto fail;
	if ((rc = mapping_load(mc, &g->mapping, err, errlen)) != SUIDO_OK)
		goto fail;
	if (mapping_masks(g->mapping) && !g->mask_key_path) {
		snprintf(err, errlen, "%s: the mapping %s masks columns, but [security] mask_key "
				      "is not set (create one with: suido mask-key new)",
			 path, g->mapping_path);
		rc = SUIDO_ERR_CONFIG;
		goto fail;
	}
	conf_free(mc);
	conf_free(c);
	*out = g;
	return SUIDO_OK;
nomem:
	snprintf(err, errlen, "%s: out of memory or path too long", path);
fail:
	conf_free(mc);
	conf_free(c);
	gw_config_free(g);
	return rc == SUIDO_OK ? SUIDO_ERR_CONFIG : rc;
}

void gw_config_free(struct gw_config *g)
{
	if (!g)
		return;
	free(g->id);
	free(g->utility);
	free(g->timezone);
	free(g->state_dir);
	free(g->spool_dir);
	free(g->mapping_path);
	free(g->log_level);
	free(g->mqtt_host);
	free(g->topic_prefix);
	tlsfiles_clear(&g->mqtt_tls);
	mapping_free(g->mapping);
	free(g->key_path);
	free(g->platform_cert_path);
	free(g->ca_path);
	free(g->mask_key_path);
	free(g->ftp.root);
	free(g->ftp.log);
	for (size_t i = 0; i < g->ftp.n_users; i++)
		free(g->ftp.users[i]);
	free(g->ftp.users);
	free(g);
}
