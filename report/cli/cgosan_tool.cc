// cgosan-tool: subcommands of the `cgosan` wrapper that need cgosan's own code.
// help-options prints the option table (the same table the preload parses); report turns
// JSON findings into distinct bugs (report_command.cc); inspect answers the wrapper's
// questions about a program before it is preloaded (inspect_command.cc).
#include <cstdio>
#include <cstring>

#include "report/cli/inspect_command.h"
#include "report/cli/report_command.h"
#include "shadow/options.h"

int main(int argc, char** argv) {
  if (argc >= 2 && (strcmp(argv[1], "help-options") == 0 || strcmp(argv[1], "--help") == 0)) {
    static char storage[64 * 1024];
    cgosan::TextBuffer out(storage, sizeof(storage));
    cgosan::FormatOptionsHelp(&out);
    fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "report") == 0) {
    return cgosan::cli::RunReportCommand(argc - 2, argv + 2);
  }
  if (argc >= 2 && strcmp(argv[1], "inspect") == 0) {
    return cgosan::cli::RunInspectCommand(argc - 2, argv + 2);
  }
  fprintf(stderr, "usage: cgosan-tool help-options | report [options] PATH... | inspect PATH\n");
  return 2;
}
