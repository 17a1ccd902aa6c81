/*
 * Sign-in throttling (lockout.h). One fixed table of entries, each an account
 * counter (failures, attempts in flight, a permanent-lock flag) or a source
 * leaky bucket, found by a keyed BLAKE2b digest of its key and linear probing
 * within a window of PROBE slots from its home slot. An entry is dead, and
 * its slot reusable, only when forgetting it changes no answer; a key that
 * finds neither its entry nor a dead slot shares the overflow entry of its
 * kind. The hazard this shape avoids is eviction: an LRU table lets an
 * attacker who fills it reset a victim's counter and guess again.
 */
#include "suido/lockout.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "suido/error.h"

#define DIGEST 16  /* bytes of a key digest: collisions need 2^64 keys */
#define PROBE 32   /* slots searched from a key's home slot */

enum kind { KIND_FREE = 0, KIND_ACCOUNT = 'a', KIND_SOURCE = 's' };

struct entry {
	unsigned char key[DIGEST];
	unsigned char kind;
	unsigned char locked;   /* account: permanent lock (account_lock_after) */
	uint32_t fails;         /* account: failures counted */
	uint32_t pending;       /* account: attempts allowed and not concluded */
	uint64_t last_fail;     /* account: time of the last failure */
	uint64_t last_attempt;  /* account: time of the last allowed attempt */
	uint64_t level;         /* source: bucket level, window_ms per failure */
	uint64_t level_at;      /* source: time level was computed */
};

struct lockout {
	pthread_mutex_t mu;
	struct lockout_policy p;
	unsigned char hkey[crypto_generichash_KEYBYTES];
	struct entry *tab;
	size_t used;
	uint64_t overflowed;
	struct entry ov_account, ov_source; /* shared by keys that found no slot */
};

void lockout_policy_defaults(struct lockout_policy *p)
{
	memset(p, 0, sizeof *p);
	p->account_free = 5;
	p->account_delay_ms = 1000;
	p->account_delay_max_ms = 15 * 60 * 1000;
	p->account_forget_ms = 24 * 3600 * 1000ULL;
	p->account_lock_after = 0;
	p->source_budget = 50;
	p->source_window_ms = 15 * 60 * 1000;
	p->capacity = 65536;
}

int lockout_create(const struct lockout_policy *p, struct lockout **out)
{
	struct lockout *l = NULL;

	*out = NULL;
	/* The forget time must outlast the longest delay, or forgetting would
	 * end a delay early. The bucket's capacity (budget * window) must fit. */
	if (p->account_delay_ms == 0 || p->account_delay_max_ms < p->account_delay_ms ||
	    p->account_forget_ms < p->account_delay_max_ms || p->source_budget == 0 ||
	    p->source_window_ms == 0 || p->source_window_ms > UINT32_MAX ||
	    p->capacity < LOCKOUT_CAPACITY_MIN || p->capacity > LOCKOUT_CAPACITY_MAX)
		return SUIDO_ERR_INVALID;
	if (sodium_init() < 0)
		return SUIDO_ERR_CONFIG;
	l = calloc(1, sizeof *l);
	if (!l)
		return SUIDO_ERR_NOMEM;
	l->tab = calloc(p->capacity, sizeof *l->tab);
	if (!l->tab || pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l->tab);
		free(l);
		return SUIDO_ERR_NOMEM;
	}
	l->p = *p;
	randombytes_buf(l->hkey, sizeof l->hkey);
	l->ov_account.kind = KIND_ACCOUNT;
	l->ov_source.kind = KIND_SOURCE;
	*out = l;
	return SUIDO_OK;
}

void lockout_free(struct lockout *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	sodium_memzero(l->hkey, sizeof l->hkey);
	free(l->tab);
	free(l);
}

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0; /* a clock going back stands still */
}

/* Brings an account entry to now: attempts in flight for too long become
 * failures (a crashed or careless caller must not leave free guesses), and a
 * counter idle for account_forget_ms is forgotten. */
static void account_refresh(const struct lockout_policy *p, struct entry *e, uint64_t now)
{
	if (e->pending && since(now, e->last_attempt) >= LOCKOUT_PENDING_MS) {
		e->fails += e->pending;
		e->pending = 0;
		if (e->last_attempt > e->last_fail)
			e->last_fail = e->last_attempt;
		if (p->account_lock_after && e->fails >= p->account_lock_after)
			e->locked = 1;
	}
	if (!e->locked && !e->pending && e->fails && since(now, e->last_fail) >= p->account_forget_ms)
		e->fails = 0;
}

