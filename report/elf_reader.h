// ElfReader: bounds-checked reads of an ELF64 little-endian file through pread, for the
// symbolizer. No allocation, no stdio, no locks: usable from a signal handler. Every offset
// and size taken from the file is checked against the file's real size first, so a
// truncated or corrupt file makes a query fail instead of reading garbage or crashing.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>

namespace cgosan {

class ElfReader {
 public:
  ElfReader() = default;
  ~ElfReader() { Close(); }
  ElfReader(const ElfReader&) = delete;
  ElfReader& operator=(const ElfReader&) = delete;

  // Opens a regular file and validates its ELF header and program header table. Section
  // headers that do not fit the file are ignored (num_sections() == 0), not fatal: the
  // program headers alone still give the load bias and the build id.
  bool Open(const char* path);
  void Close();
  bool is_open() const { return fd_ >= 0; }

  uint64_t file_size() const { return size_; }
  const Elf64_Ehdr& header() const { return ehdr_; }

  // Reads exactly n bytes at offset; false if any of them lies outside the file.
  bool Read(uint64_t offset, void* buf, size_t n) const;
  // Reads up to n bytes at offset, clipped at the end of the file; returns the count.
  size_t ReadUpTo(uint64_t offset, void* buf, size_t n) const;
  // Whether [offset, offset+size) lies inside the file (overflow-safe).
  bool InFile(uint64_t offset, uint64_t size) const;

  int num_phdrs() const { return phnum_; }
  bool Phdr(int i, Elf64_Phdr* out) const;
  int num_sections() const { return shnum_; }
  bool Section(int i, Elf64_Shdr* out) const;

  // Index of the section called `name` (looked up in the section name table), or -1.
  int FindSection(const char* name, Elf64_Shdr* out) const;
  // Index of the first section of `type` (SHT_SYMTAB, ...), or -1.
  int FindSectionByType(uint32_t type, Elf64_Shdr* out) const;
  // Index of the allocated, file-backed section holding vaddr, or -1.
  int SectionContaining(uint64_t vaddr) const;

  // Copies the NUL-terminated string at `index` of the string table [table_off,
  // table_off+table_size) into out (truncated to cap-1 chars). False if index is outside it.
  bool ReadString(uint64_t table_off, uint64_t table_size, uint64_t index, char* out,
                  size_t cap) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  Elf64_Ehdr ehdr_ = {};
  int phnum_ = 0;
  int shnum_ = 0;
  int shstrndx_ = -1;
  // Small reads (a symbol, a name) are served from a window of the file read ahead in one
  // pread: a symbol table walk would otherwise be two system calls per symbol. Mapped with a
  // raw mmap on first use (no lock: readers also run in signal handlers), unmapped by Close.
  mutable char* window_ = nullptr;
  mutable uint64_t window_offset_ = 0;
  mutable size_t window_len_ = 0;
  size_t ReadFromFile(uint64_t offset, void* buf, size_t n) const;
};

}  // namespace cgosan
