package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	p2pnet "reelay/net"
)

// sharesFile sits beside the identity key and maps each shared folder to
// its token, so a sharer that restarts hands out the same link and
// viewers who had it reconnect by themselves. Whoever reads it can watch
// those recordings, so it is kept as private as the key.
const sharesFile = "shares.json"

// shareToken returns the token dir is shared under: the one it had, or a
// new one (also when renew asks to revoke the old link).
func shareToken(identityPath, dir string, renew bool) (string, error) {
	if identityPath == "" {
		var err error
		if identityPath, err = p2pnet.DefaultIdentityPath(); err != nil {
			return "", err
		}
	}
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return "", fmt.Errorf("sharing %s: %w", dir, err)
	}
	path := filepath.Join(filepath.Dir(identityPath), sharesFile)
	tokens := map[string]string{}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("reading %s failed: %w", path, err)
	default:
		if err := json.Unmarshal(raw, &tokens); err != nil {
			return "", fmt.Errorf("%s is corrupt (remove it to start with new links): %w", path, err)
		}
	}
	if t, ok := tokens[real]; ok && !renew {
		return t, nil
	}
	tokens[real] = p2pnet.NewToken()
	raw, err = json.MarshalIndent(tokens, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	// Written aside and renamed, so a crash never leaves half a file.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+sharesFile+"-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return tokens[real], nil
}
