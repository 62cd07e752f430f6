/*
 * emulator.c: what the Xen source needs of an HVM domain's device model
 * (qemu-xen, started by libxl):
 *  - QMP commands on libxl's QMP socket; the source switches qemu's part
 *    of log-dirty on and off with them (qemu reports the guest memory it
 *    writes itself, DMA and VRAM, only while it is on), as libxc's
 *    switch_qemu_logdirty callback has libxl do;
 *  - qemu's device state, which libxl's suspend leaves in a file, and the
 *    physmap entries qemu keeps in xenstore: the bodies of libxl's
 *    EMULATOR_CONTEXT and EMULATOR_XENSTORE_DATA records, written here in
 *    the order Xen 4.17's libxl writes them.
 *
 * Must never stop, start or otherwise change the device model beyond the
 * dirty-log switch and the live save after libxl's suspend (which gives
 * up its disk images): libxl's suspend and resume do the rest.
 */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__). */
#undef __STRICT_ANSI__

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <xenstore.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "mig_stream.h"
#include "xen_private.h"

#define QMP_LINE_MAX    (64u * 1024u)     /* longest QMP message we accept */
#define CONTEXT_MAX     (64u * 1024u * 1024u)  /* qemu's device state */

/* ---------------------------------------------------------------- QMP */

struct qmp {
    const char *path;
    int fd;
    int timeout_ms;
    char buf[QMP_LINE_MAX];
    size_t used;
};

static int qmp_closed(const struct qmp *q, const char *waiting_for)
{
    return mig_error_set(MIG_EIO, "the device model closed its QMP socket %s while %s: "
                         "is it still running? ('xl list', /var/log/xen/qemu-dm-*.log)",
                         q->path, waiting_for);
}

/*
 * The next message (one line of JSON) that is not an event; *msg is a new
 * json-c reference owned by the caller.
 */
static int qmp_receive(struct qmp *q, const char *waiting_for, json_object **msg)
{
    long long deadline = mig_clock_ms() + q->timeout_ms;

    *msg = NULL;
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->used);

        if (nl) {
            size_t line = (size_t)(nl - q->buf) + 1;
            json_object *m;

            *nl = '\0';
            m = json_tokener_parse(q->buf);
            memmove(q->buf, q->buf + line, q->used - line);
            q->used -= line;
            if (!m || !json_object_is_type(m, json_type_object)) {
                json_object_put(m);
                return mig_error_set(MIG_EFORMAT, "the device model's QMP socket %s sent "
                                     "a line that is not a JSON object while %s",
                                     q->path, waiting_for);
            }
            if (json_object_object_get_ex(m, "event", NULL)) {
                json_object_put(m);
                continue;
            }
            *msg = m;
            return 0;
        }
        if (q->used == sizeof(q->buf) - 1)
            return mig_error_set(MIG_ELIMIT, "the device model's QMP socket %s sent a "
                                 "message over %u bytes while %s", q->path,
                                 QMP_LINE_MAX, waiting_for);

        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        long long left = deadline - mig_clock_ms();
        ssize_t got;
        int ready;

        if (left <= 0)
            return mig_error_set(MIG_EIO, "the device model did not answer on its "
                                 "QMP socket %s within %d ms while %s", q->path,
                                 q->timeout_ms, waiting_for);
        ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return mig_error_set_errno(MIG_EIO, errno, "cannot wait on the device "
                                       "model's QMP socket %s", q->path);
        if (!ready)
            continue;
        got = read(q->fd, q->buf + q->used, sizeof(q->buf) - 1 - q->used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno != ECONNRESET)
            return mig_error_set_errno(MIG_EIO, errno, "cannot read the device model's "
                                       "QMP socket %s", q->path);
        if (got <= 0)
            return qmp_closed(q, waiting_for);
        q->used += (size_t)got;
    }
}

/*
 * Send text; with fd >= 0, the fd goes with its first byte (SCM_RIGHTS),
 * as QEMU wants for add-fd.
 */
