/*
 * test_xen_emulator.c: the Xen source's side of an HVM domain's device
 * model (libmig/backend/xen/emulator.c) without Xen or qemu:
 *  - the QMP client against a fake QMP server on a unix socket (what it
 *    sends, in order; QEMU's errors quoted; a closed, silent or foreign
 *    peer named);
 *  - qemu's saved device state read back from a file;
 *  - an HVM tail with the device model's records, read back with the
 *    codec: Xen 4.17's order (libxc END, EMULATOR_XENSTORE_DATA,
 *    EMULATOR_CONTEXT, libxl END) and the bodies as given.
 */
#include "config.h"

/* xen_private.h brings Xen's public headers, which need GNU C. */
#undef __STRICT_ANSI__

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mig_error.h"
#include "mig_stream.h"
#include "xen_private.h"

/* ------------------------------------------------------ fake QMP server */

enum fake_mode {
    FAKE_OK,            /* greeting, return for both commands, an event first */
    FAKE_REFUSE,        /* the command gets an error reply */
    FAKE_CLOSE,         /* closes after the greeting */
    FAKE_MUTE,          /* never greets */
    FAKE_SILENT,        /* greets, then never answers */
    FAKE_NOT_QMP,       /* greets with something else */
    FAKE_SAVE,          /* a disk: queries, add-fd, xen-save-devices-state
                           (writes the fd), remove-fd */
    FAKE_SAVE_REFUSE,   /* the same, refusing xen-save-devices-state */
    FAKE_SAVE_NO_IMAGES,  /* no block device, no node: only the queries */
    FAKE_SAVE_NODE_ONLY,  /* a cdrom without media, but a block node */
};

#define FAKE_STATE "qemu device state\n"

/* The client's limit where no case is about it: one of last resort, as
 * those cases end on the fake's answer or close. */
#define PATIENCE_MS 30000
/* The limit the silent-peer cases are about, and how many times the one
 * that needs the fake's greeting first is run at most (below). */
#define SILENT_LIMIT_MS 200
#define SILENT_ATTEMPTS 25

struct fake {
    enum fake_mode mode;
    char dir[64];
    char path[108];
    int listener;
    pthread_t thread;
    char received[4096];       /* every line the client sent */
    int passed_fd;             /* the first fd the client passed, or -1 */
};

/* Send text; a client that has already given up and left (EPIPE) is not
 * the fake's error. */
static void put(int fd, const char *text)
{
    ssize_t n = send(fd, text, strlen(text), MSG_NOSIGNAL);

    ck_assert_msg(n == (ssize_t)strlen(text) || (n < 0 && errno == EPIPE),
                  "the fake QMP server's write: %zd, %s", n, strerror(errno));
}

/*
 * Read one line the client sent into f->received; 0 at EOF.  An fd passed
 * with it (SCM_RIGHTS) is kept in f->passed_fd (the first only).
 */
static int take_line(struct fake *f, int fd)
{
    size_t used = strlen(f->received);
    char c;

    for (;;) {
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cmsg;
        ssize_t got = recvmsg(fd, &msg, 0);

        if (got <= 0)
            return 0;
        for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
            if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
                int passed;

                memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
                if (f->passed_fd < 0)
                    f->passed_fd = passed;
                else
                    close(passed);
            }
        if (used + 2 < sizeof(f->received))
            f->received[used++] = c;
        f->received[used] = '\0';
        if (c == '\n')
            return 1;
    }
}

/* FAKE_SAVE*: the answers to query-block and query-named-block-nodes. */
static void fake_queries(struct fake *f, int fd)
{
    if (!take_line(f, fd))                       /* query-block */
        return;
    if (f->mode == FAKE_SAVE || f->mode == FAKE_SAVE_REFUSE)
        put(fd, "{\"return\": [{\"device\": \"ide0-hd0\", \"locked\": false, "
                "\"inserted\": {\"file\": \"/srv/guest.disk\", \"ro\": false}}]}\r\n");
    else if (f->mode == FAKE_SAVE_NODE_ONLY)
        put(fd, "{\"return\": [{\"device\": \"ide1-cd0\", \"locked\": false, "
                "\"removable\": true}]}\r\n");
    else
        put(fd, "{\"return\": []}\r\n");
    if (!take_line(f, fd))                       /* query-named-block-nodes */
        return;
    if (f->mode == FAKE_SAVE_NO_IMAGES)
        put(fd, "{\"return\": []}\r\n");
    else
        put(fd, "{\"return\": [{\"node-name\": \"#block123\", \"ro\": false}]}\r\n");
}

