/* test_error.c: the thread-local last error of libmig. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mig_error.h"

START_TEST(test_set_returns_code_and_formats)
{
    mig_error_clear();
    ck_assert_int_eq(mig_error_last_code(), MIG_OK);
    ck_assert_str_eq(mig_error_last(), "");
    ck_assert_int_eq(mig_error_set(MIG_EFORMAT, "record %u at offset %u", 3u, 64u), MIG_EFORMAT);
    ck_assert_str_eq(mig_error_last(), "record 3 at offset 64");
    ck_assert_int_eq(mig_error_last_code(), MIG_EFORMAT);
    ck_assert_str_eq(mig_error_name(MIG_EFORMAT), "EFORMAT");
    ck_assert_str_eq(mig_error_name(MIG_ESTOCK), "ESTOCK");
    ck_assert_str_eq(mig_error_name(MIG_EPLATFORM), "EPLATFORM");
    ck_assert_str_eq(mig_error_name(MIG_EMISSING), "EMISSING");
    ck_assert_str_eq(mig_error_name(-99), "EUNKNOWN");
}
END_TEST

START_TEST(test_errno_appended)
{
    mig_error_set_errno(MIG_EIO, ENOENT, "open '%s'", "x.img");
    ck_assert_str_eq(mig_error_last(), "open 'x.img': No such file or directory");
}
END_TEST

/* Wrapping the previous message in more context (the callers' habit). */
START_TEST(test_wraps_previous_message)
{
    mig_error_set_errno(MIG_EIO, ENOSPC, "writing %s", "cap.xl-save");
    mig_error_set(MIG_EIO, "writing the stream capture: %s", mig_error_last());
    ck_assert_str_eq(mig_error_last(), "writing the stream capture: writing cap.xl-save: "
                     "No space left on device");
    mig_error_set_errno(MIG_EFORMAT, EINVAL, "record %d: %s", 7, mig_error_last());
    ck_assert_str_eq(mig_error_last(), "record 7: writing the stream capture: writing "
                     "cap.xl-save: No space left on device: Invalid argument");
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    return (void *)(strcmp(mig_error_last(), "") == 0 ? (void *)1 : NULL);
}

/* What a peer sent reaches no terminal raw: control characters are escaped. */
START_TEST(test_control_characters_escaped)
{
    ck_assert_int_eq(mig_error_set(MIG_EIO, "the peer reports '%s'",
                                   "a\x1b]0;owned\x07\x1b[2Jb\r\nc\x7f"), MIG_EIO);
    ck_assert_str_eq(mig_error_last(), "the peer reports "
                     "'a\\x1b]0;owned\\x07\\x1b[2Jb\\x0d\\x0ac\\x7f'");
    /* Printable text, UTF-8 included, is kept as it is. */
    mig_error_set(MIG_EIO, "file '%s'", "caf\xc3\xa9 \xe2\x82\xac");
    ck_assert_str_eq(mig_error_last(), "file 'caf\xc3\xa9 \xe2\x82\xac'");
}
END_TEST

START_TEST(test_thread_local)
{
    pthread_t t;
    void *res;

    mig_error_set(MIG_EINVAL, "main thread");
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &res), 0);
    ck_assert_ptr_nonnull(res);
    ck_assert_str_eq(mig_error_last(), "main thread");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_set_returns_code_and_formats);
    tcase_add_test(tc, test_errno_appended);
    tcase_add_test(tc, test_wraps_previous_message);
    tcase_add_test(tc, test_thread_local);
    tcase_add_test(tc, test_control_characters_escaped);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
