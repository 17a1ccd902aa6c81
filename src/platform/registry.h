/*
 * The registry (issue 5): who may do what on the platform. Tenants (the
 * platform operator, utilities 事業体, vendors), the links between a utility
 * and the vendors that serve it, applications (owned by a vendor, OIDC
 * clients) and the grants a utility gives them on its data with a scope,
 * users (system-issued login IDs, names in kanji / kana / romaji, role,
 * password, TOTP), the OpenID Connect provider's state (authorization codes,
 * refresh token families), and an append-only audit log of every change.
 *
 * One SQLite database of its own (registry.db beside the store), WAL, with a
 * schema version; nothing here is kept only in memory, so a second platform
 * instance on a shared database sees the same state. The handle is
 * thread-safe (one connection behind a mutex); every call is one transaction,
 * and every change appends its audit row in that same transaction, so a
 * change is never without its record.
 *
 * Clock: every call that depends on time takes now_ms (UTC milliseconds), so
 * tests move time without sleeping. Secrets: client secrets, codes and
 * refresh tokens are stored only as SHA-256 (they are 256-bit random);
 * passwords only as Argon2id PHC strings (password.h); TOTP secrets and
 * recovery codes per totp.h. Nothing secret is ever logged or put in err.
 *
 * List calls (registry_*_list) run their callback under the registry's lock:
 * a callback must not call the registry.
 *
 * Errors: SUIDO_OK; SUIDO_ERR_INVALID (a malformed argument: bad id syntax,
 * over a length cap, unknown kind) with detail in err; SUIDO_ERR_NOTFOUND;
 * SUIDO_ERR_EXISTS; SUIDO_ERR_PERM (refused by a rule: wrong tenant kind,
 * grant without a vendor link, a wrong secret / password / code); SUIDO_ERR_DB
 * (database failure, detail in err); SUIDO_ERR_NOMEM. err may be NULL.
 */
#ifndef SUIDO_PLATFORM_REGISTRY_H
#define SUIDO_PLATFORM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "suido/password.h"
#include "suido/totp.h"

/* Identifiers (tenants, applications, login IDs): 1..REG_ID_MAX-1 bytes of
 * [a-z0-9], '-', '_', '.', starting with a letter or digit. */
#define REG_ID_MAX 64
#define REG_NAME_MAX 256        /* a display name, UTF-8, bytes with NUL */
#define REG_MAIL_MAX 256
#define REG_PHONE_MAX 32
#define REG_SECRET_TEXT 44      /* 43 base64url characters (256 bits) and NUL */
#define REG_URIS_MAX 4096       /* redirect URIs: JSON array text, bytes with NUL */
#define REG_SCOPE_MAX 16384     /* a grant's scope: JSON text, bytes with NUL */
#define REG_OTP_TEXT 24         /* a one-time password from a reset, and NUL */
#define REG_ACTOR_MAX 96        /* "operator", "user:<login>", "config", ... */

struct registry;

/* Opens (creating or migrating) the registry database at path.
 * Returns SUIDO_OK and *out (close with registry_close), SUIDO_ERR_DB /
 * SUIDO_ERR_IO with detail in err, SUIDO_ERR_NOMEM. */
int registry_open(const char *path, struct registry **out, char *err, size_t errlen);
void registry_close(struct registry *r); /* tolerates NULL */

/* Every change names its actor (e.g. "operator", "user:demo-0001",
 * "config") for the audit log; the registry does not decide who may act:
 * the admin API does (admin.h), and these calls only enforce the data's
 * own rules. */

/* ---- tenants ---------------------------------------------------------- */

enum reg_kind { REG_OPERATOR = 0, REG_UTILITY, REG_VENDOR };
const char *registry_kind_name(enum reg_kind k);       /* "operator", "utility", "vendor" */
int registry_kind_parse(const char *s, enum reg_kind *out); /* SUIDO_OK / _INVALID */

struct reg_tenant {
	char id[REG_ID_MAX];
	enum reg_kind kind;
	char name[REG_NAME_MAX];
	int64_t created_ms;
};

/* Adds a tenant. EXISTS when the id is taken (by any kind). */
int registry_tenant_add(struct registry *r, const char *actor, const struct reg_tenant *t,
			uint64_t now_ms, char *err, size_t errlen);
/* Adds the tenant unless it exists with the same kind (then OK, no audit
 * row); EXISTS when the id is taken by another kind. For [utility] sections
 * of platform.conf at start. */
int registry_tenant_ensure(struct registry *r, const char *actor, const struct reg_tenant *t,
			   uint64_t now_ms, char *err, size_t errlen);
int registry_tenant_get(struct registry *r, const char *id, struct reg_tenant *out);
/* Calls cb for each tenant of kind (or every tenant when kind < 0), by id;
 * a non-zero return from cb stops and is returned. */
