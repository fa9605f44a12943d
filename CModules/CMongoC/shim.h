#ifndef CMONGOC_SHIM_H
#define CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>

/* bson_iter_t is 128-byte aligned, which Swift cannot place on its stack: allocate it here. */
static inline bson_iter_t *cshim_bson_iter_new(void) {
    return (bson_iter_t *) bson_aligned_alloc0 (128, sizeof (bson_iter_t));
}

/* Storage for a bson_t that a libmongoc call initialises (a reply): bson_destroy, then bson_free. */
static inline bson_t *cshim_bson_reply_storage(void) {
    return (bson_t *) bson_aligned_alloc0 (128, sizeof (bson_t));
}
#endif
