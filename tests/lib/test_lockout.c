/* Tests for sign-in throttling (lockout.h): free attempts, the growing delay
 * and its cap, reset on success, the per-source budget apart from accounts,
 * IPv6 /64 grouping, attempts in flight, a full table that unlocks nobody, and
 * no permanent lock by default. The clock is a parameter: no test sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "suido/error.h"
#include "suido/lockout.h"

#define T0 1000000000000ULL /* any epoch */
#define MIN 60000ULL

static struct lockout *make(unsigned budget, size_t capacity)
{
	struct lockout_policy p;
	struct lockout *l = NULL;

	lockout_policy_defaults(&p);
	if (budget)
		p.source_budget = budget;
	if (capacity)
		p.capacity = capacity;
	assert_int_equal(lockout_create(&p, &l), SUIDO_OK);
	return l;
}

/* One attempt that fails; asserts it was allowed. */
static void fail_once(struct lockout *l, const char *acct, const char *src, uint64_t now)
{
	uint64_t ra = 99;

	assert_int_equal(lockout_check(l, acct, src, now, &ra), SUIDO_OK);
	assert_int_equal(ra, 0);
	assert_int_equal(lockout_failure(l, acct, src, now), SUIDO_OK);
}

static uint64_t refused(struct lockout *l, const char *acct, const char *src, uint64_t now)
{
	uint64_t ra = 0;

	assert_int_equal(lockout_check(l, acct, src, now, &ra), SUIDO_ERR_PERM);
	assert_true(ra > 0);
	return ra;
}

static void test_policy_validation(void **state)
{
	struct lockout_policy p;
	struct lockout *l = (struct lockout *)1;

	(void)state;
	lockout_policy_defaults(&p);
	assert_int_equal(p.account_free, 5);
	assert_int_equal(p.account_delay_ms, 1000);
	assert_int_equal(p.account_delay_max_ms, 15 * MIN);
	assert_int_equal(p.account_lock_after, 0);
	assert_int_equal(p.source_budget, 50);
	p.source_budget = 0;
	assert_int_equal(lockout_create(&p, &l), SUIDO_ERR_INVALID);
	assert_null(l);
	lockout_policy_defaults(&p);
	p.account_forget_ms = p.account_delay_max_ms - 1; /* would end a delay early */
	assert_int_equal(lockout_create(&p, &l), SUIDO_ERR_INVALID);
	lockout_policy_defaults(&p);
	p.capacity = 1;
	assert_int_equal(lockout_create(&p, &l), SUIDO_ERR_INVALID);
}

