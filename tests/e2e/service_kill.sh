#!/usr/bin/env bash
# kill -9 of agents and witnesses at random moments, 50 times while two
# clients keep requesting (under valgrind, where each start takes seconds,
# 4: the same checks on fewer kills). tests/service_kill.sh does the work.
cd "$(dirname "$0")/../.." || exit 1
kills=50
if [ "${DOORMAT_MEMCHECK:-}" = 1 ]; then kills=4; fi
SERVICE_KILL_CLIENTS=2 exec bash tests/service_kill.sh "$kills"
