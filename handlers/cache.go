package handlers

import (
	"context"
	"strconv"
	"time"

	"github.com/portero/portero/db"
)

// Users are copied for as long, and as many, as sessions; see
// session.Manager.
const (
	userCacheTTL     = 5 * time.Minute
	userCacheEntries = 20_000
)

// userByID returns the user, from memory when the cache may serve it.
func (a *App) userByID(ctx context.Context, id int64) (*db.User, error) {
	if a.users == nil {
		return a.store.UserByID(ctx, id)
	}
	if u, ok := a.users.Get(id); ok {
		return &u, nil
	}

	ticket := a.cacheGuard.Ticket()
	u, err := a.store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	a.users.Put(ticket, id, *u)

	return u, nil
}

// Changed drops the copies that a change notification names; it is the
// db.ChangeHandler's Changed, and serve passes the rest to the guard.
func (a *App) Changed(channel, payload string) {
	switch channel {
	case db.SessionChannel:
		a.sessions.ForgetKey(payload)
	case db.UserChannel:
		if a.users == nil {
			return
		}
		// "*" means every user, and a payload that is not an id was
		// not sent by Portero's triggers, so both drop every user.
		id, err := strconv.ParseInt(payload, 10, 64)
		if err != nil {
			a.users.Clear()
			return
		}
		a.users.Delete(id)
	}
}

// forgetUser drops the copies of a user and of the user's sessions after
// this process changed them, so that its next request gets the change
// without waiting for the notification.
func (a *App) forgetUser(id int64) {
	if a.users != nil {
		a.users.Delete(id)
	}
	a.sessions.ForgetUser(id)
}

// forgettingStore drops the copies of a user after each change of the
// user's row or sessions. It wraps the Store when the cache is on.
type forgettingStore struct {
	Store
	forget func(userID int64)
}

func (s forgettingStore) DeleteUserSession(ctx context.Context, userID, id int64) error {
	defer s.forget(userID)
	return s.Store.DeleteUserSession(ctx, userID, id)
}

func (s forgettingStore) DeleteUserSessions(ctx context.Context, userID int64, exceptKey string) (int64, error) {
	defer s.forget(userID)
	return s.Store.DeleteUserSessions(ctx, userID, exceptKey)
}

func (s forgettingStore) ChangePassword(ctx context.Context, userID int64, passwordHash, exceptKey string) (int64, error) {
	defer s.forget(userID)
	return s.Store.ChangePassword(ctx, userID, passwordHash, exceptKey)
}

func (s forgettingStore) DisableUser(ctx context.Context, id int64) (bool, error) {
	defer s.forget(id)
	return s.Store.DisableUser(ctx, id)
}

func (s forgettingStore) EnableUser(ctx context.Context, id int64) (bool, error) {
	defer s.forget(id)
	return s.Store.EnableUser(ctx, id)
}

func (s forgettingStore) SetUserRole(ctx context.Context, id int64, role string) error {
	defer s.forget(id)
	return s.Store.SetUserRole(ctx, id, role)
}

func (s forgettingStore) ChangeRoleAsAdmin(ctx context.Context, actorID, targetID int64, role string) error {
	defer s.forget(targetID)
	return s.Store.ChangeRoleAsAdmin(ctx, actorID, targetID, role)
}

func (s forgettingStore) DismissNotices(ctx context.Context, userID, lastID int64) error {
	defer s.forget(userID)
	return s.Store.DismissNotices(ctx, userID, lastID)
}

func (s forgettingStore) SetPassword(ctx context.Context, id int64, passwordHash string) error {
	defer s.forget(id)
	return s.Store.SetPassword(ctx, id, passwordHash)
}

func (s forgettingStore) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error) {
	defer s.forget(id)
	return s.Store.ReplacePasswordHash(ctx, id, oldHash, newHash)
}
