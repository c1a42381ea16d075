#!/usr/bin/env bash
# Runs every test suite and prints one combined line, exactly
# "N passed, N failed", as the last line; exits non-zero if anything failed.
#   tests/run_all.sh BUILD_DIR
# Suites: BUILD_DIR/unit_tests (GoogleTest), then the end-to-end tests
# (node --test over tests/e2e/, driving the binaries in BUILD_DIR). Each suite
# has a time limit so the whole run stays under 10 minutes.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

UNIT_TIMEOUT=${UNIT_TIMEOUT:-240}
E2E_TIMEOUT=${E2E_TIMEOUT:-330}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-tests.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

total_pass=0
total_fail=0
summary=()

# --- unit tests (GoogleTest) ---
unit_log="$LOG_DIR/unit.log"
if [ -x "$BUILD/unit_tests" ]; then
  echo "== unit tests: $BUILD/unit_tests"
  timeout --kill-after=10 "$UNIT_TIMEOUT" "$BUILD/unit_tests" --gtest_color=no 2>&1 | tee "$unit_log"
  rc=${PIPESTATUS[0]}
  # "[  PASSED  ] 12 tests." and "[  FAILED  ] 2 tests, listed below:"
  up=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) tests\{0,1\}\..*/\1/p' "$unit_log" | tail -1)
  uf=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$unit_log" | tail -1)
  up=${up:-0}
  uf=${uf:-0}
  if [ "$rc" -ne 0 ] && [ "$uf" -eq 0 ]; then
    # Crashed, timed out (124) or failed before its summary: count it as one failure.
    uf=1
    echo "unit tests exited with status $rc before reporting failures" >&2
  fi
else
  echo "== unit tests: $BUILD/unit_tests is missing (run make $BUILD/unit_tests)" >&2
  up=0
  uf=1
fi
summary+=("unit tests: $up passed, $uf failed")
total_pass=$((total_pass + up))
total_fail=$((total_fail + uf))

# --- end-to-end tests (node:test) ---
e2e_log="$LOG_DIR/e2e.log"
echo "== e2e tests: node --test tests/e2e/ (TETHER_BUILD=$BUILD)"
if ! command -v node >/dev/null 2>&1; then
  echo "node is not installed" >&2
  ep=0
  ef=1
elif [ ! -d tests/e2e/node_modules ]; then
  echo "tests/e2e/node_modules is missing (cd tests/e2e && npm ci)" >&2
  ep=0
  ef=1
else
  TETHER_BUILD="$BUILD" timeout --kill-after=10 "$E2E_TIMEOUT" \
    node --test --test-reporter=spec --test-timeout=180000 tests/e2e/ 2>&1 | tee "$e2e_log"
  rc=${PIPESTATUS[0]}
  # The spec reporter ends with "ℹ pass N", "ℹ fail N", "ℹ cancelled N".
  ep=$(sed -n 's/^ℹ pass \([0-9][0-9]*\)$/\1/p' "$e2e_log" | tail -1)
  ef=$(sed -n 's/^ℹ fail \([0-9][0-9]*\)$/\1/p' "$e2e_log" | tail -1)
  ec=$(sed -n 's/^ℹ cancelled \([0-9][0-9]*\)$/\1/p' "$e2e_log" | tail -1)
  ep=${ep:-0}
  ef=$(( ${ef:-0} + ${ec:-0} ))
  if [ "$rc" -ne 0 ] && [ "$ef" -eq 0 ]; then
    ef=1
    echo "e2e tests exited with status $rc before reporting failures" >&2
  fi
fi
summary+=("e2e tests: $ep passed, $ef failed")
total_pass=$((total_pass + ep))
total_fail=$((total_fail + ef))

echo
for line in "${summary[@]}"; do echo "$line"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
