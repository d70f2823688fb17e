/* Growing arrays (see grow.h). */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *chase_grow_slow(void *items, size_t *cap, size_t need, size_t size, size_t first)
{
    size_t n = *cap ? *cap : (first ? first : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *more = realloc(items, n * size);
    if (!more)
        return NULL;
    *cap = n;
    return more;
}
