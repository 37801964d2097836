package cli

import (
	"context"
	"os"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// openSource opens what a user names on the command line: a link to a
// shared recording, or a local recording folder. close releases it.
func openSource(ctx context.Context, arg string) (src avsync.Source, close func(), err error) {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		f, err := p2pnet.OpenFolder(arg)
		if err != nil {
			return nil, nil, err
		}
		return avsync.FolderSource(f), func() {}, nil
	}
	h, rec, err := openLink(ctx, arg)
	if err != nil {
		return nil, nil, err
	}
	return rec.Source(), func() { h.Close() }, nil
}
