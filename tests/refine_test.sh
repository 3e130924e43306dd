#!/usr/bin/env bash
# Refined sweeps (groklab sweep --refine) as a user runs them, on a 9 x 9
# grid of two panels with two seeds: tests/python/check_refine.py recomputes
# from the store that every round is what the rule asks for and nothing
# more, and that every inferred cell of phase.csv has the one phase of the
# trained points around it; a refined sweep killed with SIGKILL, or left
# between rounds or in the middle of one, resumes into the same store; the
# store completed with --complete trains each missing run once and keeps the
# refined ones, and its phase.csv equals the full grid's; --refine-seeds
# (with --refine and alone) trains extra seeds exactly where a point's seeds
# leave it uncertain, also after --complete; --refine with --shard, on a full
# store, and with --resume, and --refine-seeds without enough --seeds, are
# refused with one line.
# usage: tests/refine_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/sweep_lib.sh"
STEPS=${SWEEP_STEPS:-300}
GRID=(--p 11 --width 128 --steps "$STEPS" --log-every 50 --frac 0.1:0.9:9 --noise 0:0.8:9 --wd 5,15 --seeds 2)
sql() { $PY -c "import sqlite3,sys; db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall(); db.commit(); print(r[0][0] if r else '')" "$@"; }

"$GL" sweep "${GRID[@]}" --refine --threads 2 --out ref > ref.txt 2>&1 || notok "refined sweep failed: $(tail -3 ref.txt)"
trained=$(count ref/sweep.db done); left=$(count ref/sweep.db unscheduled)
rounds=$(sql ref/sweep.db "SELECT max(round) FROM runs")
[ "$left" -gt 0 ] && [ "$rounds" -ge 1 ] && ok "refined: $trained of 324 runs trained in rounds 0..$rounds, $left never trained" \
  || notok "refined: $trained trained, $left unscheduled, last round $rounds"
grep -q "^refined: .* never trained" ref.txt && ok "the report says how many runs were left out" || notok "report: $(tail -3 ref.txt)"
"$GL" phase ref > phase.txt 2>&1 || notok "phase on a refined store: $(cat phase.txt)"
grep -q "~" phase.txt && ok "groklab phase marks inferred cells (~)" || notok "phase: $(cat phase.txt)"
out=$($PY "$HERE/python/check_refine.py" ref) && ok "the rounds and the inferred cells follow the rule:
$out" || notok "check_refine.py: $out"

# killed at some point of its rounds, resumed (the same command again)
"$GL" sweep "${GRID[@]}" --refine --threads 2 --out killed --quiet &
pid=$!
for i in $(seq 1 100); do sleep 0.05; [ -f killed/sweep.db ] && [ "$(count killed/sweep.db done 2>/dev/null)" -ge 120 ] 2>/dev/null && break; done
kill -9 $pid; wait $pid 2>/dev/null
at=$(count killed/sweep.db done); inflight=$(count killed/sweep.db running)
"$GL" sweep "${GRID[@]}" --refine --threads 2 --out killed --quiet || notok "resuming the killed refined sweep failed"
out=$(same_store ref/sweep.db killed/sweep.db) && ok "killed at $at runs done ($inflight in flight) and resumed = uninterrupted: $out" \
  || notok "killed at $at and resumed: $out"

# left between two rounds (the last round not yet scheduled), and in the middle of the last one
cp -r ref between; cp -r ref middle
rm -f between/sweep.db.lock middle/sweep.db.lock
sql between/sweep.db "UPDATE runs SET status = 'unscheduled', round = NULL, phase = NULL WHERE round = (SELECT max(round) FROM runs)" >/dev/null
sql middle/sweep.db "UPDATE runs SET status = CASE id % 3 WHEN 0 THEN 'running' WHEN 1 THEN 'pending' ELSE status END WHERE round = (SELECT max(round) FROM runs)" >/dev/null
"$GL" sweep --resume between --quiet && out=$(same_store ref/sweep.db between/sweep.db) \
  && ok "left between rounds, --resume schedules the same last round: $out" || notok "between rounds: $out"
"$GL" sweep --resume middle --quiet && out=$(same_store ref/sweep.db middle/sweep.db) \
  && ok "left in the middle of a round, --resume finishes it: $out" || notok "middle of a round: $out"

