# Shared bootstrap for scripts/test and scripts/demo (sourced, not run).
# Both must work from a fresh clone on a fresh Debian machine, so they create the
# venv themselves and reinstall only when pyproject.toml changed since the last install.

step() { printf '\n==> %s\n' "$*"; }

# Run as root directly, through sudo otherwise (CI runs as root and may have no sudo).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# ensure_venv SPEC: make .venv exist and hold `pip install -e SPEC` (e.g. "." or ".[test]").
ensure_venv() {
    local spec=$1 extras=${1//[^a-z]/}
    local stamp=".venv/.installed-${extras:-base}"
    if [ ! -x .venv/bin/python ]; then
        # Debian ships python3 without ensurepip unless python3-venv is installed.
        python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet -e "$spec"
        touch "$stamp"
    fi
}
