package handlers

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/internal/cache"
	"github.com/portero/portero/internal/useragent"
	"github.com/portero/portero/session"
)

const (
	// noticesLimit is the maximum number of notices that a page lists.
	noticesLimit = 20
	// noticesRecheck is how long a session that found no notice for itself
	// waits before it queries again while the user's notices_pending flag
	// stays set. The flag stays set when the only pending notices are the
	// session's own events, which other sessions still have to show.
	// NOTE: In that state a new notice reaches the session up to
	// noticesRecheck late, because the flag, already set, sends no change
	// notification.
	noticesRecheck = time.Minute
	// noticesMemoEntries caps the sessions remembered as having no notice.
	noticesMemoEntries = 20_000
	// newDeviceLogins is how many of the user's latest successful logins a
	// login is compared with to call its browser or IP new.
	newDeviceLogins = 20
)

// noticeStore is the part of the database that security notices need.
type noticeStore interface {
	UserNotices(ctx context.Context, userID int64, sessionKey string, limit int) ([]db.SecurityEvent, int, error)
	DismissNotices(ctx context.Context, userID, lastID int64) error
	RecentLoginDevices(ctx context.Context, userID int64, limit int) ([]db.LoginDevice, error)
}

// noticeBox is the list of security notices that the dashboard and the
// account page show above their content.
type noticeBox struct {
	Rows []eventRow
	// More is how many notices the list leaves out because of noticesLimit.
	More int
	// LastID is the id of the newest listed event, up to which the dismiss
	// form marks notices as seen.
	LastID int64
	// Back is the path that the dismiss form returns to.
	Back string
}

// newNoticeMemo returns the map of session key hashes whose last query
// found no notice. It has no cache guard, because a stale entry delays a
// notice by at most noticesRecheck.
func newNoticeMemo() *cache.Map[string, struct{}] {
	return cache.NewMap[string, struct{}](nil, time.Now, noticesRecheck, noticesMemoEntries)
}

// securityNotices returns the notices of the request's user for a page at
// back, or nil when there are none. It queries the database only while the
// user's notices_pending flag is set, so a request without pending notices
// reads no events.
func (a *App) securityNotices(c echo.Context, lang, back string) (*noticeBox, error) {
	user, s := userOf(c), sessionOf(c)
	if user == nil || !user.NoticesPending {
		return nil, nil
	}

	hash := session.HashKey(s.Key())
	if _, ok := a.noticeMemo.Get(hash); ok {
		return nil, nil
	}

	events, total, err := a.store.UserNotices(c.Request().Context(), user.ID, s.Key(), noticesLimit)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		a.noticeMemo.Put(cache.Ticket{}, hash, struct{}{})
		return nil, nil
	}

	rows := hideAdminDevices(eventRows(lang, events))
	for i, e := range events {
		if e.Kind == EventLoginSucceeded {
			rows[i].Label = i18n.T(lang, "notice.new_device")
		}
	}

	return &noticeBox{Rows: rows, More: total - len(rows), LastID: events[0].ID, Back: back}, nil
}

// hideAdminDevices clears the client IP and browser of the rows that an
// admin or the command line caused. They are the admin's, which the user
// would not recognize as a device.
func hideAdminDevices(rows []eventRow) []eventRow {
	for i := range rows {
		if rows[i].By != "" {
			rows[i].ClientIP = ""
			rows[i].Browser = ""
		}
	}

	return rows
}

// dismissNotices marks the notices up to the event in the form field "last"
// as seen, for every session of the user, and returns to the page the form
// came from.
func (a *App) dismissNotices(c echo.Context) error {
	r := c.Request()
	lastID, err := strconv.ParseInt(r.PostFormValue("last"), 10, 64)
	if err != nil || lastID <= 0 {
		return &Error{Status: http.StatusBadRequest, Key: "error.400", Err: err}
	}

	user := userOf(c)
	if err := a.store.DismissNotices(r.Context(), user.ID, lastID); err != nil {
		return err
	}
	a.log.Info("User dismissed the security notices.", "user_id", user.ID, "last_event_id", lastID)

	back := "/dashboard"
	if r.PostFormValue("back") == "/account" {
		back = "/account"
	}

	return a.redirect(c, back)
}

// newDeviceDetails returns the event details that mark the login of the
// request as coming from a browser and operating system, or a client IP,
// that none of the user's latest newDeviceLogins logins used. It returns
// none for the first login of a user, which has nothing to compare with.
// A failed query is logged and marks nothing, because the login succeeded.
func (a *App) newDeviceDetails(c echo.Context, userID int64) []any {
	r := c.Request()
	devices, err := a.store.RecentLoginDevices(r.Context(), userID, newDeviceLogins)
	if err != nil {
		a.log.Error("Recent logins could not be read to detect a new device.", "user_id", userID, "error", err)
		return nil
	}
	if len(devices) == 0 {
		return nil
	}

	agent, ip := deviceName(r.UserAgent()), c.RealIP()
	knownAgent := slices.ContainsFunc(devices, func(d db.LoginDevice) bool { return deviceName(d.UserAgent) == agent })
	knownIP := slices.ContainsFunc(devices, func(d db.LoginDevice) bool { return d.ClientIP == ip })
	if knownAgent && knownIP {
		return nil
	}

	return []any{"new_device", true}
}

// deviceName names the browser and operating system of a User-Agent
// without versions, so that a browser update is no new device. A header
// in which neither is recognized is its own name.
func deviceName(userAgent string) string {
	agent := useragent.Parse(userAgent)
	if agent.Browser == "" && agent.OS == "" {
		return userAgent
	}

	return agent.Browser + "\x00" + agent.OS
}
