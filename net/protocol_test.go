package net

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	for _, req := range []request{
		{Method: MethodGet, Token: "abc"},
		{Method: MethodReadRange, Token: "abc", Track: "camera", Offset: 1 << 40, Length: MaxReadLength},
		{Method: MethodReadRange, Token: "abc", Track: "../x", Length: 0},
		{Method: MethodReadRange, Token: "abc", Track: "mic", Length: 10, Version: "1f-18a2b3c4d5e6f708"},
	} {
		f.Add(frame(req))
	}
	f.Add(frameRaw(`{"method":"stream.get","token":"x","path":"/etc/passwd"}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Add(frameRaw(`{"method":"stream.get","token":"` + strings.Repeat("<", 2000) + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if req.Length > MaxReadLength || req.Offset < 0 || req.Token == "" {
			t.Fatalf("accepted an invalid request %+v", req)
		}
		re := frame(req)
		if len(re) > maxRequestHeader+binary.MaxVarintLen64 {
			// Marshalling escapes <, > and & six-fold; a request that
			// grows past the cap is refused, as it should be.
			return
		}
		again, err := decodeRequest(bufio.NewReader(bytes.NewReader(re)))
		if err != nil || again != req {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", req, again, err)
		}
	})
}
