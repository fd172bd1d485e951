// The C half of c_thread_callback: thread_run starts a thread with pthread_create and
// joins it; the thread calls the exported Go function goOnCThread, which calls
// thread_inner_read.
#include <pthread.h>
#include <stdint.h>
#include "_cgo_export.h"

struct job {
	char *p;
	int result;
};

__attribute__((noinline)) int thread_inner_read(const char *p) {
	return (unsigned char)p[0];
}

static void *thread_main(void *arg) {
	struct job *j = arg;
	j->result = goOnCThread(j->p);
	return NULL;
}

__attribute__((noinline)) int thread_run(char *p) {
	struct job j = {p, -1};
	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, &j) != 0)
		return -2;
	pthread_join(t, NULL);
	return j.result;
}
