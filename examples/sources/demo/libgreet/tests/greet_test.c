/* Unit test of greet(): prints each failure and exits non-zero if any. */
#include "greet.h"

#include <stdio.h>
#include <string.h>

static int failures;

static void expect(const char *name, size_t size, const char *want, int want_len)
{
    char buf[64];
    int len = greet(buf, size, name);
    if (strcmp(buf, want) != 0 || len != want_len) {
        printf("FAIL greet(\"%s\", %zu): got \"%s\" (%d), want \"%s\" (%d)\n",
               name ? name : "(null)", size, buf, len, want, want_len);
        failures++;
    }
}

int main(void)
{
    expect("Ada", 64, "Hello, Ada!", 11);
    expect("", 64, "Hello, world!", 13);
    expect(NULL, 64, "Hello, world!", 13);
    expect("Ada", 6, "Hello", 11); /* truncated, but the full length is reported */
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