int registry_tenant_list(struct registry *r, int kind,
			 int (*cb)(void *ctx, const struct reg_tenant *t), void *ctx);

/* Links vendor to utility (the vendor serves it). PERM when the kinds are
 * wrong; EXISTS when linked. Unlinking revokes every grant the utility gave
 * that vendor's applications. */
int registry_link_add(struct registry *r, const char *actor, const char *utility,
		      const char *vendor, uint64_t now_ms, char *err, size_t errlen);
int registry_link_remove(struct registry *r, const char *actor, const char *utility,
			 const char *vendor, uint64_t now_ms, char *err, size_t errlen);
struct reg_link {
	char utility[REG_ID_MAX];
	char vendor[REG_ID_MAX];
	int64_t created_ms;
};
/* Calls cb for each link of utility and/or vendor (NULL: any), by utility
 * then vendor. */
int registry_link_list(struct registry *r, const char *utility, const char *vendor,
		       int (*cb)(void *ctx, const struct reg_link *l), void *ctx);

/* 1 when linked, 0 when not (a database error reads as "not linked"). */
int registry_linked(struct registry *r, const char *utility, const char *vendor);

/* ---- applications (OIDC clients) ---------------------------------------- */

struct reg_app {
	char id[REG_ID_MAX];          /* also the OIDC client_id */
	char vendor[REG_ID_MAX];
	char name[REG_NAME_MAX];
	char redirect_uris[REG_URIS_MAX]; /* JSON array of absolute URIs ("[]": none) */
	int revoked;                  /* 1: every token and grant refused */
	int64_t created_ms;
};

/* Registers an application of a vendor tenant and makes its client secret
 * (written to secret, shown once, stored as SHA-256). redirect_uris must be
 * a JSON array of https URIs, or http on a loopback host, without fragment.
 * PERM when the owner is not a vendor. */
int registry_app_add(struct registry *r, const char *actor, const struct reg_app *a,
		     char secret[REG_SECRET_TEXT], uint64_t now_ms, char *err, size_t errlen);
/* Replaces the secret (the old one stops working at once). */
int registry_app_rotate_secret(struct registry *r, const char *actor, const char *id,
			       char secret[REG_SECRET_TEXT], uint64_t now_ms, char *err,
			       size_t errlen);
int registry_app_set_redirect_uris(struct registry *r, const char *actor, const char *id,
				   const char *uris_json, uint64_t now_ms, char *err, size_t errlen);
/* Revokes (1) or reinstates (0) an application; revoking also revokes every
 * refresh token issued to it. */
int registry_app_set_revoked(struct registry *r, const char *actor, const char *id, int revoked,
			     uint64_t now_ms, char *err, size_t errlen);
int registry_app_get(struct registry *r, const char *id, struct reg_app *out);
int registry_app_list(struct registry *r, const char *vendor /* NULL: all */,
		      int (*cb)(void *ctx, const struct reg_app *a), void *ctx);
/* SUIDO_OK when id names a registered, unrevoked application whose secret is
 * secret (compared in constant time); PERM otherwise (unknown, revoked or
 * wrong: one answer). */
int registry_app_authenticate(struct registry *r, const char *id, const char *secret);
/* 1 when uri is exactly one of the application's redirect URIs, else 0. */
int registry_app_redirect_ok(struct registry *r, const char *id, const char *uri);

/* ---- grants --------------------------------------------------------------- */

/* A utility's grant to an application. scope is JSON: {"all":true}, or
 * {"items":["id", ...], "facilities":["name", ...]} (either list may be
 * absent or empty; an item is in scope when its id is listed or its
 * facility is). */
struct reg_grant {
	char app[REG_ID_MAX];
	char utility[REG_ID_MAX];
	char scope[REG_SCOPE_MAX];
	int64_t granted_ms;
};

/* Grants (or replaces the scope of) app on utility. PERM unless the app's
 * vendor is linked to the utility; INVALID for a malformed scope. */
int registry_grant_set(struct registry *r, const char *actor, const char *app,
		       const char *utility, const char *scope_json, uint64_t now_ms, char *err,
		       size_t errlen);
int registry_grant_revoke(struct registry *r, const char *actor, const char *app,
			  const char *utility, uint64_t now_ms, char *err, size_t errlen);
/* The live grant of app on utility (NOTFOUND when none, or the app is
 * revoked). */
int registry_grant_get(struct registry *r, const char *app, const char *utility,
		       struct reg_grant *out);
int registry_grant_list(struct registry *r, const char *app /* NULL: any */,
			const char *utility /* NULL: any */,
			int (*cb)(void *ctx, const struct reg_grant *g), void *ctx);
