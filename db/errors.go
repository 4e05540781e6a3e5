package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// IsUnavailable reports whether err means the database could not be reached
// or is restarting, as opposed to a fault in the query or the data. Callers
// respond to such errors with 503 so the client retries.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}

	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, errCredentialFile):
		// A new connection found its key or password file unusable, as
		// can happen for a moment while a rotation replaces it.
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, puddle.ErrClosedPool), errors.Is(err, sql.ErrConnDone), strings.HasSuffix(err.Error(), "sql: database is closed"):
		// The pool is closed while the process shuts down.
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08 is "connection exception" and class 57 "operator
		// intervention", which covers a server shutting down or starting
		// and a statement cancelled by statement_timeout (57014). Lock
		// timeouts (55P03) mean the same to a user: try again shortly.
		if pgErr.Code == "55P03" {
			return true
		}
		return len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57")
	}

	return false
}
