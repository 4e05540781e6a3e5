// Package session keeps login sessions in PostgreSQL through pgstore, and
// fences off pgstore's known faults from outside its code: the data race in
// New, expired rows that load anyway, and IDs revived after their row is
// deleted.
package session

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/antonlindstrom/pgstore"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/portero/portero/internal/cache"
)

// RefreshInterval is how stale the idle deadline may get before a request
// writes a new one, so that an authenticated read writes at most once a
// minute per session.
const RefreshInterval = time.Minute

// Keys of the values kept in each session. Times are Unix seconds.
const (
	keyUserID   = "uid"
	keyAuthedAt = "authed_at"
	keySeenAt   = "seen_at"
)

// Options configures a Manager.
type Options struct {
	CookieName     string
	Secure         bool
	MaxAge         time.Duration
	IdleTimeout    time.Duration
	Secret         []byte
	PreviousSecret []byte
	// Cache, when not nil, keeps loaded sessions in memory while the guard
	// reports that change notifications arrive. See ForgetKey.
	Cache *cache.Guard
	// Now returns the current time, and nil means time.Now. Tests set it
	// to move the clock.
	Now func() time.Time
}

// Manager loads, creates and ends sessions.
type Manager struct {
	template    pgstore.PGStore
	codecs      []securecookie.Codec
	cookieName  string
	secure      bool
	maxAge      time.Duration
	idleTimeout time.Duration
	now         func() time.Time

	// guard, cookieIDs and states are nil without a cache. cookieIDs maps a
	// verified cookie value to its session key and the key's hash. states
	// maps the hex SHA-256 of a session key to the session's values.
	guard     *cache.Guard
	cookieIDs *cache.Map[string, cookieKey]
	states    *cache.Map[string, state]
}

// cookieKey is the session key that a verified cookie carries, with the
// key's hash, which names the session in change notifications.
type cookieKey struct {
	id, hash string
}

// state is the part of a session row that a request needs.
type state struct {
	userID, authedAt, seenAt int64
}

// Cache limits: entries are re-read at least every cacheTTL, and a full
// cache starts over, which costs one database read per active session.
const (
	cacheTTL     = 5 * time.Minute
	cacheEntries = 20_000
)

// NewManager returns a Manager that stores sessions through db, which must
// have Portero's migrations applied.
func NewManager(db *sql.DB, opts Options) *Manager {
	maxAgeSeconds := int(opts.MaxAge / time.Second)
	codecs := newCodecs(maxAgeSeconds, opts.Secret, opts.PreviousSecret)
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	m := &Manager{
		// The struct is filled in directly instead of through
		// NewPGStoreFromPool, which would try to create its own table.
		template: pgstore.PGStore{
			Codecs:  codecs,
			Options: &sessions.Options{Path: "/", MaxAge: maxAgeSeconds},
			DbPool:  db,
		},
		codecs:      codecs,
		cookieName:  opts.CookieName,
		secure:      opts.Secure,
		maxAge:      opts.MaxAge,
		idleTimeout: opts.IdleTimeout,
		now:         now,
	}
	if opts.Cache != nil {
		m.guard = opts.Cache
		m.cookieIDs = cache.NewMap[string, cookieKey](nil, now, cacheTTL, cacheEntries)
		m.states = cache.NewMap[string, state](opts.Cache, now, cacheTTL, cacheEntries)
	}

	return m
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.cookieName }

// Session is the state of one request's session.
type Session struct {
	// id is the session's key, "" for an anonymous session.
	id string

	// UserID is 0 for an anonymous visitor.
	UserID   int64
	AuthedAt time.Time
	SeenAt   time.Time
	// ExpiresAt is the earlier of the absolute and the idle deadline.
	ExpiresAt time.Time

	// BadCookie is set when the request carried a session cookie that was
	// invalid, expired or unknown, so the caller can clear it.
	BadCookie bool

	touched bool
}

// Authenticated reports whether a user is logged in.
func (s *Session) Authenticated() bool { return s.UserID != 0 }

// Key returns the session's database key, or "" for an anonymous session.
// It is as secret as the cookie: never log or show it.
func (s *Session) Key() string { return s.id }

// AuthedWithin reports whether the session's user logged in, or changed the
// password, less than d ago.
func (m *Manager) AuthedWithin(s *Session, d time.Duration) bool {
	return s != nil && s.Authenticated() && m.now().Sub(s.AuthedAt) < d
}

// Touched reports whether the last Touch wrote a new idle deadline.
func (s *Session) Touched() bool { return s.touched }