/* 1 when item (with its facility, "" when none) is within scope_json, else 0
 * (also for a malformed scope). Parses the scope each call: a caller testing
 * many items parses it once with registry_scope_parse. */
int registry_scope_allows(const char *scope_json, const char *item, const char *facility);

/* A scope parsed once. registry_scope_parse returns NULL for a malformed
 * scope or out of memory (then nothing is allowed); free with
 * registry_scope_free (tolerates NULL). registry_scope_all is 1 for
 * {"all":true}; registry_scope_has is registry_scope_allows on the parsed
 * scope, one hash look-up per list. */
struct reg_scope;
struct reg_scope *registry_scope_parse(const char *scope_json);
int registry_scope_all(const struct reg_scope *s);
int registry_scope_has(const struct reg_scope *s, const char *item, const char *facility);
void registry_scope_free(struct reg_scope *s);

/* ---- users ---------------------------------------------------------------- */

enum reg_role { REG_ROLE_GENERAL = 0, REG_ROLE_ADMIN };

struct reg_user {
	char login[REG_ID_MAX];       /* issued by registry_user_add */
	char tenant[REG_ID_MAX];
	char name_kanji[REG_NAME_MAX];
	char name_kana[REG_NAME_MAX];
	char name_romaji[REG_NAME_MAX];
	char mail[REG_MAIL_MAX];
	char phone[REG_PHONE_MAX];
	enum reg_role role;
	int otp_required;             /* 1: sign-in needs a TOTP code */
	int totp_enrolled;            /* 1: a confirmed TOTP secret is held */
	int must_change;              /* 1: the password is one-time (reset or initial) */
	int disabled;
	int64_t created_ms;
	int64_t password_set_ms;
};

/* Adds a user to a tenant and issues the login ID ("<tenant>-<nnnn>", the
 * next free number of that tenant) into u->login. The user starts with a
 * one-time password written to otp (must_change = 1). Two users with the
 * same names are two users. */
int registry_user_add(struct registry *r, const char *actor, struct reg_user *u,
		      char otp[REG_OTP_TEXT], uint64_t now_ms, char *err, size_t errlen);
/* Updates names, mail, phone, role, otp_required, disabled of u->login (the
 * tenant and login never change). */
int registry_user_update(struct registry *r, const char *actor, const struct reg_user *u,
			 uint64_t now_ms, char *err, size_t errlen);
int registry_user_get(struct registry *r, const char *login, struct reg_user *out);
int registry_user_list(struct registry *r, const char *tenant /* NULL: all */,
		       int (*cb)(void *ctx, const struct reg_user *u), void *ctx);

/* Sets a user's own new password: checked with password_check against
 * policy, blocklist (may be NULL), the user's names / login / mail, and the
 * last policy->history passwords. On refusal returns PERM with *reason set
 * (enum password_reason). On success must_change becomes 0, password_set_ms
 * now_ms, and every refresh token family of the user is revoked. */
int registry_user_set_password(struct registry *r, const char *actor, const char *login,
			       const char *password, size_t len,
			       const struct password_policy *policy,
			       const struct password_blocklist *blocklist, int *reason,
			       uint64_t now_ms, char *err, size_t errlen);
/* The operator's reset of a forgotten password (FAQ 8): a fresh one-time
 * password into otp, must_change = 1, every refresh token of the user
 * revoked. */
int registry_user_reset_password(struct registry *r, const char *actor, const char *login,
				 char otp[REG_OTP_TEXT], uint64_t now_ms, char *err,
				 size_t errlen);
/* SUIDO_OK when login exists, is enabled and password matches; PERM
 * otherwise. Costs one Argon2id verification either way (a dummy one for an
 * unknown login), so timing does not tell which logins exist. *must_change
 * is set on success. */
int registry_user_check_password(struct registry *r, const char *login, const char *password,
				 size_t len, int *must_change);

/* TOTP enrolment: a fresh secret, kept pending until confirmed with a code.
 * base32 gets the secret, *uri the otpauth:// URI (caller frees). */
int registry_totp_begin(struct registry *r, const char *actor, const char *login,
			char *base32, size_t base32len, char **uri, uint64_t now_ms, char *err,
			size_t errlen);
/* Confirms the pending secret with a code (makes it the user's secret) and
 * issues TOTP_RECOVERY_COUNT recovery codes into codes (shown once). PERM
 * for a wrong code. */
int registry_totp_confirm(struct registry *r, const char *actor, const char *login,
			  const char *code, char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT],
			  uint64_t now_ms, char *err,
			  size_t errlen);
/* Sets a TOTP secret directly (base32), confirmed: for provisioning and the
 * demo user. */
int registry_totp_set(struct registry *r, const char *actor, const char *login,
		      const char *base32, uint64_t now_ms, char *err, size_t errlen);
