#!/usr/bin/env bash
# The bash completion offers every command `chase --help` lists and every option each `chase CMD --help` lists (read
# here independently of the completion's own reading), and the built-in names of `chase simulate --list`; and the
# man page renders with man -l, with a section for every command.
#
# Usage: test_completion.sh CHASE_BIN COMPLETION_FILE [MAN_PAGE]   (MAN_PAGE absent: help2man was not found; that
# skips the man part, except under CI=true, where help2man is installed and a missing page is a failure)
set -uo pipefail
bin=$1 completion=$2 manpage=${3:-}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# shellcheck source=/dev/null
source "$completion"
# What the completion offers for a command line whose last word is being completed (words as separate arguments).
complete_words() {
    COMP_WORDS=("$bin" "$@")
    COMP_CWORD=$#
    COMP_LINE="$bin $*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _chase 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}"
}
offers() { # offers WORD LINE...: WORD is among the completions of LINE
    local want=$1 got
    shift
    got=$(complete_words "$@") # not piped into grep -q: it would close the pipe early, a failure under pipefail
    grep -qxF -- "$want" <<<"$got"
}

commands=$("$bin" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}')
[ "$(echo "$commands" | wc -w)" -ge 7 ] || fail "chase --help lists only: $commands"
for c in $commands; do
    offers "$c" "" || fail "chase <TAB> does not offer the command $c"
    offers "$c" help "" || fail "chase help <TAB> does not offer $c"
    opts=$("$bin" "$c" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+$')
    [ -n "$opts" ] || fail "chase $c --help lists no option"
    for o in $opts; do
        offers "$o" "$c" -- || fail "chase $c --<TAB> does not offer $o"
        offers "$o" "$c" "${o:0:4}" || fail "chase $c ${o:0:4}<TAB> does not offer $o"
    done
    echo "chase $c: $(echo "$opts" | wc -w) options offered"
done
offers report "" || fail "the report command is not offered"

# The built-in names, read from chase simulate --list.
section() { "$bin" simulate --list | awk -v h="$1" 'index($0, h) == 1 {on = 1; next} on && /^$/ {exit} on {print $1}'; }
for g in $(section "Built-in grid models"); do offers "$g" simulate --grid "" || fail "--grid does not offer $g"; done
for p in $(section "Built-in profiles"); do offers "$p" simulate --profile "" || fail "--profile does not offer $p"; done
for f in $(section "Forecasters"); do offers "$f" run --forecaster "" || fail "--forecaster does not offer $f"; done
offers provider run --forecaster "" || fail "run --forecaster does not offer provider"
offers budget simulate --policy bu || fail "simulate --policy bu<TAB>"
offers max,static simulate --policy max,st || fail "simulate --policy max,st<TAB> does not complete the list item"
offers oracle simulate --policy "" || fail "simulate --policy does not offer oracle"
offers oracle run --policy "" && fail "run --policy offers oracle, which exists only in simulate"
offers fixed: run --policy f || fail "run --policy f<TAB> does not offer fixed:"
offers eval forecast "" || fail "chase forecast <TAB> does not offer eval"
offers static: run --signal st || fail "--signal st<TAB> does not offer static:"
offers ukci run --signal "" || fail "--signal does not offer ukci"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/run.json" "$tmp/ci.csv"
offers "$tmp/run.json" report "$tmp/r" || fail "chase report <TAB> does not offer files"
offers "trace:$tmp/ci.csv" run --signal "trace:$tmp/c" || fail "--signal trace:<TAB> does not complete the file"
offers "$tmp/run.json" run --metrics-file "$tmp/r" || fail "--metrics-file does not complete files"

if [ -z "$manpage" ]; then
    if [ "${CI:-}" = true ]; then
        fail "no man page: help2man is not installed (scripts/deps.sh installs it)"
    else
        echo "SKIP (man page): help2man was not found when the build was configured"
    fi
else
    if ! command -v man >/dev/null; then
        [ "${CI:-}" = true ] && fail "man is not installed" || echo "SKIP (man page): no man command"
    else
        text=$(MANWIDTH=100 man -l "$manpage" 2>"$tmp/warnings")
        [ $? -eq 0 ] || fail "man -l $manpage failed: $(cat "$tmp/warnings")"
        grep -q . "$tmp/warnings" && fail "man -l $manpage warned: $(cat "$tmp/warnings")"
        echo "$text" | grep -q '^NAME' || fail "the man page has no NAME section"
        echo "$text" | grep -q 'chase - carbon-aware' || fail "the man page's NAME line is not chase's"
        for c in $commands; do
            echo "$text" | grep -q "^ *chase $c\b" || fail "the man page has no section for chase $c"
        done
        echo "$text" | grep -q -- '--metrics-file' || fail "the man page lacks chase run's options"
        echo "$text" | grep -q 'CHASE_NVML_LIBRARY' || fail "the man page lacks the ENVIRONMENT section"
        echo "man -l $manpage: $(echo "$text" | wc -l) lines"
    fi
fi
[ "$failures" -eq 0 ] && echo "ok" || echo "$failures failures"
exit $((failures > 0))
