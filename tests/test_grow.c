/* chase_grow: capacities double from the first size, nothing moves when there is room, and an impossible size
 * fails without touching the array or its capacity. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "util/grow.h"

static void test_grow_doubles_and_keeps(void)
{
    size_t cap = 0;
    int *a = chase_grow(NULL, &cap, 1, sizeof *a, 4);
    CHECK(a != NULL);
    CHECK(cap == 4);
    for (int i = 0; i < 4; i++)
        a[i] = i;
    CHECK(chase_grow(a, &cap, 4, sizeof *a, 4) == a); /* room enough: the same block */
    CHECK(cap == 4);
    int *b = chase_grow(a, &cap, 11, sizeof *b, 4);
    CHECK(b != NULL);
    CHECK(cap == 16);
    int kept = 1;
    for (int i = 0; i < 4; i++)
        kept &= b[i] == i;
    CHECK(kept);
    free(b);
}

static void test_grow_overflow(void)
{
    size_t cap = 8;
    char *a = malloc(8);
    CHECK(a != NULL);
    CHECK(chase_grow(a, &cap, SIZE_MAX / 2 + 2, 1, 8) == NULL); /* doubling would overflow */
    CHECK(cap == 8);
    CHECK(chase_grow(a, &cap, SIZE_MAX / 16, 64, 8) == NULL); /* count x size would overflow */
    CHECK(cap == 8);
    free(a);
}

int main(void)
{
    RUN(test_grow_doubles_and_keeps);
    RUN(test_grow_overflow);
    CHECK_DONE();
}
