/*
 * suido-gateway: the system gateway of seed 003. One thread runs one loop:
 * take complete files from the spool into the durable queue, cut pending
 * points into messages, keep the in-flight window full, and drive the MQTT
 * connection. Nothing is deleted before the platform acknowledged it after
 * its commit (docs/reliability.md).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "certs.h"
#include "archive.h"
#include "command.h"
#include "ftpspool.h"
#include "gwconf.h"
#include "gwseal.h"
#include "health.h"
#include "intake.h"
#include "link.h"
#include "queue.h"
#include "sender.h"
#include "spool.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/log.h"
#include "suido/mask.h"
#include "suido/timeutil.h"

#define EXIT_CONFIG 78

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_ack(void *ctx, const char *msg_id, enum profile_ack_status st, const char *reason)
{
	sender_ack(ctx, msg_id, st, reason, timeutil_now_ms());
}

/*
 * What the platform commands (command.h) and what is in force because of
 * it. The link's callbacks reach the sender through this; it is created
 * after the link.
 */
struct control {
	const struct gw_config *g;
	struct queue *q;
	struct sender *sender;
	struct command_verifier *cv;
	struct queue_control state; /* as recorded in the queue */
	int64_t interval_ms;        /* between cuts of pending points, in force */
	int cut_now;                /* set by a start: cut held points at once */
	const struct intake_guard *guard; /* intake paused or not (disk full) */
	struct archive *archive;
	struct gwseal *seal;        /* NULL for format = plain */
	uint64_t certs_seq;         /* the platform's certificate bundle in force */
};

/* Takes the platform's certificates (certs.h): seals to its certificate and
 * verifies its commands with it from now on, and keeps the bundle. */
static int certs_apply(struct control *c, const struct certs_bundle *b, const void *jws,
		       size_t len, int save)
{
	struct command_verifier *cv = NULL;
	char err[300];
	int rc;

	if (save && (rc = certs_save(c->g, b, jws, len, err, sizeof err)) != SUIDO_OK) {
		log_error("certs", "keeping the certificates failed: %s", err);
		return rc;
	}
	if ((rc = gwseal_set_recipient(c->seal, b->platform, err, sizeof err)) != SUIDO_OK) {
		log_error("certs", "%s", err);
		return rc;
	}
	if (command_verifier_new(X509_get0_pubkey(b->platform), c->g->unsigned_commands,
				 c->g->utility, c->g->id, queue_epoch(c->q), &cv, err,
				 sizeof err) != SUIDO_OK) {
		log_error("certs", "platform commands: %s", err);
		return SUIDO_ERR_INVALID;
	}
	command_verifier_free(c->cv);
	c->cv = cv;
	c->certs_seq = b->seq;
	log_info("certs", "platform certificates (seq %llu) in force: sealing for \"%s\", %zu "
			  "application certificates kept in %s/certs",
		 (unsigned long long)b->seq, c->seal ? gwseal_recipient(c->seal) : "(plain)",
		 b->n_apps, c->g->state_dir);
	return SUIDO_OK;
}

static void relay_certs(void *ctx, const void *payload, size_t len, int retained)
{
	struct control *c = ctx;
	struct certs_bundle *b = NULL;
	char err[300];
	int rc = certs_open(c->g, payload, len, &b, err, sizeof err);

	if (rc != SUIDO_OK) {
		log_warn("certs", "%scertificates refused (%zu bytes): %s", retained ? "retained " : "",
			 len, err);
		return;
	}
	if (b->seq <= c->certs_seq) {
		if (b->seq < c->certs_seq)
			log_warn("certs", "certificates seq %llu refused: older than %llu in force",
				 (unsigned long long)b->seq, (unsigned long long)c->certs_seq);
		certs_free(b);
		return;
	}
	certs_apply(c, b, payload, len, 1);
	certs_free(b);
}

static void relay_ack(void *ctx, const char *msg_id, enum profile_ack_status st,
		      const char *reason)
{
	struct control *c = ctx;
	if (c->sender)
		on_ack(c->sender, msg_id, st, reason);
}

