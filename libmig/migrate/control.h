/*
 * control.h: the control channel of a migration (internal to libmig).
 * One JSON object per line (json-c), at most CONTROL_MAX_LINE bytes, plus
 * raw byte blocks whose length a preceding line announced.  Never trusts a
 * peer's length or JSON.
 */
#ifndef XENMIG_MIGRATE_CONTROL_H
#define XENMIG_MIGRATE_CONTROL_H

#include <stddef.h>
#include <sys/uio.h>

#include <json-c/json.h>

#define CONTROL_MAX_LINE (64 * 1024)
#define CONTROL_MAX_BLOCK (64 * 1024 * 1024)

struct control {
    int in, out;
    int timeout_ms;
    char *buf;          /* bytes read but not consumed */
    size_t len;
};

/* Set up c over the fds (not owned: never closed here). */
int control_init(struct control *c, int in, int out, int timeout_ms);
void control_dispose(struct control *c);

/* Send msg (not consumed) as one line; the serialised line is wiped after. */
int control_send(struct control *c, json_object *msg);

/*
 * The same line followed by the n raw blocks (n <= CONTROL_MAX_BLOCKS, an
 * empty one skipped; not consumed), in one writev: a message and what goes
 * with it leave together, one system call instead of one per piece, and
 * never a lone newline after its line.  MIG_EINVAL (nothing written) for
 * more blocks.
 */
#define CONTROL_MAX_BLOCKS 4
int control_send_blocks(struct control *c, json_object *msg, const struct iovec *blocks,
                        int n);

/* Overwrite msg's string member name with zeros (a key), if it has one. */
void control_wipe_string(json_object *msg, const char *name);

/* Send {"msg": type} plus, if error is not NULL, "error": error. */
int control_send_simple(struct control *c, const char *type, const char *error);

/*
 * Receive one message; *msg_out is a new reference owned by the caller
 * (json_object_put).  If expect is not NULL and the message's "msg" is
 * neither expect nor "failed"/"refuse"/"abort", MIG_EFORMAT names both.
 * A "refuse" message is returned as MIG_ECOMPAT, "abort" as MIG_ECANCELLED
 * and "failed" as MIG_EIO, each with the peer's error text in the message;
 * *msg_out is then that message (owned by the caller, as on success), so
 * the caller can read more of it.
 */
int control_recv(struct control *c, const char *expect, json_object **msg_out);

int control_recv_block(struct control *c, void *data, size_t len);

/* 64-bit values travel as 16 hex digits (JSON numbers are doubles). */
void control_hex64(char out[17], unsigned long long value);
int control_get_hex64(json_object *msg, const char *key, unsigned long long *value);
int control_get_uint(json_object *msg, const char *key, unsigned long long max,
                     unsigned long long *value);

#endif /* XENMIG_MIGRATE_CONTROL_H */
