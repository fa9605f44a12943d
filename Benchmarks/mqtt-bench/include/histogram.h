// A small HDR-style histogram of microsecond values: for each power of two, 64 linear
// sub-buckets, so every recorded value is kept within about 3 % (values below 64 us exactly).
#ifndef MQTT_BENCH_HISTOGRAM_H
#define MQTT_BENCH_HISTOGRAM_H
#include <stdint.h>
#include <string.h>

#define HISTOGRAM_SUB_BITS 6
#define HISTOGRAM_SUB (1 << HISTOGRAM_SUB_BITS)
#define HISTOGRAM_EXPONENTS 32

struct histogram {
    uint64_t counts[HISTOGRAM_EXPONENTS][HISTOGRAM_SUB];
    uint64_t total;
};

static inline void histogram_init(struct histogram *h) { memset(h, 0, sizeof *h); }

static inline void histogram_index(uint64_t value, int *exponent, int *sub) {
    if (value < HISTOGRAM_SUB) {
        *exponent = 0;
        *sub = (int)value;
        return;
    }
    int bits = 64 - __builtin_clzll(value);
    int shift = bits - HISTOGRAM_SUB_BITS;
    *exponent = shift;
    *sub = (int)(value >> shift);
    if (*exponent >= HISTOGRAM_EXPONENTS) {
        *exponent = HISTOGRAM_EXPONENTS - 1;
        *sub = HISTOGRAM_SUB - 1;
    }
}

static inline void histogram_record(struct histogram *h, uint64_t value) {
    int e, s;
    histogram_index(value, &e, &s);
    h->counts[e][s]++;
    h->total++;
}

static inline void histogram_merge(struct histogram *into, const struct histogram *from) {
    for (int e = 0; e < HISTOGRAM_EXPONENTS; e++)
        for (int s = 0; s < HISTOGRAM_SUB; s++) into->counts[e][s] += from->counts[e][s];
    into->total += from->total;
}

/// The value at `percentile` (0-100), as the upper edge of its bucket; 0 when empty.
static inline double histogram_percentile(const struct histogram *h, double percentile) {
    if (h->total == 0) return 0;
    uint64_t wanted = (uint64_t)(percentile / 100.0 * (double)h->total + 0.5);
    if (wanted < 1) wanted = 1;
    uint64_t seen = 0;
    for (int e = 0; e < HISTOGRAM_EXPONENTS; e++)
        for (int s = 0; s < HISTOGRAM_SUB; s++) {
            seen += h->counts[e][s];
            if (seen >= wanted) return e == 0 ? (double)s : (double)(((uint64_t)s + 1) << e);
        }
    return 0;
}
#endif
