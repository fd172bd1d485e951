// Shared helpers for the cgosan C test programs (header only, no cgosan dependency).
// Every program prints deterministic lines on stdout and flushes them before doing
// anything that may end the process, so a test sees them even when the process dies.
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline)) __attribute__((used))

static inline void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

// Mode "ok" is the correct twin: its output must be identical with and without the
// preload, so it prints no addresses (ASLR and the allocator change them).
static int twin_mode = 0;

static inline const char* mode_arg(int argc, char** argv, const char* dflt) {
  const char* mode = argc > 1 ? argv[1] : dflt;
  twin_mode = strcmp(mode, "ok") == 0;
  return mode;
}

// Prints "key=0x..." (the address a finding must name), except in the twin.
static inline void say_ptr(const char* key, const void* p) {
  if (!twin_mode) say("%s=%p", key, p);
}

static inline int is_mode(const char* mode, const char* name) { return strcmp(mode, name) == 0; }

static inline int unknown_mode(const char* mode) {
  fprintf(stderr, "unknown mode: %s\n", mode);
  return 64;
}
