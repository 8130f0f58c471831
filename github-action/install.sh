#!/usr/bin/env bash
# Installs shipgate for the composite action (action.yml) and prints the binary's path on stdout.
#
#   SHIPGATE_INSTALL  auto (default) | release | source | path
#     release: the release binary of SHIPGATE_VERSION (default: the version this action pins in
#              release.env), downloaded over https and accepted only if its sha256 is the one
#              this action itself carries in checksums.txt (the trust anchor is the action's
#              commit that `uses:` pins, never the download).
#     source:  cargo install --locked --path of this action's own commit (needs a Rust toolchain).
#     path:    a shipgate already on PATH.
#     auto:    release when this action carries a checksum for the pinned version on this
#              platform, else source (with a notice).
#   SHIPGATE_CACHE_DIR  where verified archives are kept between jobs (actions/cache saves it).
#   SHIPGATE_RELEASE_BASE_URL  mirror of the release downloads (https, or http on loopback);
#              the checksum still comes from this action.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${SHIPGATE_INSTALL:-auto}"
root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/shipgate-action"
cache="${SHIPGATE_CACHE_DIR:-$HOME/.cache/shipgate-action}"

die() { echo "::error title=shipgate install::$*" >&2; exit 2; }

version="${SHIPGATE_VERSION:-}"
if [ -z "$version" ]; then
  version="$(sed -n 's/^version=//p' "$here/release.env" 2>/dev/null | head -n 1)"
fi
if [ -n "$version" ] && ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  die "version must be X.Y.Z, not '$version'"
fi

target=""
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
esac
file=""
want=""
if [ -n "$version" ] && [ -n "$target" ]; then
  file="shipgate-v$version-$target.tar.gz"
  want="$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1; exit }' "$here/checksums.txt" 2>/dev/null || true)"
fi

if [ "$mode" = auto ]; then
  if [ -n "${SHIPGATE_VERSION:-}" ] && [ -z "$want" ]; then
    # An explicit version is never swapped for another one built from source.
    die "this action carries no sha256 for ${file:-version $version on this platform}: pin an action version that lists it, or use install: source"
  elif [ -n "$want" ]; then
    mode=release
  else
    echo "::notice title=shipgate install::this action carries no release checksum for ${file:-this platform}; building its own commit from source" >&2
    mode=source
  fi
fi

case "$mode" in
  path)
    command -v shipgate || die "install: path, but no shipgate on PATH"
    ;;
  source)
    command -v cargo >/dev/null || die "install: source needs a Rust toolchain (cargo) on the runner"
    cargo install --locked --quiet --path "$here/.." --bin shipgate --root "$root" >&2
    echo "$root/bin/shipgate"
    ;;
  release)
    [ -n "$version" ] || die "no version: set the version input, or use an action version that pins one"
    [ -n "$target" ] || die "release binaries exist for Linux x86_64 and aarch64 only; use install: source"
    [ -n "$want" ] || die "this action carries no sha256 for $file: pin an action version that lists it, or use install: source"
    [[ "$want" =~ ^[0-9a-f]{64}$ ]] || die "checksums.txt has a malformed sha256 for $file"
    base="${SHIPGATE_RELEASE_BASE_URL:-https://github.com/${GITHUB_ACTION_REPOSITORY:-}/releases/download}"
    case "$base" in
      https://github.com//*) die "GITHUB_ACTION_REPOSITORY is not set: set SHIPGATE_RELEASE_BASE_URL or use install: source" ;;
      https://*) proto='=https' ;;
      http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*) proto='=http' ;;
      *) die "the release base URL must be https (or http on loopback): $base" ;;
    esac
    mkdir -p "$cache" "$root/v$version"
    archive="$cache/$file"
    if ! { [ -f "$archive" ] && [ "$(sha256sum "$archive" | cut -d' ' -f1)" = "$want" ]; }; then
      rm -f "$archive"
      part="$(mktemp "$cache/.download.XXXXXX")"
      # Bounded: 64 MiB, 120 s, redirects only to https (GitHub serves assets from its CDN).
      if ! curl --proto "$proto" --proto-redir "$proto" --fail --silent --show-error --location \
        --max-filesize 67108864 --max-time 120 --retry 3 --output "$part" "$base/v$version/$file"; then
        rm -f "$part"
        die "could not download $base/v$version/$file"
      fi
      got="$(sha256sum "$part" | cut -d' ' -f1)"
      if [ "$got" != "$want" ]; then
        rm -f "$part"
        die "$file has sha256 $got, but this action expects $want: refusing it"
      fi
      mv "$part" "$archive"
    fi
    # Extract from a private copy hashed again, so that the shared cache cannot change
    # between the check and the extraction.
    private="$(mktemp "$root/.archive.XXXXXX")"
    cp "$archive" "$private"
    if [ "$(sha256sum "$private" | cut -d' ' -f1)" != "$want" ]; then
      rm -f "$private" "$archive"
      die "$file changed in the cache after it was checked: refusing it"
    fi
    tar -xzf "$private" -C "$root/v$version" shipgate
    rm -f "$private"
    chmod 0755 "$root/v$version/shipgate"
    echo "$root/v$version/shipgate"
    ;;
  *)
    die "install must be auto, release, source or path, not '$mode'"
    ;;
esac
