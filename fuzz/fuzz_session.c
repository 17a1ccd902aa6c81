/*
 * libFuzzer target for what sessions and lockout read from the network
 * (session.h, lockout.h): arbitrary bytes as a Cookie request header, as a
 * session id, as a CSRF token, and as a source address. Checked, not just
 * survived: a parsed id is 43 base64url characters found in the header right
 * after "__Host-suido_session=", and a header without that text is NOTFOUND;
 * a canonical parsed id survives format and parse again; no id from the
 * input finds a session of the table, and no token from the input passes
 * the CSRF check of a session it was not made for; a source is either an
 * address (allowed, the first time) or INVALID.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/lockout.h"
#include "suido/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct session_table *table;
static struct lockout *lock;
static char real_id[SESSION_ID_TEXT];

static void setup(void)
{
	struct session_config c;
	struct lockout_policy p;

	session_config_defaults(&c);
	c.max_sessions = 64;
	lockout_policy_defaults(&p);
	p.capacity = 4096;
	p.source_budget = 1000000;
	if (session_table_create(&c, NULL, &table) != SUIDO_OK ||
	    session_create(table, "fuzz", 1000, real_id) != SUIDO_OK ||
	    lockout_create(&p, &lock) != SUIDO_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pfx[] = SESSION_COOKIE_NAME "=";
	char id[SESSION_ID_TEXT], again[SESSION_ID_TEXT], cookie[SESSION_COOKIE_MAX];
	char tok[SESSION_CSRF_TEXT], *cstr;
	const char *hit;
	uint64_t ra;
	int rc;

	if (!table)
		setup();
	cstr = malloc(size + 1);
	if (!cstr)
		abort();
	memcpy(cstr, data, size);
	cstr[size] = '\0';

	rc = session_cookie_parse((const char *)data, size, id);
	hit = memmem(data, size, pfx, sizeof pfx - 1);
	if (rc == SUIDO_OK) {
		if (strlen(id) != SESSION_ID_CHARS ||
		    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
			    SESSION_ID_CHARS ||
		    !hit)
			abort();
		if (session_cookie_format(id, 60, cookie, sizeof cookie) == SUIDO_OK) {
			char *semi = strchr(cookie, ';');

			if (!semi || session_cookie_parse(cookie, (size_t)(semi - cookie), again) !=
					     SUIDO_OK ||
			    strcmp(id, again) != 0)
				abort();
		}
		if (strcmp(id, real_id) != 0 && session_lookup(table, id, 1000, NULL) != SUIDO_ERR_NOTFOUND)
			abort();
	} else {
		if (id[0] != '\0' ||
		    (rc != SUIDO_ERR_NOTFOUND && rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_LIMIT))
			abort();
		if (!hit && size <= SESSION_COOKIE_HEADER_MAX && rc != SUIDO_ERR_NOTFOUND)
			abort();
	}

	/* The input as an id and as a token. */
	if (strcmp(cstr, real_id) != 0 && session_lookup(table, cstr, 1000, NULL) == SUIDO_OK)
		abort();
	if (session_csrf_token(table, real_id, tok) != SUIDO_OK)
		abort();
	if ((session_csrf_check(table, real_id, cstr) == SUIDO_OK) != (strcmp(cstr, tok) == 0))
		abort();
	if (session_csrf_check(table, cstr, tok) == SUIDO_OK && strcmp(cstr, real_id) != 0)
		abort();

	/* The input as a source address. */
	rc = lockout_check(lock, "fuzz-account", cstr, 1000, &ra);
	if (rc != SUIDO_OK && rc != SUIDO_ERR_INVALID)
		abort();
	if (rc == SUIDO_OK)
		lockout_success(lock, "fuzz-account", cstr, 1000);
	free(cstr);
	return 0;
}
