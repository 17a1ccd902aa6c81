/*
 * suido gateway start|stop|resend (cmd_gateway.h), over the admin interface
 * (admin_http.h).
 */
#include "cmd_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"
#include "cli.h"
#include "cmd_admin.h"
#include "suido/profile.h"
#include "suido/strbuf.h"

#define ANSWER_MAX (64u * 1024u)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: suido gateway start GATEWAY [--interval SECONDS]\n"
		"       suido gateway list [--utility U] | show GATEWAY | vendor GATEWAY --vendor V\n"
		"         (the registry's record: owner and builder; suido gateway list --help)\n"
		"       suido gateway stop GATEWAY\n"
		"       suido gateway resend GATEWAY --from SEQ --to SEQ\n"
		"options (all commands):\n"
		"%s"
		"exit status: 0 queued, 64 usage, 65 refused by the platform (bad request),\n"
		"             69 TLS verification failed, 70 internal, 74 no answer / not authorised\n",
		admin_http_usage);
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
	const char *cmd, *gw;
	unsigned long long interval = 0, from = 0, to = 0;
	int have_interval = 0, have_from = 0, have_to = 0, status;
	char body[160], path[128];
	struct strbuf answer = {.limit = ANSWER_MAX};
	struct admin_http h;
	long code = 0;

	/* list / show / vendor: the registry's record of the gateway (cmd_admin.c) */
	if (argc >= 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0 ||
			  strcmp(argv[1], "vendor") == 0))
		return cmd_admin(argc, argv);

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
	admin_http_init(&h);
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (admin_http_option(&h, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--interval") == 0 && parse_u64(v, &interval) == 0)
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
	snprintf(path, sizeof path, "/admin/v1/gateways/%s/commands", gw);
	status = admin_http_request("gateway", &h, "POST", path, body, &code, &answer);
	if (status != CLI_OK)
		goto done;
	if (code == 202) {
		printf("%s queued for %s\n", cmd, gw);
	} else {
		status = cli_fail("gateway", code == 400 || code == 404 ? CLI_BAD_INPUT : CLI_IO,
				  "the platform answered %ld: %.*s", code, (int)answer.len,
				  answer.data ? answer.data : "");
	}
done:
	strbuf_free(&answer);
	return status;
}
