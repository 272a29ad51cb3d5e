#!/usr/bin/env bash
# The wheel as a user gets it: installed into a fresh virtual environment
# outside the checkout, `import graft` finds the library inside the package
# with no environment variable, GRAFT_LIBRARY still overrides it, and
# `python -m graft` and the `graft` script run the command, all with graft.h's
# version. Usage: wheel_test.sh WHEEL VERSION PYTHON OVERRIDE_LIBRARY
set -euo pipefail
WHEEL=$(realpath "$1") VERSION=$2 PYTHON=$3 OVERRIDE=$(realpath "$4")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() { echo "wheel_test: $*" >&2; exit 1; }

case "$(basename "$WHEEL")" in
    graft-"$VERSION"-py3-none-linux_x86_64.whl) ;;
    *) fail "wheel name $(basename "$WHEEL"): expected graft-$VERSION-py3-none-linux_x86_64.whl" ;;
esac
contents=$("$PYTHON" -m zipfile -l "$WHEEL")
for member in graft/libgraft.so graft/libgraft_mpi.so graft/bin/graft graft/__main__.py graft/py.typed; do
    grep -q "^$member " <<< "$contents" || fail "the wheel lacks $member"
done

"$PYTHON" -m venv venv
venv/bin/python -m pip install -q --disable-pip-version-check "$WHEEL"
unset GRAFT_LIBRARY PYTHONPATH
site=$(venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['platlib'])")

# The library inside the package; the package works (a random ResNet50's features).
out=$(venv/bin/python -c "
import importlib.metadata, graft, numpy as np
base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3))
print(graft._lib.lib._name, graft.__version__, importlib.metadata.version('graft'),
      base.features_from_images(np.zeros((1, 32, 32, 3), np.float32)).shape)")
read -r library version metadata shape <<< "$out"
[ "$library" = "$site/graft/libgraft.so" ] || fail "loaded $library, not the package's"
[ "$version" = "$VERSION" ] && [ "$metadata" = "$VERSION" ] || fail "versions $version and $metadata, not $VERSION"
grep -q "(1, 1, 1, 2048)" <<< "$out" || fail "features: $out"

# GRAFT_LIBRARY wins over the package's own library.
overridden=$(GRAFT_LIBRARY="$OVERRIDE" venv/bin/python -c "import graft; print(graft._lib.lib._name)")
[ "$overridden" = "$OVERRIDE" ] || fail "GRAFT_LIBRARY=$OVERRIDE loaded $overridden"

# The command, both ways, with an empty library path.
[ "$(LD_LIBRARY_PATH= venv/bin/python -m graft --version)" = "$VERSION" ] || fail "python -m graft --version"
[ "$(LD_LIBRARY_PATH= venv/bin/graft --version)" = "$VERSION" ] || fail "graft --version"
LD_LIBRARY_PATH= venv/bin/graft --help | grep -q "USAGE: graft <subcommand>" || fail "graft --help"
echo "wheel_test: $(basename "$WHEEL") installs and runs"
