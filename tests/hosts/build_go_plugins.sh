#!/usr/bin/env bash
# Builds the OFFICIAL Go plugins (dummy v0.11.5, json v0.7.4, k8saudit v0.18.0)
# from the Go module proxy as c-shared libraries, the way Falco ships them.
#
#   tests/hosts/build_go_plugins.sh [--force] [dummy|json|k8saudit ...]
#
# Output: $FALCO_DENO_CACHE/go-plugins/lib{dummy,json,k8saudit}.so
#         (FALCO_DENO_CACHE defaults to $HOME/.cache/falco-deno).
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
plugins=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    dummy|json|k8saudit) plugins+=("$a") ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#plugins[@]} -eq 0 ] && plugins=(dummy json k8saudit)
declare -A version=([dummy]=v0.11.5 [json]=v0.7.4 [k8saudit]=v0.18.0)
cd "$here/go_plugins"
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
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  (cd "$src" && go build -mod=readonly -trimpath -buildmode=c-shared -o "$so.tmp" ./plugin)
  rm -f "$so.tmp.h"
  mv "$so.tmp" "$so"
  echo "$so"
done
