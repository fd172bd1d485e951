// Runs one of scripts/cgosan's shell checks (is_static_elf, sanitizer_runtime, ...) on a
// file, the way the wrapper runs them without cgosan-tool: the unit tests of inspect's rules
// compare their answers with these, so that the tool and its fallback cannot drift apart.
#pragma once

#include <string>

#include "tests/unit/command_test_util.h"

namespace cgosan {
namespace testing_util {

// "<stdout>rc=<status>" of `check path` with the wrapper's functions loaded (its last line,
// `main "$@"`, left out), e.g. "AddressSanitizer\nrc=0".
inline std::string ShellCheck(const std::string& check, const std::string& path) {
  std::string script = std::string(CGOSAN_SOURCE_DIR) + "/scripts/cgosan";
  std::string cmd =
      "bash -c 'source <(sed \"/^main \\\"\\$@\\\"$/d\" \"$0\"); "
      "if " +
      check + " \"$1\"; then echo rc=0; else echo rc=1; fi' '" + script + "' '" + path + "' 2>&1";
  return RunCommand(cmd);
}

// "REPLY=<value>\nrc=0\n" of `check path` for a check that sets REPLY instead of printing
// (the wrapper calls those as plain commands, not in a subshell, so errexit is on: a command
// failing inside the check ends the shell before "rc=0", as it would end the wrapper).
inline std::string ShellReply(const std::string& check, const std::string& path) {
  std::string script = std::string(CGOSAN_SOURCE_DIR) + "/scripts/cgosan";
  std::string cmd =
      "bash -c 'source <(sed \"/^main \\\"\\$@\\\"$/d\" \"$0\"); " + check +
      " \"$1\"; printf \"REPLY=%s\\nrc=0\\n\" \"$REPLY\"' '" + script + "' '" + path + "' 2>&1";
  return RunCommand(cmd);
}

}  // namespace testing_util
}  // namespace cgosan
