/*
 * test_pv_tables.c: normalisation of a 64-bit PV guest's page tables and
 * frame registers (libmig/backend/xen/pv_tables.h) against a crafted m2p
 * and p2m: present and non-present entries, Xen's L4 slots, an mfn the
 * guest does not own (deferred while live, an error while paused),
 * superpages, types that are not tables; and the walk from p2m_cr3 to the
 * frames of a linear p2m list over crafted guest page tables.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- the walk to the linear p2m list's frames ---- */

#define GUEST_FRAMES 512u
#define P2M_VADDR 0xffffc90000000000ull      /* 1 GiB aligned, guest half */
#define ROOT 100u                            /* L4 */
#define L3_TABLE 101u
#define L2_TABLE 102u
#define L1_REAL 200u                         /* stretch 0 */
#define L1_FILLER 210u                       /* the guest's "missing" L1 */
#define LEAF_FILLER 399u

static uint64_t guest[GUEST_FRAMES][512];    /* frame contents by mfn */
static unsigned int reads;

static int read_fake_table(void *arg, uint64_t mfn, uint64_t *entries)
{
    (void)arg;
    reads++;
    if (mfn >= GUEST_FRAMES)
        return mig_error_set(MIG_EIO, "no frame %#llx", (unsigned long long)mfn);
    memcpy(entries, guest[mfn], sizeof(guest[mfn]));
    return 0;
}

static unsigned int index_at(uint64_t vaddr, unsigned int level)
{
    return (unsigned int)(vaddr >> (12 + 9 * (level - 1))) & 511;
}

/*
 * Three 1 GiB stretches of p2m: the first has two real leaves (300, 301)
 * and filler after them, the other two name the filler L1 table.
 */
static void setup_walk(void)
{
    memset(guest, 0, sizeof(guest));
    reads = 0;
    guest[ROOT][index_at(P2M_VADDR, 4)] = pte(L3_TABLE, 0x067);
    guest[L3_TABLE][index_at(P2M_VADDR, 3)] = pte(L2_TABLE, 0x067);
    guest[L2_TABLE][index_at(P2M_VADDR, 2)] = pte(L1_REAL, 0x067);
    guest[L2_TABLE][index_at(P2M_VADDR, 2) + 1] = pte(L1_FILLER, 0x067);
    guest[L2_TABLE][index_at(P2M_VADDR, 2) + 2] = pte(L1_FILLER, 0x067);
    for (unsigned int i = 0; i < 512; i++) {
        guest[L1_REAL][i] = pte(i < 2 ? 300 + i : LEAF_FILLER, 0x8000000000000025ull);
        guest[L1_FILLER][i] = pte(LEAF_FILLER, 0x025);
    }
    mig_error_clear();
}

START_TEST(test_p2m_list_trailing_filler_is_left_out)
{
    uint64_t max_pfn = 3ull * 512 * 512 - 1, *leaves = NULL;
    unsigned int nr = 0;

    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr), 0);
    ck_assert_uint_eq(max_pfn, 512ull * 512 - 1);
    ck_assert_uint_eq(nr, 512);
    ck_assert_uint_eq(leaves[0], 300);
    ck_assert_uint_eq(leaves[1], 301);
    ck_assert_uint_eq(leaves[2], LEAF_FILLER);
    ck_assert_uint_eq(leaves[511], LEAF_FILLER);
    /* Each table frame is read once while the walk stays in it. */
    ck_assert_uint_le(reads, 8);
    free(leaves);
}
END_TEST

START_TEST(test_p2m_list_without_filler_is_kept_whole)
{
    uint64_t max_pfn = 3ull * 512 * 512 - 1, *leaves = NULL;
    unsigned int nr = 0;

    /* The third stretch has its own table: no trailing run. */
    guest[L2_TABLE][index_at(P2M_VADDR, 2) + 2] = pte(L1_REAL, 0x067);
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr), 0);
    ck_assert_uint_eq(max_pfn, 3ull * 512 * 512 - 1);
    ck_assert_uint_eq(nr, 3 * 512);
    ck_assert_uint_eq(leaves[1024], 300);
    ck_assert_uint_eq(leaves[512], LEAF_FILLER);
    free(leaves);

    /* A list shorter than its first stretch: only its own frames. */
    max_pfn = 1023;
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr), 0);
    ck_assert_uint_eq(max_pfn, 1023);
    ck_assert_uint_eq(nr, 2);
    ck_assert_uint_eq(leaves[1], 301);
    free(leaves);
}
END_TEST

START_TEST(test_p2m_list_bad_entries_are_refused)
{
    uint64_t max_pfn = 1023, *leaves = NULL;
    unsigned int nr = 7;

    guest[L3_TABLE][index_at(P2M_VADDR, 3)] &= ~(uint64_t)PV_PTE_PRESENT;
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);
    ck_assert_ptr_null(leaves);
    ck_assert_uint_eq(nr, 0);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "L3["));
    setup_walk();
    guest[L1_REAL][1] = pte(GUEST_FRAMES + 5, 0x025);       /* beyond max_mfn */
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "L1[1]"));
    setup_walk();
    guest[L2_TABLE][index_at(P2M_VADDR, 2)] |= PV_PTE_PSE;  /* a 2 MiB mapping */
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "L2["));
}
END_TEST

START_TEST(test_p2m_list_address_ranges_refused)
{
    uint64_t max_pfn = 1023, *leaves = NULL;
    unsigned int nr = 0;

    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, 0xffff800000001000ull,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);            /* Xen's own range */
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, 0x0000900000000000ull,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);            /* not canonical */
    ck_assert_int_eq(pv_p2m_list_frames(read_fake_table, NULL, ROOT, P2M_VADDR + 8,
                                        GUEST_FRAMES - 1, &max_pfn, &leaves, &nr),
                     MIG_EFORMAT);            /* not page aligned */
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "0xffffc90000000008"));
    ck_assert_uint_eq(reads, 0);
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
    tc = tcase_create("p2m_list");
    tcase_add_checked_fixture(tc, setup_walk, NULL);
    tcase_add_test(tc, test_p2m_list_trailing_filler_is_left_out);
    tcase_add_test(tc, test_p2m_list_without_filler_is_kept_whole);
    tcase_add_test(tc, test_p2m_list_bad_entries_are_refused);
    tcase_add_test(tc, test_p2m_list_address_ranges_refused);
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
