#!/usr/bin/env bash
# Usage: bench/compare_builds.sh OLD_GROKLAB NEW_GROKLAB [WORKDIR]
#
# Whether two builds of groklab give the same numbers, byte for byte: both
# run one set of jobs (reproduce fig1 with ipr, prune and spectrum of a run;
# three small sweeps of the three families with phase; eight short runs over
# norms, losses, optimizers, dropout, minibatches, tasks and families, each
# with ipr; a resumed run; the analytic solution; pruning), then every output
# is reduced to a canonical text: the sweep stores' rows (runs, metrics,
# neurons, weights) with floats written exactly, a hash of every csv,
# safetensors and json file (wall times, versions and the checkpoint's
# wall-clock metadata left out), and the printed tables without timings or
# paths. The two texts are compared; the first differences are printed.
# Exit 0 when identical, 1 when not. About 2.5 minutes per build on 2 cores.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: bench/compare_builds.sh OLD_GROKLAB NEW_GROKLAB [WORKDIR]" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") W=${3:-$(mktemp -d /tmp/groklab-compare.XXXXXX)}
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "compare_builds: $b is not an executable" >&2; exit 2; }; done
mkdir -p "$W"

run_jobs() { # BIN OUT
    local G=$1 O=$2
    rm -rf "$O"
    mkdir -p "$O"
    export OMP_NUM_THREADS=2
    $G reproduce fig1 --out "$O/fig1" --force --quiet >"$O/fig1.txt" 2>&1
    $G ipr "$O/fig1/wd0" --no-plot --quiet
    $G prune "$O/fig1/wd0" --no-plot --quiet --seeds 3
    $G spectrum "$O/fig1/wd0" --no-plot --quiet
    $G sweep --p 31 --steps 400 --log-every 50 --frac 0.3:0.8:3 --noise 0:0.4:3 --wd 0,5 --keep-weights --quiet \
        --out "$O/sw" >"$O/sw.txt" 2>&1
    $G phase "$O/sw" >"$O/phase.txt" 2>&1
    $G sweep --p 23 --steps 60 --log-every 20 --model deep-mlp --norm batchnorm,layernorm --batch 32 --dropout 0.2 \
        --frac 0.5 --noise 0.2 --quiet --out "$O/sw2" >"$O/sw2.txt" 2>&1
    $G sweep --p 23 --steps 40 --log-every 10 --model transformer --norm none,layernorm --frac 0.5 --noise 0.2 \
        --dropout 0.1 --quiet --out "$O/sw3" >"$O/sw3.txt" 2>&1
    local i=0 a
    for a in "--norm batchnorm --batch 64 --dropout 0.3" "--norm layernorm --loss ce --act relu" \
        "--dropout 0.5 --act gelu --optim sgd --momentum 0.9" "--model deep-mlp --depth 2 --dropout 0.3" \
        "--model deep-mlp --depth 4 --norm batchnorm --param lazy --batch 50" \
        "--model transformer --norm layernorm --tie 1 --dropout 0.1 --heads 2 --embed 32" \
        "--task mul --norm batchnorm" "--optim adam --wd 1 --batch 100"; do
        i=$((i + 1))
        # shellcheck disable=SC2086 # the knobs are words
        $G train --p 29 --steps 120 --log-every 10 --frac 0.6 --noise 0.2 --quiet --out "$O/t$i" $a >"$O/t$i.txt" 2>&1
        $G ipr "$O/t$i" --no-plot --quiet >/dev/null 2>&1
    done
    $G train --p 29 --steps 60 --log-every 10 --frac 0.6 --noise 0.2 --quiet --out "$O/r1" --norm batchnorm --batch 32 \
        --checkpoint-every 30 >/dev/null 2>&1
    $G analytic --p 31 --width 200 --out "$O/an" --quiet >"$O/an.txt" 2>&1
    $G prune "$O/t1" --no-plot --quiet --seeds 2 >/dev/null 2>&1
}

canonical() { # OUT
    (cd "$1" && /usr/bin/python3 - <<'PY'
import glob, hashlib, json, os, re, sqlite3, struct

def md5(b):
    return hashlib.md5(b).hexdigest()

for db in ("sw/sweep.db", "sw2/sweep.db", "sw3/sweep.db"):
    c = sqlite3.connect(db)
    cols = [r[1] for r in c.execute("pragma table_info(runs)") if r[1] not in ("wall_seconds", "finished_at", "worker")]
    print("==", db)
    for r in c.execute("select %s from runs order by id" % ",".join('"%s"' % x for x in cols)):
        print(repr(r))
    for r in c.execute("select * from metrics order by run_id, step"):
        print(repr(r))
    for r in c.execute("select * from neurons order by run_id, neuron"):
        print(repr(r))
    print(md5(b"".join(r[0] for r in c.execute("select data from weights order by run_id, name"))))

timing = re.compile(r"[0-9.]+ ?(s|ms|min)\b|[0-9.]+s;|in [0-9.]+s")
files = sorted(f for ext in ("csv", "safetensors", "txt", "json") for f in glob.glob("**/*." + ext, recursive=True))
for f in files:
    raw = open(f, "rb").read()
    if f.endswith("summary.json"):
        d = json.loads(raw)
        for k in ("wall_seconds", "seconds", "version"):
            d.pop(k, None)
        key = repr(sorted(d.items())).encode()
    elif f.endswith("config.json"):
        key = b"\n".join(l for l in raw.split(b"\n") if b"version" not in l)
    elif f.endswith("checkpoint.safetensors"):
        n = struct.unpack("<Q", raw[:8])[0]
        hd = json.loads(raw[8:8 + n])
        hd.get("__metadata__", {}).pop("wall_seconds", None)
        key = json.dumps(hd, sort_keys=True).encode() + raw[8 + n:]
    elif f.endswith(".txt"):
        text = raw.decode(errors="replace").replace(os.getcwd(), "DIR")
        key = timing.sub("", text).encode()
    else:
        key = raw
    print(f, md5(key))
PY
    )
}

for side in old new; do
    bin=$OLD
    [ $side = new ] && bin=$NEW
    echo "compare_builds: running the jobs with $bin into $W/$side" >&2
    run_jobs "$bin" "$W/$side"
    canonical "$W/$side" >"$W/$side.txt" || { echo "compare_builds: could not read $W/$side" >&2; exit 2; }
done
if cmp -s "$W/old.txt" "$W/new.txt"; then
    echo "identical: $(wc -l <"$W/new.txt") lines, $(wc -c <"$W/new.txt") bytes of canonical output ($W/new.txt)"
    exit 0
fi
echo "different ($(diff "$W/old.txt" "$W/new.txt" | grep -c '^[<>]') lines differ); the first:"
diff "$W/old.txt" "$W/new.txt" | head -20
exit 1
