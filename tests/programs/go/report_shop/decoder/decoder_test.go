package decoder

import (
	"testing"

	"example.com/shop/cbuf"
)

func TestDecodeHeader(t *testing.T) {
	if cbuf.Checksum("header") == 0 {
		t.Fatal("zero")
	}
}
