/*
 * tracker.c: kernel dirty tracking of the simulated guest's memory.
 *
 * Two trackers, both built on userfaultfd write-protection (uffd-wp):
 *
 * pagemap-scan  UFFD_FEATURE_WP_ASYNC: the kernel resolves a write to a
 *               protected page by itself and marks the page written.  A
 *               PAGEMAP_SCAN ioctl on /proc/self/pagemap with
 *               PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC reports the
 *               written pages of a range and re-protects each one under
 *               its page-table lock, so a write is either reported now or
 *               faults again and is reported later (Linux >= 6.7).
 * uffd-sync     plain uffd-wp: a write to a protected page blocks its
 *               thread and queues a fault message; a handler thread records
 *               the pfn in a bitmap and lifts the protection of that page.
 *               A harvest re-protects a granule and then collects its bits,
 *               both under the granule's lock, which the handler also holds
 *               for "record + unprotect": so a page is never writable with
 *               its bit already collected and its new writes unrecorded.
 *
 * What it must never do: lose a write (every path above re-protects before
 * or atomically with collecting), or leave a vCPU blocked in a fault when
 * the guest is destroyed.
 *
 * The PAGEMAP_SCAN and WP_ASYNC definitions are the kernel's user ABI
 * (include/uapi/linux/fs.h, userfaultfd.h of Linux 6.7); Debian 12's
 * headers predate them, so they are declared here when missing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mig_error.h"
#include "sim_private.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};

struct pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN (1 << 1)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

#define SCAN_VECTOR_LENGTH 512
#define GRANULE_PFNS 512          /* pfns per lock of the sync tracker */

static int open_userfaultfd(void)
{
    int fd, dev;

    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0)
        return fd;
    /* vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE: faults from
     * user mode only are still allowed, and all the vCPU writes are */
    fd = (int)syscall(SYS_userfaultfd,
                      O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd >= 0)
        return fd;
    /* the device node may still be permitted */
    dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0)
        return -1;
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    close(dev);
    return fd;
}

#define WRITEPROTECT_TRIES 1000

static int write_protect(int uffd, uint64_t address, uint64_t length,
                         int protect)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = address, .len = length },
        .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };

    unsigned tries;

    /* EAGAIN: the mm changed under the ioctl; a bounded number of retries */
    for (tries = 0; ioctl(uffd, UFFDIO_WRITEPROTECT, &wp); tries++) {
        if (errno != EAGAIN || tries >= WRITEPROTECT_TRIES)
            return -1;
    }
    return 0;
}

/* Open a uffd with the given features, register the memory for WP and
 * protect all of it.  On failure: message set, fd closed, returns -1. */
static int arm_userfaultfd(struct mig_sim_guest *guest, uint64_t features,
                           const char *tracker)
{
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)guest->memory,
                   .len = guest->memory_bytes },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    int fd = open_userfaultfd();

    if (fd < 0) {
        mig_error_set_errno(MIG_EUNSUPP, errno, "%s tracker: neither the "
                            "userfaultfd syscall (even user-mode-only) nor "
                            "/dev/userfaultfd is usable (check "
                            "vm.unprivileged_userfaultfd or run as root)", tracker);
        return -1;
    }
    if (ioctl(fd, UFFDIO_API, &api)) {
        mig_error_set_errno(MIG_EUNSUPP, errno, "%s tracker: UFFDIO_API with "
                            "features 0x%" PRIx64 " refused (kernel too old?)",
                            tracker, features);
        goto fail;
    }
    if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
        mig_error_set_errno(MIG_EUNSUPP, errno, "%s tracker: UFFDIO_REGISTER "
                            "in write-protect mode refused (kernel without "
                            "uffd-wp?)", tracker);
        goto fail;
    }
    if (write_protect(fd, (uintptr_t)guest->memory, guest->memory_bytes, 1)) {
        mig_error_set_errno(MIG_EUNSUPP, errno, "%s tracker: "
                            "UFFDIO_WRITEPROTECT of guest memory refused",
                            tracker);
        goto fail;
    }
    return fd;
 fail:
    close(fd);
    return -1;
}

