// The C half of panic_through_c: a frame between Go and the panicking Go callback, and the
// reader of the C string.
#include "_cgo_export.h"

__attribute__((noinline)) void call_go_that_panics(void) {
	goPanics();
}

__attribute__((noinline)) int read_first(const char *p) {
	return (unsigned char)p[0];
}
