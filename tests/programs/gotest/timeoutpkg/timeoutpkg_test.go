package timeoutpkg

import "testing"

func TestQuick(t *testing.T) { Nap() }

// TestOutlivesTimeout waits forever on a channel (a state that is the same in every run:
// the goroutine dump shows it in "chan receive").
func TestOutlivesTimeout(t *testing.T) {
	Nap()
	<-make(chan int)
}