/* Verifies a code (±TOTP_SKEW steps) or, failing that, a recovery code (used
 * up). A code of a step already used is refused (replay). OK or PERM. */
int registry_totp_check(struct registry *r, const char *login, const char *code,
			uint64_t now_ms);

/* ---- OpenID Connect state ------------------------------------------------ */

struct reg_code {
	char client[REG_ID_MAX];
	char login[REG_ID_MAX];
	char redirect_uri[1024];
	char challenge[64];           /* PKCE S256 code_challenge */
	char nonce[256];              /* "" when none */
	char scope[256];
	int64_t auth_time_ms;
	int64_t expires_ms;
};

/* Stores an authorization code (code: the secret handed out, stored as
 * SHA-256). */
int registry_code_put(struct registry *r, const char *code, const struct reg_code *c,
		      char *err, size_t errlen);
/* Takes a code once: OK and *out when unused and unexpired; PERM otherwise.
 * A second take of a used code also revokes every refresh token family
 * issued from it (RFC 6749 4.1.2). */
int registry_code_take(struct registry *r, const char *code, uint64_t now_ms,
		       struct reg_code *out);

struct reg_refresh {
	char client[REG_ID_MAX];
	char login[REG_ID_MAX];
	char scope[256];
	char family[REG_SECRET_TEXT]; /* the family's id (public, not a secret) */
	int64_t auth_time_ms;
	int64_t expires_ms;
};

/* Stores a refresh token; family "" starts a new family (its id written into
 * rt->family); code (may be NULL) is the authorization code it came from. */
int registry_refresh_put(struct registry *r, const char *token, struct reg_refresh *rt,
			 const char *code, uint64_t now_ms, char *err, size_t errlen);
/* Uses a refresh token once (rotation): OK and *out when live. A token used
 * before is a theft signal: its whole family is revoked and PERM returned
 * with *reused = 1. Unknown, expired or revoked: PERM, *reused = 0. */
int registry_refresh_use(struct registry *r, const char *token, uint64_t now_ms,
			 struct reg_refresh *out, int *reused);
/* Revokes the token's family (RFC 7009; unknown tokens are OK). If client is
 * not NULL, only when the token was issued to client. */
int registry_refresh_revoke(struct registry *r, const char *token, const char *client,
			    uint64_t now_ms);
/* Revokes every family of login (sign-out everywhere, password reset). */
int registry_refresh_revoke_user(struct registry *r, const char *login, uint64_t now_ms);

/* ---- gateways ----------------------------------------------------------------- */

/* A gateway: owned by a utility, built by a vendor. Its registration on the
 * GW interface (topics, certificate, format) is platform.conf's [gateway ID];
 * the registry records ownership and builder for the admin API. */
struct reg_gateway {
	char id[REG_ID_MAX + 1];      /* the GW interface's id: 1..64 of [A-Za-z0-9_.-] */
	char utility[REG_ID_MAX];
	char vendor[REG_ID_MAX];      /* "" until set */
	int64_t created_ms;
};

/* Records gateway id of utility unless present (then OK, no audit row);
 * EXISTS when it belongs to another utility; PERM when utility is not a
 * utility tenant. For [gateway] sections of platform.conf at start. */
int registry_gateway_ensure(struct registry *r, const char *actor, const char *id,
			    const char *utility, uint64_t now_ms, char *err, size_t errlen);
/* Sets the vendor that built the gateway (PERM when not a vendor tenant). */
int registry_gateway_set_vendor(struct registry *r, const char *actor, const char *id,
				const char *vendor, uint64_t now_ms, char *err, size_t errlen);
int registry_gateway_get(struct registry *r, const char *id, struct reg_gateway *out);
/* Calls cb for each gateway of utility (NULL: all), by id; the callback
 * runs under the registry's lock and must not call the registry. */
int registry_gateway_list(struct registry *r, const char *utility,
			  int (*cb)(void *ctx, const struct reg_gateway *g), void *ctx);

/* ---- audit ---------------------------------------------------------------- */

struct reg_audit {
	int64_t seq;                  /* 1, 2, ... in order of commit */
	int64_t at_ms;
	const char *actor;
	const char *action;           /* e.g. "tenant.add", "grant.set", "user.password" */
	const char *target;
	const char *detail;           /* JSON object text, never a secret */
};

/* Appends a row (for actions recorded outside a registry change, e.g. a
 * refused admin request). */
int registry_audit(struct registry *r, const char *actor, const char *action,
		   const char *target, const char *detail_json, uint64_t now_ms);
/* Calls cb for each row with seq > after, in order, at most limit rows. */
int registry_audit_list(struct registry *r, int64_t after, size_t limit,
			int (*cb)(void *ctx, const struct reg_audit *a), void *ctx);

#endif
