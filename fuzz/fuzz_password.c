/*
 * libFuzzer target for the password policy (password.h): arbitrary bytes as
 * a candidate password, and as a user's name when the input holds a line
 * feed ("name\npassword"), go to password_check under the default policy
 * and a small blocklist. Checked, not just survived: the call always gives a
 * verdict, the verdict is a known reason, and an acceptable password is
 * within the byte cap and free of control bytes. The same bytes are also a
 * blocklist file (its count never exceeds its lines) and a PHC string for
 * password_needs_rehash (0 only for a string of the current parameters).
 * No hashing: history would make each run cost an Argon2id verification.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/error.h"
#include "suido/password.h"

static struct password_blocklist *list;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] = "# seeds\npassword\nqwerty\nsuido\nパスワード\ndragon\n";

	(void)argc;
	(void)argv;
	if (password_blocklist_from_text(text, sizeof text - 1, &list, NULL, 0) != SUIDO_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies, so reading past the end is caught by ASan. */
	char *copy = malloc(size ? size : 1), *cstr = malloc(size + 1), *name = NULL;
	const char *pw;
	const char *names[1];
	size_t pwlen, lines = 1;
	struct password_policy p;
	struct password_subject s = {0};
	struct password_blocklist *b = NULL;
	enum password_reason r = (enum password_reason)-1;
	const char *nl;

	if (!copy || !cstr)
		abort();
	memcpy(copy, data, size);
	memcpy(cstr, data, size);
	cstr[size] = '\0';
	password_policy_defaults(&p);
	pw = copy;
	pwlen = size;
	nl = memchr(copy, '\n', size);
	if (nl) {
		size_t nlen = (size_t)(nl - copy);

		name = malloc(nlen + 1);
		if (!name)
			abort();
		memcpy(name, copy, nlen);
		name[nlen] = '\0';
		names[0] = name;
		s.login = name;
		s.names = names;
		s.nnames = 1;
		pw = nl + 1;
		pwlen = size - nlen - 1;
	}
	if (password_check(&p, list, &s, pw, pwlen, &r) != SUIDO_OK)
		abort();
	if ((int)r < 0 || (int)r >= PASSWORD_REASON_COUNT)
		abort();
	if (r == PASSWORD_ACCEPTABLE) {
		if (pwlen > p.max_bytes || pwlen < p.min_chars)
			abort();
		for (size_t i = 0; i < pwlen; i++)
			if ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f)
				abort();
	}
	/* Refusing a policy of zero length must also give a verdict. */
	p.min_chars = 0;
	p.min_classes = 0;
	if (password_check(&p, list, NULL, pw, pwlen, &r) != SUIDO_OK)
		abort();

	for (size_t i = 0; i < size; i++)
		lines += copy[i] == '\n';
	if (password_blocklist_from_text(copy, size, &b, NULL, 0) != SUIDO_OK ||
	    password_blocklist_count(b) > lines)
		abort();
	password_blocklist_free(b);

	switch (password_needs_rehash(cstr)) {
	case 0:
		if (strncmp(cstr, "$argon2id$v=19$m=65536,t=2,p=1$", 31) != 0)
			abort();
		break;
	case 1:
		break;
	default:
		abort();
	}
	free(name);
	free(cstr);
	free(copy);
	return 0;
}
