/*
 * fuzz_control_lines.c: libFuzzer target for the migration control channel
 * (libmig/migrate/control.c): JSON lines, their "msg" member, the typed
 * getters, and length-announced blocks.  Nothing may crash or leak.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/control.h"
#include "mig_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct control c;
    int p[2];

    if (size > 60000 || pipe(p))
        return 0;
    if (write(p[1], data, size) != (ssize_t)size) {
        close(p[0]);
        close(p[1]);
        return 0;
    }
    close(p[1]);
    if (control_init(&c, p[0], -1, 100)) {
        close(p[0]);
        return 0;
    }
    for (int i = 0; i < 64; i++) {
        json_object *m = NULL;
        unsigned long long v;
        int rc = control_recv(&c, NULL, &m);

        if (rc == MIG_ETRUNC || rc == MIG_EIO || rc == MIG_ELIMIT) {
            if (m)                  /* a peer's "failed" comes back too */
                json_object_put(m);
            break;
        }
        if (!m)
            continue;
        (void)control_get_uint(m, "length", 1 << 20, &v);
        (void)control_get_hex64(m, "memory_hash", &v);
        if (!control_get_uint(m, "block", 4096, &v)) {
            char buf[4096];

            rc = control_recv_block(&c, buf, (size_t)v);
        }
        json_object_put(m);
        if (rc)
            break;
    }
    control_dispose(&c);
    close(p[0]);
    return 0;
}
