/*
 * seal.c: AES-256-GCM for the data streams (see seal.h), through OpenSSL's
 * EVP interface.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mig_error.h"
#include "seal.h"
#include "util/le.h"

static void make_nonce(uint8_t nonce[12], uint32_t stream, uint64_t seq)
{
    mig_le32_store(nonce, stream);
    mig_le64_store(nonce + 4, seq);
}

int seal_init(struct seal *seal, const uint8_t key[SEAL_KEY_SIZE])
{
    seal->ctx = EVP_CIPHER_CTX_new();
    if (!seal->ctx)
        return mig_error_set(MIG_ENOMEM, "out of memory for a cipher context");
    memcpy(seal->key, key, SEAL_KEY_SIZE);
    return 0;
}

void seal_dispose(struct seal *seal)
{
    if (seal->ctx)
        EVP_CIPHER_CTX_free(seal->ctx);
    seal->ctx = NULL;
    OPENSSL_cleanse(seal->key, sizeof(seal->key));
}

int seal_encrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 struct iovec *iov, int n, uint8_t tag[SEAL_TAG_SIZE])
{
    EVP_CIPHER_CTX *ctx = seal->ctx;
    uint8_t nonce[12];
    int out;

    make_nonce(nonce, stream, seq);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, seal->key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &out, aad, (int)aad_len) != 1)
        goto fail;
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len &&
            EVP_EncryptUpdate(ctx, iov[i].iov_base, &out, iov[i].iov_base,
                              (int)iov[i].iov_len) != 1)
            goto fail;
    if (EVP_EncryptFinal_ex(ctx, NULL, &out) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_SIZE, tag) != 1)
        goto fail;
    return 0;
fail:
    return mig_error_set(MIG_EIO, "stream %u: AES-256-GCM encryption failed in libcrypto",
                         stream);
}

int seal_decrypt(struct seal *seal, uint32_t stream, uint64_t seq,
                 const uint8_t *aad, size_t aad_len,
                 uint8_t *data, size_t len, const uint8_t tag[SEAL_TAG_SIZE])
{
    EVP_CIPHER_CTX *ctx = seal->ctx;
    uint8_t nonce[12];
    int out;

    make_nonce(nonce, stream, seq);
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, seal->key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &out, aad, (int)aad_len) != 1 ||
        (len && EVP_DecryptUpdate(ctx, data, &out, data, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_SIZE, (void *)tag) != 1)
        return mig_error_set(MIG_EIO, "stream %u: AES-256-GCM decryption failed in "
                             "libcrypto", stream);
    if (EVP_DecryptFinal_ex(ctx, NULL, &out) != 1)
        return MIG_ECORRUPT;     /* the caller says which frame */
    return 0;
}
