/*
 * Unit tests of mapping.h: the three real sample files through textenc, csv
 * and etc/mapping-demo.conf (exact point counts, values, times, units, item
 * ids computed independently with sha256sum), row rejection reasons, layout
 * recognition (unknown, ambiguous, longest match) and located config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suido/conf.h"
#include "suido/csv.h"
#include "suido/error.h"
#include "suido/mapping.h"
#include "suido/textenc.h"
#include "suido/timeutil.h"

#define SAMPLES SUIDO_SOURCE_DIR "/../shared/samples/csv/"
#define DEMO_CONF SUIDO_SOURCE_DIR "/etc/mapping-demo.conf"
#define MAX_POINTS 512

struct point {
	char id[64];
	char name[64];
	char unit[16];
	char facility[32];
	char t[32];
	double v;
	enum mapping_kind kind;
	char text[256];
};

struct run {
	struct point pts[MAX_POINTS];
	size_t n;
	size_t rows_ok, rows_bad;
	char layout[32];
	char first_err[160];
	unsigned long first_err_line;
	int stop_after; /* sink returns 7 after this many points; 0 = never */
};

static int sink(void *ctx, const struct mapping_item *item, int64_t t_ms,
		const struct mapping_value *val)
{
	struct run *r = ctx;
	struct point *p;

	if (r->stop_after && r->n == (size_t)r->stop_after)
		return 7;
	assert_true(r->n < MAX_POINTS);
	p = &r->pts[r->n++];
	snprintf(p->id, sizeof(p->id), "%s", item->id);
	snprintf(p->name, sizeof(p->name), "%s", item->name);
	snprintf(p->unit, sizeof(p->unit), "%s", item->unit);
	snprintf(p->facility, sizeof(p->facility), "%s", item->facility);
	timeutil_format_utc(t_ms, p->t);
	p->v = val->v;
	p->kind = val->kind;
	snprintf(p->text, sizeof(p->text), "%.*s", (int)val->len, val->text ? val->text : "");
	return 0;
}

static struct mapping *load_text(const char *text, char *err, size_t errlen, int *rc)
{
	struct conf *c = NULL;
	struct mapping *m = NULL;

	*rc = conf_parse("demo.conf", text, strlen(text), &c, err, errlen);
	if (*rc != SUIDO_OK)
		return NULL;
	*rc = mapping_load(c, &m, err, errlen);
	conf_free(c); /* the mapping must not borrow from the conf */
	return m;
}

static struct mapping *load_demo(void)
{
	struct conf *c = NULL;
	struct mapping *m = NULL;
	char err[256];

	assert_int_equal(conf_load(DEMO_CONF, &c, err, sizeof(err)), SUIDO_OK);
	if (mapping_load(c, &m, err, sizeof(err)) != SUIDO_OK)
		fail_msg("%s", err);
	conf_free(c);
	assert_int_equal(mapping_layout_count(m), 3);
	return m;
}

/* Maps decoded text; returns mapping_file_begin's code. */
static int map_text(const struct mapping *m, const char *text, size_t len, struct run *r,
		    char *err, size_t errlen)
{
	struct csv_reader *rd = NULL;
	struct csv_record rec;
	struct mapping_file *f = NULL;
	char rerr[160];
	int rc;

	memset(r->pts, 0, sizeof(r->pts));
	r->n = r->rows_ok = r->rows_bad = 0;
	r->first_err[0] = '\0';
	assert_int_equal(csv_reader_new(text, len, NULL, &rd), SUIDO_OK);
	assert_int_equal(csv_next(rd, &rec, rerr, sizeof(rerr)), CSV_RECORD);
	rc = mapping_file_begin(m, &rec, &f, err, errlen);
	if (rc != SUIDO_OK) {
		assert_null(f);
		csv_reader_free(rd);
		return rc;
	}
	snprintf(r->layout, sizeof(r->layout), "%s", mapping_file_layout(f));
	for (;;) {
		enum csv_status st = csv_next(rd, &rec, rerr, sizeof(rerr));
		size_t before = r->n, np = 99;

		if (st == CSV_END)
			break;
		assert_int_equal(st, CSV_RECORD);
		rc = mapping_file_row(f, &rec, sink, r, &np, rerr, sizeof(rerr));
		if (rc == SUIDO_OK) {
			assert_int_equal(np, r->n - before);
			r->rows_ok++;
		} else {
			assert_int_equal(rc, SUIDO_ERR_INVALID);
			assert_int_equal(r->n, before); /* all or nothing */
			assert_int_equal(np, 0);
			if (r->rows_bad++ == 0) {
				snprintf(r->first_err, sizeof(r->first_err), "%s", rerr);
				r->first_err_line = rec.line;
			}
		}
	}
	mapping_file_free(f);
	csv_reader_free(rd);
	return SUIDO_OK;
}

