/*
 * Throttling of sign-in attempts (issue 5; seed 004 4.1 認証試行回数の制限,
 * NIST SP 800-63B 5.2.2, ASVS L2 2.2.1): a temporary lockout with a growing
 * delay, counted per account and per source address, asked BEFORE any
 * password hashing so that a flood of guesses costs a table look-up each, not
 * an Argon2id hash each. No permanent lockout unless the policy asks for one.
 *
 * An attempt is: lockout_check() (allowed or refused with a delay); if
 * allowed, the password (and TOTP) work; then lockout_failure() or
 * lockout_success(). lockout_check() charges the attempt up front (to the
 * source's budget, and to the account as "in flight"), so concurrent
 * attempts cannot all pass before the first failure is recorded; an attempt
 * that is never concluded counts as a failure after LOCKOUT_PENDING_MS.
 *
 * Accounts are keyed by the login ID as typed (the caller folds case if
 * logins are case-insensitive), whether or not it exists, so the answers do
 * not tell which IDs exist. Sources are IPv4 addresses, or IPv6 addresses
 * grouped by their /64 (one customer's prefix); IPv4-mapped IPv6 is IPv4.
 * Keys are stored only as keyed BLAKE2b digests (a random key per table), so
 * an attacker can neither read login IDs out of memory nor aim keys at one
 * slot of the table.
 *
 * Memory is a fixed table of policy.capacity entries. An entry is reused
 * only when forgetting it changes no answer (its counter has expired); when
 * every candidate slot holds live state, the new key shares one overflow
 * entry (one for accounts, one for sources) that throttles all such keys
 * together. Filling the table therefore never unlocks anyone: at worst the
 * keys that found no slot are throttled more strictly than they would be
 * alone (a denial of service bounded by the delays, documented in
 * docs/passwords.md).
 *
 * Thread-safe (one mutex); the clock is the now_ms parameter of every call
 * (milliseconds, any epoch, monotonic preferred; a clock that goes back is
 * read as standing still). In memory only: a restart forgets the counters.
 */
#ifndef SUIDO_LOCKOUT_H
#define SUIDO_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#define LOCKOUT_ACCOUNT_MAX 256       /* bytes of an account key */
#define LOCKOUT_SOURCE_MAX 64         /* bytes of a source address text */
#define LOCKOUT_PENDING_MS 60000U     /* an attempt not concluded by then is a failure */
#define LOCKOUT_FOREVER UINT64_MAX    /* retry_after_ms of a permanent lock */
#define LOCKOUT_CAPACITY_MIN 64
#define LOCKOUT_CAPACITY_MAX (1U << 24)

/* The policy, parsed once from configuration and then only read. */
struct lockout_policy {
	unsigned account_free;       /* failures without delay; default 5 */
	uint64_t account_delay_ms;   /* delay after the first counted failure; default 1000,
				      * doubling with each further failure */
	uint64_t account_delay_max_ms; /* cap of the delay; default 15 min */
	uint64_t account_forget_ms;  /* a counter with no failure for this long is
				      * forgotten; default 24 h */
	unsigned account_lock_after; /* failures after which the account stays locked until
				      * lockout_unlock(); default 0 = never */
	unsigned source_budget;      /* failures a source may spend per window; default 50 */
	uint64_t source_window_ms;   /* the window; default 15 min. The budget refills
				      * continuously (a leaky bucket): once spent, one
				      * attempt per window/budget (18 s) */
	size_t capacity;             /* entries of the table (accounts and sources
				      * together); default 65536 (about 3 MiB) */
};

/* Fills *p with the defaults above. */
void lockout_policy_defaults(struct lockout_policy *p);

/* The table. Opaque; lockout_create / lockout_free. */
struct lockout;

/*
 * Makes a table for policy p (copied). *out is the caller's, freed with
 * lockout_free(). Returns SUIDO_OK; SUIDO_ERR_INVALID for a policy out of
 * range (delays 0, a cap below the first delay, budget 0, window 0, capacity
 * outside LOCKOUT_CAPACITY_MIN..MAX); SUIDO_ERR_NOMEM; SUIDO_ERR_CONFIG when
 * libsodium cannot be initialised.
 */
int lockout_create(const struct lockout_policy *p, struct lockout **out);

/* Frees l; NULL is a no-op. */
void lockout_free(struct lockout *l);

/*
 * May account try to sign in from source now? account is a NUL-terminated
 * login ID as typed (1..LOCKOUT_ACCOUNT_MAX bytes); source an IPv4 or IPv6
 * address in text (an IPv6 zone "%eth0" is ignored). Returns
 *   SUIDO_OK           allowed: the attempt is charged (see above); the
 *                      caller now verifies and then calls lockout_failure()
 *                      or lockout_success();
 *   SUIDO_ERR_PERM     refused, nothing charged and nothing to hash:
 *                      *retry_after_ms is how long until an attempt would be
 *                      allowed (the longer of the account's and the
 *                      source's wait; LOCKOUT_FOREVER for a permanent lock);
 *   SUIDO_ERR_INVALID  account empty or too long, or source not an address.
 * *retry_after_ms is 0 unless refused (it may be NULL).
 */
int lockout_check(struct lockout *l, const char *account, const char *source, uint64_t now_ms,
		  uint64_t *retry_after_ms);

/*
 * The attempt allowed by lockout_check() failed (wrong password, wrong
 * TOTP, unknown login ID alike): the account's failure counter grows and
 * its delay starts now. Returns SUIDO_OK or SUIDO_ERR_INVALID as
 * lockout_check.
 */
int lockout_failure(struct lockout *l, const char *account, const char *source,
		    uint64_t now_ms);

/*
 * The attempt allowed by lockout_check() succeeded: the account's counter is
 * reset, and the source gets back what the attempt was charged (its earlier
 * failures stay counted, so a success with one account does not buy an
 * address more guesses at others). Returns SUIDO_OK or SUIDO_ERR_INVALID as
 * lockout_check.
 */
int lockout_success(struct lockout *l, const char *account, const char *source,
		    uint64_t now_ms);

/*
 * Forgets the account's counter, a permanent lock included (the operator's
 * unlock). Returns SUIDO_OK, SUIDO_ERR_NOTFOUND when there was none,
 * SUIDO_ERR_INVALID for a bad account.
 */
int lockout_unlock(struct lockout *l, const char *account);

/* Numbers for monitoring: entries in use and how many keys had to share an
 * overflow entry since creation. Either pointer may be NULL. */
void lockout_stats(struct lockout *l, size_t *used, uint64_t *overflowed);

#endif
