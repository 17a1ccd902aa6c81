/*
 * The platform's configuration file (etc/platform.conf), validated at start
 * into an immutable struct. Relative paths are relative to the directory of
 * the configuration file. docs/configuration.md lists every key.
 */
#ifndef SUIDO_PLATFORM_PLATCONF_H
#define SUIDO_PLATFORM_PLATCONF_H

#include <stddef.h>
#include <stdint.h>

#include "suido/tlsfiles.h"

struct plat_utility {
	char *id;
	char *name;
};

/* How a gateway's data messages travel (docs/protocol.md): sealed JSON (JWE of
 * a JWS, the default), sealed XML (the XML data profile signed and its Points
 * encrypted, docs/protocol-xml.md) or plaintext (tests and the plaintext
 * benchmark only). */
enum plat_format { PLAT_FORMAT_JSON = 0, PLAT_FORMAT_PLAIN, PLAT_FORMAT_XML };

struct plat_gateway {
	char *id;
	char *utility;
	enum plat_format format;
	char *certificate; /* its data-protection certificate (json, xml), else NULL */
	int sending;       /* [gateway ID] sending: the start/stop published at start */
	unsigned interval_s; /* [gateway ID] interval_s: its periodic sending interval */
};

/* An application's data-protection certificate (sealed answers are
 * encrypted for it; files it deposits are verified with it). The application
 * itself, its secret and its grants live in the registry (registry.h); this
 * section only names the certificate, until certificates are uploaded
 * through the admin API. */
struct plat_application {
	char *id;
	char *certificate;
};

/* [oidc]: the OpenID Connect provider (oidc.h) or an external issuer. */
struct plat_oidc {
	char *issuer;          /* NULL: https://<listen>:<port> */
	char *audience;        /* NULL: issuer + "/ap/v1" */
	char *keys_dir;        /* NULL: beside the database, "oidc-keys" */
	unsigned rotate_days;
	unsigned access_ttl_s, id_ttl_s, code_ttl_s;
	unsigned long long refresh_ttl_s;
	unsigned session_idle_s, session_absolute_s;
	char *external_issuer; /* NULL: the built-in provider */
	char *external_jwks;
	char *password_blocklist; /* NULL: none */
};

struct plat_config {
	char *database;
	char *registry;    /* [platform] registry: NULL = registry.db beside the database */
	char *timezone;
	char *log_level;
	char *http_listen;
	int http_port;
	/* [http] certfile, keyfile: the AP interface's TLS server certificate (then
	 * any intermediates) and its private key, PEM, both checked at load; both
	 * NULL: plain HTTP (benchmarks only) */
	char *http_certfile;
	char *http_keyfile;
	unsigned http_threads;
	char *access_log;  /* [http] access_log: one JSON line per AP request; NULL: none */
	size_t page_default;
	size_t page_max;
	char *mqtt_host;
	int mqtt_port;
	int mqtt_keepalive;
	char *mqtt_client_id;
	char *topic_prefix;
	struct tlsfiles mqtt_tls; /* [mqtt] cafile, certfile, keyfile; all NULL: plaintext */
	size_t max_message_bytes;
	size_t batch_messages;
	/* [security]: named here, loaded by gwkeys; NULL when not given */
	char *security_key; /* the platform's data-protection private key */
	char *security_ca;  /* the root CA certificate */
	char *security_crl; /* the CA's CRL */
	char *security_certificate;  /* the platform's data-protection certificate (published) */
	char *security_previous_key; /* the key before a rotation: still opens in-flight messages */
	size_t n_utilities;
	struct plat_utility *utilities;
	size_t n_gateways;
	struct plat_gateway *gateways;
	size_t n_applications;
	struct plat_application *applications;
	struct plat_oidc oidc;
	size_t files_max_bytes; /* [files] max_bytes: a deposited file's content */
	/* [monitor]: the gateways' health reports and states (docs/protocol.md) */
	unsigned health_interval_s; /* how often gateways report */
	unsigned silent_intervals;  /* no data for this many sending intervals: silent */
	unsigned gap_grace_s;       /* a gap in a gateway's seqs this old: ask for a resend */
	/* [admin] api_token_sha256: the operator's token for /admin/v1 (commands) */
	unsigned char admin_token_sha256[32];
	int has_admin_token;
	/* [admin] clients: first-party clients (the operator's portal) whose user
	 * tokens may act on the admin API; space-separated ids; NULL: none */
	char *admin_clients;
};

/* Loads and validates path. SUIDO_OK and *out (free with plat_config_free),
 * or SUIDO_ERR_CONFIG / _IO with "file:line: [section] key: problem" in err. */
int plat_config_load(const char *path, struct plat_config **out, char *err, size_t errlen);
void plat_config_free(struct plat_config *c);

/* The registered gateway with this id, or NULL. */
const struct plat_gateway *plat_config_gateway(const struct plat_config *c, const char *id);

/* The registered application with this id, or NULL. */
const struct plat_application *plat_config_application(const struct plat_config *c,
							const char *id);

#endif
