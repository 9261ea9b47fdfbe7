#!/bin/sh
# The daily commands from the clone, nothing to activate:
#   ./ecauto.sh status | restart <daemon> | stop | report | run [--daemon]
# (`ecauto.cmd` is the same on Windows.) `run` goes through scripts/run, which makes .venv first.
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${1:-}" = run ]; then
  shift
  exec "$here/scripts/run" "$@"
fi
if [ ! -x "$here/.venv/bin/python" ]; then
  echo "ecauto: no $here/.venv yet: start once with ./ecauto.sh run (it makes it)" >&2
  exit 1
fi
exec "$here/.venv/bin/python" -m ecauto "$@"
