/* Tests for the XML data profile (profile_xml.h): round trip with text and
 * Japanese values, agreement with the JSON format, a located error for each
 * kind of malformed message, DOCTYPE / XXE refused, the caps of struct
 * profile_limits, and the encoder's refusal of what XML cannot carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "suido/error.h"
#include "suido/profile.h"
#include "suido/profile_xml.h"
#include "suido/timeutil.h"

#define HEAD                                                                                \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Data xmlns=\"urn:suido:data:1\" "       \
	"profile=\"suido.data/1\" id=\"gw1:1763600000:42\" utility=\"demo\" gateway=\"gw1\" "
#define ITEMS "<Items><Item id=\"h.1\" name=\"配水池水位(m)\" unit=\"m\" facility=\"配水池\"/></Items>"

static const char *VALID =
	HEAD "sent=\"2026-11-20T01:00:00Z\" Id=\"xs-0011223344556677\" future=\"1\">\n"
	"  <Items>\n"
	"    <Item id=\"h.1\" name=\"配水池水位(m)\" unit=\"m\" facility=\"配水池\"/>\n"
	"    <Item id=\"s.2\" name=\"状態 &amp; &lt;備考&gt;\"/>\n"
	"  </Items>\n"
	"  <Points Id=\"points\">\n"
	"    <P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"4.5\"/>\n"
	"    <P i=\"0\" t=\"2026-11-20T01:00:00+09:00\" v=\"0.47\"/>\n"
	"    <P i=\"1\" t=\"2026-11-20T01:00:00+0900\" s=\"運転&#10;停止&#9;&quot;x&quot;\"/>\n"
	"  </Points>\n"
	"  <!-- a comment -->\n"
	"  <ext:Extra xmlns:ext=\"urn:example\"><ext:More>ignored</ext:More></ext:Extra>\n"
	"</Data>\n";

static int setup(void **state)
{
	timeutil_set_zone("Asia/Tokyo");
	return 0;
}

static int teardown(void **state)
{
	xmlCleanupParser();
	return 0;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void assert_same_msg(const struct profile_msg *a, const struct profile_msg *b)
{
	assert_true(same_str(a->id, b->id) && same_str(a->utility, b->utility) &&
		    same_str(a->gateway, b->gateway) && a->sent_ms == b->sent_ms);
	assert_int_equal(a->n_items, b->n_items);
	assert_int_equal(a->n_points, b->n_points);
	for (size_t i = 0; i < a->n_items; i++)
		assert_true(same_str(a->items[i].id, b->items[i].id) &&
			    same_str(a->items[i].name, b->items[i].name) &&
			    same_str(a->items[i].unit, b->items[i].unit) &&
			    same_str(a->items[i].facility, b->items[i].facility));
	for (size_t i = 0; i < a->n_points; i++) {
		const struct profile_point *p = &a->points[i], *q = &b->points[i];
		assert_true(p->item == q->item && p->t_ms == q->t_ms && same_str(p->text, q->text));
		assert_true(memcmp(&p->v, &q->v, sizeof p->v) == 0 || (p->v == 0 && q->v == 0));
	}
}

static void test_decode_valid(void **state)
{
	struct profile_msg *m = NULL;
	char err[256];

	assert_int_equal(profile_xml_decode(VALID, strlen(VALID), NULL, &m, err, sizeof err),
			 SUIDO_OK);
	assert_string_equal(m->id, "gw1:1763600000:42");
	assert_string_equal(m->utility, "demo");
	assert_string_equal(m->gateway, "gw1");
	assert_true(m->sent_ms == 1795136400000LL); /* 2026-11-20T01:00:00Z */
	assert_int_equal(m->n_items, 2);
	assert_string_equal(m->items[0].name, "配水池水位(m)");
	assert_string_equal(m->items[0].facility, "配水池");
	assert_string_equal(m->items[1].name, "状態 & <備考>");
	assert_string_equal(m->items[1].unit, "");
	assert_string_equal(m->items[1].facility, "");
	assert_int_equal(m->n_points, 3);
	assert_true(m->points[0].t_ms == 1795100400000LL); /* 2026-11-19T15:00:00Z */
	assert_true(m->points[1].t_ms == 1795104000000LL); /* 2026-11-19T16:00:00Z */
	assert_true(m->points[2].t_ms == 1795104000000LL);
	assert_true(m->points[0].v == 4.5 && m->points[1].v == 0.47);
	assert_null(m->points[0].text);
	assert_int_equal(m->points[2].item, 1);
	assert_string_equal(m->points[2].text, "運転\n停止\t\"x\"");
	profile_msg_free(m);
}

