// GoTypeName: the name Go prints for a type ("map[int]int", "*main.T", what %T shows) from
// a pointer to its runtime type descriptor (runtime._type, internal/abi.Type in 1.21+), as
// the map hooks see it in a register. The pointer is not trusted: every byte read is
// checked against the module's type data [moduledata.types, moduledata.etypes), which
// attach accepted only inside the executable's mapped image, so a wild pointer yields
// false, never a fault. Async-signal-safe: no allocation, locks or system calls.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

// A module's type data: its runtime address range and where those bytes can be read (the
// same address in-process; a copy in tests and tools).
struct GoTypeData {
  uintptr_t types = 0;             // moduledata.types: the first type descriptor
  uintptr_t etypes = 0;            // moduledata.etypes (exclusive)
  const uint8_t* bytes = nullptr;  // the byte at runtime address `types`
  bool Valid() const { return bytes != nullptr && types != 0 && etypes > types; }
};

// moduledata.types and .etypes from `size` bytes of runtime.firstmoduledata of a Go 1.<minor>
// binary. False when the version's layout is unknown, `size` is too short or the range is
// empty.
bool GoTypesFromModuledata(const uint8_t* moduledata, size_t size, int go_minor, uintptr_t* types,
                           uintptr_t* etypes);

// The name of the type whose descriptor is at runtime address `type_addr`, NUL-terminated in
// out[size]; a name that does not fit is cut (at a UTF-8 boundary) and ends in "...". False,
// with out = "", when the descriptor or its name is not inside `data` or is malformed.
bool DecodeGoTypeName(const GoTypeData& data, uintptr_t type_addr, char* out, size_t size);

// DecodeGoTypeName against the running program's type data (GoRuntime::Types()); false
// before attach or when the type data was not found.
bool GoTypeName(uintptr_t type_addr, char* out, size_t size);

}  // namespace cgosan
