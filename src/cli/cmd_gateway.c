/*
 * suido gateway start|stop|resend (cmd_gateway.h), over libcurl.
 */
#include "cmd_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "suido/profile.h"
#include "suido/strbuf.h"

#define ANSWER_MAX (64u * 1024u)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: suido gateway start GATEWAY [--interval SECONDS]\n"
		"       suido gateway stop GATEWAY\n"
		"       suido gateway resend GATEWAY --from SEQ --to SEQ\n"
		"options (all commands):\n"
		"  --url URL      the platform's base URL (default $SUIDO_ADMIN_URL, e.g.\n"
		"                 https://127.0.0.1:18080)\n"
		"  --ca FILE      root CA certificate the platform's must chain to (default\n"
		"                 $SUIDO_API_CA)\n"
		"  --token-file F a file holding the admin token (default: $SUIDO_ADMIN_TOKEN);\n"
		"                 never on the command line\n"
		"exit status: 0 queued, 64 usage, 65 refused by the platform (bad request),\n"
		"             69 TLS verification failed, 70 internal, 74 no answer / not authorised\n");
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct strbuf *sb = ctx;

	strbuf_append(sb, p, size * n);
	return sb->failed ? 0 : size * n;
}

static int parse_u64(const char *s, unsigned long long *out)
{
	char *end = NULL;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end ? -1 : 0;
}

int cmd_gateway(int argc, char **argv)
{
	const char *cmd, *gw, *url = getenv("SUIDO_ADMIN_URL"), *ca = getenv("SUIDO_API_CA");
	const char *token_file = NULL, *env_token = getenv("SUIDO_ADMIN_TOKEN");
	unsigned long long interval = 0, from = 0, to = 0;
	int have_interval = 0, have_from = 0, have_to = 0, status = CLI_INTERNAL;
	char *token = NULL, *endpoint = NULL, *auth = NULL, body[160];
	struct strbuf answer = {.limit = ANSWER_MAX};
	struct curl_slist *hdrs = NULL;
	size_t tlen = 0;
	long code = 0;
	CURL *c = NULL;
	CURLcode cr;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return CLI_OK;
	}
	if (argc < 3) {
		usage(stderr);
		return CLI_USAGE;
	}
	cmd = argv[1];
	gw = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--url") == 0 && v)
			url = v;
		else if (strcmp(argv[i], "--ca") == 0 && v)
			ca = v;
		else if (strcmp(argv[i], "--token-file") == 0 && v)
			token_file = v;
		else if (strcmp(argv[i], "--interval") == 0 && parse_u64(v, &interval) == 0)
			have_interval = 1;
		else if (strcmp(argv[i], "--from") == 0 && parse_u64(v, &from) == 0)
			have_from = 1;
		else if (strcmp(argv[i], "--to") == 0 && parse_u64(v, &to) == 0)
			have_to = 1;
		else {
			usage(stderr);
			return CLI_USAGE;
		}
		i++;
	}
	if (!profile_name_valid(gw))
		return cli_fail("gateway", CLI_USAGE, "not a gateway id: %s", gw);
	if (strcmp(cmd, "start") == 0 && !have_from && !have_to)
		snprintf(body, sizeof body, have_interval ? "{\"command\":\"start\",\"interval_s\":%llu}"
							  : "{\"command\":\"start\"}",
			 interval);
	else if (strcmp(cmd, "stop") == 0 && !have_interval && !have_from && !have_to)
		snprintf(body, sizeof body, "{\"command\":\"stop\"}");
	else if (strcmp(cmd, "resend") == 0 && have_from && have_to && !have_interval)
		snprintf(body, sizeof body,
			 "{\"command\":\"resend\",\"from_seq\":%llu,\"to_seq\":%llu}", from, to);
	else {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!url)
		return cli_fail("gateway", CLI_USAGE, "no --url and no $SUIDO_ADMIN_URL");
	if (token_file) {
		if (cli_read(token_file, 4096, &token, &tlen) != 0)
			return cli_fail("gateway", CLI_IO, "%s: cannot read the token file",
					token_file);
		while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
			token[--tlen] = '\0';
	} else if (env_token && *env_token) {
		token = strdup(env_token);
		tlen = token ? strlen(token) : 0;
	} else {
		return cli_fail("gateway", CLI_USAGE, "no --token-file and no $SUIDO_ADMIN_TOKEN");
	}
	endpoint = malloc(strlen(url) + strlen(gw) + 64);
	auth = malloc(tlen + 32);
	if (!token || !endpoint || !auth || !(c = curl_easy_init()))
		goto done;
	{
		int ul = (int)strlen(url);
		while (ul > 0 && url[ul - 1] == '/')
			ul--;
		sprintf(endpoint, "%.*s/admin/v1/gateways/%s/commands", ul, url, gw);
	}
	sprintf(auth, "Authorization: Bearer %s", token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, endpoint);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	cr = curl_easy_perform(c);
	if (cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE) {
		status = cli_fail("gateway", CLI_CERT, "%s: %s", url, curl_easy_strerror(cr));
		goto done;
	}
	if (cr != CURLE_OK) {
		status = cli_fail("gateway", CLI_IO, "%s: %s", url, curl_easy_strerror(cr));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code == 202) {
		printf("%s queued for %s\n", cmd, gw);
		status = CLI_OK;
	} else {
		status = cli_fail("gateway", code == 400 || code == 404 ? CLI_BAD_INPUT : CLI_IO,
				  "the platform answered %ld: %.*s", code, (int)answer.len,
				  answer.data ? answer.data : "");
	}
done:
	if (status == CLI_INTERNAL && !c)
		cli_fail("gateway", CLI_INTERNAL, "out of memory or no libcurl");
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
	strbuf_free(&answer);
	return status;
}
