#!/usr/bin/env bash
# Sweeps as a user runs them: a sweep killed with SIGKILL twice, at different
# points, and resumed ends with a store equal to an uninterrupted one (every
# row and metric, timings and worker names aside); a different grid is
# refused, --extend adds points; a diverging run is recorded and not retried;
# corrupt, foreign and missing stores give one clear line; shards merge into
# the same store; phase and export work on the result, and every run's phase
# and every cell of phase.csv equal tests/python/check_phase.py's
# recomputation from the store (also with a diverged run, and with seeds
# that disagree).
# usage: tests/sweep_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/sweep_lib.sh"
GRID=("${GRID_BASE[@]}" --threads 2)

"$GL" sweep "${GRID[@]}" --out ref --quiet || notok "reference sweep failed"
[ "$(count ref/sweep.db done)" = 24 ] && ok "reference sweep: 24 runs done" || notok "reference sweep: $(count ref/sweep.db done) done"

# killed twice, resumed
"$GL" sweep "${GRID[@]}" --out killed --quiet &
pid=$!
for i in $(seq 1 100); do sleep 0.1; [ -f killed/sweep.db ] && [ "$(count killed/sweep.db done 2>/dev/null)" -ge 4 ] 2>/dev/null && break; done
kill -9 $pid; wait $pid 2>/dev/null
d1=$(count killed/sweep.db done); r1=$(count killed/sweep.db running)
"$GL" sweep --resume killed --quiet &
pid=$!
for i in $(seq 1 100); do sleep 0.1; [ "$(count killed/sweep.db done 2>/dev/null)" -ge $((d1 + 6)) ] 2>/dev/null && break; done
kill -9 $pid; wait $pid 2>/dev/null
d2=$(count killed/sweep.db done); r2=$(count killed/sweep.db running)
[ "$d1" -lt 24 ] && [ "$d2" -gt "$d1" ] && [ "$d2" -lt 24 ] && ok "killed at $d1 and $d2 of 24 runs done ($r1, $r2 in flight)" \
  || notok "kill points: $d1 and $d2 done (want 0 < d1 < d2 < 24)"
"$GL" sweep "${GRID[@]}" --out killed > resumed.txt 2>&1   # the same command again resumes
grep -q "requeued" resumed.txt && ok "resume: $(head -1 resumed.txt)" || notok "resume output: $(cat resumed.txt)"
[ "$(count killed/sweep.db done)" = 24 ] && ok "every run done after resuming" || notok "after resuming: $(count killed/sweep.db done) done"
out=$(same_store ref/sweep.db killed/sweep.db) && ok "killed twice and resumed = uninterrupted: $out" || notok "store after kills: $out"
$PY -c "
import sqlite3; db = sqlite3.connect('killed/sweep.db')
print(max(r[0] for r in db.execute('SELECT attempts FROM runs')))" > attempts.txt
[ "$(cat attempts.txt)" -ge 2 ] && ok "runs in flight at a kill were redone (max attempts $(cat attempts.txt))" || notok "attempts $(cat attempts.txt)"

# one line, exit 2
expect_error() {
  local what=$1 want=$2; shift 2
  "$GL" "$@" >stdout.txt 2>stderr.txt
  local rc=$? lines; lines=$(wc -l <stderr.txt)
  if [ $rc -eq 2 ] && grep -qF -- "$want" stderr.txt && [ "$lines" -eq 1 ]; then ok "$what: $(cat stderr.txt)"
  else notok "$what: rc=$rc lines=$lines stderr=[$(cat stderr.txt)]"; fi
}
before=$(md5sum killed/sweep.db)
expect_error "a different grid into the same directory" "holds a different sweep" sweep "${GRID[@]/0,5/0,5,15}" --out killed
[ "$(md5sum killed/sweep.db)" = "$before" ] && ok "the refused grid left the store unchanged" || notok "store changed by a refused grid"
"$GL" sweep --p 31 --width 128 --steps "$STEPS" --log-every 50 --frac 0.4,0.7,0.9 --noise 0,0.3 --wd 0,5,15 --seeds 2 --threads 2 --out killed --extend --quiet
[ "$(count killed/sweep.db done)" = 36 ] && ok "--extend adds the 12 new points (36 done)" || notok "--extend: $(count killed/sweep.db done) done"
mkdir -p corrupt && head -c 5000 /dev/urandom > corrupt/sweep.db
expect_error "corrupt store" "corrupt/sweep.db is not a groklab sweep store" sweep --resume corrupt
mkdir -p foreign && $PY -c "import sqlite3; db = sqlite3.connect('foreign/sweep.db'); db.execute('CREATE TABLE t(x)'); db.commit()"
expect_error "foreign SQLite file" "foreign/sweep.db is not a groklab sweep store" phase foreign
expect_error "missing store" "nothere has no sweep store" sweep --resume nothere
expect_error "unknown knob" "--learning-rate: unknown knob" sweep --learning-rate 0.1,0.2 --out x
expect_error "bad range" "--frac: '0.1:0.9' is not a range" sweep --frac 0.1:0.9 --out x
expect_error "bad value in a list" "--wd:" sweep --wd 0,-5 --out x
expect_error "bad grid point" "grid point" sweep --task div --p 96,97 --out x
expect_error "bad shard" "--shard: '3/3' is not I/N" sweep --frac 0.5 --shard 3/3 --out x
[ ! -e x ] && ok "refused sweeps wrote nothing" || notok "a refused sweep created x/"

