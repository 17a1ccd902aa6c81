/*
 * libFuzzer target for the XML data profile's receiving side (xmlseal.h):
 * arbitrary bytes go to xmlseal_open (decrypt then verify) and to
 * xmlseal_verify, with two fixed RSA keys loaded once at start. The keys are
 * throw-away test keys embedded here (never used anywhere else) so that the
 * seed corpus in fuzz/corpus/fuzz_xmlseal/, made with them, holds messages
 * that really decrypt and verify and the fuzzer starts deep in the code.
 * Checked, not just survived: whatever xmlseal_open accepts must verify again
 * on its own output, and an accepted document must still hold the signed
 * element.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "suido/error.h"
#include "suido/xmlseal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Test keys for this fuzzer only. */
static const char SENDER_KEY[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDdgsWHXl+jrOt2\n"
	"asSs5cWVUKAXprlYQFfsYFho0Fpo9vQeH/axZodECSSuCEbKzsNXLi2ERBQeTrAq\n"
	"D+H4O7fbwiw18pvf28OTFXRnTNfTlGPdDIouuzcdcbgQt6nQRUY874iswg1+SNOo\n"
	"VKf2pOwc4Z73vg+lpUsSNmbpRP0qW2FOJbEMDPl2ETPFzJeL6RgYA0wlkCrxRKit\n"
	"05NAv6qQs4Alh1s9jsIOnCNx4Qu7JCzMADn7UMz5hR+GtXtXw4Y8APrruuBKVFjc\n"
	"96t4SsO3umViiwTQDYa2iHEW6t/mnSYVlziJy/bETQl80gLBCsyAde+wfjaUnDQo\n"
	"QSwttrI9AgMBAAECggEAC4/HI5j8wPGbm04DVKBBlIOQIkE6LK20aSALkpzyuxvO\n"
	"A2yDrHVqMKuRgIvqC1feFkTQwgs+SZQDLzmDqo3jZihXtREkAFEw1L0qmuGwj4M6\n"
	"myULvq4C4xnhE5j312kQ5h6n3EHcq8S9V2yOam89QQdTDCHyyyCPhInWYUKP5uVO\n"
	"j0US+TDk5umr09ulemil8unbUl23hzf7v5BtLSVGnFDpjGDghl0UuYNCXk0s7P5F\n"
	"Iz+t1oror2QLR7YmCpm22Ew2LS0BA7jos7cxiS3wXQisVkbfPRgcGOaA66qltkbp\n"
	"YYamM7tOPEoD6OaoUnxnHKT3N7nHbVR8eS5jJbZ/eQKBgQD7thlDnZ/J+mmyNpKc\n"
	"fi0tfTo+Y1hF0xzfHqkm5ciS3cHf1uIbiryiKPulZ9YXCb0OFU7pRrs7hHiLEfE0\n"
	"e777sEA3BDFwG2qf5b27sHmcDPa2uFwfqxillSk1cshucPKmriqt78lxOb8cdirc\n"
	"vPtyeRD1TOnernsuuseSy/V4OwKBgQDhSPIqZ8z5A7gQoyxPUYdnBSvfsOCwtdDz\n"
	"jY5aYEUX4RScd/mMyjM7/fnPMqPJEvQbdOw1DFb16z2TBwuXlHCZwyeb1iK+nDvd\n"
	"Pa7KrqkTSbH3r8fNjC8D4UPBZBrBnjtpd+LoUlnJYDn9xXNRb9L2Kja83opg2Lbd\n"
	"MGRFNIdP5wKBgH+vjz9SjUUrR0TFFDhYdVh3Bv2w7Y12G1Y/unTl6Yo+/eMroUVx\n"
	"amEkQwtUEjFbmlCzlHUXkVEO0QtTDbWe9HG+pcSC1wVUkxELvOSiD/6OQPTNrsXN\n"
	"yFHuyZm4YV5M43qULUhQtDJApeatNu8E2tTl/ylAW/6/KfO5ghXAawQTAoGBAJhf\n"
	"JBt2VXZfA5GNK50CQZh2MPR8x5v9fTQdnBiYYGMEQ1KI+uo0oG6FGv7++zQ2c5BW\n"
	"hqRikjaGQwE8lKSTK410J0gJjzpopTzASYagl46KG6qw42ys0efH5nHY6Rfnk7uD\n"
	"8J69hCjlwpNXhuWfwonoh1k7E1DpgtUbs9Xy70olAoGBALGUu4gAVxw26nwe2hN7\n"
	"0eyRIDbDH11nXTLAeyARnm8NvNRKA10dLT01ZpupEEW9d+qNz+UV9WcbXIdnQOPD\n"
	"U5SPy7AxqsVZSSg4hLN9z8Hns4ALAiq5NWMm4E/CiQCJR6OlYr85HmB32+c3KqxC\n"
	"UoqzitI1UHNNtIMrTBLNfnm3\n"
	"-----END PRIVATE KEY-----\n";

static const char RECIPIENT_KEY[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCFt7eCIdy4lE8r\n"
	"yAQJCgnMfaZOwtTjTojY4cVOnmRUZrzlqFyOnQj6OwNVICsVL13Vq5ZGMgGNWGPH\n"
	"LjL+pq3b1+wmGJ1BpYSuiv2HM2MY9S0Nf3BQ+ky/3TWh1ATtTOkUUu2rH+6wFFN/\n"
	"7x9iGIY8rz4NL0SKIseOcpPbi+MvolSDT7xQDzxlE0szNNaH+FqlFOYCmKznUONp\n"
	"3h30ETnZBA9PhfcAAxA9X+mcrpc4Y0YdwuA6DLhzSg+BZWh04adzl2lwLBX0hCcH\n"
	"GUgwdhXrMr5ej4izO0W2Z0vtF6wQ6g7VTEoiQ2NKFOx5NetQeCebZWNTY+BPNXZm\n"
	"UwkgSiSVAgMBAAECggEAFjwkE0sxhQPXB7myahUK52pmstFqTa3rytyn+YMUaIXO\n"
	"QrC0oLDzeDXt6kQiGzC4KA/oj3LrQnyrLXNniWQKpEmK/BQQZNpyw1oF/xWyvx4D\n"
	"HYEjxQ4J9cbWjzqj4xhskt5DT7b3SBI+hux/9HONhskWcWIlwdk3WQmBFVB1OPXw\n"
	"u8ErOouOJ19SnS3Q6HiukhFGOtIKpW4EvgKIRRko06PHftLuosUpdiNf3Ffb1EVU\n"
	"K4U872B66NNnqTwWkWQPudnAnsiTwK8pku+XyZrj+nUqq7Mo9RdIZ6yDvzwCashe\n"
	"vhs84lC3YqcgtTqa7phVAGD+GX0GlLEN8oPqEuk4FQKBgQC74bDbXCPmw2NiZ3rd\n"
	"tKDjnBQQZMBvnDUli3wH/uC6y1OX/zZiE1q++6ftdqiSVshLoy7zs+jNf379ZJN1\n"
	"dgW5jI8clMlni3f548e7ykF3SOOuT/by9r9/xScGZcMEO/qpebvN40b++NKEiSd4\n"
	"wJ4TyiwvLaPJxRE94hqGtfOakwKBgQC2MsaER1WBpemGozOlmNmnEKY+wOEjtUn3\n"
	"7DqNHTlgtRzuDkRRkPnPnfUD6kSwkW0M7EoaiWlX6c1Ug+PYqo7B+9OdKTka1QHx\n"
	"l9bSJeLdOuWZfezVKCNpMSo0Epu5kJKd181l/qEUnFdSBxQO4j7FPOpXEVNea/S4\n"
	"2f+ZiO61NwKBgD9tkRRtRd2JBwtYnf0tFsfgkFF8gg7r8HFNZsEYRewp6n289jIk\n"
	"EJW7RdUAIybMT3Bhld9GVIjTyx5mjvWvs30Ru9rNTDU9u3JMeMioHnPT0rGtY1Rh\n"
	"AwNynpslTbInQZdndoSqfvRjMkb2OrIkbPmHXmVLBil+8zQuGgByetwrAoGBAK/I\n"
	"4Vsyb778UgjCYMv+YtAa8ipNcWpAOLNoST1o2rkBRH4xaZzAoSS8o245kjhAttPn\n"
	"Db/4n5hgTOijryqVs9JYotxYr23B4XQ0KODsCKulbWvf4KXvaerNsog3A+PPJoX/\n"
	"dX5YYxU9mcncZm/NvP4TPYzvfF33Dk9ilIaPZK+VAoGAGbWIAbE+doTrq5fQ/yPc\n"
	"51DBmbN/Ug0Q9yq67BxDX5Q2mluoHqUyftoMBYzvvo3+hHFvY5sLt9N68GvWRRcX\n"
	"5ssepMIK5Rt118my+dFcxE2yAlm2+cEOqriiFIN7juOpvZcr7wFa10PwRKjEPl/f\n"
	"D1IaFpAlN+RZRyqzuYk9y/c=\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *g_sender, *g_recipient;

static EVP_PKEY *load(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_sender = load(SENDER_KEY);
	g_recipient = load(RECIPIENT_KEY);
	if (!g_sender || !g_recipient)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught by ASan. */
	char *copy = malloc(size ? size : 1), *out = NULL, err[256];
	size_t outlen = 0;
	int rc;

	if (!copy)
		return 0;
	memcpy(copy, data, size);

	rc = xmlseal_open(copy, size, g_recipient, g_sender, "//Body", NULL, &out, &outlen, err,
			  sizeof err);
	if (rc == SUIDO_OK) {
		if (!out || strlen(out) != outlen ||
		    xmlseal_verify(out, outlen, g_sender, "//Body", NULL, err, sizeof err) != SUIDO_OK)
			__builtin_trap();
	} else if (out) {
		__builtin_trap();
	}
	free(out);

	(void)xmlseal_verify(copy, size, g_sender, "/*", NULL, err, sizeof err);
	free(copy);
	return 0;
}
