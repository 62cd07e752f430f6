/*
 * cipher.h: which cipher seals a migration's data streams (internal to
 * libmig/migrate; docs/formats.md, "Control channel").  The source offers
 * in its "hello" the ciphers it accepts, best first; the destination picks
 * one and names it in "ready".  Both travel on the control channel, as the
 * key does, never on the data streams, so nobody on the data network can
 * steer the choice.  The rule (cipher_choose) is the destination's alone:
 * deterministic, and it never picks a cipher the source did not offer.
 */
#ifndef XENMIG_MIGRATE_CIPHER_H
#define XENMIG_MIGRATE_CIPHER_H

#include <stdbool.h>

#include <json-c/json.h>

#define CIPHER_MAX_OFFER 2

/*
 * The source's offer (MIG_XFER_CIPHER_*), best first, into offer[0..*n-1]:
 * for choice MIG_MIGRATE_CIPHER_AUTO AES-256-GCM first when has_aes, else
 * ChaCha20-Poly1305 first, the other after it; for a named cipher, that
 * one, and AES-256-GCM after ChaCha20-Poly1305 (the cipher of older
 * destinations): a named AES-256-GCM is offered alone.
 */
void cipher_offer(unsigned int choice, bool has_aes, unsigned int offer[CIPHER_MAX_OFFER],
                  unsigned int *n);

/*
 * The offer as the hello's "ciphers" member: a new JSON array of names
 * (the caller's), NULL when out of memory.
 */
json_object *cipher_offer_json(const unsigned int *offer, unsigned int n);

/*
 * Destination: the cipher for a source's hello (*cipher, MIG_XFER_CIPHER_*).
 * Without "ciphers" (a source from before the negotiation): AES-256-GCM.
 * Else ChaCha20-Poly1305 when this host lacks AES instructions (has_aes
 * false) and the source offers it, otherwise the first offered cipher
 * this end knows (names it does not know are skipped: a newer source's).
 * 0, MIG_EFORMAT for a "ciphers" that is not a list of names, MIG_ECOMPAT
 * when no offered cipher is known here; the message quotes the offer.
 */
int cipher_choose(json_object *hello, bool has_aes, unsigned int *cipher);

/*
 * Source: the cipher the destination's "ready" names (*cipher), one of
 * offer[0..n-1]; without "cipher" (a destination from before the
 * negotiation) AES-256-GCM, which every offer holds.  0, or MIG_EFORMAT
 * quoting a name this end does not know or did not offer.
 */
int cipher_from_ready(json_object *ready, const unsigned int *offer, unsigned int n,
                      unsigned int *cipher);

#endif
