/*
 * Logging for the suido programs: one line per event on stderr (or a file),
 * "2026-11-20T01:02:03.456Z LEVEL module: message". The library logs only
 * through this module so the programs decide the destination and level.
 * Never pass secrets (tokens, keys, passwords, masked clear values) to it.
 */
#ifndef SUIDO_LOG_H
#define SUIDO_LOG_H

#include <stdio.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the minimum level written (default INFO). Thread-safe to call at start only. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error"; returns 0 and sets *out, or -1. */
int log_level_parse(const char *name, enum log_level *out);

/* Redirects output to f (borrowed; default stderr). Call at start only. */
void log_set_stream(FILE *f);

/* Writes one line; thread-safe (one fprintf per line under a lock). */
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, (mod), __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, (mod), __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, (mod), __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_LVL_ERROR, (mod), __VA_ARGS__)

/* Logs "module: message" at ERROR and exits the process with status 70. */
void fatal(const char *module, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
