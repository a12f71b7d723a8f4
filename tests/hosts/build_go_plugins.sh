#!/usr/bin/env bash
# Builds the OFFICIAL Go plugins (dummy v0.11.5, json v0.7.4, k8saudit v0.18.0)
# from the Go module proxy as c-shared libraries, the way Falco ships them.
#
#   tests/hosts/build_go_plugins.sh [--force] [--api-3.10] [dummy|json|k8saudit ...]
#
# Output: $FALCO_DENO_CACHE/go-plugins/lib{dummy,json,k8saudit}.so
#         (FALCO_DENO_CACHE defaults to $HOME/.cache/falco-deno).
#
# --api-3.10: build for plugin API 3.10 (libsinsp 0.20.0, Falco 0.40), into
# $FALCO_DENO_CACHE/go-plugins/api3.10/. plugin-sdk-go v0.8.3 requires API
# 3.11, which libsinsp 0.20.0 refuses; the only 3.11 addition is the
# optional `value_offsets` member at the end of ss_plugin_field_extract_input,
# which a 3.10 framework does not pass. The v0.8.1 SDK also requires 3.11,
# and v0.8.0/v0.8.2 are not served by the Go module proxy; v0.7.5 lacks the
# offset API k8saudit v0.18.0 calls. So the plugins are built, unchanged,
# against a copy of plugin-sdk-go v0.8.3 with two edits: the header declares
# API 3.10, and extract.c passes no offsets array instead of reading the
# member a 3.10 framework does not have (SetValueOffset is then a no-op,
# as the SDK already does for hosts that ask for no offsets).
# Versions are pinned in tests/hosts/go_plugins/go.mod + go.sum (exact
# versions only: the proxy here refuses version listing). A library that is
# already present and newer than go.sum is not rebuilt (--force rebuilds).
# Prints the absolute path of each library, one per line, on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}"
out="$cache/go-plugins"
mkdir -p "$out"
force=0
api310=0
plugins=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --api-3.10) api310=1 ;;
    dummy|json|k8saudit) plugins+=("$a") ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#plugins[@]} -eq 0 ] && plugins=(dummy json k8saudit)
declare -A version=([dummy]=v0.11.5 [json]=v0.7.4 [k8saudit]=v0.18.0)
cd "$here/go_plugins"
sdk_replace=""
if [ $api310 -eq 1 ]; then
  out="$out/api3.10"
  mkdir -p "$out"
  sdk="$cache/go-src/plugin-sdk-go@v0.8.3-api3.10"
  if [ ! -f "$sdk/.patched" ]; then
    sdk_dir="$(go mod download -json github.com/falcosecurity/plugin-sdk-go@v0.8.3 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$sdk_dir" ] || { echo "go mod download plugin-sdk-go@v0.8.3 failed" >&2; exit 1; }
    rm -rf "$sdk"; mkdir -p "$(dirname "$sdk")"
    cp -r "$sdk_dir" "$sdk"; chmod -R u+w "$sdk"
    sed -i 's/^#define PLUGIN_API_VERSION_MINOR 11$/#define PLUGIN_API_VERSION_MINOR 10/' "$sdk/pkg/sdk/plugin_api.h"
    sed -i 's/in->value_offsets/NULL/' "$sdk/pkg/sdk/symbols/extract/extract.c"
    # Both edits must have applied: exactly the lines expected, no more.
    [ "$(grep -c '^#define PLUGIN_API_VERSION_MINOR 10$' "$sdk/pkg/sdk/plugin_api.h")" = 1 ] &&
      [ "$(grep -c 'in->value_offsets' "$sdk/pkg/sdk/symbols/extract/extract.c")" = 0 ] &&
      [ "$(grep -c '\.value_offsets = NULL;' "$sdk/pkg/sdk/symbols/extract/extract.c")" = 1 ] &&
      [ "$(grep -c 'in->num_fields, in->fields, NULL)' "$sdk/pkg/sdk/symbols/extract/extract.c")" = 1 ] ||
      { echo "patching plugin-sdk-go v0.8.3 for API 3.10 failed" >&2; exit 1; }
    touch "$sdk/.patched"
  fi
  sdk_replace="$sdk"
  # Go's build cache does not hash headers outside a package's directory
  # (info.c includes ../../plugin_api.h), and -trimpath gives the copy the
  # original's path: with the shared cache the 3.11 objects would be reused.
  export GOCACHE="$cache/go-build-api3.10"
fi
for p in "${plugins[@]}"; do
  so="$out/lib$p.so"
  if [ $force -eq 0 ] && [ -s "$so" ] && [ "$so" -nt go.sum ]; then
    echo "$so"; continue
  fi
  mod="github.com/falcosecurity/plugins/plugins/$p@${version[$p]}"
  echo "building official Go plugin $mod -> $so" >&2
  # Download (verified against our committed go.sum), then build inside a
  # copy of the plugin's own module, with ITS go.mod/go.sum (k8saudit needs
  # its own `replace` of fastjson, which is ignored in a dependency).
  dir="$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || { echo "go mod download $mod failed" >&2; exit 1; }
  src="$cache/go-src/$p@${version[$p]}"
  [ -n "$sdk_replace" ] && src="$src-api3.10"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  if [ -n "$sdk_replace" ]; then
    (cd "$src" && go mod edit -replace "github.com/falcosecurity/plugin-sdk-go=$sdk_replace")
  fi
  (cd "$src" && go build -mod=readonly -trimpath -buildmode=c-shared -o "$so.tmp" ./plugin)
  rm -f "$so.tmp.h"
  mv "$so.tmp" "$so"
  echo "$so"
done
