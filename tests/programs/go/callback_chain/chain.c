// The C half of callback_chain: chain_outer calls the exported Go function goVisit, which
// calls chain_inner_read. Both keep their frames (noinline, work after the call: no tail
// call), so the access stack shows C, Go, C, Go in turn.
#include "_cgo_export.h"

__attribute__((noinline)) int chain_inner_read(const char *p) {
	return (unsigned char)p[0];
}

__attribute__((noinline)) int chain_outer(char *p) {
	int r = goVisit(p);
	return r * 2;
}
