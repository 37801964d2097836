package net

import "crypto/sha256"

// ShareAs is Share under a token the caller chose: a test that restarts a
// sharer, in this process or as another, keeps its link valid that way.
func ShareAs(s *Sharer, dir, token string) (Link, error) {
	l, err := s.Share(dir)
	if err != nil {
		return l, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, key := sha256.Sum256([]byte(l.Token)), sha256.Sum256([]byte(token))
	s.shares[key] = s.shares[old]
	delete(s.shares, old)
	l.Token = token
	return l, nil
}

// NewToken is a fresh token, for ShareAs.
func NewToken() string { return newToken() }
