/*
 * test_switchover_costs.c: the per-host store of the switchover's fixed
 * costs (xl-ext/switchover_costs.c): figures learned and read back, the
 * median over the last samples, a probe's seed, hostile files ignored
 * whole (and replaced by the next migration's), and a write that fails
 * leaving the old file as it was and no temporary file behind.  Each test
 * runs in its own process (Check's fork) with its own XENMIG_STATE_DIR.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mig_error.h"
#include "switchover_costs.h"

const char *xl_ext_prog = "xl-ext";

static char top[64];
static char path[4096];

/* A fresh state directory (not created yet: the store makes it). */
static void fresh_dir(void)
{
    char dir[128];

    snprintf(top, sizeof(top), "/tmp/xenmig-costs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/state/sub", top);
    setenv("XENMIG_STATE_DIR", dir, 1);
    switchover_costs_path(path, sizeof(path));
    /* without a fork per test (CK_FORK=no, as under valgrind) an earlier
     * test's warning would silence this one's */
    switchover_costs_forget_warnings();
}

static void remove_all(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}

/* A result whose switchover parts are these ms. */
static struct mig_migrate_result result_of(double pause, double state, double dest,
                                           double resume)
{
    struct mig_migrate_result r;

    memset(&r, 0, sizeof(r));
    r.succeeded = true;
    r.downtime_parts.pause = pause / 1e3;
    r.downtime_parts.state = state / 1e3;
    r.downtime_parts.destination = dest / 1e3;
    r.downtime_parts.resume = resume / 1e3;
    return r;
}

