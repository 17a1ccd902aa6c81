/*
 * bench_sqlref: the reference of the ingest benchmarks. A plain batched
 * SQLite insert, with the sqlite3 API, of exactly the rows bench_ingest sends
 * (bench_gen.h), into a table of the platform's points shape:
 *
 *   points(item_key INTEGER, t INTEGER, v REAL, PRIMARY KEY(item_key, t))
 *   WITHOUT ROWID
 *
 * with the platform's durability settings (journal_mode=WAL,
 * synchronous=FULL) and one transaction per BATCH_POINTS rows (the batch the
 * platform was measured to commit). Timed from the first BEGIN to the last
 * COMMIT; nothing else (no JSON, no broker, no messages or items tables).
 * Also reports the time spent in COMMIT (the WAL fsyncs) and the CPU time.
 *
 * usage: bench_sqlref DB N_MSGS POINTS_PER_MSG N_ITEMS BATCH_POINTS
 * DB must not exist. Prints key=value lines on stdout.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_gen.h"

static void die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_sqlref: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
	exit(70);
}

static void exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(db, sql);
}

static size_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0) {
		fprintf(stderr, "bench_sqlref: %s: expected a positive integer, got \"%s\"\n", what, s);
		exit(64);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	size_t n_msgs, per_msg, n_items, batch, in_tx = 0, commits = 0;
	double t0, secs, commit_secs = 0;
	struct rusage ru;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_sqlref DB N_MSGS POINTS_PER_MSG N_ITEMS BATCH_POINTS\n");
		return 64;
	}
	n_msgs = parse_size(argv[2], "N_MSGS");
	per_msg = parse_size(argv[3], "POINTS_PER_MSG");
	n_items = parse_size(argv[4], "N_ITEMS");
	batch = parse_size(argv[5], "BATCH_POINTS");
	if (per_msg % n_items != 0) {
		fprintf(stderr, "bench_sqlref: POINTS_PER_MSG must be a multiple of N_ITEMS\n");
		return 64;
	}
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		die(db, argv[1]);
	exec(db, "PRAGMA journal_mode=WAL");
	exec(db, "PRAGMA synchronous=FULL");
	exec(db, "CREATE TABLE points(item_key INTEGER NOT NULL, t INTEGER NOT NULL, v REAL,"
		 " PRIMARY KEY(item_key, t)) WITHOUT ROWID");
	if (sqlite3_prepare_v2(db, "INSERT INTO points(item_key, t, v) VALUES(?1, ?2, ?3)", -1,
			       &ins, NULL) != SQLITE_OK)
		die(db, "prepare");

	t0 = bench_now();
	for (size_t m = 0; m < n_msgs; m++) {
		for (size_t j = 0; j < per_msg; j++) {
			struct bench_row r = bench_row_at(m, j, per_msg, n_items);
			if (in_tx == 0)
				exec(db, "BEGIN IMMEDIATE");
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)r.item + 1);
			sqlite3_bind_int64(ins, 2, r.t_ms);
			sqlite3_bind_double(ins, 3, r.v);
			if (sqlite3_step(ins) != SQLITE_DONE)
				die(db, "insert");
			sqlite3_reset(ins);
			if (++in_tx == batch) {
				double c0 = bench_now();
				exec(db, "COMMIT");
				commit_secs += bench_now() - c0;
				commits++;
				in_tx = 0;
			}
		}
	}
	if (in_tx) {
		double c0 = bench_now();
		exec(db, "COMMIT");
		commit_secs += bench_now() - c0;
		commits++;
	}
	secs = bench_now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("points=%zu\nbatch_points=%zu\ncommits=%zu\nseconds=%.6f\npoints_per_s=%.1f\n"
	       "commit_seconds=%.6f\ncpu_seconds=%.6f\n",
	       n_msgs * per_msg, batch, commits, secs, (double)(n_msgs * per_msg) / secs, commit_secs,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
}
