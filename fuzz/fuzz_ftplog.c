/*
 * libFuzzer target for the vsftpd log reader (src/gateway/ftplog.h): each
 * input is parsed line by line, and also written as a log file and followed
 * from start to end. Checked, not just survived: an upload entry always has
 * a valid user, an absolute path within the caps and a name that matches
 * itself; the follower never returns more entries than there are lines and
 * always reaches the end. The gateway module is compiled in here (the fuzz
 * build links only the library).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/gateway/ftplog.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void check(const struct ftplog_entry *e)
{
	size_t ul = strlen(e->user), pl = strlen(e->path);

	if (ul == 0 || ul > FTPLOG_USER_MAX || pl < 2 || pl > FTPLOG_PATH_MAX || e->path[0] != '/')
		abort();
	if (strchr(e->user, '/') || strchr(e->user, ' '))
		abort();
	if (e->status != FTPLOG_COMPLETE && e->status != FTPLOG_FAILED)
		abort();
	if (!ftplog_name_matches(e, e->path + 1, e->path + 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftplog_entry e;
	struct ftplog *f = NULL;
	char logp[128], posp[128], err[256];
	size_t lines = 0, got = 0, start = 0;
	FILE *out;

	if (!dir[0]) {
		strcpy(dir, "/tmp/fuzz-ftplog-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	/* each line on its own, from an exact-size copy (ASan sees overreads) */
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		size_t n = i - start;
		char *copy = malloc(n ? n : 1);
		if (!copy)
			return 0;
		memcpy(copy, data + start, n);
		if (ftplog_parse(copy, n, &e) == 1)
			check(&e);
		free(copy);
		if (i < size)
			lines++;
		start = i + 1;
	}
	/* followed as a file */
	snprintf(logp, sizeof logp, "%s/log", dir);
	snprintf(posp, sizeof posp, "%s/pos", dir);
	unlink(posp);
	out = fopen(logp, "wb");
	if (!out || (size && fwrite(data, 1, size, out) != size) || fclose(out) != 0)
		abort();
	if (ftplog_open(logp, posp, &f, err, sizeof err) != SUIDO_OK)
		abort();
	while (ftplog_peek(f, &e) == 1) {
		check(&e);
		ftplog_consume(f);
		if (++got > lines)
			abort();
	}
	ftplog_free(f);
	return 0;
}
