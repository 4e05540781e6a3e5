package cmd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
)

const testPepper = "Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C"

// pepperEnv returns dbEnv(url) with PASSWORD_PEPPER set.
func pepperEnv(url string) map[string]string {
	env := dbEnv(url)
	env["PASSWORD_PEPPER"] = testPepper

	return env
}

func TestUserCommandsUsePepper(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	const newPassword = "brand new password ñ"
	hasher := password.Hasher{Pepper: []byte(testPepper)}

	create := run(t, pepperEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org")
	checkCode(t, create, 0)
	checkNoPassword(t, create, testPepper)

	database := openDB(t, url)
	user, err := database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if !strings.HasPrefix(user.PasswordHash, "$pepper1$$2a$04$") {
		t.Fatalf("hash from user create: got prefix %q, want $pepper1$$2a$04$", user.PasswordHash[:min(len(user.PasswordHash), 16)])
	}
	if !hasher.Matches(user.PasswordHash, testPassword) {
		t.Error("hash from user create with the pepper: got no match, want one")
	}
	if password.Matches(user.PasswordHash, testPassword) {
		t.Error("hash from user create without the pepper: got a match, want none")
	}

	passwd := run(t, pepperEnv(url), newPassword+"\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, passwd, 0)
	checkNoPassword(t, passwd, testPepper)

	user, err = database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if !password.IsPeppered(user.PasswordHash) {
		t.Fatal("hash from user passwd: got a plain hash, want a peppered one")
	}
	if !hasher.Matches(user.PasswordHash, newPassword) {
		t.Error("hash from user passwd with the pepper: got no match for the new password, want one")
	}
	if hasher.Matches(user.PasswordHash, testPassword) {
		t.Error("hash from user passwd: got a match for the old password, want none")
	}
}

// `user passwd` without PASSWORD_PEPPER is the way back for a user whose
// peppered hash no longer matches, such as after the pepper was lost.
func TestUserPasswdWithoutPepperWritesPlainHash(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)

	checkCode(t, run(t, pepperEnv(url), testPassword+"\n", "user", "create", "--email", "bo@example.org"), 0)
	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "passwd", "--email", "bo@example.org"), 0)

	database := openDB(t, url)
	user, err := database.UserByEmail(context.Background(), "bo@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if password.IsPeppered(user.PasswordHash) {
		t.Error("hash from user passwd without a pepper: got a peppered hash, want a plain one")
	}
	if !password.Matches(user.PasswordHash, testPassword) {
		t.Error("hash from user passwd without a pepper: got no match, want one")
	}
}

func TestUserCreateRejectsShortPepper(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the check must fail before the command
	// connects to the database.
	env := dbEnv("postgres://portero@127.0.0.1:1/portero")
	env["PASSWORD_PEPPER"] = "Kq7Vd9Qm2Xw4Lr8Tn1Hb"

	res := run(t, env, testPassword+"\n", "user", "create", "--email", "ana@example.org")
	checkCode(t, res, 1)
	checkNoPassword(t, res, env["PASSWORD_PEPPER"])
	if !strings.Contains(res.stderr, "PASSWORD_PEPPER") || !strings.Contains(res.stderr, "at least 32 bytes") {
		t.Errorf("stderr: got %q, want it to name PASSWORD_PEPPER and its minimum length", res.stderr)
	}
}

// With PASSWORD_PEPPER, the user commands accept passwords of up to 128
// characters, whatever their size in bytes.
func TestUserCommandsLongPasswordsWithPepper(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	hasher := password.Hasher{Pepper: []byte(testPepper)}
	twoByte := strings.Repeat("ñ", 64)
	emoji := strings.Repeat("😀", 64)
	tooLong := strings.Repeat("ñ", 129)

	database := openDB(t, url)
	storedHash := func() string {
		t.Helper()
		user, err := database.UserByEmail(context.Background(), "ana@example.org")
		if err != nil {
			t.Fatalf("UserByEmail: %v", err)
		}
		return user.PasswordHash
	}

	create := run(t, pepperEnv(url), twoByte+"\n", "user", "create", "--email", "ana@example.org")
	checkCode(t, create, 0)
	checkNoPassword(t, create, twoByte)
	if !hasher.Matches(storedHash(), twoByte) {
		t.Error("hash from user create of 64 two-byte characters: got no match, want one")
	}

	passwd := run(t, pepperEnv(url), emoji+"\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, passwd, 0)
	if !hasher.Matches(storedHash(), emoji) {
		t.Error("hash from user passwd of 64 emoji: got no match, want one")
	}

	for _, subcommand := range []string{"create", "passwd"} {
		res := run(t, pepperEnv(url), tooLong+"\n", "user", subcommand, "--email", "ana@example.org")
		checkCode(t, res, 1)
		checkNoPassword(t, res, tooLong)
		if !strings.Contains(res.stderr, "at most 128 characters") {
			t.Errorf("user %s with 129 characters: got stderr %q, want it to name the 128-character limit", subcommand, res.stderr)
		}
	}

	plain := run(t, dbEnv(url), twoByte+"\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, plain, 1)
	if !strings.Contains(plain.stderr, "at most 72 bytes") || !strings.Contains(plain.stderr, "PASSWORD_PEPPER") {
		t.Errorf("user passwd of 128 bytes without a pepper: got stderr %q, want the 72-byte limit and a pointer to PASSWORD_PEPPER", plain.stderr)
	}
	if !hasher.Matches(storedHash(), emoji) {
		t.Error("hash after the rejected commands: got another one, want the emoji password kept")
	}
}