/* FAKE_SAVE*: after qmp_capabilities, what qemu does for a live save. */
static void fake_save(struct fake *f, int fd)
{
    fake_queries(f, fd);
    if (f->mode == FAKE_SAVE_NO_IMAGES)
        return;
    if (!take_line(f, fd))                       /* add-fd, with the fd */
        return;
    put(fd, "{\"return\": {\"fdset-id\": 3, \"fd\": 9}}\r\n");
    if (!take_line(f, fd))                       /* xen-save-devices-state */
        return;
    if (f->mode == FAKE_SAVE_REFUSE) {
        put(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"An IO error "
                "has occurred\"}}\r\n");
    } else {
        if (f->passed_fd >= 0 && strstr(f->received, "/dev/fdset/3"))
            (void)!write(f->passed_fd, FAKE_STATE, strlen(FAKE_STATE));
        put(fd, "{\"return\": {}}\r\n");
    }
    if (!take_line(f, fd))                       /* remove-fd */
        return;
    put(fd, "{\"return\": {}}\r\n");
}

static void *fake_serve(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->listener, NULL, NULL);
    char c;

    if (fd < 0)
        return NULL;
    if (f->mode == FAKE_NOT_QMP) {
        put(fd, "{\"hello\": {}}\r\n");
        goto drain;
    }
    if (f->mode == FAKE_MUTE)
        goto drain;
    put(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n");
    if (f->mode == FAKE_CLOSE)
        goto out;
    if (!take_line(f, fd))
        goto out;
    if (f->mode == FAKE_SILENT)
        goto drain;
    put(fd, "{\"return\": {}}\r\n");
    if (f->mode >= FAKE_SAVE) {
        fake_save(f, fd);
        goto drain;
    }
    if (!take_line(f, fd))
        goto out;
    /* an event may come between a command and its reply */
    put(fd, "{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}\r\n");
    if (f->mode == FAKE_REFUSE)
        put(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"dirty log "
                "unavailable here\"}}\r\n");
    else
        put(fd, "{\"return\": {}}\r\n");
drain:
    while (read(fd, &c, 1) > 0)
        ;
out:
    close(fd);
    return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->passed_fd = -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/xenmig-qmp-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/qmp-libxl-7", f->dir);
    memcpy(addr.sun_path, f->path, strlen(f->path) + 1);
    f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(f->listener, 0);
    ck_assert_int_eq(bind(f->listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(f->listener, 1), 0);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->thread, NULL);
    if (f->passed_fd >= 0)
        close(f->passed_fd);
    close(f->listener);
    unlink(f->path);
    rmdir(f->dir);
}

/* One command against a fake in the given mode; f is kept for its log. */
static int run_against(struct fake *f, enum fake_mode mode, const char *command,
                       const char *arguments, int timeout_ms)
{
    int rc;

    fake_start(f, mode);
    rc = xen_qmp_execute(f->path, command, arguments, timeout_ms);
    fake_stop(f);          /* the client closed: the fake's drain ends */
    return rc;
}

START_TEST(qmp_sends_capabilities_then_the_command)
{
    struct fake f;
    const char *caps, *cmd;

    ck_assert_int_eq(run_against(&f, FAKE_OK, "xen-set-global-dirty-log",
                                 "{\"enable\":true}", PATIENCE_MS), 0);
    caps = strstr(f.received, "\"execute\":\"qmp_capabilities\"");
    cmd = strstr(f.received, "\"execute\":\"xen-set-global-dirty-log\","
                             "\"arguments\":{\"enable\":true}");
    ck_assert_msg(caps && cmd && caps < cmd, "the client sent: %s", f.received);
}
END_TEST

