/*
 * xfer-bench.c: throughput of N xenmig data streams against the raw
 * loopback ceiling, measured side by side in one run.
 *
 *   xfer-bench [--memory MiB] [--max-streams N] [--cap MB/s] [--rounds R]
 *              [--fill random|half|text] [--compress]
 *              [--cipher aes-256-gcm|chacha20-poly1305] [--batch-alt PAGES]
 *
 * For each N in 1, 2, 4, ... up to --max-streams it moves the same guest
 * image (random pages) twice over TCP loopback: once as plain bytes over N
 * connections with no processing at all ("raw", the ceiling), once through
 * libmig/xfer (framing, per-page xxh64 on both ends, verification, copy
 * into destination memory).  With --cap every connection of both kinds is
 * paced to that rate with SO_MAX_PACING_RATE, which emulates a per-stream
 * bottleneck (one NIC queue, one path); without it the machine's CPUs are
 * the limit.  The xfer runs go once plain and once sealed (--cipher,
 * AES-256-GCM by default, mig_xfer.h; OPENSSL_ia32cap="~0x200000200000000"
 * in the environment hides AES-NI and PCLMULQDQ from libcrypto).  With --compress a third xfer run compresses its pages
 * (LZ4, plain streams), and lz4/xfer is printed too.  --fill picks the
 * guest's pages: random (the default: nothing compresses), half (each
 * page half random, half text: about half its size compressed) or text.
 * With --batch-alt the plain and sealed xfer runs go a second time with
 * PAGES pages per frame (the default is MIG_XFER_OPTIONS_INIT's), their
 * rounds interleaved with the others, and alt/default is printed.  The
 * destination's memory is written once before the first run, so that no
 * row pays for its first touch.
 * Each figure is the best of --rounds runs; the ratios xfer/raw and
 * sealed/plain are printed per N.  This is a benchmark, not a test.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mig_clock.h"
#include "mig_xfer.h"

static size_t guest_pages;
static uint8_t *guest, *dest;
static uint64_t cap_bytes;

static void die(const char *what)
{
    fprintf(stderr, "xfer-bench: %s: %s\n", what, mig_error_last());
    exit(1);
}

/* ---- raw: N plain connections, no processing ------------------------ */

struct raw_stream {
    int fd;
    size_t bytes;
};

static void *raw_send(void *arg)
{
    struct raw_stream *st = arg;
    size_t off = 0;

    while (off < st->bytes) {
        size_t chunk = st->bytes - off > (1 << 20) ? (1 << 20) : st->bytes - off;
        ssize_t n = send(st->fd, guest + off,
                         chunk, MSG_NOSIGNAL);

        if (n <= 0) {
            perror("raw send");
            exit(1);
        }
        off += (size_t)n;
    }
    shutdown(st->fd, SHUT_WR);
    return NULL;
}

static void *raw_recv(void *arg)
{
    struct raw_stream *st = arg;
    static _Thread_local uint8_t buf[1 << 20];

    for (;;) {
        ssize_t n = recv(st->fd, buf, sizeof(buf), 0);

        if (n < 0) {
            perror("raw recv");
            exit(1);
        }
        if (n == 0)
            break;
        st->bytes += (size_t)n;
    }
    return NULL;
}

static double run_raw(unsigned int n)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sa);
    struct raw_stream tx[MIG_XFER_MAX_STREAMS], rx[MIG_XFER_MAX_STREAMS];
    pthread_t tt[MIG_XFER_MAX_STREAMS], rt[MIG_XFER_MAX_STREAMS];
    size_t total = guest_pages * 4096;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    double t0, t1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
        perror("raw listen");
        exit(1);
    }
    for (unsigned int i = 0; i < n; i++) {
        tx[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (cap_bytes) {
            unsigned long rate = (unsigned long)cap_bytes;

            setsockopt(tx[i].fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate));
        }
        if (connect(tx[i].fd, (struct sockaddr *)&sa, sizeof(sa))) {
            perror("raw connect");
            exit(1);
        }
        rx[i].fd = accept(lfd, NULL, NULL);
        rx[i].bytes = 0;
        tx[i].bytes = total / n + (i < total % n);
    }
    t0 = mig_clock_seconds();
    for (unsigned int i = 0; i < n; i++) {
        pthread_create(&rt[i], NULL, raw_recv, &rx[i]);
        pthread_create(&tt[i], NULL, raw_send, &tx[i]);
    }
    for (unsigned int i = 0; i < n; i++) {
        pthread_join(tt[i], NULL);
        pthread_join(rt[i], NULL);
    }
    t1 = mig_clock_seconds();
    for (unsigned int i = 0; i < n; i++) {
        close(tx[i].fd);
        close(rx[i].fd);
    }
    close(lfd);
    return total / (t1 - t0) / 1e6;
}

