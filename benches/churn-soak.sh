#!/bin/bash
# Churn soak (BENCHMARKS.md, "Soak: ..."): `serve --instances 3` in its own process and
# scenarios/churn-soak.yaml against it for DURATION (default 15m); every 10 s the VmRSS (KiB)
# and CPU (ticks of 10 ms) of both processes go to $OUT/samples.tsv (with the server's RSS split
# into anonymous memory and file-backed pages, the binary's code), and the server is sampled
# AFTER (default 3m) more once the run has ended, to see whether it lets go of what it kept.
# Then prints each side's RSS at the start and end of the steady part (from 5 minutes in, or a
# third of the run if shorter) and its least-squares slope in MiB/h.
# With WARM (e.g. WARM=10s), a first small wave of the same churn runs for WARM before it, and
# sampling starts once the server has forgotten that wave (its RSS then: the warm baseline,
# with the code and allocator state any visitor brings in; the cold one is printed beside it).
# With STALLS (e.g. STALLS="150:10 300:20"), the harness is stopped (SIGSTOP) at each AT s
# from the run's start for FOR s, as a machine busy with other work would stall it, to see
# what the burst it meets when it wakes leaves resident.
# usage: benches/churn-soak.sh target/release/presence-bench LABEL [PORT [SERVE-OPTIONS...]]
# (SERVE-OPTIONS go to `serve`, e.g. `--visitor-retention 1m`)
BIN=$1; LABEL=$2; PORT=${3:-7300}
shift $(( $# < 3 ? $# : 3 ))
DURATION=${DURATION:-15m}; AFTER=${AFTER:-3m}
. "$(dirname "$0")/lib.sh"
OUT=/tmp/churn-soak-$LABEL
rm -rf "$OUT"; mkdir -p "$OUT"
$BIN serve --instances 3 --directory-port "$PORT" "$@" > "$OUT/serve.log" 2>&1 &
SPID=$!
wait_for_directory "$OUT/serve.log" || exit 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo -; }
# anon_file PID: RssAnon and RssFile (KiB), tab-separated.
anon_file() { awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a "\t" f}' "/proc/$1/status"; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
echo "server cold: $(rss $SPID) KiB (anonymous, file: $(anon_file $SPID | tr '\t' ' '))"
if [ -n "$WARM" ]; then
  SOAK_PORT=$PORT $BIN run --quiet "$(dirname "$0")/../scenarios/churn-soak.yaml" --set "duration=$WARM" \
    --out "$OUT/warm" > "$OUT/warm.log" 2>&1
  # Forgotten, and the heap trimmed since (a server without the trims counter: forgotten).
  until [ "$(metric presence_server_visitors_held)" = 0 ] \
    && [ "$(metric presence_server_heap_trims_total)" != 0 ]; do sleep 1; done
  echo "server warm: $(rss $SPID) KiB (anonymous, file: $(anon_file $SPID | tr '\t' ' '))"
fi
SOAK_PORT=$PORT $BIN run --quiet "$(dirname "$0")/../scenarios/churn-soak.yaml" --set "duration=$DURATION" \
  --out "$OUT/run" > "$OUT/run.log" 2>&1 &
RPID=$!
START=$(date +%s)
echo -e "t_s\tharness_kib\tharness_ticks\tserver_kib\tserver_ticks\tserver_anon_kib\tserver_file_kib" \
  > "$OUT/samples.tsv"
sample() {
  echo -e "$(( $(date +%s) - START ))\t$1\t$2\t$(rss $SPID)\t$(cpu_ticks $SPID)\t$(anon_file $SPID)" \
    >> "$OUT/samples.tsv"
}
while kill -0 $RPID 2>/dev/null; do
  sample "$(rss $RPID)" "$(cpu_ticks $RPID)"
  for stall in $STALLS; do
    at=${stall%:*}
    if [ $(( $(date +%s) - START )) -ge "$at" ] && [ ! -e "$OUT/stalled-$at" ]; then
      touch "$OUT/stalled-$at"; kill -STOP $RPID; sleep "${stall#*:}"; kill -CONT $RPID
      echo "harness stopped at ${at} s for ${stall#*:} s" >> "$OUT/stalls.txt"
    fi
  done
  sleep 10
done
wait $RPID; echo "run exit: $?"
END=$(( $(date +%s) + $(python3 -c "import sys,re; m=re.fullmatch(r'(\d+)([smh])', sys.argv[1]); print(int(m[1])*{'s':1,'m':60,'h':3600}[m[2]])" "$AFTER") ))
while [ "$(date +%s)" -lt "$END" ]; do sample - -; sleep 10; done
kill -INT $SPID; wait $SPID 2>/dev/null
grep -E "^visitors:|^presence_ack |^signal_delivery |^errors:|^harness|^verdict" "$OUT/run.log"
python3 - "$OUT/samples.tsv" <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])][1:]
def series(column, run_only):
    return [(int(r[0]), int(r[column])) for r in rows if r[column] != "-" and (r[1] != "-" or not run_only)]
def slope(points):
    n = len(points); mx = sum(t for t, _ in points) / n; my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0
for name, column in (("harness", 1), ("server", 3)):
    points = series(column, True)
    last = points[-1][0]
    steady = [p for p in points if p[0] >= min(300, last // 3)]
    print(f"{name}: RSS {steady[0][1] / 1024:.1f} MiB at {steady[0][0]} s, {steady[-1][1] / 1024:.1f} MiB at "
          f"{steady[-1][0]} s, slope {slope(steady) * 3600 / 1024:.1f} MiB/h over the steady part")
after = series(3, False)
anon, file = int(rows[-1][5]), int(rows[-1][6])
print(f"server after the run: {after[-1][1] / 1024:.1f} MiB at {after[-1][0]} s "
      f"(anonymous {anon / 1024:.1f}, file {file / 1024:.1f})")
ticks = [(int(r[0]), int(r[2]), int(r[4])) for r in rows if r[1] != "-"]
(t0, h0, s0), (t1, h1, s1) = ticks[0], ticks[-1]
print(f"CPU over the run: harness {(h1 - h0) / 100 / (t1 - t0):.3f} s/s, server {(s1 - s0) / 100 / (t1 - t0):.3f} s/s")
PY
