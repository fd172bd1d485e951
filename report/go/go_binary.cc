// Locating the Go tables in an ELF image. Works on an "image": the PT_LOAD segments either
// as mapped in this process (in-process attach) or as laid out in a read-only mapping of the
// file (tests). Words stored in the image are image addresses (relocated runtime addresses
// in-process; link-time addresses in a file, where the Go toolchain and gcc leave the
// relocation addend in place), so the same search code serves both.
#include "report/go/go_binary.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/go/go_buildinfo.h"

namespace cgosan {
namespace {

struct Segment {
  uint64_t addr = 0;  // image address
  uint64_t size = 0;  // file-backed bytes
  const uint8_t* ptr = nullptr;
  bool exec = false;
  bool write = false;
};

struct Image {
  Segment seg[32];
  int n = 0;
  uint64_t sym_to_image = 0;      // ELF vaddr -> image address
  uint64_t image_to_runtime = 0;  // image address -> runtime address

  // Pointer to image address a and the bytes readable from there, or nullptr.
  const uint8_t* Ptr(uint64_t a, uint64_t* avail) const {
    for (int i = 0; i < n; i++) {
      if (a >= seg[i].addr && a - seg[i].addr < seg[i].size) {
        *avail = seg[i].size - (a - seg[i].addr);
        return seg[i].ptr + (a - seg[i].addr);
      }
    }
    return nullptr;
  }
  bool InExec(uint64_t a) const {
    for (int i = 0; i < n; i++)
      if (seg[i].exec && a >= seg[i].addr && a - seg[i].addr < seg[i].size) return true;
    return false;
  }
  bool Load64(uint64_t a, uint64_t* v) const {
    uint64_t avail;
    const uint8_t* p = Ptr(a, &avail);
    if (p == nullptr || avail < 8) return false;
    memcpy(v, p, 8);
    return true;
  }
};

struct Symbols {
  uint64_t pclntab = 0, epclntab = 0, moduledata = 0, text = 0, gofunc = 0;
};

// One pass over .symtab for the few runtime symbols we need (file mapping: fast compares).
void FindRuntimeSymbols(const ElfReader& elf, const uint8_t* file, uint64_t file_size,
                        GoBinaryInfo* info, Symbols* out) {
  SymbolTableInfo t;
  if (!FindSymbolTable(elf, &t) || !t.is_symtab) return;
  info->has_symtab = true;
  if (t.sym_offset + t.sym_count * sizeof(Elf64_Sym) > file_size || t.str_offset > file_size ||
      t.str_size > file_size - t.str_offset)
    return;
  const char* strtab = reinterpret_cast<const char*>(file + t.str_offset);
  static const struct {
    const char* name;
    uint64_t Symbols::*field;
  } kWanted[] = {{"runtime.pclntab", &Symbols::pclntab},
                 {"runtime.epclntab", &Symbols::epclntab},
                 {"runtime.firstmoduledata", &Symbols::moduledata},
                 {"runtime.text", &Symbols::text},
                 {"go.func.*", &Symbols::gofunc},
                 {"go:func.*", &Symbols::gofunc}};
  for (uint64_t i = 0; i < t.sym_count; i++) {
    Elf64_Sym s;
    memcpy(&s, file + t.sym_offset + i * sizeof(Elf64_Sym), sizeof(s));
    if (s.st_name == 0 || s.st_name >= t.str_size || s.st_shndx == SHN_UNDEF) continue;
    const char* name = strtab + s.st_name;
    if (name[0] != 'r' && name[0] != 'g') continue;
    size_t max = t.str_size - s.st_name;
    for (const auto& w : kWanted) {
      size_t len = strlen(w.name);
      if (len < max && memcmp(name, w.name, len + 1) == 0) out->*w.field = s.st_value;
    }
  }
}

bool TryPclntab(const Image& img, uint64_t a, uint64_t known_size, GoBinaryInfo* info,
                const char* source) {
  uint64_t avail;
  const uint8_t* p = img.Ptr(a, &avail);
  if (p == nullptr || !Pclntab::PlausibleHeader(p, avail)) return false;
  uint64_t text;
  memcpy(&text, p + 24, 8);
  size_t size =
      known_size != 0 && known_size <= avail ? known_size : Pclntab::ComputeExtent(p, avail);
  if (size == 0 || !Pclntab::PlausibleHeader(p, size)) return false;
  memcpy(&info->magic, p, 4);
  info->pclntab = reinterpret_cast<uintptr_t>(p);
  info->pclntab_size = size;
  info->text_start = text + img.image_to_runtime;
  info->pclntab_source = source;
  info->found = true;
  return true;
}

// Stripped binary: the pcHeader somewhere in the non-executable segments, with textStart
// inside an executable one and a self-consistent header and first _func.
bool ScanForPclntab(const Image& img, GoBinaryInfo* info) {
  for (int i = 0; i < img.n; i++) {
    const Segment& s = img.seg[i];
    if (s.exec || s.size < 72) continue;
    for (uint64_t off = 0; off + 72 <= s.size; off += 4) {
      const uint8_t* p = s.ptr + off;
      if (p[3] != 0xff || p[2] != 0xff || p[1] != 0xff || (p[0] & 0xfe) != 0xf0) continue;
      if (p[4] != 0 || p[5] != 0 || p[6] != 1 || p[7] != 8) continue;
      uint64_t text;
      memcpy(&text, p + 24, 8);
      if (!img.InExec(text)) continue;
      if (!Pclntab::PlausibleHeader(p, s.size - off)) continue;
      size_t extent = Pclntab::ComputeExtent(p, s.size - off);
      if (extent == 0) continue;
      Pclntab t;
      uint32_t magic;
      memcpy(&magic, p, 4);
      GoFuncInfo f;
      if (!t.Init(p, extent, magic, text) || !t.FindFuncByIndex(0, &f) || t.FuncName(f) == nullptr)
        continue;
      if (TryPclntab(img, s.addr + off, extent, info, "scan")) return true;
    }
  }
  return false;
}

// firstmoduledata without a symbol: a writable word equal to the pclntab's image address
// followed by funcnametab's slice pointing at pclntab + funcnameOffset.
uint64_t ScanForModuledata(const Image& img, uint64_t pclntab_image) {
  uint64_t avail;
  const uint8_t* hdr = img.Ptr(pclntab_image, &avail);
  if (hdr == nullptr) return 0;
  uint64_t funcname_off;
  memcpy(&funcname_off, hdr + 32, 8);
  for (int i = 0; i < img.n; i++) {
    const Segment& s = img.seg[i];
    if (!s.write) continue;
    for (uint64_t off = 0; off + 16 <= s.size; off += 8) {
      uint64_t w0, w1;
      memcpy(&w0, s.ptr + off, 8);
      if (w0 != pclntab_image) continue;
      memcpy(&w1, s.ptr + off + 8, 8);
      if (w1 == pclntab_image + funcname_off) return s.addr + off;
    }
  }
  return 0;
}

void FindBuildInfo(const ElfReader& elf, const Image& img, GoBinaryInfo* info) {
  GoBuildInfo bi;
  bool ok = false;
  Elf64_Shdr sh;
  if (elf.FindSection(".go.buildinfo", &sh) >= 0) {
    uint64_t avail;
    const uint8_t* p = img.Ptr(sh.sh_addr + img.sym_to_image, &avail);
    ok = p != nullptr && ParseGoBuildInfo(p, avail, &bi);
  }
  for (int i = 0; !ok && i < img.n; i++) {
    const Segment& s = img.seg[i];
    if (s.exec) continue;
    for (uint64_t off = 0; off + 32 <= s.size && !ok; off += 16) {
      if (s.ptr[off] == 0xff && memcmp(s.ptr + off, kGoBuildInfoMagic, kGoBuildInfoMagicLen) == 0)
        ok = ParseGoBuildInfo(s.ptr + off, s.size - off, &bi);
    }
  }
  if (!ok) return;
  memcpy(info->version, bi.version, sizeof(info->version));
  memcpy(info->goexperiment, bi.goexperiment, sizeof(info->goexperiment));
  info->go_major = bi.go_major;
  info->go_minor = bi.go_minor;
}

bool Locate(const ElfReader& elf, const uint8_t* file, uint64_t file_size, const Image& img,
            GoBinaryInfo* info) {
  Symbols sym;
  FindRuntimeSymbols(elf, file, file_size, info, &sym);
  FindBuildInfo(elf, img, info);

  Elf64_Shdr sh;
  if (sym.pclntab != 0) {
    uint64_t size = sym.epclntab > sym.pclntab ? sym.epclntab - sym.pclntab : 0;
    TryPclntab(img, sym.pclntab + img.sym_to_image, size, info, "symbol");
  }
  if (!info->found && elf.FindSection(".gopclntab", &sh) >= 0 && sh.sh_addr != 0)
    TryPclntab(img, sh.sh_addr + img.sym_to_image, sh.sh_size, info, "section");
  uint64_t md = sym.moduledata != 0 ? sym.moduledata + img.sym_to_image : 0;
  uint64_t word;
  if (!info->found && md != 0 && img.Load64(md, &word))
    TryPclntab(img, word, 0, info, "moduledata");
  if (!info->found && !ScanForPclntab(img, info)) return false;

  // Back from the pointer we hand out to the table's image address.
  uint64_t pclntab_image = 0;
  for (int i = 0; i < img.n; i++) {
    const Segment& s = img.seg[i];
    uintptr_t p = reinterpret_cast<uintptr_t>(s.ptr);
    if (info->pclntab >= p && info->pclntab - p < s.size)
      pclntab_image = s.addr + (info->pclntab - p);
  }
  if (info->text_start == img.image_to_runtime && sym.text != 0)  // header word not relocated
    info->text_start = sym.text + img.sym_to_image + img.image_to_runtime;
  if (md == 0) md = ScanForModuledata(img, pclntab_image);
  if (md != 0) info->moduledata = md + img.image_to_runtime;

  uint64_t gofunc = sym.gofunc != 0 ? sym.gofunc + img.sym_to_image : 0;
  if (gofunc == 0 && md != 0)  // moduledata.gofunc: after covctrs/ecovctrs were added in 1.20
    img.Load64(md + (info->magic == Pclntab::kMagic118 ? 304 : 320), &gofunc);
  uint64_t avail;
  const uint8_t* g = gofunc != 0 ? img.Ptr(gofunc, &avail) : nullptr;
  if (g != nullptr) {
    info->gofunc = reinterpret_cast<uintptr_t>(g);
    info->gofunc_size = avail;
  }
  return true;
}

// Maps a whole file read-only; the ElfReader validates it first.
const uint8_t* MapFile(const char* path, uint64_t* size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  void* m = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size > 0)
    m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return nullptr;
  *size = static_cast<uint64_t>(st.st_size);
  return static_cast<const uint8_t*>(m);
}

// Segments from the program headers: in the file mapping, or in memory at vaddr + bias.
void BuildImage(const ElfReader& elf, const uint8_t* file, uint64_t file_size, bool in_memory,
                uintptr_t bias, Image* img) {
  for (int i = 0; i < elf.num_phdrs() && img->n < 32; i++) {
    Elf64_Phdr ph;
    if (!elf.Phdr(i, &ph) || ph.p_type != PT_LOAD || ph.p_filesz == 0) continue;
    if (!elf.InFile(ph.p_offset, ph.p_filesz)) continue;
    Segment& s = img->seg[img->n++];
    s.exec = (ph.p_flags & PF_X) != 0;
    s.write = (ph.p_flags & PF_W) != 0;
    s.size = ph.p_filesz;
    if (in_memory) {
      s.addr = ph.p_vaddr + bias;
      s.ptr = reinterpret_cast<const uint8_t*>(s.addr);
    } else {
      s.addr = ph.p_vaddr;
      s.ptr = file + ph.p_offset;
    }
  }
  img->sym_to_image = in_memory ? bias : 0;
  img->image_to_runtime = in_memory ? 0 : bias;
}

}  // namespace

