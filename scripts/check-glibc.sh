#!/usr/bin/env bash
# Usage: check-glibc.sh MAX_VERSION BINARY...
# Fails when a binary is not an x86-64 ELF or needs a GLIBC symbol version newer than MAX_VERSION
# (Amazon Linux 2023, the provided.al2023 runtime, ships glibc 2.34).
set -euo pipefail
max="$1"; shift
[[ $# -gt 0 ]] || { echo "check-glibc: no binaries given (run sam build first)" >&2; exit 1; }
status=0
for bin in "$@"; do
    if ! objdump -f "$bin" 2>/dev/null | grep -q 'file format elf64-x86-64'; then
        echo "check-glibc: $bin: not an x86-64 ELF executable" >&2
        status=1; continue
    fi
    newest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
    if [[ -n "$newest" && "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -1)" != "$max" ]]; then
        echo "check-glibc: $bin needs GLIBC_$newest, newer than $max" >&2
        status=1
    else
        echo "check-glibc: $bin: x86-64 ELF, $(stat -c %s "$bin") bytes, newest GLIBC symbol ${newest:-none} (<= $max)"
    fi
done
exit "$status"
