// The finding kinds as words (formatters.h: KindDescription, KindLevel). Kept apart from
// the formatters so that a new kind is one line here; unknown kinds still render.
#include <map>

#include "report/cli/formatters.h"

namespace cgosan::cli {

std::string KindDescription(const std::string& kind) {
  static const std::map<std::string, std::string> kDescriptions = {
      {"heap-use-after-free", "C code used a C heap block after it was freed"},
      {"heap-buffer-overflow", "an access went past the bounds of a live C heap block"},
      {"double-free", "a C heap block was freed twice"},
      {"invalid-free", "free or realloc was given a pointer malloc did not return"},
      {"map-bucket-use-after-relocation",
       "C code used a Go map's bucket or group array after the map had replaced it"},
      {"go-heap-use-after-free",
       "C code used a Go heap object after the garbage collector freed it"},
      {"go-stack-use-after-free", "C code used a goroutine stack after it was freed or moved"},
      {"go-pointer-retained",
       "C memory kept a pointer into Go memory after the cgo call that passed it returned"},
      {"leak", "C memory allocated for or under Go was never freed and nothing points to it"},
  };
  auto it = kDescriptions.find(kind);
  return it != kDescriptions.end() ? it->second : "cgosan finding of kind " + kind;
}

std::string KindLevel(const std::string& kind) {
  return kind == "go-pointer-retained" || kind == "leak" ? "warning" : "error";
}

}  // namespace cgosan::cli