# completed into the full grid, against the full grid trained as one
cp -r ref completed; rm -f completed/sweep.db.lock
"$GL" sweep --resume completed --complete --threads 2 --quiet || notok "--complete failed"
"$GL" sweep "${GRID[@]}" --threads 2 --out full --quiet || notok "the full sweep failed"
"$GL" phase completed --quiet && "$GL" phase full --quiet || notok "phase of the completed or full store failed"
[ "$(count completed/sweep.db done)" = 324 ] && ok "completed: 324 runs done" || notok "completed: $(count completed/sweep.db done) done"
out=$($PY "$HERE/python/check_refine.py" ref --completed completed --full full) && ok "completed = full:
$out" || notok "completed vs full: $out"
out=$(same_store full/sweep.db completed/sweep.db 2>&1)
rounds_full=$(sql full/sweep.db "SELECT count(*) FROM runs WHERE round IS NOT NULL")
[ "$rounds_full" = 0 ] && ok "a full sweep's runs have no round" || notok "full sweep rounds: $rounds_full"

# extra seeds where a cell is uncertain: refined in space and seeds (2 seeds, up
# to 5), and in seeds only over the full grid (2, up to 4); check_refine.py
# recomputes each point's Wilson interval from its first two seeds
"$GL" sweep "${GRID[@]}" --refine --refine-seeds 5 --threads 2 --out seeds --quiet || notok "--refine --refine-seeds failed"
"$GL" phase seeds --quiet || notok "phase of the seed-refined store failed"
extra=$(sql seeds/sweep.db "SELECT count(*) FROM runs WHERE replicate >= 2 AND status = 'done'")
out=$($PY "$HERE/python/check_refine.py" seeds) && [ "$extra" -gt 0 ] \
  && ok "--refine --refine-seeds 5: $extra extra seeds trained, rounds and seeds follow the rule:
$out" || notok "--refine --refine-seeds 5 ($extra extra seeds): $out"
"$GL" sweep "${GRID[@]}" --refine-seeds 4 --threads 2 --out seedsonly --quiet || notok "--refine-seeds alone failed"
"$GL" phase seedsonly --quiet || notok "phase of the seeds-only store failed"
base=$(sql seedsonly/sweep.db "SELECT count(*) FROM runs WHERE replicate < 2 AND status = 'done'")
out=$($PY "$HERE/python/check_refine.py" seedsonly) && [ "$base" = 324 ] \
  && ok "--refine-seeds 4 alone: all 324 base runs, extra seeds as the rule asks:
$out" || notok "--refine-seeds alone ($base base runs done): $out"
cp -r seeds seedsdone; rm -f seedsdone/sweep.db.lock
"$GL" sweep --resume seedsdone --complete --threads 2 --quiet || notok "--complete of the seed-refined store failed"
out=$($PY "$HERE/python/check_refine.py" seedsdone --seeds-completed) && ok "completed: every base run, extra seeds still only where uncertain:
$out" || notok "completed seed-refined store: $out"

# refused, with one line each
refused() { # what, expected words, command...
    local what=$1 want=$2; shift 2
    "$@" > err.txt 2>&1; local rc=$?
    [ $rc -ne 0 ] && [ "$(wc -l < err.txt)" = 1 ] && grep -q "$want" err.txt && ok "$what refused: $(cat err.txt)" \
      || notok "$what: exit $rc, $(cat err.txt)"
}
refused "--refine with --shard" "cannot be sharded" "$GL" sweep "${GRID[@]}" --refine --shard 0/2 --out sh
refused "--refine into a full sweep's store" "holds a full sweep" "$GL" sweep "${GRID[@]}" --refine --out full --quiet
refused "--refine with --resume" "continues a refined sweep" "$GL" sweep --resume ref --refine
refused "--refine-seeds without --seeds" "needs --seeds S" "$GL" sweep --p 11 --steps 10 --frac 0.3,0.6 --refine-seeds 3 --out noseeds --quiet
refused "--refine-seeds at most --seeds" "needs --seeds S" "$GL" sweep "${GRID[@]}" --refine-seeds 2 --out fewseeds --quiet
refused "--refine-seeds into a store refined without it" "seeds beyond 2 where uncertain" "$GL" sweep "${GRID[@]}" --refine --out ref --quiet --refine-seeds 4 --extend
refused "--refine over a knob that is not an axis" "not an axis" "$GL" sweep "${GRID[@]}" --refine --y lr --out notaxis --quiet

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
