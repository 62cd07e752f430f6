/*
 * seal.h: authenticated encryption of xenmig data streams (internal to
 * libmig/xfer): AES-256-GCM or ChaCha20-Poly1305 from OpenSSL's libcrypto,
 * one context per stream and direction, both with a 32-byte key, a
 * 12-byte nonce and a 16-byte tag, so the frames look the same under
 * either.  The nonce is the stream index (4 bytes LE) and the frame
 * sequence number (8 bytes LE), so no nonce repeats within a migration
 * and a frame moved to another stream or position fails to open.
 * This file must never see a key it did not get from its caller, nor keep
 * one after seal_dispose().
 */
#ifndef XENMIG_XFER_SEAL_H
#define XENMIG_XFER_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mig_xfer.h"

#define SEAL_KEY_SIZE 32
#define SEAL_TAG_SIZE 16
/* The sequence number of the HELLO's proof of key (no frame uses it). */
#define SEAL_HELLO_SEQ UINT64_MAX

/* The ciphers (the values of mig_xfer_options.cipher). */
enum seal_cipher {
    SEAL_AES_256_GCM = MIG_XFER_CIPHER_AES_256_GCM,
    SEAL_CHACHA20_POLY1305 = MIG_XFER_CIPHER_CHACHA20_POLY1305,
};

struct seal {
    void *ctx;                        /* EVP_CIPHER_CTX */
    enum seal_cipher cipher;
    int keyed;                        /* ctx holds cipher and key for: 0 none,
                                         1 encryption, 2 decryption */
    uint8_t key[SEAL_KEY_SIZE];
};

/*
 * A context for cipher under key (copied; wiped by seal_dispose).  The
 * cipher and key go into the context at its first use, and only the nonce
 * changes per frame after that.  0, MIG_EINVAL for an unknown cipher or
 * MIG_ENOMEM.
 */
int seal_init(struct seal *seal, enum seal_cipher cipher, const uint8_t key[SEAL_KEY_SIZE]);
void seal_dispose(struct seal *seal);

/*
 * Encrypt iov[0..n-1] in place, with aad authenticated but not encrypted,
 * and write the tag.  Returns 0 or MIG_EIO.
 */
int seal_encrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 struct iovec *iov, int n, uint8_t tag[SEAL_TAG_SIZE]);

/*
 * Decrypt data[0..len) in place and check the tag; 0 when authentic,
 * MIG_ECORRUPT when not (the data is then garbage), MIG_EIO on a library
 * failure.
 */
int seal_decrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 uint8_t *data, size_t len, const uint8_t tag[SEAL_TAG_SIZE]);

#endif /* XENMIG_XFER_SEAL_H */
