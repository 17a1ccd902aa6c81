/*
 * suido-platform: the platform daemon. The main thread runs the GW interface
 * ingest (MQTT -> store -> ack); libmicrohttpd's threads serve the AP
 * interface, each with its own store connection.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "gwkeys.h"
#include "ingest.h"
#include "metrics.h"
#include "platconf.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"
#include "suido/store.h"
#include "suido/timeutil.h"

#define EXIT_CONFIG 78

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int open_store(void *ctx, struct store **out)
{
	const struct plat_config *cfg = ctx;
	char err[512];
	int rc = store_open_sqlite(cfg->database, out, err, sizeof err);

	if (rc != SUIDO_OK)
		log_error("platform", "opening the store for an HTTP worker failed: %s", err);
	return rc;
}

/* Registers the configured utilities and gateways in the store. */
static int sync_registry(struct store *st, const struct plat_config *cfg, char *err,
			 size_t errlen)
{
	int rc = store_begin(st);

	for (size_t i = 0; rc == SUIDO_OK && i < cfg->n_utilities; i++)
		rc = store_put_utility(st, cfg->utilities[i].id, cfg->utilities[i].name);
	for (size_t i = 0; rc == SUIDO_OK && i < cfg->n_gateways; i++) {
		rc = store_put_gateway(st, cfg->gateways[i].utility, cfg->gateways[i].id);
		if (rc == SUIDO_ERR_EXISTS)
			snprintf(err, errlen, "gateway %s is registered to another utility in the "
					      "database than in the configuration",
				 cfg->gateways[i].id);
	}
	if (rc == SUIDO_OK)
		return store_commit(st);
	store_rollback(st);
	return rc;
}

/* The directory of the database (for the registry and the signing keys). */
static void database_dir(const struct plat_config *cfg, char *out, size_t outlen)
{
	const char *slash = strrchr(cfg->database, '/');

	if (slash)
		snprintf(out, outlen, "%.*s", (int)(slash - cfg->database), cfg->database);
	else
		snprintf(out, outlen, ".");
}

/* The registry, with every [utility] of the configuration as a utility tenant,
 * the platform operator's tenant, and every [gateway] owned by its utility. */
static struct registry *open_registry(const struct plat_config *cfg)
{
	char path[4200], dir[4096], err[512];
	struct registry *r = NULL;
	struct reg_tenant t;
	uint64_t now = timeutil_now_ms();

