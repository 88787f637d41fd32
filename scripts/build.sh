#!/usr/bin/env bash
# Installs the Debian packages (idempotent) and builds tinyfront in ./build (Release).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release ${TINYFRONT_CMAKE_ARGS:-} >/dev/null
cmake --build "$ROOT/build" -j"$(nproc)"
