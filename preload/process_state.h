// Process-wide state of the preload: whether attach has finished, and facts learned then.
#pragma once

#include <atomic>

namespace cgosan {

// False until the constructor has parsed options and set everything up. Before that,
// allocations are tracked only (no guard, no stack) and nothing is reported.
bool PreloadReady();
void SetPreloadReady();

// Whether the process is a Go program (the cgo runtime's crosscall2 is present).
bool IsGoProcess();
void SetGoProcess(bool go);

}  // namespace cgosan
