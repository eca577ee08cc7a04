#!/usr/bin/env bash
# Runs Kilt's fuzz targets one after another, each for a bounded time, and stops at the
# first failure. `make test` (any `go test`) runs only their seed corpora; this is the long
# run: `make fuzz`, `make fuzz FUZZTIME=10m`, or `scripts/fuzz.sh FuzzParsePhone` for some.
#
#   FUZZTIME          how long each target runs (go test -fuzztime: 60s, 10m, or 100000x
#                     for a number of executions); default 60s
#   FUZZMINIMIZETIME  the most time spent shrinking one input (go test -fuzzminimizetime);
#                     default 10s, so that a slow target's run goes to fuzzing
#   GO                the go command; default go
#
# Arguments name targets to run (default: all). A failing input is written to the package's
# testdata/fuzz/<target>/ and from then on runs with every `go test` as a regression seed:
# fix the bug and keep the file.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-60s}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-10s}"

# Every target: package, then name. Go fuzzes one target of one package per run.
TARGETS=(
  ./internal/password FuzzPolicyCheck
  ./internal/password FuzzSkeleton
  ./internal/password FuzzBlocklist
  ./internal/account FuzzParseEmail
  ./internal/account FuzzParsePhone
  ./internal/account FuzzParseIdentifier
  . FuzzToken
  . FuzzCode
  ./internal/httpx FuzzUnmarshal
  ./internal/httpx FuzzDecodeJSON
  ./internal/api FuzzRequestBodies
)

WANT=("$@")

# selected reports whether the target named $1 is to run.
selected() {
  [ ${#WANT[@]} -eq 0 ] && return 0
  local w
  for w in "${WANT[@]}"; do
    [ "$w" = "$1" ] && return 0
  done
  return 1
}

for want in "$@"; do
  found=
  for ((i = 1; i < ${#TARGETS[@]}; i += 2)); do
    [ "${TARGETS[i]}" = "$want" ] && found=1
  done
  if [ -z "$found" ]; then
    echo "fuzz: no target $want" >&2
    exit 2
  fi
done

LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT

summary=()
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
  pkg="${TARGETS[i]}" name="${TARGETS[i + 1]}"
  selected "$name" || continue
  log="$LOGS/$name.log"
  echo "fuzz: $pkg $name for $FUZZTIME"
  status=0
  "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1 |
    tee "$log" || status=$?
  # The last progress line: "fuzz: elapsed: 60s, execs: 123456 (2057/sec), new interesting: 7 (total: 42)".
  last="$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -n 1 || true)"
  execs="$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")"
  interesting="$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")"
  line="$(printf '%-22s %-20s execs %10s  new interesting %4s' "$pkg" "$name" "${execs:-?}" "${interesting:-?}")"
  if [ "$status" -ne 0 ]; then
    summary+=("$line  FAIL")
    printf '%s\n' "" "fuzz: summary" "${summary[@]}" ""
    echo "fuzz: $name in $pkg FAILED." >&2
    input="$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -n 1)"
    if [ -n "$input" ]; then
      echo "fuzz: the failing input is $pkg/$input; it now runs with every go test." >&2
      echo "fuzz: reproduce: $GO test -run '$name/${input##*/}' $pkg" >&2
    else
      echo "fuzz: no failing input was written (a build error, or the target's setup failed): see above." >&2
    fi
    exit 1
  fi
  summary+=("$line  ok")
done

if [ ${#summary[@]} -eq 0 ]; then
  echo "fuzz: no target selected" >&2
  exit 2
fi
printf '%s\n' "" "fuzz: summary ($FUZZTIME each)" "${summary[@]}"
