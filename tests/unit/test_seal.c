/*
 * test_seal.c: the data streams' ciphers (libmig/xfer/seal.c) on their
 * own: known answers (RFC 8439 section 2.8.2 for ChaCha20-Poly1305, whose
 * 12-byte nonce is exactly stream 7, sequence 0x4746454443424140 in our
 * layout), round trips, a flipped bit in the data, the tag or the
 * associated data, another nonce or the other cipher failing with
 * MIG_ECORRUPT, and a context reused over many frames (the cipher and key
 * set once) sealing exactly as a fresh one.  Also the CPUID probe's
 * answer against /proc/cpuinfo.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_error.h"
#include "mig_xfer.h"
#include "util/host.h"
#include "xfer/seal.h"

static const char rfc_text[] = "Ladies and Gentlemen of the class of '99: If I could "
                               "offer you only one tip for the future, sunscreen would "
                               "be it.";
static const uint8_t rfc_aad[12] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3,
                                     0xc4, 0xc5, 0xc6, 0xc7 };
#define RFC_STREAM 7u
#define RFC_SEQ UINT64_C(0x4746454443424140)

static const enum seal_cipher ciphers[] = { SEAL_AES_256_GCM, SEAL_CHACHA20_POLY1305 };

static void rfc_key(uint8_t key[SEAL_KEY_SIZE])
{
    for (int i = 0; i < SEAL_KEY_SIZE; i++)
        key[i] = (uint8_t)(0x80 + i);
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned int byte;

        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (uint8_t)byte;
    }
}

/* Seal the RFC's text under cipher; its first 16 bytes and tag must match. */
static void known_answer(enum seal_cipher cipher, const char *head_hex, const char *tag_hex)
{
    uint8_t key[SEAL_KEY_SIZE], buf[sizeof(rfc_text)], tag[SEAL_TAG_SIZE];
    uint8_t want_head[16], want_tag[SEAL_TAG_SIZE];
    struct iovec iov = { buf, sizeof(rfc_text) - 1 };
    struct seal seal;

    rfc_key(key);
    memcpy(buf, rfc_text, sizeof(rfc_text));
    unhex(head_hex, want_head, sizeof(want_head));
    unhex(tag_hex, want_tag, sizeof(want_tag));
    ck_assert_int_eq(seal_init(&seal, cipher, key), 0);
    ck_assert_int_eq(seal_encrypt(&seal, RFC_STREAM, RFC_SEQ, rfc_aad, sizeof(rfc_aad),
                                  &iov, 1, tag), 0);
    ck_assert_mem_eq(buf, want_head, sizeof(want_head));
    ck_assert_mem_eq(tag, want_tag, sizeof(want_tag));
    ck_assert_int_eq(seal_decrypt(&seal, RFC_STREAM, RFC_SEQ, rfc_aad, sizeof(rfc_aad),
                                  buf, sizeof(rfc_text) - 1, tag), 0);
    ck_assert_mem_eq(buf, rfc_text, sizeof(rfc_text) - 1);
    seal_dispose(&seal);
}

START_TEST(test_chacha_rfc8439_vector)
{
    known_answer(SEAL_CHACHA20_POLY1305, "d31a8d34648e60db7b86afbc53ef7ec2",
                 "1ae10b594f09e26a7e902ecbd0600691");
}
END_TEST

/* Not a published vector: python3-cryptography's AESGCM over the same inputs. */
START_TEST(test_aes_gcm_known_answer)
{
    known_answer(SEAL_AES_256_GCM, "7c0df61c33f0c998dbe516797c7908dc",
                 "029f36e34e07302fbf985597bca58e5f");
}
END_TEST

/* A frame: 16 bytes of header (the AAD) and a body of len bytes. */
struct frame {
    uint8_t header[16];
    uint8_t body[4096];
    size_t len;
    uint8_t tag[SEAL_TAG_SIZE];
};