/* Sending and interval from the recorded state: the platform's start and
 * stop win; before the first of them, [send] start decides. */
static void control_apply_state(struct control *c)
{
	int on = c->state.sending == QUEUE_SENDING_ON ||
		 (c->state.sending == QUEUE_SENDING_UNSET && c->g->start == GW_START_IMMEDIATELY);

	sender_set_sending(c->sender, on);
	c->interval_ms = c->state.interval_s > 0 ? c->state.interval_s * 1000 : c->g->interval_ms;
}

static void relay_command(void *ctx, const void *payload, size_t len, int retained)
{
	struct control *c = ctx;
	struct command cmd;
	char err[512], issued[32];
	int rc;

	if (!c->sender)
		return;
	rc = command_decode(c->cv, payload, len, &cmd, err, sizeof err);
	if (rc != SUIDO_OK) {
		log_warn("command", "%scommand refused (%zu bytes): %s", retained ? "retained " : "",
			 len, err);
		return;
	}
	rc = command_accept(c->q, &cmd, &c->state, err, sizeof err);
	if (rc == SUIDO_ERR_EXISTS && cmd.seq == c->state.cmd_seq) {
		/* the retained command again, after a reconnect or restart */
		log_info("command", "%s seq %lld already applied", command_name(cmd.kind),
			 (long long)cmd.seq);
		return;
	}
	if (rc != SUIDO_OK) {
		if (rc == SUIDO_ERR_EXISTS)
			log_warn("command", "%s command refused: %s", command_name(cmd.kind), err);
		else
			log_error("command", "%s seq %lld not applied: %s", command_name(cmd.kind),
				  (long long)cmd.seq, err);
		return;
	}
	timeutil_format_utc(cmd.issued_ms, issued);
	switch (cmd.kind) {
	case COMMAND_START:
		control_apply_state(c);
		c->cut_now = 1;
		log_info("command", "start (seq %lld, issued %s%s): sending every %lld s",
			 (long long)cmd.seq, issued, cmd.verified ? "" : ", UNSIGNED",
			 (long long)cmd.interval_s);
		break;
	case COMMAND_STOP:
		control_apply_state(c);
		log_info("command", "stop (seq %lld, issued %s%s): no data message is sent until "
				    "the next start", (long long)cmd.seq, issued,
			 cmd.verified ? "" : ", UNSIGNED");
		break;
	case COMMAND_RESEND:
		if (sender_resend(c->sender, cmd.from_seq, cmd.to_seq) != SUIDO_OK)
			log_warn("command", "resend seq %llu..%llu (seq %lld) dropped: %d resend "
					    "requests are already waiting",
				 (unsigned long long)cmd.from_seq, (unsigned long long)cmd.to_seq,
				 (long long)cmd.seq, SENDER_RESEND_RANGES);
		else
			log_info("command", "resend seq %llu..%llu (seq %lld, issued %s%s)",
				 (unsigned long long)cmd.from_seq, (unsigned long long)cmd.to_seq,
				 (long long)cmd.seq, issued, cmd.verified ? "" : ", UNSIGNED");
		break;
	}
}

/* Publishes one health report (health.h), signed unless format = plain. */
static void send_health(struct health *h, struct control *c, const struct gwseal *seal,
			struct link *lk)
{
	struct queue_stats st;
	struct health_input in = {0};
	char last_file[256], err[256], *json = NULL, *jws = NULL;
	size_t len = 0;
	int64_t now = timeutil_now_ms();

