#!/usr/bin/env bash
# CrypTen's own test suite (test/test_mpc.py of a CrypTen 0.4.1 checkout; the tests are
# not in the pip package) under mpcbench's CrypTen code: the torch compatibility layer
# always, plus the tuned speed-ups (mpcbench.parties.crypten.speedups) with "tuned".
# CrypTen's tests start one process per party with multiprocessing's "spawn", so the
# code is installed by a sitecustomize module that every such process imports.
#
# Runs CrypTen's tests with unittest, as CrypTen does (under pytest the per-party
# process wrapper of CrypTen's MultiProcessTestCase is bypassed).
#
#   benchmarks/crypten_upstream_tests.sh CRYPTEN_CHECKOUT stock|tuned [unittest args...]
#   e.g. ... ~/src/CrypTen tuned test.test_mpc.TestTFP test.test_mpc.TestTTP.test_relu
set -euo pipefail
checkout=$(cd "$1" && pwd)
variant=$2
shift 2
case $variant in stock|tuned) ;; *) echo "variant must be stock or tuned" >&2; exit 2;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
cat > "$site/sitecustomize.py" <<PY
from mpcbench.parties.crypten.compat import import_crypten

import_crypten()
if "$variant" == "tuned":
    from mpcbench.parties.crypten import speedups

    speedups.enable()
PY
cd "$checkout"
PYTHONPATH="$site:$here:$checkout${PYTHONPATH:+:$PYTHONPATH}" \
  "${PYTHON:-python}" -m unittest "${@:-test.test_mpc}"
