#!/usr/bin/env bash
# bench/partitions.sh: ingest and delivery throughput of one `serve` node on
# a three-server NATS JetStream cluster (replicas 3) on loopback, with
# journal.partitions 1, 2 and 3 (issue 13: journal writes no longer bound to
# one stream leader).
#
#   bench/partitions.sh [PARTITIONS...]     (default: 1 2 3)
#
# Each run starts 3 nats-server processes clustered on 127.0.0.1 with fresh
# stores, one `auditstream serve` with natsUrl listing the three, replicas 3
# and the partition count, runs bench/load (--orgs spreads the requests
# over orgs bench0…, so over the partitions; one http stream of every org),
# prints the report and the partitions' leaders (GET /api/v1/cluster), then
# stops everything. At the end one summary line per run.
#
# Environment:
#   EVENTS       events per run (default 200000)
#   ORGS         orgs the events are spread over (default 6: 3 and 3 on 2
#                partitions, 2 each on 3)
#   ROUNDS       rounds over the partition counts, alternating (default 1)
#   NATS_SERVER  nats-server binary (default: PATH, then ~/go/bin; install
#                with: go install github.com/nats-io/nats-server/v2@v2.15.2)
#   LOAD_ARGS    extra bench/load flags (word-split)
#   KEEP=1       keep the work directory (logs) after the run
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(1 2 3)
events=${EVENTS:-200000}
orgs=${ORGS:-6}
rounds=${ROUNDS:-1}
nats=${NATS_SERVER:-$(command -v nats-server || echo "$HOME/go/bin/nats-server")}
[ -x "$nats" ] || { echo "partitions.sh: no nats-server (set NATS_SERVER or go install github.com/nats-io/nats-server/v2@v2.15.2)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/auditstream-partitions.XXXXXX")
pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
cleanup() {
	stop_all
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bench/load and cmd/auditstream in $root ..." >&2
(cd "$root" && go build -o "$work/load" ./bench/load && go build -o "$work/auditstream" ./cmd/auditstream)

client_port() { echo $((14221 + $1)); }
route_port() { echo $((16221 + $1)); }
mon_port() { echo $((18221 + $1)); }
http_port=18321

# cpu_ticks prints utime+stime of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_url() { # url tries
	local i
	for i in $(seq 1 "$2"); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

summaries=()
status=0
for round in $(seq 1 "$rounds"); do
	for p in "${parts[@]}"; do
		run="$work/p$p-r$round"
		mkdir -p "$run"
		routes=""
		for i in 1 2 3; do
			routes+="nats-route://127.0.0.1:$(route_port $i),"
		done
		for i in 1 2 3; do
			cat >"$run/n$i.conf" <<-EOF
				server_name: n$i
				listen: 127.0.0.1:$(client_port $i)
				http: 127.0.0.1:$(mon_port $i)
				max_payload: 8MB
				jetstream { store_dir: "$run/n$i", max_file_store: 8GB, max_memory_store: 256MB }
				cluster { name: bench, listen: 127.0.0.1:$(route_port $i), routes: [${routes%,}] }
			EOF
			"$nats" -c "$run/n$i.conf" >"$run/n$i.log" 2>&1 &
			pids+=($!)
		done
		for i in 1 2 3; do
			wait_url "http://127.0.0.1:$(mon_port $i)/healthz" 300 || { echo "nats-server n$i not healthy" >&2; tail "$run/n$i.log" >&2; exit 1; }
		done
		# Every server sees the two others as current meta peers (healthz
		# alone can answer before: placing an R3 stream then fails with
		# "no suitable peers for placement").
		for _ in $(seq 1 300); do
			ok=0
			for i in 1 2 3; do
				curl -fsS "http://127.0.0.1:$(mon_port $i)/jsz" 2>/dev/null |
					jq -e '.meta_cluster.leader != null and ([.meta_cluster.replicas[]? | select(.current and (.offline | not))] | length) == 2' >/dev/null &&
					ok=$((ok + 1))
			done
			[ $ok = 3 ] && break
			sleep 0.1
		done
		cat >"$run/serve.yaml" <<-EOF
			journal:
			  natsUrl: nats://127.0.0.1:$(client_port 1),nats://127.0.0.1:$(client_port 2),nats://127.0.0.1:$(client_port 3)
			  replicas: 3
			  partitions: $p
			  maxBytes: 2147483648
			  deadLetters: {maxBytes: 268435456}
		EOF
		token="bench-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		AUDITSTREAM_ADMIN_TOKEN=$token "$work/auditstream" serve --config "$run/serve.yaml" --data-dir "$run/data" \
			--listen "127.0.0.1:$http_port" >"$run/serve.log" 2>&1 &
		serve_pid=$!
		pids+=("$serve_pid")
		wait_url "http://127.0.0.1:$http_port/readyz" 600 || { echo "serve not ready" >&2; tail -n 30 "$run/serve.log" >&2; exit 1; }
		echo "== partitions $p, round $round: leaders" >&2
		curl -fsS -H "Authorization: SSWS $token" "http://127.0.0.1:$http_port/api/v1/cluster" |
			jq -r '.journal[] | select(.partition != null) | "   partition \(.partition) \(.name) leader \(.leader) replicas \(.replicas)"' | tee "$run/leaders.txt" >&2
		args=(--events "$events" --batch 1000 --concurrency 4 --orgs "$orgs")
		# shellcheck disable=SC2206 # word splitting of LOAD_ARGS is the point
		[ -n "${LOAD_ARGS:-}" ] && args+=(${LOAD_ARGS})
		echo "== partitions $p, round $round, load: ${args[*]}" >&2
		before=()
		for i in 0 1 2; do before+=("$(cpu_ticks "${pids[$i]}")"); done
		rc=0
		(cd "$root" && AUDITSTREAM_ADMIN_TOKEN=$token "$work/load" --server "http://127.0.0.1:$http_port" --pid "$serve_pid" "${args[@]}") |
			tee "$run/report.txt" || rc=$?
		# The NATS servers' CPU over the run (from before the load until
		# the report, which ends when the last event was delivered): the
		# leaders do more of the work than the followers.
		natscpu=""
		for i in 0 1 2; do
			natscpu+="n$((i + 1))=$(awk -v a="${before[$i]}" -v b="$(cpu_ticks "${pids[$i]}")" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (b-a)/hz}')s "
		done
		echo "nats-server CPU    ${natscpu% }" | tee -a "$run/report.txt"
		[ $rc = 0 ] || status=$rc
		leaders=$(awk '{printf "%s%s", sep, $5; sep=","}' "$run/leaders.txt")
		stop_all
		summaries+=("partitions $p r$round leaders [$leaders] nats CPU [${natscpu% }]: $(sed -n 's/^summary *//p' "$run/report.txt")")
		[ "${KEEP:-0}" = 1 ] || rm -rf "$run"
	done
done
echo
echo "== summaries ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${summaries[@]}"
exit $status