/* XML -> struct -> XML -> struct, and -> JSON -> struct: all equal. */
static void test_round_trip(void **state)
{
	struct profile_msg *m = NULL, *m2 = NULL, *m3 = NULL;
	struct strbuf sb = STRBUF_INIT, js = STRBUF_INIT;
	char err[256];

	assert_int_equal(profile_xml_decode(VALID, strlen(VALID), NULL, &m, err, sizeof err),
			 SUIDO_OK);
	m->points[1].v = 0.1 + 0.2; /* needs 17 digits */
	free(m->points[0].text);
	m->points[0].text = strdup("~m1.s.k1.AbC-_x\r\n <&>\"'");
	m->points[0].v = 0; /* profile.h: 0 for a text value */
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_OK);
	assert_non_null(strstr(sb.data, "v=\"0.30000000000000004\""));
	assert_non_null(strstr(sb.data, "s=\"~m1.s.k1.AbC-_x&#13;&#10; &lt;&amp;&gt;&quot;'\""));
	assert_non_null(strstr(sb.data, "name=\"配水池水位(m)\""));
	assert_non_null(strstr(sb.data, "sent=\"2026-11-20T01:00:00Z\""));
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m2, err, sizeof err), SUIDO_OK);
	assert_same_msg(m, m2);
	assert_int_equal(profile_encode(m, &js), 0);
	assert_int_equal(profile_decode(js.data, js.len, NULL, &m3, err, sizeof err), SUIDO_OK);
	assert_same_msg(m, m3);
	profile_msg_free(m);
	profile_msg_free(m2);
	profile_msg_free(m3);
	strbuf_free(&sb);
	strbuf_free(&js);
}

/* The JSON message of profile.h's example, as XML: the same struct. */
static void test_same_as_json(void **state)
{
	static const char json[] =
		"{\"profile\":\"suido.data/1\",\"id\":\"gw1:1763600000:42\",\"utility\":\"demo\","
		"\"gateway\":\"gw1\",\"sent\":\"2026-11-20T01:00:00.250Z\",\"items\":[{\"id\":\"h.1\","
		"\"name\":\"配水池水位(m)\",\"unit\":\"m\",\"facility\":\"配水池\"}],\"points\":"
		"[[0,\"2026-11-19T15:00:00Z\",-12.5e-3],[0,\"2026-11-19T16:00:00.5Z\",\"停止\"]]}";
	static const char xml[] = HEAD "sent=\"2026-11-20T10:00:00.250+09:00\">" ITEMS
		"<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"-12.5e-3\"/>"
		"<P i=\"0\" t=\"2026-11-19T16:00:00.500Z\" s=\"停止\"/></Points></Data>";
	struct profile_msg *a = NULL, *b = NULL;
	char err[256];

	assert_int_equal(profile_decode(json, strlen(json), NULL, &a, err, sizeof err), SUIDO_OK);
	assert_int_equal(profile_xml_decode(xml, strlen(xml), NULL, &b, err, sizeof err), SUIDO_OK);
	assert_same_msg(a, b);
	profile_msg_free(a);
	profile_msg_free(b);
}

/* Points before Items, no sent, Shift_JIS declared: all fine. */
static void test_variants(void **state)
{
	static const char sjis_head[] = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>"
					"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" "
					"id=\"gw1:1:1\" utility=\"demo\" gateway=\"gw1\"><Points>"
					"<P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/></Points>"
					"<Items><Item id=\"a\" name=\"";
	/* 水位 in Shift_JIS */
	static const char sjis_name[] = "\x90\x85\x88\xca";
	char doc[512];
	struct profile_msg *m = NULL;
	char err[256];
	int n;

	n = snprintf(doc, sizeof doc, "%s%s\"/></Items></Data>", sjis_head, sjis_name);
	assert_int_equal(profile_xml_decode(doc, (size_t)n, NULL, &m, err, sizeof err), SUIDO_OK);
	assert_string_equal(m->items[0].name, "水位");
	assert_true(m->sent_ms == 0);
	assert_true(m->points[0].v == 1);
	profile_msg_free(m);
}

struct bad {
	const char *doc;
	int rc;
	const char *msg;
};

