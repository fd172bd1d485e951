// ElfBuildId: note parsing with every length checked against the note area.
#include "report/elf_build_id.h"

#include <cstring>

namespace cgosan {
namespace {

// Note areas holding a build id are tiny; larger ones are read only this far. Static, not on
// the (small) signal stack; callers are serialized by the symbolizer.
constexpr size_t kNoteBuf = 4096;
unsigned char g_note_buf[kNoteBuf];

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

bool FindBuildIdIn(const ElfReader& elf, uint64_t offset, uint64_t size, uint64_t align, char* out,
                   size_t cap) {
  unsigned char* buf = g_note_buf;
  if (size > kNoteBuf) size = kNoteBuf;
  size_t got = elf.ReadUpTo(offset, buf, static_cast<size_t>(size));
  // Notes are 4-byte aligned, except in 8-aligned segments (e.g. GNU property notes).
  if (align != 8) align = 4;
  uint64_t pos = 0;
  while (pos + sizeof(Elf64_Nhdr) <= got) {
    Elf64_Nhdr nh;
    memcpy(&nh, buf + pos, sizeof(nh));
    uint64_t name_at = pos + sizeof(nh);
    uint64_t desc_at = AlignUp(name_at + nh.n_namesz, align);
    uint64_t next = AlignUp(desc_at + nh.n_descsz, align);
    if (desc_at + nh.n_descsz > got || next <= pos) return false;
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(buf + name_at, "GNU", 4) == 0 &&
        nh.n_descsz > 0) {
      if (cap < 2 * size_t{nh.n_descsz} + 1) return false;
      static const char kHex[] = "0123456789abcdef";
      for (uint32_t i = 0; i < nh.n_descsz; ++i) {
        out[2 * i] = kHex[buf[desc_at + i] >> 4];
        out[2 * i + 1] = kHex[buf[desc_at + i] & 15];
      }
      out[2 * nh.n_descsz] = '\0';
      return true;
    }
    pos = next;
  }
  return false;
}

}  // namespace

bool ReadElfBuildId(const ElfReader& elf, char* out, size_t cap) {
  if (cap > 0) out[0] = '\0';
  for (int i = 0; i < elf.num_phdrs(); ++i) {
    Elf64_Phdr ph;
    if (!elf.Phdr(i, &ph) || ph.p_type != PT_NOTE || !elf.InFile(ph.p_offset, ph.p_filesz)) {
      continue;
    }
    if (FindBuildIdIn(elf, ph.p_offset, ph.p_filesz, ph.p_align, out, cap)) return true;
  }
  Elf64_Shdr sh;
  if (elf.FindSection(".note.gnu.build-id", &sh) >= 0 && sh.sh_type == SHT_NOTE &&
      elf.InFile(sh.sh_offset, sh.sh_size)) {
    return FindBuildIdIn(elf, sh.sh_offset, sh.sh_size, sh.sh_addralign, out, cap);
  }
  return false;
}

}  // namespace cgosan
