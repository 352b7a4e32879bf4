#ifndef MALLOC_ARENAS_H
#define MALLOC_ARENAS_H

// glibc's malloc arenas, which Swift's Glibc module does not expose (mallopt, malloc_info).

/// Caps the arenas malloc may create (mallopt M_ARENA_MAX). 1 = applied, 0 = refused or not glibc.
int mscn_malloc_limit_arenas(int arenas);

/// Arenas malloc has created so far (the heaps malloc_info lists), or -1 where unknown.
int mscn_malloc_arena_count(void);

#endif
