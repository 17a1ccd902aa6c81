/*
 * The AP interface (application side): an HTTPS server on libmicrohttpd
 * (GnuTLS, TLS 1.2 and 1.3 only) that serves the item master, time ranges,
 * latest values and aggregates of a utility's data under /ap/v1, plus /healthz
 * and /metrics. Without a certificate it speaks plain HTTP: benchmarks only.
 *
 * Authorization (issue 5): every /ap/v1 request carries an access token of
 * the OpenID provider (oidc.h), "Authorization: Bearer <JWT>": signature,
 * issuer, audience, expiry and not-before are checked, then the application
 * must be registered and not revoked, hold the ap.read scope, and have a
 * live grant of the utility in the path (registry.h); a user's token also
 * needs the user to belong to that utility. A grant limited to chosen items
 * or facilities shows only those items; files and gateways need a grant of
 * all items. RFC 6750: no token or an invalid one gets 401 with
 * WWW-Authenticate (error="invalid_token" for a bad one), a valid token
 * without the right gets 403 (error="insufficient_scope"). Each AP request
 * is written to the access log (who, which utility, what, when, result).
 * /healthz and /metrics are unauthenticated (loopback only for now).
 *
 * Also served: the OpenID provider's paths (oidc_owns), the admin API
 * (/admin/v1, admin.h) for the operator's token or a signed-in user's
 * access token, and the operator's gateway commands.
 *
 * Applications with a data-protection certificate ([application ID] of
 * platform.conf) can ask for sealed answers ("Accept: application/jose":
 * the JSON answer signed by the platform and encrypted for the application,
 * docs/api.md) and deposit files in the sealed file format (POST .../files);
 * a file is served sealed for them in the file format on
 * "Accept: application/zip".
 *
 * Endpoints and their JSON are specified in docs/api.md.
 */
#ifndef SUIDO_PLATFORM_API_H
#define SUIDO_PLATFORM_API_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "admin.h"
#include "command.h"
#include "metrics.h"
#include "monitor.h"
#include "oidc.h"
#include "registry.h"
#include "suido/jose.h"
#include "suido/store.h"

/* An application's data-protection keys. Everything borrowed for the api's life. */
struct api_app {
	const char *id;                   /* the application (OIDC client_id) */
	const struct jose_key *seal_to;   /* the application's certificate key; NULL: none */
	EVP_PKEY *sender_pub;             /* the same key for fileseal; NULL with seal_to */
	const char *no_seal;              /* why seal_to is NULL (answered with 406/403) */
};

/* Opens a store for one HTTP worker thread; called lazily, at most once per
 * thread. Returns SUIDO_OK and *out, or an error (the request gets 503). */
typedef int (*api_store_open_fn)(void *ctx, struct store **out);

struct api_config {
	const char *listen_addr;  /* IPv4 or IPv6 literal, e.g. "127.0.0.1" */
	uint16_t port;            /* 0 = pick a free port (see api_port) */
	unsigned threads;         /* worker threads, >= 1 */
	size_t page_default;      /* values per page when no limit is given */
	size_t page_max;          /* largest limit accepted */
	size_t n_apps;
	const struct api_app *apps;       /* borrowed for the api's life */
	struct registry *registry;        /* grants, applications, users; borrowed */
	const char *access_log;           /* file of the access log (appended); NULL: none */
	api_store_open_fn store_open;
	void *store_ctx;
	/* TLS: both PEM file paths, or both NULL for plain HTTP. The certificate
	 * file holds the server certificate, then any intermediates; the key is
	 * unencrypted. Read by api_start; the bytes read are zeroed by api_stop. */
	const char *tls_certfile;
	const char *tls_keyfile;
	/* The platform's data-protection key: signs sealed answers, opens the
	 * files applications deposit, signs files served sealed. Both NULL: no
	 * sealed answers and no deposits (406 / 403). */
	const struct jose_key *platform_key;
	EVP_PKEY *platform_pkey;
	size_t files_max_bytes;   /* a deposited file's content, bytes */
	/* Gateway monitoring (GET .../gateways) and /metrics; NULL: none. */
	struct monitor *monitor;
	/* Operator commands (POST /admin/v1/gateways/{id}/commands, with the
	 * admin token); NULL or no token: the admin paths answer 404. */
	struct command_queue *commands;
	const struct plat_config *platform; /* the registered gateways, for admin checks */
	int has_admin_token;
	unsigned char admin_token_sha256[32];
};

struct api;

/*
 * Starts serving, over TLS when cfg names a certificate and key. Plain HTTP on
 * an address other than loopback is logged as a warning (tokens would cross
 * the network in the clear). Returns SUIDO_OK and *out (stop with api_stop),
 * or SUIDO_ERR_IO (cannot bind, cannot read a TLS file) / _NOMEM / _CONFIG
 * (bad configuration, a TLS file libmicrohttpd refuses, no TLS support) with
 * detail in err; err names the file but never holds key material.
 * cfg and m are borrowed until api_stop.
 */
int api_start(const struct api_config *cfg, struct metrics *m, struct api **out, char *err,
	      size_t errlen);

/* Hands the api the OpenID provider (and verifier) and the admin API, once
 * they exist (the issuer's URL may need the bound port). Until then the AP,
 * admin and provider paths answer 503. Both borrowed until api_stop. */
void api_attach(struct api *a, struct oidc *oidc, struct admin *admin);

/* The port actually bound. */
uint16_t api_port(const struct api *a);

/* Stops the server, waits for the workers, closes their stores. Tolerates NULL. */
void api_stop(struct api *a);

#endif
