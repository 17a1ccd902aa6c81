/*
 * libFuzzer target for masked values (mask.h): arbitrary text goes to
 * mask_unmask under a fixed key (bytes 0..63, the known-answer key of
 * tests/lib/test_mask.c, so the seeds open). Checked, not just survived:
 * mask_unmask calls malformed exactly what mask_is_token refuses; a
 * deterministic token that opens is the one mask_value writes for its value
 * (one encoding per value); and the input itself, masked in both modes,
 * opens to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/mask.h"

static struct mask_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char raw[MASK_KEY_BYTES];

	(void)argc;
	(void)argv;
	for (int i = 0; i < MASK_KEY_BYTES; i++)
		raw[i] = (unsigned char)i;
	if (mask_key_from_bytes(raw, sizeof raw, &key, NULL, 0) != SUIDO_OK)
		abort();
	return 0;
}

static void round_trip(const char *v, size_t n, enum mask_mode mode)
{
	char *tok = NULL, *clear = NULL;
	size_t len = 0;

	if (mask_value(key, mode, v, n, &tok, NULL, 0) != SUIDO_OK ||
	    !mask_is_token(tok, strlen(tok)) ||
	    mask_unmask(key, tok, strlen(tok), &clear, &len, NULL, 0) != SUIDO_OK || len != n ||
	    memcmp(clear, v, n) != 0)
		abort();
	free(tok);
	free(clear);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught by ASan. */
	char *copy = malloc(size ? size : 1), *clear = NULL, *again = NULL;
	size_t len = 7;
	int rc, shape;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	shape = mask_is_token(copy, size);
	rc = mask_unmask(key, copy, size, &clear, &len, NULL, 0);
	if ((rc == SUIDO_ERR_INVALID) == shape)
		abort();
	if (rc != SUIDO_OK && (clear || len != 0))
		abort();
	switch (rc) {
	case SUIDO_OK:
		if (len == 0 || len > MASK_MAX_CLEAR || clear[len] != '\0')
			abort();
		if (copy[4] == 's') {
			if (mask_value(key, MASK_DETERMINISTIC, clear, len, &again, NULL, 0) !=
				    SUIDO_OK ||
			    strlen(again) != size || memcmp(again, copy, size) != 0)
				abort();
			free(again);
		}
		free(clear);
		break;
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_NOTFOUND:
	case SUIDO_ERR_DECRYPT:
		break;
	default:
		abort();
	}
	if (size > 0 && size <= MASK_MAX_CLEAR) {
		round_trip(copy, size, MASK_DETERMINISTIC);
		round_trip(copy, size, MASK_RANDOMIZED);
	}
	free(copy);
	return 0;
}
