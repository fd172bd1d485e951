// behaviour: a correct cgo program whose every mode does something a real program does
// through cgo or the runtime's signal machinery. tests/integration/test_behaviour.py runs each
// mode with and without cgosan and compares stdout, the exit status and Go's own stderr
// (modes: net, user, dlopen, cxx, cthreads, notify, sigquit, lockosthread, goroutines).
// The C side is in cside.c and cxxside.cc (a file with //export may only declare them).
package main

/*
#cgo LDFLAGS: -pthread -ldl -lstdc++
#include <stdlib.h>

double dl_call_cos(double x);
int dl_missing_symbol(void);
int cxx_throw_and_catch(int rounds);
int cxx_vector_sum(int n);
long run_c_threads(int threads, int calls);
long c_gettid(void);
int c_add(int a, int b);
*/
import "C"

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"os/user"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var callbacks int64

// goFromCThread runs on threads that C created with pthread_create.
//
//export goFromCThread
func goFromCThread(i C.int) C.int {
	atomic.AddInt64(&callbacks, 1)
	return i + 1
}

func modeNet() {
	// With GODEBUG=netdns=cgo the resolver is getaddrinfo through cgo.
	addrs, err := net.LookupHost("localhost")
	if err != nil {
		fail("LookupHost: %v", err)
	}
	sort.Strings(addrs)
	fmt.Println("localhost:", strings.Join(addrs, " "))
	port, err := net.LookupPort("tcp", "80")
	fmt.Println("port:", port, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("Listen: %v", err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 5)
		n, _ := c.Read(buf)
		c.Write([]byte(strings.ToUpper(string(buf[:n]))))
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fail("Dial: %v", err)
	}
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	n, _ := c.Read(buf)
	fmt.Println("echo:", string(buf[:n]))
	c.Close()
	ln.Close()
}

func modeUser() {
	u, err := user.Current()
	if err != nil {
		fail("Current: %v", err)
	}
	fmt.Println("current:", u.Username, u.Uid, u.Gid, u.HomeDir)
	r, err := user.Lookup("root")
	if err != nil {
		fail("Lookup: %v", err)
	}
	fmt.Println("root:", r.Uid, r.Gid, r.HomeDir)
	g, err := user.LookupGroupId("0")
	if err != nil {
		fail("LookupGroupId: %v", err)
	}
	fmt.Println("group 0:", g.Name)
	_, err = user.Lookup("no-such-user-cgosan")
	fmt.Println("missing:", err)
	ids, err := u.GroupIds()
	fmt.Println("groups:", len(ids) > 0, err)
}

func modeDlopen() {
	for i := 0; i < 100; i++ {
		if v := float64(C.dl_call_cos(0)); v != 1 {
			fail("cos(0) = %v", v)
		}
	}
	fmt.Println("cos(0) via dlopen: 1")
	fmt.Println("missing symbol:", int(C.dl_missing_symbol()))
}

func modeCxx() {
	fmt.Println("caught:", int(C.cxx_throw_and_catch(1000)))
	fmt.Println("vector sum:", int(C.cxx_vector_sum(100000)))
}

func modeCThreads() {
	total := int64(C.run_c_threads(8, 2000))
	fmt.Println("c threads total:", total, "callbacks:", atomic.LoadInt64(&callbacks))
}

func modeNotify() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGHUP)
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR1} {
		syscall.Kill(os.Getpid(), s)
		select {
		case got := <-c:
			fmt.Println("got", got)
		case <-time.After(10 * time.Second):
			fail("no %v", s)
		}
	}
	signal.Reset(syscall.SIGHUP)
	signal.Ignore(syscall.SIGHUP)
	syscall.Kill(os.Getpid(), syscall.SIGHUP) // ignored: nothing happens
	time.Sleep(50 * time.Millisecond)
	fmt.Println("after ignored SIGHUP")
}

// modeSigquit parks goroutines at known places, then sends itself SIGQUIT: Go prints its
// goroutine dump to stderr and exits 2. The signal goes to the sending thread (tgkill, the
// goroutine locked to it), so the dump shows main in syscall.Tgkill in every run; a
// process-directed kill lands on any thread, and main is then either still in the syscall
// or already parked, run by run.
func modeSigquit() {
	runtime.LockOSThread()
	var ready sync.WaitGroup
	block := make(chan int)
	for i := 0; i < 3; i++ {
		ready.Add(1)
		go parked(&ready, block)
	}
	ready.Wait()
	time.Sleep(50 * time.Millisecond)
	fmt.Println("sending SIGQUIT")
	os.Stdout.Sync()
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGQUIT)
	<-block
}

func parked(ready *sync.WaitGroup, block chan int) {
	ready.Done()
	<-block
}

func modeLockOSThread() {
	var wg sync.WaitGroup
	var bad int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tid := C.c_gettid()
			for i := 0; i < 500; i++ {
				cs := C.CString("x")
				C.free(unsafe.Pointer(cs))
				runtime.Gosched()
				if C.c_gettid() != tid {
					atomic.AddInt64(&bad, 1)
				}
			}
		}()
	}
	wg.Wait()
	// A locked goroutine that exits without unlocking takes its thread with it.
	done := make(chan bool)
	go func() {
		runtime.LockOSThread()
		C.c_gettid()
		done <- true
	}()
	<-done
	fmt.Println("thread changed while locked:", bad)
}

func modeGoroutines() {
	const n = 10000
	var wg sync.WaitGroup
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%10 == 0 {
				results <- int(C.c_add(C.int(i), 1)) - 1
			} else {
				results <- i
			}
		}(i)
	}
	wg.Wait()
	close(results)
	sum := 0
	for v := range results {
		sum += v
	}
	fmt.Println("goroutines:", n, "sum:", sum)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: behaviour MODE")
	}
	modes := map[string]func(){
		"net": modeNet, "user": modeUser, "dlopen": modeDlopen, "cxx": modeCxx,
		"cthreads": modeCThreads, "notify": modeNotify, "sigquit": modeSigquit,
		"lockosthread": modeLockOSThread, "goroutines": modeGoroutines,
	}
	f := modes[os.Args[1]]
	if f == nil {
		fail("unknown mode %s", os.Args[1])
	}
	f()
	fmt.Println("done")
}
