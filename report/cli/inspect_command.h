// `cgosan-tool inspect PATH`: everything scripts/cgosan asks about a program before it
// preloads it, from one read of the file, as key=value lines for the shell.
#pragma once

namespace cgosan {
namespace cli {

// Exit status: 0 with the answers printed; 1 when the file is an ELF object this cannot
// read (32-bit, big-endian, not an executable or shared object, corrupt headers): the
// wrapper then asks its shell checks; 2 for a usage error.
int RunInspectCommand(int argc, char** argv);

}  // namespace cli
}  // namespace cgosan