START_TEST(qmp_quotes_qemus_error)
{
    struct fake f;
    int rc;

    rc = run_against(&f, FAKE_REFUSE, "xen-set-global-dirty-log", "{\"enable\":false}",
                     PATIENCE_MS);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "xen-set-global-dirty-log"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "dirty log unavailable here"));
}
END_TEST

START_TEST(qmp_names_a_closed_socket)
{
    struct fake f;
    int rc;

    rc = run_against(&f, FAKE_CLOSE, "cont", NULL, PATIENCE_MS);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "closed its QMP socket"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), f.path));
}
END_TEST

/* A peer that never greets: whenever the fake runs, the client gives up
 * waiting for the greeting. */
START_TEST(qmp_gives_up_on_a_mute_peer)
{
    struct fake f;
    int rc;

    rc = run_against(&f, FAKE_MUTE, "cont", NULL, SILENT_LIMIT_MS);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "within 200 ms"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "waiting for its greeting"));
}
END_TEST

/*
 * A peer that greets, then never answers: the client gives up naming the
 * command it waited for.  The greeting comes from the fake's thread, which
 * a loaded machine may run later than the client's 200 ms for it; such an
 * attempt ends waiting for the greeting (the case above), says nothing of
 * this one and is made again, SILENT_ATTEMPTS times at most.
 */
START_TEST(qmp_gives_up_on_a_silent_peer)
{
    struct fake f;
    int rc = 0, attempts = 0;

    do {
        rc = run_against(&f, FAKE_SILENT, "cont", NULL, SILENT_LIMIT_MS);
        attempts++;
    } while (rc == MIG_EIO && strstr(mig_error_last(), "waiting for its greeting") &&
             attempts < SILENT_ATTEMPTS);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_msg(strstr(mig_error_last(), "within 200 ms") &&
                  strstr(mig_error_last(), "qmp_capabilities"),
                  "after %d attempt(s): %s", attempts, mig_error_last());
}
END_TEST

START_TEST(qmp_refuses_a_peer_that_is_not_qmp)
{
    struct fake f;
    int rc;

    rc = run_against(&f, FAKE_NOT_QMP, "cont", NULL, PATIENCE_MS);
    ck_assert_int_eq(rc, MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "does not greet like QMP"));
}
END_TEST

START_TEST(qmp_names_a_missing_socket)
{
    int rc = xen_qmp_execute("/nonexistent/qmp-libxl-9", "cont", NULL, 1000);

    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "/nonexistent/qmp-libxl-9"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "is its qemu running"));
}
END_TEST

/* The live save: the file goes as an fd, qemu writes it, the fdset goes. */
static void live_save(enum fake_mode mode, char *received, size_t size, int *rc_out,
                      bool *saved, char *content, size_t content_size)
{
    struct fake f;
    char path[] = "/tmp/xenmig-qemu-save-XXXXXX";
    int fd = mkstemp(path);
    ssize_t got;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "stale", 5), 5);       /* libxl's first save */
    close(fd);
    fake_start(&f, mode);
    *rc_out = xen_emulator_save_live(f.path, path, PATIENCE_MS, saved);
    fake_stop(&f);
    snprintf(received, size, "%s", f.received);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    got = read(fd, content, content_size - 1);
    ck_assert_int_ge(got, 0);
    content[got] = '\0';
    close(fd);
    unlink(path);
}

START_TEST(live_save_passes_the_file_and_lets_go_of_the_disks)
{
    char received[4096], content[64];
    const char *query, *add, *save, *remove;
    bool saved = false;
    int rc;

    live_save(FAKE_SAVE, received, sizeof(received), &rc, &saved, content,
              sizeof(content));
    ck_assert_msg(rc == 0, "%s", mig_error_last());
    ck_assert(saved);
    query = strstr(received, "\"execute\":\"query-block\"");
    add = strstr(received, "\"execute\":\"add-fd\"");
    save = strstr(received, "\"execute\":\"xen-save-devices-state\",\"arguments\":"
                            "{\"filename\":\"/dev/fdset/3\",\"live\":true}");
    remove = strstr(received, "\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":3}");
    ck_assert_msg(query && add && save && remove && query < add && add < save &&
                  save < remove, "the client sent: %s", received);
    /* qemu wrote through the fd it was given; libxl's first save is gone */
    ck_assert_str_eq(content, FAKE_STATE);
}
END_TEST

