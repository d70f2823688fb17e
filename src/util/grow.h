/* Growing arrays: the one place that doubles a capacity and reallocates. */
#ifndef CHASE_UTIL_GROW_H
#define CHASE_UTIL_GROW_H

#include <stddef.h>

/* chase_grow's reallocation, for when *cap is short of need. */
void *chase_grow_slow(void *items, size_t *cap, size_t need, size_t size, size_t first);

/* Returns items reallocated to hold at least need elements of size bytes, the capacity doubled from *cap (or from
 * first when 0) as often as needed, and *cap updated; or NULL when out of memory (or the size overflows), with items
 * and *cap untouched. Returns items as it is when *cap is already enough (inline: appends call it every time). */
static inline void *chase_grow(void *items, size_t *cap, size_t need, size_t size, size_t first)
{
    return need <= *cap ? items : chase_grow_slow(items, cap, need, size, first);
}

#endif
