/* A tiny test harness: CHECK records a failure and goes on; test_end prints the summary line
 * "name: N passed, N failed" and gives main's exit status. */
#ifndef NB_TEST_CHECK_H
#define NB_TEST_CHECK_H

#include <stdio.h>

static int nb_checks_passed, nb_checks_failed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (cond) {                                                                         \
            nb_checks_passed++;                                                             \
        } else {                                                                            \
            nb_checks_failed++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
        }                                                                                   \
    } while (0)

static inline int test_end(const char *name) {
    printf("%s: %d passed, %d failed\n", name, nb_checks_passed, nb_checks_failed);
    return nb_checks_failed ? 1 : 0;
}

#endif