/* ---------------------------------------------------- pagemap-scan */

static int scan_range(struct mig_sim_guest *guest, uint64_t start_pfn,
                      uint64_t count, struct mig_dirty_bitmap *dst,
                      uint64_t *reported)
{
    struct page_region *regions = guest->tracker.scan_vector;
    uint64_t base = (uintptr_t)guest->memory;
    uint64_t end = base + (start_pfn + count) * MIG_PAGE_SIZE;
    struct pm_scan_arg arg = {
        .size = sizeof(arg),
        .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .start = base + start_pfn * MIG_PAGE_SIZE,
        .end = end,
        .vec = (uintptr_t)regions,
        .vec_len = SCAN_VECTOR_LENGTH,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    uint64_t first, last;
    long n, i;

    for (;;) {
        n = ioctl(guest->tracker.pagemap_fd, PAGEMAP_SCAN, &arg);
        if (n < 0)
            return mig_error_set_errno(MIG_EIO, errno, "sim harvest: "
                                       "PAGEMAP_SCAN of pfns [%" PRIu64
                                       ", +%" PRIu64 ")", start_pfn, count);
        for (i = 0; i < n; i++) {
            if (regions[i].start < base || regions[i].end > end ||
                regions[i].start >= regions[i].end)
                return mig_error_set(MIG_EIO, "sim harvest: PAGEMAP_SCAN "
                                     "returned a region outside the scanned "
                                     "range");
            first = (regions[i].start - base) / MIG_PAGE_SIZE;
            last = (regions[i].end - base + MIG_PAGE_SIZE - 1) /
                   MIG_PAGE_SIZE;
            mig_dirty_bitmap_set_range(dst, first, last - first);
            *reported += last - first;
        }
        if (arg.walk_end >= end)
            break;
        /* the kernel stops a walk early when the vector is full; a walk
         * that did not move at all would repeat for ever */
        if (arg.walk_end <= arg.start)
            return mig_error_set(MIG_EIO, "sim harvest: PAGEMAP_SCAN made no "
                                 "progress at pfn %" PRIu64 " (walk end %#"
                                 PRIx64 "): the tracker is stuck",
                                 (arg.start - base) / MIG_PAGE_SIZE,
                                 (uint64_t)arg.walk_end);
        arg.start = arg.walk_end;
    }
    return MIG_OK;
}

static int init_pagemap_scan(struct mig_sim_guest *guest)
{
    struct sim_tracker *tracker = &guest->tracker;
    struct mig_dirty_bitmap *probe = NULL;
    uint64_t reported = 0;
    int rc;

    tracker->uffd = arm_userfaultfd(guest, UFFD_FEATURE_WP_ASYNC,
                                    "pagemap-scan");
    if (tracker->uffd < 0) {
        rc = MIG_EUNSUPP;
        goto out;
    }
    tracker->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (tracker->pagemap_fd < 0) {
        rc = mig_error_set_errno(MIG_EUNSUPP, errno, "pagemap-scan tracker: "
                                 "open /proc/self/pagemap");
        goto out;
    }
    tracker->scan_vector = calloc(SCAN_VECTOR_LENGTH,
                                  sizeof(struct page_region));
    if (!tracker->scan_vector) {
        rc = mig_error_set(MIG_ENOMEM, "pagemap-scan tracker: out of memory");
        goto out;
    }
    /* Probe: one scan of the first page proves the ioctl exists. */
    rc = mig_dirty_bitmap_create(guest->nr_pfns, &probe);
    if (rc)
        goto out;
    rc = scan_range(guest, 0, 1, probe, &reported);
    if (rc) {
        rc = mig_error_set(MIG_EUNSUPP, "pagemap-scan tracker: the kernel has "
                           "no usable PAGEMAP_SCAN (Linux >= 6.7 needed): %s",
                           mig_error_last());
        goto out;
    }
    tracker->kind = MIG_SIM_TRACKER_PAGEMAP_SCAN;
    rc = MIG_OK;
 out:
    mig_dirty_bitmap_free(probe);
    return rc;
}

/* ---------------------------------------------------- uffd-sync */

static void *fault_handler_main(void *opaque)
{
    struct mig_sim_guest *guest = opaque;
    struct sim_tracker *tracker = &guest->tracker;
    struct pollfd fds[2] = {
        { .fd = tracker->uffd, .events = POLLIN },
        { .fd = tracker->stop_pipe[0], .events = POLLIN },
    };
    struct uffd_msg msg;
    uint64_t address, pfn;
    ssize_t got;

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            tracker->handler_error = errno;
            break;
        }
        if (fds[1].revents)
            break;
        got = read(tracker->uffd, &msg, sizeof(msg));
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got != (ssize_t)sizeof(msg)) {
            tracker->handler_error = got < 0 ? errno : EIO;
            break;
        }
        if (msg.event != UFFD_EVENT_PAGEFAULT ||
            !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
            continue;
        address = msg.arg.pagefault.address & ~(uint64_t)(MIG_PAGE_SIZE - 1);
        pfn = (address - (uintptr_t)guest->memory) / MIG_PAGE_SIZE;
        if (pfn >= guest->nr_pfns)
            continue;
        pthread_mutex_lock(&tracker->granule_locks[pfn / GRANULE_PFNS]);
        mig_dirty_bitmap_set_atomic(tracker->written, pfn);
        /* lifting the protection also wakes the faulting thread */
        if (write_protect(tracker->uffd, address, MIG_PAGE_SIZE, 0))
            tracker->handler_error = errno;
        pthread_mutex_unlock(&tracker->granule_locks[pfn / GRANULE_PFNS]);
    }
    return NULL;
}