static int qmp_send(struct qmp *q, const char *text, int fd)
{
    size_t len = strlen(text), done = 0;

    while (done < len) {
        ssize_t put;

        if (fd >= 0 && !done) {
            union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
            } control;
            struct iovec iov = { .iov_base = (void *)text, .iov_len = len };
            struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                                  .msg_control = control.buf,
                                  .msg_controllen = sizeof(control.buf) };
            struct cmsghdr *cmsg;

            memset(control.buf, 0, sizeof(control.buf));
            cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
            put = sendmsg(q->fd, &msg, MSG_NOSIGNAL);
        } else {
            put = send(q->fd, text + done, len - done, MSG_NOSIGNAL);
        }
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && (errno == EPIPE || errno == ECONNRESET))
            return qmp_closed(q, "sending a command");
        if (put < 0)
            return mig_error_set_errno(MIG_EIO, errno, "cannot write to the device "
                                       "model's QMP socket %s", q->path);
        done += (size_t)put;
    }
    return 0;
}

/*
 * Send one command (with fd >= 0: passing that fd); its reply must be a
 * "return" (an "error" is quoted).  With ret not NULL, *ret is the
 * return value (a new reference owned by the caller) on success.
 */
static int qmp_command(struct qmp *q, const char *command, const char *arguments,
                       int fd, json_object **ret)
{
    json_object *value;
    json_object *reply = NULL, *error, *desc;
    char *text = NULL, waiting[160];
    int rc;

    if (asprintf(&text, "{\"execute\":\"%s\"%s%s}\n", command,
                 arguments ? ",\"arguments\":" : "", arguments ? arguments : "") < 0)
        return mig_error_set(MIG_ENOMEM, "out of memory for a QMP command");
    snprintf(waiting, sizeof(waiting), "waiting for the reply to %s", command);
    rc = qmp_send(q, text, fd);
    if (!rc)
        rc = qmp_receive(q, waiting, &reply);
    if (rc)
        goto out;
    if (json_object_object_get_ex(reply, "return", &value)) {
        if (ret)
            *ret = json_object_get(value);
        rc = 0;
        goto out;
    }
    if (json_object_object_get_ex(reply, "error", &error) &&
        json_object_object_get_ex(error, "desc", &desc))
        rc = mig_error_set(MIG_EIO, "the device model refused QMP command %s: %s",
                           command, json_object_get_string(desc));
    else
        rc = mig_error_set(MIG_EFORMAT, "the device model answered QMP command %s with "
                           "neither \"return\" nor \"error\": %s", command,
                           json_object_to_json_string(reply));
out:
    json_object_put(reply);
    free(text);
    return rc;
}

static void qmp_close(struct qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    free(q);
}

/* Connect, take QEMU's greeting and leave capabilities negotiation. */
static int qmp_open(const char *path, int timeout_ms, struct qmp **q_out)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct qmp *q = NULL;
    json_object *greeting = NULL;
    int rc;

    *q_out = NULL;
    if (strlen(path) >= sizeof(addr.sun_path))
        return mig_error_set(MIG_EINVAL, "QMP socket path '%s' is too long", path);
    q = calloc(1, sizeof(*q));
    if (!q)
        return mig_error_set(MIG_ENOMEM, "out of memory for a QMP connection");
    q->path = path;
    q->timeout_ms = timeout_ms;
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot create a socket for QMP");
        goto out;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(q->fd, (struct sockaddr *)&addr, sizeof(addr))) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot connect to the device model's "
                                 "QMP socket %s: is its qemu running? ('xl list', "
                                 "/var/log/xen/qemu-dm-*.log)", path);
        goto out;
    }
    rc = qmp_receive(q, "waiting for its greeting", &greeting);
    if (rc)
        goto out;
    if (!json_object_object_get_ex(greeting, "QMP", NULL)) {
        rc = mig_error_set(MIG_EFORMAT, "%s does not greet like QMP: %s", path,
                           json_object_to_json_string(greeting));
        goto out;
    }
    rc = qmp_command(q, "qmp_capabilities", NULL, -1, NULL);
out:
    json_object_put(greeting);
    if (rc)
        qmp_close(q);
    else
        *q_out = q;
    return rc;
}

int xen_qmp_execute(const char *path, const char *command, const char *arguments,
                    int timeout_ms)
{
    struct qmp *q;
    int rc = qmp_open(path, timeout_ms, &q);

    if (!rc)
        rc = qmp_command(q, command, arguments, -1, NULL);
    qmp_close(q);
    return rc;
}

