/*
 * Loading and validating the platform configuration (platconf.h).
 */
#include "platconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "suido/cert.h"
#include "suido/conf.h"
#include "suido/error.h"
#include "suido/hex.h"
#include "suido/profile.h"

/* A file's problem as "PATH: detail", unless detail names the file already. */
static void file_error(const struct conf *c, const struct conf_section *s, const char *key,
		       const char *path, const char *detail, char *err, size_t errlen)
{
	if (strstr(detail, path))
		conf_error(c, s, conf_find(s, key), err, errlen, "%s", detail);
	else
		conf_error(c, s, conf_find(s, key), err, errlen, "%s: %s", path, detail);
}

/*
 * The AP interface's certificate and key: both load, the key is the
 * certificate's, and the certificate says it is a TLS server certificate valid
 * now, so a bad file is a located error at start (and with --check-config)
 * rather than a handshake every client fails. Its chain is not verified here:
 * the clients decide which root they trust, and it need not be [security] ca.
 */
static int check_http_tls(const struct conf *c, const struct conf_section *s,
			  const struct plat_config *p, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf;
	uint32_t ku;
	char detail[512];
	int rc = SUIDO_ERR_CONFIG, r;

	r = cert_chain_load_file(p->http_certfile, &chain, detail, sizeof detail);
	if (r != SUIDO_OK) {
		file_error(c, s, "certfile", p->http_certfile, detail, err, errlen);
		goto out;
	}
	r = cert_key_load_file(p->http_keyfile, &key, detail, sizeof detail);
	if (r != SUIDO_OK) {
		file_error(c, s, "keyfile", p->http_keyfile, detail, err, errlen);
		goto out;
	}
	leaf = sk_X509_value(chain, 0);
	if (!cert_key_matches(leaf, key)) {
		conf_error(c, s, conf_find(s, "keyfile"), err, errlen,
			   "%s is not the private key of certfile %s", p->http_keyfile,
			   p->http_certfile);
		goto out;
	}
	ku = X509_get_key_usage(leaf); /* UINT32_MAX when the extension is absent */
	if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) ||
	    !(ku & KU_DIGITAL_SIGNATURE)) {
		conf_error(c, s, conf_find(s, "certfile"), err, errlen,
			   "%s is not a TLS server certificate (it needs extendedKeyUsage "
			   "serverAuth and, with keyUsage, digitalSignature: suido ca issue "
			   "--use tls-server)", p->http_certfile);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
		conf_error(c, s, conf_find(s, "certfile"), err, errlen, "%s is not valid yet",
			   p->http_certfile);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
		conf_error(c, s, conf_find(s, "certfile"), err, errlen, "%s has expired",
			   p->http_certfile);
		goto out;
	}
	rc = SUIDO_OK;
out:
	EVP_PKEY_free(key);
	if (chain)
		sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return rc;
}

#define GET_STR(sec, key, req, def, dst)                                                     \
	do {                                                                                  \
		if (conf_get_str(c, sec, key, req, def, &v, err, errlen))                     \
			goto fail;                                                            \
		if (!((dst) = strdup(v)))                                                     \
			goto nomem;                                                           \
	} while (0)

