/*
 * Passwords of the portal's users (issue 5; seed 004 4.1, seed 002 FAQ 7-11):
 * hashing with Argon2id, constant-time verification, parameter upgrades, and
 * the policy a new password must meet. Nothing here logs, and nothing keeps a
 * password: every copy the module makes is wiped with sodium_memzero.
 *
 * Hashes are PHC strings made by libsodium's crypto_pwhash_str_alg with
 * Argon2id v1.3, opslimit PASSWORD_OPSLIMIT (2 passes) and memlimit
 * PASSWORD_MEMLIMIT (64 MiB), parallelism 1, a 16-byte random salt:
 *   $argon2id$v=19$m=65536,t=2,p=1$<salt b64>$<hash b64>
 * One hash or verification takes about 65 ms of one core here
 * (docs/passwords.md). Raising the constants later makes
 * password_needs_rehash() true for every stored hash, which the sign-in then
 * replaces with a fresh one while it holds the clear password.
 *
 * The policy (docs/passwords.md says where each rule comes from), checked in
 * this order, the first failing rule reported:
 *   length in bytes (cap), UTF-8 validity, control characters, minimum length
 *   in code points, character classes, the common-password blocklist, the
 *   login ID, the user's names, the last N passwords.
 * Every refusal has its own enum password_reason with an English and a
 * Japanese message (the portal is Japanese first).
 */
#ifndef SUIDO_PASSWORD_H
#define SUIDO_PASSWORD_H

#include <stddef.h>

#define PASSWORD_OPSLIMIT 2U           /* crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE */
#define PASSWORD_MEMLIMIT 67108864U    /* crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE */
#define PASSWORD_HASH_MAX 128          /* crypto_pwhash_STRBYTES: a PHC string and its NUL */
#define PASSWORD_MAX_BYTES_CAP 1024    /* the largest max_bytes a policy may set */
#define PASSWORD_BLOCKLIST_FILE_MAX (4 * 1024 * 1024) /* bytes of a blocklist file */

/* Why a password is refused; 0 = acceptable. Stable numbers: they are
 * stored in audit records and sent to the sign-in page. */
enum password_reason {
	PASSWORD_ACCEPTABLE = 0,
	PASSWORD_TOO_LONG,       /* more than max_bytes bytes */
	PASSWORD_BAD_UTF8,       /* not well-formed UTF-8 (overlong, surrogate, truncated) */
	PASSWORD_CONTROL_CHAR,   /* a C0 or C1 control character or DEL (tab, newline, NUL) */
	PASSWORD_TOO_SHORT,      /* fewer than min_chars code points */
	PASSWORD_FEW_CLASSES,    /* fewer than min_classes character classes */
	PASSWORD_COMMON,         /* on the blocklist, or a blocklisted word plus digits/symbols */
	PASSWORD_HAS_LOGIN,      /* equals or contains the login ID */
	PASSWORD_HAS_NAME,       /* contains one of the user's names or words of them */
	PASSWORD_REUSED,         /* equals one of the last N passwords */
};
#define PASSWORD_REASON_COUNT 10

/* Static English / Japanese text of a reason; never NULL ("unknown reason"
 * for a number out of range). The messages name no limit's value: the
 * caller adds "(12 characters or more)" from its policy where it wants. */
const char *password_reason_en(int reason);
const char *password_reason_ja(int reason);

/* The policy, parsed once from configuration and then only read. */
struct password_policy {
	size_t min_chars;   /* minimum in Unicode code points; default 12 */
	size_t max_bytes;   /* maximum in bytes of UTF-8; default 256 (64 four-byte
			     * code points, NIST's "at least 64 characters");
			     * at most PASSWORD_MAX_BYTES_CAP */
	unsigned min_classes; /* of the 5 classes below; default 3 (seed 004's
			       * 規定の複雑さ, the Windows rule); 0 turns it off */
	unsigned history;   /* how many previous hashes are compared; default 5 */
};
/* Character classes: ASCII upper case, ASCII lower case, ASCII digits, other
 * printable ASCII (symbols and space), any non-ASCII code point (kana, kanji,
 * full-width forms, accented letters). */

/* Fills *p with the defaults above. */
void password_policy_defaults(struct password_policy *p);

/* The common-password list: one password per line, '#' lines and blank
 * lines ignored, CR before LF tolerated; compared after ASCII case folding.
 * Opaque; create with _load or _from_text, free with _free. */
struct password_blocklist;

