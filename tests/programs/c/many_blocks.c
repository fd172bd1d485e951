// 200k live 24-byte blocks at once (more than the guard pool and the mapping budget hold
// under guard=all): every malloc must succeed, keep its contents, and be freed.
// argv[1]: number of blocks (default 200000). Prints "OK <n>".
#include <stdint.h>

#include "common.h"

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  unsigned char** blocks = (unsigned char**)malloc(sizeof(*blocks) * (size_t)n);
  if (!blocks) {
    say("FAIL array");
    return 1;
  }
  for (long i = 0; i < n; i++) {
    blocks[i] = (unsigned char*)malloc(24);
    if (!blocks[i]) {
      say("FAIL malloc %ld", i);
      return 1;
    }
    memset(blocks[i], (int)(i & 0xff), 24);
  }
  long bad = 0;
  for (long i = 0; i < n; i++) {
    for (int j = 0; j < 24; j++)
      if (blocks[i][j] != (unsigned char)(i & 0xff)) bad++;
  }
  for (long i = 0; i < n; i++) free(blocks[i]);
  free(blocks);
  if (bad) {
    say("FAIL %ld", bad);
    return 1;
  }
  say("OK %ld", n);
  return 0;
}
