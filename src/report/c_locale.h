/* Private to src/report: run a writer under the "C" numeric locale so that printf writes "1.5", never "1,5",
 * whatever locale the host program chose. uselocale() is per thread, so other threads are not disturbed. */
#ifndef CHASE_REPORT_C_LOCALE_H
#define CHASE_REPORT_C_LOCALE_H

#include <locale.h>

typedef struct report_c_locale {
    locale_t c, saved;
} report_c_locale_t;

/* Switches this thread to the C locale; returns 0, or -1 when no locale object could be made. */
static inline int report_c_locale_enter(report_c_locale_t *l)
{
    l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (l->c == (locale_t)0)
        return -1;
    l->saved = uselocale(l->c);
    return 0;
}

/* Restores the thread's previous locale. */
static inline void report_c_locale_leave(report_c_locale_t *l)
{
    uselocale(l->saved);
    freelocale(l->c);
}

#endif
