// GuardedPool's kernel side: how a slot's data pages are made accessible at malloc and
// inaccessible at free, in either of the pool's two schemes (see guarded_pool.h):
// guard markers (Linux 6.13+) or mprotect. Only system calls live here; the pool decides
// which slot, and when.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

enum class SlotProtection { kGuardMarkers, kMprotect };

// Guard-marker scheme: makes the PROT_NONE range [from, from+len) of the pool read-write
// with every page under a guard marker (markers first, so that no page is ever accessible
// unguarded). False when the kernel refuses: no markers (before 6.13) or no mapping left;
// the range is then PROT_NONE without markers, as before. Init's probe for markers.
bool OpenChunk(uintptr_t from, size_t len);

// Makes a slot's data pages read-write for a new block; false when the kernel refused
// (most likely its mapping limit). *mprotected: the slot was closed by the fallback of
// CloseSlotPages (marker scheme only), cleared here.
bool OpenSlotPages(SlotProtection scheme, uintptr_t data, size_t bytes, bool* mprotected);

// Makes a freed slot's data pages inaccessible and drops their contents. In the marker
// scheme, a refused marker install falls back to mprotect and sets *mprotected.
void CloseSlotPages(SlotProtection scheme, uintptr_t data, size_t bytes, bool* mprotected);

}  // namespace cgosan
