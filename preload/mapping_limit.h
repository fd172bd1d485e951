// MappingLimit: the kernel's cap on a process's memory mappings (vm.max_map_count). Under
// GODEBUG=efence=1 every goroutine stack and every freed large object becomes a mapping of
// its own and address space is never reused, so a long or goroutine-heavy program can run
// out; the Go runtime then dies with an out-of-memory throw that does not say why. Watched
// from the runtime's own mmaps (rarely: a count of /proc/self/maps every so many calls), it
// says so in one line, once, before that happens.
#pragma once

namespace cgosan {

class MappingLimit {
 public:
  static void Init();  // reads vm.max_map_count; attach-time
  // Called for each runtime mmap and efence fault. Async-signal-safe.
  static void OnRuntimeMmap();
};

}  // namespace cgosan
