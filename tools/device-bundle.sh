#!/usr/bin/env bash
# Packs what tools/device-check.sh --prebuilt needs from a build made here
# (with CUDA) into one archive, for a GPU host that lacks the Debian
# packages the build needs: the executables, every shared library they load
# that is not the C library itself, and the source path the test binaries
# name their data by. The host's glibc must be at least as new as this one's.
#   tools/device-bundle.sh BUILD_DIR ARCHIVE.tar.xz
set -eu
build=$1 archive=$2
stage=$(mktemp -d)
mkdir -p "$stage/bundle/bin" "$stage/bundle/lib"
for exe in ossrt ossrt-tests ossrt-conformance ossrt-write-hf-layout ossrt-write-gguf; do
  cp "$build/bin/$exe" "$stage/bundle/bin/"
done
ldd "$build"/bin/ossrt "$build"/bin/ossrt-tests | awk '/=> \//{print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/bundle/lib/"; done
(cd "$(dirname "$0")/.." && pwd) >"$stage/bundle/source_dir"
tar -C "$stage" -cJf "$archive" bundle
rm -rf "$stage"
ls -la "$archive"