static int init_uffd_sync(struct mig_sim_guest *guest)
{
    struct sim_tracker *tracker = &guest->tracker;
    uint64_t i;
    int rc;

    tracker->uffd = arm_userfaultfd(guest, 0, "uffd-sync");
    if (tracker->uffd < 0) {
        rc = MIG_EUNSUPP;
        goto out;
    }
    rc = mig_dirty_bitmap_create(guest->nr_pfns, &tracker->written);
    if (rc)
        goto out;
    tracker->nr_granules = (guest->nr_pfns + GRANULE_PFNS - 1) / GRANULE_PFNS;
    tracker->granule_locks = calloc(tracker->nr_granules,
                                    sizeof(*tracker->granule_locks));
    if (!tracker->granule_locks) {
        rc = mig_error_set(MIG_ENOMEM, "uffd-sync tracker: out of memory");
        goto out;
    }
    for (i = 0; i < tracker->nr_granules; i++)
        pthread_mutex_init(&tracker->granule_locks[i], NULL);
    if (pipe2(tracker->stop_pipe, O_CLOEXEC)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "uffd-sync tracker: pipe");
        goto out;
    }
    rc = pthread_create(&tracker->handler, NULL, fault_handler_main, guest);
    if (rc) {
        rc = mig_error_set_errno(MIG_ENOMEM, rc, "uffd-sync tracker: starting "
                                 "the fault-handler thread");
        goto out;
    }
    tracker->handler_started = 1;
    tracker->kind = MIG_SIM_TRACKER_UFFD_SYNC;
    rc = MIG_OK;
 out:
    return rc;
}

