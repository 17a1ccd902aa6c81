/*
 * The rows of the ingest benchmark, generated the same way by the MQTT
 * publisher (bench_ingest.c) and by the plain SQLite reference
 * (bench_sqlref.c), so both store exactly the same (item_key, t, v) rows in
 * the same order.
 *
 * Message m (0-based) carries `per_msg` points of `n_items` items, laid out
 * like a wide CSV file: row after row, each row one instant with one value
 * per item. Instants are one minute apart and never repeat across messages,
 * so every point is a new row. Item i of the message is stored under
 * item_key i + 1 (the keys the platform hands out to the first items put
 * into a fresh database, in message order).
 */
#ifndef SUIDO_BENCH_GEN_H
#define SUIDO_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 2026-11-19T15:00:00Z (2026-11-20 00:00 in Japan). */
#define BENCH_BASE_MS INT64_C(1795100400000)
#define BENCH_STEP_MS INT64_C(60000)

struct bench_row {
	uint32_t item; /* 0-based index of the item */
	int64_t t_ms;
	double v;
};

/* Row j (0 <= j < per_msg) of message m. */
static inline struct bench_row bench_row_at(size_t m, size_t j, size_t per_msg, size_t n_items)
{
	size_t rows = per_msg / n_items; /* instants per message */
	size_t instant = m * rows + j / n_items;
	uint32_t item = (uint32_t)(j % n_items);
	struct bench_row r;

	r.item = item;
	r.t_ms = BENCH_BASE_MS + (int64_t)instant * BENCH_STEP_MS;
	/* Values such as 4.523: three decimals, like real telemetry. */
	r.v = (double)((instant * 37 + item * 101) % 10000) / 1000.0;
	return r;
}

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
