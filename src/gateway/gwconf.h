/*
 * The gateway's configuration file (etc/gateway.conf), validated at start
 * into an immutable struct. Relative paths are taken relative to the
 * directory of the configuration file. docs/configuration.md lists the keys.
 */
#ifndef SUIDO_GATEWAY_GWCONF_H
#define SUIDO_GATEWAY_GWCONF_H

#include <stddef.h>
#include <stdint.h>

#include "suido/mapping.h"
#include "suido/textenc.h"
#include "suido/tlsfiles.h"

/* How data messages travel (docs/protocol.md): sealed JSON (JWE of a JWS, the
 * default), sealed XML (the XML data profile, signed, its Points encrypted;
 * docs/protocol-xml.md) or plaintext JSON (tests and the plaintext benchmark
 * only). */
enum gw_format { GW_FORMAT_JSON = 0, GW_FORMAT_PLAIN, GW_FORMAT_XML };

/* [ftp]: uploads through vsftpd (docs/ftp.md). root is NULL without the
 * section. */
struct gw_ftp {
	char *root;      /* ROOT/<user> is each sender's directory (its FTP jail) */
	char *log;       /* vsftpd's log (vsftpd_log_file, or an xferlog) */
	char **users;    /* n_users names; none: every valid directory under root */
	size_t n_users;
	int64_t stale_ms; /* a file with no log entry this long is an abandoned upload */
	int require_final_newline; /* a file not ending in a line end is incomplete */
};

/* 1-32 of a-z 0-9 _ -, starting with a letter or digit: an FTP account name. */
int gw_ftp_user_valid(const char *name);

/* [send] start: when data messages may first be published (docs/protocol.md
 * "Commands"). With command, not before the platform's first start command;
 * with immediately, from the beginning (tests and benchmarks against a
 * platform that commands nothing). A stop command applies in both. */
enum gw_start { GW_START_COMMAND = 0, GW_START_IMMEDIATELY };

struct gw_config {
	char *id;           /* gateway id */
	char *utility;
	char *timezone;
	char *state_dir;    /* queue.db, done/, rejected/, receipts/ */
	char *spool_dir;
	char *mapping_path;
	char *log_level;
	size_t max_file_bytes;
	enum textenc encoding;
	size_t batch_points;
	int64_t interval_ms;
	int64_t ack_timeout_ms;
	unsigned window;
	int64_t retention_ms;       /* [send] retention_days or retention_s: acked messages
				     * older than this are evacuated to archives */
	int64_t archive_ms;         /* [send] archive_days: archives older than this are
				     * deleted; 0 = kept forever */
	int64_t max_queue_bytes;    /* [send] max_queue_bytes: intake pauses above; 0 = no bound */
	int64_t min_free_bytes;     /* [gateway] min_free_bytes: intake pauses below; 0 = only
				     * on a real disk full */
	enum gw_start start;        /* [send] start */
	int64_t health_interval_ms; /* [monitor] health_interval_s */
	char *mqtt_host;
	int mqtt_port;
	int mqtt_keepalive;
	char *topic_prefix;
	struct tlsfiles mqtt_tls; /* [mqtt] cafile, certfile, keyfile; all NULL: plaintext */
	struct mapping *mapping; /* loaded from mapping_path */
	/* [security]: the key files are only named here; gwseal loads them */
	enum gw_format format;
	char *key_path;           /* gateway's private key, PEM (json, xml: required) */
	char *platform_cert_path; /* platform's data-protection certificate (json, xml: required) */
	char *ca_path;            /* root CA certificate to check it against, or NULL */
	char *mask_key_path;      /* the utility's mask key (mask.h); required when the
				   * mapping masks columns, else NULL */
	int unsigned_commands;    /* [security] unsigned_commands (format = plain only):
				   * accept commands without a verifiable signature */
	struct gw_ftp ftp;
};

/*
 * Loads and validates path. SUIDO_OK and *out (free with gw_config_free), or
 * SUIDO_ERR_CONFIG / _IO with "file:line: [section] key: problem" in err.
 */
int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errlen);
void gw_config_free(struct gw_config *c);

#endif