# divergence is recorded once
"$GL" sweep --p 23 --width 32 --steps 200 --optim sgd --lr 1e3,0.01 --out div --quiet
"$GL" sweep --resume div --quiet
[ "$(count div/sweep.db diverged)" = 1 ] && [ "$($PY -c "import sqlite3; print(sqlite3.connect('div/sweep.db').execute(\"SELECT attempts FROM runs WHERE status='diverged'\").fetchone()[0])")" = 1 ] \
  && ok "a diverging run is recorded as diverged and not retried on resume" || notok "divergence: $(count div/sweep.db diverged) diverged"

# shards merge into the same store
for i in 0 1 2; do "$GL" sweep "${GRID[@]}" --threads 1 --shard $i/3 --out shards --quiet & done
wait
"$GL" merge shards > merge.txt 2>&1 && out=$(same_store ref/sweep.db shards/sweep.db) && ok "3 shards merged = single sweep: $out" || notok "merge: $(cat merge.txt) $out"

# --keep-weights: per-neuron IPR and the final weights go into the store
"$GL" sweep --p 23 --width 32 --steps 50 --frac 0.5,0.7 --keep-weights --out kw --quiet
$PY - kw/sweep.db > kw.txt <<'PY' && ok "--keep-weights: $(cat kw.txt)" || notok "--keep-weights: $(cat kw.txt)"
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("SELECT count(*) FROM neurons").fetchone()[0]
rows = db.execute("SELECT name, rows, cols, length(data) FROM weights WHERE run_id = 1 ORDER BY name").fetchall()
ipr = [r[0] for r in db.execute("SELECT ipr FROM neurons WHERE run_id = 1")]
ok = n == 64 and rows == [("U", 32, 23, 32 * 23 * 4), ("V", 32, 23, 32 * 23 * 4), ("W", 23, 32, 23 * 32 * 4)]
mean = sum(ipr) / len(ipr)
stored = db.execute("SELECT mean_ipr FROM runs WHERE id = 1").fetchone()[0]
ok = ok and abs(mean - stored) < 1e-6
print("%d neuron rows, U V W blobs %s, mean of stored IPR %.6f = runs.mean_ipr %.6f" % (n, [r[:3] for r in rows], mean, stored))
sys.exit(0 if ok else 1)
PY

# reports
"$GL" phase ref --quiet && [ -s ref/phase.png ] && [ "$(wc -l < ref/phase.csv)" = 13 ] && ok "phase: 12 cells (2 seeds each), figure" || notok "phase"
# check_phase.py: runs.phase by Table 2 from the metrics, every field of
# phase.csv and of rule-disagreements.csv recomputed (the subset rule from
# the exported runs table)
phase_check() { local out; "$GL" export "$2" --csv "$2-runs.csv" >/dev/null || notok "$1: export"
  out=$($PY "$HERE/python/check_phase.py" "$2" "$2-runs.csv" 2>&1) && ok "$1: $(echo "$out" | paste -sd ';' | sed 's/;/; /g')" \
  || notok "$1: $(echo "$out" | paste -sd ';' | sed 's/;/; /g')"; }
phase_check "phase of the reference sweep recomputed" ref
"$GL" phase div --quiet || notok "phase of the sweep with a diverged run"
phase_check "phase of the sweep with a diverged run (its row before the last) recomputed" div
# the reference store with one seed of every cell moved to another phase (its
# metrics rewritten to match): cells where seeds disagree, majority ties
mkdir -p mixed && cp ref/sweep.db mixed/ && $PY - mixed/sweep.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
runs = db.execute("SELECT id, noise FROM runs WHERE replicate = 1 ORDER BY id").fetchall()
for i, (rid, xi) in enumerate(runs):
    ph = ["coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"][i % 6]
    if ph == "partial_inversion" and xi < 0.2:
        ph = "full_inversion"  # train >= 100 (1.05 - xi) > 90 cannot be met
    train, test = {"coexistence": (0.95, 0.95), "partial_inversion": (0.8, 0.95), "full_inversion": (0.5, 0.95),
                   "memorization": (0.95, 0.5)}.get(ph, (0.5, 0.5))
    steps = [r[0] for r in db.execute("SELECT step FROM metrics WHERE run_id = ? ORDER BY step", (rid,))]
    if ph == "confusion":
        db.execute("UPDATE metrics SET test_acc = min(test_acc, 0.5) WHERE run_id = ?", (rid,))
    if ph == "forgetting":
        db.execute("UPDATE metrics SET test_acc = 0.95 WHERE run_id = ? AND step = ?", (rid, steps[0]))
    db.execute("UPDATE metrics SET train_acc = ?, test_acc = ? WHERE run_id = ? AND step = ?", (train, test, rid, steps[-1]))
    db.execute("UPDATE runs SET phase = ?, train_acc = ?, test_acc = ? WHERE id = ?", (ph, train, test, rid))
# the corrupted examples of every coexistence run answered with their true
# labels (the subset rule: full inversion), of every memorization run with
# half their given labels (the subset rule: forgetting or confusion); no
# clean accuracy for the second seeds (a cell's means skip a missing value)
for rid, ph in db.execute("SELECT id, phase FROM runs WHERE noise > 0 AND phase IN ('coexistence', 'memorization')").fetchall():
    given, true = (0.05, 0.95) if ph == "coexistence" else (0.5, 0.02)
    db.execute("UPDATE runs SET corrupted_acc = ?, corrupted_true_acc = ? WHERE id = ?", (given, true, rid))
    db.execute("UPDATE metrics SET corrupted_acc = ?1, corrupted_true_acc = ?2 WHERE run_id = ?3 AND step ="
               " (SELECT max(step) FROM metrics WHERE run_id = ?3)", (given, true, rid))
db.execute("UPDATE runs SET clean_acc = NULL WHERE replicate = 1")  # the cell means skip these
db.commit()
PY
"$GL" phase mixed --quiet || notok "phase of the mixed store"
phase_check "phase of a store with disagreeing seeds and ties recomputed" mixed
"$GL" phase mixed --rule subset > subset.txt || notok "phase --rule subset of the mixed store"
phase_check "phase --rule subset of the same store recomputed" mixed
n=$(($(wc -l < mixed/rule-disagreements.csv) - 1))
[ "$n" -gt 0 ] && grep -q "disagree in $n of 12 cells" subset.txt && grep -q "but corrupted_true >= 90%" subset.txt \
  && ok "phase prints the $n cells where the rules disagree, with the reason" || notok "rule disagreements: $n in the CSV; $(grep disagree subset.txt)"
expect_error "a rule that is not one" "--rule: 'table2' is not allowed (allowed: paper, subset)" phase mixed --rule table2
expect_error "reproduce with a rule that is not one" "--rule: 'table2' is not allowed (allowed: paper, subset)" reproduce fig3a --rule table2 --out norule
[ ! -e norule ] && ok "the refused reproduce wrote nothing" || notok "reproduce --rule table2 created norule/"
# ten runs a cell, where 2 seeds cannot tell the uncertain rule from "seeds
# disagree": the mixed store plus four copies of every reference run (their
# rows and metrics under new ids), and in every other cell two copies of its
# changed run: 9 of 10 runs agree (disagree, not uncertain) or 7 of
# 10 (uncertain)
mkdir -p many && cp mixed/sweep.db many/ && $PY - many/sweep.db ref/sweep.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ATTACH ? AS ref", (sys.argv[2],))
cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
mixed = {r[0]: r[1:] for r in db.execute("SELECT id, frac, noise, wd, replicate FROM runs")}
changed = {(f, x, w): rid for rid, (f, x, w, rep) in mixed.items() if rep == 1}
for cell, (key, rid1) in enumerate(sorted(changed.items())):
    for k in range(1, 5):
        for (src,) in db.execute("SELECT id FROM ref.runs WHERE frac = ? AND noise = ? AND wd = ?", key).fetchall():
            schema = "main" if cell % 2 and k <= 2 and src == rid1 else "ref"  # the changed run, or the original
            row = list(db.execute("SELECT * FROM %s.runs WHERE id = ?" % schema, (src,)).fetchone())
            new = src + 1000 * k
            row[cols.index("id")], row[cols.index("point")] = new, row[cols.index("point")] + "#%d" % new
            db.execute("INSERT INTO runs VALUES (%s)" % ",".join("?" * len(row)), row)
            db.execute("INSERT INTO metrics SELECT ?, step, %s FROM %s.metrics WHERE run_id = ?" % (
                ",".join(c[1] for c in db.execute("PRAGMA table_info(metrics)") if c[1] not in ("run_id", "step")),
                schema), (new, src))
db.commit()
PY
"$GL" phase many --quiet || notok "phase of the store with ten runs a cell"
phase_check "phase of a store with ten runs a cell (9 or 7 of 10 agreeing) recomputed" many
n9=$($PY -c "import csv; print(sum(r['agree'] == '0' and r['uncertain'] == '0' for r in csv.DictReader(open('many/phase.csv'))))")
[ "$n9" -gt 0 ] && ok "$n9 cells whose seeds disagree are not uncertain (9 of 10 agree)" || notok "no cell with disagreeing seeds that is certain"
"$GL" export ref --csv runs.csv --metrics m.csv >/dev/null && [ "$(wc -l < runs.csv)" = 25 ] && head -1 runs.csv | grep -q ",phase," \
  && ok "export: 24 runs with their phase, and the time series" || notok "export"

# the corrupted examples' memorization and unlearning times as run columns:
# the medians of the same run's examples.csv (groklab train), recomputed here
"$GL" sweep --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 0,8 --steps 600 --out story --quiet
"$GL" train --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 8 --steps 600 --out story8 --quiet
if out=$($PY - story/sweep.db story8/examples.csv <<'PY'
import csv, sqlite3, statistics, sys
db = sqlite3.connect(sys.argv[1])
got = db.execute("SELECT memorized, mem_median, unlearned_examples, unlearn_median FROM runs WHERE wd = 8").fetchone()
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["corrupted"] == "1"]
mem = [int(r["first_given"]) for r in rows if int(r["first_given"]) >= 0]
unl = [int(r["unlearned"]) for r in rows if int(r["unlearned"]) >= 0]
want = (len(mem), statistics.median(mem), len(unl), statistics.median(unl) if unl else None)
print(f"store {got}, examples.csv {want}")
sys.exit(not (len(unl) > 0 and got == want))
PY
); then ok "sweep columns memorized, mem_median, unlearned_examples, unlearn_median = examples.csv's: $out"
else notok "sweep story columns: $out"; fi

# a store made before these columns existed gains them (its runs keep NULL) and resumes
$PY -c "
import sqlite3; db = sqlite3.connect('story/sweep.db')
for c in ('mem_median', 'unlearn_iqr', 'snapshots'): db.execute('ALTER TABLE runs DROP COLUMN ' + c)
db.execute('ALTER TABLE metrics DROP COLUMN grad_norm'); db.commit()"
"$GL" sweep --resume story --quiet 2>err.txt && "$GL" sweep --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 0,8,15 --steps 600 \
  --out story --extend --quiet 2>>err.txt
n=$($PY -c "
import sqlite3; db = sqlite3.connect('story/sweep.db')
print(db.execute('SELECT count(*) FROM runs WHERE status = \"done\" AND mem_median IS NOT NULL').fetchone()[0],
      db.execute('SELECT count(*) FROM runs').fetchone()[0])")
[ "$n" = "1 3" ] && ok "an older store gains the new columns: --extend adds one run, none retrained ($n: with a median, in all)" \
  || notok "older store: $n ($(cat err.txt))"

echo "sweep: $passes passed, $fails failed"
[ $fails -eq 0 ]
