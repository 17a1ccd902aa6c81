/*
 * bench_jose: the C side of the open_json benchmark.
 *
 *   bench_jose SECONDS
 *     Makes two RSA-2048 keys (a gateway's and the platform's), encodes a
 *     100-record data profile with the project's encoder, seals it once
 *     (jose_seal: JWS RS256 inside JWE RSA-OAEP/A128CBC-HS256), checks that it
 *     opens to the same bytes, then calls jose_open (decrypt + verify) on one
 *     core for SECONDS of its CPU time and prints
 *       "opens=N seconds=S wall_seconds=W per_s=R token_bytes=B payload_bytes=P"
 *     where S is the process's CPU time and R = N / S.
 * The reference, `openssl speed rsa2048` private-key operations per second,
 * is measured by bench/bench.py in the same run. openssl speed divides by
 * its CPU user time (unless -elapsed), so this divides by CPU time too: on a
 * shared machine wall time would count other jobs' turns against us only.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suido/error.h"
#include "suido/jose.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0, t0, w0, t;
	EVP_PKEY *gw = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *pf = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	struct jose_key *kgw = NULL, *kpf = NULL;
	struct profile_item item = {"bench.level", "配水池水位(m)", "m", "配水池"};
	struct profile_point pts[100] = {{0}}; /* text NULL: numbers */
	struct profile_msg msg = {"bench-gw:1795300000:1", "bench", "bench-gw", 1795300000000LL,
				  1, &item, 100, pts};
	struct strbuf sb = STRBUF_INIT;
	char *jwe = NULL, *out = NULL, *kid = NULL, err[512];
	size_t outlen = 0;
	long n = 0;

	if (!gw || !pf || jose_key_from_pkey(gw, &kgw, err, sizeof err) != SUIDO_OK ||
	    jose_key_from_pkey(pf, &kpf, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "bench_jose: keys: %s\n", err);
		return 1;
	}
	timeutil_set_zone("Asia/Tokyo");
	for (int i = 0; i < 100; i++) {
		pts[i].item = 0;
		pts[i].t_ms = 1795100400000LL + i * 60000LL;
		pts[i].v = 4.0 + i / 100.0;
	}
	if (profile_encode(&msg, &sb) != 0 ||
	    jose_seal(sb.data, sb.len, kgw, "bench-gw", kpf, 0, &jwe, err, sizeof err) != SUIDO_OK) {
		fprintf(stderr, "bench_jose: seal: %s\n", err);
		return 1;
	}
	if (jose_open(jwe, strlen(jwe), kpf, kgw, NULL, 0, &out, &outlen, &kid, err, sizeof err) !=
		    SUIDO_OK ||
	    outlen != sb.len || memcmp(out, sb.data, sb.len) != 0) {
		fprintf(stderr, "bench_jose: the sealed message does not open to itself: %s\n", err);
		return 1;
	}
	free(out);
	free(kid);
	t0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	w0 = clock_s(CLOCK_MONOTONIC);
	do {
		out = kid = NULL;
		if (jose_open(jwe, strlen(jwe), kpf, kgw, NULL, 0, &out, &outlen, &kid, err,
			      sizeof err) != SUIDO_OK) {
			fprintf(stderr, "bench_jose: open: %s\n", err);
			return 1;
		}
		free(out);
		free(kid);
		n++;
		t = clock_s(CLOCK_PROCESS_CPUTIME_ID) - t0;
	} while (t < seconds);
	printf("opens=%ld seconds=%.3f wall_seconds=%.3f per_s=%.1f token_bytes=%zu "
	       "payload_bytes=%zu\n",
	       n, t, clock_s(CLOCK_MONOTONIC) - w0, n / t, strlen(jwe), sb.len);
	free(jwe);
	strbuf_free(&sb);
	jose_key_free(kgw);
	jose_key_free(kpf);
	EVP_PKEY_free(gw);
	EVP_PKEY_free(pf);
	return 0;
}