static void source_refresh(const struct lockout_policy *p, struct entry *e, uint64_t now)
{
	uint64_t el = since(now, e->level_at);

	if (el >= p->source_window_ms)
		e->level = 0;
	else if (e->level > el * p->source_budget)
		e->level -= el * p->source_budget;
	else
		e->level = 0;
	if (now > e->level_at)
		e->level_at = now;
}

static int dead(const struct lockout_policy *p, struct entry *e, uint64_t now)
{
	if (e->kind == KIND_FREE)
		return 1;
	if (e->kind == KIND_ACCOUNT) {
		account_refresh(p, e, now);
		return !e->locked && !e->pending && !e->fails;
	}
	source_refresh(p, e, now);
	return e->level == 0;
}

/* The account's wait before another attempt may start (0: none). */
static uint64_t account_wait(const struct lockout_policy *p, const struct entry *e, uint64_t now)
{
	uint64_t n = (uint64_t)e->fails + e->pending, delay, from;

	if (e->locked)
		return LOCKOUT_FOREVER;
	if (n < p->account_free)
		return 0;
	delay = p->account_delay_ms;
	for (uint64_t i = p->account_free; i < n && delay < p->account_delay_max_ms; i++)
		delay *= 2;
	if (delay > p->account_delay_max_ms)
		delay = p->account_delay_max_ms;
	from = e->last_fail;
	if (e->pending && e->last_attempt > from)
		from = e->last_attempt;
	return since(now, from) >= delay ? 0 : delay - since(now, from);
}

static uint64_t source_wait(const struct lockout_policy *p, const struct entry *e)
{
	uint64_t cap = (uint64_t)p->source_budget * p->source_window_ms;
	uint64_t need = e->level + p->source_window_ms;

	if (need <= cap)
		return 0;
	return (need - cap + p->source_budget - 1) / p->source_budget;
}

/* The digest of a key: its kind, then its bytes. */
static void digest(const struct lockout *l, unsigned char kind, const void *k, size_t n,
		   unsigned char out[DIGEST])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, l->hkey, sizeof l->hkey, DIGEST);
	crypto_generichash_update(&st, &kind, 1);
	crypto_generichash_update(&st, k, n);
	crypto_generichash_final(&st, out, DIGEST);
}

static int account_digest(const struct lockout *l, const char *account, unsigned char out[DIGEST])
{
	size_t n;

	if (!account)
		return SUIDO_ERR_INVALID;
	n = strnlen(account, LOCKOUT_ACCOUNT_MAX + 1);
	if (n == 0 || n > LOCKOUT_ACCOUNT_MAX)
		return SUIDO_ERR_INVALID;
	digest(l, KIND_ACCOUNT, account, n, out);
	return SUIDO_OK;
}

/* IPv4 as its 4 bytes; IPv6 as its first 8 (the /64); IPv4-mapped IPv6 as
 * IPv4, so one client is one source whichever socket family saw it. */
static int source_digest(const struct lockout *l, const char *source, unsigned char out[DIGEST])
{
	char buf[LOCKOUT_SOURCE_MAX + 1], *pct;
	unsigned char a[16];
	size_t n;

	if (!source)
		return SUIDO_ERR_INVALID;
	n = strnlen(source, LOCKOUT_SOURCE_MAX + 1);
	if (n == 0 || n > LOCKOUT_SOURCE_MAX)
		return SUIDO_ERR_INVALID;
	memcpy(buf, source, n + 1);
	if (inet_pton(AF_INET, buf, a) == 1) {
		digest(l, '4', a, 4, out);
		return SUIDO_OK;
	}
	pct = strchr(buf, '%');
	if (pct)
		*pct = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1)
		return SUIDO_ERR_INVALID;
	if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
		digest(l, '4', a + 12, 4, out);
	else
		digest(l, '6', a, 8, out);
	return SUIDO_OK;
}

/* The entry of key (created when absent), or the overflow entry of kind. */
static struct entry *find(struct lockout *l, unsigned char kind, const unsigned char key[DIGEST],
			  uint64_t now)
{
	size_t cap = l->p.capacity, home, reuse = SIZE_MAX;
	uint64_t h;

	memcpy(&h, key, sizeof h);
	home = (size_t)(h % cap);
	for (size_t i = 0; i < PROBE; i++) {
		struct entry *e = &l->tab[(home + i) % cap];

		if (e->kind == kind && sodium_memcmp(e->key, key, DIGEST) == 0)
			return e;
		if (reuse == SIZE_MAX && dead(&l->p, e, now))
			reuse = (home + i) % cap;
	}
	if (reuse == SIZE_MAX) {
		l->overflowed++;
		return kind == KIND_ACCOUNT ? &l->ov_account : &l->ov_source;
	}
	if (l->tab[reuse].kind == KIND_FREE)
		l->used++;
	memset(&l->tab[reuse], 0, sizeof l->tab[reuse]);
	memcpy(l->tab[reuse].key, key, DIGEST);
	l->tab[reuse].kind = kind;
	l->tab[reuse].level_at = now;
	return &l->tab[reuse];
}

