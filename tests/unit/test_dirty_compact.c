/*
 * test_dirty_compact.c: property tests of the compacted dirty-set encoding
 * (libmig/dirty/compact.c): random bitmaps of many sizes, densities and
 * shapes round-trip exactly, the count survives, the encoding never exceeds
 * the documented bound; malformed encodings are rejected with the right code.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_testutil.h"
#include "mig_dirty.h"
#include "mig_error.h"

#define REGION_PFNS (UINT64_C(1) << MIG_DIRTY_COMPACT_REGION_SHIFT)

static struct mig_dirty_bitmap *new_bitmap(uint64_t nr_pfns)
{
    struct mig_dirty_bitmap *bitmap = NULL;

    ck_assert_int_eq(mig_dirty_bitmap_create(nr_pfns, &bitmap), MIG_OK);
    return bitmap;
}

/* Encode, check the bound, decode into a fresh bitmap, compare. */
static void check_round_trip(const struct mig_dirty_bitmap *bitmap,
                             size_t *encoded_len)
{
    uint64_t n = mig_dirty_bitmap_nr_pfns(bitmap), peeked = 0;
    struct mig_dirty_bitmap *decoded = new_bitmap(n);
    size_t len = 0, nr_words;
    void *buf = NULL;

    ck_assert_int_eq(mig_dirty_compact_encode(bitmap, &buf, &len), MIG_OK);
    ck_assert_ptr_nonnull(buf);
    mig_dirty_bitmap_words(bitmap, &nr_words);
    /* never larger than the raw bitmap + header + 5 bytes per region */
    ck_assert_uint_le(len, mig_dirty_compact_bound(n));
    ck_assert_uint_eq(mig_dirty_compact_bound(n),
                      nr_words * 8 + MIG_DIRTY_COMPACT_HEADER_SIZE +
                      MIG_DIRTY_COMPACT_REGION_HEADER_SIZE *
                      ((n + REGION_PFNS - 1) / REGION_PFNS));
    ck_assert_int_eq(mig_dirty_compact_peek_nr_pfns(buf, len, &peeked), MIG_OK);
    ck_assert_uint_eq(peeked, n);
    /* pre-dirty the destination: decode must replace, not merge */
    mig_dirty_bitmap_set(decoded, n - 1);
    ck_assert_msg(mig_dirty_compact_decode(buf, len, decoded) == MIG_OK,
                  "decode failed: %s", mig_error_last());
    ck_assert(mig_dirty_bitmap_equal(decoded, bitmap));
    ck_assert_uint_eq(mig_dirty_bitmap_count(decoded),
                      mig_dirty_bitmap_count(bitmap));
    if (encoded_len)
        *encoded_len = len;
    free(buf);
    mig_dirty_bitmap_free(decoded);
}

/* Many sizes (region and word edges) x densities. */
START_TEST(test_round_trip_random_densities)
{
    static const uint64_t sizes[] = {
        1, 7, 64, 65, 4095, REGION_PFNS - 1, REGION_PFNS, REGION_PFNS + 1,
        3 * REGION_PFNS + 12345, 10 * REGION_PFNS,
    };
    static const uint64_t ppm[] = {
        0, 1, 30, 100, 1000, 20000, 50000, 200000, 500000, 900000, 999000,
        1000000,
    };
    uint64_t seed = 0xd1e7 + (uint64_t)_i, d;

    for (d = 0; d < sizeof(ppm) / sizeof(ppm[0]); d++) {
        struct mig_dirty_bitmap *bitmap = new_bitmap(sizes[_i]);

        test_fill_random(bitmap, ppm[d], &seed);
        check_round_trip(bitmap, NULL);
        mig_dirty_bitmap_free(bitmap);
    }
}
END_TEST

/* Runs (clustered), runs across region edges, alternating bits. */
START_TEST(test_round_trip_shapes)
{
    uint64_t n = 5 * REGION_PFNS + 777, seed = 99, pfn, runs;
    struct mig_dirty_bitmap *bitmap = new_bitmap(n);
    size_t len;

    for (runs = 1; runs <= 4096; runs *= 4) {
        mig_dirty_bitmap_clear_all(bitmap);
        test_fill_runs(bitmap, runs, 3000, &seed);
        check_round_trip(bitmap, NULL);
    }
    /* one run crossing every region boundary */
    mig_dirty_bitmap_clear_all(bitmap);
    for (pfn = REGION_PFNS; pfn < n; pfn += REGION_PFNS)
        mig_dirty_bitmap_set_range(bitmap, pfn - 3, 6);
    check_round_trip(bitmap, &len);
    /* a handful of extents: far smaller than a bitmap chunk */
    ck_assert_uint_lt(len, 200);
    /* the worst case for extents: every other bit; must fall back to
     * raw chunks and stay within the bound */
    mig_dirty_bitmap_clear_all(bitmap);
    for (pfn = 0; pfn < n; pfn += 2)
        mig_dirty_bitmap_set(bitmap, pfn);
    check_round_trip(bitmap, &len);
    ck_assert_uint_ge(len, n / 8);
    /* the last pfn alone, and the full space */
    mig_dirty_bitmap_clear_all(bitmap);
    mig_dirty_bitmap_set(bitmap, n - 1);
    check_round_trip(bitmap, NULL);
    mig_dirty_bitmap_set_range(bitmap, 0, n);
    check_round_trip(bitmap, &len);
    ck_assert_uint_lt(len, 100);
    mig_dirty_bitmap_free(bitmap);
}
END_TEST

