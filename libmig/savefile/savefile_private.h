/*
 * savefile_private.h: what the files of libmig/savefile share and nobody
 * else uses: the threads that read a save file (walk.c), and the mapped
 * file's handle (mapped_read.c) as replay.c walks it.
 */
#ifndef XENMIG_SAVEFILE_PRIVATE_H
#define XENMIG_SAVEFILE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mig_savefile.h"
#include "savefile/mapped_format.h"

/* Pages one pread of a walking thread reads at most. */
#define WALK_CHUNK_PAGES 64u
#define WALK_MAX_THREADS 64u

/*
 * N threads that each run work(w, thread) once, while the caller's thread
 * calls tick(w) about five times a second (and looks at cancel).  The first error of a thread
 * (its code and message) stops the others (w->stop) and is the result; a
 * tick that returns non-zero stops them with that code (its message set on
 * the caller's thread).  work must check w->stop between chunks and add
 * what it did to w->done.
 */
struct walk {
    unsigned int threads;               /* 1 .. WALK_MAX_THREADS */
    int (*work)(struct walk *w, unsigned int thread);
    int (*tick)(struct walk *w);        /* may be NULL */
    void *tick_arg;                     /* tick's */
    const atomic_bool *cancel;          /* may be NULL: once true (seen within
                                           a tick), stop with MIG_ECANCELLED */
    void *arg;
    atomic_bool stop;
    _Atomic uint64_t done;
    /* walk_run's own */
    pthread_mutex_t lock;
    pthread_cond_t ended;
    unsigned int running;
    int rc;                             /* the first error */
    char message[1024];
};

/* Run w (caller-owned, its public members set); 0 or the first error. */
int walk_run(struct walk *w);

/* [first, end) of n items for thread t of threads: contiguous shares. */
static inline void walk_share(uint64_t n, unsigned int t, unsigned int threads,
                              uint64_t *first, uint64_t *end)
{
    *first = n / threads * t + (t < n % threads ? t : n % threads);
    *end = *first + n / threads + (t < n % threads);
}

/* The mapped file, validated (mapped_read.c). */
struct mig_mapped_file {
    int fd;
    bool own_fd;
    char *name;
    uint64_t size;
    struct mapped_superblock sb;
    uint8_t *prologue, *tail;           /* malloc'ed copies */
    uint8_t *index;                     /* the raw entries */
    uint64_t nr_zero;
    uint64_t *slot_entry;               /* per slot: the entry that owns it */
    uint64_t *zero_entry;               /* the zero entries' numbers, nr_zero */
};

/*
 * Walk a mapped file's pages with w->threads threads: each reads its
 * share of the slots in chunks and calls page(arg, thread, entry, data)
 * for every slot whose entry has data (a slot a later zero page left
 * behind is skipped), or with run set hands those slots to run unread,
 * then, when zero_too, calls page for its share of the zero entries with
 * data NULL.  w's work, arg and done are set here; threads,
 * tick and what tick uses are the caller's.
 */
struct mapped_walk {
    struct mig_mapped_file *file;
    bool zero_too;
    int (*page)(void *arg, unsigned int thread, const struct mig_mapped_entry *e,
                const uint8_t *data);
    /*
     * Optional, in page's place for the slots with data: runs of 1 to
     * MAPPED_RUN_MAX pages whose slots follow one another (the file's fd
     * and the first one's offset, each page's pfn and type), the file not
     * read here.  page still takes the zero entries.
     */
    int (*run)(void *arg, unsigned int thread, int fd, uint64_t offset, const uint64_t *pfns,
               const unsigned int *types, unsigned int n);
    void *arg;
};
#define MAPPED_RUN_MAX 1024u
int mapped_walk_run(struct walk *w, struct mapped_walk *mw);

/* A mapped_walk page callback: the page (arg: the file) against its hash
 * in the index; MIG_ECORRUPT naming the pfn and the offset. */
int mapped_verify_page(void *arg, unsigned int thread, const struct mig_mapped_entry *e,
                       const uint8_t *data);

#endif /* XENMIG_SAVEFILE_PRIVATE_H */
