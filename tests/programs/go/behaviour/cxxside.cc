// C++ side of behaviour: exceptions thrown and caught inside the library, across frames and
// with allocations on the way (the unwinder is libgcc_s's, which cgosan must leave alone).
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

__attribute__((noinline)) int deep(int depth, int i) {
  std::vector<std::string> keep(3, std::string(40, 'x'));
  if (depth == 0) {
    if (i % 3 == 0) throw std::runtime_error("error " + std::to_string(i));
    if (i % 3 == 1) throw std::out_of_range("range");
    throw i;
  }
  return deep(depth - 1, i) + static_cast<int>(keep.size());
}

}  // namespace

extern "C" int cxx_throw_and_catch(int rounds) {
  int caught = 0;
  for (int i = 0; i < rounds; i++) {
    try {
      deep(5, i);
    } catch (const std::runtime_error& e) {
      caught += e.what()[0] == 'e';
    } catch (const std::exception&) {
      caught++;
    } catch (int) {
      caught++;
    }
  }
  return caught;
}

extern "C" int cxx_vector_sum(int n) {
  std::vector<std::unique_ptr<int>> v;
  for (int i = 0; i < n; i++) v.push_back(std::make_unique<int>(i % 7));
  int s = 0;
  for (auto& p : v) s += *p;
  return s;
}
