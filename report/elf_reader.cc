// ElfReader: raw syscalls (the preload interposes libc wrappers of other calls, and errno
// aside these cannot recurse into it), chunked section-header walks with small stack use.
#include "report/elf_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace cgosan {
namespace {

int RawOpen(const char* path) {
  // O_NONBLOCK: never hang on a FIFO that happens to be mapped; only regular files are used.
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  return fd < 0 ? -1 : static_cast<int>(fd);
}

// Section headers are walked this many at a time: 1 KiB of stack (signal stacks are small).
constexpr int kShdrBatch = 16;
constexpr uint64_t kMaxSections = 1 << 16;
constexpr size_t kWindowBytes = 64 << 10;
constexpr size_t kWindowedReadMax = 4096;  // larger reads go to the file directly

}  // namespace

bool ElfReader::Open(const char* path) {
  Close();
  if (path == nullptr || path[0] == '\0') return false;
  // Device files can have side effects on open; nothing there is an ELF object to read.
  if (strncmp(path, "/dev/", 5) == 0 && strncmp(path, "/dev/shm/", 9) != 0) return false;
  int fd = RawOpen(path);
  if (fd < 0) return false;
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    syscall(SYS_close, fd);
    return false;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  if (!Read(0, &ehdr_, sizeof(ehdr_)) || memcmp(ehdr_.e_ident, ELFMAG, SELFMAG) != 0 ||
      ehdr_.e_ident[EI_CLASS] != ELFCLASS64 || ehdr_.e_ident[EI_DATA] != ELFDATA2LSB ||
      (ehdr_.e_type != ET_EXEC && ehdr_.e_type != ET_DYN)) {
    Close();
    return false;
  }
  if (ehdr_.e_phnum > 0) {
    if (ehdr_.e_phentsize != sizeof(Elf64_Phdr) ||
        !InFile(ehdr_.e_phoff, uint64_t{ehdr_.e_phnum} * sizeof(Elf64_Phdr))) {
      Close();
      return false;
    }
    phnum_ = ehdr_.e_phnum;
  }
  // Sections are optional (sstrip removes them); a bad table just means "no sections".
  if (ehdr_.e_shoff != 0 && ehdr_.e_shentsize == sizeof(Elf64_Shdr)) {
    uint64_t count = ehdr_.e_shnum;
    uint64_t strndx = ehdr_.e_shstrndx;
    Elf64_Shdr first;
    if ((count == 0 || strndx == SHN_XINDEX) && Read(ehdr_.e_shoff, &first, sizeof(first))) {
      // Extended numbering: the real values live in section header 0.
      if (count == 0) count = first.sh_size;
      if (strndx == SHN_XINDEX) strndx = first.sh_link;
    }
    // Real files have dozens of sections; the cap bounds the walks over a corrupt table.
    if (count > 0 && count <= kMaxSections && InFile(ehdr_.e_shoff, count * sizeof(Elf64_Shdr))) {
      shnum_ = static_cast<int>(count);
      shstrndx_ = strndx < count ? static_cast<int>(strndx) : -1;
    }
  }
  return true;
}

void ElfReader::Close() {
  if (fd_ >= 0) syscall(SYS_close, fd_);
  if (window_) syscall(SYS_munmap, window_, kWindowBytes);
  window_ = nullptr;
  window_len_ = 0;
  fd_ = -1;
  size_ = 0;
  phnum_ = 0;
  shnum_ = 0;
  shstrndx_ = -1;
}

bool ElfReader::InFile(uint64_t offset, uint64_t size) const {
  return offset <= size_ && size <= size_ - offset;
}

bool ElfReader::Read(uint64_t offset, void* buf, size_t n) const {
  if (fd_ < 0 || !InFile(offset, n)) return false;
  return ReadUpTo(offset, buf, n) == n;
}

size_t ElfReader::ReadUpTo(uint64_t offset, void* buf, size_t n) const {
  if (fd_ < 0 || offset >= size_) return 0;
  if (n > size_ - offset) n = static_cast<size_t>(size_ - offset);
  if (n > kWindowedReadMax) return ReadFromFile(offset, buf, n);
  if (!window_) {
    long p = syscall(SYS_mmap, nullptr, kWindowBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == -1) return ReadFromFile(offset, buf, n);
    window_ = reinterpret_cast<char*>(p);
  }
  if (offset < window_offset_ || offset + n > window_offset_ + window_len_) {
    window_offset_ = offset;
    window_len_ = ReadFromFile(offset, window_, kWindowBytes);
    if (n > window_len_) n = window_len_;
  }
  memcpy(buf, window_ + (offset - window_offset_), n);
  return n;
}

