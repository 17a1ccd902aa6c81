/*
 * suido tenant | link | app | grant | user | audit (cmd_admin.h): each
 * subcommand is one request to /admin/v1/ (admin_http.h) described by a row
 * of the table below (its options, its help); what it prints is the
 * platform's JSON answer, pretty-printed, or the client configuration
 * written to a file. Secrets in answers (client secrets, one-time
 * passwords) are wiped from memory once written.
 */
#include "cmd_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "admin_http.h"
#include "cli.h"
#include "suido/strbuf.h"

#define ARGS_MAX 128
#define PATH_MAX_LEN 2048

/* The options given to one subcommand, in order. */
struct args {
	struct admin_http h;
	const char *pos; /* the positional argument (ID, APP, LOGIN), NULL when none */
	size_t n;
	struct {
		const char *name;
		const char *val; /* "" for a flag */
	} a[ARGS_MAX];
};

struct sub;
typedef int (*run_fn)(const struct sub *s, const char *cmd, struct args *a);

/* One subcommand. spec lists its options: "--name=" takes a value,
 * "--name*" takes a value and may repeat, "--name" is a flag. */
struct sub {
	const char *group, *name;
	const char *pos;      /* name of the positional argument, NULL when none */
	const char *spec;
	const char *synopsis; /* after "suido GROUP NAME" */
	const char *help;
	run_fn run;
};

/* ---- options -------------------------------------------------------------- */

/* The kind of option name in spec: '=' value, '*' repeated value, ' '
 * flag, 0 unknown. */
static char spec_kind(const char *spec, const char *name)
{
	size_t n = strlen(name);
	const char *p = spec;

	while ((p = strstr(p, name)) != NULL) {
		char after = p[n];
		int start = p == spec || p[-1] == ' ';
		if (start && (after == '=' || after == '*'))
			return after;
		if (start && (after == ' ' || after == '\0'))
			return ' ';
		p += n;
	}
	return 0;
}

/* The last value of option name, NULL when absent. */
static const char *arg(const struct args *a, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->a[i].name, name) == 0)
			v = a->a[i].val;
	return v;
}

static void sub_usage(const struct sub *s, FILE *f)
{
	fprintf(f, "usage: suido %s%s%s %s\n%s\noptions:\n%s", s->group, s->name ? " " : "",
		s->name ? s->name : "", s->synopsis, s->help, admin_http_usage);
	fprintf(f, "exit status: 0 done, 64 usage, 65 refused by the platform (bad request, not\n"
		   "             found, exists), 69 TLS verification failed, 70 internal,\n"
		   "             74 no answer / not authorised, or a file not written\n");
}

/* Parses argv (after the subcommand) into a. CLI_OK; CLI_USAGE (printed);
 * -1 when --help was printed. */
static int parse(const struct sub *s, int argc, char **argv, struct args *a)
{
	admin_http_init(&a->h);
	a->pos = NULL;
	a->n = 0;
	for (int i = 0; i < argc; i++) {
		char k;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			sub_usage(s, stdout);
			return -1;
		}
		if (admin_http_option(&a->h, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--ca") == 0 ||
		    strcmp(argv[i], "--token-file") == 0) {
			fprintf(stderr, "suido %s: %s needs a value\n", s->group, argv[i]);
			goto usage;
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			if (!s->pos || a->pos) {
				fprintf(stderr, "suido %s: unexpected argument \"%s\"\n", s->group,
					argv[i]);
				goto usage;
			}
			a->pos = argv[i];
			continue;
		}
		k = spec_kind(s->spec, argv[i]);
		if (k == 0) {
			fprintf(stderr, "suido %s: unknown option %s\n", s->group, argv[i]);
			goto usage;
		}
		if (a->n == ARGS_MAX) {
			fprintf(stderr, "suido %s: too many options\n", s->group);
			goto usage;
		}
		if (k != '*' && arg(a, argv[i])) {
			fprintf(stderr, "suido %s: %s given twice\n", s->group, argv[i]);
			goto usage;
		}
		a->a[a->n].name = argv[i];
		a->a[a->n].val = "";
		if (k != ' ') {
			if (i + 1 >= argc) {
				fprintf(stderr, "suido %s: %s needs a value\n", s->group, argv[i]);
				goto usage;
			}
			a->a[a->n].val = argv[++i];
		}
		a->n++;
	}
	if (s->pos && !a->pos) {
		fprintf(stderr, "suido %s: %s is required\n", s->group, s->pos);
		goto usage;
	}
	return CLI_OK;
usage:
	sub_usage(s, stderr);
	return CLI_USAGE;
}

