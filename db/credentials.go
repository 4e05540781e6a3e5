package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultMaxConnLifetime is the age at which a pooled connection is closed
// when Options.MaxConnLifetime is zero.
const DefaultMaxConnLifetime = time.Hour

// Options are the connection settings that the connection URL does not carry.
type Options struct {
	// PasswordFile (DATABASE_PASSWORD_FILE) is a file whose content is the
	// password. It is read again for every new connection, so a rotated
	// password takes effect without a restart. Empty means the password of
	// the URL, if any.
	PasswordFile string
	// MaxConnLifetime (DATABASE_MAX_CONN_LIFETIME) is the age at which a
	// connection is closed, so that connections opened with a rotated
	// certificate or password end. Zero means DefaultMaxConnLifetime.
	MaxConnLifetime time.Duration
	// SkipFileModeCheck (DATABASE_CHECK_FILE_MODE=false) accepts a sslkey
	// file or PasswordFile that group or others may read.
	SkipFileModeCheck bool
}

// errCredentialFile marks a credential file that a new connection could not
// use, so that IsUnavailable treats it like an unreachable database.
var errCredentialFile = errors.New("unusable database credential file")

// credentialFiles are the files that Open reads credentials from: the
// client key named by sslkey in the URL and Options.PasswordFile.
type credentialFiles struct {
	sslKey        string
	passwordFile  string
	checkFileMode bool
}

func newCredentialFiles(connString string, opts Options) credentialFiles {
	files := credentialFiles{passwordFile: opts.PasswordFile, checkFileMode: !opts.SkipFileModeCheck}
	// Only the URL form carries sslkey here, because config accepts only
	// URLs. NOTE: a key that pgx finds through PGSSLKEY or
	// ~/.postgresql/postgresql.key is loaded without the mode check.
	if u, err := url.Parse(connString); err == nil {
		files.sslKey = u.Query().Get("sslkey")
	}

	return files
}

// check returns an error when a credential file is missing, unreadable or
// readable by group or others.
func (f credentialFiles) check() error {
	if err := f.checkKey(); err != nil {
		return err
	}
	if f.passwordFile != "" {
		if _, err := f.readPassword(); err != nil {
			return err
		}
	}

	return nil
}

func (f credentialFiles) checkKey() error {
	if f.sslKey == "" {
		return nil
	}

	return checkCredentialFile("sslkey in DATABASE_URL", f.sslKey, f.checkFileMode)
}

// readPassword returns the content of the password file without its
// trailing line break.
func (f credentialFiles) readPassword() (string, error) {
	const name = "DATABASE_PASSWORD_FILE"
	if err := checkCredentialFile(name, f.passwordFile, f.checkFileMode); err != nil {
		return "", err
	}

	data, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return "", fmt.Errorf("%w: cannot read %s %s: %w", errCredentialFile, name, f.passwordFile, unwrapPath(err))
	}
	password := strings.TrimRight(string(data), "\r\n")
	if password == "" {
		return "", fmt.Errorf("%w: %s %s is empty", errCredentialFile, name, f.passwordFile)
	}

	return password, nil
}

// beforeConnect checks the files again for every new connection and sets the
// password that the password file contains now. pgx itself reads sslcert
// and sslkey again for every TLS handshake.
func (f credentialFiles) beforeConnect(_ context.Context, cc *pgx.ConnConfig) error {
	if err := f.checkKey(); err != nil {
		return err
	}
	if f.passwordFile != "" {
		password, err := f.readPassword()
		if err != nil {
			return err
		}
		cc.Password = password
	}

	return nil
}

// checkCredentialFile returns an error when path cannot be opened or, with
// checkMode, when its permissions let group or others read it, as ssh and
// libpq reject such a key.
func checkCredentialFile(name, path string, checkMode bool) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: cannot read %s %s: %w", errCredentialFile, name, path, unwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s %s is not a regular file", errCredentialFile, name, path)
	}
	if checkMode && info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s %s has mode %04o, so group or others may read it; run chmod 600 on it as its owner, or set DATABASE_CHECK_FILE_MODE=false to accept it",
			errCredentialFile, name, path, info.Mode().Perm())
	}

	return nil
}

// unwrapPath drops the path that os errors repeat, because the message
// names it already.
func unwrapPath(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}

	return err
}