static int digests(struct lockout *l, const char *account, const char *source,
		   unsigned char ak[DIGEST], unsigned char sk[DIGEST])
{
	if (account_digest(l, account, ak) != SUIDO_OK || source_digest(l, source, sk) != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	return SUIDO_OK;
}

int lockout_check(struct lockout *l, const char *account, const char *source, uint64_t now_ms,
		  uint64_t *retry_after_ms)
{
	unsigned char ak[DIGEST], sk[DIGEST];
	struct entry *a, *s;
	uint64_t wa, ws;

	if (retry_after_ms)
		*retry_after_ms = 0;
	if (digests(l, account, source, ak, sk) != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	pthread_mutex_lock(&l->mu);
	a = find(l, KIND_ACCOUNT, ak, now_ms);
	s = find(l, KIND_SOURCE, sk, now_ms);
	account_refresh(&l->p, a, now_ms);
	source_refresh(&l->p, s, now_ms);
	wa = account_wait(&l->p, a, now_ms);
	ws = source_wait(&l->p, s);
	if (wa == 0 && ws == 0) {
		a->pending++;
		if (now_ms > a->last_attempt)
			a->last_attempt = now_ms;
		s->level += l->p.source_window_ms;
	}
	pthread_mutex_unlock(&l->mu);
	if (wa == 0 && ws == 0)
		return SUIDO_OK;
	if (retry_after_ms)
		*retry_after_ms = wa > ws ? wa : ws;
	return SUIDO_ERR_PERM;
}

int lockout_failure(struct lockout *l, const char *account, const char *source, uint64_t now_ms)
{
	unsigned char ak[DIGEST], sk[DIGEST];
	struct entry *a;

	if (digests(l, account, source, ak, sk) != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	pthread_mutex_lock(&l->mu);
	a = find(l, KIND_ACCOUNT, ak, now_ms);
	account_refresh(&l->p, a, now_ms);
	if (a->pending)
		a->pending--;
	if (a->fails < UINT32_MAX)
		a->fails++;
	if (now_ms > a->last_fail)
		a->last_fail = now_ms;
	if (l->p.account_lock_after && a->fails >= l->p.account_lock_after)
		a->locked = 1;
	pthread_mutex_unlock(&l->mu);
	return SUIDO_OK;
}

int lockout_success(struct lockout *l, const char *account, const char *source, uint64_t now_ms)
{
	unsigned char ak[DIGEST], sk[DIGEST];
	struct entry *a, *s;

	if (digests(l, account, source, ak, sk) != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	pthread_mutex_lock(&l->mu);
	a = find(l, KIND_ACCOUNT, ak, now_ms);
	s = find(l, KIND_SOURCE, sk, now_ms);
	/* The shared overflow entry is never reset by one key's success: that
	 * would hand the attacker filling the table fresh free attempts. */
	if (a == &l->ov_account) {
		if (a->pending)
			a->pending--;
	} else if (!a->locked) {
		a->fails = 0;
		a->pending = 0;
	}
	source_refresh(&l->p, s, now_ms);
	s->level = s->level > l->p.source_window_ms ? s->level - l->p.source_window_ms : 0;
	pthread_mutex_unlock(&l->mu);
	return SUIDO_OK;
}

int lockout_unlock(struct lockout *l, const char *account)
{
	unsigned char ak[DIGEST];
	size_t home;
	uint64_t h;
	int rc = SUIDO_ERR_NOTFOUND;

	if (account_digest(l, account, ak) != SUIDO_OK)
		return SUIDO_ERR_INVALID;
	memcpy(&h, ak, sizeof h);
	home = (size_t)(h % l->p.capacity);
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < PROBE; i++) {
		struct entry *e = &l->tab[(home + i) % l->p.capacity];

		if (e->kind == KIND_ACCOUNT && sodium_memcmp(e->key, ak, DIGEST) == 0) {
			memset(e, 0, sizeof *e);
			l->used--;
			rc = SUIDO_OK;
			break;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void lockout_stats(struct lockout *l, size_t *used, uint64_t *overflowed)
{
	pthread_mutex_lock(&l->mu);
	if (used)
		*used = l->used;
	if (overflowed)
		*overflowed = l->overflowed;
	pthread_mutex_unlock(&l->mu);
}
