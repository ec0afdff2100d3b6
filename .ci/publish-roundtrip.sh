#!/usr/bin/env bash
# Publish round trip: build the sdist and wheel, check them, upload them to a package index, install
# genesys-cx from that index into a fresh virtualenv and import every API subpackage there.
#
#   PY=.venv/bin/python bash .ci/publish-roundtrip.sh
#   DIST_DIR=dist PY=... bash .ci/publish-roundtrip.sh    # reuse the files of `tox -e build` instead of building
#   VENV_DIR=/tmp/v PY=... bash .ci/publish-roundtrip.sh  # keep the fresh virtualenv there (the bare-install test)
#
# By default the index is a throw-away pypiserver on 127.0.0.1 (free port, temporary package folder,
# unauthenticated upload). The upload uses the variables `tox -e publish` uses: GENESYS_INDEX_URL,
# TWINE_USERNAME, TWINE_PASSWORD. When GENESYS_INDEX_URL is already set, no local server is started
# and the packages go there (install then reads GENESYS_SIMPLE_URL, default: <GENESYS_INDEX_URL>/simple/);
# so do not run this in CI with a real index configured unless a real upload is meant.
# Dependencies come from the normal index (and whatever extra indexes pip is configured with).
# When uv is importable by PY (`build[uv]`, in the dev extra), it builds and installs (much faster).
# Exits non-zero on any failure; the server is stopped and the temporary folder removed in any case.
set -euo pipefail

PY="${PY:-python}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/genesys-publish.XXXXXX")"
SERVER_PID=""
START=$SECONDS

cleanup() {
    local status=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    if [[ $status -ne 0 ]]; then
        echo "publish round trip FAILED (exit $status)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $* ($((SECONDS - START)) s)"; }

if [[ -n "${DIST_DIR:-}" ]]; then
    step "use the sdist and wheel already built in $DIST_DIR"
    mkdir "$WORK/dist"
    cp "$DIST_DIR"/genesys_cx-* "$WORK/dist/"
else
    step "build sdist and wheel"
    if "$PY" -c "import uv" 2>/dev/null; then
        "$PY" -m build --installer uv --outdir "$WORK/dist" "$ROOT"
    else
        "$PY" -m build --outdir "$WORK/dist" "$ROOT"
    fi
fi
shopt -s nullglob
wheels=("$WORK"/dist/genesys_cx-*.whl)
sdists=("$WORK"/dist/genesys_cx-*.tar.gz)
shopt -u nullglob
if [[ ${#wheels[@]} -ne 1 || ${#sdists[@]} -ne 1 ]]; then
    echo "expected one wheel and one sdist, got: $(ls "$WORK/dist")" >&2
    exit 1
fi
VERSION="$(basename "${wheels[0]}" | cut -d- -f2)"

step "twine check"
"$PY" -m twine check --strict "$WORK"/dist/*

if [[ -z "${GENESYS_INDEX_URL:-}" ]]; then
    step "start pypiserver on 127.0.0.1"
    mkdir "$WORK/packages"
    PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    "$PY" -m pypiserver run -i 127.0.0.1 -p "$PORT" -a . -P . --disable-fallback \
        "$WORK/packages" >"$WORK/pypiserver.log" 2>&1 &
    SERVER_PID=$!
    export GENESYS_INDEX_URL="http://127.0.0.1:$PORT/"
    export GENESYS_SIMPLE_URL="http://127.0.0.1:$PORT/simple/"
    export TWINE_USERNAME="${TWINE_USERNAME:-x}" TWINE_PASSWORD="${TWINE_PASSWORD:-x}"
    if ! "$PY" - "$GENESYS_SIMPLE_URL" <<'EOF'; then
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"pypiserver did not answer on {sys.argv[1]}")
        time.sleep(0.2)
EOF
        cat "$WORK/pypiserver.log" >&2
        exit 1
    fi
fi
SIMPLE_URL="${GENESYS_SIMPLE_URL:-${GENESYS_INDEX_URL%/}/simple/}"

step "upload to $GENESYS_INDEX_URL"
"$PY" -m twine upload --non-interactive --disable-progress-bar --repository-url "$GENESYS_INDEX_URL" "$WORK"/dist/*

step "install genesys-cx==$VERSION from $SIMPLE_URL into a fresh virtualenv"
# The normal index for the dependencies; pip's configured extra indexes and find-links still apply.
NORMAL_INDEX="${PIP_INDEX_URL:-$("$PY" -m pip config get global.index-url 2>/dev/null || true)}"
NORMAL_INDEX="${NORMAL_INDEX:-https://pypi.org/simple/}"
VENV="${VENV_DIR:-$WORK/venv}"
if "$PY" -c "import uv" 2>/dev/null; then
    UV="$("$PY" -c 'import uv; print(uv.find_uv_bin())')"
    "$UV" venv --quiet --python "$("$PY" -c 'import sys; print(sys.executable)')" "$VENV"
    (cd "$WORK" && env -u PIP_INDEX_URL -u UV_INDEX_URL "$UV" pip install --quiet --python "$VENV/bin/python" \
        --refresh-package genesys-cx --index-url "$SIMPLE_URL" --extra-index-url "$NORMAL_INDEX" "genesys-cx==$VERSION")
else
    "$PY" -m venv "$VENV"
    (cd "$WORK" && env -u PIP_INDEX_URL "$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
        --index-url "$SIMPLE_URL" --extra-index-url "$NORMAL_INDEX" "genesys-cx==$VERSION")
fi
VPY="$VENV/bin/python"

step "import the installed package"
EXPECTED_DIGEST="$(sed -n 's/^INPUT_DIGEST = "\([0-9a-f]*\)"$/\1/p' "$ROOT/generated/genesys_cx_api/__init__.py")"
(cd "$WORK" && env -u PYTHONPATH EXPECTED_VERSION="$VERSION" EXPECTED_DIGEST="$EXPECTED_DIGEST" "$VPY" - <<'EOF'
import importlib
import importlib.resources
import os
import sys

import genesys_cx
import genesys_cx_api

venv = os.path.realpath(sys.prefix)
for module in (genesys_cx, genesys_cx_api):
    where = os.path.realpath(module.__file__)
    assert where.startswith(venv + os.sep), f"{module.__name__} imported from {where}, not from the virtualenv"
assert genesys_cx.__version__ == os.environ["EXPECTED_VERSION"], genesys_cx.__version__
assert genesys_cx_api.INPUT_DIGEST == os.environ["EXPECTED_DIGEST"], "the installed generated code is not this tree's"
from genesys_cx_api._registry import APIS

assert APIS, "no API subpackages"
root = importlib.resources.files("genesys_cx_api")
assert (root / "py.typed").is_file() and (importlib.resources.files("genesys_cx") / "py.typed").is_file()
import pkgutil

imported = {m.name for m in pkgutil.walk_packages(genesys_cx_api.__path__, "genesys_cx_api.")}
for name in sorted(imported):  # every module of the generated package, whatever its layout
    importlib.import_module(name)
for api in APIS:
    assert f"genesys_cx_api.{api}.api" in imported and f"genesys_cx_api.{api}.models" in imported, api
    assert (root / "_specs" / f"{api}.json").is_file(), f"_specs/{api}.json is not in the wheel"
print("genesys_cx.__version__ =", genesys_cx.__version__)
print("genesys_cx.SPEC_VERSIONS =", genesys_cx.SPEC_VERSIONS)
EOF
)

step "publish round trip OK"
