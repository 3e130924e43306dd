# Shared by tests/sweep_test.sh and tests/sweep_mpi_test.sh (sourced after
# GL, PY and HERE are set): a scratch directory to work in, OK/NOT OK
# counters, store comparison and counts, and the test grid of 24 runs.
T=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
fails=0
passes=0
ok() { echo "OK      $*"; passes=$((passes + 1)); }
notok() { echo "NOT OK  $*"; fails=$((fails + 1)); }
# compare two stores: every column of runs but timings/worker/attempts, and all metrics
same_store() { $PY "$HERE/python/same_store.py" "$1" "$2"; }
# runs of a store with a given status
count() { $PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM runs WHERE status = '$2'\").fetchone()[0])" "$1"; }
# SWEEP_STEPS: shorter runs for slow (sanitizer) builds
STEPS=${SWEEP_STEPS:-1500}
GRID_BASE=(--p 31 --width 128 --steps "$STEPS" --log-every 50 --frac 0.4,0.7,0.9 --noise 0,0.3 --wd 0,5 --seeds 2)
