package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// Errors a node reports; statusOf maps them to HTTP statuses (SPEC §5).
var (
	ErrBadRequest         = errors.New("bad request")
	ErrTooLarge           = errors.New("request too large")
	ErrNotFound           = errors.New("not found")
	ErrNotLeader    error = notLeaderError{}
	ErrNoQuorum           = errors.New("no quorum")
	ErrUnavailable        = errors.New("unavailable")
	ErrTimeout            = errors.New("timed out")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrWrongRole          = errors.New("endpoint not served by this role")
	ErrRateLimited        = errors.New("too many requests")
)

// notLeaderError is ErrNotLeader: a write no leader took. It is
// replog.ErrNotLeader to errors.Is (the proposer core's refusal, which the
// node answers with when it finds no leader to forward to) and
// api.ErrNotLeader (what its 409 means to a client), and its text is the
// wire's, api.NotLeaderText.
type notLeaderError struct{}

func (notLeaderError) Error() string { return api.NotLeaderText }

// Is makes errors.Is(ErrNotLeader, replog.ErrNotLeader) and
// errors.Is(ErrNotLeader, api.ErrNotLeader) true.
func (notLeaderError) Is(target error) bool {
	return target == replog.ErrNotLeader || target == api.ErrNotLeader
}

// statusOf is the one table from errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, replog.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrWrongRole):
		return http.StatusNotFound
	case errors.Is(err, replog.ErrNotLeader): // and ErrNotLeader
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrNoQuorum), errors.Is(err, ErrUnavailable), errors.Is(err, replog.ErrDropped),
		errors.Is(err, storage.ErrDiskFull), errors.Is(err, storage.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeJSON writes v as compact JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes the error body, {"error": ...} plus the fields of extra
// (nil: none), with the status of err.
func writeError(w http.ResponseWriter, err error, extra *api.Error) {
	var body api.Error
	if extra != nil {
		body = *extra
	}
	body.Error, body.Alarm = err.Error(), alarmOf(err)
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

// decodeJSON reads a JSON body of at most limit bytes into v (a pointer to
// the struct of an object body, or to the slice of an array body). Unknown
// fields are ignored; wrong types, malformed JSON, null, invalid UTF-8,
// trailing data or an empty body are ErrBadRequest. A larger body is
// ErrTooLarge, refused from its Content-Length before any of it is read.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	want := typeName(reflect.TypeOf(v).Elem().Kind().String())
	if r.ContentLength > limit {
		return fmt.Errorf("%w: body of %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, 1<<20)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body larger than %d bytes", ErrTooLarge, limit)
		}
		return fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	data := buf.Bytes()
	switch trimmed := bytes.Trim(data, " \t\r\n"); {
	case len(trimmed) == 0:
		return fmt.Errorf("%w: empty body, want %s", ErrBadRequest, want)
	case string(trimmed) == "null":
		return fmt.Errorf("%w: body is null, want %s", ErrBadRequest, want)
	case !utf8.Valid(data):
		// encoding/json would store U+FFFD in place of the bad bytes.
		return fmt.Errorf("%w: body is not valid UTF-8", ErrBadRequest)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field == "":
			return fmt.Errorf("%w: body must be %s, not %s", ErrBadRequest, want, typeErr.Value)
		case errors.As(err, &typeErr) && typeErr.Type != nil:
			return fmt.Errorf("%w: field %q must be %s, not %s", ErrBadRequest, typeErr.Field, typeName(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Errorf("%w: malformed JSON: %s", ErrBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"):
		return "an integer"
	case strings.HasPrefix(kind, "uint"):
		return "a non-negative integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice":
		return "a JSON array"
	}
	return "a JSON object"
}
