package uafpkg

import "testing"

// TestUseAfterFree reads, in C, a C string that was freed but left in the map.
func TestUseAfterFree(t *testing.T) {
	n := NewNames("alpha", "beta", "gamma")
	n.FreeOnly("gamma")
	if got := n.First("gamma"); got == 'h' {
		t.Logf("read the freed string")
	}
	delete(n, "gamma")
	n.Close()
}

// TestOK is the correct twin: read, then free and delete.
func TestOK(t *testing.T) {
	n := NewNames("alpha", "beta", "gamma")
	if got := n.First("gamma"); got != 'h' {
		t.Fatalf("first byte %q, want 'h'", got)
	}
	n.Remove("gamma")
	n.Close()
}
