package cmd_test

import (
	"context"
	"testing"

	"github.com/portero/portero/handlers"
	"github.com/portero/portero/internal/testdb"
)

func TestUserPasswdLeavesNotice(t *testing.T) {
	t.Parallel()
	database, url := testdb.New(t)
	const newPassword = "tangerine ladder 41 quietly"

	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org"), 0)
	checkCode(t, run(t, dbEnv(url), newPassword+"\n", "user", "passwd", "--email", "ana@example.org"), 0)

	ctx := context.Background()
	ana, err := database.UserByEmail(ctx, "ana@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !ana.NoticesPending {
		t.Error("notices_pending after user passwd: got false, want true")
	}
	notices, total, err := database.UserNotices(ctx, ana.ID, "", 20)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(notices) != 1 {
		t.Fatalf("notices: got %d of %d, want 1 of 1", len(notices), total)
	}
	if notices[0].Kind != handlers.EventPasswordChanged || notices[0].Details["by"] != handlers.EventByCLI {
		t.Errorf("notice: got kind %q by %v, want %q by %q", notices[0].Kind, notices[0].Details["by"], handlers.EventPasswordChanged, handlers.EventByCLI)
	}
}
