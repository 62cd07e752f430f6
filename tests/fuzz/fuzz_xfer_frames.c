/*
 * fuzz_xfer_frames.c: libFuzzer target for the data-stream receiver: the
 * HELLO handshake and every frame after it (mig_xfer.h), plain and sealed.
 * The first input byte picks plain or sealed (bit 0) and the cipher of a
 * sealed one (bit 1: ChaCha20-Poly1305, else AES-256-GCM); the rest is
 * what one stream connection delivers.  Nothing may crash, hang or leak; any input is
 * either received or refused with an error.
 *
 * Seeds (tests/fuzz/corpus/xfer_frames, whole plain streams of wire
 * version 5, which test_xfer's test_fuzz_seeds_received receives without
 * an error): plain-done, a HELLO and DONE; plain-compressed, a PAGES frame
 * with an LZ4-compressed, a raw and a zero page, its EPOCH_END and DONE,
 * from which the fuzzer reaches the length table and the decompression.
 * write_page reads every byte of a page it is given, so that the address
 * sanitizer sees a page that is not all in its buffer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mig_xfer.h"

static const uint8_t fuzz_key[MIG_XFER_KEY_SIZE] = { 7, 7, 7 };

static int write_page(void *arg, unsigned int stream, uint64_t pfn, const void *data,
                      unsigned int type, uint32_t epoch)
{
    static uint8_t page[MIG_PAGE_SIZE];

    (void)arg; (void)stream; (void)type; (void)epoch;
    if (data)
        memcpy(page, data, sizeof(page));
    return pfn < (1u << 20) ? 0 : mig_error_set(MIG_EINVAL, "pfn out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_receiver *r = NULL;
    int sv[2];

    if (size < 1 || size > 60000)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        return 0;
    opts.timeout_ms = 200;
    opts.key = (data[0] & 1) ? fuzz_key : NULL;
    opts.cipher = (data[0] & 2) ? MIG_XFER_CIPHER_CHACHA20_POLY1305 :
                                  MIG_XFER_CIPHER_AES_256_GCM;
    if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    shutdown(sv[1], SHUT_WR);
    if (!mig_xfer_receiver_adopt(&sv[0], 1, &opts, NULL, &r))
        (void)mig_xfer_receive(r, write_page, NULL, NULL, NULL, NULL);
    mig_xfer_receiver_close(r);
    close(sv[1]);
    return 0;
}
