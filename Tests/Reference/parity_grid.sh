#!/usr/bin/env bash
# The reference parity grid (issue 11): every line of parity-grid.txt is one configuration of the
# official model, dumped by parity_dump.py (our driver; float32 values plus float64 truth).
#
#   parity_grid.sh generate OUT [PATTERN]   dump each configuration into OUT/<name>/{eval,train}
#                                           (skips finished ones; PATTERN = grep -E on names)
#   parity_grid.sh check OUT MSCN [PATTERN] run `MSCN parity` on every dump with both similarity
#                                           backends; prints one line per run, exits 1 on any failure
#   parity_grid.sh table OUT MSCN [PATTERN] Markdown table of the meta-gradient's errors per train
#                                           dump (against the float64 truth), finite difference
#                                           vs exact: max abs / max rel over meta_grad_full tensors,
#                                           and the second-order part's relative error
#
# GRID names another list of the same form (default parity-grid.txt beside this script;
# parity-sizes.txt holds the sizes the pipelines and the bench run).
# Needs a Python with torch and numpy (REFPY, default /root/refvenv/bin/python) and the official
# code exported at $MSCN_REF (see Tests/Reference/README.md). The dumps are not in git.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REFPY=${REFPY:-/root/refvenv/bin/python}
export MSCN_REF=${MSCN_REF:-/root/mscn_ref}
cmd=${1:?usage: parity_grid.sh generate|check OUT ...}
out=${2:?output folder}
grid=${GRID:-$here/parity-grid.txt}
[[ -f "$grid" ]] || { echo "parity_grid.sh: no configuration list $grid" >&2; exit 2; }
configs() { grep -v '^#' "$grid" | grep -E "^(${1:-.})" || true; }
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
table)
  mscn=${3:?path to the mscn executable}
  echo "| dump | full max abs (FD) | full max rel (FD) | 2nd-order rel (FD) | full max abs (exact) | full max rel (exact) | 2nd-order rel (exact) | reference float32: 2nd-order rel |"
  echo "|---|---|---|---|---|---|---|---|"
  while read -r name _; do
    row="| $name"
    ref=""
    for m in finite-difference exact; do
      log=$("$mscn" parity "$out/$name/train" --meta-grad "$m" 2>/dev/null || true)
      row+=$(awk -F'\t' '
        index($1, "step/meta_grad_full/") == 1 { if ($2 + 0 > a) a = $2 + 0; if ($3 + 0 > r) r = $3 + 0 }
        index($1, "step/meta_grad (full") == 1 { s = $3 + 0 }
        END { printf " | %.2e | %.2e | %.2e", a, r, s }' <<<"$log")
      ref=$(awk -F'\t' 'index($1, "step/meta_grad (full") == 1 { split($6, x, " "); print x[2] }' <<<"$log")
    done
    echo "$row | ${ref:-n/a} |"
  done < <(configs "${4:-}")
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
