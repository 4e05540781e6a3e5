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