// store returns a copy of the template store with its own Options, because
// pgstore's New writes to Options on every call.
func (m *Manager) store() *pgstore.PGStore {
	st := m.template
	opts := *m.template.Options
	st.Options = &opts

	return &st
}

// Load returns the request's session. A missing, malformed, tampered,
// foreign, expired or unknown cookie gives an anonymous session and no error.
// An error means the database could not be read.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	cookie, err := r.Cookie(m.cookieName)
	if err != nil {
		return &Session{}, nil
	}
	if m.states == nil {
		return m.loadStored(r)
	}

	key, ok := m.cookieIDs.Get(cookie.Value)
	if !ok {
		if err := securecookie.DecodeMulti(m.cookieName, cookie.Value, &key.id, m.codecs...); err != nil {
			return &Session{BadCookie: true}, nil
		}
		key.hash = HashKey(key.id)
		m.cookieIDs.Put(cache.Ticket{}, cookie.Value, key)
	}
	id, hash := key.id, key.hash

	if st, ok := m.states.Get(hash); ok {
		if s := m.fromState(id, st); s != nil {
			return s, nil
		}

		return &Session{BadCookie: true}, nil
	}

	// The ticket is taken before the read, so that a change announced
	// while the read runs keeps its result out of the cache.
	ticket := m.guard.Ticket()
	s, err := m.loadStored(r)
	if err == nil && s.id == id {
		m.states.Put(ticket, hash, state{userID: s.UserID, authedAt: s.AuthedAt.Unix(), seenAt: s.SeenAt.Unix()})
	}

	return s, err
}

// HashKey returns the name under which change notifications announce the
// session with the given key: the hex SHA-256 of the key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ForgetKey drops the in-memory copy of the session whose key hashes to
// hash, or of every session when hash is "*".
func (m *Manager) ForgetKey(hash string) {
	if m.states == nil {
		return
	}
	if hash == "*" {
		m.states.Clear()
		return
	}
	m.states.Delete(hash)
}

// ForgetUser drops the in-memory copies of every session of userID. A change
// made by this process calls it, so that its own next request does not wait
// for the change notification.
func (m *Manager) ForgetUser(userID int64) {
	if m.states == nil {
		return
	}
	m.states.DeleteFunc(func(_ string, st state) bool { return st.userID == userID })
}

// loadStored reads the session through pgstore.
func (m *Manager) loadStored(r *http.Request) (*Session, error) {
	raw, err := withContext(r.Context(), func() (*sessions.Session, error) {
		return m.store().New(r, m.cookieName)
	})
	if err != nil {
		var cookieFault securecookie.Error
		if !errors.As(err, &cookieFault) {
			return nil, fmt.Errorf("load session: %w", err)
		}
		raw = nil
	}

	// pgstore keeps the ID of a cookie whose row is gone and would insert a
	// row under that old ID on the next save. A new session always gets a new ID.
	if raw == nil || raw.IsNew {
		return &Session{BadCookie: true}, nil
	}

	userID, ok1 := raw.Values[keyUserID].(int64)
	authed, ok2 := raw.Values[keyAuthedAt].(int64)
	seen, ok3 := raw.Values[keySeenAt].(int64)
	if !ok1 || !ok2 || !ok3 {
		return &Session{BadCookie: true}, nil
	}
	s := m.fromState(raw.ID, state{userID: userID, authedAt: authed, seenAt: seen})
	if s == nil {
		return &Session{BadCookie: true}, nil
	}

	return s, nil
}

// fromState checks the session's values and both deadlines. It returns nil
// for a session that is malformed or past a deadline.
func (m *Manager) fromState(id string, st state) *Session {
	if st.userID <= 0 {
		return nil
	}

	s := &Session{
		id:       id,
		UserID:   st.userID,
		AuthedAt: time.Unix(st.authedAt, 0),
		SeenAt:   time.Unix(st.seenAt, 0),
	}
	s.ExpiresAt = m.deadline(s.AuthedAt, s.SeenAt)
	if !m.now().Before(s.ExpiresAt) {
		return nil
	}

	return s
}

func (m *Manager) deadline(authedAt, seenAt time.Time) time.Time {
	absolute := authedAt.Add(m.maxAge)
	idle := seenAt.Add(m.idleTimeout)
	if idle.Before(absolute) {
		return idle
	}

	return absolute
}

