/* libgreet: formats a greeting. */
#ifndef GREET_H
#define GREET_H

#include <stddef.h>

/* Writes "Hello, NAME!" into BUF (at most SIZE bytes, always terminated) and returns the
 * length the full greeting needs, like snprintf. A NULL or empty NAME greets "world". */
int greet(char *buf, size_t size, const char *name);

#endif