static void map_sample(const struct mapping *m, const char *file, struct run *r)
{
	char path[512], err[256];
	FILE *fp;
	unsigned char buf[16384];
	size_t n;
	struct textenc_result t;

	snprintf(path, sizeof(path), "%s%s", SAMPLES, file);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_true(n > 0 && n < sizeof(buf));
	assert_int_equal(textenc_decode(buf, n, TEXTENC_AUTO, &t), SUIDO_OK);
	assert_int_equal(t.n_bad_lines, 0);
	if (map_text(m, t.text, t.len, r, err, sizeof(err)) != SUIDO_OK)
		fail_msg("%s: %s", file, err);
	textenc_result_free(&t);
}

static size_t distinct_ids(const struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(r->pts[i].id, r->pts[j].id) == 0)
				break;
		n += j == i;
	}
	return n;
}

static const struct point *find(const struct run *r, const char *name, const char *t)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->pts[i].name, name) == 0 && strcmp(r->pts[i].t, t) == 0)
			return &r->pts[i];
	fail_msg("no point %s at %s", name, t);
	return NULL;
}

static int tokyo(void **state)
{
	(void)state;
	return timeutil_set_zone("Asia/Tokyo") == SUIDO_OK ? 0 : -1;
}

static struct run R; /* large: keep it off the stack */

static void test_sample_haisuichi(void **state)
{
	struct mapping *m = load_demo();
	const struct point *p;

	(void)state;
	map_sample(m, "haisuichi_2026112x_cp932.csv", &R);
	assert_string_equal(R.layout, "haisuichi");
	assert_int_equal(R.rows_bad, 0);
	assert_int_equal(R.rows_ok, 48);
	assert_int_equal(R.n, 48 * 5);
	assert_int_equal(distinct_ids(&R), 5);

	p = &R.pts[0];
	assert_string_equal(p->name, "配水池水位(m)");
	assert_string_equal(p->unit, "m");
	assert_string_equal(p->facility, "配水池");
	assert_string_equal(p->t, "2026-11-19T15:00:00Z");
	assert_true(p->v == 4.5);
	assert_string_equal(p->id, "haisuichi.625dd292287f0b7c");
	assert_string_equal(R.pts[1].name, "流入流量(m3/h)");
	assert_string_equal(R.pts[1].unit, "m3/h");
	assert_true(R.pts[1].v == 423.0);
	assert_string_equal(R.pts[3].unit, "mg/L");
	assert_true(R.pts[3].v == 0.47);
	assert_string_equal(R.pts[4].name, "濁度(度)");
	assert_string_equal(R.pts[4].unit, "度");
	assert_true(R.pts[4].v == 0.052);
	/* last row: 2026/11/21 23:00 JST */
	p = find(&R, "流出流量(m3/h)", "2026-11-21T14:00:00Z");
	assert_true(p->v == 259.8);
	assert_string_equal(R.pts[R.n - 1].t, "2026-11-21T14:00:00Z");
	assert_true(R.pts[R.n - 1].v == 0.057);
	mapping_free(m);
}

static void test_sample_pump_long(void **state)
{
	struct mapping *m = load_demo();
	const struct point *p;

	(void)state;
	map_sample(m, "pump_station_long_utf8bom.csv", &R);
	assert_string_equal(R.layout, "pump_long");
	assert_int_equal(R.rows_bad, 0);
	assert_int_equal(R.n, 48);
	assert_int_equal(distinct_ids(&R), 2);
	p = &R.pts[0];
	assert_string_equal(p->name, "吐出圧力");
	assert_string_equal(p->unit, "MPa");
	assert_string_equal(p->facility, "第2ポンプ場");
	assert_string_equal(p->t, "2026-11-20T21:00:00Z");
	assert_true(p->v == 0.516);
	assert_string_equal(p->id, "pump_long.30b61eb9a2a71dbd");
	p = &R.pts[1];
	assert_string_equal(p->name, "ポンプ運転");
	assert_string_equal(p->unit, "");
	assert_true(p->v == 1);
	p = find(&R, "吐出圧力", "2026-11-20T21:10:00Z");
	assert_true(p->v == 0.538);
	mapping_free(m);
}

