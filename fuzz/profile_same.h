/*
 * Exact equality of two decoded data messages (values bit for bit, -0 ==
 * 0, text values byte for byte), shared by the data profile fuzz targets
 * (fuzz_profile.c, fuzz_profile_xml.c). Header-only: each target is one
 * translation unit.
 */
#ifndef SUIDO_FUZZ_PROFILE_SAME_H
#define SUIDO_FUZZ_PROFILE_SAME_H

#include <string.h>

#include "suido/profile.h"

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_msg(const struct profile_msg *a, const struct profile_msg *b)
{
	if (!same_str(a->id, b->id) || !same_str(a->utility, b->utility) ||
	    !same_str(a->gateway, b->gateway) || a->sent_ms != b->sent_ms ||
	    a->n_items != b->n_items || a->n_points != b->n_points)
		return 0;
	for (size_t i = 0; i < a->n_items; i++)
		if (!same_str(a->items[i].id, b->items[i].id) ||
		    !same_str(a->items[i].name, b->items[i].name) ||
		    !same_str(a->items[i].unit, b->items[i].unit) ||
		    !same_str(a->items[i].facility, b->items[i].facility))
			return 0;
	for (size_t i = 0; i < a->n_points; i++) {
		const struct profile_point *p = &a->points[i], *q = &b->points[i];
		if (p->item != q->item || p->t_ms != q->t_ms || !p->text != !q->text)
			return 0;
		if (p->text && strcmp(p->text, q->text) != 0)
			return 0;
		if (memcmp(&p->v, &q->v, sizeof p->v) != 0 && !(p->v == 0 && q->v == 0))
			return 0;
	}
	return 1;
}

#endif
