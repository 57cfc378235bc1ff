#!/usr/bin/env bash
# `make test`: install, install the system packages tests need, then run the suite twice:
#   1. pytest --db sqlite                  everything, including the browser (e2e) tests
#   2. pytest --db postgres --db-tests-only -m "not e2e and not slow" against a throwaway PostgreSQL
#      (scripts/with-postgres.sh): only the tests that reach the database, i.e. request the
#      `database_url`/`db_backend` fixtures directly or through others (`engine`, `db`, `settings`, `app`,
#      `client`, ...) or are marked postgres_only (tests/conftest.py decides). The others do the same on
#      both backends and ran in phase 1.
# Both runs use pytest-xdist: OMNILOOP_TEST_WORKERS processes (default `auto`: one a CPU, at most 4), each
# with its own database (tests/conftest.py) and each test module kept whole on one worker (--dist loadfile).
# OMNILOOP_TEST_WORKERS=0 runs in one process.
# Both runs always happen; the exit status is non-zero if either failed. "No tests collected" (pytest
# exit 5) is a failure for the SQLite run, and fine for the PostgreSQL run. Extra arguments are passed
# to both pytest runs (e.g. `scripts/test.sh -x -k customers`).
set -euo pipefail
cd "$(dirname "$0")/.."

MAKE=${MAKE:-make}
PYTEST=(.venv/bin/python -m pytest --durations=15)
WORKERS=${OMNILOOP_TEST_WORKERS:-auto}
if [ "$WORKERS" != 0 ]; then
    PYTEST+=(-n "$WORKERS" --maxprocesses 4 --dist loadfile)
fi
names=()
results=()
durations=()

now() { date +%s; }
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
banner() { printf '\n==== %s ====\n' "$*"; }

# run_phase NAME COMMAND... : runs the command, records its status and duration, never exits.
run_phase() {
    local name=$1 start rc
    shift
    banner "$name"
    start=$(now)
    set +e
    "$@"
    rc=$?
    set -e
    names+=("$name")
    results+=("$rc")
    durations+=($(($(now) - start)))
    return 0
}

summary() {
    local i status overall=0
    banner "summary"
    for i in "${!names[@]}"; do
        status=ok
        if [ "${results[$i]}" -ne 0 ]; then status="FAILED (exit ${results[$i]})"; overall=1; fi
        printf '  %-34s %8s  %s\n' "${names[$i]}" "$(fmt "${durations[$i]}")" "$status"
    done
    return $overall
}

total_start=$(now)

run_phase "install (make install)" "$MAKE" --no-print-directory install
if [ "${results[-1]}" -ne 0 ]; then summary || true; exit 1; fi

run_phase "system packages for tests" scripts/install-test-deps.sh
if [ "${results[-1]}" -ne 0 ]; then summary || true; exit 1; fi

run_phase "pytest --db sqlite" "${PYTEST[@]}" --db sqlite "$@"

# The API fuzzer's generated cases exercise the application's validation, which the SQLite run covers in
# full; on PostgreSQL a few examples per operation (plus its schema-derived cases and the boundary test
# of driver errors) keep the run short.
OMNILOOP_FUZZ_EXAMPLES=${OMNILOOP_FUZZ_EXAMPLES_PG:-6} \
    run_phase "pytest --db postgres (db tests)" scripts/with-postgres.sh "${PYTEST[@]}" --db postgres --db-tests-only -m "not e2e and not slow" "$@"
if [ "${results[-1]}" -eq 5 ]; then
    echo "(no non-e2e tests collected for PostgreSQL: not a failure)"
    results[-1]=0
fi

set +e
summary
overall=$?
set -e
printf '  %-34s %8s\n' "total" "$(fmt $(($(now) - total_start)))"
exit $overall