static void test_sample_billing(void **state)
{
	struct mapping *m = load_demo();
	const struct point *p;

	(void)state;
	map_sample(m, "ryokin_kenshin_202611_cp932.csv", &R);
	assert_string_equal(R.layout, "ryokin_kenshin");
	assert_int_equal(R.rows_bad, 0);
	assert_int_equal(R.n, 10 * 7);
	assert_int_equal(distinct_ids(&R), 70); /* 10 meters x (4 values + 3 masked) */
	p = find(&R, "請求額(円)", "2026-11-09T15:00:00Z");
	assert_true(p->v == 6320);
	assert_string_equal(p->unit, "円");
	assert_string_equal(p->facility, "M-20000");
	assert_string_equal(p->id, "ryokin_kenshin.cde128b92fcba9f6");
	p = find(&R, "使用水量(m3)", "2026-11-09T15:00:00Z");
	assert_true(p->v == 29);
	assert_string_equal(p->unit, "m3");
	p = find(&R, "今回指針", "2026-11-09T15:00:00Z");
	assert_true(p->v == 3351);
	assert_string_equal(p->unit, "");
	p = find(&R, "請求額(円)", "2026-11-12T15:00:00Z");
	assert_true(p->v == 11720);
	assert_string_equal(p->facility, "M-20021");
	/* personal data is handed over only as "mask this", with its mode; the
	 * mapping itself never sends it anywhere (the intake masks it) */
	p = find(&R, "お客様番号", "2026-11-09T15:00:00Z");
	assert_int_equal(p->kind, MAPPING_MASK_DETERMINISTIC);
	assert_string_equal(p->text, "100200300");
	assert_string_equal(p->facility, "M-20000");
	p = find(&R, "氏名", "2026-11-09T15:00:00Z");
	assert_int_equal(p->kind, MAPPING_MASK_RANDOMIZED);
	assert_string_equal(p->text, "山田 太郎");
	p = find(&R, "住所", "2026-11-09T15:00:00Z");
	assert_int_equal(p->kind, MAPPING_MASK_RANDOMIZED);
	for (size_t i = 0; i < R.n; i++) {
		int personal = strcmp(R.pts[i].name, "お客様番号") == 0 ||
			       strcmp(R.pts[i].name, "氏名") == 0 ||
			       strcmp(R.pts[i].name, "住所") == 0;
		assert_int_equal(personal, R.pts[i].kind != MAPPING_NUMBER);
	}
	mapping_free(m);
}

#define MAP(m, s, err) map_text((m), (s), strlen(s), &R, (err), sizeof(err))

/* text and mask columns: trimmed, empty = no point, too long = row refused,
 * "*" does not take them as numbers, listed ones must be in the header. */
static void test_text_columns(void **state)
{
	char err[256];
	int rc;
	struct mapping *m;
	char row[2100];

	(void)state;
	m = load_text("[layout st]\nkind = wide\nrequire = t,状態\ntime = t\n"
		      "time_format = iso8601\nvalues = *\ntext = 状態\nmask = 担当\n",
		      err, sizeof(err), &rc);
	assert_non_null(m);
	assert_true(mapping_masks(m));
	MAP(m,
	    "t,状態,担当,流量\n"
	    "2026-11-20T00:00:00Z, 運転 ,　佐藤,1.5\n"
	    "2026-11-20T01:00:00Z,,,2\n",
	    err);
	assert_int_equal(R.rows_bad, 0);
	assert_int_equal(R.n, 4);
	assert_int_equal(R.pts[0].kind, MAPPING_TEXT);
	assert_string_equal(R.pts[0].text, "運転");
	assert_string_equal(R.pts[0].unit, "");
	assert_int_equal(R.pts[1].kind, MAPPING_MASK_RANDOMIZED);
	assert_string_equal(R.pts[1].text, "佐藤");
	assert_int_equal(R.pts[2].kind, MAPPING_NUMBER);
	assert_true(R.pts[2].v == 1.5);
	assert_true(R.pts[3].v == 2);
	/* a text cell over MAPPING_TEXT_MAX bytes refuses the row, quoting no value */
	snprintf(row, sizeof(row), "t,状態,担当,流量\n2026-11-20T00:00:00Z,x,%01100d,1\n", 0);
	memset(strstr(row, ",0") + 1, 'y', 1100);
	MAP(m, row, err);
	assert_int_equal(R.rows_bad, 1);
	assert_string_equal(R.first_err, "column \"担当\": longer than 1024 bytes");
	/* characters no data profile format can carry refuse the row, not the queue */
	MAP(m, "t,状態,担当,流量\n2026-11-20T00:00:00Z,a\x01b,x,1\n"
	       "2026-11-20T01:00:00Z,\xef\xbf\xbf,x,1\n2026-11-20T02:00:00Z,ok,x,1\n", err);
	assert_int_equal(R.rows_bad, 2);
	assert_int_equal(R.rows_ok, 1);
	assert_string_equal(R.first_err, "column \"状態\": holds a control character");
	assert_int_equal(MAP(m, "t,状態,担当,流\x02量\n2026-11-20T00:00:00Z,x,x,1\n", err),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "header cell 4 holds a control character");
	/* a listed text column missing from the header */
	MAP(m, "t,状態,流量\n2026-11-20T00:00:00Z,x,1\n", err);
	assert_non_null(strstr(err, "column \"担当\" missing from the header"));
	mapping_free(m);
	m = load_demo();
	assert_true(mapping_masks(m));
	mapping_free(m);
	m = load_text("[layout st]\nkind = wide\nrequire = t\ntime = t\n"
		      "time_format = iso8601\nvalues = *\ntext = s\n",
		      err, sizeof(err), &rc);
	assert_non_null(m);
	assert_false(mapping_masks(m));
	mapping_free(m);
}

