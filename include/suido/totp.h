/*
 * Time-based one-time passwords for the portal's second factor (issue 5;
 * seed 000 二要素認証サービス, seed 002 FAQ 9 ワンタイムパスワード利用):
 * RFC 6238 with HMAC-SHA-1, a 30-second step and 6 digits, as every
 * authenticator app reads them from an otpauth:// URI. The RFC arithmetic and
 * base32 are liboath's; what is accepted is decided here: ±1 step of clock
 * skew, each step used at most once (the caller keeps the last accepted step
 * per user and passes it in), all candidate codes computed and compared in
 * constant time. The current time is always a parameter, so tests move the
 * clock instead of sleeping.
 *
 * Recovery codes stand in for a lost authenticator: TOTP_RECOVERY_COUNT
 * codes of TOTP_RECOVERY_CHARS base32 characters (50 bits each), shown once,
 * stored only as Argon2id hashes made by password.h (NIST SP 800-63B 5.1.2.2:
 * look-up secrets under 112 bits are hashed with a key derivation function),
 * each usable once: the caller deletes the hash that matched.
 *
 * The secret is the caller's to keep (encrypted at rest) and to wipe; nothing
 * here logs or keeps a secret or a code.
 */
#ifndef SUIDO_TOTP_H
#define SUIDO_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "suido/password.h"

#define TOTP_ISSUER "suido"
#define TOTP_SECRET_BYTES 20   /* RFC 4226's recommended 160 bits */
#define TOTP_SECRET_MAX 64     /* the longest secret accepted from base32 */
#define TOTP_BASE32_MAX 128    /* bytes of base32 text accepted, spaces included */
#define TOTP_DIGITS 6
#define TOTP_PERIOD 30         /* seconds of one step */
#define TOTP_SKEW 1            /* steps accepted either side of the current one */
#define TOTP_LOGIN_MAX 256     /* bytes of the login ID in an enrolment URI */
#define TOTP_RECOVERY_COUNT 10
#define TOTP_RECOVERY_CHARS 10
#define TOTP_RECOVERY_TEXT 12  /* "ABCDE-FGH23" and its NUL */

/* The time step of now (seconds since the epoch, >= 0): now / TOTP_PERIOD. */
int64_t totp_step(int64_t now);

/*
 * Fills secret with TOTP_SECRET_BYTES from libsodium's CSPRNG. Returns
 * SUIDO_OK or SUIDO_ERR_CONFIG when libsodium cannot be initialised.
 */
int totp_secret_generate(unsigned char secret[TOTP_SECRET_BYTES]);

/*
 * Writes the RFC 4648 base32 of secret[0..len) (upper case, padded with '='
 * only when len is not a multiple of 5; 20 bytes are 32 characters) and a
 * NUL into out[outlen]. Returns SUIDO_OK, SUIDO_ERR_INVALID for len 0 or
 * above TOTP_SECRET_MAX, SUIDO_ERR_LIMIT when out is too small,
 * SUIDO_ERR_NOMEM.
 */
int totp_secret_to_base32(const unsigned char *secret, size_t len, char *out, size_t outlen);

/*
 * Decodes base32 text[0..len) (what a user may type back: spaces ignored,
 * either case, padding all or none) into out[0..TOTP_SECRET_MAX) and sets
 * *outlen. Returns
 * SUIDO_OK; SUIDO_ERR_INVALID for a character outside the alphabet, a
 * length no encoder writes, or nothing decoded; SUIDO_ERR_LIMIT when len
 * exceeds TOTP_BASE32_MAX or the secret TOTP_SECRET_MAX; SUIDO_ERR_NOMEM.
 * On failure *outlen is 0 and out is wiped.
 */
int totp_secret_from_base32(const char *text, size_t len, unsigned char out[TOTP_SECRET_MAX],
			    size_t *outlen);

/*
 * Makes the enrolment URI (Google Authenticator's Key Uri Format):
 *   otpauth://totp/suido:<login>?secret=<base32>&issuer=suido
 *     &algorithm=SHA1&digits=6&period=30
 * with the login percent-encoded (all but RFC 3986 unreserved characters).
 * *out is the caller's, freed with free() after wiping (it holds the
 * secret). Returns SUIDO_OK; SUIDO_ERR_INVALID for an empty login, a login
 * over TOTP_LOGIN_MAX bytes or with control characters, or a secret as
 * totp_secret_to_base32 refuses it; SUIDO_ERR_NOMEM.
 */
int totp_uri(const char *login, const unsigned char *secret, size_t len, char **out);

/*
 * The code of secret[0..len) at time now (seconds since the epoch) into out
 * (6 digits and a NUL). Returns SUIDO_OK, SUIDO_ERR_INVALID for now < 0 or
 * len 0 or above TOTP_SECRET_MAX, SUIDO_ERR_CONFIG when liboath fails.
 */
int totp_generate(const unsigned char *secret, size_t len, int64_t now,
		  char out[TOTP_DIGITS + 1]);

/*
 * Checks code (a NUL-terminated string of exactly 6 ASCII digits) against
 * the steps totp_step(now) - 1, + 0, + 1. last_step is the step of this
 * user's last accepted code (-1 when none); a code of that step or an
 * earlier one is a replay. Returns
 *   SUIDO_OK            a match at a step after last_step: *step is set to
 *                       it (the latest such step), which the caller stores as
 *                       the new last_step before it answers the sign-in;
 *   SUIDO_ERR_EXISTS    the code matches only steps <= last_step: replayed;
 *   SUIDO_ERR_PERM      no match within the window (wrong, or too old/new);
 *   SUIDO_ERR_INVALID   code not 6 digits, now < 0, len 0 or above
 *                       TOTP_SECRET_MAX;
 *   SUIDO_ERR_CONFIG    liboath failed.
 * *step is left alone unless SUIDO_OK.
 */
int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
		int64_t last_step, int64_t *step);

/*
 * Makes TOTP_RECOVERY_COUNT fresh codes for display, "ABCDE-FGH23" (base32
 * letters and digits, a hyphen after the fifth), into codes, and their
 * Argon2id PHC strings (password_hash of the 10 characters without the
 * hyphen) into hashes, to be stored. The codes are shown once and then wiped
 * by the caller. Costs TOTP_RECOVERY_COUNT hashes (about 0.7 s here).
 * Returns SUIDO_OK or as password_hash (both arrays are wiped then).
 */
int totp_recovery_generate(char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT],
			   char hashes[TOTP_RECOVERY_COUNT][PASSWORD_HASH_MAX]);

/*
 * Checks a recovery code as typed, code[0..len): hyphens and spaces are
 * ignored, lower case is taken as upper case, and 0, 1, 8 (not base32) as O,
 * I, B. It is compared with each non-NULL hashes[i] (a used code's slot is
 * NULL or removed; a damaged entry never matches), one Argon2id
 * verification each until a match. Returns SUIDO_OK with *index = i of the
 * match, which the caller deletes before it answers (single use);
 * SUIDO_ERR_PERM when none matches; SUIDO_ERR_INVALID when the code is not
 * 10 base32 characters (no hash is tried).
 */
int totp_recovery_verify(const char *const *hashes, size_t n, const char *code, size_t len,
			 size_t *index);

#endif
