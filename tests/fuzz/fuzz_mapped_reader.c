/*
 * fuzz_mapped_reader.c: libFuzzer target of the mapped save file's reader
 * (libmig/savefile, mig_mapped_file_open_fd): the input is the file.
 * Whatever the reader accepts must be what it promises: entries in pfn
 * order inside the guest, every slot inside the pages section and owned
 * once, the sections inside the file; its pages then either all match
 * their hashes or one is named as damaged; and a replay of an accepted
 * file into a destination that only counts writes every entry once, or
 * calls nothing when the pages were refused.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mig_savefile.h"
#include "sys/mig_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct counter {
    _Atomic uint64_t pages;
    unsigned int calls;
};

static int c_prologue(void *b, const void *blob, size_t len) { ((struct counter *)b)->calls++; return 0; }
static int c_prepare(void *b, uint64_t n) { ((struct counter *)b)->calls++; return 0; }
static int c_state(void *b, const void *s, size_t len) { ((struct counter *)b)->calls++; return 0; }
static int c_resume(void *b) { ((struct counter *)b)->calls++; return 0; }

static int c_write(void *b, struct mig_stream_ctx *st, uint64_t pfn, const void *page,
                   unsigned int type)
{
    ((struct counter *)b)->pages++;
    return 0;
}

/* The accepted file's promises; abort() when one is broken. */
static void check_accepted(struct mig_mapped_file *f, size_t size)
{
    struct mig_mapped_info info;
    struct mig_mapped_entry e;
    uint64_t prev = 0, zero = 0;
    uint8_t *owned;

    mig_mapped_file_info(f, &info);
    if (info.file_size != size || info.nr_entries > info.nr_pfns ||
        info.index.offset + info.index.length != size ||
        info.pages.length != info.nr_slots * 4096)
        abort();
    owned = calloc(info.nr_slots + 1, 1);
    if (!owned)
        abort();
    for (uint64_t i = 0; i < info.nr_entries; i++) {
        if (mig_mapped_file_entry(f, i, &e) || e.pfn >= info.nr_pfns || (i && e.pfn <= prev) ||
            e.type > 15 || (!e.zero && e.slot == MIG_MAPPED_NO_SLOT))
            abort();
        if (e.slot != MIG_MAPPED_NO_SLOT && (e.slot >= info.nr_slots || owned[e.slot]++))
            abort();
        zero += e.zero;
        prev = e.pfn;
    }
    if (zero != info.nr_zero || mig_mapped_file_entry(f, info.nr_entries, &e) != MIG_EINVAL)
        abort();
    free(owned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct mig_destination_ops ops_template = {
        .accept_prologue = c_prologue, .prepare = c_prepare, .write_page = c_write,
        .restore_state = c_state, .resume = c_resume,
    };
    struct mig_destination_ops ops = ops_template;
    struct counter counter = { 0 };
    struct mig_replay_result result;
    struct mig_mapped_file *f = NULL;
    struct mig_mapped_info info;
    char path[64], name[32];
    int fd = memfd_create("mapped", MFD_CLOEXEC), rc, verified;

    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    if (mig_mapped_file_open_fd(fd, "fuzz", &f)) {
        close(fd);
        return 0;
    }
    check_accepted(f, size);
    mig_mapped_file_info(f, &info);
    verified = mig_mapped_file_verify_pages(f, 2, NULL);
    if (verified && verified != MIG_ECORRUPT)
        abort();
    mig_mapped_file_close(f);
    /* The replay, of the family the file names, by its path. */
    snprintf(name, sizeof(name), "%s-destination", info.family);
    ops.name = name;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    rc = mig_mapped_replay(path, &ops, &counter, 3, NULL, &result);
    if (verified ? rc != MIG_ECORRUPT || counter.calls || counter.pages
                 : rc || counter.pages != info.nr_entries)
        abort();
    close(fd);
    return 0;
}
