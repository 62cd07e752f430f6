/*
 * cmd_save.c: `xl-ext save --sim [sim and migrate options] FILE`: save a
 * simulated guest to FILE through the migration engine, live: the guest
 * keeps running while its memory is copied, is paused for the last pages,
 * and the receiver (a local `xl-ext migrate-receive --save FILE`) writes
 * and flushes the file before the source lets the guest go.  If the file
 * cannot be written (a full disk), the guest keeps running.  Without --sim
 * the command is `xl save`, unchanged.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate_common.h"
#include "subcommands.h"

/* Quote s for sh inside single quotes (' becomes '\''). */
static char *shell_quote(const char *s)
{
    size_t n = 3;
    char *q, *p;

    for (const char *c = s; *c; c++)
        n += *c == '\'' ? 4 : 1;
    q = p = malloc(n);
    if (!q)
        return NULL;
    *p++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *c;
        }
    }
    *p++ = '\'';
    *p = '\0';
    return q;
}

int cmd_save(int argc, char **argv)
{
    char self[4096], **margv = NULL, *rune = NULL, *qself = NULL, *qfile = NULL;
    const char *file;
    int sim = 0, margc = 0, rc;
    ssize_t len;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sim"))
            sim = 1;
    if (!sim) {
        argv[0] = "save";
        return xl_ext_exec_xl(argc, argv);
    }
    if (argc < 3 || argv[argc - 1][0] == '-') {
        fprintf(stderr, "%s save: give the save FILE last; run '%s help save'\n",
                xl_ext_prog, xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    file = argv[argc - 1];
    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "%s save: cannot find my own binary: %s\n", xl_ext_prog,
                strerror(errno));
        return XL_EXT_EXIT_FAILURE;
    }
    self[len] = '\0';
    qself = shell_quote(self);
    qfile = shell_quote(file);
    margv = calloc((size_t)argc + 4, sizeof(*margv));
    if (!qself || !qfile || !margv ||
        asprintf(&rune, "exec %s migrate-receive --sim --data-listen 127.0.0.1 --save %s",
                 qself, qfile) < 0) {
        rune = NULL;
        rc = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    /* migrate [the user's options] -s "" RUNE */
    margv[margc++] = "migrate";
    for (int i = 1; i < argc - 1; i++)
        margv[margc++] = argv[i];
    margv[margc++] = "-s";
    margv[margc++] = "";
    margv[margc++] = rune;
    rc = cmd_migrate(margc, margv);
out:
    free(margv);
    free(rune);
    free(qself);
    free(qfile);
    return rc;
}
