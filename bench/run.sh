#!/usr/bin/env bash
# bench/run.sh: run one bench/load scenario against `auditstream serve`,
# for one binary or several alternately (before/after in one run).
#
#   bench/run.sh flood|ingest|steady|streams10|s3 [BINARY...]
#
# ingest is the flood with no log stream (bench/load --streams 0): what
# keeping the events costs, without delivering them.
#
# Without BINARY it builds ./cmd/auditstream of this checkout. The load tool
# is always built from this checkout, so every binary meets the same tool.
# Each run starts the binary on 127.0.0.1 with a fresh data directory and
# its own admin token, runs bench/load with --pid, prints the report, and
# stops the server; at the end one summary line per run.
#
# Environment:
#   EVENTS     events per run (default: 100000; steady 40000)
#   RATE       events/s for steady (2000) and streams10 (50000)
#   ROUNDS     rounds over the binaries, alternating (default 1)
#   CONFIG     YAML config file passed to serve as --config
#   LOAD_ARGS  extra bench/load flags (word-split)
#   VERSITYGW  versitygw binary for s3 (default: PATH, $GOPATH/bin, ~/go/bin)
#   KEEP=1     keep the work directory (server logs, and each run's /metrics
#              as it stood before serve stopped) after the run
#   SETTLE     seconds to wait after the load tool before stopping serve;
#              the summary then adds settledCpu-s/M: serve's CPU from ready
#              to the end of the wait, per event (includes the followers
#              that lag behind the head: query index, activity, detections)
# serve's own environment (GOMEMLIMIT, GOGC, AUDITSTREAM_CPUPROFILE, ...)
# passes through.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] || usage
scenario=$1
shift
case $scenario in
flood)
	args=(--events "${EVENTS:-100000}" --batch 1000 --concurrency 4) ;;
ingest)
	args=(--streams 0 --events "${EVENTS:-100000}" --batch 1000 --concurrency 4) ;;
steady)
	args=(--events "${EVENTS:-40000}" --rate "${RATE:-2000}" --batch 100 --concurrency 2) ;;
streams10)
	args=(--streams 10 --events "${EVENTS:-100000}" --rate "${RATE:-50000}" --batch 1000 --concurrency 4) ;;
s3)
	args=(--sink s3 --events "${EVENTS:-100000}" --batch 1000 --concurrency 4) ;;
*)
	usage ;;
esac
# shellcheck disable=SC2206 # word splitting of LOAD_ARGS is the point
[ -n "${LOAD_ARGS:-}" ] && args+=(${LOAD_ARGS})

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/auditstream-bench.XXXXXX")
server_pid=
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

binaries=("$@")
echo "building bench/load$([ ${#binaries[@]} -gt 0 ] || echo " and cmd/auditstream") in $root ..." >&2
(cd "$root" && go build -o "$work/load" ./bench/load)
if [ ${#binaries[@]} -eq 0 ]; then
	(cd "$root" && go build -o "$work/auditstream" ./cmd/auditstream)
	binaries=("$work/auditstream")
fi
for b in "${binaries[@]}"; do
	[ -x "$b" ] || { echo "run.sh: $b is not an executable" >&2; exit 2; }
done

# cpu_ticks prints a process's utime+stime in clock ticks (/proc/PID/stat;
# the fields after the command name, which may hold spaces).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for p in $(seq 18080 18180); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "run.sh: no free port in 18080-18180" >&2
	exit 1
}

summaries=()
status=0
rounds=${ROUNDS:-1}
for round in $(seq 1 "$rounds"); do
	for bin in "${binaries[@]}"; do
		n=$((${#summaries[@]} + 1))
		data="$work/data-$n"
		log="$work/serve-$n.log"
		port=$(free_port)
		token="bench-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		serve=("$bin" serve --data-dir "$data" --listen "127.0.0.1:$port")
		[ -n "${CONFIG:-}" ] && serve+=(--config "$CONFIG")
		AUDITSTREAM_ADMIN_TOKEN=$token "${serve[@]}" >"$log" 2>&1 &
		server_pid=$!
		ready=0
		for _ in $(seq 1 300); do
			if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
				ready=1
				break
			fi
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ $ready != 1 ]; then
			echo "run.sh: $bin did not become ready on 127.0.0.1:$port; its log:" >&2
			tail -n 30 "$log" >&2
			exit 1
		fi
		echo "== $scenario, round $round, $bin (pid $server_pid), load: ${args[*]}" >&2
		cpu0=$(cpu_ticks "$server_pid")
		out="$work/report-$n.txt"
		rc=0
		(cd "$root" && AUDITSTREAM_ADMIN_TOKEN=$token "$work/load" --server "http://127.0.0.1:$port" --pid "$server_pid" "${args[@]}") | tee "$out" || rc=$?
		[ $rc = 0 ] || status=$rc
		settled=
		if [ -n "${SETTLE:-}" ]; then
			sleep "$SETTLE"
			events=$(printf '%s\n' "${args[@]}" | sed -n '/^--events$/{n;p;}')
			settled=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$server_pid")" -v hz="$(getconf CLK_TCK)" -v n="$events" \
				'BEGIN { printf " settledCpu-s/M=%.1f (%.2f s over load + %ss)", (b-a)/hz/n*1e6, (b-a)/hz, ENVIRON["SETTLE"] }')
		fi
		if [ "${KEEP:-0}" = 1 ]; then
			curl -fsS -H "Authorization: SSWS $token" -o "$work/metrics-$n.txt" "http://127.0.0.1:$port/metrics" || true
		fi
		kill -TERM "$server_pid"
		wait "$server_pid" || true
		server_pid=
		rm -rf "$data"
		label=$bin
		[ "$bin" = "$work/auditstream" ] && label="cmd/auditstream (this checkout)"
		summaries+=("$scenario r$round $label: $(sed -n 's/^summary *//p' "$out")$settled")
	done
done
echo
echo "== summaries ($scenario, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${summaries[@]}"
exit $status