static void test_bad_input(void **state)
{
	struct lockout *l = make(0, 0);
	char longname[LOCKOUT_ACCOUNT_MAX + 2];
	uint64_t ra = 7;

	(void)state;
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(lockout_check(l, "", "192.0.2.1", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(ra, 0);
	assert_int_equal(lockout_check(l, longname, "192.0.2.1", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_check(l, "u", "not-an-address", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_check(l, "u", "192.0.2.256", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_check(l, "u", "", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_check(l, NULL, "192.0.2.1", T0, &ra), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_failure(l, "u", "x", T0), SUIDO_ERR_INVALID);
	assert_int_equal(lockout_check(l, "u", "fe80::1%eth0", T0, &ra), SUIDO_OK);
	lockout_free(l);
}

static void test_free_attempts_then_growing_delay(void **state)
{
	struct lockout *l = make(1000, 0); /* a source budget that stays out of the way */
	uint64_t now = T0, want = 1000;

	(void)state;
	for (int i = 0; i < 5; i++)
		fail_once(l, "alice", "192.0.2.1", now);
	/* 5 free failures; the 6th attempt waits 1 s, then 2 s, 4 s ... */
	for (int k = 0; k < 8; k++) {
		assert_int_equal(refused(l, "alice", "192.0.2.1", now), want);
		assert_int_equal(refused(l, "alice", "192.0.2.1", now + want - 1), 1);
		now += want;
		fail_once(l, "alice", "192.0.2.1", now);
		want *= 2;
	}
	/* A refused check charges nothing: asking again does not prolong it. */
	assert_int_equal(refused(l, "alice", "192.0.2.1", now), want);
	assert_int_equal(refused(l, "alice", "192.0.2.1", now), want);
	/* Another account from the same source is not delayed. */
	fail_once(l, "bob", "192.0.2.1", now);
	lockout_free(l);
}

static void test_delay_capped_no_permanent_lock(void **state)
{
	struct lockout *l = make(100000, 0);
	uint64_t now = T0, ra = 0;

	(void)state;
	for (int i = 0; i < 60; i++) {
		if (lockout_check(l, "carol", "192.0.2.2", now, &ra) == SUIDO_ERR_PERM) {
			assert_true(ra <= 15 * MIN);
			now += ra;
			assert_int_equal(lockout_check(l, "carol", "192.0.2.2", now, &ra), SUIDO_OK);
		}
		assert_int_equal(lockout_failure(l, "carol", "192.0.2.2", now), SUIDO_OK);
	}
	/* After 60 failures the wait is the cap, never forever. */
	assert_int_equal(refused(l, "carol", "192.0.2.2", now), 15 * MIN);
	assert_int_equal(lockout_check(l, "carol", "192.0.2.2", now + 15 * MIN, &ra), SUIDO_OK);
	lockout_free(l);
}

static void test_success_resets_account_not_source(void **state)
{
	struct lockout *l = make(10, 0);
	uint64_t now = T0, ra;

	(void)state;
	for (int i = 0; i < 5; i++)
		fail_once(l, "dave", "198.51.100.7", now);
	assert_int_equal(refused(l, "dave", "198.51.100.7", now), 1000);
	now += 1000;
	assert_int_equal(lockout_check(l, "dave", "198.51.100.7", now, &ra), SUIDO_OK);
	assert_int_equal(lockout_success(l, "dave", "198.51.100.7", now), SUIDO_OK);
	/* The account starts again with its 5 free failures ... */
	for (int i = 0; i < 4; i++)
		fail_once(l, "dave", "198.51.100.7", now);
	/* ... but the source keeps its 5 + 4 failures: one left of 10. */
	fail_once(l, "erin", "198.51.100.7", now);
	assert_true(refused(l, "frank", "198.51.100.7", now) > 0);
	lockout_free(l);
}

static void test_source_budget(void **state)
{
	struct lockout *l = make(0, 0); /* 50 per 15 min */
	char acct[32];
	uint64_t now = T0, ra;

	(void)state;
	for (int i = 0; i < 50; i++) {
		snprintf(acct, sizeof acct, "user%d", i); /* a spray: one guess per account */
		fail_once(l, acct, "203.0.113.9", now);
	}
	/* The source has spent its budget on accounts that are all still free. */
	ra = refused(l, "user999", "203.0.113.9", now);
	assert_int_equal(ra, 15 * MIN / 50); /* the bucket refills one every 18 s */
	/* Other sources and the accounts themselves are untouched. */
	fail_once(l, "user0", "203.0.113.10", now);
	/* The same /64 is the same source; another /64 is not. */
	for (int i = 0; i < 50; i++) {
		snprintf(acct, sizeof acct, "v6-%d", i);
		fail_once(l, acct, "2001:db8:1:2::1", now);
	}
	assert_int_equal(lockout_check(l, "w", "2001:db8:1:2:ffff:ffff:ffff:ffff", now, &ra),
			 SUIDO_ERR_PERM);
	assert_int_equal(lockout_check(l, "w", "2001:db8:1:3::1", now, &ra), SUIDO_OK);
	/* IPv4-mapped IPv6 is the IPv4 source. */
	assert_int_equal(lockout_check(l, "w", "::ffff:203.0.113.9", now, &ra), SUIDO_ERR_PERM);
	/* After 18 s one more attempt; after the window the whole budget. */
	assert_int_equal(lockout_check(l, "user999", "203.0.113.9", now + 18000, &ra), SUIDO_OK);
	now += 15 * MIN + 18000;
	for (int i = 0; i < 50; i++) {
		snprintf(acct, sizeof acct, "late%d", i);
		fail_once(l, acct, "203.0.113.9", now);
	}
	lockout_free(l);
}

static void test_in_flight_attempts_are_charged(void **state)
{
	struct lockout *l = make(1000, 0);
	uint64_t ra;

	(void)state;
	/* Concurrent checks before any failure is recorded: only 5 pass. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(lockout_check(l, "gina", "192.0.2.3", T0, &ra), SUIDO_OK);
	assert_int_equal(refused(l, "gina", "192.0.2.3", T0), 1000);
	/* Attempts never concluded become failures after LOCKOUT_PENDING_MS. */
	assert_int_equal(refused(l, "gina", "192.0.2.3", T0 + 999), 1);
	assert_int_equal(lockout_check(l, "gina", "192.0.2.3", T0 + LOCKOUT_PENDING_MS, &ra),
			 SUIDO_OK);
	assert_int_equal(refused(l, "gina", "192.0.2.3", T0 + LOCKOUT_PENDING_MS), 2000);
	lockout_free(l);
}

static void test_forget_after_quiet_period(void **state)
{
	struct lockout *l = make(1000, 0);
	uint64_t ra;

	(void)state;
	for (int i = 0; i < 8; i++) {
		uint64_t now = T0 + (uint64_t)i * 20 * MIN;

		fail_once(l, "hana", "192.0.2.4", now);
	}
	assert_true(refused(l, "hana", "192.0.2.4", T0 + 7 * 20 * MIN) > 0);
	/* 24 h without a failure: five free attempts again. */
	for (int i = 0; i < 5; i++)
		fail_once(l, "hana", "192.0.2.4", T0 + 7 * 20 * MIN + 24 * 60 * MIN);
	assert_int_equal(lockout_check(l, "hana", "192.0.2.4", T0 + 7 * 20 * MIN + 24 * 60 * MIN,
				       &ra),
			 SUIDO_ERR_PERM);
	lockout_free(l);
}

static void test_table_full_does_not_unlock(void **state)
{
	struct lockout *l = make(1000000, LOCKOUT_CAPACITY_MIN);
	char acct[32];
	size_t used = 0;
	uint64_t over = 0, now = T0;

	(void)state;
	for (int i = 0; i < 5; i++)
		fail_once(l, "victim", "192.0.2.5", now);
	now += 1000;
	fail_once(l, "victim", "192.0.2.5", now);
	assert_int_equal(refused(l, "victim", "192.0.2.5", now), 2000);
	/* The attacker fills the table many times over with fresh accounts. */
	for (int i = 0; i < 20 * LOCKOUT_CAPACITY_MIN; i++) {
		uint64_t ra;

		snprintf(acct, sizeof acct, "filler%d", i);
		if (lockout_check(l, acct, "192.0.2.6", now, &ra) == SUIDO_OK)
			assert_int_equal(lockout_failure(l, acct, "192.0.2.6", now), SUIDO_OK);
	}
	lockout_stats(l, &used, &over);
	assert_true(used <= LOCKOUT_CAPACITY_MIN);
	assert_true(over > 0);
	/* The victim is still delayed exactly as before. */
	assert_int_equal(refused(l, "victim", "192.0.2.5", now), 2000);
	/* Keys that found no slot share an overflow counter: they are
	 * throttled together, not freed. */
	assert_true(refused(l, "newcomer", "192.0.2.7", now) > 0);
	/* Later the sources' buckets have drained and their slots are free
	 * again (the newcomer may then get one); the victim still waits. */
	assert_int_equal(refused(l, "victim", "192.0.2.5", now + 1999), 1);
	lockout_free(l);
}

static void test_permanent_lock_when_configured(void **state)
{
	struct lockout_policy p;
	struct lockout *l = NULL;
	uint64_t now = T0, ra;

	(void)state;
	lockout_policy_defaults(&p);
	p.account_lock_after = 8;
	p.source_budget = 1000;
	assert_int_equal(lockout_create(&p, &l), SUIDO_OK);
	for (int i = 0; i < 8; i++) {
		if (lockout_check(l, "ivan", "192.0.2.8", now, &ra) == SUIDO_ERR_PERM) {
			now += ra;
			assert_int_equal(lockout_check(l, "ivan", "192.0.2.8", now, &ra), SUIDO_OK);
		}
		assert_int_equal(lockout_failure(l, "ivan", "192.0.2.8", now), SUIDO_OK);
	}
	assert_int_equal(lockout_check(l, "ivan", "192.0.2.8", now + 48 * 60 * MIN, &ra),
			 SUIDO_ERR_PERM);
	assert_true(ra == LOCKOUT_FOREVER);
	assert_int_equal(lockout_unlock(l, "ivan"), SUIDO_OK);
	assert_int_equal(lockout_unlock(l, "ivan"), SUIDO_ERR_NOTFOUND);
	assert_int_equal(lockout_check(l, "ivan", "192.0.2.8", now, &ra), SUIDO_OK);
	lockout_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_validation),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_free_attempts_then_growing_delay),
		cmocka_unit_test(test_delay_capped_no_permanent_lock),
		cmocka_unit_test(test_success_resets_account_not_source),
		cmocka_unit_test(test_source_budget),
		cmocka_unit_test(test_in_flight_attempts_are_charged),
		cmocka_unit_test(test_forget_after_quiet_period),
		cmocka_unit_test(test_table_full_does_not_unlock),
		cmocka_unit_test(test_permanent_lock_when_configured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
