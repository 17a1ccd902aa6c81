/*
 * libFuzzer target for opening sealed files (fileseal.h): arbitrary bytes
 * go to fileseal_open, fileseal_verify and fileseal_decrypt with fixed
 * keys, so seeds sealed with those keys (fuzz/corpus/fuzz_fileseal/) reach
 * past the ZIP checks into the manifest, RSA-OAEP, AES-CBC and signature
 * paths. The contract is checked, not just survived: a known return code,
 * outputs empty on failure, and on success a plaintext within the cap with
 * its NUL and a name that is a plain base name.
 *
 * The two RSA keys below are test keys for this harness only; nothing else
 * trusts them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "suido/error.h"
#include "suido/fileseal.h"

#define MAX_PLAIN ((size_t)1 << 20)

/* The sender: signs the seeds. */
static const char sender_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDGtSEHCbSDRVBI\n"
	"lJXijDCscE1Ew16taDu/G594Cnf8JwFP37PxvOO7+WEeFU2VjDKcQxHOAsgXioZO\n"
	"G0tXpqCVipP9z9NgqXTpdgdeAkCktJ2yQpADG/IBXl9iZIxM0Sv+Rfn2JBsyb58E\n"
	"LVLLM9khEBTdb+ri6/YkT5j5QcoP1wH3WE+jqNM0ahq9g3BsTE8zAWkWi8EzeGKb\n"
	"5ncJuBhCgWbCBRWfMLmr+S8NwT2Q1NNHLlBwtGGo4JLN/GI4sZndB4NKTDxwaFTP\n"
	"BTr8bjfMefjH9mmgXzoTwnuhfjZ2PjJfcZ9QtD0RsU2gXFQVRKeq3xjyaOcs+hzR\n"
	"wmJl+9JJAgMBAAECggEADisiJL9TaLzLgbFekp3OZq1HRSztFk5FXFYa49NTRN5/\n"
	"IHPh/82pK2EXxK5eLtilTzEVFuxp2gvdkbougBx4fNE5xjJIby8GEBODaPeeJmBe\n"
	"kjRe0mnuspxJDtn+iwerLGFO9ncSnWEKJKEaszSKOepMopF1XSLYFTS7wqInR0O8\n"
	"SNIIkHyHRtOb3GyCypGwVm99RxMl8w+db1MLI4UAUKigCC8EL6ojAZRqBmQp/WJR\n"
	"nPg/9A6WhtybNUSHYAeQ65FB7p7LHPgelTBDFiHmV8lyxygUAipemkl3PDgGxBgX\n"
	"JIPm75nTrZVmYVG0662PaNLD9uZUYQWrxQgGSat9FQKBgQDo8ffvJbwYQQokHXcR\n"
	"bRkAU1dcFqFjN97OA1AX+uzI1xwU0evZJYN3pcUR72ia/jeqoq7T4GmHxT16sOqz\n"
	"FM/kcuqVbLAHDrsDue9tMX1SAQbPzsdGX3ry0ZVX6dnnZJpYLElWWXCIiNi461MG\n"
	"eIe+cpnXy0IlHZhpMzRn1E0nZwKBgQDaX7IlhGJOoCqDMjA99V41SIcre5d6u3kf\n"
	"MyiBplDTMNYUe2iYoy84ge9UBYTu9vWGCAu8GEnVQ0fSfdR04B5bIAl0MyQjpRoV\n"
	"yl60aB0U0MZ0KDIWQbFX0lxjcm/T6RvQTkW7w1fnn9m7ulhzgDl7eAcyfU8CFPd9\n"
	"PIEyaNOazwKBgGFb2FMkg1PjwxhLFFu9LEjdjFKZxsQQMtgJvGz5XAOpHDx7bEZq\n"
	"jmLwbshLNn4pKBzyN32oepLbVhG0ZbOJTEZf3Tmsnnmkp3csPCx4FbezZCRweQsp\n"
	"ltprzC5dN8ylWHjnsZMceJMoFuRavm2i7KElhrURZ8jZcLzvQMTwj3qbAoGASYuh\n"
	"O/FyCnj22Gi2xqc0q01Z+NMPGU66ZD+ejMuuvPHdp9hISd/rr2RTbkDNnI2f8xwS\n"
	"l662bxTRw5qNSy+QCbCofnIa4cZhGqWlb60A3lnR/JztAYHucF1wsC2CbCQ+MdGq\n"
	"uqn3mRLFCeygjYXJ1kN+aQq66UCWeZ8/A/M6ERECgYEArqbV4Zi78Wh/sJw2U2mP\n"
	"uoTvfFonpJdrmaTiwIcckzvF80uLn6FxpYzQlbwG84JMr1ErJSGrDHy2lGjhPFMr\n"
	"M+O5t7qzLT2q8CU2CgzLntn95W91XucP47p9TZLVZ0WMZu30vQeEYrqYVUlOPPyA\n"
	"74tsOVSq8IVjrGckIPRT/o0=\n"
	"-----END PRIVATE KEY-----\n";

