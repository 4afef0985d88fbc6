/* daemon/intake/decode.c: content types, form and JSON bodies, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "intake/decode.h"

static json_t *decode(intake_body_t kind, const char *body, intake_error_t *err)
{
    memset(err, 0, sizeof *err);
    return intake_decode(kind, (const uint8_t *)body, strlen(body), err);
}

static const char *get(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_content_types(void **state)
{
    (void)state;
    intake_body_t k;
    assert_int_equal(intake_body_kind("application/x-www-form-urlencoded", &k), 0);
    assert_int_equal(k, INTAKE_BODY_FORM);
    assert_int_equal(intake_body_kind("Application/JSON; charset=UTF-8", &k), 0);
    assert_int_equal(k, INTAKE_BODY_JSON);
    assert_int_equal(intake_body_kind("application/x-www-form-urlencoded;charset=\"utf-8\"", &k), 0);
    assert_int_equal(intake_body_kind("application/json; charset=latin1", &k), -1);
    assert_int_equal(intake_body_kind("multipart/form-data; boundary=x", &k), -1);
    assert_int_equal(intake_body_kind("text/plain", &k), -1);
    assert_int_equal(intake_body_kind("application/jsonx", &k), -1);
    assert_int_equal(intake_body_kind(NULL, &k), -1);
}

static void test_form(void **state)
{
    (void)state;
    intake_error_t err;
    json_t *o = decode(INTAKE_BODY_FORM, "name=%E5%BC%A0+%E4%B8%89&phone=138%2D0000&&empty=&flag&a=1&a=2", &err);
    assert_non_null(o);
    assert_string_equal(get(o, "name"), "张 三");
    assert_string_equal(get(o, "phone"), "138-0000");
    assert_string_equal(get(o, "empty"), "");
    assert_string_equal(get(o, "flag"), "");
    assert_string_equal(get(o, "a"), "1, 2");
    assert_int_equal(json_object_size(o), 5);
    json_decref(o);
}

static void test_form_refusals_name_the_field(void **state)
{
    (void)state;
    intake_error_t err;
    assert_null(decode(INTAKE_BODY_FORM, "name=%E5%BC", &err));
    assert_string_equal(err.field, "name");
    assert_null(decode(INTAKE_BODY_FORM, "name=%ZZ", &err));
    assert_string_equal(err.field, "name");
    assert_null(decode(INTAKE_BODY_FORM, "note=a%00b", &err));
    assert_string_equal(err.field, "note");
    assert_null(decode(INTAKE_BODY_FORM, "note=%FF%FE", &err));
    assert_string_equal(err.field, "note");
    assert_non_null(strstr(err.message, "UTF-8"));
    char big[INTAKE_VALUE_MAX + 16];
    snprintf(big, sizeof big, "note=%0*d", INTAKE_VALUE_MAX + 1, 0);
    assert_null(decode(INTAKE_BODY_FORM, big, &err));
    assert_string_equal(err.field, "note");
    char many[INTAKE_FIELDS_MAX * 8 + 8] = "";
    for (int i = 0; i <= INTAKE_FIELDS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "f%d=1&", i);
    assert_null(decode(INTAKE_BODY_FORM, many, &err));
    assert_string_equal(err.field, "body");
}

static void test_json(void **state)
{
    (void)state;
    intake_error_t err;
    json_t *o = decode(INTAKE_BODY_JSON,
                       "{\"name\":\"李四\",\"age\":42,\"score\":1.5,\"ok\":true,\"gone\":null}", &err);
    assert_non_null(o);
    assert_string_equal(get(o, "name"), "李四");
    assert_string_equal(get(o, "age"), "42");
    assert_string_equal(get(o, "score"), "1.5");
    assert_string_equal(get(o, "ok"), "true");
    assert_null(json_object_get(o, "gone"));
    json_decref(o);
}

static void test_json_refusals(void **state)
{
    intake_error_t bad;
    /* Not UTF-8: the field whose value holds the bad bytes is named. */
    assert_null(decode(INTAKE_BODY_JSON, "{\"name\":\"ok\",\"note\":\"a\xff\xfe b\"}", &bad));
    assert_string_equal(bad.field, "note");
    assert_non_null(strstr(bad.message, "UTF-8"));
    assert_null(decode(INTAKE_BODY_JSON, "{\"name\":\"\xe5\xbc\"}", &bad));
    assert_string_equal(bad.field, "name");
    assert_null(decode(INTAKE_BODY_JSON, "{\"n\xff\":\"x\"}", &bad));
    assert_string_equal(bad.field, "body");
    assert_null(decode(INTAKE_BODY_JSON, "{\"name\":\"x\"}\xff", &bad));
    assert_string_equal(bad.field, "body");

    (void)state;
    intake_error_t err;
    assert_null(decode(INTAKE_BODY_JSON, "[1,2]", &err));
    assert_string_equal(err.field, "body");
    assert_null(decode(INTAKE_BODY_JSON, "{\"a\":", &err));
    assert_string_equal(err.field, "body");
    assert_null(decode(INTAKE_BODY_JSON, "{\"a\":{\"b\":1}}", &err));
    assert_string_equal(err.field, "a");
    assert_null(decode(INTAKE_BODY_JSON, "{\"a\":\"x\\u0000y\"}", &err));
    assert_string_equal(err.field, "a");
    assert_null(decode(INTAKE_BODY_JSON, "{\"a\":1,\"a\":2}", &err));
    assert_string_equal(err.field, "body");
    assert_null(decode(INTAKE_BODY_JSON, "{\"a\":\"\xff\"}", &err));
    assert_string_equal(err.field, "a"); /* named, though the parser refuses the whole body */
    assert_null(decode(INTAKE_BODY_JSON, "", &err));
}

static void test_take_field(void **state)
{
    (void)state;
    intake_error_t err;
    json_t *o = decode(INTAKE_BODY_FORM, "_return_url=https%3A%2F%2Fx.example%2Fok&name=a&hp=", &err);
    char buf[64];
    assert_string_equal(intake_take_field(o, "_return_url", buf, sizeof buf), "https://x.example/ok");
    assert_null(json_object_get(o, "_return_url"));
    assert_null(intake_take_field(o, "hp", buf, sizeof buf));
    assert_null(intake_take_field(o, "missing", buf, sizeof buf));
    assert_int_equal(json_object_size(o), 1);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_form_refusals_name_the_field),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_refusals),
        cmocka_unit_test(test_take_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