static void make_frame(struct frame *f, uint64_t seq, size_t len)
{
    for (size_t i = 0; i < sizeof(f->header); i++)
        f->header[i] = (uint8_t)(seq * 31 + i);
    for (size_t i = 0; i < len; i++)
        f->body[i] = (uint8_t)(seq + i * 7);
    f->len = len;
}

static void seal_frame(struct seal *seal, uint32_t stream, uint64_t seq, struct frame *f)
{
    struct iovec iov[2] = { { f->body, f->len / 2 }, { f->body + f->len / 2,
                                                       f->len - f->len / 2 } };

    ck_assert_int_eq(seal_encrypt(seal, stream, seq, f->header, sizeof(f->header),
                                  iov, 2, f->tag), 0);
}

static int open_frame(struct seal *seal, uint32_t stream, uint64_t seq, struct frame *f)
{
    return seal_decrypt(seal, stream, seq, f->header, sizeof(f->header), f->body,
                        f->len, f->tag);
}

/*
 * For both ciphers: a sealed frame opens to its plaintext; with a bit
 * flipped in the body, tag or header, under another sequence number or
 * stream, or opened by the other cipher, it fails with MIG_ECORRUPT; and
 * the context opens good frames again after each failure.
 */
START_TEST(test_round_trip_and_tamper)
{
    static const uint8_t key[SEAL_KEY_SIZE] = { 9, 8, 7, 6, 5 };
    enum seal_cipher cipher = ciphers[_i];
    struct seal tx, rx, other;
    struct frame f, plain;

    ck_assert_int_eq(seal_init(&tx, cipher, key), 0);
    ck_assert_int_eq(seal_init(&rx, cipher, key), 0);
    ck_assert_int_eq(seal_init(&other, cipher == SEAL_AES_256_GCM ?
                               SEAL_CHACHA20_POLY1305 : SEAL_AES_256_GCM, key), 0);
    for (int c = 0; c < 7; c++) {
        make_frame(&plain, 5, 3000);
        f = plain;
        seal_frame(&tx, 3, 5, &f);
        ck_assert(memcmp(f.body, plain.body, f.len));   /* encrypted in place */
        switch (c) {
        case 0: f.body[1234] ^= 0x10; break;
        case 1: f.tag[15] ^= 0x01; break;
        case 2: f.header[4] ^= 0x80; break;
        case 3: ck_assert_int_eq(open_frame(&rx, 3, 6, &f), MIG_ECORRUPT); continue;
        case 4: ck_assert_int_eq(open_frame(&rx, 4, 5, &f), MIG_ECORRUPT); continue;
        case 5: ck_assert_int_eq(open_frame(&other, 3, 5, &f), MIG_ECORRUPT); continue;
        case 6:
            ck_assert_int_eq(open_frame(&rx, 3, 5, &f), 0);
            ck_assert_mem_eq(f.body, plain.body, f.len);
            continue;
        }
        ck_assert_int_eq(open_frame(&rx, 3, 5, &f), MIG_ECORRUPT);
    }
    seal_dispose(&tx);
    seal_dispose(&rx);
    seal_dispose(&other);
}
END_TEST

/*
 * A context sealing frame after frame (cipher and key set once, the nonce
 * per frame), with a proof of key (no body) between, seals each exactly as
 * a context used for that frame alone; one context can open, seal and open
 * again.
 */
