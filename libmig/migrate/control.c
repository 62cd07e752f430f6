/*
 * control.c: the migration control channel (see control.h and the message
 * list in mig_migrate.h).  Never trusts the peer: lines are bounded, JSON
 * is checked for the members used, blocks are bounded by the caller.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "control.h"
#include "mig_error.h"
#include "util/io.h"

int control_init(struct control *c, int in, int out, int timeout_ms)
{
    c->in = in;
    c->out = out;
    c->timeout_ms = timeout_ms;
    c->len = 0;
    c->buf = malloc(CONTROL_MAX_LINE);
    if (!c->buf)
        return mig_error_set(MIG_ENOMEM, "out of memory for the control channel");
    return 0;
}

void control_dispose(struct control *c)
{
    free(c->buf);
    c->buf = NULL;
}

/* Read more bytes into c->buf; 0, or an error (EOF = MIG_ETRUNC). */
static int fill(struct control *c, size_t want)
{
    struct pollfd pfd = { .fd = c->in, .events = POLLIN };
    ssize_t n;
    int r;

    if (c->len >= want)
        return 0;
    do {
        r = poll(&pfd, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return mig_error_set_errno(MIG_EIO, errno, "control channel: poll");
    if (r == 0)
        return mig_error_set(MIG_EIO, "control channel: peer silent for %d ms",
                             c->timeout_ms);
    do {
        n = read(c->in, c->buf + c->len, CONTROL_MAX_LINE - c->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return mig_error_set_errno(MIG_EIO, errno, "control channel: read");
    if (n == 0)
        return mig_error_set(MIG_ETRUNC, "control channel closed by the peer "
                             "(it exited or the connection broke)");
    c->len += (size_t)n;
    return 0;
}

int control_send_blocks(struct control *c, json_object *msg, const struct iovec *blocks,
                        int n)
{
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    struct iovec iov[2 + CONTROL_MAX_BLOCKS];
    int count = 2, rc;

    if (n < 0 || n > CONTROL_MAX_BLOCKS)
        return mig_error_set(MIG_EINVAL, "%d blocks after a control message; at most %d",
                             n, CONTROL_MAX_BLOCKS);
    iov[0] = (struct iovec){ (void *)text, strlen(text) };
    iov[1] = (struct iovec){ (void *)"\n", 1 };
    for (int i = 0; i < n; i++)
        if (blocks[i].iov_len)
            iov[count++] = blocks[i];
    rc = mig_write_all_iov(c->out, iov, count, 0, "control channel: write");
    /* The hello's line holds the data key: no copy of a line outlives it. */
    OPENSSL_cleanse((char *)text, strlen(text));
    return rc;
}

int control_send(struct control *c, json_object *msg)
{
    return control_send_blocks(c, msg, NULL, 0);
}

void control_wipe_string(json_object *msg, const char *name)
{
    json_object *v;

    if (msg && json_object_object_get_ex(msg, name, &v) &&
        json_object_is_type(v, json_type_string))
        OPENSSL_cleanse((char *)json_object_get_string(v),
                        (size_t)json_object_get_string_len(v));
}

int control_send_simple(struct control *c, const char *type, const char *error)
{
    json_object *m = json_object_new_object();
    int rc;

    if (!m)
        return mig_error_set(MIG_ENOMEM, "out of memory for a control message");
    json_object_object_add(m, "msg", json_object_new_string(type));
    if (error)
        json_object_object_add(m, "error", json_object_new_string(error));
    rc = control_send(c, m);
    json_object_put(m);
    return rc;
}

int control_recv(struct control *c, const char *expect, json_object **msg_out)
{
    json_object *m = NULL, *type;
    const char *t;
    char *nl;
    size_t line;
    int rc;

    *msg_out = NULL;
    for (;;) {
        nl = memchr(c->buf, '\n', c->len);
        if (nl)
            break;
        if (c->len == CONTROL_MAX_LINE)
            return mig_error_set(MIG_ELIMIT, "control channel: a message longer "
                                 "than %d bytes: the peer is not xl-ext",
                                 CONTROL_MAX_LINE);
        rc = fill(c, c->len + 1);
        if (rc)
            return rc;
    }
    line = (size_t)(nl - c->buf);
    *nl = '\0';
    m = json_tokener_parse(c->buf);
    if (!m || !json_object_is_type(m, json_type_object) ||
        !json_object_object_get_ex(m, "msg", &type) ||
        !json_object_is_type(type, json_type_string)) {
        rc = mig_error_set(MIG_EFORMAT, "control channel: not a control message: "
                           "'%.80s'", c->buf);
        goto out;
    }
    t = json_object_get_string(type);
    if (!strcmp(t, "failed") || !strcmp(t, "refuse") || !strcmp(t, "abort")) {
        json_object *err;
        const char *text = json_object_object_get_ex(m, "error", &err)
            ? json_object_get_string(err) : "(no reason given)";

        /* refuse: pre-flight said no; abort: the source gave up; failed: error. */
        rc = mig_error_set(!strcmp(t, "refuse") ? MIG_ECOMPAT
                           : !strcmp(t, "abort") ? MIG_ECANCELLED : MIG_EIO,
                           "the peer reports '%s': %s", t, text);
        /* The caller may read more of the peer's failure (and frees it). */
        *msg_out = m;
        m = NULL;
        goto out;
    }
    if (expect && strcmp(t, expect)) {
        rc = mig_error_set(MIG_EFORMAT, "control channel: got '%s' where '%s' "
                           "was due", t, expect);
        goto out;
    }
    *msg_out = m;
    m = NULL;
    rc = 0;
out:
    if (m)
        json_object_put(m);
    memmove(c->buf, c->buf + line + 1, c->len - line - 1);
    c->len -= line + 1;
    OPENSSL_cleanse(c->buf + c->len, line + 1);    /* the line may hold a key */
    return rc;
}

int control_recv_block(struct control *c, void *data, size_t len)
{
    char *p = data;
    int rc;

    while (len) {
        size_t n;

        if (!c->len) {
            rc = fill(c, 1);
            if (rc)
                return rc;
        }
        n = c->len < len ? c->len : len;
        memcpy(p, c->buf, n);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        p += n;
        len -= n;
    }
    return 0;
}

void control_hex64(char out[17], unsigned long long value)
{
    snprintf(out, 17, "%016llx", value);
}

int control_get_hex64(json_object *msg, const char *key, unsigned long long *value)
{
    json_object *v;
    const char *s;
    char *end;

    if (!json_object_object_get_ex(msg, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return mig_error_set(MIG_EFORMAT, "control message lacks the hex string '%s'", key);
    s = json_object_get_string(v);
    errno = 0;
    *value = strtoull(s, &end, 16);
    if (errno || *end || end == s || strlen(s) > 16)
        return mig_error_set(MIG_EFORMAT, "control message: '%s' is '%.40s', not "
                             "a 64-bit hex number", key, s);
    return 0;
}

int control_get_uint(json_object *msg, const char *key, unsigned long long max,
                     unsigned long long *value)
{
    json_object *v;
    int64_t i;

    if (!json_object_object_get_ex(msg, key, &v) ||
        !json_object_is_type(v, json_type_int))
        return mig_error_set(MIG_EFORMAT, "control message lacks the integer '%s'", key);
    i = json_object_get_int64(v);
    if (i < 0 || (unsigned long long)i > max)
        return mig_error_set(MIG_EFORMAT, "control message: '%s' = %" PRId64
                             " is out of range 0..%llu", key, i, max);
    *value = (unsigned long long)i;
    return 0;
}