/* A reply of query-block whose devices all lack media, or an empty list. */
static bool no_media(json_object *devices)
{
    size_t n;

    if (!json_object_is_type(devices, json_type_array))
        return false;
    n = json_object_array_length(devices);
    for (size_t i = 0; i < n; i++)
        if (json_object_object_get_ex(json_object_array_get_idx(devices, i),
                                      "inserted", NULL))
            return false;
    return true;
}

/*
 * Does the device model hold any disk image?  Not when no block device
 * has media (query-block) and no block node exists at all
 * (query-named-block-nodes: every node QEMU opened has a name, its own
 * or a generated one), which is everything bdrv_inactivate_all, the part
 * of a live save that lets go of images, would touch.
 */
static int holds_images(struct qmp *q, bool *holds)
{
    json_object *devices = NULL, *nodes = NULL;
    int rc = qmp_command(q, "query-block", NULL, -1, &devices);

    if (!rc)
        rc = qmp_command(q, "query-named-block-nodes", NULL, -1, &nodes);
    if (!rc)
        *holds = !no_media(devices) || !json_object_is_type(nodes, json_type_array) ||
                 json_object_array_length(nodes) > 0;
    json_object_put(devices);
    json_object_put(nodes);
    return rc;
}

/* The live save itself, the file passed as fd (add-fd, then remove-fd). */
static int save_through_fd(struct qmp *q, int fd)
{
    json_object *added = NULL, *id;
    char args[128];
    long long fdset = -1;
    int rc = qmp_command(q, "add-fd", NULL, fd, &added);

    if (rc)
        goto out;
    if (!json_object_object_get_ex(added, "fdset-id", &id) ||
        !json_object_is_type(id, json_type_int)) {
        rc = mig_error_set(MIG_EFORMAT, "the device model answered add-fd on %s "
                           "without an fdset-id: %s", q->path,
                           json_object_to_json_string(added));
        goto out;
    }
    fdset = json_object_get_int64(id);
    snprintf(args, sizeof(args), "{\"filename\":\"/dev/fdset/%lld\",\"live\":true}",
             fdset);
    rc = qmp_command(q, "xen-save-devices-state", args, -1, NULL);
out:
    if (fdset >= 0) {
        int rc2;

        snprintf(args, sizeof(args), "{\"fdset-id\":%lld}", fdset);
        rc2 = qmp_command(q, "remove-fd", args, -1, NULL);
        if (!rc)
            rc = rc2;
    }
    json_object_put(added);
    return rc;
}

/*
 * Have the stopped device model save its state once more, with live=true:
 * QEMU then also gives up its disk images (their locks), so that the
 * destination's qemu can take them (shared storage), as libxl's own
 * migration does.  libxl_domain_suspend_only saved it with live=false.
 * The file is handed over as an fd (add-fd), as libxl does, so a qemu
 * without the right to open it still writes it.  A device model that
 * holds no image has nothing to let go of, and the state libxl's suspend
 * had it save is the same (live changes only the images): it is not
 * asked again, and the file is left as it is.
 */
int xen_emulator_save_live(const char *qmp_path, const char *save_path, int timeout_ms,
                           bool *saved)
{
    struct qmp *q = NULL;
    bool holds = true;
    int fd = -1, rc;

    *saved = false;
    rc = qmp_open(qmp_path, timeout_ms, &q);
    if (!rc)
        rc = holds_images(q, &holds);
    if (rc || !holds)
        goto out;
    fd = open(save_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot open %s for the device "
                                 "model's state", save_path);
        goto out;
    }
    rc = save_through_fd(q, fd);
    *saved = !rc;
out:
    qmp_close(q);
    if (fd >= 0)
        close(fd);
    return rc;
}

void xen_emulator_qmp_path(uint32_t domid, char *buf, size_t size)
{
    snprintf(buf, size, "/var/run/xen/qmp-libxl-%" PRIu32, domid);
}

void xen_emulator_save_path(uint32_t domid, char *buf, size_t size)
{
    snprintf(buf, size, "/var/lib/xen/qemu-save.%" PRIu32, domid);
}

/* ------------------------------------------------------- device state */