/* ---- xfer: the same image through libmig/xfer ----------------------- */

static int read_page(void *arg, unsigned int stream, uint64_t pfn, void *buf,
                     unsigned int *type_out)
{
    memcpy(buf, guest + pfn * 4096, 4096);
    return 0;
}

static int write_page(void *arg, unsigned int stream, uint64_t pfn, const void *data,
                      unsigned int type, uint32_t epoch)
{
    if (data)
        memcpy(dest + pfn * 4096, data, 4096);
    else
        memset(dest + pfn * 4096, 0, 4096);
    return 0;
}

struct xfer_rx {
    struct mig_xfer_listener *listener;
    int rc;
};

static void *xfer_receiver(void *arg)
{
    struct xfer_rx *x = arg;
    struct mig_xfer_receiver *r = NULL;

    x->rc = mig_xfer_accept(x->listener, &r);
    if (!x->rc)
        x->rc = mig_xfer_receive(r, write_page, NULL, NULL, NULL, NULL);
    if (x->rc)
        fprintf(stderr, "xfer-bench: receiver: %s\n", mig_error_last());
    mig_xfer_receiver_close(r);
    return NULL;
}

static const uint8_t bench_key[MIG_XFER_KEY_SIZE] = { 0x42, 0x17 };
static unsigned int bench_cipher = MIG_XFER_CIPHER_AES_256_GCM;

static double run_xfer(unsigned int n, const uint64_t *pfns, bool sealed, bool compress,
                       unsigned int batch)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    struct xfer_rx x = { 0 };
    uint8_t id[16] = { 42 };
    char port[16];
    pthread_t t;
    double t0, t1;

    opts.streams = n;
    opts.max_rate_per_stream = cap_bytes;
    opts.key = sealed ? bench_key : NULL;
    opts.cipher = bench_cipher;
    opts.compress = compress;
    if (batch)
        opts.batch_pages = batch;
    if (mig_xfer_listen("127.0.0.1", "0", &opts, NULL, &x.listener))
        die("listen");
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(x.listener));
    pthread_create(&t, NULL, xfer_receiver, &x);
    if (mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s))
        die("connect");
    t0 = mig_clock_seconds();
    if (mig_xfer_sender_send_epoch(s, 0, pfns, guest_pages, read_page, NULL, NULL, NULL) ||
        mig_xfer_sender_finish(s))
        die("send");
    pthread_join(t, NULL);
    t1 = mig_clock_seconds();
    if (x.rc)
        exit(1);
    if (memcmp(guest, dest, guest_pages * 4096)) {
        fprintf(stderr, "xfer-bench: destination differs from source\n");
        exit(1);
    }
    mig_xfer_sender_close(s);
    mig_xfer_listener_close(x.listener);
    return guest_pages * 4096 / (t1 - t0) / 1e6;
}

/* The guest's pages: random, half random and half text, or text. */
static void fill_guest(const char *fill)
{
    static const char text[] = "the pages of a guest, on their way to another host. ";
    size_t random = !strcmp(fill, "half") ? 2048 : !strcmp(fill, "text") ? 0 : 4096;
    uint64_t x = 0x9e3779b97f4a7c15u;      /* xorshift: random, incompressible */

    for (size_t p = 0; p < guest_pages; p++) {
        uint8_t *page = guest + p * 4096;

        for (size_t i = 0; i < random; i += sizeof(x)) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(page + i, &x, sizeof(x));
        }
        for (size_t i = random; i < 4096; i++)
            page[i] = (uint8_t)(text[i % (sizeof(text) - 1)] + p % 7);
    }
}

