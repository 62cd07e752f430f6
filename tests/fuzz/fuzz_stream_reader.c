/*
 * fuzz_stream_reader.c: libFuzzer target for libmig's stream reader.
 * Reads every item of the input (any of the three formats), decodes every
 * record body, touches every decoded view, and writes every item back: when
 * the whole input was accepted, the rewrite must be byte-identical (abort
 * otherwise).  It must never accept a crash, a sanitizer report or a
 * read outside the input as "fine".
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mig_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum += b[i];
    sink += sum;
}

static void touch_body(const struct mig_stream_body *body)
{
    if (body->layer != MIG_STREAM_LAYER_LIBXC || body->type != MIG_LIBXC_PAGE_DATA)
        return;
    for (uint32_t i = 0; i < body->u.page_data.count; i++)
        sink += mig_stream_page_data_word(body, i);
    touch(body->u.page_data.pages, (size_t)body->u.page_data.data_pages * MIG_PAGE_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_writer *writer = NULL;
    struct mig_stream_record rec;
    struct mig_stream_body body;
    const uint8_t *copy;
    size_t copy_size;
    int rc;

    if (mig_stream_reader_open_mem(&reader, data, size, NULL) ||
        mig_stream_writer_open_buffer(&writer, NULL))
        abort();
    while ((rc = mig_stream_read_record(reader, &rec)) == 0) {
        if (rec.kind == MIG_STREAM_ITEM_RECORD) {
            if (mig_stream_decode_body(&rec, &body))
                abort();   /* the reader validated it already */
            touch(rec.body, rec.length);
            touch_body(&body);
        } else if (rec.kind == MIG_STREAM_ITEM_XL_HEADER) {
            touch(rec.xl.optional_data, rec.xl.optional_data_length);
        }
        if (mig_stream_write_item(writer, &rec))
            abort();
    }
    if (rc < 0 && mig_error_last()[0] == '\0')
        abort();   /* every error carries a message */
    if (rc == 1) {
        if (mig_stream_writer_buffer(writer, &copy, &copy_size) ||
            copy_size != size || memcmp(copy, data, size))
            abort();
    }
    mig_stream_writer_close(writer);
    mig_stream_reader_close(reader);
    return 0;
}
