package net

import (
	"bufio"
	"bytes"
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	for _, req := range []request{
		{Method: MethodGet, Token: "abc"},
		{Method: MethodReadRange, Token: "abc", Track: "camera", Offset: 1 << 40, Length: MaxReadLength},
		{Method: MethodReadRange, Token: "abc", Track: "../x", Length: 0},
	} {
		f.Add(frame(req))
	}
	f.Add(frameRaw(`{"method":"stream.get","token":"x","path":"/etc/passwd"}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if req.Length > MaxReadLength || req.Offset < 0 || req.Token == "" {
			t.Fatalf("accepted an invalid request %+v", req)
		}
		again, err := decodeRequest(bufio.NewReader(bytes.NewReader(frame(req))))
		if err != nil || again != req {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", req, again, err)
		}
	})
}
