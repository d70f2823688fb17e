#!/bin/sh
# Builds chase.1 from chase's own --help texts, so that the page cannot say what the program does not: help2man makes
# NAME, SYNOPSIS and DESCRIPTION from `chase --help`, every `chase CMD --help` goes in as it is, one subsection per
# command (COMMANDS), and chase.h2m adds the environment, exit status and references.
#
# Usage: gen-man.sh CHASE_BIN CHASE_H2M OUTPUT   (needs help2man)
set -eu
bin=$1 static=$2 out=$3
commands=$(mktemp)
trap 'rm -f "$commands"' EXIT
# A sanitizer build's chase must not fail the page on a leak report at exit.
export ASAN_OPTIONS=detect_leaks=0
{
    echo "[COMMANDS]"
    for c in $("$bin" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}'); do
        printf '.SS "chase %s"\n.nf\n' "$c"
        # roff: a backslash is \e, a line may not start with . or ', and - is \- (a plain - renders as a hyphen,
        # which cannot be pasted into a shell).
        "$bin" "$c" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/-/\\-/g'
        printf '.fi\n'
    done
} >"$commands"
help2man --no-info --section=1 --source="chase" --manual="User Commands" \
    --include="$commands" --include="$static" --output="$out.tmp" "$bin"
mv "$out.tmp" "$out"
