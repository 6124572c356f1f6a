#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then restores NuGet packages.
#   scripts/setup.sh            (as root; idempotent: installs only what is missing)
# Needs: the .NET SDK on PATH (not installed here). Installs from Debian: skopeo, podman, buildah and
# umoci for the end-to-end tests with real clients (plus uidmap, which podman expects), and clang with
# zlib's headers, which link the native AOT build (scripts/publish-aot.sh). Installs the dotnet-gcdump
# tool into .tools/ (no root needed for that).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is not on PATH; install .NET 10 SDK first"

# command -> Debian package
declare -A need=([skopeo]=skopeo [podman]=podman [buildah]=buildah [umoci]=umoci [newuidmap]=uidmap [clang]=clang)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# Headers and libraries, not commands: zlib for the native AOT link.
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run this script as root"
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq || die "apt-get update failed"
  timeout 1200 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing ${need[$cmd]}"
  done
fi

# skopeo and podman refuse to work without a signature policy (normally from containers-common).
if [ ! -f /etc/containers/policy.json ]; then
  [ "$(id -u)" -eq 0 ] || die "/etc/containers/policy.json is missing; run this script as root"
  log "writing /etc/containers/policy.json (accept anything; test machine)"
  mkdir -p /etc/containers
  printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' > /etc/containers/policy.json
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 MSBUILDDISABLENODEREUSE=1
timeout 1200 dotnet restore Registry.sln --verbosity quiet --nologo || die "dotnet restore failed"

# dotnet-gcdump, in the repository's own tool folder: the integration tests open the admin port's
# .gcdump files with it (and fail under CI=true without it).
gcdump_version=10.0.750501
if [ ! -x .tools/dotnet-gcdump ]; then
  log "installing dotnet-gcdump $gcdump_version into .tools/"
  timeout 600 dotnet tool install --tool-path .tools dotnet-gcdump --version "$gcdump_version" >/dev/null \
    || die "dotnet tool install dotnet-gcdump $gcdump_version failed"
fi
log "ok"
