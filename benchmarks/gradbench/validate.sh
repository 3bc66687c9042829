#!/usr/bin/env bash
# Runs every GradBench eval at small sizes against the chainrule tool and prints the outcomes.
# Needs a GradBench work tree with its venv and C++ reference tool (see benchmarks/README.md);
# GB (default ../gb/gradbench beside this repository's parent) and GBRUN (the protocol driver)
# can be set. Run from anywhere: bash benchmarks/gradbench/validate.sh
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GB=${GB:-$(cd "$REPO/.." && pwd)/gb/gradbench}
GBRUN=${GBRUN:-$(cd "$REPO/.." && pwd)/shared/gradbench/gbrun.py}
PY=${PY:-$(dirname "$GB")/venv/bin/python}
TOOL_PY=${TOOL_PY:-$(command -v python3)}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
cd "$GB" || exit 1
export PYTHONPATH=python/gradbench
tool="env PYTHONPATH=$REPO $TOOL_PY -m benchmarks.gradbench"
status=0
while read -r eval args; do
  echo "== $eval $args"
  $PY "$GBRUN" run -o "$OUT/$eval-$RANDOM.jsonl" --tool "$tool" \
    --eval "$PY python/gradbench/gradbench/evals/$eval/run.py $args --min-runs 1 --min-seconds 0" \
    2>&1 | tail -1 || status=1
done <<'LIST'
hello
lse
llsq -m 8
ode -n 10 -s 5
det -l 3 5
kmeans -k 3 -n 20 -d 2
gmm -d 2 -k 3 -n 10
lstm -l 2 -c 16
ba --min 1 --max 1
ht --min 1 --max 1 --model small --variant simple
ht --min 1 --max 1 --model small --variant complicated
particle
saddle
LIST
echo "logs in $OUT"
exit $status
