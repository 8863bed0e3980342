/* greeter: prints a greeting for each name given, or for the world. */
#include <greet.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    char line[256];
    int i;

    if (argc < 2) {
        greet(line, sizeof line, NULL);
        puts(line);
        return 0;
    }
    for (i = 1; i < argc; i++) {
        greet(line, sizeof line, argv[i]);
        puts(line);
    }
    return 0;
}
