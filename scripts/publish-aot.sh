#!/usr/bin/env bash
# Builds the all-in-one registry as one native executable (native AOT): no JIT, about half the memory
# of the JIT build under load (docs/performance.md, "Native AOT build").
#   scripts/publish-aot.sh [out-dir=artifacts/aot] [more dotnet publish arguments, e.g. -p:IlcInstructionSet=x86-64]
# Writes out-dir/registry (run it like `dotnet run --project services/edge-http`: same switches and
# settings), libe_sqlite3.so beside it and appsettings.json. Needs clang (scripts/setup.sh installs it).
# Fails on any trim or AOT warning but the one known below.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/aot}
[ "$#" -eq 0 ] || shift

case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "publish-aot: no native AOT target for $(uname -m)" >&2; exit 1 ;;
esac

# The native linker step runs `clang`; Debian without the clang package has only clang-NN.
linker=()
if ! command -v clang >/dev/null 2>&1; then
  versioned=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -1 || true)
  [ -n "$versioned" ] || { echo "publish-aot: clang is missing; run scripts/setup.sh" >&2; exit 1; }
  linker=(-p:CppCompilerAndLinker="$versioned")
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 MSBUILDDISABLENODEREUSE=1
staging=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$staging" "$log"' EXIT

# IL2104 is "assembly X produced trim warnings", for packages only (the registry's own projects are
# IsAotCompatible: their warnings fail every build). It is not an error here so the check below can
# name the one accepted: Serilog's reflection over an object's properties when a log template
# destructures it ({@Value}), which no template of the registry does.
status=0
dotnet publish services/edge-http/Registry.EdgeHttp.csproj -c Release -r "$rid" \
  -p:PublishAot=true -p:WarningsNotAsErrors=IL2104 "${linker[@]}" -o "$staging" --nologo "$@" >"$log" 2>&1 || status=$?
unexpected=$(grep -E 'warning IL[0-9]+' "$log" | grep -v "Assembly 'Serilog' produced trim warnings" | sort -u || true)
if [ "$status" -ne 0 ] || [ -n "$unexpected" ]; then
  cat "$log" >&2
  [ -z "$unexpected" ] || printf 'publish-aot: unexpected trim or AOT warnings:\n%s\n' "$unexpected" >&2
  echo "publish-aot: failed" >&2
  exit 1
fi

# Each file is copied beside its old self and renamed over it: a registry still running from out-dir
# keeps its old files (writing into a running executable fails with "Text file busy").
mkdir -p "$out"
for file in Registry.EdgeHttp:registry libe_sqlite3.so:libe_sqlite3.so appsettings.json:appsettings.json; do
  cp "$staging/${file%%:*}" "$out/.${file#*:}.new"
  mv -f "$out/.${file#*:}.new" "$out/${file#*:}"
done
echo "publish-aot: $out/registry ($(du -h "$out/registry" | cut -f1))"