/* No image to let go of: qemu is not asked to save; libxl's file stays. */
START_TEST(live_save_skipped_without_images)
{
    char received[4096], content[64];
    bool saved = true;
    int rc;

    live_save(FAKE_SAVE_NO_IMAGES, received, sizeof(received), &rc, &saved, content,
              sizeof(content));
    ck_assert_msg(rc == 0, "%s", mig_error_last());
    ck_assert(!saved);
    ck_assert_msg(strstr(received, "\"execute\":\"query-named-block-nodes\"") &&
                  !strstr(received, "add-fd") && !strstr(received, "xen-save-devices-state"),
                  "the client sent: %s", received);
    ck_assert_str_eq(content, "stale");
}
END_TEST

/* A device without media but a block node: saved, as with a disk. */
START_TEST(live_save_kept_for_a_block_node)
{
    char received[4096], content[64];
    bool saved = false;
    int rc;

    live_save(FAKE_SAVE_NODE_ONLY, received, sizeof(received), &rc, &saved, content,
              sizeof(content));
    ck_assert_msg(rc == 0, "%s", mig_error_last());
    ck_assert(saved);
    ck_assert_str_eq(content, FAKE_STATE);
}
END_TEST

START_TEST(live_save_refused_is_quoted_and_cleaned_up)
{
    char received[4096], content[64];
    bool saved = true;
    int rc;

    live_save(FAKE_SAVE_REFUSE, received, sizeof(received), &rc, &saved, content,
              sizeof(content));
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert(!saved);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "xen-save-devices-state"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "An IO error has occurred"));
    ck_assert_msg(strstr(received, "\"execute\":\"remove-fd\""),
                  "no remove-fd after the refusal: %s", received);
}
END_TEST

START_TEST(live_save_names_a_file_it_cannot_open)
{
    struct fake f;
    bool saved = true;
    int rc;

    fake_start(&f, FAKE_SAVE);
    rc = xen_emulator_save_live(f.path, "/nonexistent/dir/qemu-save.9", PATIENCE_MS,
                                &saved);
    fake_stop(&f);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert(!saved);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "/nonexistent/dir/qemu-save.9"));
}
END_TEST

START_TEST(libxl_paths)
{
    char buf[108];

    xen_emulator_qmp_path(12, buf, sizeof(buf));
    ck_assert_str_eq(buf, "/var/run/xen/qmp-libxl-12");
    xen_emulator_save_path(12, buf, sizeof(buf));
    ck_assert_str_eq(buf, "/var/lib/xen/qemu-save.12");
}
END_TEST

/* ------------------------------------------------------ saved state */

START_TEST(context_is_read_whole)
{
    char path[] = "/tmp/xenmig-qemu-save-XXXXXX";
    uint8_t state[10000];
    void *got = NULL;
    size_t len = 0;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    for (size_t i = 0; i < sizeof(state); i++)
        state[i] = (uint8_t)(i * 7 + 3);
    ck_assert_int_eq(write(fd, state, sizeof(state)), (ssize_t)sizeof(state));
    close(fd);
    ck_assert_int_eq(xen_emulator_read_context(path, &got, &len), 0);
    ck_assert_uint_eq(len, sizeof(state));
    ck_assert_mem_eq(got, state, sizeof(state));
    free(got);
    /* an empty file is qemu's save having failed */
    ck_assert_int_eq(truncate(path, 0), 0);
    ck_assert_int_eq(xen_emulator_read_context(path, &got, &len), MIG_EFORMAT);
    ck_assert_ptr_null(got);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), path));
    unlink(path);
    ck_assert_int_eq(xen_emulator_read_context(path, &got, &len), MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), path));
}
END_TEST

/* ------------------------------------------------------ the tail */

static const char physmap[] = "physmap/f0000000/start_addr\0f0000000\0"
                              "physmap/f0000000/size\0800000\0"
                              "physmap/f0000000/name\0vga.vram";
