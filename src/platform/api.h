/*
 * The AP interface (application side): an HTTP server on libmicrohttpd that
 * serves the item master, time ranges, latest values and aggregates of a
 * utility's data under /ap/v1, plus /healthz and /metrics.
 *
 * Authentication (until the OpenID Connect issue lands): every /ap/v1
 * request needs "Authorization: Bearer <token>"; the token is bound to one
 * utility (its SHA-256 is configured), so a token of utility A reading
 * /ap/v1/utilities/B/... gets 403. No token or an unknown token gets 401
 * with a WWW-Authenticate header. /healthz and /metrics are unauthenticated
 * (loopback only for now).
 *
 * Endpoints and their JSON are specified in docs/api.md.
 */
#ifndef SUIDO_PLATFORM_API_H
#define SUIDO_PLATFORM_API_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "suido/store.h"

struct api_tenant {
	const char *utility;              /* borrowed for the api's life */
	unsigned char token_sha256[32];   /* SHA-256 of the bearer token */
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
	size_t n_tenants;
	const struct api_tenant *tenants; /* borrowed for the api's life */
	api_store_open_fn store_open;
	void *store_ctx;
};

struct api;

/*
 * Starts serving. Returns SUIDO_OK and *out (stop with api_stop), or
 * SUIDO_ERR_IO (cannot bind) / _NOMEM / _CONFIG with detail in err.
 * cfg and m are borrowed until api_stop.
 */
int api_start(const struct api_config *cfg, struct metrics *m, struct api **out, char *err,
	      size_t errlen);

/* The port actually bound. */
uint16_t api_port(const struct api *a);

/* Stops the server, waits for the workers, closes their stores. Tolerates NULL. */
void api_stop(struct api *a);

#endif