/* Appends s percent-encoded (all but RFC 3986 unreserved characters). */
static void put_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~')
			strbuf_putc(sb, (char)ch);
		else
			strbuf_printf(sb, "%%%02X", ch);
	}
}

/* Appends "?k=v&..." for the options among names that were given. */
static void put_query(struct strbuf *sb, const struct args *a, const char *const *names,
		      const char *const *keys)
{
	char sep = '?';

	for (size_t i = 0; names[i]; i++) {
		const char *v = arg(a, names[i]);
		if (!v)
			continue;
		strbuf_putc(sb, sep);
		strbuf_printf(sb, "%s=", keys[i]);
		put_escaped(sb, v);
		sep = '&';
	}
}

/* ---- requests and answers --------------------------------------------------- */

/* The platform's message from an error answer, or the raw text. */
static void answer_fail_text(const struct strbuf *ans, char *out, size_t outlen)
{
	json_t *j = ans->data ? json_loadb(ans->data, ans->len, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(j, "message"));

	if (m)
		snprintf(out, outlen, "%s", m);
	else
		snprintf(out, outlen, "%.*s", (int)(ans->len > 400 ? 400 : ans->len),
			 ans->data ? ans->data : "");
	json_decref(j);
}

/*
 * Sends the request (body taken, may be NULL) and checks the answer's
 * status. CLI_OK with the answer in ans for a 2xx; else the printed exit
 * status: 65 for what the platform refused as a bad request (400, 404, 409,
 * 415, 422), 74 otherwise (not authorised, unavailable).
 */
static int call(const char *cmd, struct args *a, const char *method, struct strbuf *path,
		json_t *body, struct strbuf *ans, long *code)
{
	char *text = NULL, msg[512];
	int status;

	if (path->failed) {
		json_decref(body);
		return cli_fail(cmd, CLI_INTERNAL, "out of memory");
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (!text)
			return cli_fail(cmd, CLI_INTERNAL, "out of memory");
	}
	status = admin_http_request(cmd, &a->h, method, path->data, text, code, ans);
	free(text);
	if (status != CLI_OK)
		return status;
	if (*code >= 200 && *code < 300)
		return CLI_OK;
	answer_fail_text(ans, msg, sizeof msg);
	return cli_fail(cmd,
			*code == 400 || *code == 404 || *code == 409 || *code == 415 ||
					*code == 422
				? CLI_BAD_INPUT
				: CLI_IO,
			"the platform answered %ld: %s", *code, msg);
}

/* Writes the JSON answer pretty-printed, with a final newline, to path
 * (NULL: stdout; a file gets mode 0600). */