	database_dir(cfg, dir, sizeof dir);
	if (cfg->registry)
		snprintf(path, sizeof path, "%s", cfg->registry);
	else
		snprintf(path, sizeof path, "%s/registry.db", dir);
	if (registry_open(path, &r, err, sizeof err) != SUIDO_OK)
		fatal("platform", "registry %s: %s", path, err);
	memset(&t, 0, sizeof t);
	t.kind = REG_OPERATOR;
	snprintf(t.id, sizeof t.id, "operator");
	snprintf(t.name, sizeof t.name, "プラットフォーム運用者");
	if (registry_tenant_ensure(r, "config", &t, now, err, sizeof err) != SUIDO_OK)
		fatal("platform", "registry: the operator tenant: %s", err);
	for (size_t i = 0; i < cfg->n_utilities; i++) {
		memset(&t, 0, sizeof t);
		t.kind = REG_UTILITY;
		snprintf(t.id, sizeof t.id, "%s", cfg->utilities[i].id);
		snprintf(t.name, sizeof t.name, "%s", cfg->utilities[i].name);
		if (registry_tenant_ensure(r, "config", &t, now, err, sizeof err) != SUIDO_OK)
			fatal("platform", "registry: [utility %s]: %s", t.id, err);
	}
	for (size_t i = 0; i < cfg->n_gateways; i++)
		if (registry_gateway_ensure(r, "config", cfg->gateways[i].id,
					    cfg->gateways[i].utility, now, err,
					    sizeof err) != SUIDO_OK)
			fatal("platform", "registry: [gateway %s]: %s", cfg->gateways[i].id, err);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: suido-platform -c CONFIG [--check-config] [--ready-file FILE]\n"
		   "  -c, --config FILE     platform configuration (etc/platform.conf)\n"
		   "      --check-config    validate the configuration, then exit\n"
		   "      --ready-file FILE when serving, write \"http_port=N\" there\n"
		   "  -h, --help            this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check-config", no_argument, NULL, 'k'},
					     {"ready-file", required_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *ready_file = NULL;
	struct plat_config *cfg = NULL;
	struct store *st = NULL;
	struct metrics *m = NULL;
	struct api *api = NULL;
	struct ingest *in = NULL;
	struct monitor *mon = NULL;
	struct command_queue *cmds = NULL;
	struct gwkeys *keys = NULL;
	struct api_app *apps = NULL;
	struct registry *reg = NULL;
	struct oidc *oidc = NULL;
	struct admin *admin = NULL;
	struct password_blocklist *blocklist = NULL;
	struct oidc_config oc;
	char issuer[OIDC_ISSUER_MAX], keys_dir[4096];
	char err[1024];
	enum log_level lvl;
	int opt, check_only = 0;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'k': check_only = 1; break;
		case 'r': ready_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!config) {
		usage(stderr);
		return 64;
	}
	if (plat_config_load(config, &cfg, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "suido-platform: %s\n", err);
		return EXIT_CONFIG;
	}
	if (timeutil_set_zone(cfg->timezone) != SUIDO_OK) {
		fprintf(stderr, "suido-platform: %s: [platform] timezone: unknown zone \"%s\"\n",
			config, cfg->timezone);
		plat_config_free(cfg);
		return EXIT_CONFIG;
	}
	if (log_level_parse(cfg->log_level, &lvl) != 0) {
		fprintf(stderr, "suido-platform: %s: [platform] log_level: expected debug, info, "
				"warn or error\n", config);
		plat_config_free(cfg);
		return EXIT_CONFIG;
	}
	log_set_level(lvl);
	/* Keys and certificates are checked by --check-config too. */
	if (gwkeys_load(cfg, &keys, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "suido-platform: %s: %s\n", config, err);
		plat_config_free(cfg);
		return EXIT_CONFIG;
	}
	if (check_only) {
		printf("%s: OK (%zu utilities, %zu gateways)\n", config, cfg->n_utilities,
		       cfg->n_gateways);
		gwkeys_free(keys);
		plat_config_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	{
		char dir[4096];
		const char *slash = strrchr(cfg->database, '/');
		if (slash) {
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - cfg->database), cfg->database);
			if (fsutil_mkdirs(dir, err, sizeof err) != SUIDO_OK)
				fatal("platform", "%s", err);
		}
	}
	if (store_open_sqlite(cfg->database, &st, err, sizeof err) != SUIDO_OK)
		fatal("platform", "%s", err);
	if (sync_registry(st, cfg, err, sizeof err) != SUIDO_OK)
		fatal("platform", "registering utilities and gateways: %s", err);
	m = metrics_new();
	mon = monitor_new(cfg, timeutil_now_ms());
	cmds = command_queue_new();
	if (!mon || !cmds)
		fatal("platform", "out of memory");
	reg = open_registry(cfg);
	apps = calloc(cfg->n_applications + 1, sizeof *apps);
	if (!m || !apps)
		fatal("platform", "out of memory");
	for (size_t i = 0; i < cfg->n_applications; i++) {
		const struct plat_application *app = &cfg->applications[i];
		apps[i].id = app->id;
		apps[i].seal_to = gwkeys_application(keys, app, &apps[i].sender_pub, &apps[i].no_seal);
	}
	struct api_config ac = {.listen_addr = cfg->http_listen,
				.port = (uint16_t)cfg->http_port,
				.threads = cfg->http_threads,
				.page_default = cfg->page_default,
				.page_max = cfg->page_max,
				.n_apps = cfg->n_applications,
				.apps = apps,
				.registry = reg,
				.access_log = cfg->access_log,
				.store_open = open_store,
				.store_ctx = cfg,
				.tls_certfile = cfg->http_certfile,
				.tls_keyfile = cfg->http_keyfile,
				.platform_key = gwkeys_platform(keys),
				.platform_pkey = gwkeys_platform_pkey(keys),
				.files_max_bytes = cfg->files_max_bytes,
				.monitor = mon,
				.commands = cmds,
				.platform = cfg,
				.has_admin_token = cfg->has_admin_token};
	memcpy(ac.admin_token_sha256, cfg->admin_token_sha256, 32);
	if (api_start(&ac, m, &api, err, sizeof err) != SUIDO_OK)
		fatal("platform", "AP interface: %s", err);
	/* The provider's issuer may need the port just bound. */
	oidc_config_defaults(&oc);
	if (cfg->oidc.issuer)
		snprintf(issuer, sizeof issuer, "%s", cfg->oidc.issuer);
	else
		snprintf(issuer, sizeof issuer, "%s://%s%s%s:%u",
			 cfg->http_certfile ? "https" : "http", strchr(cfg->http_listen, ':') ? "[" : "",
			 cfg->http_listen, strchr(cfg->http_listen, ':') ? "]" : "", api_port(api));
	database_dir(cfg, keys_dir, sizeof keys_dir);
	if (!cfg->oidc.keys_dir)
		strncat(keys_dir, "/oidc-keys", sizeof keys_dir - strlen(keys_dir) - 1);
	if (cfg->oidc.password_blocklist &&
	    password_blocklist_load(cfg->oidc.password_blocklist, &blocklist, err, sizeof err) !=
		    SUIDO_OK)
		fatal("platform", "[oidc] password_blocklist: %s", err);
	oc.issuer = issuer;
	oc.audience = cfg->oidc.audience;
	oc.keys_dir = cfg->oidc.keys_dir ? cfg->oidc.keys_dir : keys_dir;
	oc.rotate_s = (uint64_t)cfg->oidc.rotate_days * 86400u;
	oc.access_ttl_s = cfg->oidc.access_ttl_s;
	oc.id_ttl_s = cfg->oidc.id_ttl_s;
	oc.refresh_ttl_s = cfg->oidc.refresh_ttl_s;
	oc.code_ttl_s = cfg->oidc.code_ttl_s;
	oc.sessions.idle_ms = (uint64_t)cfg->oidc.session_idle_s * 1000u;
	oc.sessions.absolute_ms = (uint64_t)cfg->oidc.session_absolute_s * 1000u;
	oc.blocklist = blocklist;
	oc.registry = reg;
	oc.admin_clients = cfg->admin_clients;
	oc.external_issuer = cfg->oidc.external_issuer;
	oc.external_jwks = cfg->oidc.external_jwks;
	if (oidc_create(&oc, timeutil_now_ms(), &oidc, err, sizeof err) != SUIDO_OK)
		fatal("platform", "OpenID provider: %s", err);
	if (admin_create(reg, &oc.policy, blocklist, issuer, &admin) != SUIDO_OK)
		fatal("platform", "admin API: out of memory");
	api_attach(api, oidc, admin);
	log_info("platform", "OpenID %s %s", cfg->oidc.external_issuer ? "issuer (external)" : "provider",
		 cfg->oidc.external_issuer ? cfg->oidc.external_issuer : issuer);
	if (ingest_new(cfg, keys, st, m, &in, err, sizeof err) != SUIDO_OK)
		fatal("platform", "%s", err);
	ingest_attach(in, mon, cmds);
	log_info("platform", "serving the AP interface on %s://%s:%u/ap/v1, store %s (%s), "
			     "broker %s:%d (%s)",
		 cfg->http_certfile ? "https" : "http", cfg->http_listen, api_port(api), cfg->database, store_backend(st), cfg->mqtt_host,
		 cfg->mqtt_port, tlsfiles_enabled(&cfg->mqtt_tls) ? "TLS" : "plaintext");
	if (ready_file) {
		char text[64], dir[4096], *slash;
		snprintf(text, sizeof text, "http_port=%u\n", api_port(api));
		snprintf(dir, sizeof dir, "%s", ready_file);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (fsutil_write_atomic(slash ? dir : ".", slash ? slash + 1 : ready_file, text,
					strlen(text), err, sizeof err) != SUIDO_OK)
			log_error("platform", "ready file: %s", err);
	}
	while (!stop)
		ingest_loop(in, 100);
	log_info("platform", "stopping");
	api_stop(api);
	admin_free(admin);
	oidc_free(oidc);
	password_blocklist_free(blocklist);
	registry_close(reg);
	ingest_free(in);
	monitor_free(mon);
	command_queue_free(cmds);
	store_close(st);
	metrics_free(m);
	gwkeys_free(keys);
	free(apps);
	plat_config_free(cfg);
	return 0;
}
