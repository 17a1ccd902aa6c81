/*
 * libFuzzer target for the CA's on-disk index (index.txt, ca.h): a CA is made
 * once; each input replaces its index, and ca_open, a revocation and a CRL
 * must either work or fail with an error code, never crash or leak. An
 * operator's hand edit or a torn write must not take the CA down with it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suido/ca.h"
#include "suido/error.h"

static char dir[64];

static void write_index(const uint8_t *data, size_t size)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/index.txt", dir);
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ca *ca = NULL;
	char err[256], *crl = NULL;

	if (!dir[0]) {
		char fp[CERT_FP_HEX_SIZE];
		snprintf(dir, sizeof dir, "/tmp/suido-fuzz-ca-%ld", (long)getpid());
		if (ca_init(dir, "fuzz root", 30, fp, err, sizeof err) != SUIDO_OK)
			abort();
	}
	if (size > 65536)
		return 0;
	write_index(data, size);
	if (ca_open(dir, &ca, err, sizeof err) != SUIDO_OK)
		return 0;
	ca_revoke(ca, "0123456789abcdef0123456789abcdef", CA_REASON_UNSPECIFIED, err, sizeof err);
	if (ca_crl(ca, 1, &crl, err, sizeof err) == SUIDO_OK && !strstr(crl, "BEGIN X509 CRL"))
		__builtin_trap();
	free(crl);
	ca_close(ca);
	return 0;
}
