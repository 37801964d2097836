package net

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	msmux "github.com/multiformats/go-multistream"
)

// openStream opens a stream of the Reelay protocol to id over a
// connection that exists, and sends the protocol's name with the first
// request rather than a round trip before it (multistream-select's lazy
// negotiation). The host's NewStream would first wait for the identify
// exchange a new connection starts, a round trip the first request of a
// recording does not need: only a Reelay sharer answers it, and anything
// else fails it at its first read.
func openStream(ctx context.Context, h host.Host, id peer.ID) (network.Stream, error) {
	s, err := h.Network().NewStream(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.SetProtocol(ProtocolID); err != nil {
		s.Reset()
		return nil, err
	}
	return &lazyStream{Stream: s, rw: msmux.NewMSSelect(s, ProtocolID)}, nil
}

// lazyStream is a stream whose protocol is negotiated by its first write
// and read.
type lazyStream struct {
	network.Stream
	rw io.ReadWriteCloser
}

func (s *lazyStream) Read(b []byte) (int, error)  { return s.rw.Read(b) }
func (s *lazyStream) Write(b []byte) (int, error) { return s.rw.Write(b) }

// Close closes the stream; the negotiation's answer is waited for a
// bounded time, so a silent peer cannot hold it.
func (s *lazyStream) Close() error {
	_ = s.Stream.SetReadDeadline(time.Now().Add(lazyCloseWait))
	return s.rw.Close()
}

// CloseWrite sends what the negotiation holds back, then ends the
// writing half.
func (s *lazyStream) CloseWrite() error {
	if f, ok := s.rw.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	return s.Stream.CloseWrite()
}

// lazyCloseWait bounds how long Close waits for the negotiation's answer.
const lazyCloseWait = 10 * time.Second