	in.sending = sender_sending(c->sender);
	in.interval_s = (double)c->interval_ms / 1000.0;
	if (queue_stats(c->q, &st) == SUIDO_OK) {
		in.queue_points = st.pending_points + st.unacked_points;
		in.queue_unacked = st.unacked_msgs;
		in.oldest_unacked_ms = st.oldest_unacked_ms;
	}
	if (queue_last_file(c->q, last_file, sizeof last_file, &in.last_file_ms) == SUIDO_OK)
		in.last_file = last_file;
	in.last_ack_ms = queue_last_ack_ms(c->q);
	in.intake_paused = c->guard && intake_guard_paused(c->guard);
	in.alert = c->guard ? intake_guard_alert(c->guard) : NULL;
	in.archives = queue_archive_count(c->q);
	if (health_report(h, &in, now, &json, &len) != SUIDO_OK) {
		log_warn("gateway", "health report: out of memory");
		return;
	}
	if (seal) {
		if (gwseal_sign(seal, json, len, &jws, err, sizeof err) != SUIDO_OK) {
			log_warn("gateway", "signing the health report failed: %s", err);
			goto done;
		}
		if (link_publish_health(lk, jws, strlen(jws)) != SUIDO_OK)
			log_debug("gateway", "health report not published (not connected)");
	} else if (link_publish_health(lk, json, len) != SUIDO_OK) {
		log_debug("gateway", "health report not published (not connected)");
	}
done:
	free(json);
	free(jws);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: suido-gateway -c CONFIG [--check-config]\n"
		   "  -c, --config FILE    gateway configuration (etc/gateway.conf)\n"
		   "      --check-config   validate the configuration and the mapping, then exit\n"
		   "  -h, --help           this text\n");
}

static int make_dirs(const struct gw_config *g, char *done, char *rejected, char *receipts,
		     char *err, size_t errlen)
{
	snprintf(done, PATH_MAX, "%s/done", g->state_dir);
	snprintf(rejected, PATH_MAX, "%s/rejected", g->state_dir);
	snprintf(receipts, PATH_MAX, "%s/receipts", g->state_dir);
	const char *dirs[] = {g->state_dir, g->spool_dir, done, rejected, receipts};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		int rc = fsutil_mkdirs(dirs[i], err, errlen);
		if (rc != SUIDO_OK)
			return rc;
	}
	return SUIDO_OK;
}

/* Takes ready files for at most budget_ms. Returns points queued. */
static size_t take_files(struct spool *sp, const struct intake_ctx *ic,
			 const struct intake_origin *origin, int64_t budget_ms,
			 struct intake_guard *guard)
{
	int64_t start = timeutil_mono_ms();
	char name[512], err[512];
	size_t points = 0;

