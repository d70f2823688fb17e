/* Growing arrays: the one place that doubles a capacity and reallocates. */
#ifndef CHASE_UTIL_GROW_H
#define CHASE_UTIL_GROW_H

#include <stddef.h>

/* Returns items reallocated to hold at least need elements of size bytes, the capacity doubled from *cap (or from
 * first when 0) as often as needed, and *cap updated; or NULL when out of memory (or the size overflows), with items
 * and *cap untouched. Returns items as it is when *cap is already enough. */
void *chase_grow(void *items, size_t *cap, size_t need, size_t size, size_t first);

#endif
