package gossip

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestDecodeKey(t *testing.T) {
	for _, tt := range []struct {
		in   string
		size int // 0: refused
	}{
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), 16},
		{base64.StdEncoding.EncodeToString(make([]byte, 24)), 24},
		{base64.StdEncoding.EncodeToString(make([]byte, 32)), 32},
		{base64.StdEncoding.EncodeToString(make([]byte, 20)), 0},
		{base64.StdEncoding.EncodeToString(make([]byte, 33)), 0},
		{"", 0},
		{"not base64!", 0},
	} {
		k, err := DecodeKey(tt.in)
		if tt.size == 0 {
			if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "16, 24 or 32 bytes") {
				t.Errorf("DecodeKey(%q): %v, want ErrKey saying the sizes", tt.in, err)
			}
			continue
		}
		if err != nil || len(k) != tt.size {
			t.Errorf("DecodeKey(%q): %d bytes, %v; want %d", tt.in, len(k), err, tt.size)
		}
	}
}
