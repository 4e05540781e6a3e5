package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

var testPolicy = db.LoginPolicy{
	Window:             15 * time.Minute,
	AccountMaxFailures: 3,
	IPMaxFailures:      100,
	FirstLockout:       time.Minute,
	MaxLockout:         5 * time.Minute,
}

var (
	accountA = db.LoginSubject{Kind: db.FailureKindAccount, Key: "account-a"}
	accountB = db.LoginSubject{Kind: db.FailureKindAccount, Key: "account-b"}
)

// near reports whether got is within a few seconds below want, the time
// that passes between the statement and the check.
func near(got, want time.Duration) bool {
	return got > want-5*time.Second && got <= want
}

func TestRecordLoginFailureLocks(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	wantLocks := []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, want := range wantLocks {
		got, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1")
		if err != nil {
			t.Fatalf("failure %d: RecordLoginFailure: got error %v, want nil", i+1, err)
		}
		if got.Subject.Failures != i+1 || got.IP.Failures != i+1 {
			t.Errorf("failure %d: got %d account and %d IP failures, want %d each", i+1, got.Subject.Failures, got.IP.Failures, i+1)
		}
		if want == 0 && got.Subject.LockedFor != 0 {
			t.Errorf("failure %d: account lock: got %s, want none", i+1, got.Subject.LockedFor)
		}
		if want != 0 && !near(got.Subject.LockedFor, want) {
			t.Errorf("failure %d: account lock: got %s, want %s", i+1, got.Subject.LockedFor, want)
		}
		if got.IP.LockedFor != 0 {
			t.Errorf("failure %d: IP lock: got %s, want none below 100 failures", i+1, got.IP.LockedFor)
		}
	}
}

func TestRecordLoginFailureLimitOne(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)

	policy := testPolicy
	policy.AccountMaxFailures = 1
	policy.IPMaxFailures = 1
	got, err := database.RecordLoginFailure(context.Background(), policy, accountA, "192.0.2.1")
	if err != nil {
		t.Fatalf("RecordLoginFailure: got error %v, want nil", err)
	}
	if !near(got.Subject.LockedFor, time.Minute) || !near(got.IP.LockedFor, time.Minute) {
		t.Errorf("first failure at limit 1: got locks %s and %s, want 1m each", got.Subject.LockedFor, got.IP.LockedFor)
	}
}

func TestRecordLoginFailureConcurrent(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	policy := testPolicy
	policy.AccountMaxFailures = 1000
	const n = 40
	seen := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			got, err := database.RecordLoginFailure(ctx, policy, accountA, "192.0.2.1")
			if err != nil {
				t.Errorf("RecordLoginFailure: got error %v, want nil", err)
				return
			}
			seen <- got.Subject.Failures
		})
	}
	wg.Wait()
	close(seen)

	// Each statement saw the count of the one before it, so every count
	// from 1 to n comes back exactly once.
	counts := map[int]int{}
	for c := range seen {
		counts[c]++
	}
	for i := 1; i <= n; i++ {
		if counts[i] != 1 {
			t.Errorf("count %d: returned %d times, want once", i, counts[i])
		}
	}

	state, err := database.LoginThrottle(ctx, policy.Window, accountA, "192.0.2.1")
	if err != nil {
		t.Fatalf("LoginThrottle: got error %v, want nil", err)
	}
	if state.Failures != n {
		t.Errorf("Failures: got %d, want %d", state.Failures, n)
	}
}

