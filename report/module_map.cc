// ModuleMap: a streaming /proc/self/maps parser (the file can hold tens of thousands of
// lines when the guarded heap is large, so it is read in chunks, never whole).
#include "report/module_map.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "report/string_pool.h"

namespace cgosan {
namespace {

MappingEntry g_mappings[ModuleMap::kMaxMappings];
ModuleEntry g_modules[ModuleMap::kMaxModules];
int g_num_mappings = 0;
int g_num_modules = 0;
bool g_loaded = false;

// Big enough for several lines including a PATH_MAX path.
constexpr size_t kReadChunk = 64 * 1024;
char g_read_buf[kReadChunk];

struct MapsLine {
  uintptr_t start;
  uintptr_t end;
  uint64_t offset;
  const char* path;  // not NUL-terminated
  size_t path_len;
};

bool ParseHex(const char*& p, const char* end, uint64_t* out) {
  uint64_t v = 0;
  const char* begin = p;
  for (; p < end; ++p) {
    char c = *p;
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      break;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return p > begin;
}

void SkipField(const char*& p, const char* end) {
  while (p < end && *p != ' ') ++p;
}
void SkipSpaces(const char*& p, const char* end) {
  while (p < end && *p == ' ') ++p;
}

// "start-end perms offset dev inode   path"
bool ParseLine(const char* p, const char* end, MapsLine* out) {
  uint64_t start, stop, offset;
  if (!ParseHex(p, end, &start) || p >= end || *p++ != '-') return false;
  if (!ParseHex(p, end, &stop) || p >= end || *p != ' ') return false;
  SkipSpaces(p, end);
  SkipField(p, end);  // perms
  SkipSpaces(p, end);
  if (!ParseHex(p, end, &offset)) return false;
  SkipSpaces(p, end);
  SkipField(p, end);  // dev
  SkipSpaces(p, end);
  SkipField(p, end);  // inode
  SkipSpaces(p, end);
  out->start = start;
  out->end = stop;
  out->offset = offset;
  out->path = p;
  out->path_len = static_cast<size_t>(end - p);
  return start < stop;
}

void AddLine(const MapsLine& line) {
  if (g_num_mappings >= ModuleMap::kMaxMappings) return;
  if (line.path_len == 0) {
    // Keep only a possible .bss tail: unnamed, directly after a file mapping.
    if (g_num_mappings == 0) return;
    const MappingEntry& prev = g_mappings[g_num_mappings - 1];
    if (prev.module < 0 || prev.anon_tail || prev.end != line.start) return;
    MappingEntry& m = g_mappings[g_num_mappings++];
    m = prev;
    m.start = line.start;
    m.end = line.end;
    m.anon_tail = true;
    return;
  }
  const bool is_file = line.path[0] == '/';
  int module = -1;
  if (is_file) {
    // Consecutive mappings of one file are one module (segments, gaps, relro), unless the
    // file starts over at offset 0 somewhere else (the same file mapped a second time).
    int last = g_num_modules - 1;
    if (last >= 0 && strlen(g_modules[last].path) == line.path_len &&
        memcmp(g_modules[last].path, line.path, line.path_len) == 0 &&
        !(line.offset == 0 && g_num_mappings > 0 &&
          g_mappings[g_num_mappings - 1].end != line.start)) {
      module = last;
    } else if (g_num_modules < ModuleMap::kMaxModules) {
      const char* path = SymbolStringPool::Copy(line.path, line.path_len);
      if (path == nullptr) return;
      module = g_num_modules++;
      g_modules[module] = ModuleEntry();
      g_modules[module].path = path;
      g_modules[module].first_start = line.start;
      g_modules[module].first_offset = line.offset;
    } else {
      return;
    }
  }
  if (g_num_mappings > 0) {
    MappingEntry& prev = g_mappings[g_num_mappings - 1];
    if (is_file && prev.module == module && !prev.anon_tail && prev.end == line.start) {
      prev.end = line.end;
      return;
    }
  }
  const char* name =
      is_file ? g_modules[module].path : SymbolStringPool::Copy(line.path, line.path_len);
  if (name == nullptr) return;
  MappingEntry& m = g_mappings[g_num_mappings++];
  m.start = line.start;
  m.end = line.end;
  m.module = module;
  m.name = name;
  m.anon_tail = false;
}

}  // namespace

void ModuleMap::Load() {
  g_num_mappings = 0;
  g_num_modules = 0;
  g_loaded = false;
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t have = 0;
  for (;;) {
    long n = syscall(SYS_read, fd, g_read_buf + have, kReadChunk - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    const char* line = g_read_buf;
    const char* limit = g_read_buf + have;
    for (;;) {
      const char* nl = static_cast<const char*>(memchr(line, '\n', limit - line));
      if (nl == nullptr) break;
      MapsLine parsed;
      if (ParseLine(line, nl, &parsed)) AddLine(parsed);
      line = nl + 1;
    }
    have = static_cast<size_t>(limit - line);
    if (have == kReadChunk) have = 0;  // a line longer than the buffer: drop it
    memmove(g_read_buf, line, have);
  }
  syscall(SYS_close, fd);
  g_loaded = true;
}

bool ModuleMap::Loaded() { return g_loaded; }

const MappingEntry* ModuleMap::Find(uintptr_t addr) {
  int lo = 0, hi = g_num_mappings;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (g_mappings[mid].end <= addr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < g_num_mappings && g_mappings[lo].start <= addr) return &g_mappings[lo];
  return nullptr;
}

ModuleEntry* ModuleMap::Module(int index) {
  return index >= 0 && index < g_num_modules ? &g_modules[index] : nullptr;
}

int ModuleMap::NumModules() { return g_num_modules; }
int ModuleMap::NumMappings() { return g_num_mappings; }

}  // namespace cgosan