/*
 * Builds a blocklist from text[0..len) (copied). *out is the caller's, freed
 * with password_blocklist_free(). Returns SUIDO_OK, SUIDO_ERR_NOMEM, or
 * SUIDO_ERR_LIMIT when len exceeds PASSWORD_BLOCKLIST_FILE_MAX; an English
 * detail goes to err[errlen] (err may be NULL).
 */
int password_blocklist_from_text(const char *text, size_t len, struct password_blocklist **out,
				 char *err, size_t errlen);

/*
 * Reads the file at path (a regular file of at most
 * PASSWORD_BLOCKLIST_FILE_MAX bytes; the repository ships
 * etc/password-blocklist.txt) and builds a blocklist from it. Returns as
 * password_blocklist_from_text, or SUIDO_ERR_NOTFOUND (no such file),
 * SUIDO_ERR_INVALID (not a regular file, or a path too long), SUIDO_ERR_IO
 * (unreadable).
 */
int password_blocklist_load(const char *path, struct password_blocklist **out, char *err,
			    size_t errlen);

/* Number of distinct entries. */
size_t password_blocklist_count(const struct password_blocklist *b);

/* Frees b; NULL is a no-op. */
void password_blocklist_free(struct password_blocklist *b);

/* Whom the password belongs to and what it replaces; every member may be
 * NULL / 0. Borrowed for the call only. */
struct password_subject {
	const char *login;          /* the login ID (refused equal, or contained
				     * when it has 3 or more code points) */
	const char *const *names;   /* names: kanji, kana, romaji, the mail's
				     * local part. Each as a whole, without its
				     * delimiters, and each word of it split at
				     * spaces (also U+3000) and . _ - @ , must
				     * not occur in the password when of 3 or
				     * more code points (compared folded) */
	size_t nnames;
	const char *const *history; /* PHC strings of the previous passwords,
				     * newest first, the current one included;
				     * only the first policy->history are used */
	size_t nhistory;
};

/*
 * Checks the candidate pw[0..len) (no NUL needed; need not be
 * NUL-terminated) against policy p, blocklist b (NULL: no blocklist) and
 * subject s (NULL: no login, names or history). On SUIDO_OK the verdict is in
 * *reason: PASSWORD_ACCEPTABLE or the first rule that refused it.
 * Returns SUIDO_OK; SUIDO_ERR_INVALID (and *reason untouched) when
 * p->max_bytes exceeds PASSWORD_MAX_BYTES_CAP or a history entry used is not
 * an Argon2id PHC string (a damaged store: no verdict is safer than skipping
 * it; NULL entries are skipped); SUIDO_ERR_CONFIG when libsodium cannot be
 * initialised.
 * With history the call costs one Argon2id verification per entry used.
 */
int password_check(const struct password_policy *p, const struct password_blocklist *b,
		   const struct password_subject *s, const char *pw, size_t len,
		   enum password_reason *reason);

/*
 * Hashes pw[0..len) into out (a PHC string with its NUL, at most
 * PASSWORD_HASH_MAX bytes). The policy is not applied: call password_check
 * first. Returns SUIDO_OK; SUIDO_ERR_LIMIT when len exceeds
 * PASSWORD_MAX_BYTES_CAP; SUIDO_ERR_NOMEM when Argon2id could not get its
 * memory; SUIDO_ERR_CONFIG when libsodium cannot be initialised. out is
 * an empty string on failure.
 */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]);

/*
 * Verifies pw[0..len) against the PHC string phc in time independent of
 * where they differ (crypto_pwhash_str_verify). Returns SUIDO_OK when it
 * matches; SUIDO_ERR_PERM when it does not (or Argon2id could not get its
 * memory: libsodium does not tell the two apart, and refusing is the safe
 * reading); SUIDO_ERR_INVALID when phc is not an Argon2id PHC string (that
 * fails fast: a damaged store, not a guess); SUIDO_ERR_LIMIT when len
 * exceeds PASSWORD_MAX_BYTES_CAP; SUIDO_ERR_CONFIG as password_hash.
 */
int password_verify(const char *phc, const char *pw, size_t len);

/*
 * Spends the time of one verification without a stored hash, so that a
 * sign-in for a login ID that does not exist takes as long as one that
 * does (no account enumeration by timing). Always returns SUIDO_ERR_PERM
 * (SUIDO_ERR_CONFIG when libsodium cannot be initialised).
 */
int password_verify_dummy(const char *pw, size_t len);

/*
 * Returns 1 when phc was made with other parameters or another algorithm
 * than the current ones (or is not a PHC string at all) and should be
 * replaced by password_hash() of the password that just verified; 0 when it
 * is current.
 */
int password_needs_rehash(const char *phc);

#endif
