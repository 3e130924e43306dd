#!/usr/bin/env bash
# Sweeps over MPI: `mpirun -np 2` on one machine gives a store identical to
# the single-process sweep; with one rank killed (SIGKILL) mid-way, mpirun
# ends the job, and `groklab sweep --resume` finishes the runs that were in
# flight: the store is again identical; runs with snapshots train into
# DIR/runs/ID from any rank. Exit 77 (skip) without mpirun.
# usage: tests/sweep_mpi_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
HERE=$(dirname "$(readlink -f "$0")")
command -v mpirun >/dev/null || { echo "SKIP: mpirun not found"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_plm_rsh_agent=false
MPIRUN=(mpirun -np 2 --oversubscribe)
. "$HERE/sweep_lib.sh"
GRID=("${GRID_BASE[@]}")

"$GL" sweep "${GRID[@]}" --threads 2 --out ref --quiet || notok "reference sweep"
"${MPIRUN[@]}" "$GL" sweep "${GRID[@]}" --out mpi > mpi.txt 2>&1 || notok "mpirun sweep: $(cat mpi.txt)"
out=$(same_store ref/sweep.db mpi/sweep.db) && ok "mpirun -np 2 = single process: $out ($(grep -o '[0-9]* runs from other ranks' mpi.txt))" \
  || notok "mpirun store: $out"

# kill rank 1 while it trains
"${MPIRUN[@]}" "$GL" sweep "${GRID[@]}" --out killed --quiet > killed.txt 2>&1 &
mp=$!
victim=""
for i in $(seq 1 200); do
  sleep 0.1
  [ -f killed/sweep.db ] && [ "$(count killed/sweep.db done 2>/dev/null)" -ge 3 ] 2>/dev/null || continue
  for p in $(pgrep -f "groklab sweep"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' /proc/$p/environ 2>/dev/null && victim=$p
  done
  [ -n "$victim" ] && break
done
[ -n "$victim" ] && kill -9 "$victim"
wait $mp 2>/dev/null
d=$(count killed/sweep.db done)
[ -n "$victim" ] && [ "$d" -lt 24 ] && ok "rank 1 killed with $d of 24 runs done ($(count killed/sweep.db running) in flight)" \
  || notok "kill: victim '$victim', $d done"
"$GL" sweep --resume killed --quiet
out=$(same_store ref/sweep.db killed/sweep.db) && ok "after the killed rank, --resume finishes its work: $out" || notok "after resume: $out"

# snapshots over MPI: each rank trains its runs into DIR/runs/ID, and the
# store's rows are those directories' summaries (12 runs of about 0.4 s on an
# idle core, so that rank 1, which starts about a second after rank 0, gets
# some of them)
"${MPIRUN[@]}" "$GL" sweep --p 31 --width 128 --frac 0.6 --noise 0.2 --steps 1500 --snapshots 3 --wd 0:11:12 --threads 1 --out msnap --quiet \
  > msnap.txt 2>&1 || notok "mpirun sweep --snapshots: $(cat msnap.txt)"
if out=$("$PY" "$HERE/python/check_sweep_runs.py" msnap 12 --remote-rank 2>&1); then
  ok "mpirun sweep --snapshots 3: every run's DIR/runs/ID = its store row (config, summary, examples):"
  echo "$out" | sed 's/^/        /'
else notok "MPI snapshots: $(echo "$out" | tr '\n' ';')"; fi

# --device cuda over MPI (on the host emulator here): every rank trains
# populations; phases and statuses equal the single-process GPU sweep's (the
# numbers may differ in rounding: a GEMM's blocking depends on the
# population's padded shape)
GPU=(--p 31 --width 64 --steps 300 --log-every 50 --frac 0.4,0.7,0.9 --noise 0,0.3 --wd 0,5 --seeds 2 --device cuda --quiet)
GROKLAB_GPU_EMULATE=1 "$GL" sweep "${GPU[@]}" --out gref || notok "single-process GPU sweep"
GROKLAB_GPU_EMULATE=1 "${MPIRUN[@]}" -x GROKLAB_GPU_EMULATE "$GL" sweep "${GPU[@]}" --out gmpi > gmpi.txt 2>&1 || notok "mpirun GPU sweep: $(cat gmpi.txt)"
q="select group_concat(status || ':' || phase, ' ') from (select status, phase from runs order by id)"
a=$(sqlite3 gref/sweep.db "$q"); b=$(sqlite3 gmpi/sweep.db "$q")
ranks=$(sqlite3 gmpi/sweep.db "select count(distinct worker) from runs")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$ranks" = 2 ] && ok "mpirun -np 2 --device cuda: both ranks trained populations; statuses and phases of all 24 runs as in one process" \
  || notok "GPU over MPI: ranks $ranks, [$b] vs [$a]"

echo "sweep mpi: $passes passed, $fails failed"
[ $fails -eq 0 ]
