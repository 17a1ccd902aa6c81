/* Tests for the configuration parser (conf.h): structure, typed getters and
 * error messages that name file, line, section and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "suido/conf.h"
#include "suido/error.h"

static struct conf *parse(const char *text, int want_rc, char *err)
{
	struct conf *c = NULL;
	int rc = conf_parse("t.conf", text, strlen(text), &c, err, 256);
	assert_int_equal(rc, want_rc);
	return c;
}

static void test_sections_and_entries(void **state)
{
	char err[256];
	struct conf *c = parse("\xef\xbb\xbf# comment\n[platform]\ndatabase = var/x.db \n"
			       "\n[utility demo city]\nname = \" デモ \"\n; c\n",
			       SUIDO_OK, err);
	assert_int_equal(conf_section_count(c), 2);
	const struct conf_section *s0 = conf_section_at(c, 0), *s1 = conf_section_at(c, 1);
	assert_string_equal(s0->kind, "platform");
	assert_string_equal(s0->name, "");
	assert_string_equal(conf_find(s0, "database")->value, "var/x.db");
	assert_int_equal(conf_find(s0, "database")->line, 3);
	assert_string_equal(s1->kind, "utility");
	assert_string_equal(s1->name, "demo city");
	assert_string_equal(conf_find(s1, "name")->value, " デモ ");
	assert_null(conf_find(s1, "nope"));
	conf_free(c);
}

/* Found by fuzz_mapping: sections without entries (alone or before others). */
static void test_empty_sections(void **state)
{
	char err[256];
	struct conf *c = parse("[unit u]\n", SUIDO_OK, err);
	assert_int_equal(conf_section_at(c, 0)->n_entries, 0);
	assert_null(conf_find(conf_section_at(c, 0), "k"));
	conf_free(c);
	c = parse("[a]\n[b]\nk = 1\n[c]\n", SUIDO_OK, err);
	assert_int_equal(conf_section_at(c, 0)->n_entries, 0);
	assert_string_equal(conf_find(conf_section_at(c, 1), "k")->value, "1");
	assert_int_equal(conf_section_at(c, 2)->n_entries, 0);
	conf_free(c);
	/* the same key in two sections is fine; in one section it is not */
	c = parse("[a]\nk = 1\n[b]\nk = 2\n", SUIDO_OK, err);
	conf_free(c);
}

static void test_syntax_errors(void **state)
{
	char err[256];
	assert_null(parse("key = v\n", SUIDO_ERR_INVALID, err));
	assert_non_null(strstr(err, "t.conf:1:"));
	assert_null(parse("[a]\nk = 1\nk = 2\n", SUIDO_ERR_INVALID, err));
	assert_non_null(strstr(err, "t.conf:3: k: repeated (first on line 2)"));
	assert_null(parse("[a]\nno equals\n", SUIDO_ERR_INVALID, err));
	assert_null(parse("[a\n", SUIDO_ERR_INVALID, err));
	assert_null(parse("[a]\nk = \"unterminated\n", SUIDO_ERR_INVALID, err));
	assert_null(parse("[a]\nk = \xff\n", SUIDO_ERR_INVALID, err));
	assert_non_null(strstr(err, "t.conf:2: not valid UTF-8"));
}

static void test_typed_getters(void **state)
{
	char err[256];
	struct conf *c = parse("[mqtt]\nport = 1883\nbad = 12x\nbig = 70000\ntls = yes\n"
			       "typo = 1\n",
			       SUIDO_OK, err);
	const struct conf_section *s = conf_section_at(c, 0);
	long long v;
	int b;
	const char *str;
	assert_int_equal(conf_get_int(c, s, "port", 1, 0, 1, 65535, &v, err, 256), SUIDO_OK);
	assert_int_equal(v, 1883);
	assert_int_equal(conf_get_int(c, s, "bad", 1, 0, 1, 65535, &v, err, 256), SUIDO_ERR_CONFIG);
	assert_string_equal(err, "t.conf:3: [mqtt] bad: not an integer: \"12x\"");
	assert_int_equal(conf_get_int(c, s, "big", 1, 0, 1, 65535, &v, err, 256), SUIDO_ERR_CONFIG);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(conf_get_int(c, s, "absent", 0, 7, 1, 65535, &v, err, 256), SUIDO_OK);
	assert_int_equal(v, 7);
	assert_int_equal(conf_get_str(c, s, "host", 1, NULL, &str, err, 256), SUIDO_ERR_CONFIG);
	assert_string_equal(err, "t.conf:1: [mqtt]: host: required key missing");
	assert_int_equal(conf_get_bool(c, s, "tls", 1, 0, &b, err, 256), SUIDO_OK);
	assert_int_equal(b, 1);
	static const char *const known[] = {"port", "bad", "big", "tls", NULL};
	assert_int_equal(conf_check_keys(c, s, known, err, 256), SUIDO_ERR_CONFIG);
	assert_string_equal(err, "t.conf:6: [mqtt] typo: unknown key");
	conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_and_entries),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_typed_getters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
