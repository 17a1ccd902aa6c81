/*
 * What the benchmark programs share: dying with a message (exit 70), the
 * clocks, the median of a few rounds, and libcurl resolved at run time
 * (dlopen: the programs link only the project's modules, and a bench that
 * needs no HTTP client runs without libcurl installed). Header-only, like
 * bench_gen.h: each bench is its own executable.
 */
#ifndef SUIDO_BENCH_UTIL_H
#define SUIDO_BENCH_UTIL_H

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

/* Prints "<program>: message" on stderr and exits 70. */
static inline void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(70);
}

static inline double bench_clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double bench_mono_s(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

static inline double bench_cpu_s(void)
{
	return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1 (v is left as it was). */
static inline double bench_median(const double *v, int n)
{
	double *s = malloc((size_t)n * sizeof *s), m;

	if (!s)
		bench_die("out of memory");
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/* libcurl's functions the benches call. */
struct bench_curl {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

/* Loads libcurl into c, or dies saying why. */
static inline void bench_curl_load(struct bench_curl *c)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		h = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		bench_die("cannot load libcurl: %s", dlerror());
#define BENCH_SYM(field, name)                                                             \
	do {                                                                               \
		c->field = (__typeof__(c->field))dlsym(h, name);                           \
		if (!c->field)                                                             \
			bench_die("libcurl has no %s", name);                              \
	} while (0)
	BENCH_SYM(global_init, "curl_global_init");
	BENCH_SYM(easy_init, "curl_easy_init");
	BENCH_SYM(easy_setopt, "curl_easy_setopt");
	BENCH_SYM(easy_perform, "curl_easy_perform");
	BENCH_SYM(easy_getinfo, "curl_easy_getinfo");
	BENCH_SYM(easy_cleanup, "curl_easy_cleanup");
	BENCH_SYM(easy_strerror, "curl_easy_strerror");
	BENCH_SYM(slist_append, "curl_slist_append");
	BENCH_SYM(slist_free_all, "curl_slist_free_all");
#undef BENCH_SYM
}

#endif
