package schemas

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one problem in an experiment file, located at a line and column
// (1-based; 0 when the experiment was built in code rather than decoded).
type Error struct {
	File         string
	Line, Column int
	Field        string // dotted path, or e.g. `sweep head.dropout[2]`; empty for file-level problems
	Msg          string
}

// Error renders file:line:col: field: msg, leaving out what is unknown.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprintf("%d:%d", e.Line, e.Column)
	}
	if s != "" {
		s += ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

// joinErrors sorts problems by position and returns nil, the single *Error,
// or an errors.Join of all of them.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	// One problem reached along several paths (an alias used twice) is said once.
	errs = slices.CompactFunc(errs, func(a, b *Error) bool { return *a == *b })
	if len(errs) == 1 {
		return errs[0]
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// Errors unpacks an error returned by this package into its *Error parts.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
