#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, runs the demo on a local lab.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/setup.sh
exec node tools/demo/dist/demo.js "$@"