func TestLoginThrottleState(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	state, err := database.LoginThrottle(ctx, testPolicy.Window, accountA, "192.0.2.1")
	if err != nil {
		t.Fatalf("LoginThrottle with no rows: got error %v, want nil", err)
	}
	if state != (db.LoginThrottle{}) {
		t.Errorf("LoginThrottle with no rows: got %+v, want zero", state)
	}

	for range 3 {
		if _, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	state, err = database.LoginThrottle(ctx, testPolicy.Window, accountA, "192.0.2.1")
	if err != nil {
		t.Fatalf("LoginThrottle: got error %v, want nil", err)
	}
	if state.Failures != 3 || state.LockedKind != db.FailureKindAccount || !near(state.RetryAfter, time.Minute) {
		t.Errorf("LoginThrottle after 3 failures: got %+v, want 3 failures and a 1m account lock", state)
	}

	other, err := database.LoginThrottle(ctx, testPolicy.Window, accountB, "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	if other != (db.LoginThrottle{}) {
		t.Errorf("LoginThrottle of another account and IP: got %+v, want zero", other)
	}

	// A whole window after the lock ended, the count has expired.
	if _, err := database.Pool.Exec(ctx, `
		UPDATE login_failures
		SET window_start = window_start - interval '17 minutes',
		    locked_until = locked_until - interval '17 minutes'`); err != nil {
		t.Fatal(err)
	}
	state, err = database.LoginThrottle(ctx, testPolicy.Window, accountA, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if state != (db.LoginThrottle{}) {
		t.Errorf("LoginThrottle after a quiet window: got %+v, want zero", state)
	}
	got, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject.Failures != 1 || got.Subject.LockedFor != 0 {
		t.Errorf("failure after a quiet window: got %+v, want 1 failure and no lock", got.Subject)
	}
}

func TestResetLoginFailuresKeepsIP(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	for range 2 {
		if _, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := database.ResetLoginFailures(ctx, accountA); err != nil {
		t.Fatalf("ResetLoginFailures: got error %v, want nil", err)
	}

	got, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject.Failures != 1 {
		t.Errorf("account failures after a reset: got %d, want 1", got.Subject.Failures)
	}
	if got.IP.Failures != 3 {
		t.Errorf("IP failures after a reset: got %d, want 3", got.IP.Failures)
	}
}

func TestDeleteStaleLoginFailuresBatches(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	_, err := database.Pool.Exec(ctx, `
		INSERT INTO login_failures (kind, key, failures, window_start, locked_until)
		SELECT 'account', 'stale-' || g, 1, now() - interval '20 minutes', NULL
		FROM generate_series(1, 2400) AS g
		UNION ALL
		SELECT 'ip', 'stale-locked-' || g, 60, now() - interval '40 minutes', now() - interval '16 minutes'
		FROM generate_series(1, 100) AS g
		UNION ALL
		SELECT 'account', 'fresh-' || g, 1, now() - interval '5 minutes', NULL
		FROM generate_series(1, 7) AS g
		UNION ALL
		SELECT 'ip', 'lock-ended-recently-' || g, 60, now() - interval '40 minutes', now() - interval '5 minutes'
		FROM generate_series(1, 3) AS g`)
	if err != nil {
		t.Fatalf("insert login failures: %v", err)
	}

	for i, want := range []int64{1000, 1000, 500, 0} {
		got, err := database.DeleteStaleLoginFailures(ctx, 15*time.Minute, 1000)
		if err != nil {
			t.Fatalf("call %d: DeleteStaleLoginFailures: got error %v, want nil", i+1, err)
		}
		if got != want {
			t.Errorf("call %d: DeleteStaleLoginFailures: got %d deleted, want %d", i+1, got, want)
		}
	}

	var left int
	if err := database.Pool.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE key NOT LIKE 'stale-%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 10 {
		t.Errorf("rows still counting: got %d left, want 10", left)
	}
}

func TestDeviceCountedApartFromAccount(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	device := db.LoginSubject{Kind: db.FailureKindDevice, Key: "device-a", UserID: 7}

	for range 3 {
		if _, err := database.RecordLoginFailure(ctx, testPolicy, accountA, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	state, err := database.LoginThrottle(ctx, testPolicy.Window, device, "192.0.2.9")
	if err != nil {
		t.Fatalf("LoginThrottle of a device: got error %v, want nil", err)
	}
	if state != (db.LoginThrottle{}) {
		t.Errorf("device of a locked account: got %+v, want zero", state)
	}

	// A device row locks at the account limit.
	for i := 1; i <= 3; i++ {
		got, err := database.RecordLoginFailure(ctx, testPolicy, device, "192.0.2.9")
		if err != nil {
			t.Fatalf("device failure %d: RecordLoginFailure: got error %v, want nil", i, err)
		}
		if got.Subject.Failures != i {
			t.Errorf("device failure %d: got %d failures, want %d", i, got.Subject.Failures, i)
		}
		if i == 3 && !near(got.Subject.LockedFor, time.Minute) {
			t.Errorf("device failure 3: lock: got %s, want 1m", got.Subject.LockedFor)
		}
	}
	state, err = database.LoginThrottle(ctx, testPolicy.Window, device, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if state.Failures != 3 || state.LockedKind != db.FailureKindDevice {
		t.Errorf("locked device: got %+v, want 3 failures and a device lock", state)
	}

	if err := database.ResetLoginFailures(ctx, device); err != nil {
		t.Fatalf("ResetLoginFailures of a device: got error %v, want nil", err)
	}
	account, err := database.LoginThrottle(ctx, testPolicy.Window, accountA, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if account.Failures != 3 || account.LockedKind != db.FailureKindAccount {
		t.Errorf("account after a device reset: got %+v, want its 3 failures and lock kept", account)
	}
}

// failureRows counts the login_failures rows of a user, by kind.
func failureRows(t *testing.T, database *db.DB, userID int64) map[string]int {
	t.Helper()

	rows, err := database.Pool.Query(context.Background(), `
		SELECT kind, count(*)::int FROM login_failures WHERE user_id = $1 GROUP BY kind`, userID)
	if err != nil {
		t.Fatalf("read login_failures of user %d: %v", userID, err)
	}
	defer rows.Close()

	counts := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			t.Fatal(err)
		}
		counts[kind] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return counts
}

func TestUnlockUserDeletesOnlyItsRows(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	// The first failure comes before the email belongs to a user; a later
	// one records the user on the same row.
	ana := db.LoginSubject{Kind: db.FailureKindAccount, Key: "account-ana"}
	subjects := []db.LoginSubject{
		ana,
		{Kind: db.FailureKindAccount, Key: "account-ana", UserID: 1},
		{Kind: db.FailureKindAccount, Key: "account-ana"},
		{Kind: db.FailureKindDevice, Key: "device-ana-1", UserID: 1},
		{Kind: db.FailureKindDevice, Key: "device-ana-2", UserID: 1},
		{Kind: db.FailureKindAccount, Key: "account-bo", UserID: 2},
	}
	for _, s := range subjects {
		if _, err := database.RecordLoginFailure(ctx, testPolicy, s, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := failureRows(t, database, 1); got[db.FailureKindAccount] != 1 || got[db.FailureKindDevice] != 2 {
		t.Fatalf("rows of user 1: got %v, want 1 account and 2 device rows", got)
	}

	deleted, err := database.UnlockUser(ctx, 1)
	if err != nil {
		t.Fatalf("UnlockUser: got error %v, want nil", err)
	}
	if deleted != 3 {
		t.Errorf("UnlockUser: got %d rows deleted, want 3", deleted)
	}
	state, err := database.LoginThrottle(ctx, testPolicy.Window, ana, "192.0.2.200")
	if err != nil {
		t.Fatal(err)
	}
	if state != (db.LoginThrottle{}) {
		t.Errorf("account after UnlockUser: got %+v, want zero", state)
	}
	if got := failureRows(t, database, 2); got[db.FailureKindAccount] != 1 {
		t.Errorf("rows of user 2 after unlocking user 1: got %v, want its account row kept", got)
	}
	var ipFailures int
	if err := database.Pool.QueryRow(ctx, `SELECT failures FROM login_failures WHERE kind = 'ip'`).Scan(&ipFailures); err != nil {
		t.Fatal(err)
	}
	if ipFailures != len(subjects) {
		t.Errorf("IP failures after UnlockUser: got %d, want %d kept", ipFailures, len(subjects))
	}

	again, err := database.UnlockUser(ctx, 1)
	if err != nil || again != 0 {
		t.Errorf("second UnlockUser: got %d, %v, want 0, nil", again, err)
	}
}
