/*
 * Gap detection in each gateway's message sequence (gaps.h).
 */
#include "gaps.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"

struct seqwin {
	int known;          /* a message of this gateway arrived since the start */
	int64_t epoch;
	uint64_t base;      /* every seq <= base arrived */
	uint64_t top;       /* the highest seq that arrived */
	uint8_t bits[GAPS_WINDOW / 8]; /* seq base+1+i arrived: bit i */
	int64_t gap_since;  /* 0: no gap; else when it was seen (or last asked for) */
	uint64_t skipped_from, skipped_to; /* a range the window jumped over, to ask for */
};

struct gaps {
	const struct plat_config *cfg;
	int64_t grace_ms;
	struct seqwin *w; /* parallel to cfg->gateways */
};

struct gaps *gaps_new(const struct plat_config *cfg, int64_t grace_ms)
{
	struct gaps *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->cfg = cfg;
	g->grace_ms = grace_ms;
	if (!(g->w = calloc(cfg->n_gateways + 1, sizeof *g->w))) {
		free(g);
		return NULL;
	}
	return g;
}

void gaps_free(struct gaps *g)
{
	if (!g)
		return;
	free(g->w);
	free(g);
}

static int bit(const struct seqwin *w, uint64_t i)
{
	return w->bits[i / 8] >> (i % 8) & 1;
}

/* Moves the window so that base becomes nb (> base), keeping the bits above. */
static void shift(struct seqwin *w, uint64_t nb)
{
	uint8_t old[GAPS_WINDOW / 8];
	uint64_t d = nb - w->base;

	memcpy(old, w->bits, sizeof old);
	memset(w->bits, 0, sizeof w->bits);
	for (uint64_t i = d; i < GAPS_WINDOW; i++)
		if (old[i / 8] >> (i % 8) & 1)
			w->bits[(i - d) / 8] |= (uint8_t)(1u << ((i - d) % 8));
	w->base = nb;
}

int gaps_known(const struct gaps *g, const struct plat_gateway *gw, int64_t epoch)
{
	size_t k = (size_t)(gw - g->cfg->gateways);

	return k < g->cfg->n_gateways && g->w[k].known && g->w[k].epoch >= epoch;
}

static void mark(struct seqwin *w, uint64_t seq)
{
	w->bits[(seq - w->base - 1) / 8] |= (uint8_t)(1u << ((seq - w->base - 1) % 8));
	if (seq > w->top)
		w->top = seq;
}

static void advance(struct seqwin *w)
{
	uint64_t n = 0;

	while (n < GAPS_WINDOW && bit(w, n))
		n++;
	if (n)
		shift(w, w->base + n);
}

void gaps_prime(struct gaps *g, const struct plat_gateway *gw, int64_t epoch,
		const uint64_t *seqs, size_t n, int64_t now_ms)
{
	size_t k = (size_t)(gw - g->cfg->gateways);
	uint64_t lo = UINT64_MAX, hi = 0;
	struct seqwin *w;

	if (k >= g->cfg->n_gateways)
		return;
	w = &g->w[k];
	memset(w, 0, sizeof *w);
	w->known = 1;
	w->epoch = epoch;
	for (size_t i = 0; i < n; i++) {
		if (seqs[i] && seqs[i] < lo)
			lo = seqs[i];
		if (seqs[i] > hi)
			hi = seqs[i];
	}
	if (hi == 0)
		return; /* nothing stored of this epoch: base 0 */
	/* keep the top of the window: below it everything counts as arrived */
	if (hi - lo >= GAPS_WINDOW)
		lo = hi - GAPS_WINDOW + 1;
	w->base = lo - 1;
	w->top = w->base;
	for (size_t i = 0; i < n; i++)
		if (seqs[i] > w->base)
			mark(w, seqs[i]);
	advance(w);
	if (w->top > w->base)
		w->gap_since = now_ms;
}

void gaps_seen(struct gaps *g, const struct plat_gateway *gw, int64_t epoch, uint64_t seq,
	       int64_t now_ms)
{
	size_t k = (size_t)(gw - g->cfg->gateways);
	struct seqwin *w;

	if (k >= g->cfg->n_gateways || seq == 0)
		return;
	w = &g->w[k];
	if (!w->known || epoch > w->epoch) {
		/* first word since the start: assume everything before arrived;
		 * a new epoch (a new queue) starts at seq 1 */
		int fresh = !w->known;
		memset(w, 0, sizeof *w);
		w->known = 1;
		w->epoch = epoch;
		w->base = fresh ? seq - 1 : 0;
		w->top = w->base;
	}
	if (epoch < w->epoch || seq <= w->base)
		return; /* an old epoch's resend, or already counted */
	if (seq - w->base > GAPS_WINDOW) {
		/* far ahead: remember what the window jumps over, to ask for it */
		uint64_t nb = seq - GAPS_WINDOW;
		uint64_t first = w->base + 1;
		if (!w->skipped_from || first < w->skipped_from)
			w->skipped_from = first;
		w->skipped_to = nb;
		shift(w, nb);
		if (!w->gap_since)
			w->gap_since = now_ms;
	}
	mark(w, seq);
	advance(w); /* over what is complete */
	if (w->top > w->base) {
		if (!w->gap_since)
			w->gap_since = now_ms;
	} else if (!w->skipped_from) {
		w->gap_since = 0;
	}
}

void gaps_tick(struct gaps *g, int64_t now_ms, gaps_ask_fn fn, void *ctx)
{
	for (size_t k = 0; k < g->cfg->n_gateways; k++) {
		struct seqwin *w = &g->w[k];
		uint64_t to;

		if (!w->gap_since || now_ms - w->gap_since < g->grace_ms)
			continue;
		if (w->skipped_from) {
			for (uint64_t f = w->skipped_from; f <= w->skipped_to;
			     f += COMMAND_RESEND_MAX) {
				uint64_t t = w->skipped_to - f >= COMMAND_RESEND_MAX
						     ? f + COMMAND_RESEND_MAX - 1
						     : w->skipped_to;
				fn(ctx, &g->cfg->gateways[k], f, t);
			}
			w->skipped_from = w->skipped_to = 0;
		}
		if (w->top > w->base) {
			/* base+1 is missing; ask up to the last missing one */
			to = w->top - 1;
			while (to > w->base + 1 && bit(w, to - w->base - 1))
				to--;
			fn(ctx, &g->cfg->gateways[k], w->base + 1, to);
			w->gap_since = now_ms; /* ask again after another grace */
		} else {
			w->gap_since = 0;
		}
	}
}