size_t ElfReader::ReadFromFile(uint64_t offset, void* buf, size_t n) const {
  if (n > size_ - offset) n = static_cast<size_t>(size_ - offset);
  size_t done = 0;
  char* p = static_cast<char*>(buf);
  while (done < n) {
    long r = syscall(SYS_pread64, fd_, p + done, n - done, offset + done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // the file shrank under us: report what we have
    done += static_cast<size_t>(r);
  }
  return done;
}

bool ElfReader::Phdr(int i, Elf64_Phdr* out) const {
  if (i < 0 || i >= phnum_) return false;
  return Read(ehdr_.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr), out, sizeof(*out));
}

bool ElfReader::Section(int i, Elf64_Shdr* out) const {
  if (i < 0 || i >= shnum_) return false;
  return Read(ehdr_.e_shoff + uint64_t(i) * sizeof(Elf64_Shdr), out, sizeof(*out));
}

int ElfReader::FindSection(const char* name, Elf64_Shdr* out) const {
  Elf64_Shdr names;
  if (!Section(shstrndx_, &names) || names.sh_type == SHT_NOBITS ||
      !InFile(names.sh_offset, names.sh_size)) {
    return -1;
  }
  const size_t want_len = strlen(name);
  char candidate[64];
  if (want_len + 1 >= sizeof(candidate)) return -1;
  Elf64_Shdr batch[kShdrBatch];
  for (int base = 0; base < shnum_; base += kShdrBatch) {
    int count = shnum_ - base < kShdrBatch ? shnum_ - base : kShdrBatch;
    if (!Read(ehdr_.e_shoff + uint64_t(base) * sizeof(Elf64_Shdr), batch,
              count * sizeof(Elf64_Shdr))) {
      return -1;
    }
    for (int j = 0; j < count; ++j) {
      if (!ReadString(names.sh_offset, names.sh_size, batch[j].sh_name, candidate, want_len + 2)) {
        continue;
      }
      if (strcmp(candidate, name) == 0) {
        *out = batch[j];
        return base + j;
      }
    }
  }
  return -1;
}

int ElfReader::FindSectionByType(uint32_t type, Elf64_Shdr* out) const {
  Elf64_Shdr batch[kShdrBatch];
  for (int base = 0; base < shnum_; base += kShdrBatch) {
    int count = shnum_ - base < kShdrBatch ? shnum_ - base : kShdrBatch;
    if (!Read(ehdr_.e_shoff + uint64_t(base) * sizeof(Elf64_Shdr), batch,
              count * sizeof(Elf64_Shdr))) {
      return -1;
    }
    for (int j = 0; j < count; ++j) {
      if (batch[j].sh_type == type) {
        *out = batch[j];
        return base + j;
      }
    }
  }
  return -1;
}

int ElfReader::SectionContaining(uint64_t vaddr) const {
  Elf64_Shdr batch[kShdrBatch];
  for (int base = 0; base < shnum_; base += kShdrBatch) {
    int count = shnum_ - base < kShdrBatch ? shnum_ - base : kShdrBatch;
    if (!Read(ehdr_.e_shoff + uint64_t(base) * sizeof(Elf64_Shdr), batch,
              count * sizeof(Elf64_Shdr))) {
      return -1;
    }
    for (int j = 0; j < count; ++j) {
      const Elf64_Shdr& sh = batch[j];
      if ((sh.sh_flags & SHF_ALLOC) == 0 || sh.sh_type == SHT_NOBITS) continue;
      if (sh.sh_addr <= vaddr && vaddr - sh.sh_addr < sh.sh_size) return base + j;
    }
  }
  return -1;
}

bool ElfReader::ReadString(uint64_t table_off, uint64_t table_size, uint64_t index, char* out,
                           size_t cap) const {
  if (cap == 0) return false;
  out[0] = '\0';
  if (index >= table_size || !InFile(table_off, table_size)) return false;
  uint64_t avail = table_size - index;
  size_t want = cap - 1;
  if (want > avail) want = static_cast<size_t>(avail);
  size_t got = ReadUpTo(table_off + index, out, want);
  out[got] = '\0';  // strings running past the table (or cap) end there
  return got > 0 || avail > 0;
}

}  // namespace cgosan
