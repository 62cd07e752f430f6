/*
 * util.c: file and line helpers of cpuid-policy: the library's one reader
 * of whole text files (cpuid_read_text_file, public: xl-ext reads its files
 * with it too) and the internal helpers of cpuid_internal.h.  Must never
 * trust a file's size: every read is bounded by its caller's limit; must
 * never leave a partial file behind.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_internal.h"
#include "mig_error.h"
#include "util/file.h"
#include "util/io.h"

int cpuid_read_text_file(const char *path, const char *what, size_t limit, unsigned int flags,
                         char **text_out, size_t *length_out)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    const char *nul;
    size_t got;
    int rc;

    *text_out = NULL;
    *length_out = 0;
    if (!f)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open %s '%s'", what, path);
    buf = malloc(limit + 1);
    if (!buf) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory reading %s '%s'", what, path);
        goto out;
    }
    got = fread(buf, 1, limit + 1, f);
    if (ferror(f)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read %s '%s'", what, path);
        goto out;
    }
    if (got > limit) {
        rc = mig_error_set(MIG_ELIMIT, "%s '%s' is larger than the %zu bytes allowed",
                           what, path, limit);
        goto out;
    }
    nul = (flags & CPUID_READ_REFUSE_NUL) ? memchr(buf, '\0', got) : NULL;
    if (nul) {
        rc = mig_error_set(MIG_EFORMAT, "%s '%s' contains a NUL byte at offset %zu: not a "
                           "text file", what, path, (size_t)(nul - buf));
        goto out;
    }
    buf[got] = '\0';
    *text_out = buf;
    *length_out = got;
    buf = NULL;
    rc = 0;
 out:
    free(buf);
    fclose(f);
    return rc;
}

int cpuid_next_line(const char **cursor, const char *end, const char **line,
                    size_t *line_len)
{
    const char *p = *cursor, *nl;
    size_t len;

    if (p >= end)
        return 0;
    nl = memchr(p, '\n', (size_t)(end - p));
    len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    *cursor = nl ? nl + 1 : end;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
        len--;
    *line = p;
    *line_len = len;
    return 1;
}

void cpuid_text_quote(const char *text, size_t length, char *buf, size_t size)
{
    size_t out = 0;

    if (!size)
        return;
    for (size_t i = 0; i < length && out + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[out++] = (char)c;
        } else {
            if (out + 5 >= size)
                break;
            snprintf(buf + out, size - out, "\\x%02x", c);
            out += 4;
        }
    }
    buf[out] = '\0';
}

void cpuid_copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

char *cpuid_strdup(const char *s)
{
    char *copy = strdup(s ? s : "");

    if (!copy)
        mig_error_set(MIG_ENOMEM, "out of memory");
    return copy;
}

int cpuid_error_prefix(const char *fmt, ...)
{
    char saved[1024], prefix[512];
    int code = mig_error_last_code();
    va_list ap;

    snprintf(saved, sizeof(saved), "%s", mig_error_last());
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    return mig_error_set(code, "%s: %s", prefix, saved);
}

int cpuid_parse_json_object(const char *text, size_t len, const char *origin, void **out)
{
    json_tokener *tok;
    json_object *obj;
    int rc;

    if (len > CPUID_MAX_FILE_SIZE)
        return mig_error_set(MIG_ELIMIT, "%s: %zu bytes is larger than %u: not a cpuid-policy "
                             "file", origin, len, CPUID_MAX_FILE_SIZE);
    tok = json_tokener_new();
    if (!tok)
        return mig_error_set(MIG_ENOMEM, "out of memory parsing %s", origin);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    if (!obj) {
        enum json_tokener_error jerr = json_tokener_get_error(tok);

        if (jerr == json_tokener_continue)
            rc = mig_error_set(MIG_ETRUNC, "%s: the JSON ends early (after %zu bytes)", origin,
                               len);
        else
            rc = mig_error_set(MIG_EFORMAT, "%s: not JSON at offset %zu: %s", origin,
                               json_tokener_get_parse_end(tok),
                               json_tokener_error_desc(jerr));
        goto out;
    }
    if (json_tokener_get_parse_end(tok) < len &&
        strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") !=
        len - json_tokener_get_parse_end(tok)) {
        json_object_put(obj);
        rc = mig_error_set(MIG_EFORMAT, "%s: text after the JSON object at offset %zu",
                           origin, json_tokener_get_parse_end(tok));
        goto out;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        rc = mig_error_set(MIG_EFORMAT, "%s: the document must be a JSON object", origin);
        goto out;
    }
    *out = obj;
    rc = 0;
 out:
    json_tokener_free(tok);
    return rc;
}

int cpuid_write_text_file(const char *path, const char *text)
{
    struct mig_whole_file f;
    int rc;

    rc = mig_whole_file_open(&f, path, 0644, "the file");
    if (rc)
        return rc;
    rc = mig_write_all(f.fd, text, strlen(text), 0, "cannot write '%s'", path);
    if (rc) {
        mig_whole_file_discard(&f);
        return rc;
    }
    return mig_whole_file_commit(&f, "the file");
}