START_TEST(test_empty_set_is_header_only)
{
    struct mig_dirty_bitmap *bitmap = new_bitmap(1000000);
    size_t len;

    check_round_trip(bitmap, &len);
    ck_assert_uint_eq(len, MIG_DIRTY_COMPACT_HEADER_SIZE);
    mig_dirty_bitmap_free(bitmap);
}
END_TEST

/* ------------------------------------------------------ malformed input */

/* Hand-built encodings: header + raw record bytes. */
struct builder {
    uint8_t bytes[256];
    size_t len;
};

static void put_le(struct builder *b, uint64_t v, unsigned size)
{
    unsigned i;

    for (i = 0; i < size; i++)
        b->bytes[b->len++] = (uint8_t)(v >> (8 * i));
}

static void header(struct builder *b, uint64_t nr_pfns, uint64_t nr_dirty,
                   uint32_t nr_records)
{
    b->len = 0;
    memcpy(b->bytes, "XMDS", 4);
    b->len = 4;
    put_le(b, MIG_DIRTY_COMPACT_VERSION, 1);
    put_le(b, MIG_DIRTY_COMPACT_REGION_SHIFT, 1);
    put_le(b, 0, 2);
    put_le(b, nr_pfns, 8);
    put_le(b, nr_dirty, 8);
    put_le(b, nr_records, 4);
    put_le(b, 0, 4);
}

/* EXTENTS record with one extent [start, start + length) */
static void one_extent(struct builder *b, uint32_t region, uint8_t start,
                       uint8_t length)
{
    put_le(b, 1, 1);
    put_le(b, region, 4);
    put_le(b, 1, 1);            /* nr_extents */
    put_le(b, start, 1);        /* gap (start < 128) */
    put_le(b, length - 1, 1);
}

static int decode_into(const struct builder *b, uint64_t nr_pfns)
{
    struct mig_dirty_bitmap *bitmap = new_bitmap(nr_pfns);
    int rc = mig_dirty_compact_decode(b->bytes, b->len, bitmap);

    mig_dirty_bitmap_free(bitmap);
    return rc;
}

#define N (3 * REGION_PFNS)

START_TEST(test_valid_hand_built)
{
    struct builder b;
    struct mig_dirty_bitmap *bitmap = new_bitmap(N);

    header(&b, N, 5, 2);
    one_extent(&b, 0, 10, 2);
    one_extent(&b, 2, 0, 3);
    ck_assert_int_eq(mig_dirty_compact_decode(b.bytes, b.len, bitmap), MIG_OK);
    ck_assert(mig_dirty_bitmap_test(bitmap, 10));
    ck_assert(mig_dirty_bitmap_test(bitmap, 11));
    ck_assert(!mig_dirty_bitmap_test(bitmap, 12));
    ck_assert(mig_dirty_bitmap_test(bitmap, 2 * REGION_PFNS + 2));
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), 5);
    mig_dirty_bitmap_free(bitmap);
}
END_TEST

START_TEST(test_every_truncation_rejected)
{
    uint64_t seed = 3;
    struct mig_dirty_bitmap *bitmap = new_bitmap(N), *out = new_bitmap(N);
    size_t len, cut;
    void *buf;
    int rc;

    test_fill_runs(bitmap, 40, 50, &seed);
    mig_dirty_bitmap_set_range(bitmap, REGION_PFNS, 2000);
    for (uint64_t p = 2 * REGION_PFNS; p < N; p += 3)
        mig_dirty_bitmap_set(bitmap, p);   /* forces a BITMAP record */
    ck_assert_int_eq(mig_dirty_compact_encode(bitmap, &buf, &len), MIG_OK);
    for (cut = 0; cut < len; cut++) {
        rc = mig_dirty_compact_decode(buf, cut, out);
        ck_assert_msg(rc == MIG_ETRUNC, "prefix of %zu/%zu bytes: got %s (%s)",
                      cut, len, mig_error_name(rc), mig_error_last());
    }
    ck_assert_int_eq(mig_dirty_compact_decode(buf, len, out), MIG_OK);
    free(buf);
    mig_dirty_bitmap_free(bitmap);
    mig_dirty_bitmap_free(out);
}
END_TEST

