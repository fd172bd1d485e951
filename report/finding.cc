// Finding: the names the reports print for kinds, access types and regions, and stack lookup.
#include "report/finding.h"

#include <cstring>

namespace cgosan {

const char* FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kHeapUseAfterFree:
      return "heap-use-after-free";
    case FindingKind::kHeapBufferOverflow:
      return "heap-buffer-overflow";
    case FindingKind::kDoubleFree:
      return "double-free";
    case FindingKind::kInvalidFree:
      return "invalid-free";
    case FindingKind::kGoHeapUseAfterFree:
      return "go-heap-use-after-free";
    case FindingKind::kGoStackUseAfterFree:
      return "go-stack-use-after-free";
    case FindingKind::kMapBucketUseAfterRelocation:
      return "map-bucket-use-after-relocation";
    case FindingKind::kGoPointerRetained:
      return "go-pointer-retained";
    case FindingKind::kLeak:
      return "leak";
  }
  return "unknown";
}

const char* AccessTypeName(AccessType type) {
  switch (type) {
    case AccessType::kRead:
      return "read";
    case AccessType::kWrite:
      return "write";
    case AccessType::kFree:
      return "free";
    case AccessType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const char* RegionName(Region region) {
  switch (region) {
    case Region::kCHeap:
      return "c-heap";
    case Region::kGoHeap:
      return "go-heap";
    case Region::kGoStack:
      return "go-stack";
    case Region::kMapBuckets:
      return "map-buckets";
    case Region::kGlobal:
      return "global";
    case Region::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const Stack* Finding::FindStack(const char* name) const {
  if (name == nullptr) return nullptr;
  for (int i = 0; i < num_stacks && i < kMaxStacks; ++i) {
    if (stacks[i].name != nullptr && strcmp(stacks[i].name, name) == 0) return &stacks[i];
  }
  return nullptr;
}

}  // namespace cgosan
