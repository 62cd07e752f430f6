/*
 * test_xen_prologue.c: the Xen backend's prologue (mig_xen.h): build and
 * parse round-trip byte for byte, and parse refuses every bad length,
 * magic and layout with an error that quotes the bad value.  Also the
 * destination's refusals that need no receiver: wrong options version,
 * a pre-flight refusal that never starts xl.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mig_xen.h"
#include "sys/mig_backend.h"

static const char meta[] = "{\"domain\":\"d1\",\"features\":\"0\"}";
static const uint8_t head[] = { 'X', 'e', 'n', ' ', 1, 2, 3, 0, 9 };

static void build(void **blob, size_t *len)
{
    ck_assert_int_eq(mig_xen_prologue_build(meta, head, sizeof(head), blob, len), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

START_TEST(test_roundtrip)
{
    void *blob;
    size_t len, head_len;
    const void *head_out;
    char *meta_out;

    build(&blob, &len);
    ck_assert_uint_eq(len, 16 + strlen(meta) + sizeof(head));
    ck_assert_int_eq(memcmp(blob, "XMIGXEN1", 8), 0);
    ck_assert_uint_eq(((uint8_t *)blob)[8], strlen(meta));      /* little-endian */
    ck_assert_uint_eq(((uint8_t *)blob)[12], sizeof(head));
    ck_assert_int_eq(mig_xen_prologue_parse(blob, len, &meta_out, &head_out, &head_len), 0);
    ck_assert_str_eq(meta_out, meta);
    ck_assert_uint_eq(head_len, sizeof(head));
    ck_assert_int_eq(memcmp(head_out, head, sizeof(head)), 0);
    ck_assert_ptr_eq(head_out, (uint8_t *)blob + 16 + strlen(meta));   /* borrowed */
    free(meta_out);
    free(blob);
}
END_TEST

START_TEST(test_build_refuses)
{
    void *blob = (void *)1;
    size_t len = 1;

    ck_assert_int_eq(mig_xen_prologue_build("", head, sizeof(head), &blob, &len), MIG_EINVAL);
    ck_assert_ptr_null(blob);
    ck_assert_int_eq(mig_xen_prologue_build(meta, head, 0, &blob, &len), MIG_EINVAL);
    ck_assert_int_eq(mig_xen_prologue_build(meta, NULL, 4, &blob, &len), MIG_EINVAL);
}
END_TEST

/* Parse must fail with code, leave the outputs NULL and quote `quoted`. */
static void refused(const void *blob, size_t len, int code, const char *quoted)
{
    char *meta_out = (char *)1;
    const void *head_out = (void *)1;
    size_t head_len = 1;

    ck_assert_int_eq(mig_xen_prologue_parse(blob, len, &meta_out, &head_out, &head_len), code);
    ck_assert_ptr_null(meta_out);
    ck_assert_ptr_null(head_out);
    ck_assert_uint_eq(head_len, 0);
    ck_assert_msg(strstr(mig_error_last(), quoted), "'%s' not in \"%s\"", quoted,
                  mig_error_last());
}

START_TEST(test_parse_refuses)
{
    uint8_t *blob;
    size_t len;

    build((void **)&blob, &len);
    refused(blob, 15, MIG_ETRUNC, "15 bytes");
    refused(blob, len - 1, MIG_ETRUNC, "announces");
    refused(NULL, 0, MIG_ETRUNC, "0 bytes");

    uint8_t *longer = malloc(len + 3);

    memcpy(longer, blob, len);
    refused(longer, len + 3, MIG_EFORMAT, "announces");
    free(longer);

    blob[7] = '2';
    refused(blob, len, MIG_EFORMAT, "\"XMIGXEN2\"");
    blob[0] = 0x01;
    refused(blob, len, MIG_EFORMAT, "\\x01MIGXEN2");
    blob[0] = 'X';
    blob[7] = '1';

    put32(blob + 8, 0);
    refused(blob, len, MIG_ELIMIT, "metadata length 0");
    put32(blob + 8, MIG_XEN_PROLOGUE_META_MAX + 1);
    refused(blob, len, MIG_ELIMIT, "metadata length 1048577");
    put32(blob + 8, UINT32_MAX);               /* no wrap-around of 16 + J + H */
    refused(blob, len, MIG_ELIMIT, "4294967295");
    put32(blob + 8, (uint32_t)strlen(meta));

    put32(blob + 12, 0);
    refused(blob, len, MIG_ELIMIT, "stream head length 0");
    put32(blob + 12, MIG_XEN_PROLOGUE_HEAD_MAX + 1);
    refused(blob, len, MIG_ELIMIT, "16777217");
    put32(blob + 12, sizeof(head));

    blob[16 + 3] = '\0';
    refused(blob, len, MIG_EFORMAT, "NUL byte at offset 19");
    free(blob);
}
END_TEST

static int refusing_preflight(void *arg, const char *meta_json)
{
    ++*(int *)arg;
    ck_assert_str_eq(meta_json, meta);
    return mig_error_set(MIG_ECOMPAT, "destination h cannot run domain d1: missing "
                         "features: avx2");
}

START_TEST(test_dest_preflight_refusal_starts_nothing)
{
    struct mig_xen_dest_options opts = MIG_XEN_DEST_OPTIONS_INIT;
    struct mig_xen_dest *dest;
    const char *xl = "/nonexistent/xl-for-xendest-test";
    int calls = 0;
    void *blob;
    size_t len;

    opts.xl = xl;
    opts.preflight = refusing_preflight;
    opts.preflight_arg = &calls;
    ck_assert_int_eq(mig_xen_dest_open(NULL, &opts, &dest), 0);
    ck_assert_ptr_null(mig_xen_dest_metadata(dest));
    build(&blob, &len);
    ck_assert_int_eq(mig_xen_dest_ops.accept_prologue(dest, blob, len), MIG_ECOMPAT);
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "missing features: avx2"));
    ck_assert_str_eq(mig_xen_dest_metadata(dest), meta);
    /* nothing was started: prepare says so */
    ck_assert_int_eq(mig_xen_dest_ops.prepare(dest, 16), MIG_ECOMPAT);
    mig_xen_dest_close(dest);

    /* accepted pre-flight, but no such xl: a clear error naming it */
    opts.preflight = NULL;
    ck_assert_int_eq(mig_xen_dest_open(NULL, &opts, &dest), 0);
    ck_assert_int_eq(mig_xen_dest_ops.accept_prologue(dest, blob, len), MIG_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), xl));
    mig_xen_dest_close(dest);
    free(blob);
}
END_TEST

START_TEST(test_dest_options_version)
{
    struct mig_xen_dest_options opts = MIG_XEN_DEST_OPTIONS_INIT;
    struct mig_xen_dest *dest = (void *)1;

    opts.version = 99;
    ck_assert_int_eq(mig_xen_dest_open(NULL, &opts, &dest), MIG_EINVAL);
    ck_assert_ptr_null(dest);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "99"));
    ck_assert_str_eq(mig_xen_dest_ops.name, "xen-destination");
    ck_assert_ptr_null(mig_xen_dest_ops.read_page);
    ck_assert_ptr_nonnull(mig_xen_dest_ops.open_streams);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xen_prologue");
    TCase *tc = tcase_create("prologue");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_build_refuses);
    tcase_add_test(tc, test_parse_refuses);
    tcase_add_test(tc, test_dest_preflight_refusal_starts_nothing);
    tcase_add_test(tc, test_dest_options_version);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
