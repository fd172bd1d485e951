package encoder

import (
	"testing"

	"example.com/shop/cbuf"
)

func TestEncodeFrame(t *testing.T) {
	if cbuf.Checksum("frame") == 0 {
		t.Fatal("zero")
	}
}
