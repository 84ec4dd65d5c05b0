#!/usr/bin/env bash
# Set-up and tasks for a fresh machine: installs the pinned Deno (from the
# npm registry, into .tools/) and, as root, Debian's supervisor, openssl and the
# other test tools (prometheus, gunicorn, python3-aiosmtpd).
#
#   ./dev.sh demo     the demo: a private supervisord, a frozen service restarted
#   ./dev.sh test     the whole test suite; ends with "N passed, N failed"
#   ./dev.sh check    deno fmt --check, deno lint, deno check
#   ./dev.sh bench    the benchmarks in bench/ (installs wrk and nginx for bench/serve_live.ts)
#   ./dev.sh deno …   the pinned deno, for anything else (e.g. ./dev.sh deno task compile)
set -euo pipefail
cd "$(dirname "$0")"

DENO_VERSION=2.9.6

ensure_deno() {
  if command -v deno >/dev/null 2>&1 && deno --version | grep -q "^deno $DENO_VERSION "; then
    DENO=$(command -v deno)
    return
  fi
  DENO=$PWD/.tools/node_modules/.bin/deno
  if ! [ -x "$DENO" ] || ! "$DENO" --version | grep -q "^deno $DENO_VERSION "; then
    echo "installing deno $DENO_VERSION from the npm registry into .tools/" >&2
    npm install --silent --no-audit --no-fund --prefix .tools "deno@$DENO_VERSION" >&2
  fi
}

ensure_system() {
  local missing=()
  command -v supervisord >/dev/null 2>&1 || missing+=(supervisor)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # promtool validates every /metrics and the example rules; the end-to-end metrics test runs
  # a real Prometheus server (Debian's package has both); gunicorn feeds serve's StatsD
  { command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
  command -v gunicorn >/dev/null 2>&1 || missing+=(gunicorn)
  # the Alertmanager example is checked by amtool
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  # the SMTP tests: a real SMTP server (Debian's, under Debian's python3)
  /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing ${missing[*]} with apt-get" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  else
    echo "missing: ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

run_tests() {
  local log status
  log=$(mktemp)
  set +e
  NO_COLOR=1 "$DENO" test -A --no-prompt tests/ "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  # Deno's summary: "ok | 41 passed | 0 failed (…)" or "FAILED | 40 passed | 1 failed (…)"
  local summary passed failed
  summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ -z "$summary" ]; then
    echo "0 passed, 1 failed"
    return 1
  fi
  passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "$passed passed, $failed failed"
  return "$status"
}

task=${1:-}
shift || true
case "$task" in
  demo) ensure_deno; ensure_system; exec "$DENO" task demo ;;
  test) ensure_deno; ensure_system; run_tests "$@" ;;
  check) ensure_deno; exec "$DENO" task check ;;
  bench)
    ensure_deno
    ensure_system
    if ! command -v wrk >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1; then
      [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk nginx >&2
    fi
    for b in bench/*.ts; do echo "== $b"; "$DENO" run -A "$b" || exit 1; done
    ;;
  deno) ensure_deno; exec "$DENO" "$@" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
