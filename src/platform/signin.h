/*
 * The provider's pages (oidc.h): the sign-in form (login ID, password,
 * one-time code), the first-login password change, and plain message pages
 * (signed out, errors that cannot be redirected to the client). Japanese
 * first, English when ui_locales or Accept-Language asks for it. Every
 * value written into a page is HTML-escaped; pages carry a strict
 * Content-Security-Policy (no script at all) set by the caller.
 */
#ifndef SUIDO_PLATFORM_SIGNIN_H
#define SUIDO_PLATFORM_SIGNIN_H

#include "suido/strbuf.h"

enum signin_lang { SIGNIN_JA = 0, SIGNIN_EN };

/* English only when the first language ui_locales (space-separated) or, without
 * it, Accept-Language names is English; Japanese otherwise. Either may be NULL. */
enum signin_lang signin_lang_pick(const char *ui_locales, const char *accept_language);

/* The authorization request as carried through the form's hidden fields
 * (untrusted on return: the provider validates it again). NULL fields are
 * left out. */
struct signin_request {
	const char *client_id, *redirect_uri, *response_type, *scope, *state, *nonce,
		*code_challenge, *code_challenge_method, *ui_locales;
};

/* The sign-in form posting to action. login pre-fills the login ID (may be
 * NULL); error (may be NULL) is shown above the form. */
void signin_page(struct strbuf *sb, enum signin_lang l, const char *action,
		 const struct signin_request *rq, const char *csrf, const char *login,
		 const char *error);

/* The password change required at first login (one-time password), carrying
 * the proof of the first step in pending. */
void signin_change_page(struct strbuf *sb, enum signin_lang l, const char *action,
			const struct signin_request *rq, const char *csrf, const char *pending,
			const char *error);

/* A page with a title and one message. */
void signin_message_page(struct strbuf *sb, enum signin_lang l, const char *title,
			 const char *message);

/* Writes s HTML-escaped (&<>"'). */
void signin_escape(struct strbuf *sb, const char *s);

#endif