// Login ends the current session, if any, and starts a new one with a new ID
// for userID, so that a cookie set before the login cannot ride on it.
//
// index, when not nil, runs with the new session's key before the session
// row is written, so that a caller can record the session elsewhere first.
// If it fails, no session exists and no cookie is set.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, current *Session, userID int64, index func(key string) error) (*Session, error) {
	if current != nil && current.id != "" {
		if err := m.destroy(r, current); err != nil {
			return nil, err
		}
	}

	// pgstore generates an ID only when none is set; setting it here lets
	// index see it before the row exists. 32 random bytes, as pgstore uses.
	id := strings.TrimRight(base32.StdEncoding.EncodeToString(securecookie.GenerateRandomKey(32)), "=")
	if index != nil {
		if err := index(id); err != nil {
			return nil, err
		}
	}

	now := time.Unix(m.now().Unix(), 0)
	s := &Session{id: id, UserID: userID, AuthedAt: now, SeenAt: now}
	s.ExpiresAt = m.deadline(s.AuthedAt, s.SeenAt)
	if err := m.save(r, s, true); err != nil {
		return nil, err
	}

	encoded, err := securecookie.EncodeMulti(m.cookieName, id, m.codecs...)
	if err != nil {
		return nil, fmt.Errorf("encode session cookie: %w", err)
	}
	http.SetCookie(w, m.cookie(encoded, int(m.maxAge/time.Second)))

	return s, nil
}

// Touch moves the idle deadline forward when it was last moved more than
// RefreshInterval ago, and otherwise writes nothing.
func (m *Manager) Touch(r *http.Request, s *Session) error {
	if s == nil || s.id == "" {
		return nil
	}

	now := m.now()
	if now.Sub(s.SeenAt) < RefreshInterval {
		return nil
	}

	s.SeenAt = time.Unix(now.Unix(), 0)
	s.ExpiresAt = m.deadline(s.AuthedAt, s.SeenAt)
	s.touched = true

	return m.save(r, s, false)
}

// Logout deletes the session's row and expires its cookie.
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request, s *Session) error {
	if s != nil && s.id != "" {
		if err := m.destroy(r, s); err != nil {
			return err
		}
	}
	m.ClearCookie(w)

	return nil
}

// ClearCookie sets an expired session cookie, so the browser drops it. The attributes
// match the ones it was set with, or the browser would keep the old one.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, m.cookie("", -1))
}

func (m *Manager) cookie(value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     m.cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   m.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		c.Expires = m.now().Add(time.Duration(maxAge) * time.Second).UTC()
	}

	return c
}

// raw returns the session as pgstore saves it, with a store of its own.
func (m *Manager) raw(s *Session, isNew bool) (*pgstore.PGStore, *sessions.Session) {
	st := m.store()
	raw := sessions.NewSession(st, m.cookieName)
	raw.Options = st.Options
	raw.IsNew = isNew
	raw.ID = s.id
	raw.Values[keyUserID] = s.UserID
	raw.Values[keyAuthedAt] = s.AuthedAt.Unix()
	raw.Values[keySeenAt] = s.SeenAt.Unix()

	return st, raw
}

// save inserts (isNew) or updates the session's row through pgstore, with
// the row's expiry set to the session's deadline. pgstore also sets a
// cookie, on a writer that is thrown away, because the cookie this package
// sends carries the absolute lifetime instead.
func (m *Manager) save(r *http.Request, s *Session, isNew bool) error {
	remaining := s.ExpiresAt.Sub(m.now())
	if remaining <= 0 {
		return nil
	}

	st, raw := m.raw(s, isNew)
	// pgstore sets expires_on to now + Options.MaxAge seconds.
	raw.Options.MaxAge = int(math.Ceil(remaining.Seconds()))
	_, err := withContext(r.Context(), func() (struct{}, error) {
		return struct{}{}, st.Save(r, discardWriter{}, raw)
	})
	// The copy is dropped even after an error, because the row may have
	// changed anyway.
	m.ForgetKey(HashKey(s.id))
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}

	return nil
}

// destroy deletes the session's row through pgstore.
func (m *Manager) destroy(r *http.Request, s *Session) error {
	st, raw := m.raw(s, false)
	raw.Options.MaxAge = -1
	_, err := withContext(r.Context(), func() (struct{}, error) {
		return struct{}{}, st.Save(r, discardWriter{}, raw)
	})
	m.ForgetKey(HashKey(s.id))
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.id = ""

	return nil
}

// withContext runs f and returns its result, or ctx's error if ctx ends
// first. pgstore takes no context, so a request could otherwise wait on a
// stalled database for as long as the connection lives. When ctx ends
// first, f goes on in the background until it returns, and its result is
// dropped.
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		value T
		err   error
	}
	done := make(chan result, 1)
	go func() {
		value, err := f()
		done <- result{value, err}
	}()

	select {
	case res := <-done:
		return res.value, res.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// discardWriter is an http.ResponseWriter whose output goes nowhere.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
