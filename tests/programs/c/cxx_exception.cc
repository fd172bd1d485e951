// C++ exceptions under the preload: 1000 throw/catch round trips of std::runtime_error
// through three noinline frames, a rethrow, a nested catch, and a catch(...) of an int.
// The unwinder must be libgcc_s's (never libunwind's). Prints "OK <caught> <rethrown>".
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#define NOINLINE __attribute__((noinline))

NOINLINE void thrower(int i) {
  std::vector<std::string> locals(3, "destructor runs during unwinding");
  if (i >= 0) throw std::runtime_error("boom " + std::to_string(i));
}

NOINLINE void middle(int i) {
  std::string s(100, 'x');
  thrower(i);
}

NOINLINE int outer(int i) {
  try {
    middle(i);
  } catch (const std::runtime_error& e) {
    std::string expected = "boom " + std::to_string(i);
    return expected == e.what() ? 1 : 0;
  }
  return 0;
}

NOINLINE void rethrower() {
  try {
    middle(7);
  } catch (const std::exception&) {
    throw;
  }
}

int main() {
  int caught = 0;
  for (int i = 0; i < 1000; i++) caught += outer(i);
  int rethrown = 0;
  try {
    rethrower();
  } catch (const std::runtime_error& e) {
    rethrown = std::string(e.what()) == "boom 7";
  }
  int other = 0;
  try {
    try {
      throw 42;
    } catch (const std::exception&) {
      other = -1;
    }
  } catch (int v) {
    other = v == 42;
  }
  std::printf("%s %d %d %d\n", caught == 1000 && rethrown && other == 1 ? "OK" : "FAIL", caught,
              rethrown, other);
  return caught == 1000 && rethrown && other == 1 ? 0 : 1;
}