static const uint8_t qemu_state[] = "QEVM\0\0\0\3 some device state";
static const uint8_t hvm_context[64] = { 1, 2, 3, 4 };
static const uint64_t params[] = { 1 /* STORE_PFN */, 0xfeffc, 5 /* IOREQ_PFN */, 0xfeff0 };

struct want {
    enum mig_stream_layer layer;
    uint32_t type;
};

/* Write a tail and read it back record by record against want[]. */
static void check_tail(const struct xen_emulator_state *emu, const struct want *want,
                       size_t nr)
{
    struct xen_hvm_tail tail = {
        .tsc_mode = 1, .tsc_khz = 2000000, .tsc_incarnation = 3, .tsc_nsec = 4,
        .context = hvm_context, .context_length = sizeof(hvm_context),
        .params = params, .nr_params = 2, .emulator = emu,
    };
    static const char config[] = "{\"c_info\":{\"type\":\"hvm\",\"name\":\"g\"}}";
    static const uint32_t leaves[1][6] = { { 0, 0, 0xd, 1, 2, 3 } };
    static const uint32_t msrs[1][4] = { { 0xce, 0, 0x80000000u, 0 } };
    struct xen_stream_head head = {
        .config = config, .config_length = sizeof(config), .json = true,
        .xen_major = 4, .xen_minor = 17,
        .cpuid_leaves = leaves, .cpuid_length = sizeof(leaves),
        .msrs = msrs, .msrs_length = sizeof(msrs),
    };
    struct mig_stream_writer *w = NULL;
    struct mig_stream_reader *r = NULL;
    struct mig_stream_record rec;
    struct mig_stream_body body;
    const uint8_t *data;
    size_t size, i = 0;
    int rc;

    bool in_tail = false;

    /* a whole stream (HVM head, no pages, the tail) so that the codec reads it */
    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(xen_stream_write_head(w, &head), 0);
    ck_assert_int_eq(xen_stream_write_hvm_tail(w, &tail), 0);
    ck_assert_int_eq(mig_stream_writer_buffer(w, &data, &size), 0);
    ck_assert_int_eq(mig_stream_reader_open_mem(&r, data, size, NULL), 0);
    while ((rc = mig_stream_read_record(r, &rec)) == 0) {
        if (rec.kind != MIG_STREAM_ITEM_RECORD)
            continue;
        in_tail = in_tail || (rec.layer == MIG_STREAM_LAYER_LIBXC &&
                              rec.type == MIG_LIBXC_X86_TSC_INFO);
        if (!in_tail)
            continue;
        ck_assert_msg(i < nr, "record %zu (%s) beyond the %zu expected", i,
                      mig_stream_type_name(rec.layer, rec.type), nr);
        ck_assert_msg(rec.layer == want[i].layer && rec.type == want[i].type,
                      "record %zu is %s, expected %s", i,
                      mig_stream_type_name(rec.layer, rec.type),
                      mig_stream_type_name(want[i].layer, want[i].type));
        ck_assert_int_eq(mig_stream_decode_body(&rec, &body), 0);
        if (rec.layer == MIG_STREAM_LAYER_LIBXL &&
            (rec.type == MIG_LIBXL_EMULATOR_CONTEXT ||
             rec.type == MIG_LIBXL_EMULATOR_XENSTORE_DATA)) {
            bool context = rec.type == MIG_LIBXL_EMULATOR_CONTEXT;

            ck_assert_uint_eq(body.u.emulator.emulator_id,
                              MIG_STREAM_EMULATOR_QEMU_UPSTREAM);
            ck_assert_uint_eq(body.u.emulator.index, 0);
            ck_assert_uint_eq(body.u.emulator.data_length,
                              context ? emu->context_length : emu->xenstore_length);
            ck_assert_mem_eq(body.u.emulator.data, context ? emu->context : emu->xenstore,
                             body.u.emulator.data_length);
        }
        if (rec.layer == MIG_STREAM_LAYER_LIBXC && rec.type == MIG_LIBXC_HVM_PARAMS) {
            ck_assert_uint_eq(body.u.hvm_params.count, 2);
            ck_assert_uint_eq(mig_stream_hvm_param_at(body.u.hvm_params.entries, 1).value,
                              0xfeff0);
        }
        i++;
    }
    ck_assert_msg(rc == 1, "stream ended with %d: %s", rc, mig_error_last());
    ck_assert_uint_eq(i, nr);
    ck_assert_uint_eq(mig_stream_reader_offset(r), size);
    mig_stream_reader_close(r);
    mig_stream_writer_close(w);
}

