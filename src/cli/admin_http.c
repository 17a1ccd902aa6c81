/*
 * One request to the platform's admin interface over libcurl
 * (admin_http.h).
 */
#include "admin_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli.h"

const char admin_http_usage[] =
	"  --url URL      the platform's base URL (default $SUIDO_ADMIN_URL, e.g.\n"
	"                 https://127.0.0.1:18080)\n"
	"  --ca FILE      root CA certificate the platform's must chain to (default\n"
	"                 $SUIDO_API_CA)\n"
	"  --token-file F a file holding the admin token (default: $SUIDO_ADMIN_TOKEN);\n"
	"                 never on the command line\n";

void admin_http_init(struct admin_http *h)
{
	h->url = getenv("SUIDO_ADMIN_URL");
	h->ca = getenv("SUIDO_API_CA");
	h->token_file = NULL;
}

int admin_http_option(struct admin_http *h, int argc, char **argv, int *i)
{
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (!v)
		return 0;
	if (strcmp(argv[*i], "--url") == 0)
		h->url = v;
	else if (strcmp(argv[*i], "--ca") == 0)
		h->ca = v;
	else if (strcmp(argv[*i], "--token-file") == 0)
		h->token_file = v;
	else
		return 0;
	(*i)++;
	return 1;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct strbuf *sb = ctx;

	strbuf_append(sb, p, size * n);
	return sb->failed ? 0 : size * n;
}

int admin_http_request(const char *cmd, const struct admin_http *h, const char *method,
		       const char *path, const char *body, long *code, struct strbuf *answer)
{
	const char *env_token = getenv("SUIDO_ADMIN_TOKEN");
	char *token = NULL, *endpoint = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL;
	int status = CLI_INTERNAL;
	size_t tlen = 0;
	CURL *c = NULL;
	CURLcode cr;

	*code = 0;
	if (!answer->limit)
		answer->limit = ADMIN_HTTP_ANSWER_MAX;
	if (!h->url)
		return cli_fail(cmd, CLI_USAGE, "no --url and no $SUIDO_ADMIN_URL");
	if (h->token_file) {
		if (cli_read(h->token_file, 4096, &token, &tlen) != 0)
			return cli_fail(cmd, CLI_IO, "%s: cannot read the token file",
					h->token_file);
		while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
			token[--tlen] = '\0';
	} else if (env_token && *env_token) {
		token = strdup(env_token);
		tlen = token ? strlen(token) : 0;
	} else {
		return cli_fail(cmd, CLI_USAGE, "no --token-file and no $SUIDO_ADMIN_TOKEN");
	}
	endpoint = malloc(strlen(h->url) + strlen(path) + 1);
	auth = malloc(tlen + 32);
	if (!token || !endpoint || !auth || !(c = curl_easy_init()))
		goto done;
	{
		int ul = (int)strlen(h->url);
		while (ul > 0 && h->url[ul - 1] == '/')
			ul--;
		sprintf(endpoint, "%.*s%s", ul, h->url, path);
	}
	sprintf(auth, "Authorization: Bearer %s", token);
	hdrs = curl_slist_append(hdrs, auth);
	/* a POST without a body (an action) sends no form Content-Type */
	hdrs = curl_slist_append(hdrs, body ? "Content-Type: application/json" : "Content-Type:");
	curl_easy_setopt(c, CURLOPT_URL, endpoint);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	if (h->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
	cr = curl_easy_perform(c);
	if (cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE) {
		status = cli_fail(cmd, CLI_CERT, "%s: %s", h->url, curl_easy_strerror(cr));
		goto done;
	}
	if (cr != CURLE_OK) {
		status = cli_fail(cmd, CLI_IO, "%s: %s", h->url, curl_easy_strerror(cr));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	status = CLI_OK;
done:
	if (status == CLI_INTERNAL && !c)
		cli_fail(cmd, CLI_INTERNAL, "out of memory or no libcurl");
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	if (token)
		OPENSSL_cleanse(token, tlen);
	if (auth)
		OPENSSL_cleanse(auth, strlen(auth));
	free(token);
	free(auth);
	free(endpoint);
	return status;
}
