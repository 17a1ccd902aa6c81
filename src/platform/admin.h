/*
 * The admin REST API (issue 5): /admin/v1/ for the operator and for the
 * administrators of utilities and vendors, over the registry (registry.h).
 * Tenants, vendor links, applications (OIDC clients and the client
 * configuration handed to a vendor, secret included, once), a utility's
 * grants, users, one's own account, and the audit log. docs/admin.md lists
 * the endpoints, the bodies and who may do what.
 *
 * Who may do what is decided here, not in the registry: the operator may do
 * everything; a user with role admin administers its own tenant (users of
 * another tenant read as 404 so that their existence is not revealed); a
 * user with role general reaches only /admin/v1/me. A user principal is
 * re-read from the registry on every request, so a demotion or a disabled
 * account takes effect at once. Every change is audited by the registry with
 * the actor "operator" or "user:<login>"; requests refused by a rule (403)
 * are audited as "admin.refused".
 *
 * Bodies are JSON objects (Content-Type application/json, at most
 * HTTP_FORM_BODY_MAX bytes, duplicate keys and unknown fields refused);
 * answers are JSON, errors {"error":code,"message":text} (http.h). Nothing
 * here logs a secret: client secrets and one-time passwords appear only in
 * the answer that hands them out.
 */
#ifndef SUIDO_PLATFORM_ADMIN_H
#define SUIDO_PLATFORM_ADMIN_H

#include "http.h"
#include "registry.h"
#include "suido/password.h"

enum admin_kind { ADMIN_OPERATOR, ADMIN_USER };

/* Who is asking, as authenticated by api.c: the operator (by the admin
 * token; login and tenant may be empty) or a signed-in user. A user's role,
 * disabled state and the rest are read from the registry on every request. */
struct admin_principal {
	enum admin_kind kind;
	char login[REG_ID_MAX];
	char tenant[REG_ID_MAX];
};

struct admin;

/*
 * Makes the admin API over registry r. r, policy and blocklist (may be
 * NULL) are borrowed for the life of the handle; issuer (the OpenID
 * provider's issuer URL, put in client configurations) is copied.
 * Returns SUIDO_OK and *out (free with admin_free), SUIDO_ERR_INVALID for
 * an empty issuer, SUIDO_ERR_NOMEM.
 */
int admin_create(struct registry *r, const struct password_policy *policy,
		 const struct password_blocklist *blocklist, const char *issuer,
		 struct admin **out);
void admin_free(struct admin *a); /* tolerates NULL */

/*
 * Answers one request whose path starts with /admin/v1/ (except
 * /admin/v1/gateways/..., which api.c keeps) into out (initialised by the
 * caller with http_response_init, freed by the caller). who == NULL: not
 * authenticated, 401 with WWW-Authenticate: Bearer realm="suido".
 * rq->method may be GET, HEAD (answered as GET; api.c drops the body),
 * POST, PUT, PATCH or DELETE; another gets 405 with Allow.
 * Thread-safe as far as the registry is (the handle is only read).
 */
void admin_handle(struct admin *a, const struct admin_principal *who,
		  const struct http_request *rq, struct http_response *out);

#endif