static int sync_harvest_range(struct mig_sim_guest *guest, uint64_t start,
                              uint64_t count, struct mig_dirty_bitmap *dst,
                              uint64_t *reported)
{
    struct sim_tracker *tracker = &guest->tracker;
    uint64_t end = start + count, piece_start, piece_end, harvested;
    int rc = MIG_OK;

    for (piece_start = start; piece_start < end && !rc;
         piece_start = piece_end) {
        piece_end = (piece_start / GRANULE_PFNS + 1) * GRANULE_PFNS;
        if (piece_end > end)
            piece_end = end;
        pthread_mutex_lock(&tracker->granule_locks[piece_start / GRANULE_PFNS]);
        /* re-protect first, then collect: a write after the re-protection
         * faults and is recorded after this collection */
        if (write_protect(tracker->uffd,
                          (uintptr_t)guest->memory +
                          piece_start * MIG_PAGE_SIZE,
                          (piece_end - piece_start) * MIG_PAGE_SIZE, 1))
            rc = mig_error_set_errno(MIG_EIO, errno, "sim harvest: "
                                     "re-protecting pfns [%" PRIu64 ", %"
                                     PRIu64 ")", piece_start, piece_end);
        else
            rc = mig_dirty_bitmap_harvest_range(tracker->written, dst,
                                                piece_start,
                                                piece_end - piece_start,
                                                &harvested);
        pthread_mutex_unlock(&tracker->granule_locks[piece_start /
                                                     GRANULE_PFNS]);
        if (!rc)
            *reported += harvested;
    }
    if (!rc && tracker->handler_error)
        rc = mig_error_set_errno(MIG_EIO, tracker->handler_error,
                                 "sim harvest: the fault handler failed");
    return rc;
}

/* ---------------------------------------------------- common */

int sim_tracker_init(struct mig_sim_guest *guest)
{
    char first_error[512];
    int rc;

    switch (guest->options.tracker) {
    case MIG_SIM_TRACKER_PAGEMAP_SCAN:
        return init_pagemap_scan(guest);
    case MIG_SIM_TRACKER_UFFD_SYNC:
        return init_uffd_sync(guest);
    default:
        rc = init_pagemap_scan(guest);
        if (rc != MIG_EUNSUPP)
            return rc;
        snprintf(first_error, sizeof(first_error), "%s", mig_error_last());
        sim_tracker_fini(guest);
        rc = init_uffd_sync(guest);
        if (rc == MIG_EUNSUPP)
            return mig_error_set(MIG_EUNSUPP, "no dirty tracking on this "
                                 "kernel: %s; then: %s", first_error,
                                 mig_error_last());
        if (!rc && guest->options.logger)
            xtl_log(guest->options.logger, XTL_NOTICE, -1, "xenmig-sim",
                    "falling back to synchronous uffd-wp: %s", first_error);
        return rc;
    }
}

void sim_tracker_fini(struct mig_sim_guest *guest)
{
    struct sim_tracker *tracker = &guest->tracker;
    uint64_t i;

    if (tracker->handler_started) {
        if (write(tracker->stop_pipe[1], "x", 1) != 1)
            tracker->handler_error = errno;
        pthread_join(tracker->handler, NULL);
        tracker->handler_started = 0;
    }
    if (tracker->stop_pipe[0] >= 0)
        close(tracker->stop_pipe[0]);
    if (tracker->stop_pipe[1] >= 0)
        close(tracker->stop_pipe[1]);
    tracker->stop_pipe[0] = tracker->stop_pipe[1] = -1;
    if (tracker->granule_locks) {
        for (i = 0; i < tracker->nr_granules; i++)
            pthread_mutex_destroy(&tracker->granule_locks[i]);
        free(tracker->granule_locks);
        tracker->granule_locks = NULL;
    }
    mig_dirty_bitmap_free(tracker->written);
    tracker->written = NULL;
    free(tracker->scan_vector);
    tracker->scan_vector = NULL;
    if (tracker->pagemap_fd >= 0)
        close(tracker->pagemap_fd);
    tracker->pagemap_fd = -1;
    /* closing the uffd also releases any thread blocked in a fault */
    if (tracker->uffd >= 0)
        close(tracker->uffd);
    tracker->uffd = -1;
}

int sim_tracker_harvest_range(struct mig_sim_guest *guest, uint64_t start,
                              uint64_t count, struct mig_dirty_bitmap *dst,
                              uint64_t *reported)
{
    if (guest->tracker.kind == MIG_SIM_TRACKER_PAGEMAP_SCAN)
        return scan_range(guest, start, count, dst, reported);
    return sync_harvest_range(guest, start, count, dst, reported);
}
