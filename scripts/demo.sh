#!/usr/bin/env bash
# The main job on the built-in virtual camera: start it on a free loopback port, then run a
# real session with the ptpip command: info, ls, capture, download, get/set a property.
set -euo pipefail
cd "$(dirname "$0")/.."
PTPIP=${PTPIP:-.venv/bin/ptpip}
work=$(mktemp -d)
export XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
sim=""
cleanup() {
  [ -n "$sim" ] && kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$PTPIP" simulate --port 0 --storage "$work/card" --model "ptpip demo camera" >"$work/sim.out" &
sim=$!
for _ in $(seq 100); do
  grep -q '^listening on' "$work/sim.out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/sim.out")
[ -n "$port" ] || { echo "the virtual camera did not start" >&2; exit 1; }
echo "Virtual camera listening on 127.0.0.1:$port (card: $work/card)"

run() {
  printf '\n$ ptpip -h 127.0.0.1 -p %s %s\n' "$port" "$*"
  "$PTPIP" -h 127.0.0.1 -p "$port" "$@"
}
run info
run ls
run capture
run download --to "$work/photos"
run get iso
run set iso 800
run get iso
run get exposure
run set exposure 1/250
run describe exposure
echo
echo "Downloaded files:"
(cd "$work/photos" && find . -type f ! -name '.ptpip-history.json' | sort)
