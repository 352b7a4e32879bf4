#!/usr/bin/env bash
# The reference parity grid (issue 11): every line of parity-grid.txt is one configuration of the
# official model, dumped by parity_dump.py (our driver; float32 values plus float64 truth).
#
#   parity_grid.sh generate OUT [PATTERN]   dump each configuration into OUT/<name>/{eval,train}
#                                           (skips finished ones; PATTERN = grep -E on names)
#   parity_grid.sh check OUT MSCN [PATTERN] run `MSCN parity` on every dump with both similarity
#                                           backends; prints one line per run, exits 1 on any failure
#
# Needs a Python with torch and numpy (REFPY, default /root/refvenv/bin/python) and the official
# code exported at $MSCN_REF (see ../shared/reference/README.md). The dumps are not in git.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REFPY=${REFPY:-/root/refvenv/bin/python}
export MSCN_REF=${MSCN_REF:-/root/mscn_ref}
cmd=${1:?usage: parity_grid.sh generate|check OUT ...}
out=${2:?output folder}
configs() { grep -v '^#' "$here/parity-grid.txt" | grep -E "^(${1:-.})" || true; }
case "$cmd" in
generate)
  mkdir -p "$out"
  configs "${3:-}" | while read -r name args; do
    [[ -f "$out/$name/train/manifest.json" ]] && continue
    rm -rf "$out/$name.tmp"
    # shellcheck disable=SC2086
    "$REFPY" "$here/parity_dump.py" "$out/$name.tmp" $args >/dev/null
    mv "$out/$name.tmp" "$out/$name"
    echo "dumped $name"
  done
  ;;
check)
  mscn=${3:?path to the mscn executable}
  fails=0
  while read -r name _; do
    for mode in eval train; do
      for sim in standard reference; do
        if log=$("$mscn" parity "$out/$name/$mode" --similarity "$sim" ${MSCN_PARITY_ARGS:-} 2>&1); then
          echo "ok   $name/$mode $sim"
        else
          fails=$((fails + 1))
          echo "FAIL $name/$mode $sim"; grep FAIL <<<"$log" | sed 's/^/     /'
        fi
      done
    done
  done < <(configs "${4:-}")
  echo "$fails failing runs"
  [[ $fails -eq 0 ]]
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
