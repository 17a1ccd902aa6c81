/*
 * Server-side sessions of the portal (issue 5; ASVS L2 V3, NIST SP 800-63B
 * 7.1): a session id is 256 bits from libsodium's CSPRNG, sent to the browser
 * as 43 base64url characters in a cookie, and kept here only as its SHA-256,
 * so a copy of the table (a core dump, later a database dump) gives no usable
 * id. A session ends at the first of: an idle timeout (no session_touch for
 * idle_ms), an absolute timeout (absolute_ms after sign-in, however active),
 * session_revoke (sign-out), session_revoke_user (password change, operator).
 *
 * CSRF: each session has a token HMAC-SHA-256(server key, "suido-csrf" ||
 * session id), 43 base64url characters. Nothing is stored for it: it is
 * recomputed from the id the request's cookie presents and compared in
 * constant time; it changes with the session, and the table (which holds no
 * id) does not yield it.
 *
 * IN MEMORY ONLY for now: a restart signs everyone out, and the server key is
 * random per process unless given. Persistence comes with the user store.
 *
 * Bounded memory: at most max_sessions sessions (session_create sweeps the
 * expired ones first, then answers SUIDO_ERR_FULL when still full) and at most
 * max_per_user per user (the user's least recently used session is ended to
 * make room). Thread-safe (one mutex); the clock is the now_ms parameter of
 * every call (milliseconds; a clock going back is read as standing still).
 */
#ifndef SUIDO_SESSION_H
#define SUIDO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_ID_BYTES 32
#define SESSION_ID_CHARS 43            /* base64url of 32 bytes, no padding */
#define SESSION_ID_TEXT (SESSION_ID_CHARS + 1)
#define SESSION_CSRF_TEXT (SESSION_ID_CHARS + 1)
#define SESSION_KEY_BYTES 32           /* the CSRF server key */
#define SESSION_USER_MAX 64            /* bytes of a user id */
#define SESSION_MAX_SESSIONS_CAP (1U << 22)
/* The cookie's name. The __Host- prefix makes the browser refuse it unless
 * Secure, Path=/ and no Domain: a sibling subdomain or a plain-HTTP page
 * cannot plant or overwrite it (ASVS 3.4.4). */
#define SESSION_COOKIE_NAME "__Host-suido_session"
#define SESSION_COOKIE_HEADER_MAX 8192 /* bytes of a Cookie request header parsed */
#define SESSION_COOKIE_MAX 160         /* a Set-Cookie value made here, and its NUL */

/* The configuration, parsed once and then only read. */
struct session_config {
	uint64_t idle_ms;       /* default 30 min (ASVS 3.3.2 L2: 30 min for 2FA apps) */
	uint64_t absolute_ms;   /* default 12 h (NIST SP 800-63B AAL2: 12 h) */
	size_t max_sessions;    /* default 16384 (about 3.5 MiB) */
	size_t max_per_user;    /* default 16 */
};

/* Fills *c with the defaults above. */
void session_config_defaults(struct session_config *c);

/* What a lookup tells about a session (a copy: the table may change after). */
struct session_info {
	char user[SESSION_USER_MAX + 1];
	uint64_t created_ms;
	uint64_t last_used_ms;
	uint64_t expires_ms;    /* the earlier of the idle and the absolute expiry */
};

/* The table. Opaque; session_table_create / session_table_free. */
struct session_table;

/*
 * Makes an empty table for c (copied). key is the CSRF server key
 * (SESSION_KEY_BYTES, copied) or NULL for a random one. *out is the caller's,
 * freed with session_table_free(). Returns SUIDO_OK; SUIDO_ERR_INVALID for
 * an idle or absolute timeout of 0, idle above absolute, max_sessions 0 or
 * above SESSION_MAX_SESSIONS_CAP, max_per_user 0; SUIDO_ERR_NOMEM;
 * SUIDO_ERR_CONFIG when libsodium cannot be initialised.
 */
int session_table_create(const struct session_config *c, const unsigned char *key,
			 struct session_table **out);

/* Frees t (the key wiped); NULL is a no-op. */
void session_table_free(struct session_table *t);