static void test_decode_errors(void **state)
{
	static const struct bad cases[] = {
		{"", SUIDO_ERR_INVALID, "not well-formed XML (line 1): empty document"},
		{"{\"profile\":\"suido.data/1\"}", SUIDO_ERR_INVALID, "not well-formed XML (line 1)"},
		{HEAD ">" ITEMS "<Points>", SUIDO_ERR_INVALID, "not well-formed XML"},
		{HEAD ">" ITEMS "<Points/></Data><Data/>", SUIDO_ERR_INVALID, "not well-formed XML"},
		{HEAD ">" ITEMS "<Points>&foo;</Points></Data>", SUIDO_ERR_INVALID,
		 "not well-formed XML (line 2): Entity 'foo' not defined"},
		{HEAD "><x:Items/>" ITEMS "<Points/></Data>", SUIDO_ERR_INVALID,
		 "not namespace-well-formed XML"},
		{"<Data profile=\"suido.data/1\"/>", SUIDO_ERR_INVALID,
		 "not a suido.data/1 XML document: the root element must be Data in namespace "
		 "urn:suido:data:1"},
		{"<Data xmlns=\"urn:suido:data:2\" profile=\"suido.data/1\"/>", SUIDO_ERR_INVALID,
		 "root element must be Data"},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/2\"/>", SUIDO_ERR_INVALID,
		 "Data@profile: expected \"suido.data/1\""},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" utility=\"u\" "
		 "gateway=\"g\"/>", SUIDO_ERR_INVALID, "Data@id: missing"},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"g:1:1\" "
		 "gateway=\"g\"/>", SUIDO_ERR_INVALID, "Data@utility: missing"},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"g:1:1\" "
		 "utility=\"u\"/>", SUIDO_ERR_INVALID, "Data@gateway: missing"},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"g:1:1\" "
		 "utility=\"u u\" gateway=\"g\"/>", SUIDO_ERR_INVALID,
		 "Data@utility or @gateway: not a valid name"},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"h:1:1\" "
		 "utility=\"u\" gateway=\"g\"/>", SUIDO_ERR_INVALID, "Data@id: expected \"g:<epoch>:<seq>\""},
		{"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"g:1:x\" "
		 "utility=\"u\" gateway=\"g\"/>", SUIDO_ERR_INVALID, "Data@id: expected \"g:<epoch>:<seq>\""},
		{HEAD "sent=\"2026-11-20 01:00:00\">" ITEMS "<Points/></Data>", SUIDO_ERR_INVALID,
		 "Data@sent: not an ISO 8601 instant with offset"},
		{HEAD "><Points/></Data>", SUIDO_ERR_INVALID, "Items: missing"},
		{HEAD ">" ITEMS "</Data>", SUIDO_ERR_INVALID, "Points: missing"},
		{HEAD ">" ITEMS ITEMS "<Points/></Data>", SUIDO_ERR_INVALID, "Items: more than one"},
		{HEAD ">" ITEMS "<Points/><Points/></Data>", SUIDO_ERR_INVALID, "Points: more than one"},
		{HEAD ">x" ITEMS "<Points/></Data>", SUIDO_ERR_INVALID,
		 "Data: text content is not allowed"},
		{HEAD "><Items><![CDATA[x]]></Items><Points/></Data>", SUIDO_ERR_INVALID,
		 "Items: text content is not allowed"},
		{HEAD "><Items><Thing/></Items><Points/></Data>", SUIDO_ERR_INVALID,
		 "Items: element Thing is not allowed (only Item)"},
		{HEAD "><Items><Item name=\"n\"/></Items><Points/></Data>", SUIDO_ERR_INVALID,
		 "Items/Item[0]@id: missing"},
		{HEAD "><Items><Item id=\"a\"/></Items><Points/></Data>", SUIDO_ERR_INVALID,
		 "Items/Item[0]@name: missing"},
		{HEAD "><Items><Item id=\"a\" name=\"n\"/><Item id=\"a/b\" name=\"n\"/></Items>"
		 "<Points/></Data>", SUIDO_ERR_INVALID, "Items/Item[1]@id: not a valid item id"},
		{HEAD "><Items><Item id=\"a&#1;\" name=\"n\"/></Items><Points/></Data>",
		 SUIDO_ERR_INVALID, "not well-formed XML"},
		{HEAD "><Items><Item id=\"a\" name=\"n\"/><Item id=\"b\" name=\"n\"/>"
		 "<Item id=\"a\" name=\"m\"/></Items><Points/></Data>", SUIDO_ERR_INVALID,
		 "Items/Item[2]@id: repeats Items/Item[0]"},
		{HEAD "><Items><Item id=\"a\" name=\"n\">x</Item></Items><Points/></Data>",
		 SUIDO_ERR_INVALID, "Items/Item[0]: text content is not allowed"},
		{HEAD "><Items><Item id=\"a\" name=\"n\"><X/></Item></Items><Points/></Data>",
		 SUIDO_ERR_INVALID, "Items/Item[0]: must be empty"},
		{HEAD ">" ITEMS "<Points><Q/></Points></Data>", SUIDO_ERR_INVALID,
		 "Points: element Q is not allowed (only P)"},
		{HEAD ">" ITEMS "<Points><P t=\"2026-11-19T15:00:00Z\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@i: missing"},
		{HEAD ">" ITEMS "<Points><P i=\"-1\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@i: not an index into items"},
		{HEAD ">" ITEMS "<Points><P i=\"01\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@i: not an index into items"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/>"
		 "<P i=\"1\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[1]@i: not an index into items"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" v=\"1\"/></Points></Data>", SUIDO_ERR_INVALID,
		 "Points/P[0]@t: missing"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/>"
		 "<P i=\"0\" t=\"2026/11/19 15:00\" v=\"1\"/>"
		 "<P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/>"
		 "<P i=\"0\" t=\"2026-11-19T15:00:00\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[1]@t: not an ISO 8601 instant with offset"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00\" v=\"1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@t: not an ISO 8601 instant with offset"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]: needs exactly one of @v and @s"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\" s=\"a\"/>"
		 "</Points></Data>", SUIDO_ERR_INVALID, "Points/P[0]: needs exactly one of @v and @s"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1e999\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"NaN\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\" 1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"6,320\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1.\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"+1\"/></Points></Data>",
		 SUIDO_ERR_INVALID, "Points/P[0]@v: not a finite number"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\">x</P></Points>"
		 "</Data>", SUIDO_ERR_INVALID, "Points/P[0]: text content is not allowed"},
		{HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" v=\"1\"><P/></P>"
		 "</Points></Data>", SUIDO_ERR_INVALID, "Points/P[0]: must be empty"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct profile_msg *m = (struct profile_msg *)1;
		int rc = profile_xml_decode(cases[i].doc, strlen(cases[i].doc), NULL, &m, err,
					    sizeof err);
		if (rc != cases[i].rc || !strstr(err, cases[i].msg))
			fail_msg("case %zu: rc %d, err \"%s\", wanted %d \"%s\"", i, rc, err,
				 cases[i].rc, cases[i].msg);
		assert_null(m);
	}
}