START_TEST(test_reused_context_matches_fresh)
{
    static const uint8_t key[SEAL_KEY_SIZE] = { 0xaa, 0x55, 1 };
    enum seal_cipher cipher = ciphers[_i];
    uint8_t hello[48] = { 'X' }, proof_reused[SEAL_TAG_SIZE], proof_fresh[SEAL_TAG_SIZE];
    struct seal reused, fresh;
    struct frame a, b;

    ck_assert_int_eq(seal_init(&reused, cipher, key), 0);
    for (uint64_t seq = 0; seq < 40; seq++) {
        make_frame(&a, seq, seq * 97 % 4096);
        b = a;
        seal_frame(&reused, 2, seq, &a);
        ck_assert_int_eq(seal_init(&fresh, cipher, key), 0);
        seal_frame(&fresh, 2, seq, &b);
        ck_assert_mem_eq(a.body, b.body, a.len);
        ck_assert_mem_eq(a.tag, b.tag, SEAL_TAG_SIZE);
        ck_assert_int_eq(seal_encrypt(&reused, 2, SEAL_HELLO_SEQ, hello, sizeof(hello),
                                      NULL, 0, proof_reused), 0);
        ck_assert_int_eq(seal_encrypt(&fresh, 2, SEAL_HELLO_SEQ, hello, sizeof(hello),
                                      NULL, 0, proof_fresh), 0);
        ck_assert_mem_eq(proof_reused, proof_fresh, SEAL_TAG_SIZE);
        /* the same context both ways */
        ck_assert_int_eq(open_frame(&reused, 2, seq, &b), 0);
        seal_dispose(&fresh);
    }
    seal_dispose(&reused);
}
END_TEST

START_TEST(test_cipher_names)
{
    unsigned int c = 99;

    ck_assert_str_eq(mig_xfer_cipher_name(MIG_XFER_CIPHER_AES_256_GCM), "aes-256-gcm");
    ck_assert_str_eq(mig_xfer_cipher_name(MIG_XFER_CIPHER_CHACHA20_POLY1305),
                     "chacha20-poly1305");
    ck_assert_ptr_null(mig_xfer_cipher_name(2));
    ck_assert_int_eq(mig_xfer_cipher_parse("chacha20-poly1305", &c), 0);
    ck_assert_uint_eq(c, MIG_XFER_CIPHER_CHACHA20_POLY1305);
    ck_assert_int_eq(mig_xfer_cipher_parse("aes-256-gcm", &c), 0);
    ck_assert_uint_eq(c, MIG_XFER_CIPHER_AES_256_GCM);
    ck_assert_int_eq(mig_xfer_cipher_parse("aes-128-gcm", &c), MIG_EINVAL);
    ck_assert_int_eq(mig_xfer_cipher_parse(NULL, &c), MIG_EINVAL);
}
END_TEST

START_TEST(test_unknown_cipher_refused)
{
    static const uint8_t key[SEAL_KEY_SIZE];
    struct seal seal;

    ck_assert_int_eq(seal_init(&seal, (enum seal_cipher)2, key), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "cipher 2"));
    seal_dispose(&seal);        /* harmless after a failed init */
}
END_TEST

/* The CPUID probe agrees with the kernel's flags (x86; elsewhere false). */
START_TEST(test_aes_probe_matches_cpuinfo)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool aes = false, pclmul = false, flags_seen = false;

    if (!f)
        return;                 /* nothing to compare with */
    while (!flags_seen && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "flags", 5))
            continue;
        flags_seen = true;
        aes = strstr(line, " aes ") || strstr(line, " aes\n");
        pclmul = strstr(line, " pclmulqdq ") || strstr(line, " pclmulqdq\n");
    }
    fclose(f);
#if defined(__x86_64__) || defined(__i386__)
    ck_assert(flags_seen);
    ck_assert_int_eq(mig_host_has_aes_instructions(), aes && pclmul);
#else
    (void)aes, (void)pclmul;
    ck_assert(!mig_host_has_aes_instructions());
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_chacha_rfc8439_vector);
    tcase_add_test(tc, test_aes_gcm_known_answer);
    tcase_add_loop_test(tc, test_round_trip_and_tamper, 0, 2);
    tcase_add_loop_test(tc, test_reused_context_matches_fresh, 0, 2);
    tcase_add_test(tc, test_cipher_names);
    tcase_add_test(tc, test_unknown_cipher_refused);
    tcase_add_test(tc, test_aes_probe_matches_cpuinfo);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
