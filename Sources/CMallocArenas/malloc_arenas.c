// See include/malloc_arenas.h.
#define _GNU_SOURCE
#include "malloc_arenas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

int mscn_malloc_limit_arenas(int arenas) {
#ifdef __GLIBC__
    return mallopt(M_ARENA_MAX, arenas) == 1 ? 1 : 0;
#else
    (void)arenas;
    return 0;
#endif
}

int mscn_malloc_arena_count(void) {
#ifdef __GLIBC__
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    if (!stream) return -1;
    int failed = malloc_info(0, stream) != 0;
    fclose(stream);
    if (failed || !text) { free(text); return -1; }
    // One <heap nr="..."> element per arena, then the totals.
    int count = 0;
    for (const char *p = text; (p = strstr(p, "<heap nr=")) != NULL; p++) count++;
    free(text);
    return count;
#else
    return -1;
#endif
}