	while (timeutil_mono_ms() - start < budget_ms && spool_take(sp, timeutil_mono_ms(), name, sizeof name)) {
		struct intake_result res;
		int rc = intake_file_from(ic, origin, name, timeutil_now_ms(), &res, err, sizeof err);
		if (rc == SUIDO_OK) {
			points += res.points;
			intake_guard_taken(guard);
			continue;
		}
		/* Could not finish: the file stays in the spool and nothing of it
		 * counts. Disk full pauses all intake; other errors retry this file. */
		if (rc == SUIDO_ERR_FULL) {
			char why[1100];
			snprintf(why, sizeof why, "taking %.500s: %.512s", name, err);
			intake_guard_full(guard, timeutil_mono_ms(), why);
			spool_defer(sp, name, timeutil_mono_ms() + INTAKE_GUARD_RETRY_MS);
			break;
		}
		log_error("gateway", "taking %s failed, will retry: %s", name, err);
		spool_defer(sp, name, timeutil_mono_ms() + 5000);
	}
	return points;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check-config", no_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL;
	int check_only = 0, opt, rc, status = 0, evac_failed = 0;
	struct gw_config *g = NULL;
	struct queue *q = NULL;
	struct link *lk = NULL;
	struct sender *snd = NULL;
	struct gwseal *seal = NULL;
	struct mask_key *mkey = NULL;
	struct spool *sp = NULL;
	struct ftpspool *fs = NULL;
	struct health *health = NULL;
	EVP_PKEY *platform_key = NULL;
	struct control ctl = {0};
	uint64_t health_gen = 0;
	char platform_cn[128];
	char err[1024], done[PATH_MAX], rejected[PATH_MAX], receipts[PATH_MAX];
	char dbpath[PATH_MAX];
	int64_t next_make = 0, next_purge = 0, next_stats = 0, next_health = 0;
	struct archive *arch = NULL;
	struct intake_guard guard;
	char archdir[PATH_MAX];
	enum log_level lvl;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'k': check_only = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!config) {
		usage(stderr);
		return 64;
	}
	if ((rc = gw_config_load(config, &g, err, sizeof err)) != SUIDO_OK) {
		fprintf(stderr, "suido-gateway: %s\n", err);
		return EXIT_CONFIG;
	}
	if (timeutil_set_zone(g->timezone) != SUIDO_OK) {
		fprintf(stderr, "suido-gateway: %s: [gateway] timezone: unknown zone \"%s\"\n",
			config, g->timezone);
		gw_config_free(g);
		return EXIT_CONFIG;
	}
	if (log_level_parse(g->log_level, &lvl) != 0) {
		fprintf(stderr, "suido-gateway: %s: [gateway] log_level: expected debug, info, "
				"warn or error\n", config);
		gw_config_free(g);
		return EXIT_CONFIG;
	}
	log_set_level(lvl);
	/* The keys are checked by --check-config too: a wrong file fails early. */
	if ((rc = gwseal_load(g, &seal, err, sizeof err)) != SUIDO_OK) {
		fprintf(stderr, "suido-gateway: %s: %s\n", config, err);
		gw_config_free(g);
		return EXIT_CONFIG;
	}
	if (g->mask_key_path &&
	    (rc = mask_key_load_path(g->mask_key_path, &mkey, err, sizeof err)) != SUIDO_OK) {
		fprintf(stderr, "suido-gateway: %s: [security] mask_key: %s\n", config, err);
		gwseal_free(seal);
		gw_config_free(g);
		return EXIT_CONFIG;
	}
	/* The platform's commands are verified with its data-protection
	 * certificate, the one data is sealed to (optional for format = plain). */
	if (g->platform_cert_path &&
	    (rc = gwseal_platform_key_load(g, &platform_key, platform_cn, sizeof platform_cn, err,
					   sizeof err)) != SUIDO_OK) {
		fprintf(stderr, "suido-gateway: %s: %s\n", config, err);
		mask_key_free(mkey);
		gwseal_free(seal);
		gw_config_free(g);
		return EXIT_CONFIG;
	}
	if (check_only) {
		printf("%s: OK (%zu layouts)\n", config, mapping_layout_count(g->mapping));
		EVP_PKEY_free(platform_key);
		mask_key_free(mkey);
		gwseal_free(seal);
		gw_config_free(g);
		return 0;
	}
	if (seal)
		log_info("gateway", "data messages are sealed (%s) for \"%s\", kid %s",
			 g->format == GW_FORMAT_XML
				 ? "XML: XML-DSig RSA-SHA256 of Data, XML-Enc AES-128-CBC of Points"
				 : "JSON: JWS RS256 in JWE RSA-OAEP",
			 gwseal_recipient(seal), g->id);
	else
		log_warn("gateway", "[security] format = plain: data messages are sent UNSEALED "
				    "(for tests and benchmarks only)");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (make_dirs(g, done, rejected, receipts, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	snprintf(dbpath, sizeof dbpath, "%s/queue.db", g->state_dir);
	if (queue_open(dbpath, g->utility, g->id, &q, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	struct link_config lc = {
		.host = g->mqtt_host,
		.port = g->mqtt_port,
		.keepalive = g->mqtt_keepalive,
		.client_id = g->id,
		.topic_prefix = g->topic_prefix,
		.utility = g->utility,
		.gateway = g->id,
		.max_inflight = g->window,
		.cafile = g->mqtt_tls.cafile,
		.certfile = g->mqtt_tls.certfile,
		.keyfile = g->mqtt_tls.keyfile,
	};
	if (command_verifier_new(platform_key, g->unsigned_commands, g->utility, g->id,
				 queue_epoch(q), &ctl.cv, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "platform commands: %s", err);
	EVP_PKEY_free(platform_key);
	platform_key = NULL;
	ctl.g = g;
	ctl.q = q;
	if (queue_control_get(q, &ctl.state) != SUIDO_OK)
		fatal("gateway", "queue %s: cannot read the command state", dbpath);
	ctl.seal = seal;
	{
		/* the platform's certificates as last received, verified again */
		struct certs_bundle *b = NULL;
		rc = certs_load_saved(g, &b, err, sizeof err);
		if (rc == SUIDO_OK)
			certs_apply(&ctl, b, NULL, 0, 0);
		else if (rc != SUIDO_ERR_NOTFOUND)
			log_warn("certs", "the kept certificates are not used: %s", err);
		certs_free(b);
	}
	if (link_new(&lc, relay_ack, relay_command, &ctl, &lk, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	if (g->ca_path)
		link_on_certificates(lk, relay_certs);
	snd = sender_new(q, lk, seal, g->window, g->ack_timeout_ms);
	health = health_new(g->state_dir, g->utility, g->id);
	if (!snd || !health)
		fatal("gateway", "out of memory");
	snprintf(archdir, sizeof archdir, "%s/archive", g->state_dir);
	if (archive_open(archdir, q, &arch, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	sender_set_archive(snd, arch);
	ctl.archive = arch;
	ctl.sender = snd;
	control_apply_state(&ctl);
	if (!command_verifier_usable(ctl.cv))
		log_warn("gateway", "no [security] platform_certificate: every platform command is "
				    "refused (unsigned_commands = yes accepts unsigned ones, plain "
				    "test setups only)");
	else if (g->unsigned_commands)
		log_warn("gateway", "[security] unsigned_commands = yes: platform commands are "
				    "accepted UNSIGNED (for tests only)");
	log_info("gateway", "commands: last applied seq %lld; %s", (long long)ctl.state.cmd_seq,
		 sender_sending(snd) ? "sending"
		 : ctl.state.sending == QUEUE_SENDING_OFF
			 ? "stopped by the platform: no data is sent until its start"
			 : "waiting for the platform's start command before sending data");
	if (spool_open(g->spool_dir, &sp, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	struct intake_ctx ic = {g->mapping, q, g->id, g->spool_dir, done, rejected, receipts,
				g->max_file_bytes, g->encoding, 1000, mkey};
	intake_guard_init(&guard, g->state_dir, q, g->min_free_bytes, g->max_queue_bytes);
	ctl.guard = &guard;
	if (g->ftp.root && ftpspool_open(&g->ftp, g->state_dir, &ic, &fs, err, sizeof err) != SUIDO_OK)
		fatal("gateway", "%s", err);
	if (mkey)
		log_info("gateway", "masking with key %s (columns: see %s)", mask_key_id(mkey),
			 g->mapping_path);
	log_info("gateway", "%s of utility %s started: spool %s, queue %s (epoch %lld), broker %s:%d (%s)",
		 g->id, g->utility, g->spool_dir, dbpath, (long long)queue_epoch(q), g->mqtt_host,
		 g->mqtt_port, tlsfiles_enabled(&g->mqtt_tls) ? "TLS" : "plaintext");

	while (!stop) {
		int64_t now = timeutil_mono_ms();
		int busy = 0;

		int intake_ok = intake_guard_allows(&guard, now);
		spool_poll(sp);
		if (intake_ok && take_files(sp, &ic, NULL, 200, &guard) > 0)
			next_make = 0; /* new points: cut messages now */
		if (fs) {
			/* FTP uploads: staged once vsftpd logged them complete, then
			 * taken like spool files, each sender with its own receipts */
			ftpspool_poll(fs, now);
			for (size_t i = 0; i < ftpspool_senders(fs) && intake_ok &&
					   intake_guard_allows(&guard, now); i++) {
				struct spool *fsp = ftpspool_spool(fs, i);
				spool_poll(fsp);
				if (take_files(fsp, ftpspool_intake(fs, i), ftpspool_origin(fs, i), 100,
					       &guard) > 0)
					next_make = 0;
			}
		}
		if (ctl.cut_now) {
			next_make = 0; /* a start: held points go out at once */
			ctl.cut_now = 0;
		}
		/* Stopped (or not started yet): points stay pending, files are
		 * still taken. */
		if (sender_sending(snd) && now >= next_make) {
			size_t made = 0;
			/* up to 64 messages per pass, in one transaction */
			rc = queue_make_messages(q, g->batch_points, 64, timeutil_now_ms(), &made);
			if (rc != SUIDO_OK)
				log_error("gateway", "making messages failed: %s", suido_strerror(rc));
			busy |= made > 0;
			next_make = busy ? 0 : now + ctl.interval_ms;
		}
		if ((rc = sender_step(snd, timeutil_mono_ms())) != SUIDO_OK)
			log_error("gateway", "sending failed: %s", suido_strerror(rc));
		if (now >= next_purge) {
			/* データ退避: acked messages past retention go to archive files
			 * (archive.h), checked every half retention, 1 s to 1 min */
			int64_t wall = timeutil_now_ms(), every = g->retention_ms / 2;
			size_t n = 0;
			int more = 0;
			rc = archive_evacuate(arch, wall - g->retention_ms, wall, &n, &more, err, sizeof err);
			if (rc != SUIDO_OK) {
				if (!evac_failed)
					log_error("gateway", "evacuating acknowledged messages failed (they "
							     "stay in the queue; tried again): %s", err);
				evac_failed = 1;
			} else {
				if (evac_failed)
					log_info("gateway", "evacuation works again");
				evac_failed = 0;
				if (n)
					log_info("gateway", "evacuated %zu acknowledged messages past "
							    "retention to %s", n, archdir);
			}
			if (g->archive_ms > 0) {
				if (archive_expire(arch, wall - g->archive_ms, &n, err, sizeof err) != SUIDO_OK)
					log_error("gateway", "deleting expired archives: %s", err);
				else if (n)
					log_info("gateway", "deleted %zu archive files past [send] "
							    "archive_days", n);
			}
			every = every < 1000 ? 1000 : every > 60000 ? 60000 : every;
			next_purge = now + (rc == SUIDO_OK && more ? 100 : every);
		}
		if (link_connected(lk) &&
		    (link_generation(lk) != health_gen || now >= next_health)) {
			/* every health interval, and at once on each new connection */
			send_health(health, &ctl, seal, lk);
			health_gen = link_generation(lk);
			next_health = now + g->health_interval_ms;
		}
		if (now >= next_stats) {
			struct queue_stats st;
			struct sender_counts sc;
			sender_counts(snd, &sc);
			if (next_stats && queue_stats(q, &st) == SUIDO_OK)
				log_info("gateway", "queue: %lld pending points, %lld unacked messages, "
						    "%u in flight, %zu files waiting; since start: %llu "
						    "published, %llu resent, %llu acked (%llu duplicate), "
						    "%llu rejected acks, %llu sent again on request "
						    "(%llu from archives, %llu not held)",
					 (long long)st.pending_points, (long long)st.unacked_msgs,
					 sender_inflight(snd),
					 spool_ready_count(sp) + (fs ? ftpspool_ready_count(fs) : 0),
					 (unsigned long long)sc.published, (unsigned long long)sc.resent,
					 (unsigned long long)sc.acked, (unsigned long long)sc.duplicates,
					 (unsigned long long)sc.rejected_acks,
					 (unsigned long long)sc.requested,
					 (unsigned long long)sc.from_archive,
					 (unsigned long long)sc.not_held);
			next_stats = now + 60000;
		}
		link_loop(lk, busy || spool_ready_count(sp) || (fs && ftpspool_ready_count(fs)) ? 1
											   : 50);
		sender_flush_acks(snd); /* the acks of this pass, in one transaction */
	}
	log_info("gateway", "stopping");
	ftpspool_free(fs);
	spool_free(sp);
	/* the link first: while it says "offline" and drains, it still hands
	 * acks, commands and certificates to the sender and the control */
	link_free(lk);
	sender_flush_acks(snd);
	sender_free(snd);
	health_free(health);
	command_verifier_free(ctl.cv);
	gwseal_free(seal);
	mask_key_free(mkey);
	archive_close(arch);
	queue_close(q);
	gw_config_free(g);
	return status;
}
