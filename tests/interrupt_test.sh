#!/usr/bin/env bash
# Stopping on SIGINT and SIGTERM (a scheduler's time limit): `train` stops
# after the step it is in, writes its checkpoint and metrics, exits 130 / 143
# with one line saying how to resume, and the resumed run is bit-identical to
# an uninterrupted one (metrics.csv, model.safetensors, summary.json's numbers);
# `sweep` stops claiming runs, returns the runs in flight to pending, closes
# the store (its lock is free again) and exits 143, and the resumed sweep's
# store equals an uninterrupted sweep's.
# usage: tests/interrupt_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/sweep_lib.sh"
STEPS=${INTERRUPT_STEPS:-2000}
RUN=(train --p 37 --steps "$STEPS" --log-every 20 --frac 0.5 --noise 0.2 --dropout 0.1 --checkpoint-every 0 --threads 1 --quiet)

"$GL" "${RUN[@]}" --out full >/dev/null || notok "uninterrupted run"

# signal a run once it trains (init.safetensors is written just before), then resume it
interrupt_train() { # name signal expected-status
  local name=$1 sig=$2 want=$3
  "$GL" "${RUN[@]}" --out "$name" >"$name.out" 2>"$name.err" &
  local pid=$!
  for i in $(seq 1 200); do sleep 0.05; [ -f "$name/init.safetensors" ] && break; done
  sleep 0.4
  kill -"$sig" $pid
  wait $pid
  local rc=$?
  local step
  step=$($PY -c "import json,struct,sys; r=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',r[:8])[0]; print(json.loads(r[8:8+n])['__metadata__']['step'])" "$name/checkpoint.safetensors" 2>/dev/null)
  if [ $rc -eq "$want" ] && [ "$(wc -l <"$name.err")" -eq 1 ] && grep -q "groklab train --resume $name" "$name.err" \
     && [ -n "$step" ] && [ "$step" -gt 0 ] && [ "$step" -lt "$STEPS" ] && [ ! -e "$name/model.safetensors" ]; then
    ok "SIG$sig: exit $rc at step $step of $STEPS, checkpoint written: $(cat "$name.err")"
  else
    notok "SIG$sig: exit $rc (want $want), checkpoint step '$step', stderr [$(cat "$name.err")]"
  fi
  # the metrics written at the signal are the uninterrupted run's rows up to that step
  if head -n "$(wc -l <"$name/metrics.csv")" full/metrics.csv | cmp -s - "$name/metrics.csv"; then
    ok "SIG$sig: metrics.csv at the signal is the uninterrupted run's first $(($(wc -l <"$name/metrics.csv") - 1)) rows"
  else
    notok "SIG$sig: metrics.csv at the signal differs from the uninterrupted run's"
  fi
  "$GL" train --resume "$name" --quiet >/dev/null || notok "SIG$sig: resume failed"
  if cmp -s full/metrics.csv "$name/metrics.csv" && cmp -s full/model.safetensors "$name/model.safetensors" \
     && $PY -c "
import json, sys
a, b = (json.load(open(d + '/summary.json')) for d in sys.argv[1:])
for k in ('wall_seconds',): a.pop(k); b.pop(k)
sys.exit(a != b)" full "$name"; then
    ok "SIG$sig: resumed run is bit-identical to the uninterrupted one (metrics.csv, model.safetensors, summary.json)"
  else
    notok "SIG$sig: resumed run differs from the uninterrupted one"
  fi
}
interrupt_train term TERM 143
interrupt_train int INT 130

# with snapshots and progress measures: the resumed run keeps the snapshots
# written before the signal and adds the rest, bit for bit the uninterrupted
# run's (snapshots, examples.csv, progress.csv, metrics.csv)
SNAP=("${RUN[@]}" --snapshots 16 --progress-measures on)
"$GL" "${SNAP[@]}" --out sfull >/dev/null || notok "uninterrupted run with snapshots"
"$GL" "${SNAP[@]}" --out snap >/dev/null 2>snap.err &
pid=$!
for i in $(seq 1 200); do sleep 0.05; [ -f snap/init.safetensors ] && break; done
sleep 0.4
kill -INT $pid
wait $pid
before=$(ls snap/snapshots | wc -l)
"$GL" train --resume snap --quiet >/dev/null 2>>snap.err || notok "resume with snapshots failed: $(cat snap.err)"
after=$(ls snap/snapshots | wc -l)
if diff -r sfull/snapshots snap/snapshots >/dev/null && cmp -s sfull/examples.csv snap/examples.csv \
   && cmp -s sfull/progress.csv snap/progress.csv && cmp -s sfull/metrics.csv snap/metrics.csv; then
  ok "SIGINT with --snapshots: $before snapshots at the signal, $after after --resume, all bit-identical to the uninterrupted run's, as are examples.csv and progress.csv"
else
  notok "SIGINT with --snapshots: resumed run differs ($before then $after snapshots; $(diff -rq sfull snap | head -3 | tr '\n' ';'))"
fi

# a sweep of 8 runs: SIGTERM once two have finished
GRID=(--p 31 --width 96 --steps "${SWEEP_STEPS:-600}" --log-every 50 --frac 0.4,0.8 --noise 0,0.3 --wd 0,5 --threads 2 --quiet)
"$GL" sweep "${GRID[@]}" --out ref || notok "reference sweep"
"$GL" sweep "${GRID[@]}" --out cut >cut.out 2>cut.err &
pid=$!
for i in $(seq 1 300); do sleep 0.1; [ -f cut/sweep.db ] && [ "$(count cut/sweep.db done 2>/dev/null)" -ge 2 ] 2>/dev/null && break; done
kill -TERM $pid
wait $pid
rc=$?
d=$(count cut/sweep.db done); r=$(count cut/sweep.db running); p=$(count cut/sweep.db pending)
if [ $rc -eq 143 ] && [ "$r" = 0 ] && [ "$d" -lt 8 ] && [ "$(wc -l <cut.err)" -eq 1 ] && grep -q "sweep --resume cut" cut.err; then
  ok "sweep SIGTERM: exit 143, $d done, $p pending, none left running: $(cat cut.err)"
else
  notok "sweep SIGTERM: exit $rc, $d done, $r running, $p pending, stderr [$(cat cut.err)]"
fi
"$GL" sweep --resume cut --quiet || notok "sweep resume after SIGTERM (is the lock free?)"
out=$(same_store ref/sweep.db cut/sweep.db) && ok "sweep stopped by SIGTERM and resumed = uninterrupted: $out" \
  || notok "sweep after SIGTERM: $out"

echo "interrupt: $passes passed, $fails failed"
[ $fails -eq 0 ]
