#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan + UBSan) and runs it for a bounded time:
# the parser must never crash, read out of bounds or hang on any input.
#   run_fuzz.sh SOURCE_ROOT BUILD_DIR TARGET SECONDS
# TARGET: pclntab (report/go/pclntab.cc), options (shadow/options.cc), elf
# (report/elf_reader.cc, elf_symbols.cc, elf_build_id.cc), report_json (report/cli/: the
# reader and formatters of `cgosan report`; the report and shadow libraries it calls are
# linked from BUILD_DIR, uninstrumented).
# The seed corpus is tests/fuzz/corpus/TARGET (copied: the run's new inputs stay in
# BUILD_DIR/fuzz/TARGET/corpus). The binary is rebuilt only when a source is newer.
# Prints libFuzzer's final stats (stat::number_of_executed_units is the executions).
# Exits 77 (ctest: skipped) when clang or libFuzzer (libclang-rt-14-dev) is missing.
set -euo pipefail
root="$(cd "$1" && pwd)" build="$(cd "$2" && pwd)" target="$3" seconds="$4"
out="$build/fuzz/$target"
command -v clang++ >/dev/null 2>&1 || { echo "clang++ not found: skipped"; exit 77; }
fuzz="$root/tests/fuzz"
extra=()
case "$target" in
  pclntab) srcs=("$fuzz/pclntab_fuzz.cc" "$root/report/go/pclntab.cc") ;;
  options) srcs=("$fuzz/options_fuzz.cc" "$root/shadow/options.cc" "$root/shadow/base/text_buffer.cc") ;;
  elf) srcs=("$fuzz/elf_fuzz.cc" "$root/report/elf_reader.cc" "$root/report/elf_symbols.cc"
             "$root/report/elf_build_id.cc") ;;
  report_json)
    srcs=("$fuzz/report_json_fuzz.cc")
    for f in "$root"/report/cli/*.cc; do
      [[ "$(basename "$f")" == cgosan_tool.cc ]] || srcs+=("$f")
    done
    for lib in "$build/report/libcgosan_report.a" "$build/shadow/libcgosan_shadow.a"; do
      [[ -f "$lib" ]] || { echo "$lib missing: build cgosan first"; exit 1; }
    done
    extra=("$build/report/libcgosan_report.a" "$build/shadow/libcgosan_shadow.a" -ldl -lpthread) ;;
  *) echo "unknown fuzz target $target"; exit 2 ;;
esac
mkdir -p "$out/corpus"
bin="$out/cgosan_${target}_fuzz"
stale=0
[[ -x "$bin" ]] || stale=1
if [[ $stale == 0 ]]; then
  for f in "${srcs[@]}" "$0" $(find "$root/report" "$root/shadow" -name '*.h' -o -name '*.inc'); do
    [[ "$f" -nt "$bin" ]] && { stale=1; break; }
  done
fi
if [[ $stale == 1 ]]; then
  start=$SECONDS
  if ! clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -I"$root" "${srcs[@]}" "${extra[@]}" -o "$bin.tmp" \
      2>"$out/build.log"; then
    if grep -q "libclang_rt.fuzzer\|cannot find.*fuzzer" "$out/build.log"; then
      echo "libFuzzer not available (apt-get install libclang-rt-14-dev): skipped"; exit 77
    fi
    cat "$out/build.log"; exit 1
  fi
  mv "$bin.tmp" "$bin"
  echo "built $bin in $((SECONDS - start)) s"
fi
seeds="$fuzz/corpus/$target"
[[ -d "$seeds" ]] && cp -n "$seeds"/* "$out/corpus/" 2>/dev/null || true
# -timeout: one input taking over 10 s is a hang (a failure); -rss_limit_mb bounds memory.
cd "$out"
status=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$out/corpus" >"$out/run.log" 2>&1 || status=$?
if [[ $status != 0 ]]; then
  tail -n 80 "$out/run.log"  # the crash report and the input that caused it (crash-*)
  exit "$status"
fi
grep -E '^(Done |stat::)' "$out/run.log"
