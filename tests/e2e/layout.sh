#!/usr/bin/env bash
# tests/e2e/layout.sh — the source tree keeps the shape the README promises
# (issue 10): the "## Layout" table names every .c file under resolver/,
# proxy/ and daemon/, and names no file that is not there; no file in proxy/
# or daemon/ is over 700 lines unless the README's Layout section says why;
# and the process-wide socket()/close() stay out of libdaneguard.a.
set -u
cd "$(dirname "$0")/../.." || exit 1
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: ${2:-failed}"; }
BUILD=${BUILD:-build}

layout=$(awk '/^## Layout$/ { on = 1; next } on && /^## / { exit } on' README.md)
listed=$(printf '%s\n' "$layout" | grep -oE '^\| `[a-z_]+/[a-z_0-9]+\.c`' | sed 's/^| `//; s/`$//' | sort)
tree=$(ls resolver/*.c proxy/*.c daemon/*.c | sort)

missing=$(comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$tree"))
if [ -z "$missing" ]; then pass layout_lists_every_c_file
else fail layout_lists_every_c_file "not in the README's Layout table: $(echo $missing)"; fi

extra=$(comm -23 <(printf '%s\n' "$listed") <(printf '%s\n' "$tree"))
if [ -n "$listed" ] && [ -z "$extra" ]; then pass layout_names_only_existing_files
else fail layout_names_only_existing_files "listed but not in the tree: $(echo $extra)"; fi

long=""
for f in proxy/*.c daemon/*.c; do
    n=$(wc -l <"$f")
    if [ "$n" -gt 700 ] && ! printf '%s\n' "$layout" | grep -v '^|' | grep -q "\`$f\` is longer than 700 lines"; then
        long="$long $f($n)"
    fi
done
if [ -z "$long" ]; then pass layout_long_files_explained
else fail layout_long_files_explained "over 700 lines with no reason in the README:$long"; fi

if [ -f "$BUILD/libdaneguard.a" ]; then
    if nm "$BUILD/libdaneguard.a" 2>/dev/null | grep -qwE 'T (close|socket)'; then
        fail library_keeps_libc_names "libdaneguard.a defines socket() or close()"
    else
        pass library_keeps_libc_names
    fi
fi