static int write_pretty(const char *cmd, const struct strbuf *ans, const char *path)
{
	json_t *j = ans->data ? json_loadb(ans->data, ans->len, 0, NULL) : NULL;
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	struct strbuf sb = STRBUF_INIT;
	int rc = CLI_OK;

	if (!j)
		return cli_fail(cmd, CLI_IO, "the platform's answer is not JSON");
	if (text) {
		strbuf_puts(&sb, text);
		strbuf_putc(&sb, '\n');
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	json_decref(j);
	if (!text || sb.failed)
		rc = cli_fail(cmd, CLI_INTERNAL, "out of memory");
	else if (cli_write(path, sb.data, sb.len) != 0)
		rc = cli_fail(cmd, CLI_IO, "%s: cannot write", path ? path : "stdout");
	if (sb.data)
		OPENSSL_cleanse(sb.data, sb.len);
	strbuf_free(&sb);
	return rc;
}

/* The answers that hold a secret are wiped before they are freed. */
static void answer_free(struct strbuf *ans)
{
	if (ans->data)
		OPENSSL_cleanse(ans->data, ans->len);
	strbuf_free(ans);
}

/* One request whose answer is printed pretty (or, for 204, msg). */
static int simple(const char *cmd, struct args *a, const char *method, struct strbuf *path,
		  json_t *body, const char *out, const char *msg)
{
	struct strbuf ans = STRBUF_INIT;
	long code = 0;
	int status = call(cmd, a, method, path, body, &ans, &code);

	if (status == CLI_OK) {
		if (code == 204)
			printf("%s\n", msg ? msg : "done");
		else
			status = write_pretty(cmd, &ans, out);
	}
	answer_free(&ans);
	strbuf_free(path);
	return status;
}

static void path_start(struct strbuf *p, const char *what)
{
	*p = (struct strbuf)STRBUF_INIT;
	p->limit = PATH_MAX_LEN;
	strbuf_printf(p, "/admin/v1/%s", what);
}

static void path_seg(struct strbuf *p, const char *seg)
{
	strbuf_putc(p, '/');
	put_escaped(p, seg);
}

/* A body object from pairs, NULL values skipped; NULL when a value is not
 * UTF-8 (after printing why). */
static json_t *body_of(const char *cmd, json_t *o, const char *key, const char *val)
{
	json_t *s;

	if (!o || !val)
		return o;
	s = json_string(val);
	if (!s) {
		cli_fail(cmd, CLI_USAGE, "the value of %s is not UTF-8 text", key);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, key, s);
	return o;
}

/* ---- tenants ---------------------------------------------------------------- */

static int tenant_add(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b = json_object();

	(void)s;
	if (!arg(a, "--kind") || !arg(a, "--name")) {
		sub_usage(s, stderr);
		json_decref(b);
		return CLI_USAGE;
	}
	b = body_of(cmd, b, "id", a->pos);
	b = body_of(cmd, b, "kind", arg(a, "--kind"));
	b = body_of(cmd, b, "name", arg(a, "--name"));
	if (!b)
		return CLI_USAGE;
	path_start(&p, "tenants");
	return simple(cmd, a, "POST", &p, b, NULL, NULL);
}

static int tenant_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--kind", NULL}, *const keys[] = {"kind", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "tenants");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

static int tenant_show(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;

	(void)s;
	path_start(&p, "tenants");
	path_seg(&p, a->pos);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

/* ---- gateways (ownership and builder; commands are cmd_gateway.c's) ---------- */

static int gw_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--utility", NULL}, *const keys[] = {"utility", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "gateways");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

static int gw_show(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;

	(void)s;
	path_start(&p, "gateways");
	path_seg(&p, a->pos);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

static int gw_vendor(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b;

	if (!arg(a, "--vendor")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	b = body_of(cmd, json_object(), "vendor", arg(a, "--vendor"));
	if (!b)
		return CLI_USAGE;
	path_start(&p, "gateways");
	path_seg(&p, a->pos);
	return simple(cmd, a, "PATCH", &p, b, NULL, NULL);
}

/* ---- links ------------------------------------------------------------------ */

static int link_add(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b;

	if (!arg(a, "--utility") || !arg(a, "--vendor")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	b = body_of(cmd, json_object(), "utility", arg(a, "--utility"));
	b = body_of(cmd, b, "vendor", arg(a, "--vendor"));
	if (!b)
		return CLI_USAGE;
	path_start(&p, "links");
	return simple(cmd, a, "POST", &p, b, NULL, NULL);
}

static int link_remove(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;

	if (!arg(a, "--utility") || !arg(a, "--vendor")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	path_start(&p, "links");
	path_seg(&p, arg(a, "--utility"));
	path_seg(&p, arg(a, "--vendor"));
	return simple(cmd, a, "DELETE", &p, NULL, NULL,
		      "link removed (the utility's grants to the vendor's applications are revoked)");
}

static int link_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--utility", "--vendor", NULL},
				 *const keys[] = {"utility", "vendor", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "links");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

/* ---- applications ------------------------------------------------------------ */

/* A JSON array of every value of the repeated option name. */
static json_t *values(const char *cmd, const struct args *a, const char *name)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < a->n; i++) {
		json_t *v;
		if (strcmp(a->a[i].name, name) != 0)
			continue;
		v = json_string(a->a[i].val);
		if (!v) {
			cli_fail(cmd, CLI_USAGE, "the value of %s is not UTF-8 text", name);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
	return arr;
}

/* A request answered by a client configuration, written to out (NULL:
 * stdout) with mode 0600. */
static int client_config(const char *cmd, struct args *a, const char *method, struct strbuf *p,
			 json_t *b, const char *out)
{
	int status = simple(cmd, a, method, p, b, out, NULL);

	if (status == CLI_OK && out)
		fprintf(stderr,
			"suido %s: client configuration written to %s (it holds the client secret, "
			"shown only once)\n",
			cmd, out);
	return status;
}

static int app_add(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b, *uris;

	if (!arg(a, "--vendor") || !arg(a, "--name") || !arg(a, "--redirect-uri")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	b = body_of(cmd, json_object(), "id", a->pos);
	b = body_of(cmd, b, "vendor", arg(a, "--vendor"));
	b = body_of(cmd, b, "name", arg(a, "--name"));
	if (!b || !(uris = values(cmd, a, "--redirect-uri"))) {
		json_decref(b);
		return CLI_USAGE;
	}
	json_object_set_new(b, "redirect_uris", uris);
	path_start(&p, "applications");
	return client_config(cmd, a, "POST", &p, b, arg(a, "--config-out"));
}

static int app_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--vendor", NULL}, *const keys[] = {"vendor", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "applications");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

/* show, revoke, reinstate: the application's record. */
static int app_one(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	int get = strcmp(s->name, "show") == 0;

	path_start(&p, "applications");
	path_seg(&p, a->pos);
	if (!get)
		strbuf_printf(&p, "/%s", s->name);
	return simple(cmd, a, get ? "GET" : "POST", &p, NULL, NULL, NULL);
}

static int app_update(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b, *uris;

	if (!arg(a, "--redirect-uri")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	if (!(uris = values(cmd, a, "--redirect-uri")) || !(b = json_object())) {
		json_decref(uris);
		return CLI_USAGE;
	}
	json_object_set_new(b, "redirect_uris", uris);
	path_start(&p, "applications");
	path_seg(&p, a->pos);
	return simple(cmd, a, "PATCH", &p, b, NULL, NULL);
}

/* rotate-secret writes the new secret alone; client-config the whole
 * configuration. Both replace the secret: it is stored only hashed. */
static int app_secret(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p, ans = STRBUF_INIT;
	const char *out = arg(a, "--out"), *secret;
	long code = 0;
	json_t *j;
	int status;

	path_start(&p, "applications");
	path_seg(&p, a->pos);
	strbuf_puts(&p, "/secret");
	if (strcmp(s->name, "client-config") == 0)
		return client_config(cmd, a, "POST", &p, NULL, out);
	status = call(cmd, a, "POST", &p, NULL, &ans, &code);
	strbuf_free(&p);
	if (status != CLI_OK)
		goto done;
	j = json_loadb(ans.data ? ans.data : "", ans.len, 0, NULL);
	secret = json_string_value(json_object_get(j, "client_secret"));
	if (!secret) {
		status = cli_fail(cmd, CLI_IO, "the platform's answer holds no client_secret");
	} else {
		struct strbuf line = STRBUF_INIT;
		strbuf_printf(&line, "%s\n", secret);
		if (line.failed || cli_write(out, line.data, line.len) != 0)
			status = cli_fail(cmd, CLI_IO, "%s: cannot write", out ? out : "stdout");
		else if (out)
			fprintf(stderr, "suido %s: new client secret of %s written to %s\n", cmd,
				a->pos, out);
		answer_free(&line);
		OPENSSL_cleanse((char *)secret, strlen(secret));
	}
	json_decref(j);
done:
	answer_free(&ans);
	return status;
}

/* ---- grants ------------------------------------------------------------------ */

static int grant_set(const struct sub *s, const char *cmd, struct args *a)
{
	int all = arg(a, "--all") != NULL, some = arg(a, "--item") || arg(a, "--facility");
	json_t *scope, *b;
	struct strbuf p;

	if (!arg(a, "--utility") || all == some) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	if (all) {
		scope = json_pack("{s:b}", "all", 1);
	} else {
		json_t *items = values(cmd, a, "--item"), *fac = values(cmd, a, "--facility");
		if (!items || !fac) {
			json_decref(items);
			json_decref(fac);
			return CLI_USAGE;
		}
		scope = json_pack("{s:o, s:o}", "items", items, "facilities", fac);
	}
	if (!scope || !(b = json_pack("{s:o}", "scope", scope)))
		return cli_fail(cmd, CLI_INTERNAL, "out of memory");
	path_start(&p, "utilities");
	path_seg(&p, arg(a, "--utility"));
	strbuf_puts(&p, "/grants");
	path_seg(&p, a->pos);
	return simple(cmd, a, "PUT", &p, b, NULL, NULL);
}

static int grant_revoke(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;

	if (!arg(a, "--utility")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	path_start(&p, "utilities");
	path_seg(&p, arg(a, "--utility"));
	strbuf_puts(&p, "/grants");
	path_seg(&p, a->pos);
	return simple(cmd, a, "DELETE", &p, NULL, NULL, "grant revoked");
}

static int grant_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--app", "--utility", NULL},
				 *const keys[] = {"app", "utility", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "grants");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

/* ---- users ------------------------------------------------------------------- */

/* "yes" / "no" to a JSON boolean; -1 for anything else. */
static int yes_no(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		return 0;
	return -1;
}

/* The user members given as options into b. */
static json_t *user_body(const char *cmd, const struct args *a, json_t *b)
{
	static const char *const opts[] = {"--name-kanji", "--name-kana", "--name-romaji",
					   "--mail", "--phone", "--role", NULL};
	static const char *const keys[] = {"name_kanji", "name_kana", "name_romaji", "mail",
					   "phone", "role", NULL};

	for (size_t i = 0; b && opts[i]; i++)
		b = body_of(cmd, b, keys[i], arg(a, opts[i]));
	return b;
}

static int user_add(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	json_t *b;

	if (!arg(a, "--tenant")) {
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	b = body_of(cmd, json_object(), "tenant", arg(a, "--tenant"));
	b = user_body(cmd, a, b);
	if (!b)
		return CLI_USAGE;
	json_object_set_new(b, "otp_required", json_boolean(arg(a, "--otp-required") != NULL));
	path_start(&p, "users");
	return simple(cmd, a, "POST", &p, b, NULL, NULL);
}

static int user_list(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--tenant", NULL}, *const keys[] = {"tenant", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "users");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

static int user_show(const struct sub *s, const char *cmd, struct args *a)
{
	struct strbuf p;
	int reset = strcmp(s->name, "reset-password") == 0, totp = strcmp(s->name, "totp") == 0;

	path_start(&p, "users");
	path_seg(&p, a->pos);
	if (reset)
		strbuf_puts(&p, "/password-reset");
	if (totp)
		strbuf_puts(&p, "/totp");
	return simple(cmd, a, reset || totp ? "POST" : "GET", &p, NULL, NULL, NULL);
}

static int user_update(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const flags[] = {"--otp-required", "--disabled", NULL};
	static const char *const keys[] = {"otp_required", "disabled", NULL};
	struct strbuf p;
	json_t *b = user_body(cmd, a, json_object());

	if (!b)
		return CLI_USAGE;
	for (size_t i = 0; flags[i]; i++) {
		const char *v = arg(a, flags[i]);
		int yn;
		if (!v)
			continue;
		if ((yn = yes_no(v)) < 0) {
			json_decref(b);
			return cli_fail(cmd, CLI_USAGE, "%s takes yes or no", flags[i]);
		}
		json_object_set_new(b, keys[i], json_boolean(yn));
	}
	if (json_object_size(b) == 0) {
		json_decref(b);
		sub_usage(s, stderr);
		return CLI_USAGE;
	}
	path_start(&p, "users");
	path_seg(&p, a->pos);
	return simple(cmd, a, "PATCH", &p, b, NULL, NULL);
}

/* ---- audit ------------------------------------------------------------------- */

static int audit(const struct sub *s, const char *cmd, struct args *a)
{
	static const char *const names[] = {"--after", "--limit", NULL},
				 *const keys[] = {"after", "limit", NULL};
	struct strbuf p;

	(void)s;
	path_start(&p, "audit");
	put_query(&p, a, names, keys);
	return simple(cmd, a, "GET", &p, NULL, NULL, NULL);
}

/* ---- the table --------------------------------------------------------------- */

static const struct sub subs[] = {
	{"tenant", "add", "ID", "--kind= --name=", "ID --kind utility|vendor|operator --name NAME",
	 "Adds a tenant: a utility (事業体), a vendor, or the operator. Operator only.", tenant_add},
	{"tenant", "list", NULL, "--kind=", "[--kind utility|vendor|operator]",
	 "Lists the tenants (a tenant's administrator sees its own).", tenant_list},
	{"tenant", "show", "ID", "", "ID", "Shows one tenant.", tenant_show},
	{"gateway", "list", NULL, "--utility=", "[--utility U]",
	 "Lists gateways with their owning utility and the vendor that built them (a\n"
	 "tenant's administrator sees its own).",
	 gw_list},
	{"gateway", "show", "GATEWAY", "", "GATEWAY", "Shows one gateway.", gw_show},
	{"gateway", "vendor", "GATEWAY", "--vendor=", "GATEWAY --vendor V",
	 "Records the vendor that built the gateway. Operator only.", gw_vendor},
	{"link", "add", NULL, "--utility= --vendor=", "--utility U --vendor V",
	 "Links a vendor to a utility it serves (needed before the utility grants the\n"
	 "vendor's applications anything). Operator only.",
	 link_add},
	{"link", "remove", NULL, "--utility= --vendor=", "--utility U --vendor V",
	 "Removes the link; every grant the utility gave the vendor's applications is\n"
	 "revoked with it. Operator only.",
	 link_remove},
	{"link", "list", NULL, "--utility= --vendor=", "[--utility U] [--vendor V]",
	 "Lists the vendor links.", link_list},
	{"app", "add", "ID", "--vendor= --name= --redirect-uri* --config-out=",
	 "ID --vendor V --name NAME --redirect-uri URI... [--config-out FILE]",
	 "Registers an application (an OpenID Connect client) of vendor V and writes its\n"
	 "client configuration (issuer, client_id, client_secret, redirect URIs) as JSON\n"
	 "to FILE (mode 0600) or stdout. The secret is shown only this once.\n"
	 "--redirect-uri repeats; each must be https (http only on a loopback host).",
	 app_add},
	{"app", "list", NULL, "--vendor=", "[--vendor V]", "Lists applications.", app_list},
	{"app", "show", "ID", "", "ID", "Shows one application.", app_one},
	{"app", "update", "ID", "--redirect-uri*", "ID --redirect-uri URI...",
	 "Replaces the application's redirect URIs.", app_update},
	{"app", "revoke", "ID", "", "ID",
	 "Revokes an application: its tokens and grants stop working. Operator only.", app_one},
	{"app", "reinstate", "ID", "", "ID", "Reinstates a revoked application. Operator only.",
	 app_one},
	{"app", "rotate-secret", "ID", "--out=", "ID [--out FILE]",
	 "Replaces the client secret (the old one stops working at once) and writes the\n"
	 "new secret to FILE (mode 0600) or stdout.",
	 app_secret},
	{"app", "client-config", "ID", "--out=", "ID [--out FILE]",
	 "Writes a fresh client configuration JSON to FILE (mode 0600) or stdout.\n"
	 "The secret is stored only hashed and shown only once, so a new configuration\n"
	 "means a NEW SECRET: the old secret stops working at once.",
	 app_secret},
	{"grant", "set", "APP", "--utility= --all --item* --facility*",
	 "APP --utility U (--all | [--item ID]... [--facility NAME]...)",
	 "Grants application APP access to utility U's data: all of it, or the listed\n"
	 "items and the items of the listed facilities. Replaces an earlier scope. The\n"
	 "application's vendor must be linked to U.",
	 grant_set},
	{"grant", "revoke", "APP", "--utility=", "APP --utility U", "Revokes U's grant to APP.",
	 grant_revoke},
	{"grant", "list", NULL, "--app= --utility=", "[--app APP] [--utility U]", "Lists grants.",
	 grant_list},
	{"user", "add", NULL,
	 "--tenant= --name-kanji= --name-kana= --name-romaji= --mail= --phone= --role= "
	 "--otp-required",
	 "--tenant T --name-kanji N --name-kana N --name-romaji N [--mail M]\n"
	 "       [--phone P] [--role admin|general] [--otp-required]",
	 "Adds a user to tenant T. The platform issues the login ID and a one-time\n"
	 "password (printed; the user must change it at first sign-in).",
	 user_add},
	{"user", "list", NULL, "--tenant=", "[--tenant T]", "Lists users.", user_list},
	{"user", "show", "LOGIN", "", "LOGIN", "Shows one user.", user_show},
	{"user", "update", "LOGIN",
	 "--name-kanji= --name-kana= --name-romaji= --mail= --phone= --role= --otp-required= "
	 "--disabled=",
	 "LOGIN [--name-kanji N] [--name-kana N] [--name-romaji N] [--mail M]\n"
	 "       [--phone P] [--role admin|general] [--otp-required yes|no] [--disabled yes|no]",
	 "Changes a user's names, contact, role, TOTP requirement or disabled state.", user_update},
	{"user", "reset-password", "LOGIN", "", "LOGIN",
	 "Resets a forgotten password (operator only, FAQ 8): prints a new one-time\n"
	 "password and signs the user out everywhere.",
	 user_show},
	{"user", "totp", "LOGIN", "", "LOGIN",
	 "Provisions a fresh TOTP secret for the user (operator only): prints it and\n"
	 "its otpauth:// URI once, to hand over with the one-time password.",
	 user_show},
	{"audit", NULL, NULL, "--after= --limit=", "[--after SEQ] [--limit N]",
	 "Prints audit log entries after SEQ (default 0), at most N (default 100, at\n"
	 "most 1000); next_after in the answer continues. Operator only.",
	 audit},
};

#define N_SUBS (sizeof subs / sizeof *subs)

int cmd_admin_is(const char *group)
{
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(subs[i].group, group) == 0)
			return 1;
	return 0;
}

static void group_usage(const char *group, FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(subs[i].group, group) == 0)
			fprintf(f, "  suido %s%s%s %s\n", group, subs[i].name ? " " : "",
				subs[i].name ? subs[i].name : "", subs[i].synopsis);
	fprintf(f, "suido %s SUBCOMMAND --help says more.\noptions (all subcommands):\n%s", group,
		admin_http_usage);
}

int cmd_admin(int argc, char **argv)
{
	const char *group = argv[0], *name = argc >= 2 ? argv[1] : NULL;
	char cmd[64];
	struct args *a;
	int status;

	for (size_t i = 0; i < N_SUBS; i++) {
		const struct sub *s = &subs[i];
		int skip = s->name ? 2 : 1;
		if (strcmp(s->group, group) != 0 || (s->name && (!name || strcmp(s->name, name) != 0)))
			continue;
		a = calloc(1, sizeof *a);
		if (!a)
			return cli_fail(group, CLI_INTERNAL, "out of memory");
		snprintf(cmd, sizeof cmd, "%s%s%s", group, s->name ? " " : "", s->name ? s->name : "");
		status = parse(s, argc - skip, argv + skip, a);
		if (status == -1)
			status = CLI_OK;
		else if (status == CLI_OK)
			status = s->run(s, cmd, a);
		free(a);
		return status;
	}
	if (name && (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
		     strcmp(name, "help") == 0)) {
		group_usage(group, stdout);
		return CLI_OK;
	}
	if (name)
		fprintf(stderr, "suido %s: unknown subcommand \"%s\"\n", group, name);
	group_usage(group, stderr);
	return CLI_USAGE;
}
