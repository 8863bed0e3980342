#!/bin/sh
# Checks the greeter program given as $1 (./greeter by default): exits non-zero on a mismatch.
greeter=${1:-./greeter}
status=0

check() {
    expected=$1
    shift
    actual=$("$greeter" "$@")
    if [ "$actual" != "$expected" ]; then
        printf 'FAIL %s %s: got "%s", want "%s"\n' "$greeter" "$*" "$actual" "$expected"
        status=1
    fi
}

check 'Hello, world!'
check 'Hello, Ada!' Ada
check 'Hello, Ada!
Hello, Grace!' Ada Grace

[ $status -eq 0 ] && echo "PASS: greeter"
exit $status