/*
 * Starts a session for user (NUL-terminated, 1..SESSION_USER_MAX bytes) at
 * now_ms, after a complete sign-in (a new id also at every change of
 * privilege: never reuse a pre-sign-in id). Writes the id (43 characters and
 * a NUL) into id: it is the caller's to put in the cookie and then wipe.
 * Returns SUIDO_OK; SUIDO_ERR_INVALID for a bad user; SUIDO_ERR_FULL when
 * max_sessions live sessions exist (id is then an empty string).
 */
int session_create(struct session_table *t, const char *user, uint64_t now_ms,
		   char id[SESSION_ID_TEXT]);

/*
 * Finds the live session of id (NUL-terminated, as from the cookie) and,
 * for session_touch, restarts its idle timer (a request by the user);
 * session_lookup only reads. info may be NULL. Returns SUIDO_OK with *info
 * filled; SUIDO_ERR_NOTFOUND for an id that is malformed, unknown, revoked or
 * expired (an expired session is removed; the three are not told apart).
 */
int session_lookup(struct session_table *t, const char *id, uint64_t now_ms,
		   struct session_info *info);
int session_touch(struct session_table *t, const char *id, uint64_t now_ms,
		  struct session_info *info);

/* Ends the session of id (sign-out). Returns SUIDO_OK or SUIDO_ERR_NOTFOUND. */
int session_revoke(struct session_table *t, const char *id);

/*
 * Ends every session of user except the one of keep_id (NULL: all), e.g.
 * after a password change (ASVS 3.3.3), and sets *count (may be NULL) to how
 * many ended. Returns SUIDO_OK or SUIDO_ERR_INVALID for a bad user.
 */
int session_revoke_user(struct session_table *t, const char *user, const char *keep_id,
			size_t *count);

/* Live sessions held (expired ones not yet swept included). */
size_t session_count(struct session_table *t);

/*
 * The CSRF token of the session id into out (43 characters and a NUL), to
 * put in the session's forms. Returns SUIDO_OK or SUIDO_ERR_INVALID for a
 * malformed id (out is then empty). It does not look the session up.
 */
int session_csrf_token(const struct session_table *t, const char *id,
		       char out[SESSION_CSRF_TEXT]);

/*
 * Checks token (from a form field or header) against the session id of the
 * same request, in time independent of where they differ. Returns SUIDO_OK
 * or SUIDO_ERR_PERM (also for a NULL, malformed or wrong-length token or id).
 * The session itself is checked by session_touch, not here.
 */
int session_csrf_check(const struct session_table *t, const char *id, const char *token);

/*
 * Formats the Set-Cookie header value for id into out[outlen]:
 *   __Host-suido_session=<id>; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=<n>
 * (the header name is "Set-Cookie"). With id NULL it formats the value that
 * deletes the cookie (an empty value and Max-Age=0). max_age_s is the
 * session's remaining absolute lifetime, in seconds. Returns SUIDO_OK;
 * SUIDO_ERR_INVALID for a malformed id; SUIDO_ERR_LIMIT when out is too small
 * (SESSION_COOKIE_MAX always suffices).
 */
int session_cookie_format(const char *id, uint64_t max_age_s, char *out, size_t outlen);

/*
 * Finds the session id in a Cookie request header value header[0..len)
 * ("a=1; __Host-suido_session=<id>; b=2"; untrusted input, no NUL needed)
 * and copies it into id. Returns SUIDO_OK; SUIDO_ERR_NOTFOUND when no
 * cookie of that name is present; SUIDO_ERR_INVALID when its value is not 43
 * base64url characters, or when the name occurs twice (a planted cookie
 * beside the real one: neither is trusted); SUIDO_ERR_LIMIT when len exceeds
 * SESSION_COOKIE_HEADER_MAX. id is an empty string unless SUIDO_OK.
 */
int session_cookie_parse(const char *header, size_t len, char id[SESSION_ID_TEXT]);

/* The same two for a cookie of another name (e.g. the sign-in form's
 * pre-session cookie that binds its CSRF token); name is a cookie-name token
 * such as "__Host-suido_login". */
int session_cookie_format_named(const char *name, const char *id, uint64_t max_age_s, char *out,
				size_t outlen);
int session_cookie_parse_named(const char *name, const char *header, size_t len,
			       char id[SESSION_ID_TEXT]);

#endif
