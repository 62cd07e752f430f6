/*
 * cipher.c: the data streams' cipher, agreed over the control channel
 * (cipher.h).  Reads only the members it is given; never sees the key.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cipher.h"
#include "mig_error.h"
#include "mig_migrate.h"
#include "mig_xfer.h"

void cipher_offer(unsigned int choice, bool has_aes, unsigned int offer[CIPHER_MAX_OFFER],
                  unsigned int *n)
{
    bool automatic = choice == MIG_MIGRATE_CIPHER_AUTO;

    if (automatic)
        choice = has_aes ? MIG_XFER_CIPHER_AES_256_GCM : MIG_XFER_CIPHER_CHACHA20_POLY1305;
    *n = 0;
    offer[(*n)++] = choice;
    if (choice != MIG_XFER_CIPHER_AES_256_GCM)
        offer[(*n)++] = MIG_XFER_CIPHER_AES_256_GCM;    /* what older peers run */
    else if (automatic)
        offer[(*n)++] = MIG_XFER_CIPHER_CHACHA20_POLY1305;
}

json_object *cipher_offer_json(const unsigned int *offer, unsigned int n)
{
    json_object *list = json_object_new_array();

    for (unsigned int i = 0; list && i < n; i++)
        json_object_array_add(list, json_object_new_string(mig_xfer_cipher_name(offer[i])));
    return list;
}

/* The offer quoted for a message: "a, b" (at most size bytes). */
static void quote_offer(json_object *list, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(list) && used < size; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(list, i));
        int w = snprintf(out + used, size - used, "%s'%s'", i ? ", " : "",
                         name ? name : "");

        used += w > 0 ? (size_t)w : 0;
    }
}

int cipher_choose(json_object *hello, bool has_aes, unsigned int *cipher)
{
    json_object *list;
    bool have_first = false, offers_chacha = false;
    unsigned int first = 0;
    char quoted[160];

    *cipher = MIG_XFER_CIPHER_AES_256_GCM;
    if (!json_object_object_get_ex(hello, "ciphers", &list))
        return 0;                       /* an older source: AES-256-GCM */
    if (!json_object_is_type(list, json_type_array))
        return mig_error_set(MIG_EFORMAT, "the source's hello: \"ciphers\" is not a "
                             "list of cipher names: '%.80s'", json_object_get_string(list));
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *name = json_object_array_get_idx(list, i);
        unsigned int c;

        if (!json_object_is_type(name, json_type_string))
            return mig_error_set(MIG_EFORMAT, "the source's hello: \"ciphers\" holds "
                                 "'%.40s', not a cipher name", json_object_get_string(name));
        if (mig_xfer_cipher_parse(json_object_get_string(name), &c))
            continue;                   /* a newer source's: not ours */
        if (!have_first)
            first = c;
        have_first = true;
        offers_chacha |= c == MIG_XFER_CIPHER_CHACHA20_POLY1305;
    }
    if (!have_first) {
        quote_offer(list, quoted, sizeof(quoted));
        return mig_error_set(MIG_ECOMPAT, "the source offers the data stream ciphers "
                             "[%s], this destination knows aes-256-gcm and "
                             "chacha20-poly1305: upgrade it", quoted);
    }
    *cipher = !has_aes && offers_chacha ? MIG_XFER_CIPHER_CHACHA20_POLY1305 : first;
    return 0;
}

int cipher_from_ready(json_object *ready, const unsigned int *offer, unsigned int n,
                      unsigned int *cipher)
{
    json_object *v;
    const char *name;
    unsigned int c;

    *cipher = MIG_XFER_CIPHER_AES_256_GCM;
    if (!json_object_object_get_ex(ready, "cipher", &v))
        return 0;                       /* an older destination */
    name = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string) || mig_xfer_cipher_parse(name, &c))
        return mig_error_set(MIG_EFORMAT, "the destination's ready names the data stream "
                             "cipher '%.60s', which this source does not know: it "
                             "offered aes-256-gcm or chacha20-poly1305 (a broken or "
                             "foreign peer)", name ? name : "");
    for (unsigned int i = 0; i < n; i++) {
        if (offer[i] == c) {
            *cipher = c;
            return 0;
        }
    }
    return mig_error_set(MIG_EFORMAT, "the destination's ready names the data stream "
                         "cipher '%s', which this source did not offer (it offered "
                         "%s%s%s)", name, mig_xfer_cipher_name(offer[0]), n > 1 ? ", " : "",
                         n > 1 ? mig_xfer_cipher_name(offer[1]) : "");
}