int plat_config_load(const char *path, struct plat_config **out, char *err, size_t errlen)
{
	static const char *const plat_keys[] = {"database", "registry", "timezone", "log_level",
						NULL};
	static const char *const http_keys[] = {"listen",   "port",     "threads", "page_default",
						"page_max", "certfile", "keyfile", "access_log",
						NULL};
	static const char *const mqtt_keys[] = {"host",         "port",   "keepalive", "client_id",
						"topic_prefix", "cafile", "certfile",  "keyfile",
						NULL};
	static const char *const ingest_keys[] = {"max_message_bytes", "batch_messages", NULL};
	static const char *const util_keys[] = {"name", "api_token_sha256", NULL};
	static const char *const gw_keys[] = {"utility", "format", "certificate", "sending",
					      "interval_s", NULL};
	static const char *const sec_keys[] = {"key", "ca", "crl", "certificate", "previous_key",
					       NULL};
	static const char *const app_keys[] = {"utility", "api_token_sha256", "certificate", NULL};
	static const char *const oidc_keys[] = {
		"issuer",       "audience",        "keys_dir",      "rotate_days",
		"access_ttl_s", "id_ttl_s",        "code_ttl_s",    "refresh_ttl_s",
		"session_idle_s", "session_absolute_s", "external_issuer", "external_jwks",
		"password_blocklist", NULL};
	static const char *const files_keys[] = {"max_bytes", NULL};
	static const char *const monitor_keys[] = {"health_interval_s", "silent_intervals",
						   "gap_grace_s", NULL};
	static const char *const admin_keys[] = {"api_token_sha256", "clients", NULL};
	const struct conf_section *sec = NULL;
	struct conf *c = NULL;
	struct plat_config *p = NULL;
	const char *v;
	long long n;
	int rc, seen_platform = 0;

	*out = NULL;
	if ((rc = conf_load(path, &c, err, errlen)) != SUIDO_OK)
		return rc;
	p = calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->utilities = calloc(conf_section_count(c) + 1, sizeof *p->utilities);
	p->gateways = calloc(conf_section_count(c) + 1, sizeof *p->gateways);
	p->applications = calloc(conf_section_count(c) + 1, sizeof *p->applications);
	if (!p->utilities || !p->gateways || !p->applications)
		goto nomem;
	p->files_max_bytes = 16u << 20;
	p->oidc.rotate_days = 30;
	p->oidc.access_ttl_s = 300;
	p->oidc.id_ttl_s = 300;
	p->oidc.code_ttl_s = 60;
	p->oidc.refresh_ttl_s = 30ull * 86400;
	p->oidc.session_idle_s = 1800;
	p->oidc.session_absolute_s = 43200;
	p->health_interval_s = 60;
	p->silent_intervals = 3;
	p->gap_grace_s = 30;
	/* defaults */
	p->http_port = 8080;
	p->http_threads = 4;
	p->page_default = 10000;
	p->page_max = 100000;
	p->mqtt_port = 1883;
	p->mqtt_keepalive = 30;
	p->max_message_bytes = 8u << 20;
	p->batch_messages = 64;

	for (size_t i = 0; i < conf_section_count(c); i++) {
		const struct conf_section *s = conf_section_at(c, i);
		if (strcmp(s->kind, "platform") == 0) {
			seen_platform = 1;
			if (conf_check_keys(c, s, plat_keys, err, errlen))
				goto fail;
			if (conf_get_str(c, s, "database", 1, NULL, &v, err, errlen))
				goto fail;
			if (!(p->database = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_str(c, s, "registry", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->registry = conf_resolve_path(c, v)))
				goto nomem;
			GET_STR(s, "timezone", 0, "Asia/Tokyo", p->timezone);
			GET_STR(s, "log_level", 0, "info", p->log_level);
		} else if (strcmp(s->kind, "http") == 0) {
			if (conf_check_keys(c, s, http_keys, err, errlen))
				goto fail;
			GET_STR(s, "listen", 0, "127.0.0.1", p->http_listen);
			if (conf_get_int(c, s, "port", 0, 8080, 0, 65535, &n, err, errlen))
				goto fail;
			p->http_port = (int)n;
			if (conf_get_int(c, s, "threads", 0, 4, 1, 256, &n, err, errlen))
				goto fail;
			p->http_threads = (unsigned)n;
			if (conf_get_int(c, s, "page_default", 0, 10000, 1, 1000000, &n, err, errlen))
				goto fail;
			p->page_default = (size_t)n;
			if (conf_get_int(c, s, "page_max", 0, 100000, 1, 10000000, &n, err, errlen))
				goto fail;
			p->page_max = (size_t)n;
			free(p->access_log);
			p->access_log = NULL;
			if (conf_get_str(c, s, "access_log", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->access_log = conf_resolve_path(c, v)))
				goto nomem;
			/* a second [http] replaces the first */
			free(p->http_certfile);
			free(p->http_keyfile);
			p->http_certfile = p->http_keyfile = NULL;
			if (!conf_find(s, "certfile") != !conf_find(s, "keyfile")) {
				conf_error(c, s, NULL, err, errlen, "%s: required key missing "
					   "(certfile and keyfile go together)",
					   conf_find(s, "certfile") ? "keyfile" : "certfile");
				goto fail;
			}
			if (conf_find(s, "certfile")) {
				if (conf_get_str(c, s, "certfile", 1, NULL, &v, err, errlen))
					goto fail;
				if (!(p->http_certfile = conf_resolve_path(c, v)))
					goto nomem;
				if (conf_get_str(c, s, "keyfile", 1, NULL, &v, err, errlen))
					goto fail;
				if (!(p->http_keyfile = conf_resolve_path(c, v)))
					goto nomem;
				if (check_http_tls(c, s, p, err, errlen) != SUIDO_OK)
					goto fail;
			}
		} else if (strcmp(s->kind, "mqtt") == 0) {
			if (conf_check_keys(c, s, mqtt_keys, err, errlen))
				goto fail;
			GET_STR(s, "host", 0, "127.0.0.1", p->mqtt_host);
			if (conf_get_int(c, s, "port", 0, 1883, 1, 65535, &n, err, errlen))
				goto fail;
			p->mqtt_port = (int)n;
			if (conf_get_int(c, s, "keepalive", 0, 30, 5, 3600, &n, err, errlen))
				goto fail;
			p->mqtt_keepalive = (int)n;
			GET_STR(s, "client_id", 0, "suido-platform", p->mqtt_client_id);
			GET_STR(s, "topic_prefix", 0, "suido/v1", p->topic_prefix);
			tlsfiles_clear(&p->mqtt_tls); /* a second [mqtt] replaces the first */
			if ((rc = tlsfiles_from_conf(c, s, &p->mqtt_tls, err, errlen)) != SUIDO_OK) {
				if (rc == SUIDO_ERR_NOMEM)
					goto nomem;
				goto fail;
			}
		} else if (strcmp(s->kind, "ingest") == 0) {
			if (conf_check_keys(c, s, ingest_keys, err, errlen))
				goto fail;
			if (conf_get_int(c, s, "max_message_bytes", 0, 8 << 20, 1024, 256 << 20, &n,
					 err, errlen))
				goto fail;
			p->max_message_bytes = (size_t)n;
			if (conf_get_int(c, s, "batch_messages", 0, 64, 1, 10000, &n, err, errlen))
				goto fail;
			p->batch_messages = (size_t)n;
		} else if (strcmp(s->kind, "security") == 0) {
			if (conf_check_keys(c, s, sec_keys, err, errlen))
				goto fail;
			sec = s;
			if (conf_get_str(c, s, "key", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->security_key = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_str(c, s, "ca", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->security_ca = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_str(c, s, "crl", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->security_crl = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_str(c, s, "certificate", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->security_certificate = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_str(c, s, "previous_key", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->security_previous_key = conf_resolve_path(c, v)))
				goto nomem;
		} else if (strcmp(s->kind, "utility") == 0) {
			struct plat_utility *u = &p->utilities[p->n_utilities];
			if (!profile_name_valid(s->name)) {
				conf_error(c, s, NULL, err, errlen,
					   "utility id must be 1-64 characters of A-Z a-z 0-9 _ . -");
				goto fail;
			}
			for (size_t k = 0; k < p->n_utilities; k++) {
				if (strcmp(p->utilities[k].id, s->name) == 0) {
					conf_error(c, s, NULL, err, errlen, "utility defined twice");
					goto fail;
				}
			}
			if (conf_check_keys(c, s, util_keys, err, errlen))
				goto fail;
			if (!(u->id = strdup(s->name)))
				goto nomem;
			p->n_utilities++;
			GET_STR(s, "name", 0, s->name, u->name);
			if (conf_find(s, "api_token_sha256")) {
				conf_error(c, s, conf_find(s, "api_token_sha256"), err, errlen,
					   "static tokens are gone: applications get tokens from the "
					   "OpenID provider (docs/oidc.md)");
				goto fail;
			}
		} else if (strcmp(s->kind, "gateway") == 0) {
			struct plat_gateway *g = &p->gateways[p->n_gateways];
			if (!profile_name_valid(s->name)) {
				conf_error(c, s, NULL, err, errlen,
					   "gateway id must be 1-64 characters of A-Z a-z 0-9 _ . -");
				goto fail;
			}
			for (size_t k = 0; k < p->n_gateways; k++) {
				if (strcmp(p->gateways[k].id, s->name) == 0) {
					conf_error(c, s, NULL, err, errlen, "gateway defined twice");
					goto fail;
				}
			}
			if (conf_check_keys(c, s, gw_keys, err, errlen))
				goto fail;
			if (!(g->id = strdup(s->name)))
				goto nomem;
			p->n_gateways++;
			GET_STR(s, "utility", 1, NULL, g->utility);
			if (conf_get_str(c, s, "format", 0, "json", &v, err, errlen))
				goto fail;
			if (strcmp(v, "json") == 0) {
				g->format = PLAT_FORMAT_JSON;
			} else if (strcmp(v, "xml") == 0) {
				g->format = PLAT_FORMAT_XML;
			} else if (strcmp(v, "plain") == 0) {
				g->format = PLAT_FORMAT_PLAIN;
			} else {
				conf_error(c, s, conf_find(s, "format"), err, errlen,
					   "expected json, xml or plain, got \"%s\"", v);
				goto fail;
			}
			if (conf_get_str(c, s, "certificate", g->format != PLAT_FORMAT_PLAIN, "", &v,
					 err, errlen))
				goto fail;
			if (*v && !(g->certificate = conf_resolve_path(c, v)))
				goto nomem;
			if (conf_get_bool(c, s, "sending", 0, 1, &g->sending, err, errlen))
				goto fail;
			if (conf_get_int(c, s, "interval_s", 0, 60, 1, 86400, &n, err, errlen))
				goto fail;
			g->interval_s = (unsigned)n;
		} else if (strcmp(s->kind, "application") == 0) {
			struct plat_application *a = &p->applications[p->n_applications];
			if (!profile_name_valid(s->name)) {
				conf_error(c, s, NULL, err, errlen, "application id must be 1-64 "
					   "characters of A-Z a-z 0-9 _ . -");
				goto fail;
			}
			if (plat_config_application(p, s->name)) {
				conf_error(c, s, NULL, err, errlen, "application defined twice");
				goto fail;
			}
			if (conf_check_keys(c, s, app_keys, err, errlen))
				goto fail;
			if (!(a->id = strdup(s->name)))
				goto nomem;
			p->n_applications++;
			for (const char *const *k = app_keys; k[1]; k++) {
				/* utility and api_token_sha256: now the registry's grants and
				 * the OpenID provider's tokens */
				if (conf_find(s, *k)) {
					conf_error(c, s, conf_find(s, *k), err, errlen,
						   "moved to the registry: grant the application with "
						   "`suido grant set` and let it get tokens from the "
						   "OpenID provider (docs/oidc.md)");
					goto fail;
				}
			}
			if (conf_get_str(c, s, "certificate", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(a->certificate = conf_resolve_path(c, v)))
				goto nomem;
		} else if (strcmp(s->kind, "monitor") == 0) {
			if (conf_check_keys(c, s, monitor_keys, err, errlen))
				goto fail;
			if (conf_get_int(c, s, "health_interval_s", 0, 60, 1, 3600, &n, err, errlen))
				goto fail;
			p->health_interval_s = (unsigned)n;
			if (conf_get_int(c, s, "silent_intervals", 0, 3, 1, 1000, &n, err, errlen))
				goto fail;
			p->silent_intervals = (unsigned)n;
			if (conf_get_int(c, s, "gap_grace_s", 0, 30, 1, 86400, &n, err, errlen))
				goto fail;
			p->gap_grace_s = (unsigned)n;
		} else if (strcmp(s->kind, "admin") == 0) {
			if (conf_check_keys(c, s, admin_keys, err, errlen))
				goto fail;
			if (conf_get_str(c, s, "api_token_sha256", 1, "", &v, err, errlen))
				goto fail;
			if (hex_decode(v, p->admin_token_sha256, 32) != 0) {
				conf_error(c, s, conf_find(s, "api_token_sha256"), err, errlen,
					   "expected 64 hexadecimal digits");
				goto fail;
			}
			p->has_admin_token = 1;
			free(p->admin_clients);
			p->admin_clients = NULL;
			if (conf_get_str(c, s, "clients", 0, "", &v, err, errlen))
				goto fail;
			if (*v && !(p->admin_clients = strdup(v)))
				goto nomem;
		} else if (strcmp(s->kind, "oidc") == 0) {
			struct plat_oidc *o = &p->oidc;
			if (conf_check_keys(c, s, oidc_keys, err, errlen))
				goto fail;
#define OPT_STR(key, dst, path)                                                              \
	do {                                                                                  \
		if (conf_get_str(c, s, key, 0, "", &v, err, errlen))                          \
			goto fail;                                                            \
		if (*v && !((dst) = (path) ? conf_resolve_path(c, v) : strdup(v)))            \
			goto nomem;                                                           \
	} while (0)
			OPT_STR("issuer", o->issuer, 0);
			OPT_STR("audience", o->audience, 0);
			OPT_STR("keys_dir", o->keys_dir, 1);
			OPT_STR("external_issuer", o->external_issuer, 0);
			OPT_STR("external_jwks", o->external_jwks, 1);
			OPT_STR("password_blocklist", o->password_blocklist, 1);
#undef OPT_STR
			if (conf_get_int(c, s, "rotate_days", 0, 30, 1, 3650, &n, err, errlen))
				goto fail;
			o->rotate_days = (unsigned)n;
			if (conf_get_int(c, s, "access_ttl_s", 0, 300, 30, 86400, &n, err, errlen))
				goto fail;
			o->access_ttl_s = (unsigned)n;
			if (conf_get_int(c, s, "id_ttl_s", 0, 300, 30, 86400, &n, err, errlen))
				goto fail;
			o->id_ttl_s = (unsigned)n;
			if (conf_get_int(c, s, "code_ttl_s", 0, 60, 10, 600, &n, err, errlen))
				goto fail;
			o->code_ttl_s = (unsigned)n;
			if (conf_get_int(c, s, "refresh_ttl_s", 0, 30 * 86400, 60, 365LL * 86400, &n,
					 err, errlen))
				goto fail;
			o->refresh_ttl_s = (unsigned long long)n;
			if (conf_get_int(c, s, "session_idle_s", 0, 1800, 60, 86400, &n, err, errlen))
				goto fail;
			o->session_idle_s = (unsigned)n;
			if (conf_get_int(c, s, "session_absolute_s", 0, 43200, 60, 7 * 86400, &n, err,
					 errlen))
				goto fail;
			o->session_absolute_s = (unsigned)n;
			if (o->external_issuer && !o->external_jwks) {
				conf_error(c, s, conf_find(s, "external_issuer"), err, errlen,
					   "external_jwks is required with external_issuer");
				goto fail;
			}
		} else if (strcmp(s->kind, "files") == 0) {
			if (conf_check_keys(c, s, files_keys, err, errlen))
				goto fail;
			if (conf_get_int(c, s, "max_bytes", 0, 16 << 20, 1, 64 << 20, &n, err, errlen))
				goto fail;
			p->files_max_bytes = (size_t)n;
		} else {
			conf_error(c, s, NULL, err, errlen, "unknown section");
			goto fail;
		}
	}
	if (!seen_platform) {
		snprintf(err, errlen, "%s: missing [platform] section", path);
		goto fail;
	}
	/* Every gateway must name a defined utility. */
	for (size_t i = 0; i < p->n_gateways; i++) {
		int found = 0;
		for (size_t k = 0; k < p->n_utilities; k++)
			found |= strcmp(p->gateways[i].utility, p->utilities[k].id) == 0;
		if (!found) {
			for (size_t si = 0; si < conf_section_count(c); si++) {
				const struct conf_section *s = conf_section_at(c, si);
				if (strcmp(s->kind, "gateway") == 0 &&
				    strcmp(s->name, p->gateways[i].id) == 0)
					conf_error(c, s, conf_find(s, "utility"), err, errlen,
						   "no [utility %s] section", p->gateways[i].utility);
			}
			goto fail;
		}
	}
	/* An application with a certificate needs the platform's key (it signs
	 * sealed answers) and the root. */
	for (size_t i = 0; i < p->n_applications; i++) {
		const struct plat_application *a = &p->applications[i];
		if (a->certificate && (!p->security_key || !p->security_ca)) {
			snprintf(err, errlen, "%s: [security] key and ca are required when an "
					      "application has a certificate (application %s)",
				 path, a->id);
			goto fail;
		}
	}
	/* Sealed gateways need the platform's key to open and the root to check
	 * their certificates against. */
	for (size_t i = 0; i < p->n_gateways; i++) {
		const char *fmt = p->gateways[i].format == PLAT_FORMAT_XML ? "xml" : "json";
		if (p->gateways[i].format == PLAT_FORMAT_PLAIN)
			continue;
		if (!p->security_key || !p->security_ca) {
			if (sec)
				conf_error(c, sec, NULL, err, errlen, "key and ca are required when a "
					   "gateway has format = %s (gateway %s)", fmt, p->gateways[i].id);
			else
				snprintf(err, errlen, "%s: missing [security] section with key and ca "
					 "(gateway %s has format = %s)", path, p->gateways[i].id, fmt);
			goto fail;
		}
	}
	if (!p->timezone && !(p->timezone = strdup("Asia/Tokyo")))
		goto nomem;
	if (!p->log_level && !(p->log_level = strdup("info")))
		goto nomem;
	if (!p->http_listen && !(p->http_listen = strdup("127.0.0.1")))
		goto nomem;
	if (!p->mqtt_host && !(p->mqtt_host = strdup("127.0.0.1")))
		goto nomem;
	if (!p->mqtt_client_id && !(p->mqtt_client_id = strdup("suido-platform")))
		goto nomem;
	if (!p->topic_prefix && !(p->topic_prefix = strdup("suido/v1")))
		goto nomem;
	conf_free(c);
	*out = p;
	return SUIDO_OK;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
	conf_free(c);
	plat_config_free(p);
	return SUIDO_ERR_NOMEM;
fail:
	conf_free(c);
	plat_config_free(p);
	return SUIDO_ERR_CONFIG;
}

void plat_config_free(struct plat_config *p)
{
	if (!p)
		return;
	free(p->database);
	free(p->registry);
	free(p->admin_clients);
	free(p->access_log);
	free(p->oidc.issuer);
	free(p->oidc.audience);
	free(p->oidc.keys_dir);
	free(p->oidc.external_issuer);
	free(p->oidc.external_jwks);
	free(p->oidc.password_blocklist);
	free(p->timezone);
	free(p->log_level);
	free(p->http_listen);
	free(p->http_certfile);
	free(p->http_keyfile);
	free(p->mqtt_host);
	free(p->mqtt_client_id);
	free(p->topic_prefix);
	tlsfiles_clear(&p->mqtt_tls);
	free(p->security_key);
	free(p->security_ca);
	free(p->security_crl);
	free(p->security_certificate);
	free(p->security_previous_key);
	for (size_t i = 0; i < p->n_utilities; i++) {
		free(p->utilities[i].id);
		free(p->utilities[i].name);
	}
	for (size_t i = 0; i < p->n_gateways; i++) {
		free(p->gateways[i].id);
		free(p->gateways[i].utility);
		free(p->gateways[i].certificate);
	}
	for (size_t i = 0; i < p->n_applications; i++) {
		free(p->applications[i].id);
		free(p->applications[i].certificate);
	}
	free(p->utilities);
	free(p->gateways);
	free(p->applications);
	free(p);
}

const struct plat_application *plat_config_application(const struct plat_config *c,
							const char *id)
{
	for (size_t i = 0; i < c->n_applications; i++)
		if (strcmp(c->applications[i].id, id) == 0)
			return &c->applications[i];
	return NULL;
}

const struct plat_gateway *plat_config_gateway(const struct plat_config *c, const char *id)
{
	for (size_t i = 0; i < c->n_gateways; i++)
		if (strcmp(c->gateways[i].id, id) == 0)
			return &c->gateways[i];
	return NULL;
}