static void test_row_rejections(void **state)
{
	struct mapping *m = load_demo();
	char err[256];

	(void)state;
	assert_int_equal(MAP(m,
			     "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\n"
			     "2026/11/20 0:00,4.50,423.0,234.7,0.47\n",
			     err),
			 SUIDO_OK);
	assert_int_equal(R.rows_bad, 1);
	assert_string_equal(R.first_err, "expected 6 fields, got 5");

	/* a bad number in the third column: nothing of the row is emitted */
	MAP(m,
	    "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\n"
	    "2026/11/20 0:00,4.50,12a,234.7,0.47,0.052\n"
	    "2026/11/20 1:00,4.36,427.3,247.2,0.41,0.065\n",
	    err);
	assert_int_equal(R.rows_bad, 1);
	assert_int_equal(R.first_err_line, 2);
	assert_string_equal(R.first_err, "column \"流入流量(m3/h)\": not a number: \"12a\"");
	assert_int_equal(R.rows_ok, 1);
	assert_int_equal(R.n, 5);
	assert_string_equal(R.pts[0].t, "2026-11-19T16:00:00Z");

	/* empty cells are no value; an all-empty row is no points and no error */
	MAP(m,
	    "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\n"
	    "2026/11/20 0:00,4.50,,234.7, ,\n"
	    "2026/11/20 1:00,,,,,\n",
	    err);
	assert_int_equal(R.rows_bad, 0);
	assert_int_equal(R.rows_ok, 2);
	assert_int_equal(R.n, 2);
	assert_string_equal(R.pts[1].name, "流出流量(m3/h)");

	/* times */
	MAP(m,
	    "日時,配水池水位(m)\n"
	    "2026/11/20 24:00,1\n",
	    err);
	assert_string_equal(R.first_err, "impossible time \"2026/11/20 24:00\"");
	MAP(m,
	    "日時,配水池水位(m)\n"
	    "2026-11-20 01:00,1\n",
	    err);
	assert_int_equal(R.rows_bad, 1);
	assert_non_null(strstr(R.first_err, "\"2026-11-20 01:00\""));
	MAP(m,
	    "お客様番号,氏名,住所,メーター番号,検針日,今回指針,前回指針,使用水量(m3),請求額(円)\n"
	    "1,a,b,M-1,2026/02/30,10,5,5,\"1,000\"\n"
	    "1,a,b,,2026/02/27,10,5,5,\"1,000\"\n"
	    "1,a,b,M-1,2026/02/28,10,5,5,\"1,0000\"\n"
	    "1,a,b,M-1,2026/02/28,10,5,5,\"1,000\"\n",
	    err);
	assert_int_equal(R.rows_bad, 3);
	assert_string_equal(R.first_err, "impossible date \"2026/02/30\"");
	assert_int_equal(R.rows_ok, 1);
	assert_int_equal(R.n, 7);
	assert_true(R.pts[6].v == 1000);

	MAP(m,
	    "お客様番号,氏名,住所,メーター番号,検針日,今回指針,前回指針,使用水量(m3),請求額(円)\n"
	    "1,a,b,　,2026/02/27,10,5,5,\"1,000\"\n",
	    err);
	assert_string_equal(R.first_err, "column \"メーター番号\": empty facility");

	/* long layout: empty value skipped, unit may not change, empty item */
	MAP(m,
	    "timestamp,station,item,value,unit\n"
	    "2026-11-21T06:00:00+09:00,P1,圧力,0.5,MPa\n"
	    "2026-11-21T06:10:00+09:00,P1,圧力,,MPa\n"
	    "2026-11-21T06:20:00+09:00,P1,圧力,500,kPa\n"
	    "2026-11-21T06:30:00+09:00,P1, ,1,\n"
	    "2026-11-21T06:40:00+09:00,P1,流量,x,\n"
	    "2026-11-21T06:50:00+09:00,P2,圧力,500,kPa\n",
	    err);
	assert_int_equal(R.rows_ok, 3);
	assert_int_equal(R.rows_bad, 3);
	assert_int_equal(R.n, 2);
	assert_string_equal(R.first_err, "item \"圧力\": unit \"kPa\" differs from \"MPa\"");
	assert_string_equal(R.pts[1].facility, "P2");
	assert_string_equal(R.pts[1].unit, "kPa");
	assert_string_equal(R.pts[1].t, "2026-11-20T21:50:00Z");
	mapping_free(m);
}