#define LIBXC(t) { MIG_STREAM_LAYER_LIBXC, t }
#define LIBXL(t) { MIG_STREAM_LAYER_LIBXL, t }

START_TEST(hvm_tail_carries_the_device_model)
{
    struct xen_emulator_state emu = {
        .xenstore = physmap, .xenstore_length = sizeof(physmap),
        .context = qemu_state, .context_length = sizeof(qemu_state),
    };
    static const struct want want[] = {
        LIBXC(MIG_LIBXC_X86_TSC_INFO), LIBXC(MIG_LIBXC_HVM_CONTEXT),
        LIBXC(MIG_LIBXC_HVM_PARAMS), LIBXC(MIG_LIBXC_END),
        LIBXL(MIG_LIBXL_EMULATOR_XENSTORE_DATA), LIBXL(MIG_LIBXL_EMULATOR_CONTEXT),
        LIBXL(MIG_LIBXL_END),
    };

    check_tail(&emu, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(hvm_tail_without_physmap)
{
    struct xen_emulator_state emu = {
        .context = qemu_state, .context_length = sizeof(qemu_state),
    };
    static const struct want want[] = {
        LIBXC(MIG_LIBXC_X86_TSC_INFO), LIBXC(MIG_LIBXC_HVM_CONTEXT),
        LIBXC(MIG_LIBXC_HVM_PARAMS), LIBXC(MIG_LIBXC_END),
        LIBXL(MIG_LIBXL_EMULATOR_CONTEXT), LIBXL(MIG_LIBXL_END),
    };

    check_tail(&emu, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(pvh_tail_has_no_device_model)
{
    static const struct want want[] = {
        LIBXC(MIG_LIBXC_X86_TSC_INFO), LIBXC(MIG_LIBXC_HVM_CONTEXT),
        LIBXC(MIG_LIBXC_HVM_PARAMS), LIBXC(MIG_LIBXC_END), LIBXL(MIG_LIBXL_END),
    };

    check_tail(NULL, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(empty_device_state_is_refused)
{
    struct xen_emulator_state emu = { .xenstore = physmap,
                                      .xenstore_length = sizeof(physmap) };
    struct mig_stream_writer *w = NULL;

    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(xen_stream_write_emulator(w, &emu), MIG_ELIMIT);
    ck_assert_uint_eq(mig_stream_writer_offset(w), 0);
    mig_stream_writer_close(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xen_emulator");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    /* Above SILENT_ATTEMPTS of the silent peer's limit, and more. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, qmp_sends_capabilities_then_the_command);
    tcase_add_test(tc, qmp_quotes_qemus_error);
    tcase_add_test(tc, qmp_names_a_closed_socket);
    tcase_add_test(tc, qmp_gives_up_on_a_mute_peer);
    tcase_add_test(tc, qmp_gives_up_on_a_silent_peer);
    tcase_add_test(tc, qmp_refuses_a_peer_that_is_not_qmp);
    tcase_add_test(tc, qmp_names_a_missing_socket);
    tcase_add_test(tc, live_save_passes_the_file_and_lets_go_of_the_disks);
    tcase_add_test(tc, live_save_skipped_without_images);
    tcase_add_test(tc, live_save_kept_for_a_block_node);
    tcase_add_test(tc, live_save_refused_is_quoted_and_cleaned_up);
    tcase_add_test(tc, live_save_names_a_file_it_cannot_open);
    tcase_add_test(tc, libxl_paths);
    tcase_add_test(tc, context_is_read_whole);
    tcase_add_test(tc, hvm_tail_carries_the_device_model);
    tcase_add_test(tc, hvm_tail_without_physmap);
    tcase_add_test(tc, pvh_tail_has_no_device_model);
    tcase_add_test(tc, empty_device_state_is_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
