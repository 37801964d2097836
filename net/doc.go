// Package net is Reelay's libp2p room: the host and its identity, the share
// link, the wire protocol /reelay/stream/1.0.0, the sharer that serves a
// recording folder, and the viewer side that reads remote tracks as
// io.ReaderAt and io.ReadSeeker through a block cache with readahead, and
// keeps its connection to the sharer up (reconnect.go). Only this package
// imports libp2p: what a player needs to know of tracks, readers and the
// connection is in net/track, so the player engine links none of it.
//
// Files that also need the standard library's net import it as stdnet; other
// packages import this one as p2pnet.
package net
