/*
 * seal.c: AES-256-GCM and ChaCha20-Poly1305 for the data streams (see
 * seal.h), through OpenSSL's EVP interface.  A context takes its cipher and
 * key once, at its first use in a direction; every frame after that sets
 * only its nonce (the key schedule is not redone per frame).
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mig_error.h"
#include "seal.h"
#include "util/le.h"

#define SEAL_NONCE_SIZE 12
#define KEYED_ENCRYPT 1
#define KEYED_DECRYPT 2

static const char *const cipher_names[] = {
    [SEAL_AES_256_GCM] = "aes-256-gcm",
    [SEAL_CHACHA20_POLY1305] = "chacha20-poly1305",
};
#define NR_CIPHERS (sizeof(cipher_names) / sizeof(cipher_names[0]))

const char *mig_xfer_cipher_name(unsigned int cipher)
{
    return cipher < NR_CIPHERS ? cipher_names[cipher] : NULL;
}

int mig_xfer_cipher_parse(const char *name, unsigned int *cipher)
{
    for (unsigned int c = 0; name && c < NR_CIPHERS; c++) {
        if (!strcmp(name, cipher_names[c])) {
            *cipher = c;
            return 0;
        }
    }
    return MIG_EINVAL;
}

static const EVP_CIPHER *evp_cipher(enum seal_cipher cipher)
{
    return cipher == SEAL_CHACHA20_POLY1305 ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
}

static void make_nonce(uint8_t nonce[SEAL_NONCE_SIZE], uint32_t stream, uint64_t seq)
{
    mig_le32_store(nonce, stream);
    mig_le64_store(nonce + 4, seq);
}

int seal_init(struct seal *seal, enum seal_cipher cipher, const uint8_t key[SEAL_KEY_SIZE])
{
    memset(seal, 0, sizeof(*seal));
    if (!mig_xfer_cipher_name(cipher))
        return mig_error_set(MIG_EINVAL, "data stream cipher %u is none of xenmig's "
                             "(0 aes-256-gcm, 1 chacha20-poly1305)", (unsigned int)cipher);
    seal->ctx = EVP_CIPHER_CTX_new();
    if (!seal->ctx)
        return mig_error_set(MIG_ENOMEM, "out of memory for a cipher context");
    seal->cipher = cipher;
    memcpy(seal->key, key, SEAL_KEY_SIZE);
    return 0;
}

void seal_dispose(struct seal *seal)
{
    if (seal->ctx)
        EVP_CIPHER_CTX_free(seal->ctx);     /* wipes the key schedule */
    seal->ctx = NULL;
    seal->keyed = 0;
    OPENSSL_cleanse(seal->key, sizeof(seal->key));
}

/*
 * Start a message under nonce in direction (KEYED_*): the first call in a
 * direction sets cipher and key, the others only the nonce.  1 on success,
 * as EVP.
 */
static int start_message(struct seal *seal, int direction, const uint8_t *nonce)
{
    EVP_CIPHER_CTX *ctx = seal->ctx;
    int enc = direction == KEYED_ENCRYPT;

    if (seal->keyed != direction) {
        if (EVP_CipherInit_ex(ctx, evp_cipher(seal->cipher), NULL, seal->key, NULL,
                              enc) != 1)
            return 0;
        seal->keyed = direction;
    }
    return EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc);
}

int seal_encrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 struct iovec *iov, int n, uint8_t tag[SEAL_TAG_SIZE])
{
    EVP_CIPHER_CTX *ctx = seal->ctx;
    uint8_t nonce[SEAL_NONCE_SIZE];
    int out;

    make_nonce(nonce, stream, seq);
    if (start_message(seal, KEYED_ENCRYPT, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &out, aad, (int)aad_len) != 1)
        goto fail;
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len &&
            EVP_EncryptUpdate(ctx, iov[i].iov_base, &out, iov[i].iov_base,
                              (int)iov[i].iov_len) != 1)
            goto fail;
    if (EVP_EncryptFinal_ex(ctx, NULL, &out) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_SIZE, tag) != 1)
        goto fail;
    return 0;
fail:
    seal->keyed = 0;                /* start afresh at the next frame */
    return mig_error_set(MIG_EIO, "stream %u: %s encryption failed in libcrypto",
                         stream, mig_xfer_cipher_name(seal->cipher));
}

int seal_decrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 uint8_t *data, size_t len, const uint8_t tag[SEAL_TAG_SIZE])
{
    EVP_CIPHER_CTX *ctx = seal->ctx;
    uint8_t nonce[SEAL_NONCE_SIZE];
    int out;

    make_nonce(nonce, stream, seq);
    if (start_message(seal, KEYED_DECRYPT, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &out, aad, (int)aad_len) != 1 ||
        (len && EVP_DecryptUpdate(ctx, data, &out, data, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_SIZE, (void *)tag) != 1) {
        seal->keyed = 0;
        return mig_error_set(MIG_EIO, "stream %u: %s decryption failed in libcrypto",
                             stream, mig_xfer_cipher_name(seal->cipher));
    }
    if (EVP_DecryptFinal_ex(ctx, NULL, &out) != 1) {
        seal->keyed = 0;
        return MIG_ECORRUPT;     /* the caller says which frame */
    }
    return 0;
}
