package net

import (
	"errors"
	"fmt"
)

// ErrorCode says what kind of failure a sharer reported. Viewers branch on
// the code; the message is for people.
type ErrorCode string

const (
	// CodeNotFound: no such recording or track. A wrong token gets exactly
	// this answer, so a token cannot be told apart from no recording.
	CodeNotFound ErrorCode = "not_found"
	// CodeBadRequest: the request was malformed or out of bounds of the protocol.
	CodeBadRequest ErrorCode = "bad_request"
	// CodeOutOfRange: the offset is at or past the end of the track.
	CodeOutOfRange ErrorCode = "out_of_range"
	// CodeBusy: the sharer is at its limit for this peer; retry later.
	CodeBusy ErrorCode = "busy"
	// CodeInternal: the sharer failed to read its own disk.
	CodeInternal ErrorCode = "internal"
	// CodeChanged: the track's file changed, shrank or was replaced on the
	// sharer's disk since it was shared, or the request named a version
	// other than the file's. Bytes read before and after would not belong
	// together, so the sharer refuses rather than mix them.
	CodeChanged ErrorCode = "changed"
)

// Error is a typed failure reported by the sharer.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "net: sharer answered " + string(e.Code)
	}
	return fmt.Sprintf("net: sharer answered %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) and friends match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNotFound   = &Error{Code: CodeNotFound}
	ErrBadRequest = &Error{Code: CodeBadRequest}
	ErrOutOfRange = &Error{Code: CodeOutOfRange}
	ErrBusy       = &Error{Code: CodeBusy}
	ErrInternal   = &Error{Code: CodeInternal}
	ErrChanged    = &Error{Code: CodeChanged}
)

func errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnreachable is what dialling a sharer fails with when none of the
// ways to reach it (the link's addresses, mDNS, the DHT, relays) led to a
// connection; the error's text says what each way gave.
var ErrUnreachable = errors.New("net: the sharer is unreachable")

// unreachableError is an ErrUnreachable with what was tried.
type unreachableError string

func (e unreachableError) Error() string { return string(e) }

func (e unreachableError) Is(target error) bool { return target == ErrUnreachable }