int xen_emulator_read_context(const char *path, void **out, size_t *len_out)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t done = 0;
    int fd, rc;

    *out = NULL;
    *len_out = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open the device model's "
                                   "saved state %s (libxl's suspend writes it)", path);
    if (fstat(fd, &st)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot stat %s", path);
        goto out;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > CONTEXT_MAX) {
        rc = mig_error_set(MIG_EFORMAT, "the device model's saved state %s has %lld "
                           "bytes; expected 1 to %u: did qemu's xen-save-devices-state "
                           "fail? (/var/log/xen/qemu-dm-*.log)", path,
                           (long long)st.st_size, CONTEXT_MAX);
        goto out;
    }
    data = malloc((size_t)st.st_size);
    if (!data) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %lld bytes of device state",
                           (long long)st.st_size);
        goto out;
    }
    while (done < (size_t)st.st_size) {
        ssize_t got = read(fd, data + done, (size_t)st.st_size - done);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got ? mig_error_set_errno(MIG_EIO, errno, "cannot read %s", path)
                     : mig_error_set(MIG_ETRUNC, "%s shrank while it was read", path);
            goto out;
        }
        done += (size_t)got;
    }
    *out = data;
    *len_out = done;
    data = NULL;
    rc = 0;
out:
    free(data);
    close(fd);
    return rc;
}

/* Append "key\0value\0" to *buf (*len bytes so far). */
static int append_pair(char **buf, size_t *len, const char *key, const char *value)
{
    size_t k = strlen(key) + 1, v = strlen(value) + 1;
    char *grown = realloc(*buf, *len + k + v);

    if (!grown)
        return mig_error_set(MIG_ENOMEM, "out of memory for xenstore data");
    memcpy(grown + *len, key, k);
    memcpy(grown + *len + k, value, v);
    *buf = grown;
    *len += k + v;
    return 0;
}

int xen_emulator_read_xenstore(struct xs_handle *xs, uint32_t domid, void **out,
                               size_t *len_out)
{
    static const char *const subkeys[] = { "start_addr", "size", "name" };
    char root[96], path[256], key[160];
    char **entries = NULL, *buf = NULL;
    unsigned int nr = 0;
    size_t len = 0;
    int rc = 0;

    *out = NULL;
    *len_out = 0;
    /* libxl's DEVICE_MODEL_XS_PATH for a device model in dom0 (no stubdom). */
    snprintf(root, sizeof(root), "/local/domain/0/device-model/%" PRIu32, domid);
    snprintf(path, sizeof(path), "%s/physmap", root);
    entries = xs_directory(xs, XBT_NULL, path, &nr);
    for (unsigned int i = 0; entries && i < nr && !rc; i++) {
        for (size_t j = 0; j < sizeof(subkeys) / sizeof(subkeys[0]) && !rc; j++) {
            unsigned int vlen;
            char *value;

            snprintf(key, sizeof(key), "physmap/%s/%s", entries[i], subkeys[j]);
            snprintf(path, sizeof(path), "%s/%s", root, key);
            value = xs_read(xs, XBT_NULL, path, &vlen);
            if (!value) {
                rc = mig_error_set_errno(MIG_EIO, errno, "cannot read the device "
                                         "model's xenstore entry %s", path);
                break;
            }
            rc = append_pair(&buf, &len, key, value);
            free(value);
        }
    }
    free(entries);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len_out = len;
    return 0;
}

/* ------------------------------------------------------------ records */

int xen_stream_write_emulator(struct mig_stream_writer *w, const struct xen_emulator_state *emu)
{
    struct mig_stream_body body = {
        .layer = MIG_STREAM_LAYER_LIBXL,
        .u.emulator = { .emulator_id = MIG_STREAM_EMULATOR_QEMU_UPSTREAM, .index = 0 },
    };
    int rc = 0;

    if (emu->xenstore_length > UINT32_MAX - 8 || emu->context_length > UINT32_MAX - 8 ||
        !emu->context_length)
        return mig_error_set(MIG_ELIMIT, "device model records of %zu and %zu bytes "
                             "cannot be sent (the state must be 1 byte to 4 GiB)",
                             emu->xenstore_length, emu->context_length);
    if (emu->xenstore_length) {
        body.type = MIG_LIBXL_EMULATOR_XENSTORE_DATA;
        body.u.emulator.data = emu->xenstore;
        body.u.emulator.data_length = (uint32_t)emu->xenstore_length;
        rc = mig_stream_write_body(w, &body);
    }
    if (!rc) {
        body.type = MIG_LIBXL_EMULATOR_CONTEXT;
        body.u.emulator.data = emu->context;
        body.u.emulator.data_length = (uint32_t)emu->context_length;
        rc = mig_stream_write_body(w, &body);
    }
    return rc;
}
