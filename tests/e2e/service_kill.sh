#!/usr/bin/env bash
# kill -9 of agents and witnesses at random moments, a few times (the
# dedicated run, tests/service_kill.sh 50, is in docs/benchmarks.md).
cd "$(dirname "$0")/../.." || exit 1
kills=8
if [ "${DOORMAT_MEMCHECK:-}" = 1 ]; then kills=2; fi
SERVICE_KILL_CLIENTS=2 exec bash tests/service_kill.sh "$kills"