static void write_store(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The names in the store's directory, space-separated, into buf. */
static void dir_names(char *buf, size_t size)
{
    char dir[4096];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    buf[0] = '\0';
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(buf + strlen(buf), size - strlen(buf), "%s ", e->d_name);
    closedir(d);
}

START_TEST(test_learn_and_read_back)
{
    struct mig_migrate_result r = result_of(300, 20, 900, 180);
    struct switchover_costs c;
    struct stat st;
    char names[256];

    fresh_dir();
    ck_assert(!switchover_costs_lookup("xen-pvh", &c));
    ck_assert_int_eq(switchover_costs_learn("xen-pvh", &r), 0);
    ck_assert(switchover_costs_lookup("xen-pvh", &c));
    ck_assert_uint_eq(c.learned, 1);
    ck_assert(!c.seeded);
    ck_assert_double_eq_tol(c.median.pause_ms, 300, 1e-3);
    ck_assert_double_eq_tol(c.median.state_ms, 20, 1e-3);
    ck_assert_double_eq_tol(c.median.destination_ms, 900, 1e-3);
    ck_assert_double_eq_tol(c.median.resume_ms, 180, 1e-3);
    ck_assert_double_eq_tol(c.fixed_ms, 1400, 1e-3);
    /* the other keys learned nothing */
    ck_assert(!switchover_costs_lookup("xen-hvm", &c));
    ck_assert(!switchover_costs_lookup("sim", &c));
    /* the directory made 0755, the file 0644, nothing else beside it */
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    *strrchr(path, '/') = '\0';
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    switchover_costs_path(path, sizeof(path));
    dir_names(names, sizeof(names));
    ck_assert_str_eq(names, SWITCHOVER_COSTS_FILE " ");
    remove_all();
}
END_TEST

/* Eight samples are kept, and one odd migration moves a median by one place. */
START_TEST(test_median_of_last_eight)
{
    struct switchover_costs c;
    struct mig_migrate_result r;

    fresh_dir();
    for (unsigned int i = 0; i < 12; i++) {
        /* 4 early ones of 50 ms, then 100 ms, one of them 5000 ms */
        double pause = i < 4 ? 50 : i == 7 ? 5000 : 100;

        r = result_of(pause, 1, 2, 3);
        ck_assert_int_eq(switchover_costs_learn("sim", &r), 0);
    }
    ck_assert(switchover_costs_lookup("sim", &c));
    ck_assert_uint_eq(c.learned, 12);
    ck_assert_double_eq_tol(c.median.pause_ms, 100, 1e-3);
    ck_assert_double_eq_tol(c.fixed_ms, 106, 1e-3);
    remove_all();
}
END_TEST

/* The policy's overhead comes from the store, and the summary's source with it. */
START_TEST(test_use_sets_the_overhead)
{
    struct mig_precopy_options policy = MIG_PRECOPY_OPTIONS_INIT;
    struct migrate_output out = { .fixed_cost_learned = 7, .fixed_cost_seeded = true };
    struct mig_migrate_result r = result_of(300.4, 20, 900, 180);

    fresh_dir();
    switchover_costs_use("xen-pv", &policy, &out);
    ck_assert_uint_eq(policy.overhead_ms, 20);          /* no history: the default */
    ck_assert_uint_eq(out.fixed_cost_learned, 0);
    ck_assert(!out.fixed_cost_seeded);
    ck_assert_int_eq(switchover_costs_learn("xen-pv", &r), 0);
    switchover_costs_use("xen-pv", &policy, &out);
    ck_assert_uint_eq(policy.overhead_ms, 1400);
    ck_assert_uint_eq(out.fixed_cost_learned, 1);
    remove_all();
}
END_TEST

/* A probe seeds a key that learned nothing; the first migration replaces it. */
START_TEST(test_seed)
{
    struct switchover_parts probe = { 10, 1, 40, 5 };
    struct switchover_parts nan = { 0, 0, 0.0 / 0.0, 0 };
    struct mig_migrate_result r = result_of(30, 2, 80, 8);
    struct switchover_costs c;

    fresh_dir();
    ck_assert_int_eq(switchover_costs_seed("xen-hvm", &probe), 0);
    ck_assert(switchover_costs_lookup("xen-hvm", &c));
    ck_assert(c.seeded);
    ck_assert_uint_eq(c.learned, 0);
    ck_assert_double_eq_tol(c.fixed_ms, 56, 1e-3);
    ck_assert_int_eq(switchover_costs_learn("xen-hvm", &r), 0);
    ck_assert(switchover_costs_lookup("xen-hvm", &c));
    ck_assert(!c.seeded);
    ck_assert_uint_eq(c.learned, 1);
    ck_assert_double_eq_tol(c.fixed_ms, 120, 1e-3);     /* the probe is gone */
    ck_assert_int_eq(switchover_costs_seed("xen-hvm", &probe), 0);
    ck_assert(switchover_costs_lookup("xen-hvm", &c));
    ck_assert_double_eq_tol(c.fixed_ms, 120, 1e-3);     /* and stays gone */
    ck_assert_int_eq(switchover_costs_seed("xen-hvm", &nan), MIG_EINVAL);
    ck_assert_int_eq(switchover_costs_seed("xen-arm", &probe), MIG_EINVAL);
    ck_assert_str_eq(switchover_costs_key("sim", false), "sim");
    ck_assert_str_eq(switchover_costs_key("pv", false), "xen-pv");
    ck_assert_str_eq(switchover_costs_key("pvh", false), "xen-pvh");
    ck_assert_str_eq(switchover_costs_key("hvm", false), "xen-hvm");
    ck_assert_str_eq(switchover_costs_key("sim", true), "sim-save");
    ck_assert_str_eq(switchover_costs_key("pv", true), "xen-pv-save");
    ck_assert_str_eq(switchover_costs_key("pvh", true), "xen-pvh-save");
    ck_assert_str_eq(switchover_costs_key("hvm", true), "xen-hvm-save");
    ck_assert_str_eq(switchover_costs_key("x86", true), "xen-hvm-save");
    /* a save's figures are its own: learning one leaves the migration's key */
    ck_assert_int_eq(switchover_costs_learn("xen-pv-save", &r), 0);
    ck_assert(switchover_costs_lookup("xen-pv-save", &c));
    ck_assert(!switchover_costs_lookup("xen-pv", &c));
    remove_all();
}
END_TEST

#define ENTRY(count, p, s, d, r) \
    "{\"version\":1,\"costs\":{\"sim\":{\"count\":" count ",\"pause_ms\":" p \
    ",\"state_ms\":" s ",\"destination_ms\":" d ",\"resume_ms\":" r "}}}"

static const char *const hostile[] = {
    "",
    "not json",
    "[]",
    "{\"version\":1,\"costs\":{}} trailing",
    "{\"version\":2,\"costs\":{}}",
    "{\"version\":\"1\",\"costs\":{}}",
    "{\"version\":1,\"costs\":[]}",
    "{\"version\":1,\"costs\":{},\"more\":1}",
    "{\"version\":1,\"costs\":{\"xen-arm\":{}}}",
    ENTRY("\"1\"", "[1]", "[1]", "[1]", "[1]"),                 /* count a string */
    ENTRY("1.5", "[1]", "[1]", "[1]", "[1]"),                   /* count not whole */
    ENTRY("-1", "[1]", "[1]", "[1]", "[1]"),                    /* count negative */
    ENTRY("1000000000000", "[1]", "[1]", "[1]", "[1]"),         /* count huge */
    ENTRY("99999999999999999999999", "[1]", "[1]", "[1]", "[1]"),
    ENTRY("1", "[-1]", "[1]", "[1]", "[1]"),                    /* negative */
    ENTRY("1", "[1e308]", "[1]", "[1]", "[1]"),                 /* huge */
    ENTRY("1", "[3600001]", "[1]", "[1]", "[1]"),               /* over an hour */
    ENTRY("1", "[99999999999999999999999]", "[1]", "[1]", "[1]"),
    ENTRY("1", "[NaN]", "[1]", "[1]", "[1]"),                   /* not JSON, nor a number */
    ENTRY("1", "[Infinity]", "[1]", "[1]", "[1]"),
    ENTRY("1", "[\"1\"]", "[1]", "[1]", "[1]"),                 /* a string */
    ENTRY("1", "[[1]]", "[1]", "[1]", "[1]"),                   /* nested */
    ENTRY("1", "[null]", "[1]", "[1]", "[1]"),
    ENTRY("1", "1", "[1]", "[1]", "[1]"),                       /* not an array */
    ENTRY("3", "[1,2]", "[1,2]", "[1,2]", "[1,2]"),             /* fewer than counted */
    ENTRY("9", "[1,1,1,1,1,1,1,1,1]", "[1]", "[1]", "[1]"),     /* more than kept */
    ENTRY("2", "[1,2]", "[1]", "[1,2]", "[1,2]"),               /* parts disagree */
    ENTRY("0", "[1,2]", "[1,2]", "[1,2]", "[1,2]"),             /* a probe is one sample */
    "{\"version\":1,\"costs\":{\"sim\":{\"count\":1,\"pause_ms\":[1],\"state_ms\":[1],"
    "\"destination_ms\":[1],\"resume_ms\":[1],\"extra\":[1]}}}",
    "{\"version\":1,\"costs\":{\"sim\":{\"count\":1,\"pause_ms\":[1],\"state_ms\":[1],"
    "\"destination_ms\":[1],\"resume_ms\":[1]}",                  /* cut short */
};

START_TEST(test_hostile_file_ignored)
{
    struct mig_migrate_result r = result_of(1, 2, 3, 4);
    struct switchover_costs c;

    fresh_dir();
    ck_assert_int_eq(switchover_costs_learn("sim", &r), 0);   /* makes the directory */
    write_store(hostile[_i], strlen(hostile[_i]));
    ck_assert_msg(!switchover_costs_lookup("sim", &c), "trusted: %s", hostile[_i]);
    ck_assert_uint_eq(c.learned, 0);
    ck_assert_double_eq(c.fixed_ms, 0);
    /* the next migration replaces it whole */
    ck_assert_int_eq(switchover_costs_learn("sim", &r), 0);
    ck_assert(switchover_costs_lookup("sim", &c));
    ck_assert_uint_eq(c.learned, 1);
    remove_all();
}
END_TEST

/* A thousand keys, a NUL byte, a file larger than a store can be, a deep document. */
START_TEST(test_hostile_shapes_ignored)
{
    struct mig_migrate_result r = result_of(1, 2, 3, 4);
    struct switchover_costs c;
    size_t size = 200 * 1024, n = 0;
    char *text = malloc(size);

    ck_assert_ptr_nonnull(text);
    fresh_dir();
    ck_assert_int_eq(switchover_costs_learn("sim", &r), 0);
    n = (size_t)snprintf(text, size, "{\"version\":1,\"costs\":{");
    for (unsigned int i = 0; i < 1000; i++)
        n += (size_t)snprintf(text + n, size - n, "%s\"k%u\":{}", i ? "," : "", i);
    n += (size_t)snprintf(text + n, size - n, "}}");
    write_store(text, n);
    ck_assert(!switchover_costs_lookup("sim", &c));
    write_store("{\"version\":1,\0\"costs\":{}}", 25);
    ck_assert(!switchover_costs_lookup("sim", &c));
    memset(text, ' ', size);
    memcpy(text, "{\"version\":1,\"costs\":{}", 23);
    text[size - 1] = '}';
    write_store(text, size);
    ck_assert(!switchover_costs_lookup("sim", &c));
    n = 0;
    for (unsigned int i = 0; i < 5000; i++)
        text[n++] = '[';
    write_store(text, n);
    ck_assert(!switchover_costs_lookup("sim", &c));
    free(text);
    remove_all();
}
END_TEST

/*
 * A write that fails (the file size limit stops the temporary file, which
 * works as root too) leaves the old file as it was and no temporary file;
 * the warning names the path and the system's error, once.
 */
START_TEST(test_failed_write_keeps_the_old_file)
{
    struct mig_migrate_result r = result_of(1, 2, 3, 4);
    struct rlimit small, saved;
    struct switchover_costs c;
    char names[256], before[4096], after[4096], err[4096] = "";
    FILE *f;
    size_t n;
    int pipefd[2], rc[2], saved_err;

    fresh_dir();
    ck_assert_int_eq(switchover_costs_learn("xen-pv", &r), 0);
    f = fopen(path, "r");
    n = fread(before, 1, sizeof(before) - 1, f);
    before[n] = '\0';
    fclose(f);
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 64;
    ck_assert_int_eq(pipe(pipefd), 0);       /* stderr to a pipe: a file has the limit */
    saved_err = dup(2);
    ck_assert_int_ge(saved_err, 0);
    ck_assert_int_ge(dup2(pipefd[1], 2), 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    rc[0] = switchover_costs_learn("xen-pv", &r);
    rc[1] = switchover_costs_learn("xen-pv", &r);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);   /* Check writes files too */
    ck_assert_int_eq(rc[0], MIG_EIO);
    ck_assert_int_eq(rc[1], MIG_EIO);
    close(2);
    close(pipefd[1]);
    n = (size_t)read(pipefd[0], err, sizeof(err) - 1);
    err[n] = '\0';
    close(pipefd[0]);
    ck_assert_int_ge(dup2(saved_err, 2), 0);  /* stderr back, for what runs next */
    close(saved_err);
    ck_assert_msg(strstr(err, path) && strstr(err, "File too large"), "warned: %s", err);
    ck_assert_ptr_nonnull(strstr(err, "cannot keep the switchover costs"));
    ck_assert_ptr_eq(strchr(err, '\n'), strrchr(err, '\n'));    /* once: one line */
    f = fopen(path, "r");
    n = fread(after, 1, sizeof(after) - 1, f);
    after[n] = '\0';
    fclose(f);
    ck_assert_str_eq(after, before);
    dir_names(names, sizeof(names));
    ck_assert_str_eq(names, SWITCHOVER_COSTS_FILE " ");
    ck_assert(switchover_costs_lookup("xen-pv", &c));
    ck_assert_uint_eq(c.learned, 1);
    remove_all();
}
END_TEST

/* A state directory that cannot be made: warned about, nothing learned, no crash. */
START_TEST(test_unwritable_directory)
{
    struct mig_migrate_result r = result_of(1, 2, 3, 4);
    struct switchover_costs c;
    char dir[128], err[4096] = "";
    size_t n;
    int fd, saved_err;

    fresh_dir();
    snprintf(dir, sizeof(dir), "%s/file", top);
    fd = open(dir, O_CREAT | O_WRONLY, 0644);                /* a file, not a directory */
    ck_assert_int_ge(fd, 0);
    close(fd);
    strcat(dir, "/state");
    setenv("XENMIG_STATE_DIR", dir, 1);
    fd = open(top, O_TMPFILE | O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    saved_err = dup(2);
    ck_assert_int_ge(saved_err, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    ck_assert_int_eq(switchover_costs_learn("sim", &r), MIG_EIO);
    ck_assert(!switchover_costs_lookup("sim", &c));
    n = (size_t)pread(fd, err, sizeof(err) - 1, 0);
    err[n] = '\0';
    ck_assert_int_ge(dup2(saved_err, 2), 0);
    close(saved_err);
    close(fd);
    ck_assert_ptr_nonnull(strstr(err, dir));
    ck_assert_ptr_nonnull(strstr(err, "Not a directory"));
    remove_all();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("switchover_costs");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_learn_and_read_back);
    tcase_add_test(tc, test_median_of_last_eight);
    tcase_add_test(tc, test_use_sets_the_overhead);
    tcase_add_test(tc, test_seed);
    tcase_add_loop_test(tc, test_hostile_file_ignored, 0,
                        (int)(sizeof(hostile) / sizeof(hostile[0])));
    tcase_add_test(tc, test_hostile_shapes_ignored);
    tcase_add_test(tc, test_failed_write_keeps_the_old_file);
    tcase_add_test(tc, test_unwritable_directory);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
