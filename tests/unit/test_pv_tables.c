/*
 * test_pv_tables.c: normalisation of a 64-bit PV guest's page tables and
 * frame registers (libmig/backend/xen/pv_tables.h) against a crafted m2p
 * and p2m: present and non-present entries, Xen's L4 slots, an mfn the
 * guest does not own (deferred while live, an error while paused),
 * superpages, types that are not tables.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "mig_error.h"
#include "pv_tables.h"

#define NR_PFNS 16u
#define NR_MFNS 64u
#define FOREIGN_MFN 60u      /* m2p says pfn 2, but pfn 2 is another frame */
#define STRAY_MFN   61u      /* m2p says no pfn of this guest */

static uint64_t m2p[NR_MFNS];
static uint64_t p2m[NR_PFNS];
static struct pv_frame_maps maps;

/* pfn p lives in mfn 32 + (5p mod 16): a permutation, so no pfn == mfn. */
static void setup(void)
{
    for (unsigned int i = 0; i < NR_MFNS; i++)
        m2p[i] = UINT64_MAX;
    for (unsigned int p = 0; p < NR_PFNS; p++) {
        p2m[p] = 32 + (5 * p) % 16;
        m2p[p2m[p]] = p;
    }
    m2p[FOREIGN_MFN] = 2;
    m2p[STRAY_MFN] = 1000;
    maps = (struct pv_frame_maps){ m2p, NR_MFNS - 1, p2m, NR_PFNS - 1 };
    mig_error_clear();
}

static uint64_t pte(uint64_t mfn, uint64_t flags)
{
    return mfn << 12 | flags;
}

START_TEST(test_present_entries_become_pfns_with_flags_kept)
{
    uint64_t in[512] = { 0 }, out[512];
    const uint64_t nx = 1ull << 63;

    for (unsigned int p = 0; p < NR_PFNS; p++)
        in[p * 3] = pte(p2m[p], 0x067 | (p & 1 ? nx : 0));
    memset(out, 0xaa, sizeof(out));
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, false, in, out, NULL), 0);
    for (unsigned int p = 0; p < NR_PFNS; p++) {
        ck_assert_uint_eq(out[p * 3] >> 12 & 0xffffffffffull, p);
        ck_assert_uint_eq(out[p * 3] & 0xfff, 0x067);
        ck_assert_uint_eq(out[p * 3] & nx, p & 1 ? nx : 0);
    }
    /* Zero entries stay zero (not 0xaa from before). */
    ck_assert_uint_eq(out[1], 0);
}
END_TEST

START_TEST(test_non_present_entries_are_copied_as_they_are)
{
    uint64_t in[512] = { 0 }, out[512];

    /* A swapped-out entry: any bits, present clear, mfn field meaningless. */
    in[5] = 0x00000dead0000ffeull;
    in[6] = pte(STRAY_MFN, 0x066);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, true, in, out, NULL), 0);
    ck_assert_uint_eq(out[5], in[5]);
    ck_assert_uint_eq(out[6], in[6]);
}
END_TEST

START_TEST(test_l4_xen_slots_are_cleared_others_normalised)
{
    uint64_t in[512] = { 0 }, out[512];
    unsigned int bad = 0;

    for (unsigned int i = PV_L4_XEN_FIRST_SLOT; i <= PV_L4_XEN_LAST_SLOT; i++)
        in[i] = pte(STRAY_MFN, 0x063);    /* Xen's own frames: not the guest's */
    in[PV_L4_XEN_FIRST_SLOT - 1] = pte(p2m[4], 0x067);
    in[PV_L4_XEN_LAST_SLOT + 1] = pte(p2m[9], 0x067);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L4TAB | MIG_STREAM_PAGE_PINNED, true, in,
                                        out, &bad), 0);
    ck_assert_uint_eq(bad, 512);
    for (unsigned int i = PV_L4_XEN_FIRST_SLOT; i <= PV_L4_XEN_LAST_SLOT; i++)
        ck_assert_uint_eq(out[i], 0);
    ck_assert_uint_eq(out[PV_L4_XEN_FIRST_SLOT - 1], pte(4, 0x067));
    ck_assert_uint_eq(out[PV_L4_XEN_LAST_SLOT + 1], pte(9, 0x067));

    /* The same entries in an L3 are the guest's: a stray one is refused. */
    ck_assert_int_eq(pv_normalise_table(&maps, 3, true, in, out, &bad), MIG_EFORMAT);
    ck_assert_uint_eq(bad, PV_L4_XEN_FIRST_SLOT);
}
END_TEST

