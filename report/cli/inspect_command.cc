// The file is mapped once for the byte searches (go_binary_rules) and its headers read through
// ElfReader (elf_linkage). A file that cannot be opened answers "nothing known", as the
// shell checks do when file, readelf and grep cannot read it.
#include "report/cli/inspect_command.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "report/cli/elf_linkage.h"
#include "report/cli/go_binary_rules.h"
#include "report/elf_reader.h"

namespace cgosan {
namespace cli {
namespace {

// The file's bytes, read-only; empty for a file that cannot be read.
class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    close(fd);
  }
  ~MappedFile() {
    if (data_) munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return std::string_view(data_ ? data_ : "", size_); }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Where the Go rules look: the .go.buildinfo section when the file has one, else all of it.
std::string_view GoBuildInfoBytes(const ElfReader& elf, std::string_view file) {
  Elf64_Shdr sh;
  if (elf.is_open() && elf.FindSection(".go.buildinfo", &sh) >= 0 && sh.sh_type == SHT_PROGBITS &&
      elf.InFile(sh.sh_offset, sh.sh_size) && sh.sh_size <= file.size()) {
    return file.substr(sh.sh_offset, sh.sh_size);
  }
  return file;
}

}  // namespace

int RunInspectCommand(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[0], "--") == 0) {
    ++argv;
    --argc;
  }
  if (argc != 1) {
    fprintf(stderr, "usage: cgosan-tool inspect [--] PATH\n");
    return 2;
  }
  const char* path = argv[0];
  MappedFile file(path);
  std::string_view bytes = file.bytes();
  bool is_elf = bytes.substr(0, SELFMAG) == std::string_view(ELFMAG, SELFMAG);
  ElfLinkage linkage;
  ElfReader elf;
  if (is_elf) {
    if (!elf.Open(path) || !ReadElfLinkage(elf, &linkage)) {
      fprintf(stderr, "cgosan-tool inspect: %s: cannot read its ELF headers\n", path);
      return 1;
    }
    printf("elf=1\nmachine=%u\n", elf.header().e_machine);
  } else {
    printf("elf=0\nmachine=\n");
  }
  printf("static=%d\nmusl=%d\nsanitizer=%s\n", linkage.is_static, linkage.musl,
         linkage.sanitizer ? linkage.sanitizer : "");
  // All three even for a file without the magic: `cgosan test` asks the version and
  // cgocheck2 of every test binary, Go or not.
  std::string_view go = GoBuildInfoBytes(elf, bytes);
  printf("go=%d\ngo_minor=%s\ncgocheck2=%d\n", HasGoBuildInfo(go), GoMinorVersion(go).c_str(),
         WantsCgocheck2(go));
  return 0;
}

}  // namespace cli
}  // namespace cgosan
