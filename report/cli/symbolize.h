// --symbolize: file:line for C frames that lack it, from the DWARF of the recorded module.
#pragma once

#include <ostream>
#include <vector>

#include "report/cli/finding_loader.h"

namespace cgosan::cli {

// For each module of each finding's `modules` list whose file on disk still has the
// recorded build id, asks addr2line (binutils) for the file and line of every C frame of
// that module without a file, and writes them into the finding. Modules that are gone, or
// whose build id differs, are skipped with one note each on `notes`. Offline: only the
// files on this machine are read.
void Symbolize(std::vector<LoadedFinding>* findings, std::ostream& notes);

}  // namespace cgosan::cli