bool LoadGoBinary(GoBinaryInfo* info) {
  *info = GoBinaryInfo();
  ElfReader elf;
  if (!elf.Open("/proc/self/exe")) return false;
  // Load bias from the kernel's AT_PHDR against the ELF's own program header address.
  uintptr_t bias = 0;
  uintptr_t at_phdr = getauxval(AT_PHDR);
  for (int i = 0; i < elf.num_phdrs(); i++) {
    Elf64_Phdr ph;
    if (elf.Phdr(i, &ph) && ph.p_type == PT_PHDR) bias = at_phdr - ph.p_vaddr;
  }
  if (elf.header().e_type == ET_EXEC) bias = 0;
  uint64_t file_size = 0;
  const uint8_t* file = MapFile("/proc/self/exe", &file_size);
  if (file == nullptr) return false;
  Image img;
  BuildImage(elf, file, file_size, true, bias, &img);
  info->load_bias = bias;
  bool ok = Locate(elf, file, file_size, img, info);
  munmap(const_cast<uint8_t*>(file), file_size);  // only symbol names were read from it
  return ok;
}

bool LoadGoBinaryFromFile(const char* path, uintptr_t bias, GoBinaryInfo* info) {
  *info = GoBinaryInfo();
  ElfReader elf;
  if (!elf.Open(path)) return false;
  uint64_t file_size = 0;
  const uint8_t* file = MapFile(path, &file_size);
  if (file == nullptr) return false;
  info->file_map = const_cast<uint8_t*>(file);
  info->file_map_size = file_size;
  Image img;
  BuildImage(elf, file, file_size, false, bias, &img);
  info->load_bias = bias;
  return Locate(elf, file, file_size, img, info);
}

void UnloadGoBinaryFile(GoBinaryInfo* info) {
  if (info->file_map != nullptr) munmap(info->file_map, info->file_map_size);
  info->file_map = nullptr;
  info->file_map_size = 0;
  info->found = false;
}

bool InitPclntab(const GoBinaryInfo& info, Pclntab* table) {
  if (!info.found || !table->Init(reinterpret_cast<const void*>(info.pclntab), info.pclntab_size,
                                  info.magic, info.text_start))
    return false;
  if (info.gofunc != 0)
    table->SetFuncData(reinterpret_cast<const void*>(info.gofunc), info.gofunc_size);
  return true;
}

}  // namespace cgosan
