// TracerAttached: whether a debugger (or any ptrace tracer) is attached. Every int3 hit
// stops a tracee, so attach says so when hooks are planted under one.
#pragma once

namespace cgosan {

// TracerPid of /proc/self/status is non-zero. Raw read into a stack buffer: no malloc.
bool TracerAttached();

}  // namespace cgosan