START_TEST(test_header_errors)
{
    struct builder b;

    header(&b, N, 0, 0);
    ck_assert_int_eq(decode_into(&b, N), MIG_OK);
    ck_assert_int_eq(decode_into(&b, N + 1), MIG_EINVAL);

    header(&b, N, 0, 0);
    b.bytes[4] = 2;                                  /* unknown version */
    ck_assert_int_eq(decode_into(&b, N), MIG_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "version 2"));

    header(&b, N, 0, 0);
    b.bytes[5] = 12;                                 /* other region shift */
    ck_assert_int_eq(decode_into(&b, N), MIG_EUNSUPP);

    header(&b, N, 0, 0);
    b.bytes[0] = 'Y';
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "offset 0"));

    header(&b, N, 0, 0);
    b.bytes[30] = 1;                                 /* reserved */
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    header(&b, MIG_DIRTY_MAX_PFNS + 1, 0, 0);
    ck_assert_int_eq(decode_into(&b, N), MIG_ELIMIT);

    header(&b, 0, 0, 0);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    header(&b, N, 0, 4);                             /* 4 records, 3 regions */
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    header(&b, N, 1, 0);                             /* count mismatch */
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "says 1 dirty"));

    header(&b, N, 0, 0);
    put_le(&b, 0, 1);                                /* trailing byte */
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "after the last record"));
}
END_TEST

START_TEST(test_record_errors)
{
    struct builder b;

    /* regions out of order */
    header(&b, N, 2, 2);
    one_extent(&b, 2, 0, 1);
    one_extent(&b, 1, 0, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "record 1 at offset 40"));

    /* the same region twice (overlapping records) */
    header(&b, N, 2, 2);
    one_extent(&b, 1, 0, 1);
    one_extent(&b, 1, 5, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "strictly increasing"));

    /* region past the end */
    header(&b, N, 1, 1);
    one_extent(&b, 3, 0, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "past the last region"));

    /* extent past the end of a short last region (N - 100 pfns) */
    header(&b, N - 100, 1, 1);
    put_le(&b, 1, 1);
    put_le(&b, 2, 4);
    put_le(&b, 1, 1);
    put_le(&b, 0x80 | ((REGION_PFNS - 100) & 0x7f), 1);   /* gap = 32668 */
    put_le(&b, 0x80 | (((REGION_PFNS - 100) >> 7) & 0x7f), 1);
    put_le(&b, ((REGION_PFNS - 100) >> 14) & 0x7f, 1);
    put_le(&b, 0, 1);                                      /* length 1 */
    ck_assert_int_eq(decode_into(&b, N - 100), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "runs past the end"));

    /* second extent past the end of a full region */
    header(&b, N, 2, 1);
    put_le(&b, 1, 1);
    put_le(&b, 0, 4);
    put_le(&b, 2, 1);                    /* two extents */
    put_le(&b, 0, 1);
    put_le(&b, 0, 1);                    /* [0, 1) */
    put_le(&b, 0xfe, 1);
    put_le(&b, 0xff, 1);
    put_le(&b, 0x01, 1);                 /* gap 32766: start 32768 */
    put_le(&b, 0, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    /* zero extents */
    header(&b, N, 0, 1);
    put_le(&b, 1, 1);
    put_le(&b, 0, 4);
    put_le(&b, 0, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    /* over-long varint */
    header(&b, N, 1, 1);
    put_le(&b, 1, 1);
    put_le(&b, 0, 4);
    put_le(&b, 0x81, 1);
    put_le(&b, 0x80, 1);
    put_le(&b, 0x80, 1);
    put_le(&b, 0x00, 1);
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);

    /* unknown record type */
    header(&b, N, 1, 1);
    one_extent(&b, 0, 0, 1);
    b.bytes[32] = 9;
    ck_assert_int_eq(decode_into(&b, N), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "unknown type 9"));
}
END_TEST

START_TEST(test_bitmap_record_errors)
{
    uint64_t n = 100;          /* one short region: 2 words */
    struct builder b;

    /* bits past the end of the pfn space */
    header(&b, n, 1, 1);
    put_le(&b, 2, 1);
    put_le(&b, 0, 4);
    put_le(&b, 0, 8);
    put_le(&b, UINT64_C(1) << 40, 8);    /* pfn 104 >= 100 */
    ck_assert_int_eq(decode_into(&b, n), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "past the end"));

    /* empty chunk */
    header(&b, n, 0, 1);
    put_le(&b, 2, 1);
    put_le(&b, 0, 4);
    put_le(&b, 0, 8);
    put_le(&b, 0, 8);
    ck_assert_int_eq(decode_into(&b, n), MIG_EFORMAT);

    /* a good one, then cut its body */
    header(&b, n, 2, 1);
    put_le(&b, 2, 1);
    put_le(&b, 0, 4);
    put_le(&b, 1, 8);
    put_le(&b, UINT64_C(1) << 35, 8);
    ck_assert_int_eq(decode_into(&b, n), MIG_OK);
    b.len -= 1;
    ck_assert_int_eq(decode_into(&b, n), MIG_ETRUNC);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dirty_compact");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_round_trip_random_densities, 0, 10);
    tcase_add_test(tc, test_round_trip_shapes);
    tcase_add_test(tc, test_empty_set_is_header_only);
    tcase_add_test(tc, test_valid_hand_built);
    tcase_add_test(tc, test_every_truncation_rejected);
    tcase_add_test(tc, test_header_errors);
    tcase_add_test(tc, test_record_errors);
    tcase_add_test(tc, test_bitmap_record_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
