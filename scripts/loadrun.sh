#!/bin/bash
# loadrun.sh OUTDIR — every figure of docs/performance.md in one run: SQLite, then
# PostgreSQL, then two instances on one PostgreSQL, then a soak on SQLite. Needs the binaries
# in $BIN (go build -o $BIN/kilt ./cmd/kilt; go build -o $BIN/kilt-load ./cmd/kilt-load) and
# a PostgreSQL whose user may create databases at $PGADMIN (a postgres:// URL without the
# database). Load goes to loopback only; each step is bounded in time.
#
# Sign-in is measured twice: on cores shared by everything (the server, its database, this
# tool) and with the server alone on the cores $PIN_SERVER while the tool and, when it runs
# on this machine, PostgreSQL's postmaster and backends are moved to $PIN_REST (taskset),
# as where the database has machines of its own. The raw Argon2id loop always runs on the
# server's cores (kilt-load reads the server's affinity).
set -u
OUT=$1; mkdir -p "$OUT"
BIN=${BIN:-/tmp/kb}; PGADMIN=${PGADMIN:-postgres://kilt@127.0.0.1:55432}
LD=${LD:-15s}; AT=${AT:-4s}; RD=${RD:-8s}; FL=${FL:-3s}; SOAK=${SOAK:-120s}; SETTLE=${SETTLE:-90s}; TD=${TD:-10s}
export KILT_BASE_URL=http://127.0.0.1:18470 KILT_LISTEN=127.0.0.1:18470 KILT_LOG_LEVEL=warn KILT_DRAIN_DELAY=0s \
  KILT_SMTP_URL='smtp://127.0.0.1:2547?starttls=false' KILT_SMS_PROVIDER=webhook KILT_SMS_WEBHOOK_URL=http://127.0.0.1:2548/sms \
  KILT_LIMIT_RECOVERY_IP=1000000/1h KILT_LIMIT_RECOVERY_IDENTIFIER=1000000/1h KILT_LIMIT_RECOVERY_ACCOUNT=1000000/1h \
  KILT_LIMIT_SMS_NUMBER_HOUR=1000000/1h KILT_LIMIT_SMS_NUMBER_DAY=1000000/24h KILT_SMS_DAILY_BUDGET=0 \
  KILT_LOGIN_FREE_FAILURES=1000 KILT_TRUSTED_PROXIES=127.0.0.1 KILT_LIMIT_LOGIN_IP=0/1m \
  KILT_METRICS_LISTEN=127.0.0.1:16470 KILT_METRICS_PPROF=true
PIN_SERVER=${PIN_SERVER:-0}; PIN_REST=${PIN_REST:-1}; ALL_CORES=$(cat /sys/devices/system/cpu/online)
RUNON=; TOOLON=
SINKS="--smtp-listen 127.0.0.1:2547 --sms-listen 127.0.0.1:2548"
log() { echo "$(date -u +%T) $*" | tee -a "$OUT/log"; }
waitready() { for _ in $(seq 200); do curl -sf "http://$1/readyz" >/dev/null && return; sleep 0.05; done; }
startserver() { # label [VAR=value…]: starts kilt serve, its PID in $PID
	local label=$1; shift
	env "$@" $RUNON "$BIN/kilt" serve 2>>"$OUT/server-$label.err" &
	PID=$!
	waitready 127.0.0.1:18470
}
L() { $TOOLON "$BIN/kilt-load" --url http://127.0.0.1:18470 --database "$KILT_DATABASE_URL" --pid "$PID" \
	--metrics http://127.0.0.1:16470/metrics --forwarded-for 4096 $SINKS --json "$@"; }
pinpostgres() { # CORES: PostgreSQL's postmaster and its processes onto CORES, when it runs here
	local pm
	# the postmaster: the process listening on PGADMIN's port here
	pm=$(ss -Hltnp "sport = :${PGADMIN##*:}" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
	[ -n "$pm" ] && [ "$(ps -o comm= -p "$pm")" = postgres ] || { log "PostgreSQL not on this machine: not moved"; return 0; }
	for p in $pm $(pgrep -P "$pm"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1; done
}
freshdb() { # sqlite|postgres NAME
	if [ "$1" = sqlite ]; then
		rm -rf "$OUT/db-$2"; mkdir -p "$OUT/db-$2"; export KILT_DATABASE_URL="sqlite:$OUT/db-$2/kilt.db"
	else
		psql -q "$PGADMIN/postgres" -c "DROP DATABASE IF EXISTS kilt_$2" -c "CREATE DATABASE kilt_$2" 2>/dev/null
		export KILT_DATABASE_URL="$PGADMIN/kilt_$2?sslmode=disable"
	fi
}
for db in sqlite postgres; do
	log "== $db start, loadavg $(cat /proc/loadavg)"
	freshdb $db main; startserver $db
	for c in 8 32 256; do log "$db login $c"; L --argon2 --argon2-time $AT --concurrency $c --duration $LD login >"$OUT/$db-login-$c.json" 2>>"$OUT/$db.txt"; done
	# full recovery: 64 accounts per client (the tool's default), so no number reaches its 30
	# code checks an hour; at 1 client for the median, at 8 for resets per second against the
	# sign-ins per second of login 8 above.
	for c in 1 8; do log "$db full-recovery $c"; L --concurrency $c --duration $RD full-recovery >"$OUT/$db-full-recovery-$c.json" 2>>"$OUT/$db.txt"; done
	log "$db delivery"; L --count 5000 delivery >"$OUT/$db-delivery.json" 2>>"$OUT/$db.txt"
	for c in 8 32 256; do log "$db recovery-email $c"; L --floor $FL --concurrency $c --duration $RD recovery-email >"$OUT/$db-recovery-email-$c.json" 2>>"$OUT/$db.txt"; done
	kill $PID; wait $PID 2>/dev/null
	log "$db login 32 with the old GC budget"
	startserver $db-oldgc GOGC=400 GOMEMLIMIT=178MiB
	L --argon2 --argon2-time $AT --concurrency 32 --duration $LD login >"$OUT/$db-login-32-oldgc.json" 2>>"$OUT/$db.txt"
	kill $PID; wait $PID 2>/dev/null
	log "$db login with the server on cores $PIN_SERVER, the tool and PostgreSQL on $PIN_REST"
	[ $db = postgres ] && pinpostgres "$PIN_REST"
	freshdb $db pinned; RUNON="taskset -c $PIN_SERVER"; TOOLON="taskset -c $PIN_REST"; startserver $db-pinned
	for c in 8 32 256; do log "$db login $c pinned"; L --argon2 --argon2-time $AT --concurrency $c --duration $LD login >"$OUT/$db-login-$c-pinned.json" 2>>"$OUT/$db.txt"; done
	kill $PID; wait $PID 2>/dev/null
	RUNON=; TOOLON=; [ $db = postgres ] && pinpostgres "$ALL_CORES"
	log "== $db end, loadavg $(cat /proc/loadavg)"
done
log "== two instances start, loadavg $(cat /proc/loadavg)"
freshdb postgres two
KILT_LISTEN=127.0.0.1:18471 KILT_METRICS_LISTEN=127.0.0.1:16471 "$BIN/kilt" serve 2>>"$OUT/server-two-a.err" & PA=$!
KILT_LISTEN=127.0.0.1:18472 KILT_METRICS_LISTEN=127.0.0.1:16472 "$BIN/kilt" serve 2>>"$OUT/server-two-b.err" & PB=$!
waitready 127.0.0.1:18471; waitready 127.0.0.1:18472
"$BIN/kilt-load" --url http://127.0.0.1:18471,http://127.0.0.1:18472 --database "$KILT_DATABASE_URL" \
	--metrics http://127.0.0.1:16471/metrics,http://127.0.0.1:16472/metrics --forwarded-for 4096 $SINKS --json \
	--floor $FL --drain 120s --concurrency 32 --duration $TD recovery-email >"$OUT/two-instances.json" 2>>"$OUT/two.txt"
kill $PA $PB; wait $PA $PB 2>/dev/null
log "== two instances end, loadavg $(cat /proc/loadavg)"
log "== soak start, loadavg $(cat /proc/loadavg)"
freshdb sqlite soak
startserver soak KILT_RETENTION_AUDIT=1m KILT_RETENTION_INTERVAL=15s KILT_RETENTION_EXPIRED=0s KILT_RETENTION_MESSAGES=0s KILT_LINK_LIFETIME=1m
L --soak --settle $SETTLE --concurrency 2 --duration $SOAK recovery-email >"$OUT/soak.json" 2>>"$OUT/soak.txt"
kill $PID; wait $PID 2>/dev/null
log "== soak end, loadavg $(cat /proc/loadavg)"