/* The recipient: the seeds are encrypted to it. */
static const char recipient_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCpmgAz257WZHsq\n"
	"gRAW0n6ivkhx7tz2u0DXqWVV3wW9NYiSAhnMe3p4dSINjIYC030+3ItOqJgZVTVo\n"
	"fG0jPcxSiTJTDW7qgkMNiPOpa6imEUtKgyrM01CEaAU3vsuT95bmpbFpjKKEDNir\n"
	"wWQCCZ1f92dmvPS9rWbMUwE95gcFqhBzXtfzoajWaX07nyfzK6x+AB9KEMoHqwZK\n"
	"uVWe8fZ4uRYqYcfVu2qBgDkRAJjqeLCmMoiGopb9R/fqvZT8mGyf2XYSTirJQIYB\n"
	"OK3enWyja29WljTPdTw9iIJzRMdCF/1mGU5uX6u+YBqzPvEoSRqyjHqG8ZVPjdba\n"
	"sVP8fiD/AgMBAAECggEAME7QHfVBUdm/B0VJuuZr8Zj3c5RQ1epSNttmJMZokRMt\n"
	"ekEk7gyBvsvGTkunZCivNPeGqnn1EMonc0J1p6MTjrLLZcKexCckSDepB6nFmL+2\n"
	"TVv9Fehet8gVLGKpA9Vy4vFxDhpjs+8gzBNClB3++HW0uxu5Lkm0zSAba3EYsPDf\n"
	"dQVvTh0z78dTarrkyRV0QcwW7yBGGA8Fr6xImk5qAjrKrgA5SIt8ErB+1+XFb1PD\n"
	"iysfaPU9S5UveQeZrZLrn2ZJC3VIt18Qe7/ZIsMuYzlLWxmcEIdi7+wFqGbZlS43\n"
	"lEYnU5+rXfAdJl4+RtiwSVw96PtEVhFfvGmAxGZt8QKBgQDnKP9Mo7rg1v//EX0N\n"
	"8adF2WwIwTxPr/vvP7XnynRnY4+w8WiBwCiagU6pHhiYxPuXih9B+/8V2/Qc1FWj\n"
	"PrkXGFFn6gCWCSn/wtW7Lm1KeGfsRuClN6ZzWceAIAJWajbBUgymM8jYwlM7yrrv\n"
	"cWTSSNQoqvC+uSrzOM5ulGAm9wKBgQC705VsE+VFod1xPsTBupzAngS2HzAZMAx8\n"
	"cuXNi8PBu8a84rM0b/5LcD5ElbX+n3HlPn0HwfBCKGI6NIVkcYupe33mnBKNrbpX\n"
	"MYEl3FREla+WeZwJbTgvODgij6YyaqLy5LnX8Wy/5mcmKOlRMyQzwkqvnoVTQdfb\n"
	"4wnXbvUsOQKBgCGYpspHvaBx/xDeRNOi/JG9UONQ2mgmhrI2C0Ud+p8QLFEmNO8u\n"
	"s3gJNRqFQkPp1TsoGvTnICLYLfmGrs+kDRibMzGsI9uqh00hzxh+XeoF5+zCPGIm\n"
	"3W1Ebidj/5L5qu2b9DSvsBA45gn5pAOq8mFRrmwetBC0Ltbcubv+mp7vAoGBAJG9\n"
	"Z1/pQCl7o3vPnJRF3IOJGVbHdGbW5Zla/f0zyb11movNzAeQLt0SRv6ovALKbXHX\n"
	"vuRaE7cB5tYLEsYRZLEpZVOfHrZYaxJlEzTxdWGSVCCKVAzsdoANO2F13RuZqr6V\n"
	"w65PYna0rKzrab7b0+dlhtYmRoWHvZqc3HIRYqPhAoGAHX1E4QMicUyrg+McEFjX\n"
	"VMgWSADhsMowlUxP+e+fAS7d20FIahoJiN7rxg6obJAX28oFNwU2OqYIVrnqaBBi\n"
	"ogEoRyVmFlUo92GXJFxPBfQB5M3iPE6SJkJu0eh/Ye2z55+GGLpYKqdiBficAIUX\n"
	"XVWQ396XRwUby/oBJQe9evs=\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *sender, *recipient;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *load(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (!k)
		abort();
	return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sender = load(sender_pem);
	recipient = load(recipient_pem);
	return 0;
}

static void check(int rc, void *out, size_t len, char *name, const char *err)
{
	switch (rc) {
	case SUIDO_OK:
		if (!out || !name || len > MAX_PLAIN || ((char *)out)[len] != '\0' ||
		    name[0] == '\0' || strlen(name) > 255 || strpbrk(name, "/\\:") ||
		    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			abort();
		for (const char *p = name; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		break;
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_LIMIT:
	case SUIDO_ERR_DECRYPT:
	case SUIDO_ERR_SIGNATURE:
		if (out || name || len != 0 || err[0] == '\0')
			abort();
		break;
	default: /* NOMEM cannot happen under a 1 MiB cap; nothing else is promised */
		abort();
	}
	free(out);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught by ASan. */
	uint8_t *copy = malloc(size ? size : 1);
	void *out;
	size_t len;
	char *name, err[256];

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	check(fileseal_open(copy, size, recipient, sender, MAX_PLAIN, &out, &len, &name, err,
			    sizeof err), out, len, name, err);
	err[0] = '\0';
	check(fileseal_verify(copy, size, sender, MAX_PLAIN, &out, &len, &name, err, sizeof err),
	      out, len, name, err);
	err[0] = '\0';
	check(fileseal_decrypt(copy, size, recipient, MAX_PLAIN, &out, &len, &name, err,
			       sizeof err), out, len, name, err);
	free(copy);
	return 0;
}
