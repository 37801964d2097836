package net

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrIdentityInUse is what NewHost fails with when another host, in this
// process or another, runs with the same IdentityFile. One identity is one
// peer ID: two processes answering to it would each get some of its
// viewers, and a viewer reaching the one that does not share its
// recording would be told the recording is gone.
var ErrIdentityInUse = errors.New("net: the identity is in use by another Reelay")

// identityLock holds the lock file beside an identity key for as long as
// a host runs with it: an exclusive flock, which the kernel releases when
// the process ends however it ends, so a crash leaves nothing stale.
type identityLock struct {
	f *os.File
}

// lockIdentity takes the lock of the identity key at keyPath, or fails
// with ErrIdentityInUse naming the process that holds it.
func lockIdentity(keyPath string) (*identityLock, error) {
	path := keyPath + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("net: opening the identity's lock %s failed: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				return nil, fmt.Errorf("%w (process %s)", ErrIdentityInUse, pid)
			}
			return nil, ErrIdentityInUse
		}
		return nil, fmt.Errorf("net: locking the identity %s failed: %w", keyPath, err)
	}
	// The holder's process ID, for the message another one gets.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &identityLock{f: f}, nil
}

// release lets another host take the identity.
func (l *identityLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
