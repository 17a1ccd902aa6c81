/*
 * libFuzzer target for the intake chain: bytes -> textenc_decode ->
 * csv reader -> mapping, with the demo mapping (etc/mapping-demo.conf)
 * embedded and parsed once. An input starting with 'C' is instead a mapping
 * configuration: it goes through conf_parse and mapping_load, and when it
 * loads, a small fixed file is mapped with it. Checked, not just survived:
 * a rejected row emits no point, item strings are well formed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suido/conf.h"
#include "suido/csv.h"
#include "suido/error.h"
#include "suido/mapping.h"
#include "suido/textenc.h"
#include "suido/timeutil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keep in step with etc/mapping-demo.conf. */
static const char DEMO[] =
	"[layout haisuichi]\n"
	"kind          = wide\n"
	"require       = 日時,配水池水位(m)\n"
	"time          = 日時\n"
	"time_format   = %Y/%m/%d %H:%M\n"
	"facility_name = 配水池\n"
	"values        = *\n"
	"[layout pump_long]\n"
	"kind        = long\n"
	"require     = timestamp,station,item,value\n"
	"time        = timestamp\n"
	"time_format = iso8601\n"
	"facility    = station\n"
	"item        = item\n"
	"value       = value\n"
	"unit        = unit\n"
	"[layout ryokin_kenshin]\n"
	"kind        = wide\n"
	"require     = メーター番号,検針日,今回指針,前回指針\n"
	"time        = 検針日\n"
	"time_format = %Y/%m/%d\n"
	"facility    = メーター番号\n"
	"values      = 今回指針,前回指針,使用水量(m3),請求額(円)\n"
	"mask_deterministic = お客様番号\n"
	"mask        = 氏名,住所\n";

/* A file every plausible fuzzed layout can be tried on. */
static const char FIXED[] = "t,x,y,z,timestamp,station,item,value,unit\n"
			    "2026-11-20T00:00:00Z,1,2,3,2026-11-20 09:00,s,i,4,u\n"
			    "2026/11/20 0:00,,a,\"5,000\",2026/11/20,s,,x,\n";

static struct mapping *demo;

struct count {
	size_t n;
};

static int sink(void *ctx, const struct mapping_item *item, int64_t t_ms,
		const struct mapping_value *val)
{
	struct count *c = ctx;
	char buf[32];

	if (val->kind != MAPPING_NUMBER &&
	    (!val->text || val->len == 0 || val->len > MAPPING_TEXT_MAX ||
	     memchr(val->text, '\0', val->len)))
		abort();
	if (!item->id || !item->name || !item->unit || !item->facility || !*item->id ||
	    strchr(item->id, '.') == NULL)
		abort();
	timeutil_format_utc(t_ms, buf);
	c->n++;
	return 0;
}

static void map_all(const struct mapping *m, const char *text, size_t len,
		    const struct textenc_result *enc)
{
	struct csv_limits lim = {64, 256, 4096};
	struct csv_reader *r = NULL;
	struct csv_record rec;
	struct mapping_file *f = NULL;
	char err[256];
	enum csv_status st;

	if (csv_reader_new(text, len, &lim, &r) != SUIDO_OK)
		return;
	while ((st = csv_next(r, &rec, err, sizeof(err))) == CSV_BAD)
		;
	if (st != CSV_RECORD)
		goto out;
	if (mapping_file_begin(m, &rec, &f, err, sizeof(err)) != SUIDO_OK) {
		if (f || !err[0])
			abort();
		goto out;
	}
	if (!mapping_file_layout(f))
		abort();
	while ((st = csv_next(r, &rec, err, sizeof(err))) != CSV_END) {
		struct count c = {0};
		size_t np = 0;
		int rc;

		if (st != CSV_RECORD)
			continue;
		if (enc && textenc_line_is_bad(enc, rec.line))
			continue; /* what the gateway does with undecodable rows */
		rc = mapping_file_row(f, &rec, sink, &c, &np, err, sizeof(err));
		if (rc == SUIDO_OK && np != c.n)
			abort();
		if (rc != SUIDO_OK && (c.n != 0 || np != 0 || !err[0]))
			abort();
	}
out:
	mapping_file_free(f);
	csv_reader_free(r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf *c = NULL;
	char err[256];

	(void)argc;
	(void)argv;
	if (timeutil_set_zone("Asia/Tokyo") != SUIDO_OK ||
	    conf_parse("demo", DEMO, sizeof(DEMO) - 1, &c, err, sizeof(err)) != SUIDO_OK ||
	    mapping_load(c, &demo, err, sizeof(err)) != SUIDO_OK)
		abort();
	conf_free(c);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct textenc_result t;

	if (size > 0 && data[0] == 'C') {
		struct conf *c = NULL;
		struct mapping *m = NULL;
		char err[256];
		int rc;

		/* Real mapping files are a few KiB; larger inputs only time out
		 * in conf's per-section repeated-key check, which is quadratic. */
		if (size > 16384)
			return 0;
		if (conf_parse("fuzz", (const char *)data + 1, size - 1, &c, err, sizeof(err)) !=
		    SUIDO_OK)
			return 0;
		rc = mapping_load(c, &m, err, sizeof(err));
		conf_free(c); /* the mapping must not borrow from it */
		if (rc == SUIDO_OK) {
			if (!m || mapping_layout_count(m) == 0)
				abort();
			map_all(m, FIXED, sizeof(FIXED) - 1, NULL);
		} else if (m || !err[0]) {
			abort();
		}
		mapping_free(m);
		return 0;
	}
	if (textenc_decode(data, size, TEXTENC_AUTO, &t) != SUIDO_OK)
		return 0;
	if (t.text[t.len] != '\0' || t.enc == TEXTENC_AUTO)
		abort();
	map_all(demo, t.text, t.len, &t);
	textenc_result_free(&t);
	return 0;
}