START_TEST(test_foreign_mfn_is_deferred_while_live)
{
    uint64_t in[512] = { 0 }, out[512];
    unsigned int bad = 0;

    in[0] = pte(p2m[1], 0x067);
    in[7] = pte(FOREIGN_MFN, 0x067);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, false, in, out, &bad),
                     MIG_EABSENT);
    ck_assert_uint_eq(bad, 7);
    in[7] = pte(NR_MFNS + 100, 0x067);    /* beyond the m2p */
    ck_assert_int_eq(pv_normalise_table(&maps, 2, false, in, out, &bad), MIG_EABSENT);
    ck_assert_uint_eq(bad, 7);
}
END_TEST

START_TEST(test_foreign_mfn_is_an_error_while_paused)
{
    uint64_t in[512] = { 0 }, out[512];
    unsigned int bad = 0;

    in[7] = pte(FOREIGN_MFN, 0x067);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, true, in, out, &bad),
                     MIG_EFORMAT);
    ck_assert_uint_eq(bad, 7);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "L1[7]"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "0x3c"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "disagree"));
    in[7] = pte(STRAY_MFN, 0x067);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, true, in, out, &bad),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "beyond the p2m"));
    in[7] = pte(NR_MFNS, 0x067);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, true, in, out, &bad),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "no such frame"));
}
END_TEST

START_TEST(test_superpages_refused_above_l1_only)
{
    uint64_t in[512] = { 0 }, out[512];
    unsigned int bad = 0;

    in[3] = pte(p2m[3], 0x0e7);          /* PSE set */
    /* In an L1, bit 7 is PAT: an ordinary entry. */
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_L1TAB, true, in, out, &bad), 0);
    ck_assert_uint_eq(out[3], pte(3, 0x0e7));
    ck_assert_int_eq(pv_normalise_table(&maps, 2, false, in, out, &bad), MIG_EFORMAT);
    ck_assert_uint_eq(bad, 3);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "superpage"));
}
END_TEST

START_TEST(test_types_that_are_not_tables_are_refused)
{
    uint64_t in[512] = { 0 }, out[512];

    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_NOTAB, true, in, out, NULL),
                     MIG_EFORMAT);
    ck_assert_int_eq(pv_normalise_table(&maps, MIG_STREAM_PAGE_XTAB, true, in, out, NULL),
                     MIG_EFORMAT);
    ck_assert_int_eq(pv_normalise_table(&maps, 5, true, in, out, NULL), MIG_EFORMAT);
    ck_assert_int_eq(pv_normalise_table(&maps, 1 | MIG_STREAM_PAGE_PINNED, true, in, out, NULL), 0);
}
END_TEST

START_TEST(test_frames_and_the_two_tables)
{
    uint64_t pfn = 99;

    ck_assert(pv_mfn_to_pfn(&maps, p2m[11], &pfn));
    ck_assert_uint_eq(pfn, 11);
    ck_assert(!pv_mfn_to_pfn(&maps, FOREIGN_MFN, NULL));
    ck_assert(!pv_mfn_to_pfn(&maps, UINT64_MAX, NULL));
    ck_assert_int_eq(pv_normalise_frame(&maps, "vcpu0's cr3", p2m[0], &pfn), 0);
    ck_assert_uint_eq(pfn, 0);
    ck_assert_int_eq(pv_normalise_frame(&maps, "vcpu1's cr3", STRAY_MFN, &pfn),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "vcpu1's cr3 names mfn 0x3d"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pv_tables");
    TCase *tc = tcase_create("normalise");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_present_entries_become_pfns_with_flags_kept);
    tcase_add_test(tc, test_non_present_entries_are_copied_as_they_are);
    tcase_add_test(tc, test_l4_xen_slots_are_cleared_others_normalised);
    tcase_add_test(tc, test_foreign_mfn_is_deferred_while_live);
    tcase_add_test(tc, test_foreign_mfn_is_an_error_while_paused);
    tcase_add_test(tc, test_superpages_refused_above_l1_only);
    tcase_add_test(tc, test_types_that_are_not_tables_are_refused);
    tcase_add_test(tc, test_frames_and_the_two_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