int main(int argc, char **argv)
{
    unsigned int memory_mib = 128, max_streams = 4, rounds = 3;
    const char *fill = "random";
    bool compress = false;
    unsigned int batch_alt = 0;
    uint64_t *pfns;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--memory") && i + 1 < argc)
            memory_mib = (unsigned int)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-streams") && i + 1 < argc)
            max_streams = (unsigned int)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cap") && i + 1 < argc)
            cap_bytes = (uint64_t)atoll(argv[++i]) * 1000000;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (unsigned int)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fill") && i + 1 < argc)
            fill = argv[++i];
        else if (!strcmp(argv[i], "--batch-alt") && i + 1 < argc)
            batch_alt = (unsigned int)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--compress"))
            compress = true;
        else if (!strcmp(argv[i], "--cipher") && i + 1 < argc) {
            if (mig_xfer_cipher_parse(argv[++i], &bench_cipher)) {
                fprintf(stderr, "xfer-bench: --cipher '%s': use aes-256-gcm or "
                        "chacha20-poly1305\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: xfer-bench [--memory MiB] [--max-streams N] "
                    "[--cap MB/s] [--rounds R] [--fill random|half|text] [--compress]\n"
                    "       [--cipher aes-256-gcm|chacha20-poly1305] [--batch-alt PAGES]\n"
                    "(unknown argument '%s')\n", argv[i]);
            return 2;
        }
    }
    if (!memory_mib || !max_streams || max_streams > MIG_XFER_MAX_STREAMS || !rounds ||
        batch_alt > MIG_XFER_MAX_BATCH) {
        fprintf(stderr, "xfer-bench: --memory, --max-streams (1..64), --rounds must be > 0, "
                "--batch-alt at most %d\n", MIG_XFER_MAX_BATCH);
        return 2;
    }
    if (strcmp(fill, "random") && strcmp(fill, "half") && strcmp(fill, "text")) {
        fprintf(stderr, "xfer-bench: --fill '%s': use random, half or text\n", fill);
        return 2;
    }
    guest_pages = (size_t)memory_mib * 256;
    guest = malloc(guest_pages * 4096);
    dest = calloc(guest_pages, 4096);
    pfns = malloc(guest_pages * sizeof(*pfns));
    if (!guest || !dest || !pfns) {
        fprintf(stderr, "xfer-bench: out of memory for a %u MiB guest\n", memory_mib);
        return 1;
    }
    fill_guest(fill);
    memset(dest, 0xa5, guest_pages * 4096);     /* no first touch in a row */
    for (size_t p = 0; p < guest_pages; p++)
        pfns[p] = p;

    printf("# xfer-bench: %u MiB guest (%s pages), per-stream cap %s, best of %u, "
           "%ld CPUs, sealed with %s\n", memory_mib, fill, cap_bytes ? "on" : "off", rounds,
           sysconf(_SC_NPROCESSORS_ONLN), mig_xfer_cipher_name(bench_cipher));
    if (cap_bytes)
        printf("# cap: %llu MB/s per connection (SO_MAX_PACING_RATE)\n",
               (unsigned long long)(cap_bytes / 1000000));
    printf("%-8s %10s %10s %12s %9s %13s", "streams", "raw MB/s", "xfer MB/s",
           "sealed MB/s", "xfer/raw", "sealed/xfer");
    if (compress)
        printf(" %9s %9s", "lz4 MB/s", "lz4/xfer");
    if (batch_alt)
        printf(" %10s %10s %9s %9s", "xfer@alt", "sealed@alt", "x alt/def", "s alt/def");
    printf("\n");
    for (unsigned int n = 1; n <= max_streams; n *= 2) {
        double raw = 0, xf = 0, se = 0, lz = 0, xa = 0, sa = 0;

        for (unsigned int r = 0; r < rounds; r++) {
            double a = run_raw(n), b = run_xfer(n, pfns, false, false, 0);
            double c = run_xfer(n, pfns, true, false, 0);
            double d = compress ? run_xfer(n, pfns, false, true, 0) : 0;
            double e = batch_alt ? run_xfer(n, pfns, false, false, batch_alt) : 0;
            double f = batch_alt ? run_xfer(n, pfns, true, false, batch_alt) : 0;

            raw = a > raw ? a : raw;
            xf = b > xf ? b : xf;
            se = c > se ? c : se;
            lz = d > lz ? d : lz;
            xa = e > xa ? e : xa;
            sa = f > sa ? f : sa;
        }
        printf("%-8u %10.1f %10.1f %12.1f %9.2f %13.2f", n, raw, xf, se, xf / raw,
               se / xf);
        if (compress)
            printf(" %9.1f %9.2f", lz, lz / xf);
        if (batch_alt)
            printf(" %10.1f %10.1f %9.2f %9.2f", xa, sa, xa / xf, sa / se);
        printf("\n");
        fflush(stdout);
    }
    free(guest);
    free(dest);
    free(pfns);
    return 0;
}
