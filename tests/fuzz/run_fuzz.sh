#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan + UBSan) and runs it for a bounded time:
# the pclntab parser must never crash on a truncated or corrupt table.
#   run_fuzz.sh SOURCE_ROOT BUILD_DIR SECONDS
# Exits 77 (ctest: skipped) when clang or libFuzzer (libclang-rt-14-dev) is missing.
set -euo pipefail
root="$1" out="$2/fuzz" seconds="$3"
command -v clang++ >/dev/null 2>&1 || { echo "clang++ not found: skipped"; exit 77; }
mkdir -p "$out/corpus"
bin="$out/cgosan_pclntab_fuzz"
if ! clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -I"$root" \
    "$root/tests/fuzz/pclntab_fuzz.cc" "$root/report/go/pclntab.cc" -o "$bin" 2>"$out/build.log"; then
  if grep -q "libclang_rt.fuzzer\|fuzzer" "$out/build.log"; then
    echo "libFuzzer not available (apt-get install libclang-rt-14-dev): skipped"; exit 77
  fi
  cat "$out/build.log"; exit 1
fi
"$bin" -max_total_time="$seconds" -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 15
