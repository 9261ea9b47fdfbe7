# Sourced by scripts/run and scripts/test (scripts/_venv.ps1 on Windows): make .venv if absent, (re)install the project when its
# pyproject.toml changed, and put the venv first on PATH (Circus's children find `python` there).
# Usage: ecauto_venv [EXTRAS]   e.g. ecauto_venv test
ecauto_venv() {
  local extras="${1:-}"
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local venv="$root/.venv"
  local py="${ECAUTO_BASE_PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ecauto: needs Python 3.11 or newer as '$py' (set ECAUTO_BASE_PYTHON to another interpreter)" >&2
    return 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "ecauto: creating $venv" >&2
    "$py" -m venv "$venv" || return 1
  fi
  local stamp="$venv/.ecauto-installed${extras:+-$extras}"
  local want; want="$(cat "$root/pyproject.toml" | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
  # A venv with the test extras installed holds the plain install too.
  if [ -z "$extras" ] && [ -f "$venv/.ecauto-installed-test" ] \
    && [ "$(cat "$venv/.ecauto-installed-test")" = "$want" ]; then
    stamp="$venv/.ecauto-installed-test"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "ecauto: installing the project into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root${extras:+[$extras]}" \
      2>&1 | { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "ecauto: installing failed (see above)" >&2; return 1; }
    echo "$want" > "$stamp"
  fi
  # Plain `circusd circus.ini` and `circusctl status` without the activate script reach this
  # instance or say in one line what to type (ecauto/bare.py).
  "$venv/bin/python" -m ecauto.bare --install || return 1
  if ! grep -q "ecauto-instance-2" "$venv/bin/activate" 2>/dev/null; then
    cat >> "$venv/bin/activate" <<'ACTIVATE'
# ecauto-instance-2: what the launcher (python -m ecauto run) gives circusd, so that `circusd
# circus.ini` and `circusctl status` typed in an activated shell reach this instance.
case "${ECAUTO_HOME:-var}" in /*) ;; *) ECAUTO_HOME="$PWD/${ECAUTO_HOME:-var}" ;; esac
export ECAUTO_HOME
export ECAUTO_PYTHON="$(printf %q "$VIRTUAL_ENV/bin/python")"  # one word of circus.ini's cmd
export ECAUTO_ENDPOINT="ipc://$ECAUTO_HOME/circus/ctl.sock"
export ECAUTO_PUBSUB_ENDPOINT="ipc://$ECAUTO_HOME/circus/pub.sock"
export CIRCUSCTL_ENDPOINT="$ECAUTO_ENDPOINT"
ACTIVATE
  fi
  export VIRTUAL_ENV="$venv"
  export PATH="$venv/bin:$PATH"
}

# Debian's chromium for the dashboard's browser tests (tests/test_dashboard.py), and a Japanese
# font for its screenshots (3.5 MB): nothing to do when chromium is there; else apt-get as root
# (CI), with sudo -n where that works, or one line.
ecauto_browser() {
  local chromium="${ECAUTO_CHROMIUM:-/usr/bin/chromium}"
  [ -x "$chromium" ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "ecauto: $chromium is missing (apt-get install chromium): the dashboard's browser tests will fail" >&2
      return 0
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "ecauto: $chromium is missing and there is no apt-get" >&2; return 0; }
  echo "ecauto: installing chromium (apt-get) for the dashboard's browser tests" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null 2>&1 \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null; } \
    || echo "ecauto: installing chromium failed: the dashboard's browser tests will fail" >&2
}