static void test_sink_stop(void **state)
{
	struct mapping *m = load_demo();
	char err[256];

	(void)state;
	{
		/* the sink's value comes back as is, after the points it took */
		struct csv_reader *rd;
		struct csv_record rec;
		struct mapping_file *f;
		size_t np = 0;
		const char *t = "日時,配水池水位(m),流入流量(m3/h)\n2026/11/20 0:00,1,2\n";

		assert_int_equal(csv_reader_new(t, strlen(t), NULL, &rd), SUIDO_OK);
		assert_int_equal(csv_next(rd, &rec, err, sizeof(err)), CSV_RECORD);
		assert_int_equal(mapping_file_begin(m, &rec, &f, err, sizeof(err)), SUIDO_OK);
		assert_int_equal(csv_next(rd, &rec, err, sizeof(err)), CSV_RECORD);
		R.n = 0;
		R.stop_after = 1;
		assert_int_equal(mapping_file_row(f, &rec, sink, &R, &np, err, sizeof(err)), 7);
		assert_int_equal(np, 1);
		R.stop_after = 0;
		mapping_file_free(f);
		csv_reader_free(rd);
	}
	mapping_free(m);
}

static void test_recognition(void **state)
{
	struct mapping *m = load_demo();
	char err[256];
	int rc;

	(void)state;
	assert_int_equal(MAP(m, "a,b,c\n1,2,3\n", err), SUIDO_ERR_NOTFOUND);
	assert_string_equal(err, "unknown layout: header matches no layout");
	assert_int_equal(MAP(m, "日時,配水池水位(m),日時\n", err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "duplicate header cell \"日時\"");
	/* padded header cells (ASCII and ideographic spaces), trailing empty cell */
	assert_int_equal(MAP(m, "　日時 ,配水池水位(m)　,,\n2026/11/20 0:00,4.5,,\n", err),
			 SUIDO_OK);
	assert_string_equal(R.layout, "haisuichi");
	assert_int_equal(R.n, 1);
	assert_string_equal(R.pts[0].name, "配水池水位(m)");
	/* full-width parentheses give the unit too */
	MAP(m, "日時,配水池水位(m),水温（℃）\n2026/11/20 0:00,4.5,12\n", err);
	assert_string_equal(R.pts[1].unit, "℃");
	mapping_free(m);

	m = load_text("[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		      "values = *\n"
		      "[layout b]\nkind = wide\nrequire = x,y\ntime = t\ntime_format = iso8601\n"
		      "values = y\nid_prefix = bee\n"
		      "[layout c]\nkind = wide\nrequire = y,z\ntime = t\ntime_format = iso8601\n"
		      "values = *\n"
		      "[other thing]\nkey = ignored\n",
		      err, sizeof(err), &rc);
	assert_non_null(m);
	assert_int_equal(mapping_layout_count(m), 3);
	/* the longest require list wins */
	assert_int_equal(MAP(m, "t,x,y\n2026-11-20T00:00Z,1,2\n", err), SUIDO_OK);
	assert_string_equal(R.layout, "b");
	assert_int_equal(R.n, 1);
	assert_string_equal(R.pts[0].name, "y");
	assert_int_equal(strncmp(R.pts[0].id, "bee.", 4), 0);
	assert_int_equal(strlen(R.pts[0].id), 4 + 16);
	assert_int_equal(MAP(m, "t,x\n2026-11-20T00:00Z,1\n", err), SUIDO_OK);
	assert_string_equal(R.layout, "a");
	assert_string_equal(R.pts[0].facility, "");
	/* b and c both match with two cells */
	assert_int_equal(MAP(m, "t,x,y,z\n", err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "ambiguous layout: header matches \"b\" and \"c\" equally");
	/* recognised, but the time column is missing */
	assert_int_equal(MAP(m, "x,y,q\n", err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "layout \"b\": column \"t\" missing from the header");
	mapping_free(m);
}

struct cfg_case {
	const char *text;
	const char *err;
};

static void test_config_errors(void **state)
{
	static const struct cfg_case cases[] = {
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\ncolour = red\n",
		 "demo.conf:7: [layout a] colour: unknown key"},
		{"[layout a]\nkind = tall\nrequire = x\ntime = t\ntime_format = iso8601\n",
		 "demo.conf:2: [layout a] kind: bad kind \"tall\" (wide or long)"},
		{"[layout a]\nkind = wide\nrequire = x\ntime_format = iso8601\nvalues = *\n",
		 "demo.conf:1: [layout a]: time: required key missing"},
		{"[layout a]\nkind = wide\ntime = t\ntime_format = iso8601\nvalues = *\n",
		 "demo.conf:1: [layout a]: require: required key missing"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = %Y/%q\n"
		 "values = *\n",
		 "demo.conf:5: [layout a] time_format: bad time_format \"%Y/%q\" (iso8601 or a "
		 "pattern of %Y %m %d %H %M %S)"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n",
		 "demo.conf:1: [layout a]: values: required key missing (use * for every other "
		 "column)"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\nitem = i\n",
		 "demo.conf:7: [layout a] item: not allowed in a wide layout"},
		{"[layout a]\nkind = long\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "item = i\n",
		 "demo.conf:1: [layout a]: value: required key missing"},
		{"[layout a]\nkind = wide\nrequire = x,,y\ntime = t\ntime_format = iso8601\n"
		 "values = *\n",
		 "demo.conf:3: [layout a] require: empty name in list"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = p,q\nignore = q\n",
		 "demo.conf:6: [layout a] values: column \"q\" is also in ignore"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = p\nmask = p\n",
		 "demo.conf:7: [layout a] mask: column \"p\": also in values"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\ntext = s\nmask_deterministic = s\n",
		 "demo.conf:7: [layout a] text: column \"s\": also in mask_deterministic"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\nmask = t\n",
		 "demo.conf:7: [layout a] mask: column \"t\" is also the time column"},
		{"[layout a]\nkind = long\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "item = i\nvalue = v\nmask = n\n",
		 "demo.conf:8: [layout a] mask: not allowed in a long layout"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = t\n",
		 "demo.conf:6: [layout a] values: column \"t\" is also the time column"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = p,*\n",
		 "demo.conf:6: [layout a] values: * must stand alone"},
		{"[layout my layout]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\n",
		 "demo.conf:1: [layout my layout]: id_prefix: the layout name is not usable in "
		 "item ids; set id_prefix"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\nfacility = f\nfacility_name = F\n",
		 "demo.conf:8: [layout a] facility_name: not allowed together with facility"},
		{"[layout a]\nkind = wide\nrequire = x\ntime = t\ntime_format = iso8601\n"
		 "values = *\n[layout a]\n",
		 "demo.conf:7: [layout a]: layout defined twice"},
		{"[layout]\nkind = wide\n", "demo.conf:1: [layout]: a layout needs a name"},
		{"[gateway]\nname = x\n", "demo.conf: no [layout NAME] section"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = 0;
		struct mapping *m = load_text(cases[i].text, err, sizeof(err), &rc);

		assert_null(m);
		assert_int_equal(rc, SUIDO_ERR_CONFIG);
		assert_string_equal(err, cases[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_haisuichi),
		cmocka_unit_test(test_sample_pump_long),
		cmocka_unit_test(test_sample_billing),
		cmocka_unit_test(test_row_rejections),
		cmocka_unit_test(test_sink_stop),
		cmocka_unit_test(test_text_columns),
		cmocka_unit_test(test_recognition),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, tokyo, NULL);
}
