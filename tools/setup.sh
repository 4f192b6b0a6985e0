#!/usr/bin/env bash
# Installs every Debian package that building, testing and running virtiofsd needs.
# Idempotent: packages already present are skipped, so a second run costs ~1 s.
# Usage: tools/setup.sh            (build + tests + guest tests)
set -euo pipefail

packages=(
  # Build: Debian's Bazel 4.2.3 and the system libraries it links against.
  bazel-bootstrap bazel-rules-java pkg-config
  libabsl-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libcap-ng-dev libseccomp-dev
  # Fuzzing and sanitizers: clang 14 with libFuzzer and the sanitizer runtimes.
  clang-14 libclang-rt-14-dev
  # End-to-end tests: a real QEMU guest (and QEMU's C virtiofsd as the peer).
  qemu-system-x86 busybox-static
  # Test tooling: tools/ci_summary.py.
  python3
  # Launcher tests: JSON parsing (header-only); tools/packaging's test compiles the
  # AppArmor profiles and the SELinux policy modules (refpolicy's devel Makefile).
  nlohmann-json3-dev apparmor checkpolicy semodule-utils selinux-policy-dev
  # Packaging: tools/package-deb.sh (dpkg-shlibdeps), systemd-analyze for the unit.
  dpkg-dev systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install packages (run as root or via sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present" >&2
