/* The text loaders of the data layer (text.h) as batch sources for the training loops. */
#include "train/train_impl.h"

static int64_t text_count(void *l) { return nb_text_loader_batches(l); }
static void text_start(void *l, int64_t e) { nb_text_loader_start(l, e); }
static int text_next(void *l, nb_batch *b) { return nb_text_loader_next(l, b); }

nb_batch_source nb_text_loader_source(nb_text_loader *l) {
    return (nb_batch_source){.ctx = l, .count = text_count, .start = text_start, .next = text_next};
}

static int64_t stream_count(void *l) { return nb_stream_loader_batches(l); }
static void stream_start(void *l, int64_t e) { nb_stream_loader_start(l, e); }
static int stream_next(void *l, nb_batch *b) { return nb_stream_loader_next(l, b); }

nb_batch_source nb_stream_loader_source(nb_stream_loader *l) {
    return (nb_batch_source){.ctx = l, .count = stream_count, .start = stream_start, .next = stream_next};
}
