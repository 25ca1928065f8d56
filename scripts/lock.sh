#!/usr/bin/env bash
# Re-resolves requirements.lock: the Python 3.10 resolution of requirements.in (the pipeline
# image's Python; tfx 1.16 declares Requires-Python <3.11, so nothing resolves for 3.11), then the
# pins of requirements-py311.txt for Python 3.11 (this project's machines), each package's two
# lines under complementary environment markers. Needs PyPI. scripts/ensure_env.sh installs the
# result as is (--no-deps), which picks each line whose marker holds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
uv=${UV:-$(command -v uv || echo "$("$here/scripts/ensure_env.sh")/bin/uv")}
resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
cp requirements.lock "$resolved" 2>/dev/null || true  # keeps today's pins where they still fit
"$uv" pip compile --quiet --custom-compile-command scripts/lock.sh --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
  requirements.in -o "$resolved"
python3 - "$resolved" requirements-py311.txt requirements.lock <<'PY'
import re, sys
resolved, overlay_path, out = sys.argv[1:]
name = lambda line: re.split(r"[=<>!~;\s\[]", line, 1)[0].lower().replace("_", "-")
overlay = [l.strip() for l in open(overlay_path) if l.strip() and not l.startswith("#")]
pins = {name(line): line for line in overlay}
lines, seen = [], set()
for line in open(resolved).read().splitlines():
    if line and not line[0].isspace() and not line.startswith("#") and name(line) in pins:
        key = name(line)
        seen.add(key)
        lines.append(f'{line} ; python_version < "3.11"')
        lines.append(f'{pins[key]} ; python_version >= "3.11"')
    elif line.startswith("#    scripts/lock.sh"):
        lines.append("#    scripts/lock.sh (the Python 3.10 resolution of requirements.in, then the")
        lines.append("#    Python 3.11 pins of requirements-py311.txt under environment markers)")
    else:
        lines.append(line)
missing = sorted(set(pins) - seen)
if missing:
    sys.exit(f"requirements-py311.txt pins {missing}, which the 3.10 resolution does not hold")
open(out, "w").write("\n".join(lines) + "\n")
PY
echo "wrote requirements.lock" >&2
