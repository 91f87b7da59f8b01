#!/usr/bin/env bash
# Build the installable plugin zip: dist/subsidence_plugin.zip, holding one folder subsidence_plugin/ with the
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
mkdir -p "$ROOT/dist"
rm -f "$ROOT/dist/$NAME.zip"
(cd "$STAGE" && python3 -m zipfile -c "$ROOT/dist/$NAME.zip" "$NAME" >/dev/null)
echo "$ROOT/dist/$NAME.zip"
