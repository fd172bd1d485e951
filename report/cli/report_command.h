// `cgosan report` (cgosan-tool report): arguments, the pipeline, the exit status.
#pragma once

namespace cgosan::cli {

// argv[0] is the first argument after "report". Returns the exit status: 0 no findings,
// 1 findings, 2 usage error or no input readable.
int RunReportCommand(int argc, char** argv);

}  // namespace cgosan::cli