/* Lengths: the same caps as the JSON format. */
static void test_lengths(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct profile_msg *m = NULL;
	char err[256], big[3000];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	/* exactly at the cap: fine */
	strbuf_printf(&sb, HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" "
		      "s=\"%.*s\"/></Points></Data>", PROFILE_VALUE_TEXT_MAX, big);
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err), SUIDO_OK);
	assert_int_equal(strlen(m->points[0].text), PROFILE_VALUE_TEXT_MAX);
	profile_msg_free(m);
	strbuf_reset(&sb);
	strbuf_printf(&sb, HEAD ">" ITEMS "<Points><P i=\"0\" t=\"2026-11-19T15:00:00Z\" "
		      "s=\"%.*s\"/></Points></Data>", PROFILE_VALUE_TEXT_MAX + 1, big);
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "Points/P[0]@s: text longer than 2048 bytes");
	strbuf_reset(&sb);
	strbuf_printf(&sb, HEAD "><Items><Item id=\"a\" name=\"%.*s\"/></Items><Points/></Data>",
		      PROFILE_TEXT_MAX + 1, big);
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "Items/Item[0]@name: longer than 512 bytes");
	strbuf_reset(&sb);
	strbuf_printf(&sb, HEAD "><Items><Item id=\"%.*s\" name=\"n\"/></Items><Points/></Data>",
		      PROFILE_ITEM_ID_MAX + 1, big);
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "Items/Item[0]@id: longer than 128 bytes");
	strbuf_reset(&sb);
	strbuf_printf(&sb, "<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" "
		      "id=\"g:1:1\" utility=\"u\" gateway=\"%.*s\"/>", PROFILE_NAME_MAX + 1, big);
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_string_equal(err, "Data@gateway: longer than 64 bytes");
	strbuf_free(&sb);
}

