// LoadedModuleRange: the address extent of the loaded ELF object containing an address,
// as the dynamic linker knows it. The unwinder uses it to recognise frames of cgosan's own
// module and of libunwind. Not async-signal-safe (dl_iterate_phdr takes the loader lock):
// call it at initialisation only.
#pragma once

#include <cstdint>

namespace cgosan {

// [*begin, *end) covers every PT_LOAD segment of the object containing addr.
bool LoadedModuleRange(const void* addr, uintptr_t* begin, uintptr_t* end);

}  // namespace cgosan
