#!/usr/bin/env bash
# Build the installable plugin zip: dist/subsidence_plugin.zip (or $DIST_DIR/...), holding one folder subsidence_plugin/ with the
# Python package, metadata.txt, LICENSE, resources/ and requirements/runtime.txt (for Install dependencies).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=subsidence_plugin
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/$NAME/requirements"
(cd "$ROOT/$NAME" && find . -name "*.py" -not -path "*/__pycache__/*" -print0 | \
  xargs -0 -I{} install -D -m 644 {} "$STAGE/$NAME/{}")
cp "$ROOT/metadata.txt" "$ROOT/LICENSE" "$STAGE/$NAME/"
cp -r "$ROOT/resources" "$STAGE/$NAME/resources"
cp "$ROOT/requirements/runtime.txt" "$STAGE/$NAME/requirements/"
DIST=${DIST_DIR:-$ROOT/dist}
mkdir -p "$DIST"
rm -f "$DIST/$NAME.zip"
(cd "$STAGE" && python3 -m zipfile -c "$DIST/$NAME.zip" "$NAME" >/dev/null)
echo "$DIST/$NAME.zip"