static void test_limits(void **state)
{
	struct profile_limits lim = {0, 2, 3};
	struct strbuf sb = STRBUF_INIT;
	struct profile_msg *m = NULL;
	char err[256];

	strbuf_puts(&sb, HEAD "><Items><Item id=\"a\" name=\"n\"/><Item id=\"b\" name=\"n\"/>"
		    "</Items><Points>");
	for (int i = 0; i < 3; i++)
		strbuf_puts(&sb, "<P i=\"1\" t=\"2026-11-19T15:00:00Z\" v=\"1\"/>");
	strbuf_puts(&sb, "</Points></Data>");
	assert_int_equal(profile_xml_decode(sb.data, sb.len, &lim, &m, err, sizeof err), SUIDO_OK);
	profile_msg_free(m);
	lim.max_points = 2;
	assert_int_equal(profile_xml_decode(sb.data, sb.len, &lim, &m, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_string_equal(err, "Points: more than 2");
	assert_null(m);
	lim.max_items = 1;
	assert_int_equal(profile_xml_decode(sb.data, sb.len, &lim, &m, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_string_equal(err, "Items: more than 1");
	lim = (struct profile_limits){sb.len - 1, 0, 0};
	assert_int_equal(profile_xml_decode(sb.data, sb.len, &lim, &m, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_non_null(strstr(err, "message larger than"));
	strbuf_free(&sb);
}

/* No DTD of any kind: internal subsets, external entities (XXE), billion
 * laughs; and nesting past libxml2's cap. */
static void test_doctype_refused(void **state)
{
	static const char *const docs[] = {
		"<!DOCTYPE Data><Data xmlns=\"urn:suido:data:1\"/>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE Data [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Data xmlns=\"urn:suido:data:1\" profile=\"suido.data/1\" id=\"g:1:1\" utility=\"u\" "
		"gateway=\"g\"><Items><Item id=\"a\" name=\"&x;\"/></Items><Points/></Data>",
		"<!DOCTYPE Data SYSTEM \"http://127.0.0.1:9/x.dtd\"><Data/>",
		"<!DOCTYPE Data [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><Data xmlns=\"urn:suido:data:1\" "
		"profile=\"suido.data/1\" id=\"g:1:1\" utility=\"u\" gateway=\"g\"><Items>"
		"<Item id=\"a\" name=\"&c;\"/></Items><Points/></Data>",
	};
	struct strbuf sb = STRBUF_INIT;
	struct profile_msg *m = NULL;
	char err[256];

	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
		int rc = profile_xml_decode(docs[i], strlen(docs[i]), NULL, &m, err, sizeof err);
		if (rc != SUIDO_ERR_INVALID || strcmp(err, "a DOCTYPE is not allowed") != 0)
			fail_msg("doc %zu: rc %d, err \"%s\"", i, rc, err);
		assert_null(m);
	}
	strbuf_puts(&sb, HEAD ">" ITEMS "<Points/><Deep>");
	for (int i = 0; i < 300; i++)
		strbuf_puts(&sb, "<d>");
	for (int i = 0; i < 300; i++)
		strbuf_puts(&sb, "</d>");
	strbuf_puts(&sb, "</Deep></Data>");
	assert_int_equal(profile_xml_decode(sb.data, sb.len, NULL, &m, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_non_null(strstr(err, "not well-formed XML"));
	strbuf_free(&sb);
}

/* A message read from JSON may hold what XML 1.0 cannot carry. */
static void test_encode_refusals(void **state)
{
	static const char json[] =
		"{\"profile\":\"suido.data/1\",\"id\":\"gw1:1:1\",\"utility\":\"demo\","
		"\"gateway\":\"gw1\",\"items\":[{\"id\":\"a\",\"name\":\"n\"},{\"id\":\"b\","
		"\"name\":\"ok\\u0001\"}],\"points\":[[0,\"2026-11-19T15:00:00Z\",\"\\uffff\"]]}";
	struct profile_msg *m = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256];

	assert_int_equal(profile_decode(json, strlen(json), NULL, &m, err, sizeof err), SUIDO_OK);
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "Items/Item[1]@name: U+0001 cannot be written in XML");
	strbuf_reset(&sb);
	m->items[1].name[2] = '\0';
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "Points/P[0]@s: U+FFFF cannot be written in XML");
	strbuf_reset(&sb);
	m->points[0].text[0] = (char)0xc0; /* and no longer UTF-8 */
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_ERR_INVALID);
	assert_string_equal(err, "Points/P[0]@s: not UTF-8");
	strbuf_reset(&sb);
	free(m->points[0].text);
	m->points[0].text = NULL;
	m->points[0].v = -0.0;
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_OK);
	/* an output cap reached is reported, not a truncated document */
	strbuf_free(&sb);
	sb.limit = 64;
	assert_int_equal(profile_xml_encode(m, &sb, err, sizeof err), SUIDO_ERR_NOMEM);
	strbuf_free(&sb);
	profile_msg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_same_as_json),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_encode_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
