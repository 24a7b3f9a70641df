package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// Errors a node reports; statusOf maps them to HTTP statuses (SPEC §5).
var (
	ErrBadRequest   = errors.New("bad request")
	ErrTooLarge     = errors.New("request too large")
	ErrNotFound     = errors.New("not found")
	ErrNotLeader    = errors.New("Not the leader")
	ErrNoQuorum     = errors.New("no quorum")
	ErrUnavailable  = errors.New("unavailable")
	ErrTimeout      = errors.New("timed out")
	ErrUnauthorized = errors.New("unauthorized")
	ErrWrongRole    = errors.New("endpoint not served by this role")
)

// statusOf is the one table from errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, replog.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrWrongRole):
		return http.StatusNotFound
	case errors.Is(err, ErrNotLeader), errors.Is(err, replog.ErrNotLeader):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
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

// writeError writes {"error": ...} plus extra fields, with the status of err.
func writeError(w http.ResponseWriter, err error, extra map[string]any) {
	body := map[string]any{"error": err.Error()}
	for k, v := range extra {
		body[k] = v
	}
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

// decodeJSON reads a JSON object body of at most limit bytes into v. Unknown
// fields are ignored; wrong types, malformed JSON, trailing data or an empty
// body are ErrBadRequest, a larger body ErrTooLarge.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("%w: body larger than %d bytes", ErrTooLarge, limit)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: empty body, want a JSON object", ErrBadRequest)
		case errors.As(err, &typeErr):
			return fmt.Errorf("%w: field %q must be %s, not %s", ErrBadRequest, typeErr.Field, typeName(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Errorf("%w: malformed JSON: %s", ErrBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrBadRequest)
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body larger than %d bytes", ErrTooLarge, limit)
		}
	}
	return nil
}

func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice":
		return "an array"
	}
	return "an object"
}
