#!/bin/bash
# ssorun.sh OUTDIR — the single sign-on figures of docs/performance.md in one run: on SQLite,
# then PostgreSQL, against one `kilt serve` on a fresh database each, the four scenarios at
# 32 clients, refresh and the code flow with the raw RS256 rate around them (--rs256),
# userinfo and introspection with their floor. Needs the binaries in $BIN and a PostgreSQL
# whose user may create databases at $PGADMIN (as scripts/loadrun.sh).
set -u
OUT=$1; mkdir -p "$OUT"
BIN=${BIN:-/tmp/kb}; PGADMIN=${PGADMIN:-postgres://kilt@127.0.0.1:55432}
D=${D:-10s}; RT=${RT:-3s}; FL=${FL:-3s}; C=${C:-32}
SCEN=${SCEN:-sso-refresh sso-code sso-userinfo sso-introspect}
# Ports (override to run beside another run): Kilt, its metrics, the SMTP and SMS sinks.
PORT=${PORT:-18480}; MPORT=${MPORT:-16480}; SMTPP=${SMTPP:-2557}; SMSP=${SMSP:-2558}
export KILT_BASE_URL=http://127.0.0.1:$PORT KILT_LISTEN=127.0.0.1:$PORT KILT_LOG_LEVEL=warn KILT_DRAIN_DELAY=0s \
  KILT_SMTP_URL="smtp://127.0.0.1:$SMTPP?starttls=false" KILT_SMS_PROVIDER=webhook KILT_SMS_WEBHOOK_URL=http://127.0.0.1:$SMSP/sms \
  KILT_METRICS_LISTEN=127.0.0.1:$MPORT
SINKS="--smtp-listen 127.0.0.1:$SMTPP --sms-listen 127.0.0.1:$SMSP"
log() { echo "$(date -u +%T) $*" | tee -a "$OUT/log"; }
waitready() { for _ in $(seq 200); do curl -sf "http://$1/readyz" >/dev/null && return; sleep 0.05; done; }
L() { "$BIN/kilt-load" --url http://127.0.0.1:$PORT --database "$KILT_DATABASE_URL" --pid "$PID" \
	--metrics http://127.0.0.1:$MPORT/metrics $SINKS --json --concurrency $C --duration $D "$@"; }
for db in ${DBS:-sqlite postgres}; do
	if [ $db = sqlite ]; then
		rm -rf "$OUT/db"; mkdir -p "$OUT/db"; export KILT_DATABASE_URL="sqlite:$OUT/db/kilt.db"
	else
		PGDB=${PGDB:-kilt_sso}
		psql -q "$PGADMIN/postgres" -c "DROP DATABASE IF EXISTS $PGDB" -c "CREATE DATABASE $PGDB" 2>/dev/null
		export KILT_DATABASE_URL="$PGADMIN/$PGDB?sslmode=disable"
	fi
	"$BIN/kilt" serve 2>>"$OUT/server-$db.err" & PID=$!
	waitready 127.0.0.1:$PORT
	log "== $db start, loadavg $(cat /proc/loadavg)"
	for s in $SCEN; do
		log "$db $s $C"
		case $s in
		sso-refresh|sso-code) L --rs256 --argon2-time $RT $s >"$OUT/$db-$s.json" 2>>"$OUT/$db.txt" ;;
		*) L --floor $FL $s >"$OUT/$db-$s.json" 2>>"$OUT/$db.txt" ;;
		esac
	done
	log "== $db end, loadavg $(cat /proc/loadavg)"
	kill $PID; wait $PID 2>/dev/null
done
