/*
 * The provider's HTML pages (signin.h). Plain forms, no script: the pages
 * work with any browser and a Content-Security-Policy of default-src 'none'.
 */
#include "signin.h"

#include <string.h>
#include <strings.h>

void signin_escape(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': strbuf_puts(sb, "&amp;"); break;
		case '<': strbuf_puts(sb, "&lt;"); break;
		case '>': strbuf_puts(sb, "&gt;"); break;
		case '"': strbuf_puts(sb, "&quot;"); break;
		case '\'': strbuf_puts(sb, "&#39;"); break;
		default: strbuf_putc(sb, *s);
		}
	}
}

/* 1 when the first tag of a language list (space- or comma-separated) is English. */
static int first_is_en(const char *list)
{
	while (*list == ' ' || *list == ',')
		list++;
	return strncasecmp(list, "en", 2) == 0 &&
	       (list[2] == '\0' || list[2] == '-' || list[2] == ' ' || list[2] == ',' ||
		list[2] == ';');
}

enum signin_lang signin_lang_pick(const char *ui_locales, const char *accept_language)
{
	if (ui_locales && *ui_locales)
		return first_is_en(ui_locales) ? SIGNIN_EN : SIGNIN_JA;
	if (accept_language && *accept_language)
		return first_is_en(accept_language) ? SIGNIN_EN : SIGNIN_JA;
	return SIGNIN_JA;
}

#define T(l, ja, en) ((l) == SIGNIN_EN ? (en) : (ja))

static void head(struct strbuf *sb, enum signin_lang l, const char *title)
{
	strbuf_puts(sb, "<!DOCTYPE html>\n<html lang=\"");
	strbuf_puts(sb, T(l, "ja", "en"));
	strbuf_puts(sb, "\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			"<title>");
	signin_escape(sb, title);
	strbuf_puts(sb, "</title><style>"
			"body{font-family:sans-serif;max-width:26em;margin:3em auto;padding:0 1em}"
			"label{display:block;margin-top:1em}input{width:100%;padding:.4em;"
			"box-sizing:border-box}button{margin-top:1.5em;padding:.5em 2em}"
			".error{color:#b00020;border:1px solid #b00020;padding:.5em}"
			"</style></head><body>\n<h1>");
	signin_escape(sb, T(l, "水道情報活用システム", "Water Information Platform"));
	strbuf_puts(sb, "</h1>\n<h2>");
	signin_escape(sb, title);
	strbuf_puts(sb, "</h2>\n");
}

static void hidden(struct strbuf *sb, const char *name, const char *value)
{
	if (!value)
		return;
	strbuf_printf(sb, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	signin_escape(sb, value);
	strbuf_puts(sb, "\">\n");
}

static void form_start(struct strbuf *sb, const char *action, const struct signin_request *rq,
		       const char *csrf, const char *error)
{
	if (error) {
		strbuf_puts(sb, "<p class=\"error\" role=\"alert\" id=\"error\">");
		signin_escape(sb, error);
		strbuf_puts(sb, "</p>\n");
	}
	strbuf_puts(sb, "<form method=\"post\" action=\"");
	signin_escape(sb, action);
	strbuf_puts(sb, "\" autocomplete=\"off\">\n");
	hidden(sb, "csrf", csrf);
	hidden(sb, "client_id", rq->client_id);
	hidden(sb, "redirect_uri", rq->redirect_uri);
	hidden(sb, "response_type", rq->response_type);
	hidden(sb, "scope", rq->scope);
	hidden(sb, "state", rq->state);
	hidden(sb, "nonce", rq->nonce);
	hidden(sb, "code_challenge", rq->code_challenge);
	hidden(sb, "code_challenge_method", rq->code_challenge_method);
	hidden(sb, "ui_locales", rq->ui_locales);
}

static void field(struct strbuf *sb, const char *id, const char *label, const char *type,
		  const char *value, const char *extra)
{
	strbuf_printf(sb, "<label for=\"%s\">", id);
	signin_escape(sb, label);
	strbuf_printf(sb, "</label><input id=\"%s\" name=\"%s\" type=\"%s\"", id, id, type);
	if (value) {
		strbuf_puts(sb, " value=\"");
		signin_escape(sb, value);
		strbuf_putc(sb, '"');
	}
	strbuf_printf(sb, " %s>\n", extra);
}

void signin_page(struct strbuf *sb, enum signin_lang l, const char *action,
		 const struct signin_request *rq, const char *csrf, const char *login,
		 const char *error)
{
	head(sb, l, T(l, "サインイン", "Sign in"));
	form_start(sb, action, rq, csrf, error);
	field(sb, "login_id", T(l, "ログインID", "Login ID"), "text", login,
	      "required autocapitalize=\"none\" spellcheck=\"false\"");
	field(sb, "password", T(l, "パスワード", "Password"), "password", NULL, "required");
	field(sb, "otp",
	      T(l, "ワンタイムパスワード（設定している場合）", "One-time code (if enabled)"),
	      "text", NULL, "inputmode=\"numeric\" autocomplete=\"one-time-code\"");
	strbuf_puts(sb, "<button type=\"submit\" id=\"submit\">");
	signin_escape(sb, T(l, "サインイン", "Sign in"));
	strbuf_puts(sb, "</button>\n</form>\n</body></html>\n");
}

void signin_change_page(struct strbuf *sb, enum signin_lang l, const char *action,
			const struct signin_request *rq, const char *csrf, const char *pending,
			const char *error)
{
	head(sb, l, T(l, "パスワードの変更", "Change your password"));
	strbuf_puts(sb, "<p>");
	signin_escape(sb, T(l, "一時パスワードでサインインしました。新しいパスワードを設定してください。",
			    "You signed in with a one-time password. Choose a new password."));
	strbuf_puts(sb, "</p>\n");
	form_start(sb, action, rq, csrf, error);
	hidden(sb, "pending", pending);
	field(sb, "new_password", T(l, "新しいパスワード", "New password"), "password", NULL,
	      "required autocomplete=\"new-password\"");
	field(sb, "new_password2", T(l, "新しいパスワード（確認）", "New password (again)"),
	      "password", NULL, "required autocomplete=\"new-password\"");
	strbuf_puts(sb, "<button type=\"submit\" id=\"submit\">");
	signin_escape(sb, T(l, "変更してサインイン", "Change and sign in"));
	strbuf_puts(sb, "</button>\n</form>\n</body></html>\n");
}

void signin_message_page(struct strbuf *sb, enum signin_lang l, const char *title,
			 const char *message)
{
	head(sb, l, title);
	strbuf_puts(sb, "<p id=\"message\">");
	signin_escape(sb, message);
	strbuf_puts(sb, "</p>\n</body></html>\n");
}
