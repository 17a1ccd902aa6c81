/*
 * The OpenID Connect provider built into the platform (seed 000's SSO
 * server; issue 5): discovery, a JWK set with key rotation, the
 * authorization endpoint with a Japanese sign-in page (password, then TOTP
 * when the user has it), authorization code with PKCE (S256 required),
 * refresh tokens with rotation and family revocation on reuse, client
 * credentials for application back-ends, userinfo, revocation (RFC 7009)
 * and end session. ID tokens and RFC 9068 access tokens are RS256 JWTs
 * (jwt.h) signed by the current key of keys_dir. docs/oidc.md is the
 * vendor-facing description.
 *
 * The verifying side (oidc_check_access_token) is what the AP interface and
 * the admin API call for every bearer token: signature with a published
 * key, issuer, audience, typ at+jwt, expiry and not-before; then the
 * application must be registered and not revoked. With an external issuer
 * configured (e.g. Keycloak) the provider's endpoints are off and tokens
 * are checked against that issuer's JWK set instead.
 *
 * State: codes, refresh tokens and users live in the registry (shared by
 * instances); browser sessions and the sign-in throttle (lockout.h) are in
 * memory. Thread-safe: the signing keys are swapped under a lock at
 * rotation.
 */
#ifndef SUIDO_PLATFORM_OIDC_H
#define SUIDO_PLATFORM_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "registry.h"
#include "suido/jwt.h"
#include "suido/lockout.h"
#include "suido/password.h"
#include "suido/session.h"

#define OIDC_ISSUER_MAX 512
#define OIDC_SCOPE_MAX 256

struct oidc_config {
	const char *issuer;           /* "https://host:port", no trailing '/' */
	const char *audience;         /* aud of access tokens; NULL: issuer + "/ap/v1" */
	const char *keys_dir;         /* the signing keys, <kid>.pem (0600), made when absent */
	uint64_t rotate_s;            /* age after which a start makes a new signing key */
	uint64_t access_ttl_s;        /* access token lifetime (default 300) */
	uint64_t id_ttl_s;            /* ID token lifetime (default 300) */
	uint64_t refresh_ttl_s;       /* refresh token lifetime (default 30 days) */
	uint64_t code_ttl_s;          /* authorization code lifetime (default 60) */
	struct session_config sessions;
	struct lockout_policy lockout;
	struct password_policy policy;
	const struct password_blocklist *blocklist; /* may be NULL; borrowed */
	struct registry *registry;    /* borrowed for the provider's life */
	/* First-party clients (the operator's portal), space-separated: their
	 * user tokens may act on the admin API, and any user may sign in through
	 * them. Every other client gets codes only for users of a utility that
	 * granted it (or of its own vendor). NULL: none. */
	const char *admin_clients;
	/* External issuer instead of ours: its iss and a JWK set file. */
	const char *external_issuer;  /* NULL: the built-in provider */
	const char *external_jwks;    /* path of the issuer's JWK set document */
};

/* Fills the lifetimes, rotation, sessions, lockout and policy defaults. */
void oidc_config_defaults(struct oidc_config *c);

struct oidc;

/* Loads (or makes) the signing keys and starts the provider. Returns SUIDO_OK
 * and *out (oidc_free), SUIDO_ERR_IO / _CONFIG / _INVALID with detail in
 * err, SUIDO_ERR_NOMEM. c is copied (its pointers stay borrowed). */
int oidc_create(const struct oidc_config *c, uint64_t now_ms, struct oidc **out, char *err,
		size_t errlen);
void oidc_free(struct oidc *o); /* tolerates NULL */

/* 1 when path[0..len) is one of the provider's: /.well-known/openid-configuration
 * or under /oidc/. */
int oidc_owns(const char *path, size_t len);

/* Answers one request on a path oidc_owns. */
void oidc_handle(struct oidc *o, const struct http_request *rq, struct http_response *out);

/* Makes a new signing key now. Tokens are signed with it from now on; the
 * previous key stays published (tokens it signed still verify), older ones
 * are retired and their files removed. SUIDO_ERR_CONFIG with an external
 * issuer. */
int oidc_rotate(struct oidc *o, uint64_t now_ms, char *err, size_t errlen);

/* Who a valid access token speaks for. */
struct oidc_principal {
	char client[REG_ID_MAX];      /* the application (client_id / azp) */
	char user[REG_ID_MAX];        /* the signed-in user's login; "" for client credentials */
	char tenant[REG_ID_MAX];      /* the user's tenant, as the registry has it; "" without user */
	char scope[OIDC_SCOPE_MAX];
};

/* Why a bearer token was refused (RFC 6750 invalid_token unless said). */
enum oidc_refusal {
	OIDC_TOKEN_OK = 0,
	OIDC_TOKEN_INVALID,           /* jwt.h refused it: *why says which check */
	OIDC_TOKEN_NO_CLIENT,         /* no client_id / azp claim */
	OIDC_TOKEN_APP_REVOKED,       /* the application is unknown or revoked */
	OIDC_TOKEN_USER_DISABLED,     /* the user is unknown or disabled */
};

/* Checks an access token at now_ms. Returns OIDC_TOKEN_OK with *p filled, or
 * the refusal (*why says the JWT check for OIDC_TOKEN_INVALID). */
enum oidc_refusal oidc_check_access_token(struct oidc *o, const char *tok, size_t len,
					  uint64_t now_ms, struct oidc_principal *p,
					  enum jwt_reason *why);

/* 1 when client is one of the configured first-party admin clients. */
int oidc_is_admin_client(const struct oidc *o, const char *client);

/* 1 when scope (space-separated) holds s. */
int oidc_scope_has(const char *scope, const char *s);

#endif
