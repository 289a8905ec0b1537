#!/usr/bin/env bash
# Install the given Debian packages, but only those that are not installed yet.
#   scripts/ensure-apt.sh redis-server chromium ...
# Why: a brand-new machine (developer or CI) has nothing installed by hand, so the
# project installs what it needs itself; on a machine that already has them this is
# a quick no-op (no apt-get update, no network).
set -euo pipefail

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# apt-get needs root; fall back to sudo for a developer working as a normal user.
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "ensure-apt: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi

echo "==> apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
# The package lists may be absent or stale on a fresh machine: always refresh before installing.
"${SUDO[@]}" apt-get "${apt_opts[@]}" update -q >&2
# No recommends: keeps installs small and avoids desktop services (udev, upower...) that
# do not belong on a headless box.
"${SUDO[@]}" apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}" >&2
